#include "config.h"

#include <string.h>
#include <sys/random.h>

#include "core/digest.h"
#include "core/filter.h"
#include "core/names.h"
#include "gc/gc.h"
#include "leases/leases.h"
#include "metadata/store.h"
#include "namespaces/namespaces.h"

bool lease_expired(json_t *rec, int64_t now_ns)
{
	json_t *e = json_object_get(rec, "expires_at_ns");
	return e && json_is_integer(e) && json_integer_value(e) <= now_ns;
}

static json_t *to_api(const char *id, json_t *rec)
{
	json_t *labels = json_object_get(rec, "labels");
	json_t *o = json_pack("{s:s,s:O,s:o}", "id", id, "created_at",
			      json_object_get(rec, "created_at"), "labels",
			      json_is_object(labels) ? json_incref(labels) : json_object());
	json_t *exp = json_object_get(rec, "expires_at");
	if (exp)
		json_object_set(o, "expires_at", exp);
	return o;
}

static void new_id(char out[40])
{
	unsigned char b[8] = { 0 };
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		memset(b, 0, sizeof(b));
	snprintf(out, 40, "lease-%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
		 b[5], b[6], b[7]);
}

json_t *leases_create(struct daemon *d, const char *ns, const char *id, double expires_in,
		      json_t *labels, err_t *err)
{
	char gen[40];
	if (!id) {
		new_id(gen);
		id = gen;
	}
	if (name_validate_identifier("lease id", id, err) < 0)
		return NULL;
	int64_t now = time_now_ns();
	char ts[40];
	time_format_rfc3339(now, ts);
	cleanup_json json_t *rec =
		json_pack("{s:o,s:s,s:[]}", "labels", labels ? json_incref(labels) : json_object(),
			  "created_at", ts, "resources");
	if (expires_in > 0) {
		int64_t exp = now + (int64_t)(expires_in * 1e9);
		char ets[40];
		time_format_rfc3339(exp, ets);
		json_object_set_new(rec, "expires_at", json_string(ets));
		json_object_set_new(rec, "expires_at_ns", json_integer(exp));
	}
	cleanup_txn MDB_txn *txn = NULL;
	bool created = false;
	if (store_txn_begin(d->store, true, &txn, err) < 0 ||
	    namespaces_ensure(d, txn, ns, &created, err) < 0)
		return NULL;
	if (store_put(d->store, txn, BUCKET_LEASES, ns, id, rec, STORE_NOOVERWRITE, err) < 0) {
		if ((*err)->kind == E_ALREADY_EXISTS) {
			err_free(err);
			make_error(err, E_ALREADY_EXISTS, 0, "lease `%s` already exists", id);
		}
		return NULL;
	}
	if (store_txn_commit(&txn, err) < 0)
		return NULL;
	if (created)
		namespaces_created(d, ns);
	return to_api(id, rec);
}

struct list_ctx {
	json_t *out;
	const struct filter *f;
};

static int list_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct list_ctx *c = data;
	json_t *o = to_api(key, val);
	if (!c->f || filter_match_json(c->f, o))
		json_array_append_new(c->out, o);
	else
		json_decref(o);
	return 0;
}

json_t *leases_list(struct daemon *d, const char *ns, const struct filter *f, err_t *err)
{
	if (name_validate_namespace(ns, err) < 0)
		return NULL;
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(d->store, false, &txn, err) < 0)
		return NULL;
	struct list_ctx c = { json_array(), f };
	if (store_foreach(d->store, txn, BUCKET_LEASES, ns, list_cb, &c, err) < 0) {
		json_decref(c.out);
		return NULL;
	}
	return c.out;
}

static int get_lease(struct daemon *d, MDB_txn *txn, const char *ns, const char *id,
		     json_t **rec, err_t *err)
{
	if (name_validate_namespace(ns, err) < 0 || name_validate_identifier("lease id", id, err) < 0)
		return -1;
	if (store_get_opt(d->store, txn, BUCKET_LEASES, ns, id, rec, err) < 0)
		return -1;
	if (!*rec)
		return make_error(err, E_NOT_FOUND, 0, "lease `%s` not found", id);
	return 0;
}

