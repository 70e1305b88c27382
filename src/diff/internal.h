/*
 * diff internals: the worker's side (extract.c, confine.c) and the pure
 * helpers it uses (path.c: entry path cleaning, whiteout names, a path set).
 * The worker is berth-worker (worker_bin.c), exec'd by a forked child of
 * berthd: it shares none of the parent's loop, LMDB or HTTP state, and
 * berthd itself does not link libarchive.
 */
#ifndef BERTH_DIFF_INTERNAL_H
#define BERTH_DIFF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <archive.h>
#include <jansson.h>

#include "diff/diff.h"

/* The worker's file descriptors after confine_fds(). */
#define WORKER_FD_INPUT 0 /* layer bytes: a pipe, or the blob (pread) */
#define WORKER_FD_STATUS 1 /* one JSON line: the result or the error */
#define WORKER_FD_STDERR 2
#define WORKER_FD_ROOT 3 /* the target directory, until chroot */

struct worker_opts {
	enum diff_whiteouts whiteouts;
	const char *expected_diff_id;
	bool input_is_file; /* pread from offset 0, else read a pipe */
};

/* In the child: chroot into WORKER_FD_ROOT, no_new_privs, seccomp. Returns
 * -1 with *err set. */
int confine_worker(err_t *err);
/* In the child, after confine_worker: try syscalls the filter must refuse
 * and fail with a message listing what each returned (BERTH_TEST_DIFF_PROBE). */
void confine_probe(err_t *err);
/* The worker is two processes joined by a pipe, so that decompression and
 * hashing (the worker, worker.c) run beside the file writes (its child, the
 * extractor, extract.c) on two cores. Both are confined. */

/* In the forked worker (fds as WORKER_FD_*): decompress and hash fd 0,
 * feed the extractor, print the result on fd 1; never returns. */
void worker_main(const struct worker_opts *o) __attribute__((noreturn));
/* In the extractor: fd 0 the uncompressed tar, fd 1 its result ({"entries"}
 * or an error), fd 3 the target directory; never returns. */
void extractor_main(const struct worker_opts *o) __attribute__((noreturn));
/* The extractor's work without its confinement and its final sync: extract
 * the tar read from in_fd into the current directory, which stands for the
 * layer's root. *entries counts the entries read. The fuzzer (t/fuzz) runs
 * it in-process, in a directory of its own. */
int extract_tar(const struct worker_opts *o, int in_fd, uint64_t *entries, err_t *err);
/* berth-worker archive DIR: DIR as a pax tar on fd 1, errors on fd 2, then
 * DIR removed; never returns. */
void archive_dir_main(const char *dir) __attribute__((noreturn));
/* Print one JSON line on fd 1 (stolen); exit 1 after an error. */
void worker_report(json_t *j);
void worker_report_error(err_t err) __attribute__((noreturn));
/* libarchive's message, or a generic one when it gave none. */
const char *archive_msg(struct archive *a);

/* Clean a tar entry path in place: drop "./" components, repeated and
 * trailing '/'. The root itself becomes "". Returns NULL on success, else a
 * reason ("is an absolute path", "contains `..`", "is empty"). */
const char *diff_path_clean(char *path);

enum whiteout_kind {
	WHITEOUT_NONE, /* an ordinary entry */
	WHITEOUT_FILE, /* dir/.wh.name: name was deleted */
	WHITEOUT_OPAQUE, /* dir/.wh..wh..opq: dir hides its lower layers */
	WHITEOUT_META, /* dir/.wh..wh.*: other reserved names (aufs), skipped */
	WHITEOUT_BAD, /* .wh. naming nothing usable (".wh.", ".wh..") */
};
/* Classify a cleaned path; *dirlen is the length of its directory part
 * (0 at the root, without the trailing '/'), *name the deleted name for
 * WHITEOUT_FILE. */
enum whiteout_kind diff_whiteout_parse(const char *clean, size_t *dirlen, const char **name);

/* A set of cleaned paths (open addressing, FNV-1a). */
struct pathset {
	char **slots;
	size_t n, cap;
};
void pathset_release(struct pathset *s);
bool pathset_has(const struct pathset *s, const char *path, size_t len);
/* Add path and each of its parent directories. */
void pathset_add_with_parents(struct pathset *s, const char *path);

/* Workers run at this nice value, below the daemon (which serves the API). */
#define WORKER_NICE 10

#endif
