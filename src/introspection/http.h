/* introspection/http: version, health, server info, plugins, metrics. */
#ifndef BERTH_INTROSPECTION_HTTP_H
#define BERTH_INTROSPECTION_HTTP_H

#include "api/router.h"

extern const struct route introspection_routes[];

#endif