int leases_delete(struct daemon *d, const char *ns, const char *id, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	if (store_txn_begin(d->store, true, &txn, err) < 0 ||
	    get_lease(d, txn, ns, id, &rec, err) < 0 ||
	    store_del(d->store, txn, BUCKET_LEASES, ns, id, err) < 0 ||
	    store_txn_commit(&txn, err) < 0)
		return -1;
	if (d->gc)
		gc_schedule(d->gc);
	return 0;
}

json_t *leases_resources(struct daemon *d, const char *ns, const char *id, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	if (store_txn_begin(d->store, false, &txn, err) < 0 ||
	    get_lease(d, txn, ns, id, &rec, err) < 0)
		return NULL;
	json_t *res = json_object_get(rec, "resources");
	return json_is_array(res) ? json_deep_copy(res) : json_array();
}

int leases_validate_resource(const char *type, const char *rid, err_t *err)
{
	if (!type || !rid)
		return make_error(err, E_INVALID_ARGUMENT, 0, "a resource needs `type` and `id`");
	if (strcmp(type, "content") == 0)
		return digest_validate(rid, err);
	if (strcmp(type, "ingests") == 0 ||
	    (strncmp(type, "snapshots/", 10) == 0 &&
	     name_validate_identifier("snapshotter", type + 10, err) == 0)) {
		size_t n = strlen(rid);
		if (n == 0 || n > 255)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "resource id must be 1 to 255 bytes");
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)rid[i] < 0x21 || rid[i] == 0x7f)
				return make_error(err, E_INVALID_ARGUMENT, 0,
						  "resource id holds spaces or control characters");
		return 0;
	}
	if (err && *err)
		return -1;
	return make_error(err, E_INVALID_ARGUMENT, 0,
			  "unknown resource type `%.64s` (content, ingests, snapshots/<name>)", type);
}

static int find_resource(json_t *res, const char *type, const char *rid)
{
	size_t i;
	json_t *e;
	json_array_foreach (res, i, e) {
		const char *t = json_get_string(e, "type"), *id = json_get_string(e, "id");
		if (t && id && strcmp(t, type) == 0 && strcmp(id, rid) == 0)
			return (int)i;
	}
	return -1;
}

static int change_resource(struct daemon *d, const char *ns, const char *id, const char *type,
			   const char *rid, bool add, err_t *err)
{
	if (leases_validate_resource(type, rid, err) < 0)
		return -1;
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	if (store_txn_begin(d->store, true, &txn, err) < 0 ||
	    get_lease(d, txn, ns, id, &rec, err) < 0)
		return -1;
	json_t *res = json_object_get(rec, "resources");
	if (!json_is_array(res)) {
		res = json_array();
		json_object_set_new(rec, "resources", res);
	}
	int at = find_resource(res, type, rid);
	if (add && at < 0)
		json_array_append_new(res, json_pack("{s:s,s:s}", "type", type, "id", rid));
	else if (!add && at >= 0)
		json_array_remove(res, (size_t)at);
	else
		return 0;
	if (store_put(d->store, txn, BUCKET_LEASES, ns, id, rec, 0, err) < 0 ||
	    store_txn_commit(&txn, err) < 0)
		return -1;
	if (!add && d->gc)
		gc_schedule(d->gc);
	return 0;
}

int leases_add_resource(struct daemon *d, const char *ns, const char *id, const char *type,
			const char *rid, err_t *err)
{
	return change_resource(d, ns, id, type, rid, true, err);
}

int leases_remove_resource(struct daemon *d, const char *ns, const char *id, const char *type,
			   const char *rid, err_t *err)
{
	return change_resource(d, ns, id, type, rid, false, err);
}
