/*
 * containers: containerd's containers service. A container is metadata: an
 * OCI runtime spec, the snapshot holding its root filesystem, the image it
 * came from, a runtime and labels. Records live in the `containers` bucket
 * of their namespace (which they hold against deletion); running one is the
 * tasks service's business (src/tasks).
 *
 * Creation (API.md "Containers and tasks", POST .../containers):
 *   - the image (normalised) must exist (E_NOT_FOUND); its manifest for
 *     the host and its config are read from the content store;
 *   - without snapshot_key, an active snapshot keyed by the container id is
 *     prepared over the image's top chain ID (not unpacked for the
 *     snapshotter: E_FAILED_PRECONDITION); with one, it must exist;
 *   - without spec, one is generated (spec_generate) from the image config,
 *     the request's process and options, and the rootfs layers (to look up
 *     users); a given spec is checked with spec_validate (E_INVALID_ARGUMENT);
 *   - a failure after the snapshot was prepared removes it again; until the
 *     container is recorded (in the same transaction) the snapshot carries
 *     the label `berth.containers.create` naming the run of berthd that
 *     prepared it, so that after a crash a later run removes it when the
 *     id is created again (instead of E_ALREADY_EXISTS for the key).
 * The prepare may copy (native snapshotter), so creation completes later,
 * from the loop, through a callback.
 *
 * The garbage collector keeps each container's snapshot and the content of
 * the image it was made from (containers_gc_mark). Events: /containers/create
 * {"id","image","runtime":{"name","options"?}}, /containers/update
 * {"id","image","labels","snapshot_key"}, /containers/delete {"id"}.
 *
 * Served objects: {"id","image"?,"spec","snapshotter"?,"snapshot_key"?,
 * "runtime":{"name","options"?},"labels","created_at","updated_at"}.
 */
#ifndef BERTH_CONTAINERS_CONTAINERS_H
#define BERTH_CONTAINERS_CONTAINERS_H

#include <lmdb.h>

#include "core/daemon.h"
#include "core/json.h"

/* The container as served (with its spec); E_NOT_FOUND when there is none.
 * The caller owns the result. */
json_t *containers_get(struct daemon *d, const char *ns, const char *id, err_t *err);

struct filter;
/* {"containers"}'s array, filtered (f may be NULL): fields id, image,
 * runtime.name, snapshotter, snapshot_key, labels."k". */
json_t *containers_list(struct daemon *d, const char *ns, const struct filter *f, err_t *err);

/* Create from a request body (API.md; checked here, E_INVALID_ARGUMENT
 * naming the field). cb runs later from the loop, never before this returns,
 * with the served container (borrowed) or an error (freed after cb).
 * Returns the creation in flight, or NULL with *err when it fails at once
 * (cb never runs). */
typedef void (*containers_create_cb)(void *data, json_t *container, err_t *err);
struct container_create;
struct container_create *containers_create(struct daemon *d, const char *ns, json_t *body,
					   containers_create_cb cb, void *data, err_t *err);
/* Give up a creation in flight: nothing is left behind, cb does not run. */
void containers_create_cancel(struct container_create *c);

/* Update from a PATCH body {"labels"?: merge patch, "spec"?: validated,
 * "image"?: must exist}. Returns the served container. */
json_t *containers_update(struct daemon *d, const char *ns, const char *id, json_t *body,
			  err_t *err);

/* Delete; E_FAILED_PRECONDITION while a task exists. cleanup_snapshot also
 * removes the container's snapshot (first, as containerd's
 * WithSnapshotCleanup; a snapshot already gone is fine). */
int containers_delete(struct daemon *d, const char *ns, const char *id, bool cleanup_snapshot,
		      err_t *err);

/* runc, crun, or an absolute path; E_INVALID_ARGUMENT otherwise. */
int containers_check_runtime(const char *name, err_t *err);

/* ---- for the garbage collector (src/gc) ---------------------------------- */

/* For each container of ns (inside the collector's transaction): mark_content
 * with the digest of its image's target, mark_snapshot with its snapshotter
 * and snapshot key. */
int containers_gc_mark(struct daemon *d, MDB_txn *txn, const char *ns,
		       void (*mark_content)(void *arg, const char *digest),
		       void (*mark_snapshot)(void *arg, const char *snapshotter, const char *key),
		       void *arg, err_t *err);

#endif
