/*
 * content/internal.h: what the content store's files share (not for other
 * services: they use content.h).
 *
 *   store.c   open/free, paths, start-up recovery (records against files,
 *             orphan blobs verified in chunks), ingest expiry
 *   blobs.c   committed blobs: info, list, open, labels, namespaces, delete
 *   writer.c  ingests and writers: write, re-hash, commit, abort, status
 */
#ifndef BERTH_CONTENT_INTERNAL_H
#define BERTH_CONTENT_INTERNAL_H

#include <lmdb.h>

#include "content/content.h"
#include "core/digest.h"

/* Bytes hashed per loop callback when re-hashing a file. */
#define CONTENT_CHUNK ((size_t)1 << 20)
/* Start writeback (sync_file_range) after this many new bytes. */
#define CONTENT_WRITEBACK ((uint64_t)8 << 20)

struct verify_job;

struct content_store {
	struct daemon *d;
	char *blobs_dir;  /* <root>/content/blobs/sha256 */
	char *ingest_dir; /* <root>/content/ingest */
	int blobs_dirfd;  /* for fsync after a rename into it */
	struct content_writer *writers; /* open writers, each holding its ref */
	struct event *expire_timer;
	struct verify_job *verify; /* orphan blob files found at start */
	char *chunk;               /* CONTENT_CHUNK bytes for re-hashing (one thread) */
};

/* <blobs_dir>/<hex> of a validated digest. */
char *content_blob_path(const struct content_store *cs, const char *digest);
/* <ingest_dir>/<key>[/file]; file may be NULL. */
char *content_ingest_path(const struct content_store *cs, const char *key, const char *file);
/* The ingest key: hex sha256 of "<ns>\0<ref>". */
void content_ingest_key(const char *ns, const char *ref, char out[65]);
/* Remove an ingest directory and what it holds (missing is fine). */
void content_remove_ingest_dir(const struct content_store *cs, const char *key);
/* The writer holding ref in ns, or NULL. */
struct content_writer *content_writer_find(const struct content_store *cs, const char *ns,
					   const char *ref);
/* Free every writer without calling commit callbacks (shutdown). */
void content_writers_free_all(struct content_store *cs);

/* Does any namespace hold digest (a `content` record)? 1/0, -1 on error. */
int content_held(struct content_store *cs, MDB_txn *txn, const char *digest, err_t *err);
/* Create ns if it does not exist (writes create namespaces, as containerd). */
int content_ensure_namespace(struct content_store *cs, const char *ns, err_t *err);
/* Info as served, from the blob size and the namespace's record. */
json_t *content_make_info(const char *digest, uint64_t size, json_t *rec);

/* Timestamps: now as RFC 3339, and back to nanoseconds (0 if unreadable). */
void content_now(char out[40]);
int64_t content_parse_time(const char *s);

#endif
