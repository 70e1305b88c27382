/* The route tables of every service, in one place (STYLE.md "Routes").
 * t/t8001-api-spec.sh holds this list against api-spec/openapi.yaml. */
#include "config.h"

#include "api/server.h"
#include "containers/http.h"
#include "content/http.h"
#include "events/http.h"
#include "images/http.h"
#include "introspection/http.h"
#include "leases/http.h"
#include "namespaces/http.h"
#include "snapshots/http.h"
#include "tasks/http.h"
#include "tasks/metrics_http.h"

const struct route *const api_route_tables[] = {
	introspection_routes,
	namespaces_routes,
	content_routes,
	events_routes,
	images_routes,
	leases_routes,
	snapshots_routes,
	containers_routes,
	tasks_routes,
	tasks_metrics_routes,
	NULL,
};
