/* tasks/http: the REST surface of tasks (/v1/namespaces/{ns}/containers/{id}/task...,
 * /v1/namespaces/{ns}/tasks; see api-spec/openapi.yaml). */
#ifndef BERTH_TASKS_HTTP_H
#define BERTH_TASKS_HTTP_H

#include "api/router.h"

extern const struct route tasks_routes[];

#endif
