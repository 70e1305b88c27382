/* Committed blobs: what a namespace sees, labels, namespaces, deletion. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "content/internal.h"
#include "core/filter.h"
#include "core/log.h"
#include "core/names.h"
#include "events/events.h"
#include "metadata/store.h"

json_t *content_make_info(const char *digest, uint64_t size, json_t *rec)
{
	json_t *labels = json_object_get(rec, "labels");
	return json_pack("{s:s,s:I,s:O,s:O,s:o}", "digest", digest, "size", (json_int_t)size,
			 "created_at", json_object_get(rec, "created_at"), "updated_at",
			 json_object_get(rec, "updated_at"), "labels",
			 json_is_object(labels) ? json_deep_copy(labels) : json_object());
}

static int check_args(const char *ns, const char *digest, err_t *err)
{
	if (name_validate_namespace(ns, err) < 0 || digest_validate(digest, err) < 0)
		return -1;
	return 0;
}

static int not_found(err_t *err, const char *digest)
{
	return make_error(err, E_NOT_FOUND, 0, "content `%s` not found", digest);
}

/* The blob's size from `blobs`; E_NOT_FOUND when it is not on disk. */
static int blob_size(struct content_store *cs, MDB_txn *txn, const char *digest, uint64_t *size,
		     err_t *err)
{
	cleanup_json json_t *rec = NULL;
	if (store_get_opt(cs->d->store, txn, BUCKET_BLOBS, NULL, digest, &rec, err) < 0)
		return -1;
	json_t *sz = json_object_get(rec, "size");
	if (!rec || !json_is_integer(sz))
		return not_found(err, digest);
	*size = (uint64_t)json_integer_value(sz);
	return 0;
}

/* The namespace's record of digest; E_NOT_FOUND when it is not visible. */
static int ns_record(struct content_store *cs, MDB_txn *txn, const char *ns, const char *digest,
		     json_t **rec, err_t *err)
{
	if (store_get_opt(cs->d->store, txn, BUCKET_CONTENT, ns, digest, rec, err) < 0)
		return -1;
	if (!*rec)
		return not_found(err, digest);
	return 0;
}

json_t *content_info(struct content_store *cs, const char *ns, const char *digest, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	uint64_t size;
	if (check_args(ns, digest, err) < 0 ||
	    store_txn_begin(cs->d->store, false, &txn, err) < 0 ||
	    ns_record(cs, txn, ns, digest, &rec, err) < 0 ||
	    blob_size(cs, txn, digest, &size, err) < 0)
		return NULL;
	return content_make_info(digest, size, rec);
}

struct list_ctx {
	struct content_store *cs;
	MDB_txn *txn;
	const struct filter *f;
	json_t *out;
};

static int list_cb(const char *digest, json_t *rec, void *data, err_t *err)
{
	struct list_ctx *c = data;
	uint64_t size;
	err_t e = NULL;
	if (blob_size(c->cs, c->txn, digest, &size, &e) < 0) {
		/* recovery drops such records at start; never list them */
		if (e->kind == E_NOT_FOUND) {
			err_free(&e);
			return 0;
		}
		*err = e;
		return -1;
	}
	json_t *info = content_make_info(digest, size, rec);
	if (!c->f || filter_match_json(c->f, info))
		json_array_append_new(c->out, info);
	else
		json_decref(info);
	return 0;
}

json_t *content_list(struct content_store *cs, const char *ns, const struct filter *f, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	if (name_validate_namespace(ns, err) < 0 ||
	    store_txn_begin(cs->d->store, false, &txn, err) < 0)
		return NULL;
	struct list_ctx c = { cs, txn, f, json_array() };
	if (store_foreach(cs->d->store, txn, BUCKET_CONTENT, ns, list_cb, &c, err) < 0) {
		json_decref(c.out);
		return NULL;
	}
	return c.out;
}

