/*
 * content: the content store (containerd's content service).
 *
 * Blobs are files at <root>/content/blobs/sha256/<hex>. They are written only
 * through an ingest: <root>/content/ingest/<key>/data, where key is the
 * sha256 of "<namespace>\0<ref>" (so any ref is a safe directory name). Bytes
 * are hashed as they are written; commit checks size and digest, fsyncs,
 * renames into place and records the blob. A blob file is never visible
 * half-written, and metadata never points at a blob that is not on disk.
 *
 * Metadata (metadata/store.h): `blobs` (global: what is on disk), `content`
 * (per namespace: the blob is visible there, with labels) and `ingests` (per
 * namespace: writes in progress, which survive a restart). A blob is listed in
 * a namespace only once that namespace wrote or referenced it; writing a blob
 * that is already on disk into another namespace only adds the record.
 *
 * Everything runs on the loop. Writes append to the page cache; writeback is
 * started every few MiB (sync_file_range) so that the fsync at commit is
 * short. Re-hashing the existing bytes of a resumed ingest is done in chunks
 * from loop callbacks, which is why commit is asynchronous.
 *
 * Content info as served by the API: {"digest","size","created_at",
 * "updated_at","labels"}. Ingest status: {"ref","offset","total","expected",
 * "started_at","updated_at"}.
 */
#ifndef BERTH_CONTENT_CONTENT_H
#define BERTH_CONTENT_CONTENT_H

#include <lmdb.h>

#include "core/daemon.h"
#include "core/json.h"

struct content_store;

/* Open the store under <root>/content, after d->store and d->events. Start-up
 * recovery: `blobs` records whose file is missing are dropped (with the
 * namespaces' records of them); blob files without a record are hashed in
 * chunks from loop callbacks and adopted (recorded in `blobs`, visible in no
 * namespace) when they verify, removed otherwise; ingest directories without
 * a record and records without data are removed; expired ingests go. Then a
 * timer expires idle ingests (config ingest_expiry). */
int content_store_open(struct daemon *d, struct content_store **out, err_t *err);
/* Commits still in progress end with E_UNAVAILABLE (their callbacks run);
 * other open writers are freed, so their owners must be gone first. */
void content_store_free(struct content_store *cs);

/* ---- reading --------------------------------------------------------- */

/* Info of a blob visible in ns (E_NOT_FOUND otherwise). */
json_t *content_info(struct content_store *cs, const char *ns, const char *digest, err_t *err);
/* Every blob visible in ns matching f (may be NULL), as info objects. */
struct filter;
json_t *content_list(struct content_store *cs, const char *ns, const struct filter *f,
		     err_t *err);
/* Open a blob visible in ns for reading; *size its length. */
int content_open(struct content_store *cs, const char *ns, const char *digest, uint64_t *size,
		 err_t *err);
/* Is the blob on disk (whatever the namespace)? 1 yes (size set), 0 no.
 * txn may be NULL (a read transaction of its own). */
int content_on_disk(struct content_store *cs, MDB_txn *txn, const char *digest, uint64_t *size,
		    err_t *err);

/* ---- changing ---------------------------------------------------------- */

/* Make a blob already on disk visible in ns (no-op if it is), within txn,
 * merging labels (may be NULL). E_NOT_FOUND if it is not on disk. With txn
 * NULL it runs in a transaction of its own and first creates ns if it does
 * not exist (writes create namespaces, as containerd's do). */
int content_add_to_namespace(struct content_store *cs, MDB_txn *txn, const char *ns,
			     const char *digest, json_t *labels, err_t *err);
/* Labels patch (merge; null removes) → the new info. */
json_t *content_update_labels(struct content_store *cs, const char *ns, const char *digest,
			      json_t *patch, err_t *err);
/* Remove the blob from ns; the file goes once no namespace holds it (now, if
 * nothing else does). Publishes /content/delete. */
int content_delete(struct content_store *cs, const char *ns, const char *digest, err_t *err);
/* For the garbage collector: remove a blob from disk and from `blobs` if no
 * namespace holds it; 1 removed, 0 kept. */
int content_remove_unreferenced(struct content_store *cs, const char *digest, err_t *err);

/* ---- writing ----------------------------------------------------------- */

struct content_writer;

/* Open ingest `ref` of ns, resuming it when it exists (offset = bytes already
 * written). expected: the digest the bytes must have, or NULL; total: their
 * size, or 0 if unknown. A ref that another writer holds open is
 * E_UNAVAILABLE ("ref locked"); when expected is already on disk the answer
 * is E_ALREADY_EXISTS and the caller only needs content_add_to_namespace().
 * Resuming with an expected digest or total other than the ingest's is
 * E_INVALID_ARGUMENT; what the ingest did not know yet is recorded. Refs are
 * checked by name_validate_ingest_ref(); ns is created if it does not exist.
 * Bytes written on this writer are hashed as they go; the bytes a resumed
 * ingest already held are re-hashed at commit. */
int content_writer_open(struct content_store *cs, const char *ns, const char *ref,
			const char *expected, uint64_t total, struct content_writer **out,
			err_t *err);
uint64_t content_writer_offset(const struct content_writer *w);
const char *content_writer_ref(const struct content_writer *w);
/* Append bytes. Writing past a known total is E_INVALID_ARGUMENT. */
int content_writer_write(struct content_writer *w, const void *buf, size_t len, err_t *err);
/* Drop everything written (a server that ignored a Range request). */
int content_writer_reset(struct content_writer *w, err_t *err);

/* Commit: check size (0: the total given at open, or whatever was written)
 * and digest (NULL: the expected one), sync, rename, record in ns with
 * labels. The callback gets the info (borrowed) or the error; the writer is
 * gone after it (on a mismatch the ingest is kept for inspection, resumption
 * or abort, as containerd). cb may run before content_writer_commit returns;
 * err is freed after cb returns (take it with steal_ptr to keep it). From
 * the call on, the writer belongs to the commit (no write, close or abort).
 * When the verified blob turns out to be on disk already (another writer
 * committed it meanwhile), the ingest is dropped and ns gets the blob: that
 * is a success. */
typedef void (*content_commit_cb)(void *data, json_t *info, err_t *err);
void content_writer_commit(struct content_writer *w, uint64_t size, const char *digest,
			   json_t *labels, content_commit_cb cb, void *data);
/* Let go of the writer, keeping the ingest for a later resume. */
void content_writer_close(struct content_writer *w);
/* Let go of the writer and delete the ingest. */
void content_writer_abort(struct content_writer *w);

/* Ingests of ns, as status objects (`expected` only when known, `total` 0
 * when unknown, `updated_at` the last write). */
json_t *content_ingests(struct content_store *cs, const char *ns, err_t *err);
/* One ingest's status (E_NOT_FOUND when there is no such ingest). */
json_t *content_ingest_status(struct content_store *cs, const char *ns, const char *ref,
			      err_t *err);
/* Delete ingest ref of ns (E_UNAVAILABLE while a writer holds it). */
int content_ingest_abort(struct content_store *cs, const char *ns, const char *ref, err_t *err);
/* Delete ingests idle for longer than the configured expiry (also at start). */
void content_expire_ingests(struct content_store *cs);

#endif
