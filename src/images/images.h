/*
 * images: containerd's images service. An image is a name (a normalised
 * reference, "docker.io/library/redis:7") pointing at a target descriptor
 * (an index or a manifest in the content store), with labels. Records live
 * in the `images` bucket of their namespace (which they hold against
 * deletion). Create, update and delete publish /images/{create,update,delete};
 * a deletion schedules a garbage collection.
 *
 * Served objects: {"name","target","labels","created_at","updated_at"}.
 */
#ifndef BERTH_IMAGES_IMAGES_H
#define BERTH_IMAGES_IMAGES_H

#include "core/daemon.h"
#include "core/json.h"

/* Normalise an image name given by a client ("redis" → the full reference);
 * E_INVALID_ARGUMENT when it is not a reference. The caller frees. */
char *image_name_normalize(const char *name, err_t *err);

json_t *images_get(struct daemon *d, const char *ns, const char *name, err_t *err);
struct filter;
json_t *images_list(struct daemon *d, const char *ns, const struct filter *f, err_t *err);
/* Create or replace name → target (validated descriptor) with labels (may be
 * NULL: kept on replace, {} on create). *created tells which. */
json_t *images_put(struct daemon *d, const char *ns, const char *name, json_t *target,
		   json_t *labels, bool *created, err_t *err);
int images_delete(struct daemon *d, const char *ns, const char *name, err_t *err);

#endif
