/*
 * snapshotter: the directory side of snapshots (containerd's snapshotters).
 * A snapshotter owns <root>/snapshots/<name>/ and nothing else: one short
 * numeric directory per snapshot (`<id>/fs`, plus `<id>/work` for overlay),
 * so that deep lowerdir chains stay short. It never touches metadata: the
 * snapshots service (src/snapshots) decides what exists, hands the
 * snapshotter ids and parent chains, and records the result.
 *
 * Implementations fill a struct snapshotter_ops:
 *
 *   overlayfs  (default) active snapshots are an upper dir over the
 *              parents' fs dirs; commit records metadata only; whiteouts
 *              in extracted layers are overlay whiteouts.
 *   native     copies: an active snapshot or a view with a parent starts as
 *              a full copy of the parent's tree (`cp -a` in a worker
 *              process); mounts are bind mounts; whiteouts are deletions.
 *
 * Everything that may take long on a big tree (copying, removing, walking
 * for usage) runs in a forked worker process (struct sworker) whose exit the
 * loop watches; the calls here only create or rename directories.
 *
 * Removal is rename-then-remove: `<id>` becomes `rm-<id>` at once and a
 * worker deletes it. At start-up and at each garbage collection,
 * snapshotter_cleanup() removes every entry of the directory that no
 * metadata names (orphans of a crash, half-finished removals or copies).
 */
#ifndef BERTH_SNAPSHOTTERS_SNAPSHOTTER_H
#define BERTH_SNAPSHOTTERS_SNAPSHOTTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/daemon.h"
#include "core/json.h"

enum snapshot_kind {
	SNAPSHOT_ACTIVE = 0, /* writable, has a key; can be committed */
	SNAPSHOT_VIEW,	     /* read-only view of a committed parent, has a key */
	SNAPSHOT_COMMITTED,  /* read-only, has a name; can be a parent */
};

const char *snapshot_kind_name(enum snapshot_kind k);
int snapshot_kind_parse(const char *s, enum snapshot_kind *out);

/* ---- workers: forked processes the loop watches -------------------------- */

struct sworker;
/* The worker has exited: status as from waitpid(), its stdout+stderr (at
 * most 64 KiB, NUL-terminated). */
typedef void (*sworker_done_cb)(int status, const char *output, void *data);
/* Run argv (execvp) or fn(arg, out_fd) in a child; fn's return value is the
 * exit status. Output goes to a pipe the loop reads. */
struct sworker *sworker_spawn(struct daemon *d, const char *const *argv,
			      int (*fn)(void *arg, int out_fd), void *arg, sworker_done_cb done,
			      void *data, err_t *err);
/* Kill the worker (SIGKILL) and forget it: done never runs; the release
 * function, if one was set, frees its data. */
void sworker_kill(struct sworker *w);
void sworker_set_release(struct sworker *w, void (*release)(void *data));

/* ---- the snapshotter ------------------------------------------------------- */

struct snapshotter;

struct snapshotter_ops {
	const char *name;
	/* Check that the backend works under s->root (the overlay probe);
	 * an error marks the plugin failed with its message. */
	int (*probe)(struct snapshotter *s, err_t *err);
	/* Create the directories of snapshot id (kind active or view) over
	 * the parent chain (parents[0] is the nearest). Returns 0 when done,
	 * or 1 with *copy_from set (a parent's tree, the caller frees) when
	 * the tree must first be copied into snapshotter_fs(id) (native). */
	int (*create)(struct snapshotter *s, uint64_t id, enum snapshot_kind kind,
		      const uint64_t *parents, size_t np, char **copy_from, err_t *err);
	/* The mounts of an active snapshot or a view, as containerd's:
	 * [{"type","source","options":[]}]. */
	json_t *(*mounts)(struct snapshotter *s, uint64_t id, enum snapshot_kind kind,
			  const uint64_t *parents, size_t np);
	/* Overlay whiteouts (0/0 char devices, trusted.overlay.opaque) in
	 * extracted layers, rather than deletions. */
	bool overlay_whiteouts;
	/* Can an active snapshot without parent be committed onto a parent
	 * (its directory is an upper layer on its own)? */
	bool can_reparent;
};

struct snapshotter {
	const struct snapshotter_ops *ops;
	struct daemon *d;
	const char *name;
	char *root;	/* <root>/snapshots/<name> */
	bool usable;	/* the probe passed */
	char *error;	/* why not */
	bool userxattr; /* overlay: mount with `userxattr` */
	/* ids whose directory exists before its metadata (copies in flight):
	 * snapshotter_cleanup() leaves them alone */
	uint64_t *busy;
	size_t nbusy, busy_alloc;
	struct snapshotter_removal **removals; /* rm workers in flight */
	size_t nremovals, removals_alloc;
	uint64_t next_id; /* the next directory id; 0: not read yet */
};

extern const struct snapshotter_ops overlayfs_ops;
extern const struct snapshotter_ops native_ops;

/* Set up s for ops under <root>/snapshots/<name> and probe it (s->usable,
 * s->error tell the outcome; the call fails only when the directory cannot
 * be created). */
int snapshotter_init(struct snapshotter *s, struct daemon *d, const struct snapshotter_ops *ops,
		     err_t *err);
void snapshotter_release(struct snapshotter *s);

/* The highest id among the directories under the root (<id> and the
 * removals' rm-<id>); 0 when there is none. */
uint64_t snapshotter_max_dir_id(const struct snapshotter *s);

/* "<root>/<id>", "<root>/<id>/fs", "<root>/<id>/work"; the caller frees. */
char *snapshotter_dir(const struct snapshotter *s, uint64_t id);
char *snapshotter_fs(const struct snapshotter *s, uint64_t id);
char *snapshotter_work(const struct snapshotter *s, uint64_t id);

void snapshotter_busy(struct snapshotter *s, uint64_t id, bool busy);
/* Rename <id> away (at once) and remove it in a worker. */
int snapshotter_remove(struct snapshotter *s, uint64_t id, err_t *err);
/* Remove every entry of s->root that is not a live id (sorted ascending)
 * nor busy: orphans. Returns how many were found. */
int snapshotter_cleanup(struct snapshotter *s, const uint64_t *live, size_t nlive);

/* Walk <id>/fs in a worker: cb gets size (bytes of allocated blocks,
 * hardlinks counted once) and inodes, or err. */
typedef void (*snapshotter_usage_cb)(void *data, int64_t size, int64_t inodes, err_t *err);
struct sworker *snapshotter_usage(struct snapshotter *s, uint64_t id, snapshotter_usage_cb cb,
				  void *data, err_t *err);

#endif
