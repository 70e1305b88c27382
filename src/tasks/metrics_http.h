/* tasks/metrics_http: GET /v1/namespaces/{ns}/containers/{id}/task/metrics
 * (api-spec/openapi.yaml TaskMetrics; tasks/metrics.h). */
#ifndef BERTH_TASKS_METRICS_HTTP_H
#define BERTH_TASKS_METRICS_HTTP_H

#include "api/router.h"

extern const struct route tasks_metrics_routes[];

#endif
