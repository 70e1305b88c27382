/* Ingests and their writers: append, hash as the bytes go by, re-hash a
 * resumed ingest in chunks from the loop, commit (verify, sync, rename,
 * record), abort, status. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "content/internal.h"
#include "core/log.h"
#include "core/names.h"
#include "metadata/store.h"

/* Bytes gathered before one pwrite: libcurl hands over 16 KiB at a time. */
#define CONTENT_WRITE_COALESCE (256 * 1024)

struct content_writer {
	struct content_writer *next;
	struct content_store *cs;
	char *ns, *ref;
	char key[65];
	char *expected; /* NULL when unknown */
	uint64_t total; /* 0 when unknown */
	int fd;         /* <key>/data */
	uint64_t offset;    /* bytes accepted: in the file, then in pend */
	struct buf pend;    /* the last bytes of offset, gathered for one pwrite */
	uint64_t hashed;    /* bytes fed to the hasher, <= offset */
	uint64_t writeback; /* writeback started up to here */
	struct hasher *h;
	struct event *rehash; /* re-hashes [hashed, offset) from the file */
	err_t rehash_err;     /* a read failed while re-hashing */

	/* once content_writer_commit() ran */
	bool committing;
	uint64_t commit_size;
	char *commit_digest;
	json_t *commit_labels;
	content_commit_cb cb;
	void *cb_data;
};

struct content_writer *content_writer_find(const struct content_store *cs, const char *ns,
					   const char *ref)
{
	for (struct content_writer *w = cs->writers; w; w = w->next)
		if (strcmp(w->ns, ns) == 0 && strcmp(w->ref, ref) == 0)
			return w;
	return NULL;
}

uint64_t content_writer_offset(const struct content_writer *w)
{
	return w->offset;
}

const char *content_writer_ref(const struct content_writer *w)
{
	return w->ref;
}

static void writer_unlink(struct content_writer *w)
{
	struct content_writer **pp = &w->cs->writers;
	while (*pp && *pp != w)
		pp = &(*pp)->next;
	if (*pp)
		*pp = w->next;
	w->next = NULL;
}

static void writer_free(struct content_writer *w)
{
	writer_unlink(w);
	if (w->fd >= 0)
		close(w->fd);
	if (w->rehash)
		event_free(w->rehash);
	hasher_free(w->h);
	buf_release(&w->pend);
	err_free(&w->rehash_err);
	json_decref(w->commit_labels);
	free(w->commit_digest);
	free(w->expected);
	free(w->ns);
	free(w->ref);
	free(w);
}

static void commit_done(struct content_writer *w, json_t *info, err_t *err);

void content_writers_free_all(struct content_store *cs)
{
	while (cs->writers) {
		struct content_writer *w = cs->writers;
		if (!w->committing) {
			content_writer_close(w); /* the gathered bytes go to the file */
			continue;
		}
		err_t err = NULL;
		make_error(&err, E_UNAVAILABLE, 0, "commit of ingest `%s`: berthd is shutting down",
			   w->ref);
		commit_done(w, NULL, &err);
	}
}

/* ---- opening ------------------------------------------------------------- */

static int write_ref_file(struct content_store *cs, const char *key, const char *ns,
			  const char *ref, err_t *err)
{
	cleanup_free char *path = content_ingest_path(cs, key, "ref");
	cleanup_json json_t *id = json_pack("{s:s,s:s}", "namespace", ns, "ref", ref);
	size_t len;
	cleanup_free char *text = json_dump_compact(id, &len);
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return make_error(err, E_INTERNAL, errno, "write `%s`", path);
	return 0;
}

/* Create the ingest: directory, ref file, data file, then the record. */
static int create_ingest(struct content_writer *w, MDB_txn *txn, err_t *err)
{
	struct content_store *cs = w->cs;
	cleanup_free char *dir = content_ingest_path(cs, w->key, NULL);
	cleanup_free char *data = content_ingest_path(cs, w->key, "data");
	content_remove_ingest_dir(cs, w->key); /* a leftover of a crash while opening */
	if (mkdir(dir, 0700) < 0)
		return make_error(err, E_INTERNAL, errno, "create ingest directory `%s`", dir);
	if (write_ref_file(cs, w->key, w->ns, w->ref, err) < 0)
		return -1;
	w->fd = open(data, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w->fd < 0)
		return make_error(err, E_INTERNAL, errno, "create `%s`", data);
	char ts[40];
	content_now(ts);
	cleanup_json json_t *rec =
		json_pack("{s:s,s:I,s:s,s:s}", "key", w->key, "total", (json_int_t)w->total,
			  "started_at", ts, "updated_at", ts);
	if (w->expected)
		json_object_set_new(rec, "expected", json_string(w->expected));
	return store_put(cs->d->store, txn, BUCKET_INGESTS, w->ns, w->ref, rec, 0, err);
}

