#include "config.h"

#include <string.h>

#include "api/request.h"
#include "core/filter.h"
#include "core/names.h"
#include "snapshots/http.h"
#include "snapshots/snapshots.h"
#include "snapshotters/snapshotter.h"

static const char *const no_query[] = {NULL};

#define NS(r) request_param(r, "ns")
#define SN(r) request_param(r, "sn")
#define KEY(r) request_param(r, "key")

static void snapshotters_h(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0 || name_validate_namespace(NS(r), &err) < 0)
		return reply_error(r, &err);
	reply_json(r, 200, json_pack("{s:o}", "snapshotters", snapshots_snapshotters(r->d)));
}

static void list_h(struct request *r)
{
	err_t err = NULL;
	struct filter *f = NULL;
	static const char *const allowed[] = {"filter", NULL};
	if (request_check_query(r, allowed, &err) < 0 || request_filter(r, &f, &err) < 0)
		return reply_error(r, &err);
	json_t *list = snapshots_list(r->d, NS(r), SN(r), f, &err);
	filter_free(f);
	if (!list)
		return reply_error(r, &err);
	reply_json(r, 200, json_pack("{s:o}", "snapshots", list));
}

static void prepare_done(void *data, json_t *mounts, err_t *err)
{
	struct request *r = data;
	if (*err)
		return reply_error(r, err);
	reply_json(r, 201, json_pack("{s:O}", "mounts", mounts));
}

static void prepare_abort(struct request *r, void *data)
{
	snapshots_prepare_cancel(r->d, prepare_done, r);
}

static void prepare_h(struct request *r)
{
	static const struct json_field fields[] = {
	    {"key", JF_STRING, true},
	    {"parent", JF_STRING, false},
	    {"kind", JF_STRING, false},
	    {"labels", JF_LABELS, false},
	    {NULL},
	};
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    json_check_object(body, "request body", fields, &err) < 0)
		return reply_error(r, &err);
	const char *kind = json_get_string(body, "kind");
	if (kind && strcmp(kind, "active") != 0 && strcmp(kind, "view") != 0)
		return reply_errorf(r, E_INVALID_ARGUMENT,
				    "`kind` must be `active` or `view`, got `%.32s`", kind);
	json_t *labels = json_object_get(body, "labels");
	if (snapshots_prepare_async(
		r->d, NS(r), SN(r), json_get_string(body, "key"), json_get_string(body, "parent"),
		kind && strcmp(kind, "view") == 0, json_is_object(labels) ? labels : NULL, NULL,
		prepare_done, r, &err) < 0)
		return reply_error(r, &err);
	request_defer(r, prepare_abort, NULL);
}

static void stat_h(struct request *r)
{
	err_t err = NULL;
	json_t *info = NULL;
	if (request_check_query(r, no_query, &err) < 0 ||
	    !(info = snapshots_stat(r->d, NS(r), SN(r), KEY(r), &err)))
		return reply_error(r, &err);
	reply_json(r, 200, info);
}

static void patch_h(struct request *r)
{
	static const struct json_field fields[] = {
	    {"labels", JF_LABELS_PATCH, false},
	    {NULL},
	};
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	json_t *info = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    json_check_object(body, "request body", fields, &err) < 0)
		return reply_error(r, &err);
	json_t *labels = json_object_get(body, "labels");
	if (!(info = snapshots_update_labels(r->d, NS(r), SN(r), KEY(r),
					     json_is_object(labels) ? labels : NULL, &err)))
		return reply_error(r, &err);
	reply_json(r, 200, info);
}

static void mounts_h(struct request *r)
{
	err_t err = NULL;
	json_t *m = NULL;
	if (request_check_query(r, no_query, &err) < 0 ||
	    !(m = snapshots_mounts(r->d, NS(r), SN(r), KEY(r), &err)))
		return reply_error(r, &err);
	reply_json(r, 200, json_pack("{s:o}", "mounts", m));
}

static void usage_done(void *data, json_t *usage, err_t *err)
{
	struct request *r = data;
	if (*err)
		return reply_error(r, err);
	reply_json(r, 200, json_incref(usage));
}

static void usage_abort(struct request *r, void *data)
{
	snapshots_usage_cancel(r->d, usage_done, r);
}

static void usage_h(struct request *r)
{
	err_t err = NULL;
	json_t *now = NULL;
	int rc;
	if (request_check_query(r, no_query, &err) < 0 ||
	    (rc = snapshots_usage(r->d, NS(r), SN(r), KEY(r), &now, usage_done, r, &err)) < 0)
		return reply_error(r, &err);
	if (rc > 0)
		return reply_json(r, 200, now);
	request_defer(r, usage_abort, NULL);
}

static void commit_h(struct request *r)
{
	static const struct json_field fields[] = {
	    {"name", JF_STRING, true},
	    {"labels", JF_LABELS, false},
	    {NULL},
	};
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    json_check_object(body, "request body", fields, &err) < 0)
		return reply_error(r, &err);
	const char *name = json_get_string(body, "name");
	json_t *labels = json_object_get(body, "labels");
	json_t *info = NULL;
	if (snapshots_commit(r->d, NS(r), SN(r), name, KEY(r),
			     json_is_object(labels) ? labels : NULL, NULL, &err) < 0 ||
	    !(info = snapshots_stat(r->d, NS(r), SN(r), name, &err)))
		return reply_error(r, &err);
	reply_json(r, 201, info);
}

static void delete_h(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0 ||
	    snapshots_remove(r->d, NS(r), SN(r), KEY(r), &err) < 0)
		return reply_error(r, &err);
	reply_empty(r, 204);
}

#define SNAPS "/v1/namespaces/{ns}/snapshotters/{sn}/snapshots"

const struct route snapshots_routes[] = {
    {M_GET, "/v1/namespaces/{ns}/snapshotters", snapshotters_h},
    {M_GET, SNAPS, list_h},
    {M_POST, SNAPS, prepare_h},
    {M_GET, SNAPS "/{key}", stat_h},
    {M_PATCH, SNAPS "/{key}", patch_h},
    {M_DELETE, SNAPS "/{key}", delete_h},
    {M_GET, SNAPS "/{key}/mounts", mounts_h},
    {M_GET, SNAPS "/{key}/usage", usage_h},
    {M_POST, SNAPS "/{key}/commit", commit_h},
    {0, NULL},
};
