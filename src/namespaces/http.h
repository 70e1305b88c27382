/* namespaces/http: the REST surface of the namespaces service. */
#ifndef BERTH_NAMESPACES_HTTP_H
#define BERTH_NAMESPACES_HTTP_H

#include "api/router.h"

extern const struct route namespaces_routes[];

#endif