/* Resume the ingest of rec: the expected digest and total must agree with
 * what it was opened with; what it did not know yet is recorded now. */
static int resume_ingest(struct content_writer *w, MDB_txn *txn, json_t *rec, err_t *err)
{
	struct content_store *cs = w->cs;
	const char *rexp = json_get_string(rec, "expected");
	json_t *rt = json_object_get(rec, "total");
	uint64_t rtotal = json_is_integer(rt) ? (uint64_t)json_integer_value(rt) : 0;
	bool changed = false;
	if (w->expected && rexp && strcmp(w->expected, rexp) != 0)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "ingest `%s` expects `%s`, not `%s`", w->ref, rexp, w->expected);
	if (w->total && rtotal && w->total != rtotal)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "ingest `%s` has a total of %llu bytes, not %llu", w->ref,
				  (unsigned long long)rtotal, (unsigned long long)w->total);
	if (!w->expected && rexp)
		w->expected = xstrdup(rexp);
	else if (w->expected && !rexp)
		changed = true;
	if (!w->total)
		w->total = rtotal;
	else if (!rtotal)
		changed = true;
	cleanup_free char *data = content_ingest_path(cs, w->key, "data");
	w->fd = open(data, O_RDWR | O_CLOEXEC);
	if (w->fd < 0)
		return make_error(err, E_INTERNAL, errno, "open `%s`", data);
	struct stat st;
	if (fstat(w->fd, &st) < 0)
		return make_error(err, E_INTERNAL, errno, "stat `%s`", data);
	w->offset = (uint64_t)st.st_size;
	if (w->total && w->offset > w->total)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "ingest `%s` holds %llu bytes, more than its total of %llu",
				  w->ref, (unsigned long long)w->offset,
				  (unsigned long long)w->total);
	w->writeback = w->offset;
	if (!changed)
		return 0;
	char ts[40];
	content_now(ts);
	json_object_set_new(rec, "total", json_integer((json_int_t)w->total));
	if (w->expected)
		json_object_set_new(rec, "expected", json_string(w->expected));
	json_object_set_new(rec, "updated_at", json_string(ts));
	return store_put(cs->d->store, txn, BUCKET_INGESTS, w->ns, w->ref, rec, 0, err);
}

static void rehash_cb(evutil_socket_t fd, short what, void *arg);

int content_writer_open(struct content_store *cs, const char *ns, const char *ref,
			const char *expected, uint64_t total, struct content_writer **out,
			err_t *err)
{
	*out = NULL;
	if (name_validate_namespace(ns, err) < 0 || name_validate_ingest_ref(ref, err) < 0 ||
	    (expected && digest_validate(expected, err) < 0))
		return -1;
	uint64_t size;
	int on_disk = expected ? content_on_disk(cs, NULL, expected, &size, err) : 0;
	if (on_disk < 0)
		return -1;
	if (on_disk)
		return make_error(err, E_ALREADY_EXISTS, 0, "content `%s` already exists",
				  expected);
	if (content_writer_find(cs, ns, ref))
		return make_error(err, E_UNAVAILABLE, 0,
				  "ingest `%s` is in use by another writer (ref locked)", ref);
	if (content_ensure_namespace(cs, ns, err) < 0)
		return -1;

	struct content_writer *w = xzalloc(sizeof(*w));
	w->cs = cs;
	w->fd = -1;
	w->ns = xstrdup(ns);
	w->ref = xstrdup(ref);
	w->expected = expected ? xstrdup(expected) : NULL;
	w->total = total;
	content_ingest_key(ns, ref, w->key);

	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	bool created = false;
	if (store_txn_begin(cs->d->store, true, &txn, err) < 0 ||
	    store_get_opt(cs->d->store, txn, BUCKET_INGESTS, ns, ref, &rec, err) < 0)
		goto fail;
	if (rec) {
		cleanup_free char *data = content_ingest_path(cs, w->key, "data");
		if (access(data, F_OK) < 0) {
			log_warn("ingest lost its data: starting it again",
				 "namespace=%s ref=%s", ns, ref);
			json_decref(rec);
			rec = NULL;
		}
	}
	if (rec ? resume_ingest(w, txn, rec, err) < 0
		: (created = true, create_ingest(w, txn, err) < 0))
		goto fail;
	if (store_txn_commit(&txn, err) < 0)
		goto fail;
	w->h = hasher_new();
	w->rehash = evtimer_new(cs->d->base, rehash_cb, w);
	w->next = cs->writers;
	cs->writers = w;
	log_debug("ingest opened", "namespace=%s ref=%s offset=%llu", ns, ref,
		  (unsigned long long)w->offset);
	*out = w;
	return 0;
fail:
	if (created)
		content_remove_ingest_dir(cs, w->key);
	writer_free(w);
	return error_wrap(err, "ingest `%s`", ref);
}

