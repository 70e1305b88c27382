/* snapshots/http: the REST surface of the snapshots service. */
#ifndef BERTH_SNAPSHOTS_HTTP_H
#define BERTH_SNAPSHOTS_HTTP_H

#include "api/router.h"

extern const struct route snapshots_routes[];

#endif
