/*
 * snapshots: containerd's snapshots service — metadata over the
 * snapshotters of snapshotters/ (overlayfs, the default, and native).
 *
 * A snapshot is named by (namespace, snapshotter, key-or-name). Records live
 * in the `snapshots` bucket (metadata/store.h), which holds its namespace
 * against deletion; the record's `id` names the directory
 * <root>/snapshots/<snapshotter>/<id>/. Semantics are containerd's:
 *
 *   - prepare makes an active (writable) snapshot, view a read-only one;
 *     both over an optional committed parent (missing parent: E_NOT_FOUND;
 *     a parent that is not committed: E_INVALID_ARGUMENT, as containerd's
 *     "parent is not committed snapshot"); a taken key is E_ALREADY_EXISTS;
 *   - only an active snapshot can be committed (else E_FAILED_PRECONDITION);
 *     commit turns it into a committed snapshot `name` (the key disappears);
 *   - remove is refused (E_FAILED_PRECONDITION) while children exist;
 *   - mounts exist for active snapshots and views, not committed ones
 *     (E_FAILED_PRECONDITION).
 *
 * Ordering for crashes: a directory is created before its record and
 * removed after it (rename, then a worker deletes it), so metadata never
 * points at a missing directory; a directory without a record is an orphan
 * and is removed at start-up and at each garbage collection.
 *
 * Nothing blocks the loop: copies (native prepare with a parent), removals
 * and usage walks run in worker processes. The synchronous snapshots_prepare
 * and snapshots_view refuse (E_FAILED_PRECONDITION) what needs a copy:
 * callers that may use native use snapshots_prepare_async.
 *
 * `lease` (may be NULL): the snapshot is added to that lease as resource
 * `snapshots/<snapshotter>` `<key or name>` before it is created, so a
 * garbage collection never takes it (leases_add_resource).
 *
 * Served objects: {"name","parent"?,"kind","created_at","updated_at","labels"}.
 * Events: /snapshot/prepare {key,parent,snapshotter} (prepare and view),
 * /snapshot/commit {key,name,snapshotter}, /snapshot/remove {key,snapshotter}.
 */
#ifndef BERTH_SNAPSHOTS_SNAPSHOTS_H
#define BERTH_SNAPSHOTS_SNAPSHOTS_H

#include <lmdb.h>

#include "core/daemon.h"
#include "core/json.h"

#define GC_REF_SNAPSHOT_PREFIX "containerd.io/gc.ref.snapshot."

/* Set up the snapshotters (probe overlay, mark the plugins), remove orphaned
 * directories, set d->snapshots. Fails only when the root is unusable. */
int snapshots_open(struct daemon *d, err_t *err);
/* Kill workers in flight; pending async prepares get E_UNAVAILABLE. */
void snapshots_free(struct daemon *d);

/* The configured default snapshotter (config key `snapshotter`). */
const char *snapshots_default(struct daemon *d);
/* [{"name","default","status":"ok"|"error","error"?}] */
json_t *snapshots_snapshotters(struct daemon *d);
/* 0 when sn names a usable snapshotter; E_NOT_FOUND when unknown,
 * E_UNAVAILABLE when its probe failed. */
int snapshots_check_snapshotter(struct daemon *d, const char *sn, err_t *err);

/* Create an active snapshot (prepare) or a view; parent may be NULL.
 * Returns the mounts array (caller owns). */
json_t *snapshots_prepare(struct daemon *d, const char *ns, const char *sn, const char *key,
			  const char *parent, json_t *labels, const char *lease, err_t *err);
json_t *snapshots_view(struct daemon *d, const char *ns, const char *sn, const char *key,
		       const char *parent, json_t *labels, const char *lease, err_t *err);

/* Either kind, for every snapshotter: cb runs later from the loop (never
 * before this returns) with the mounts (borrowed) or an error (freed after
 * cb). Returns < 0 when it fails at once (cb never runs). */
typedef void (*snapshots_prepare_cb)(void *data, json_t *mounts, err_t *err);
int snapshots_prepare_async(struct daemon *d, const char *ns, const char *sn, const char *key,
			    const char *parent, bool view, json_t *labels, const char *lease,
			    snapshots_prepare_cb cb, void *data, err_t *err);
/* Abort a pending prepare (its copy is killed, nothing is created); cb does
 * not run. */
