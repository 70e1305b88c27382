/*
 * sse: GET /v1/events as Server-Sent Events. Each subscriber is a cursor
 * into the events ring plus its filters; it holds no copy of the events, so
 * its memory is bounded whatever the client does. A subscriber that falls
 * further behind than the ring holds is dropped with a final comment (it can
 * reconnect with Last-Event-ID); one whose socket stops draining is closed
 * by a short connection timeout. A heartbeat comment goes to every
 * subscriber on a timer. Everything runs on the loop.
 */
#ifndef BERTH_EVENTS_SSE_H
#define BERTH_EVENTS_SSE_H

#include "api/request.h"
#include "core/daemon.h"

struct sse_hub *sse_hub_new(struct daemon *d);
void sse_hub_free(struct sse_hub *hub);

/* Start streaming to r: since is the last id the client has (0: none, live
 * only unless replay_all), filters may be NULL/empty. */
struct sse_filter {
	const char *ns;             /* exact namespace, or NULL */
	const char *const *topics;  /* topic prefixes (OR), ntopics of them */
	size_t ntopics;
};
int sse_subscribe(struct sse_hub *hub, struct request *r, bool have_since, uint64_t since,
		  const struct sse_filter *f, err_t *err);

/* Shutdown: send every subscriber a final comment and end its stream. */
void sse_hub_close_all(struct sse_hub *hub);

size_t sse_subscriber_count(const struct sse_hub *hub);
uint64_t sse_dropped_total(const struct sse_hub *hub);

#endif
