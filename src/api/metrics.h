/*
 * metrics: berthd's Prometheus exposition (/metrics): HTTP requests by
 * route, method and code; request durations as a histogram per route;
 * plus what other modules report when rendered (process figures, SSE
 * subscribers, events published). Counting is O(1) per request and never
 * allocates after the first request of a (route, method, code).
 */
#ifndef BERTH_API_METRICS_H
#define BERTH_API_METRICS_H

#include "api/router.h"
#include "core/daemon.h"

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* route_index from the router, -1 when no route matched. */
void metrics_http_observe(struct metrics *m, int route_index, enum http_method method,
			  int status, double seconds);

/* Write the whole exposition (text format 0.0.4) into out. */
void metrics_render(struct daemon *d, struct buf *out);

#endif
