/*
 * util: allocation that cannot fail, cleanup attributes, ownership handoff,
 * time stamps and small filesystem helpers shared by every module.
 *
 * x*alloc functions abort the process on OOM: callers never check for NULL.
 * cleanup_* attributes release a variable when it leaves scope; hand
 * ownership out with steal_ptr()/steal_fd(). Nothing here blocks on the
 * network; the file helpers do local disk I/O only.
 */
#ifndef BERTH_CORE_UTIL_H
#define BERTH_CORE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED __attribute__((unused))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

void *xmalloc(size_t n);
void *xzalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
char *xvasprintf(const char *fmt, va_list ap) PRINTF_LIKE(1, 0);

/* Grow *arr (holding *alloc elements of size elem) to hold at least n. */
#define ALLOC_GROW(arr, n, alloc)                                                    \
	do {                                                                         \
		if ((size_t)(n) > (size_t)(alloc)) {                                 \
			size_t alloc_new_ = (alloc) ? (size_t)(alloc) * 2 : 8;       \
			while (alloc_new_ < (size_t)(n))                             \
				alloc_new_ *= 2;                                     \
			(arr) = xrealloc((arr), alloc_new_ * sizeof(*(arr)));        \
			(alloc) = alloc_new_;                                        \
		}                                                                    \
	} while (0)

static inline void cleanup_free_fn(void *p)
{
	free(*(void **)p);
}
static inline void cleanup_close_fn(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define cleanup_free __attribute__((cleanup(cleanup_free_fn)))
#define cleanup_close __attribute__((cleanup(cleanup_close_fn)))

static inline void *steal_ptr_(void *pp)
{
	void **p = pp;
	void *r = *p;
	*p = NULL;
	return r;
}
#define steal_ptr(pp) steal_ptr_(pp)
static inline int steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

/* A growable byte buffer (git's strbuf, reduced). buf is always NUL-terminated. */
struct buf {
	char *data;
	size_t len;
	size_t alloc;
};
#define BUF_INIT { NULL, 0, 0 }
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
void buf_vaddf(struct buf *b, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
void buf_reset(struct buf *b);
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
void buf_release(struct buf *b);
/* Hand out the contents (never NULL) and reset b. */
char *buf_detach(struct buf *b, size_t *len);

/* Compare untrusted bytes a[0..alen) with a secret s[0..slen) in a time that
 * depends only on slen, never on where they differ. */
bool secret_equal(const void *a, size_t alen, const void *s, size_t slen);

/* Wall clock and monotonic clock in nanoseconds. */
int64_t time_now_ns(void);
int64_t time_mono_ns(void);
/* RFC 3339 with nanoseconds in UTC: "2026-11-23T13:00:00.123456789Z". */
void time_format_rfc3339(int64_t ns, char out[40]);

/* The value of a hexadecimal digit, -1 if c is not one. */
int hex_digit_value(int c);

/* Parse a whole string as a base-10 unsigned integer; false on junk or overflow. */
bool parse_u64(const char *s, uint64_t *out);

/* mkdir -p with mode for the created components. */
int mkdir_p(const char *path, mode_t mode);
/* Write a file atomically: temp file in the same directory, fsync, rename, fsync dir. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Read a whole (small) file; returns NULL with errno set on failure. */
char *read_file(const char *path, size_t *len);

/* Remove a directory tree that holds no mounts, best effort (CRIU images,
 * work files); it does not cross into other filesystems. */
void rm_tree(const char *path);

/* Remove path's tree if it is small enough to go at once from the event
 * loop: at most max_entries entries, no regular file of more than max_file
 * bytes allocated (unlinking a big file can take long), all on one
 * filesystem. 0: removed; 1: not small, or not all of it could go (what
 * could go is gone: a worker removes the rest). */
int rm_small_tree(const char *path, size_t max_entries, off_t max_file);
/* An executable regular file named name in PATH (root's sbin directories
 * added: runc lives in /usr/sbin, which a user's PATH may lack), malloc'd;
 * NULL when there is none. */
char *path_lookup(const char *name);
/* A helper program shipped with berth (berth-shim, berth-worker): beside
 * the running executable first, else in PATH; NULL when not found. */
char *find_helper(const char *name);

#endif