/* ---- writing ------------------------------------------------------------- */

static void rehash_schedule(struct content_writer *w)
{
	static const struct timeval zero = { 0, 0 };
	if (!evtimer_pending(w->rehash, NULL))
		evtimer_add(w->rehash, &zero);
}

static int write_all_at(int fd, const char *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Write buf at the end of the file [0, offset - pend.len) and hash it in
 * passing unless a re-hash of earlier bytes is still due. On failure the file
 * and the accounting go back to what the file holds. */
static int append_file(struct content_writer *w, const void *buf, size_t len, err_t *err)
{
	uint64_t at = w->offset - w->pend.len;
	if (write_all_at(w->fd, buf, len, at) < 0) {
		int e = errno;
		/* keep the file as long as what it held */
		if (ftruncate(w->fd, (off_t)at) < 0)
			log_warn("cannot trim a failed write", "ref=%s err=%s", w->ref,
				 strerror(errno));
		if (w->hashed > at) {
			/* what was hashed is gone: hash the file again before a commit */
			hasher_reset(w->h);
			w->hashed = 0;
		}
		w->offset = at;
		buf_reset(&w->pend);
		return make_error(err, (e == ENOSPC || e == EDQUOT) ? E_UNAVAILABLE : E_INTERNAL, e,
				  "ingest `%s`: write", w->ref);
	}
	at += len;
	if (at - w->writeback >= CONTENT_WRITEBACK) {
		sync_file_range(w->fd, (off64_t)w->writeback, (off64_t)(at - w->writeback),
				SYNC_FILE_RANGE_WRITE);
		w->writeback = at;
	}
	return 0;
}

/* Write the gathered bytes out (before the file is read, synced or left). */
static int flush_pend(struct content_writer *w, err_t *err)
{
	if (!w->pend.len)
		return 0;
	size_t len = w->pend.len;
	int rc = append_file(w, w->pend.data, len, err);
	if (rc == 0)
		buf_reset(&w->pend); /* append_file counted it as in pend until now */
	return rc;
}

int content_writer_write(struct content_writer *w, const void *buf, size_t len, err_t *err)
{
	if (w->committing)
		return make_error(err, E_INTERNAL, 0, "ingest `%s`: write after commit", w->ref);
	if (w->total && w->offset + len > w->total)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "ingest `%s`: %zu bytes at offset %llu go past its total of %llu "
				  "bytes",
				  w->ref, len, (unsigned long long)w->offset,
				  (unsigned long long)w->total);
	if (w->hashed < w->offset) {
		/* a re-hash of earlier bytes reads the file: no gathering meanwhile */
		if (flush_pend(w, err) < 0 || append_file(w, buf, len, err) < 0)
			return -1;
		w->offset += len;
		return 0;
	}
	hasher_update(w->h, buf, len);
	w->hashed += len;
	/* gather: libcurl hands over 16 KiB at a time, one pwrite per 256 KiB */
	buf_add(&w->pend, buf, len);
	w->offset += len;
	if (w->pend.len >= CONTENT_WRITE_COALESCE)
		return flush_pend(w, err);
	return 0;
}

