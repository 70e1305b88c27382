#include "config.h"

#include "api/request.h"
#include "core/filter.h"
#include "gc/gc.h"
#include "leases/http.h"
#include "leases/leases.h"

static const char *const no_query[] = { NULL };

static void leases_list_h(struct request *r)
{
	err_t err = NULL;
	struct filter *f = NULL;
	static const char *const allowed[] = { "filter", NULL };
	if (request_check_query(r, allowed, &err) < 0 || request_filter(r, &f, &err) < 0)
		return reply_error(r, &err);
	json_t *list = leases_list(r->d, request_param(r, "ns"), f, &err);
	filter_free(f);
	if (!list)
		return reply_error(r, &err);
	reply_json(r, 200, json_pack("{s:o}", "leases", list));
}

static void leases_create_h(struct request *r)
{
	static const struct json_field fields[] = {
		{ "id", JF_STRING, false },
		{ "expires_in", JF_NUMBER, false },
		{ "labels", JF_LABELS, false },
		{ NULL },
	};
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    json_check_object(body, "request body", fields, &err) < 0)
		return reply_error(r, &err);
	json_t *exp = json_object_get(body, "expires_in");
	double expires_in = exp && json_is_number(exp) ? json_number_value(exp) : 0;
	if (exp && json_is_number(exp) && !(expires_in > 0 && expires_in <= 10 * 365 * 86400.0))
		return reply_errorf(r, E_INVALID_ARGUMENT,
				    "`expires_in` must be a number of seconds between 0 and 10 years");
	json_t *labels = json_object_get(body, "labels");
	json_t *lease = leases_create(r->d, request_param(r, "ns"), json_get_string(body, "id"),
				      expires_in, json_is_object(labels) ? labels : NULL, &err);
	if (!lease)
		return reply_error(r, &err);
	reply_json(r, 201, lease);
}

static void gc_done(void *data, json_t *result, err_t *err)
{
	struct request *r = data;
	if (err && *err)
		return reply_error(r, err);
	reply_json(r, 200, json_incref(result));
}

static void lease_gc_done(void *data, json_t *result, err_t *err)
{
	reply_empty(data, 204);
}

static void gc_abort(struct request *r, void *data)
{
	gc_cancel(r->d->gc, gc_done, r);
}

static void lease_gc_abort(struct request *r, void *data)
{
	gc_cancel(r->d->gc, lease_gc_done, r);
}

static void leases_delete_h(struct request *r)
{
	err_t err = NULL;
	static const char *const allowed[] = { "sync", NULL };
	bool sync = false;
	if (request_check_query(r, allowed, &err) < 0 ||
	    request_query_bool(r, "sync", false, &sync, &err) < 0 ||
	    leases_delete(r->d, request_param(r, "ns"), request_param(r, "id"), &err) < 0)
		return reply_error(r, &err);
	if (!sync)
		return reply_empty(r, 204);
	request_defer(r, lease_gc_abort, NULL);
	gc_run(r->d->gc, lease_gc_done, r);
}

static void resources_list_h(struct request *r)
{
	err_t err = NULL;
	json_t *res = NULL;
	if (request_check_query(r, no_query, &err) < 0 ||
	    !(res = leases_resources(r->d, request_param(r, "ns"), request_param(r, "id"), &err)))
		return reply_error(r, &err);
	reply_json(r, 200, json_pack("{s:o}", "resources", res));
}

static void resources_change(struct request *r, bool add)
{
	static const struct json_field fields[] = {
		{ "type", JF_STRING, true },
		{ "id", JF_STRING, true },
		{ NULL },
	};
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    json_check_object(body, "request body", fields, &err) < 0)
		return reply_error(r, &err);
	int rc = (add ? leases_add_resource : leases_remove_resource)(
		r->d, request_param(r, "ns"), request_param(r, "id"), json_get_string(body, "type"),
		json_get_string(body, "id"), &err);
	if (rc < 0)
		return reply_error(r, &err);
	reply_empty(r, 204);
}

static void resources_add_h(struct request *r)
{
	resources_change(r, true);
}

static void resources_remove_h(struct request *r)
{
	resources_change(r, false);
}

static void gc_post_h(struct request *r)
{
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	static const struct json_field fields[] = { { NULL } };
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    json_check_object(body, "request body", fields, &err) < 0)
		return reply_error(r, &err);
	request_defer(r, gc_abort, NULL);
	gc_run(r->d->gc, gc_done, r);
}

const struct route leases_routes[] = {
	{ M_GET, "/v1/namespaces/{ns}/leases", leases_list_h },
	{ M_POST, "/v1/namespaces/{ns}/leases", leases_create_h },
	{ M_DELETE, "/v1/namespaces/{ns}/leases/{id}", leases_delete_h },
	{ M_GET, "/v1/namespaces/{ns}/leases/{id}/resources", resources_list_h },
	{ M_POST, "/v1/namespaces/{ns}/leases/{id}/resources", resources_add_h },
	{ M_DELETE, "/v1/namespaces/{ns}/leases/{id}/resources", resources_remove_h },
	{ M_POST, "/v1/gc", gc_post_h },
	{ 0, NULL },
};
