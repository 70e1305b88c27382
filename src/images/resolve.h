/*
 * images/resolve: what a local image is made of, read from the content
 * store of its namespace — the manifest for a platform (through an index
 * when the target is one), its config blob, and the chain ID of its top
 * layer (the name of the committed snapshot an unpack leaves).
 *
 * Reads small blobs (manifests, indexes, configs: at most
 * IMAGE_BLOB_MAX bytes) synchronously on the loop, as the image service
 * always has; layers are never read here.
 *
 * Errors: a manifest or config missing from the content store is
 * E_FAILED_PRECONDITION ("... pull the image again"); a bad blob is
 * E_INVALID_ARGUMENT naming it; no manifest for the platform E_NOT_FOUND.
 */
#ifndef BERTH_IMAGES_RESOLVE_H
#define BERTH_IMAGES_RESOLVE_H

#include <stddef.h>

#include "core/daemon.h"
#include "core/json.h"
#include "images/oci.h"

#define IMAGE_BLOB_MAX (8 * 1024 * 1024)

/* The whole blob `digest` visible in ns (at most max bytes, else
 * E_INVALID_ARGUMENT), NUL-terminated; *len its length. E_NOT_FOUND when
 * the namespace does not hold it. The caller frees. */
char *image_read_blob(struct daemon *d, const char *ns, const char *digest, size_t max, size_t *len,
		      err_t *err);

/* The manifest for platform p of target (an image record's "target"
 * descriptor: a manifest, or an index to pick from). */
int image_resolve_manifest(struct daemon *d, const char *ns, const json_t *target,
			   const struct platform *p, struct manifest *man, err_t *err);

struct image_resolved {
	struct manifest manifest; /* for the host's platform */
	json_t *config;		  /* the config blob, parsed */
	char chain_id[80];	  /* chain ID of the top layer; "" without layers */
};

/* Resolve image (an image record as images_get() serves it: "name",
 * "target") for the host's platform. Release with image_resolved_release()
 * (also after a failure). */
int image_resolve(struct daemon *d, const char *ns, const json_t *image, struct image_resolved *out,
		  err_t *err);
void image_resolved_release(struct image_resolved *r);

#endif
