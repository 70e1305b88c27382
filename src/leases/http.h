/* leases/http: the REST surface of leases and of POST /v1/gc. */
#ifndef BERTH_LEASES_HTTP_H
#define BERTH_LEASES_HTTP_H

#include "api/router.h"

extern const struct route leases_routes[];

#endif
