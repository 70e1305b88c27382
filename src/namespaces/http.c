#include "config.h"

#include "api/request.h"
#include "core/filter.h"
#include "namespaces/http.h"
#include "namespaces/namespaces.h"

static const char *const list_query[] = { "filter", NULL };
static const char *const no_query[] = { NULL };

static void ns_list(struct request *r)
{
	err_t err = NULL;
	struct filter *f = NULL;
	if (request_check_query(r, list_query, &err) < 0 || request_filter(r, &f, &err) < 0)
		return reply_error(r, &err);
	json_t *list = namespaces_list(r->d, f, &err);
	filter_free(f);
	if (!list)
		return reply_error(r, &err);
	reply_json(r, 200, json_pack("{s:o}", "namespaces", list));
}

static void ns_get(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	json_t *ns = namespaces_get(r->d, request_param(r, "ns"), &err);
	if (!ns)
		return reply_error(r, &err);
	reply_json(r, 200, ns);
}

static const struct json_field create_fields[] = {
	{ "labels", JF_LABELS, false },
	{ NULL },
};

static const struct json_field update_fields[] = {
	{ "labels", JF_LABELS_PATCH, false },
	{ NULL },
};

static void ns_create(struct request *r)
{
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    json_check_object(body, "request body", create_fields, &err) < 0)
		return reply_error(r, &err);
	json_t *labels = json_object_get(body, "labels");
	json_t *ns = namespaces_create(r->d, request_param(r, "ns"),
				       json_is_object(labels) ? labels : NULL, &err);
	if (!ns)
		return reply_error(r, &err);
	reply_json(r, 201, ns);
}

static void ns_update(struct request *r)
{
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    json_check_object(body, "request body", update_fields, &err) < 0)
		return reply_error(r, &err);
	json_t *labels = json_object_get(body, "labels");
	json_t *ns = namespaces_update(r->d, request_param(r, "ns"),
				       json_is_object(labels) ? labels : NULL, &err);
	if (!ns)
		return reply_error(r, &err);
	reply_json(r, 200, ns);
}

static void ns_delete(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0 ||
	    namespaces_delete(r->d, request_param(r, "ns"), &err) < 0)
		return reply_error(r, &err);
	reply_empty(r, 204);
}

const struct route namespaces_routes[] = {
	{ M_GET, "/v1/namespaces", ns_list },
	{ M_GET, "/v1/namespaces/{ns}", ns_get },
	{ M_PUT, "/v1/namespaces/{ns}", ns_create },
	{ M_PATCH, "/v1/namespaces/{ns}", ns_update },
	{ M_DELETE, "/v1/namespaces/{ns}", ns_delete },
	{ 0, NULL },
};
