/* containers/http: the routes of /v1/namespaces/{ns}/containers. */
#ifndef BERTH_CONTAINERS_HTTP_H
#define BERTH_CONTAINERS_HTTP_H

#include "api/router.h"

extern const struct route containers_routes[];

#endif