int content_open(struct content_store *cs, const char *ns, const char *digest, uint64_t *size,
		 err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	if (check_args(ns, digest, err) < 0 ||
	    store_txn_begin(cs->d->store, false, &txn, err) < 0 ||
	    ns_record(cs, txn, ns, digest, &rec, err) < 0)
		return -1;
	cleanup_free char *path = content_blob_path(cs, digest);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return not_found(err, digest);
	if (fd < 0)
		return make_error(err, E_INTERNAL, errno, "open blob `%s`", digest);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return make_error(err, E_INTERNAL, e, "stat blob `%s`", digest);
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

int content_on_disk(struct content_store *cs, MDB_txn *txn, const char *digest, uint64_t *size,
		    err_t *err)
{
	cleanup_txn MDB_txn *own = NULL;
	if (digest_validate(digest, err) < 0)
		return -1;
	if (!txn) {
		if (store_txn_begin(cs->d->store, false, &own, err) < 0)
			return -1;
		txn = own;
	}
	err_t e = NULL;
	if (blob_size(cs, txn, digest, size, &e) < 0) {
		if (e->kind == E_NOT_FOUND) {
			err_free(&e);
			return 0;
		}
		*err = e;
		return -1;
	}
	return 1;
}

int content_add_to_namespace(struct content_store *cs, MDB_txn *txn, const char *ns,
			     const char *digest, json_t *labels, err_t *err)
{
	if (check_args(ns, digest, err) < 0)
		return -1;
	if (!txn) {
		cleanup_txn MDB_txn *own = NULL;
		if (content_ensure_namespace(cs, ns, err) < 0 ||
		    store_txn_begin(cs->d->store, true, &own, err) < 0 ||
		    content_add_to_namespace(cs, own, ns, digest, labels, err) < 0)
			return -1;
		return store_txn_commit(&own, err);
	}
	uint64_t size;
	cleanup_json json_t *rec = NULL;
	if (blob_size(cs, txn, digest, &size, err) < 0 ||
	    store_get_opt(cs->d->store, txn, BUCKET_CONTENT, ns, digest, &rec, err) < 0)
		return -1;
	if (rec && (!labels || json_object_size(labels) == 0))
		return 0;
	char ts[40];
	content_now(ts);
	if (!rec)
		rec = json_pack("{s:o,s:s,s:s}", "labels", json_object(), "created_at", ts,
				"updated_at", ts);
	else
		json_object_set_new(rec, "updated_at", json_string(ts));
	json_t *have = json_object_get(rec, "labels");
	if (!json_is_object(have)) {
		have = json_object();
		json_object_set_new(rec, "labels", have);
	}
	if (labels)
		json_labels_merge(have, labels);
	return store_put(cs->d->store, txn, BUCKET_CONTENT, ns, digest, rec, 0, err);
}

json_t *content_update_labels(struct content_store *cs, const char *ns, const char *digest,
			      json_t *patch, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	uint64_t size;
	if (check_args(ns, digest, err) < 0 || store_txn_begin(cs->d->store, true, &txn, err) < 0 ||
	    ns_record(cs, txn, ns, digest, &rec, err) < 0 ||
	    blob_size(cs, txn, digest, &size, err) < 0)
		return NULL;
	json_t *labels = json_object_get(rec, "labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(rec, "labels", labels);
	}
	if (patch)
		json_labels_merge(labels, patch);
	char ts[40];
	content_now(ts);
	json_object_set_new(rec, "updated_at", json_string(ts));
	if (store_put(cs->d->store, txn, BUCKET_CONTENT, ns, digest, rec, 0, err) < 0 ||
	    store_txn_commit(&txn, err) < 0)
		return NULL;
	return content_make_info(digest, size, rec);
}

struct held_ctx {
	struct store *s;
	MDB_txn *txn;
	const char *digest;
	bool held;
};

static int held_cb(const char *ns, json_t *val, void *data, err_t *err)
{
	struct held_ctx *c = data;
	MDB_val v;
	err_t e = NULL;
	if (store_get_raw(c->s, c->txn, BUCKET_CONTENT, ns, c->digest, &v, &e) == 0) {
		c->held = true;
		return 1;
	}
	if (e->kind != E_NOT_FOUND) {
		*err = e;
		return -1;
	}
	err_free(&e);
	return 0;
}

int content_held(struct content_store *cs, MDB_txn *txn, const char *digest, err_t *err)
{
	struct held_ctx c = { cs->d->store, txn, digest, false };
	if (store_foreach(cs->d->store, txn, BUCKET_NAMESPACES, NULL, held_cb, &c, err) < 0)
		return -1;
	return c.held ? 1 : 0;
}

/* The blob is no longer recorded: remove its file, after the commit that
 * dropped the record (a crash in between leaves an orphan file, which the
 * next start verifies and adopts for the collector). */
static void unlink_blob(struct content_store *cs, const char *digest)
{
	cleanup_free char *path = content_blob_path(cs, digest);
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("cannot remove blob file", "path=%s err=%s", path, strerror(errno));
	else
		log_debug("blob removed", "digest=%s", digest);
}

int content_delete(struct content_store *cs, const char *ns, const char *digest, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	if (check_args(ns, digest, err) < 0 || store_txn_begin(cs->d->store, true, &txn, err) < 0)
		return -1;
	if (store_del(cs->d->store, txn, BUCKET_CONTENT, ns, digest, err) < 0) {
		if ((*err)->kind == E_NOT_FOUND) {
			err_free(err);
			return not_found(err, digest);
		}
		return -1;
	}
	int held = content_held(cs, txn, digest, err);
	if (held < 0)
		return -1;
	err_t e = NULL;
	if (!held && store_del(cs->d->store, txn, BUCKET_BLOBS, NULL, digest, &e) < 0) {
		if (e->kind != E_NOT_FOUND) {
			*err = e;
			return -1;
		}
		err_free(&e);
	}
	if (store_txn_commit(&txn, err) < 0)
		return -1;
	if (!held)
		unlink_blob(cs, digest);
	events_publish(cs->d->events, ns, "/content/delete", json_pack("{s:s}", "digest", digest));
	return 0;
}

int content_remove_unreferenced(struct content_store *cs, const char *digest, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	if (digest_validate(digest, err) < 0 || store_txn_begin(cs->d->store, true, &txn, err) < 0)
		return -1;
	int held = content_held(cs, txn, digest, err);
	if (held != 0)
		return held < 0 ? -1 : 0;
	err_t e = NULL;
	if (store_del(cs->d->store, txn, BUCKET_BLOBS, NULL, digest, &e) < 0) {
		if (e->kind != E_NOT_FOUND) {
			*err = e;
			return -1;
		}
		err_free(&e);
		return 0;
	}
	if (store_txn_commit(&txn, err) < 0)
		return -1;
	unlink_blob(cs, digest);
	return 1;
}