int content_writer_reset(struct content_writer *w, err_t *err)
{
	buf_reset(&w->pend);
	if (ftruncate(w->fd, 0) < 0)
		return make_error(err, E_INTERNAL, errno, "ingest `%s`: truncate", w->ref);
	w->offset = w->hashed = w->writeback = 0;
	hasher_reset(w->h);
	evtimer_del(w->rehash);
	err_free(&w->rehash_err);
	return 0;
}

void content_writer_close(struct content_writer *w)
{
	if (!w)
		return;
	err_t err = NULL;
	if (w->fd >= 0 && flush_pend(w, &err) < 0) {
		log_warn("an ingest lost its last bytes", "namespace=%s ref=%s err=%s", w->ns,
			 w->ref, err->msg);
		err_free(&err);
	}
	log_debug("ingest closed", "namespace=%s ref=%s offset=%llu", w->ns, w->ref,
		  (unsigned long long)w->offset);
	writer_free(w);
}

static int drop_ingest_record(struct content_store *cs, const char *ns, const char *ref,
			      err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(cs->d->store, true, &txn, err) < 0 ||
	    store_del(cs->d->store, txn, BUCKET_INGESTS, ns, ref, err) < 0)
		return -1;
	return store_txn_commit(&txn, err);
}

void content_writer_abort(struct content_writer *w)
{
	if (!w)
		return;
	err_t err = NULL;
	struct content_store *cs = w->cs;
	cleanup_free char *ns = xstrdup(w->ns);
	cleanup_free char *ref = xstrdup(w->ref);
	char key[65];
	memcpy(key, w->key, sizeof(key));
	writer_free(w);
	if (drop_ingest_record(cs, ns, ref, &err) < 0 && err->kind != E_NOT_FOUND)
		log_error("cannot remove ingest record", "namespace=%s ref=%s err=%s", ns, ref,
			  err->msg);
	err_free(&err);
	content_remove_ingest_dir(cs, key);
}

/* ---- commit -------------------------------------------------------------- */

/* The commit's end: the writer is gone before cb runs. */
static void commit_done(struct content_writer *w, json_t *info, err_t *err)
{
	content_commit_cb cb = w->cb;
	void *data = w->cb_data;
	writer_free(w);
	cb(data, info, err);
	err_free(err);
}

/* Verified bytes become the blob: sync, rename into place, sync the
 * directory, then record it (so metadata never points at a missing or
 * unsynced blob), then drop the ingest. */
static int publish_blob(struct content_writer *w, const char *digest, err_t *err)
{
	struct content_store *cs = w->cs;
	cleanup_free char *data = content_ingest_path(cs, w->key, "data");
	cleanup_free char *blob = content_blob_path(cs, digest);
	if (fchmod(w->fd, 0444) < 0 || fdatasync(w->fd) < 0)
		return make_error(err, E_INTERNAL, errno, "sync ingest `%s`", w->ref);
	if (rename(data, blob) < 0)
		return make_error(err, E_INTERNAL, errno, "move ingest `%s` to `%s`", w->ref, blob);
	if (fsync(cs->blobs_dirfd) < 0)
		return make_error(err, E_INTERNAL, errno, "sync `%s`", cs->blobs_dir);
	char ts[40];
	content_now(ts);
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec =
		json_pack("{s:I,s:s}", "size", (json_int_t)w->offset, "created_at", ts);
	if (store_txn_begin(cs->d->store, true, &txn, err) < 0 ||
	    store_put(cs->d->store, txn, BUCKET_BLOBS, NULL, digest, rec, 0, err) < 0 ||
	    content_add_to_namespace(cs, txn, w->ns, digest, w->commit_labels, err) < 0 ||
	    store_del(cs->d->store, txn, BUCKET_INGESTS, w->ns, w->ref, err) < 0 ||
	    store_txn_commit(&txn, err) < 0)
		/* the file stays: the next start verifies and adopts it */
		return -1;
	return 0;
}