void snapshots_prepare_cancel(struct daemon *d, snapshots_prepare_cb cb, void *data);

/* Commit active `key` as committed `name`; labels (may be NULL) are merged
 * over the active snapshot's. */
int snapshots_commit(struct daemon *d, const char *ns, const char *sn, const char *name,
		     const char *key, json_t *labels, const char *lease, err_t *err);
/* overlayfs only (else E_FAILED_PRECONDITION): commit active `key`, which
 * was prepared without parent, as a child of committed `parent` (parallel
 * layer extraction: each layer in its own empty upper dir, committed in
 * chain order). The layer must hold overlay whiteouts. */
int snapshots_commit_reparent(struct daemon *d, const char *ns, const char *sn, const char *name,
			      const char *key, const char *parent, json_t *labels,
			      const char *lease, err_t *err);

/* The directory to extract a layer into for active `key` (overlay: its
 * upper dir; native: the whole tree), and whether whiteouts must be written
 * as overlay whiteouts (true) or applied as deletions (false). */
char *snapshots_active_dir(struct daemon *d, const char *ns, const char *sn, const char *key,
			   bool *overlay_whiteouts, err_t *err);

bool snapshots_exists(struct daemon *d, const char *ns, const char *sn, const char *key);
json_t *snapshots_stat(struct daemon *d, const char *ns, const char *sn, const char *key,
		       err_t *err);
json_t *snapshots_mounts(struct daemon *d, const char *ns, const char *sn, const char *key,
			 err_t *err);
int snapshots_remove(struct daemon *d, const char *ns, const char *sn, const char *key, err_t *err);
/* snapshots_remove() in two halves, for a caller that removes a snapshot
 * with records of its own in one transaction: the record goes in txn (*id
 * is its directory's), and once txn is committed snapshots_removed() sends
 * the directory away and publishes /snapshot/remove. */
int snapshots_remove_txn(struct daemon *d, MDB_txn *txn, const char *ns, const char *sn,
			 const char *key, uint64_t *id, err_t *err);
void snapshots_removed(struct daemon *d, const char *ns, const char *sn, const char *key,
		       uint64_t id);
struct filter;
json_t *snapshots_list(struct daemon *d, const char *ns, const char *sn, const struct filter *f,
		       err_t *err);
/* Merge a labels patch (null deletes a key); returns the stat object. */
json_t *snapshots_update_labels(struct daemon *d, const char *ns, const char *sn, const char *key,
				json_t *patch, err_t *err);
/* The same, within the caller's write transaction. */
json_t *snapshots_update_labels_txn(struct daemon *d, MDB_txn *txn, const char *ns,
				    const char *sn, const char *key, json_t *patch, err_t *err);

/* {"size","inodes"}: cached for committed snapshots (computed after their
 * commit); otherwise the tree is walked in a worker. Returns 1 with *now set
 * (caller owns) when known at once; 0 when cb runs later (usage borrowed);
 * < 0 on error. */
typedef void (*snapshots_usage_cb)(void *data, json_t *usage, err_t *err);
int snapshots_usage(struct daemon *d, const char *ns, const char *sn, const char *key, json_t **now,
		    snapshots_usage_cb cb, void *data, err_t *err);
void snapshots_usage_cancel(struct daemon *d, snapshots_usage_cb cb, void *data);

/* ---- for the garbage collector (src/gc) ---------------------------------- */

/* Mark and sweep namespace ns inside the collector's write transaction.
 * roots: object "<snapshotter>/<name>" → true (leases, gc.ref.snapshot
 * labels); active snapshots, views, `containerd.io/gc.root` snapshots and
 * the parents of prepares in flight are roots too; a kept snapshot keeps
 * its parent chain. Unmarked committed snapshots are deleted; each is
 * appended to `removed` as {"snapshotter","name","id"}. */
int snapshots_gc_sweep(struct daemon *d, MDB_txn *txn, const char *ns, json_t *roots,
		       json_t *removed, err_t *err);
/* After the transaction committed: remove their directories, publish
 * /snapshot/remove. */
void snapshots_gc_removed(struct daemon *d, const char *ns, json_t *removed);
/* Remove orphaned directories (no record, no prepare in flight). */
void snapshots_cleanup_orphans(struct daemon *d);

#endif
