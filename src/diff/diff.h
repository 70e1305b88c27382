/*
 * diff: apply one layer (tar, tar+gzip, tar+zstd; OCI or Docker media
 * types) onto a directory, in a confined worker process.
 *
 * diff_apply_start() forks a child that execs berth-worker (so berthd does
 * not load libarchive; found beside berthd or in PATH): it decompresses and hashes
 * the stream (the diffID) and pipes it to its own child, the extractor,
 * which writes the files with libarchive, so that the two run on two cores.
 * Both chroot into o->dir, set no_new_privs and install a seccomp allow-list
 * (no sockets, no exec, no fork, no mount, no chroot) before they read a
 * byte of the layer; a layer entry can name nothing outside the directory.
 * OCI whiteouts become overlay whiteouts (DIFF_WHITEOUTS_OVERLAY: 0/0 character devices,
 * `trusted.overlay.opaque=y`) or deletions (DIFF_WHITEOUTS_DELETE: the
 * directory holds the parent's full tree). Before reporting success the
 * worker syncs the filesystem (syncfs), so a commit recorded after `done`
 * never points at unsynced files.
 *
 * The loop only sees pipe readiness: bytes pushed with diff_job_write() go
 * to an internal buffer (DIFF_JOB_BUFFER) that a write event drains into
 * the worker's stdin; the result comes back as one JSON line on a status
 * pipe; the worker's exit is reaped from SIGCHLD (core/loop.h). Several
 * jobs may run at once. Nothing here blocks.
 *
 * Feeding a stream (src_fd -1): write what diff_job_space() allows, then
 * wait for `space`. `space` fires when usage falls below half after it had
 * reached half, so at least DIFF_JOB_BUFFER / 2 bytes are free then: a
 * caller whose chunks are at most that (libcurl's are 16 KiB) may pause its
 * transfer whenever diff_job_space() < chunk and write the whole chunk after
 * `space`. If the worker fails meanwhile, `space` does not fire; `done`
 * does, with the reason.
 *
 * Lifetime: `done` fires exactly once, from the loop (never from inside a
 * diff_* call), unless the job is cancelled; the job is freed right after
 * `done` returns, so the caller forgets its pointer there. A failure is a
 * failure of the whole layer: the directory may hold a partial tree that
 * the caller removes.
 *
 * Errors (kind): a hostile or malformed layer (path escaping the root,
 * writing through a symlink, a hardlink to a target outside the layer, a
 * diffID mismatch, a truncated or corrupt stream, not a tar) is
 * E_INVALID_ARGUMENT naming the entry; a hardlink whose target is not in
 * this layer (overlay mode extracts into an empty directory) says "hardlink
 * target `x` is not in this layer"; I/O failures are E_INTERNAL; a worker
 * that dies is E_INTERNAL naming the signal. The worker's stderr, when it
 * says anything, is appended.
 */
#ifndef BERTH_DIFF_DIFF_H
#define BERTH_DIFF_DIFF_H

#include <stdint.h>
#include <sys/types.h>

#include "core/daemon.h"
#include "core/err.h"

#define DIFF_JOB_BUFFER (1024 * 1024) /* diff_job_write() buffer capacity */

enum diff_whiteouts {
	/* overlayfs: .wh.x → a 0/0 char device x; .wh..wh..opq → trusted.overlay.opaque=y */
	DIFF_WHITEOUTS_OVERLAY,
	/* native: .wh.x → remove x; .wh..wh..opq → remove what this layer did not create */
	DIFF_WHITEOUTS_DELETE,
};

struct diff_apply_opts {
	const char *dir; /* extract into this directory */
	enum diff_whiteouts whiteouts;
	const char *expected_diff_id; /* "sha256:..." or NULL */
	const char *media_type; /* layer media type, for messages/validation; may be NULL */
	int src_fd; /* >= 0: the worker reads the (compressed) layer from this fd from
		     * offset 0 (a stored blob; the worker gets a dup and uses pread,
		     * the caller keeps its fd and offset); -1: bytes are pushed with
		     * diff_job_write() */
};

struct diff_result {
	char diff_id[80]; /* "sha256:<hex>" of the uncompressed tar stream */
	uint64_t tar_size; /* bytes of the uncompressed stream */
	uint64_t entries; /* tar entries, whiteouts included */
	double seconds; /* from diff_apply_start() to the result */
};

/* Exactly once, unless cancelled; res NULL on error (then *err is set; the
 * callee may not keep err, it is freed after the callback). */
typedef void (*diff_done_cb)(void *data, const struct diff_result *res, err_t *err);
/* The job can take more bytes again: buffer usage fell below half after it
 * had reached half or more. */
typedef void (*diff_space_cb)(void *data);

/* Start a worker. Synchronous errors (bad options, no such directory,
 * unsupported media type, fork failure) return NULL with *err set, and no
 * callback fires. space may be NULL when o->src_fd >= 0. */
struct diff_job *diff_apply_start(struct daemon *d, const struct diff_apply_opts *o,
				  diff_done_cb done, diff_space_cb space, void *data, err_t *err);
/* Bytes diff_job_write() accepts now (0 in src_fd mode or after close). */
size_t diff_job_space(struct diff_job *j);
/* Copy len (<= diff_job_space()) bytes for the worker; never blocks. -1 when
 * the worker failed (done follows with the reason) or on misuse. */
int diff_job_write(struct diff_job *j, const void *buf, size_t len, err_t *err);
/* End of stream: the worker finishes, verifies, syncs, then done fires. */
void diff_job_close_input(struct diff_job *j);
/* Kill the worker and free the job; done never fires. Not from inside done
 * (the job is freed after it anyway). */
void diff_job_cancel(struct diff_job *j);
/* The worker's pid (logs, tests). */
pid_t diff_job_pid(const struct diff_job *j);

/* Is media_type a layer type diff can apply? */
bool diff_media_type_supported(const char *media_type);

#endif
