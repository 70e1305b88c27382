#include "config.h"

#include <string.h>

#include "api/request.h"
#include "core/filter.h"
#include "gc/gc.h"
#include "images/http.h"
#include "images/images.h"
#include "images/pull.h"

static const char *const no_query[] = { NULL };

static void images_list_h(struct request *r)
{
	err_t err = NULL;
	struct filter *f = NULL;
	static const char *const allowed[] = { "filter", NULL };
	if (request_check_query(r, allowed, &err) < 0 || request_filter(r, &f, &err) < 0)
		return reply_error(r, &err);
	json_t *list = images_list(r->d, request_param(r, "ns"), f, &err);
	filter_free(f);
	if (!list)
		return reply_error(r, &err);
	reply_json(r, 200, json_pack("{s:o}", "images", list));
}

static void images_get_h(struct request *r)
{
	err_t err = NULL;
	json_t *img = NULL;
	if (request_check_query(r, no_query, &err) < 0 ||
	    !(img = images_get(r->d, request_param(r, "ns"), request_param(r, "name"), &err)))
		return reply_error(r, &err);
	reply_json(r, 200, img);
}

static void images_put_h(struct request *r)
{
	static const struct json_field fields[] = {
		{ "target", JF_OBJECT, true },
		{ "labels", JF_LABELS, false },
		{ NULL },
	};
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    json_check_object(body, "request body", fields, &err) < 0)
		return reply_error(r, &err);
	json_t *labels = json_object_get(body, "labels");
	bool created = false;
	json_t *img = images_put(r->d, request_param(r, "ns"), request_param(r, "name"),
				 json_object_get(body, "target"),
				 json_is_object(labels) ? labels : NULL, &created, &err);
	if (!img)
		return reply_error(r, &err);
	reply_json(r, created ? 201 : 200, img);
}

/* DELETE ...?sync=true answers once a collection has run. */
static void delete_gc_done(void *data, json_t *result, err_t *err)
{
	struct request *r = data;
	reply_empty(r, 204);
}

static void delete_gc_abort(struct request *r, void *data)
{
	gc_cancel(r->d->gc, delete_gc_done, r);
}

static void images_delete_h(struct request *r)
{
	err_t err = NULL;
	static const char *const allowed[] = { "sync", NULL };
	bool sync = false;
	if (request_check_query(r, allowed, &err) < 0 ||
	    request_query_bool(r, "sync", false, &sync, &err) < 0 ||
	    images_delete(r->d, request_param(r, "ns"), request_param(r, "name"), &err) < 0)
		return reply_error(r, &err);
	if (!sync)
		return reply_empty(r, 204);
	request_defer(r, delete_gc_abort, NULL);
	gc_run(r->d->gc, delete_gc_done, r);
}

const struct route images_routes[] = {
	{ M_GET, "/v1/namespaces/{ns}/images", images_list_h },
	{ M_POST, "/v1/namespaces/{ns}/images/pull", pull_http_start },
	{ M_GET, "/v1/namespaces/{ns}/images/{name}", images_get_h },
	{ M_PUT, "/v1/namespaces/{ns}/images/{name}", images_put_h },
	{ M_DELETE, "/v1/namespaces/{ns}/images/{name}", images_delete_h },
	{ M_POST, "/v1/namespaces/{ns}/images/{name}/unpack", unpack_http_start },
	{ 0, NULL },
};
