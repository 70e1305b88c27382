/*
 * gc: mark-and-sweep garbage collection of the metadata and the content
 * store (containerd's gc scheduler + metadata collector, reduced).
 *
 * Roots, per namespace: images (their targets), leases that have not
 * expired (their resources: content, and snapshots as `snapshots/<sn>`),
 * content and snapshots labelled `containerd.io/gc.root`, every active
 * snapshot and view (unlike containerd, which collects those not held by a
 * lease or a container: here they are a curl user's working state), and
 * (later issues) containers. References: content labels
 * `containerd.io/gc.ref.content[.<anything>]` name other blobs of the same
 * namespace, `containerd.io/gc.ref.snapshot.<snapshotter>` a snapshot; a
 * kept snapshot keeps its parent chain. Unmarked content records are removed
 * (publishing /content/delete) and a blob file goes once no namespace holds
 * it; unmarked committed snapshots lose their record, then their directory
 * (publishing /snapshot/remove); expired leases are deleted. Snapshot
 * directories without a record (orphans) are removed at the end.
 *
 * A collection runs on the loop in steps: one namespace per step (mark and
 * sweep in one write transaction, so it is consistent), then blob files in
 * small batches, so the API keeps answering on a big store. Triggers: after
 * deletions (debounced by gc_delay), on a timer (gc_interval), at start-up,
 * and on request (POST /v1/gc, DELETE ...?sync=true).
 */
#ifndef BERTH_GC_GC_H
#define BERTH_GC_GC_H

#include "core/daemon.h"
#include "core/json.h"

#define GC_ROOT_LABEL "containerd.io/gc.root"
#define GC_REF_CONTENT_PREFIX "containerd.io/gc.ref.content"
#define GC_EXPIRE_LABEL "containerd.io/gc.expire"

struct gc *gc_new(struct daemon *d);
void gc_free(struct gc *gc);

/* Collect soon (after gc_delay), coalescing with other requests. */
void gc_schedule(struct gc *gc);

/* Collect now; cb gets {"removed":{"content":N,"snapshots":N,"leases":N},
 * "duration_ms":F} (borrowed) when a collection that started after this
 * call has finished. err is freed after cb returns. */
typedef void (*gc_done_cb)(void *data, json_t *result, err_t *err);
void gc_run(struct gc *gc, gc_done_cb cb, void *data);
/* Forget a pending callback (its HTTP client left). */
void gc_cancel(struct gc *gc, gc_done_cb cb, void *data);

#endif
