#include "config.h"

#include "api/request.h"
#include "tasks/metrics.h"
#include "tasks/metrics_http.h"

static void task_metrics_h(struct request *r)
{
	static const char *const no_query[] = { NULL };
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	json_t *m = tasks_metrics(r->d, request_param(r, "ns"), request_param(r, "id"), &err);
	if (!m)
		return reply_error(r, &err);
	reply_json(r, 200, m);
}

const struct route tasks_metrics_routes[] = {
	{ M_GET, "/v1/namespaces/{ns}/containers/{id}/task/metrics", task_metrics_h },
	{ 0, NULL },
};
