#include "config.h"

#include <string.h>

#include "core/filter.h"
#include "core/names.h"
#include "events/events.h"
#include "gc/gc.h"
#include "images/images.h"
#include "images/oci.h"
#include "metadata/store.h"
#include "namespaces/namespaces.h"
#include "remotes/reference.h"

char *image_name_normalize(const char *name, err_t *err)
{
	struct reference ref;
	if (reference_parse(name, &ref, err) < 0) {
		error_wrap(err, "image name");
		return NULL;
	}
	char *s = reference_string(&ref);
	reference_release(&ref);
	return s;
}

static json_t *to_api(const char *name, json_t *rec)
{
	json_t *o = json_deep_copy(rec);
	json_object_set_new(o, "name", json_string(name));
	if (!json_is_object(json_object_get(o, "labels")))
		json_object_set_new(o, "labels", json_object());
	return o;
}

json_t *images_get(struct daemon *d, const char *ns, const char *name, err_t *err)
{
	cleanup_free char *norm = image_name_normalize(name, err);
	if (!norm || name_validate_namespace(ns, err) < 0)
		return NULL;
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	if (store_txn_begin(d->store, false, &txn, err) < 0 ||
	    store_get_opt(d->store, txn, BUCKET_IMAGES, ns, norm, &rec, err) < 0)
		return NULL;
	if (!rec) {
		make_error(err, E_NOT_FOUND, 0, "image `%s` not found", norm);
		return NULL;
	}
	return to_api(norm, rec);
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

json_t *images_list(struct daemon *d, const char *ns, const struct filter *f, err_t *err)
{
	if (name_validate_namespace(ns, err) < 0)
		return NULL;
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(d->store, false, &txn, err) < 0)
		return NULL;
	struct list_ctx c = { json_array(), f };
	if (store_foreach(d->store, txn, BUCKET_IMAGES, ns, list_cb, &c, err) < 0) {
		json_decref(c.out);
		return NULL;
	}
	return c.out;
}

json_t *images_put(struct daemon *d, const char *ns, const char *name, json_t *target,
		   json_t *labels, bool *created, err_t *err)
{
	struct descriptor desc;
	cleanup_free char *norm = image_name_normalize(name, err);
	if (!norm || descriptor_parse(target, "target", &desc, err) < 0)
		return NULL;
	json_t *tj = descriptor_json(&desc);
	descriptor_release(&desc);
	cleanup_json json_t *target_json = tj;

	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *old = NULL;
	bool ns_created = false;
	if (store_txn_begin(d->store, true, &txn, err) < 0 ||
	    namespaces_ensure(d, txn, ns, &ns_created, err) < 0 ||
	    store_get_opt(d->store, txn, BUCKET_IMAGES, ns, norm, &old, err) < 0)
		return NULL;
	char ts[40];
	time_format_rfc3339(time_now_ns(), ts);
	json_t *keep_labels = old ? json_object_get(old, "labels") : NULL;
	json_t *use_labels = labels		     ? json_incref(labels)
			     : json_is_object(keep_labels) ? json_incref(keep_labels)
						     : json_object();
	const char *created_at = old ? json_get_string(old, "created_at") : NULL;
	cleanup_json json_t *rec = json_pack("{s:O,s:o,s:s,s:s}", "target", target_json, "labels",
					     use_labels, "created_at", created_at ? created_at : ts,
					     "updated_at", ts);
	if (store_put(d->store, txn, BUCKET_IMAGES, ns, norm, rec, 0, err) < 0 ||
	    store_txn_commit(&txn, err) < 0)
		return NULL;
	if (ns_created)
		namespaces_created(d, ns);
	*created = old == NULL;
	events_publish(d->events, ns, *created ? "/images/create" : "/images/update",
		       json_pack("{s:s,s:O}", "name", norm, "labels", json_object_get(rec, "labels")));
	/* a replaced target may leave content unreferenced */
	if (old && d->gc)
		gc_schedule(d->gc);
	return to_api(norm, rec);
}

int images_delete(struct daemon *d, const char *ns, const char *name, err_t *err)
{
	cleanup_free char *norm = image_name_normalize(name, err);
	if (!norm || name_validate_namespace(ns, err) < 0)
		return -1;
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(d->store, true, &txn, err) < 0)
		return -1;
	if (store_del(d->store, txn, BUCKET_IMAGES, ns, norm, err) < 0) {
		if ((*err)->kind == E_NOT_FOUND) {
			err_free(err);
			make_error(err, E_NOT_FOUND, 0, "image `%s` not found", norm);
		}
		return -1;
	}
	if (store_txn_commit(&txn, err) < 0)
		return -1;
	events_publish(d->events, ns, "/images/delete", json_pack("{s:s}", "name", norm));
	if (d->gc)
		gc_schedule(d->gc);
	return 0;
}
