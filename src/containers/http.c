#include "config.h"

#include <string.h>

#include "api/request.h"
#include "containers/containers.h"
#include "containers/http.h"
#include "core/filter.h"

static const char *const no_query[] = {NULL};

#define NS(r) request_param(r, "ns")
#define ID(r) request_param(r, "id")

static void list_h(struct request *r)
{
	err_t err = NULL;
	struct filter *f = NULL;
	static const char *const allowed[] = {"filter", NULL};
	if (request_check_query(r, allowed, &err) < 0 || request_filter(r, &f, &err) < 0)
		return reply_error(r, &err);
	json_t *list = containers_list(r->d, NS(r), f, &err);
	filter_free(f);
	if (!list)
		return reply_error(r, &err);
	reply_json(r, 200, json_pack("{s:o}", "containers", list));
}

static void create_done(void *data, json_t *container, err_t *err)
{
	struct request *r = data;
	if (!container)
		return reply_error(r, err);
	reply_json(r, 201, json_incref(container));
}

static void create_abort(struct request *r, void *data)
{
	containers_create_cancel(data);
}

static void create_h(struct request *r)
{
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	struct container_create *c;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    !(c = containers_create(r->d, NS(r), body, create_done, r, &err)))
		return reply_error(r, &err);
	request_defer(r, create_abort, c);
}

static void get_h(struct request *r)
{
	err_t err = NULL;
	json_t *c = NULL;
	if (request_check_query(r, no_query, &err) < 0 ||
	    !(c = containers_get(r->d, NS(r), ID(r), &err)))
		return reply_error(r, &err);
	reply_json(r, 200, c);
}

static void patch_h(struct request *r)
{
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	json_t *c = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    !(c = containers_update(r->d, NS(r), ID(r), body, &err)))
		return reply_error(r, &err);
	reply_json(r, 200, c);
}

static void delete_h(struct request *r)
{
	err_t err = NULL;
	static const char *const allowed[] = {"cleanup", NULL};
	if (request_check_query(r, allowed, &err) < 0)
		return reply_error(r, &err);
	const char *cleanup = request_query(r, "cleanup");
	if (cleanup && strcmp(cleanup, "snapshot") != 0)
		return reply_errorf(r, E_INVALID_ARGUMENT,
				    "`cleanup`: want `snapshot`, got `%.32s`", cleanup);
	if (containers_delete(r->d, NS(r), ID(r), cleanup != NULL, &err) < 0)
		return reply_error(r, &err);
	reply_empty(r, 204);
}

const struct route containers_routes[] = {
    {M_GET, "/v1/namespaces/{ns}/containers", list_h},
    {M_POST, "/v1/namespaces/{ns}/containers", create_h},
    {M_GET, "/v1/namespaces/{ns}/containers/{id}", get_h},
    {M_PATCH, "/v1/namespaces/{ns}/containers/{id}", patch_h},
    {M_DELETE, "/v1/namespaces/{ns}/containers/{id}", delete_h},
    {0, NULL},
};