/* The blob is on disk already: only record it in the namespace. */
static int record_existing(struct content_writer *w, const char *digest, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(w->cs->d->store, true, &txn, err) < 0 ||
	    content_add_to_namespace(w->cs, txn, w->ns, digest, w->commit_labels, err) < 0 ||
	    store_del(w->cs->d->store, txn, BUCKET_INGESTS, w->ns, w->ref, err) < 0)
		return -1;
	return store_txn_commit(&txn, err);
}

static void finish_commit(struct content_writer *w)
{
	struct content_store *cs = w->cs;
	err_t err = NULL;
	if (w->rehash_err) {
		err = steal_ptr(&w->rehash_err);
		return commit_done(w, NULL, &err);
	}
	uint64_t want = w->commit_size ? w->commit_size : w->total ? w->total : w->offset;
	if (w->offset != want || (w->total && w->offset != w->total)) {
		make_error(&err, E_INVALID_ARGUMENT, 0,
			   "commit of ingest `%s`: it holds %llu bytes, expected %llu", w->ref,
			   (unsigned long long)w->offset,
			   (unsigned long long)(w->offset != want ? want : w->total));
		return commit_done(w, NULL, &err);
	}
	char actual[DIGEST_STRLEN + 1];
	hasher_final(w->h, actual);
	const char *expected = w->commit_digest ? w->commit_digest : w->expected;
	if (expected && strcmp(actual, expected) != 0) {
		make_error(&err, E_INVALID_ARGUMENT, 0,
			   "commit of ingest `%s`: its %llu bytes have digest `%s`, expected `%s`",
			   w->ref, (unsigned long long)w->offset, actual, expected);
		return commit_done(w, NULL, &err);
	}
	uint64_t size;
	int on_disk = content_on_disk(cs, NULL, actual, &size, &err);
	if (on_disk < 0 || (on_disk ? record_existing(w, actual, &err)
				    : publish_blob(w, actual, &err)) < 0) {
		error_wrap(&err, "commit of ingest `%s`", w->ref);
		return commit_done(w, NULL, &err);
	}
	char key[65];
	memcpy(key, w->key, sizeof(key));
	cleanup_free char *ns = xstrdup(w->ns);
	log_debug("ingest committed", "namespace=%s ref=%s digest=%s size=%llu existed=%d", w->ns,
		  w->ref, actual, (unsigned long long)w->offset, on_disk);
	close(w->fd);
	w->fd = -1;
	content_remove_ingest_dir(cs, key);
	cleanup_json json_t *info = content_info(cs, ns, actual, &err);
	commit_done(w, info, &err);
}

/* Re-hash one chunk of [hashed, offset) from the file; a loop callback, so
 * a big resumed ingest never holds the loop for long. */
static void rehash_cb(evutil_socket_t fd, short what, void *arg)
{
	struct content_writer *w = arg;
	struct content_store *cs = w->cs;
	if (w->hashed < w->offset && !w->rehash_err && flush_pend(w, &w->rehash_err) == 0) {
		uint64_t left = w->offset - w->hashed;
		size_t want = left < CONTENT_CHUNK ? (size_t)left : CONTENT_CHUNK;
		ssize_t n = pread(w->fd, cs->chunk, want, (off_t)w->hashed);
		if (n > 0) {
			hasher_update(w->h, cs->chunk, (size_t)n);
			w->hashed += (uint64_t)n;
		} else if (n == 0 || errno != EINTR) {
			make_error(&w->rehash_err, E_INTERNAL, n == 0 ? 0 : errno,
				   "ingest `%s`: re-read at %llu%s", w->ref,
				   (unsigned long long)w->hashed, n == 0 ? ": file is short" : "");
		}
	}
	if (w->hashed < w->offset && !w->rehash_err)
		rehash_schedule(w);
	else if (w->committing)
		finish_commit(w);
}

void content_writer_commit(struct content_writer *w, uint64_t size, const char *digest,
			   json_t *labels, content_commit_cb cb, void *data)
{
	err_t err = NULL;
	w->committing = true;
	w->cb = cb;
	w->cb_data = data;
	w->commit_size = size;
	w->commit_labels = labels ? json_incref(labels) : NULL;
	if (digest && digest_validate(digest, &err) < 0)
		return commit_done(w, NULL, &err);
	if (digest && w->expected && strcmp(digest, w->expected) != 0) {
		make_error(&err, E_INVALID_ARGUMENT, 0,
			   "commit of ingest `%s` as `%s`, but it was opened expecting `%s`",
			   w->ref, digest, w->expected);
		return commit_done(w, NULL, &err);
	}
	w->commit_digest = digest ? xstrdup(digest) : NULL;
	if (flush_pend(w, &err) < 0)
		return commit_done(w, NULL, &err);
	if (w->hashed < w->offset)
		rehash_schedule(w); /* finish_commit runs when it is done */
	else
		finish_commit(w);
}

