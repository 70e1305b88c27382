/* events/http: the REST surface of the events service (GET/POST /v1/events). */
#ifndef BERTH_EVENTS_HTTP_H
#define BERTH_EVENTS_HTTP_H

#include "api/router.h"

extern const struct route events_routes[];

#endif
