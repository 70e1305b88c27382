#include "config.h"

#include <string.h>

#include "core/filter.h"
#include "core/log.h"
#include "core/names.h"
#include "events/events.h"
#include "metadata/store.h"
#include "namespaces/namespaces.h"

static json_t *record_to_api(const char *name, json_t *rec)
{
	json_t *labels = json_object_get(rec, "labels");
	return json_pack("{s:s,s:o,s:O,s:O}", "name", name, "labels",
			 labels ? json_incref(labels) : json_object(), "created_at",
			 json_object_get(rec, "created_at"), "updated_at",
			 json_object_get(rec, "updated_at"));
}

static json_t *new_record(json_t *labels)
{
	char ts[40];
	time_format_rfc3339(time_now_ns(), ts);
	return json_pack("{s:o,s:s,s:s}", "labels", labels ? json_incref(labels) : json_object(),
			 "created_at", ts, "updated_at", ts);
}

int namespaces_init(struct daemon *d, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	if (store_txn_begin(d->store, true, &txn, err) < 0 ||
	    store_get_opt(d->store, txn, BUCKET_NAMESPACES, NULL, NAMESPACE_DEFAULT, &rec, err) < 0)
		return -1;
	if (rec)
		return 0;
	cleanup_json json_t *labels = json_object();
	cleanup_json json_t *nrec = new_record(labels);
	if (store_put(d->store, txn, BUCKET_NAMESPACES, NULL, NAMESPACE_DEFAULT, nrec, 0, err) < 0)
		return -1;
	return store_txn_commit(&txn, err);
}

json_t *namespaces_create(struct daemon *d, const char *name, json_t *labels, err_t *err)
{
	if (name_validate_namespace(name, err) < 0)
		return NULL;
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = new_record(labels);
	if (store_txn_begin(d->store, true, &txn, err) < 0)
		return NULL;
	if (store_put(d->store, txn, BUCKET_NAMESPACES, NULL, name, rec, STORE_NOOVERWRITE, err) <
	    0) {
		if ((*err)->kind == E_ALREADY_EXISTS) {
			err_free(err);
			make_error(err, E_ALREADY_EXISTS, 0, "namespace `%s` already exists", name);
		}
		return NULL;
	}
	if (store_txn_commit(&txn, err) < 0)
		return NULL;
	events_publish(d->events, name, "/namespaces/create",
		       json_pack("{s:s,s:O}", "name", name, "labels", json_object_get(rec, "labels")));
	return record_to_api(name, rec);
}

static int get_record(struct daemon *d, MDB_txn *txn, const char *name, json_t **rec, err_t *err)
{
	if (name_validate_namespace(name, err) < 0)
		return -1;
	if (store_get(d->store, txn, BUCKET_NAMESPACES, NULL, name, rec, err) < 0) {
		if ((*err)->kind == E_NOT_FOUND) {
			err_free(err);
			make_error(err, E_NOT_FOUND, 0, "namespace `%s` not found", name);
		}
		return -1;
	}
	return 0;
}

int namespaces_ensure(struct daemon *d, MDB_txn *txn, const char *ns, bool *created, err_t *err)
{
	*created = false;
	if (name_validate_namespace(ns, err) < 0)
		return -1;
	cleanup_json json_t *rec = NULL;
	if (store_get_opt(d->store, txn, BUCKET_NAMESPACES, NULL, ns, &rec, err) < 0)
		return -1;
	if (rec)
		return 0;
	cleanup_json json_t *nrec = new_record(NULL);
	if (store_put(d->store, txn, BUCKET_NAMESPACES, NULL, ns, nrec, 0, err) < 0)
		return -1;
	*created = true;
	return 0;
}

void namespaces_created(struct daemon *d, const char *ns)
{
	events_publish(d->events, ns, "/namespaces/create",
		       json_pack("{s:s,s:{}}", "name", ns, "labels"));
}

json_t *namespaces_get(struct daemon *d, const char *name, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	if (store_txn_begin(d->store, false, &txn, err) < 0 || get_record(d, txn, name, &rec, err) < 0)
		return NULL;
	return record_to_api(name, rec);
}

int namespaces_exists(struct daemon *d, const char *name, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	if (store_txn_begin(d->store, false, &txn, err) < 0 ||
	    store_get_opt(d->store, txn, BUCKET_NAMESPACES, NULL, name, &rec, err) < 0)
		return -1;
	return rec ? 1 : 0;
}

json_t *namespaces_update(struct daemon *d, const char *name, json_t *labels_patch, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	if (store_txn_begin(d->store, true, &txn, err) < 0 || get_record(d, txn, name, &rec, err) < 0)
		return NULL;
	json_t *labels = json_object_get(rec, "labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(rec, "labels", labels);
	}
	if (labels_patch)
		json_labels_merge(labels, labels_patch);
	char ts[40];
	time_format_rfc3339(time_now_ns(), ts);
	json_object_set_new(rec, "updated_at", json_string(ts));
	if (store_put(d->store, txn, BUCKET_NAMESPACES, NULL, name, rec, 0, err) < 0 ||
	    store_txn_commit(&txn, err) < 0)
		return NULL;
	events_publish(d->events, name, "/namespaces/update",
		       json_pack("{s:s,s:O}", "name", name, "labels", labels));
	return record_to_api(name, rec);
}

int namespaces_delete(struct daemon *d, const char *name, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	if (store_txn_begin(d->store, true, &txn, err) < 0 || get_record(d, txn, name, &rec, err) < 0)
		return -1;
	if (strcmp(name, NAMESPACE_DEFAULT) == 0)
		return make_error(err, E_FAILED_PRECONDITION, 0,
				  "namespace `default` always exists and cannot be removed");
	const char *what = NULL;
	int used = store_namespace_in_use(d->store, txn, name, &what, err);
	if (used < 0)
		return -1;
	if (used)
		return make_error(err, E_FAILED_PRECONDITION, 0,
				  "namespace `%s` must be empty, but it still holds %s", name, what);
	if (store_del(d->store, txn, BUCKET_NAMESPACES, NULL, name, err) < 0 ||
	    store_txn_commit(&txn, err) < 0)
		return -1;
	events_publish(d->events, name, "/namespaces/delete", json_pack("{s:s}", "name", name));
	return 0;
}

struct list_ctx {
	json_t *out;
	const struct filter *f;
};

static int list_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct list_ctx *c = data;
	json_t *ns = record_to_api(key, val);
	if (!c->f || filter_match_json(c->f, ns))
		json_array_append_new(c->out, ns);
	else
		json_decref(ns);
	return 0;
}

json_t *namespaces_list(struct daemon *d, const struct filter *f, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(d->store, false, &txn, err) < 0)
		return NULL;
	struct list_ctx c = { json_array(), f };
	if (store_foreach(d->store, txn, BUCKET_NAMESPACES, NULL, list_cb, &c, err) < 0) {
		json_decref(c.out);
		return NULL;
	}
	return c.out;
}