/* ---- ingests as served --------------------------------------------------- */

static json_t *make_status(struct content_store *cs, const char *ns, const char *ref, json_t *rec)
{
	const char *key = json_get_string(rec, "key");
	struct content_writer *w = content_writer_find(cs, ns, ref);
	uint64_t offset = 0;
	int64_t updated = content_parse_time(json_get_string(rec, "updated_at"));
	if (key) {
		cleanup_free char *data = content_ingest_path(cs, key, "data");
		struct stat st;
		if (stat(data, &st) == 0) {
			offset = (uint64_t)st.st_size;
			int64_t m = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
			if (m > updated)
				updated = m;
		}
	}
	if (w)
		offset = w->offset;
	char ts[40];
	time_format_rfc3339(updated, ts);
	json_t *total = json_object_get(rec, "total");
	json_int_t t = json_is_integer(total) ? json_integer_value(total) : 0;
	json_t *out = json_pack("{s:s,s:I,s:I,s:O,s:s}", "ref", ref, "offset", (json_int_t)offset,
				"total", t, "started_at", json_object_get(rec, "started_at"),
				"updated_at", ts);
	const char *exp = json_get_string(rec, "expected");
	if (exp)
		json_object_set_new(out, "expected", json_string(exp));
	return out;
}

struct status_ctx {
	struct content_store *cs;
	const char *ns;
	json_t *out;
};

static int status_cb(const char *ref, json_t *rec, void *data, err_t *err)
{
	struct status_ctx *c = data;
	json_array_append_new(c->out, make_status(c->cs, c->ns, ref, rec));
	return 0;
}

json_t *content_ingests(struct content_store *cs, const char *ns, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	if (name_validate_namespace(ns, err) < 0 ||
	    store_txn_begin(cs->d->store, false, &txn, err) < 0)
		return NULL;
	struct status_ctx c = { cs, ns, json_array() };
	if (store_foreach(cs->d->store, txn, BUCKET_INGESTS, ns, status_cb, &c, err) < 0) {
		json_decref(c.out);
		return NULL;
	}
	return c.out;
}

static int get_ingest(struct content_store *cs, MDB_txn *txn, const char *ns, const char *ref,
		      json_t **rec, err_t *err)
{
	if (store_get_opt(cs->d->store, txn, BUCKET_INGESTS, ns, ref, rec, err) < 0)
		return -1;
	if (!*rec)
		return make_error(err, E_NOT_FOUND, 0, "ingest `%s` not found", ref);
	return 0;
}

json_t *content_ingest_status(struct content_store *cs, const char *ns, const char *ref,
			      err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	if (name_validate_namespace(ns, err) < 0 || name_validate_ingest_ref(ref, err) < 0 ||
	    store_txn_begin(cs->d->store, false, &txn, err) < 0 ||
	    get_ingest(cs, txn, ns, ref, &rec, err) < 0)
		return NULL;
	return make_status(cs, ns, ref, rec);
}

int content_ingest_abort(struct content_store *cs, const char *ns, const char *ref, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	if (name_validate_namespace(ns, err) < 0 || name_validate_ingest_ref(ref, err) < 0)
		return -1;
	if (content_writer_find(cs, ns, ref))
		return make_error(err, E_UNAVAILABLE, 0,
				  "ingest `%s` is in use by a writer (ref locked)", ref);
	if (store_txn_begin(cs->d->store, true, &txn, err) < 0 ||
	    get_ingest(cs, txn, ns, ref, &rec, err) < 0 ||
	    store_del(cs->d->store, txn, BUCKET_INGESTS, ns, ref, err) < 0 ||
	    store_txn_commit(&txn, err) < 0)
		return -1;
	const char *key = json_get_string(rec, "key");
	if (key)
		content_remove_ingest_dir(cs, key);
	return 0;
}
