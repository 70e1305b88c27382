#include "config.h"

#include <string.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/loop.h"
#include "events/events.h"
#include "events/sse.h"

/* Batch at most this much per fill; the rest follows when the socket drains. */
#define FILL_CHUNK (64 * 1024)
/* A subscriber that cannot take an event for this long after falling behind
 * is closed. */
#define STALLED_TIMEOUT 5

struct sse_sub {
	struct sse_hub *hub;
	struct http_stream *stream;
	uint64_t next; /* id of the next event to consider */
	char *ns;
	char **topics;
	size_t ntopics;
	uint64_t gap;  /* events asked for that were no longer held */
	bool hello_sent;
	bool heartbeat_due;
	bool closing;
	bool stalled_timeout_set;
	bool dropped; /* counted in hub->dropped */
	struct sse_sub *prev, *next_sub;
};

struct sse_hub {
	struct daemon *d;
	struct sse_sub *subs;
	size_t count;
	uint64_t dropped;
	void *exchange_handle;
	struct event *heartbeat;
};

static bool sub_wants(const struct sse_sub *s, const char *ns, const char *topic)
{
	if (s->ns && strcmp(s->ns, ns) != 0)
		return false;
	if (!s->ntopics)
		return true;
	for (size_t i = 0; i < s->ntopics; i++)
		if (strncmp(topic, s->topics[i], strlen(s->topics[i])) == 0)
			return true;
	return false;
}

static int sub_fill(struct http_stream *st, struct buf *out, void *data)
{
	struct sse_sub *s = data;
	struct events *ev = s->hub->d->events;
	if (!s->hello_sent) {
		s->hello_sent = true;
		buf_adds(out, ": berth events\nretry: 3000\n\n");
		if (s->gap)
			buf_addf(out, ": %llu earlier events are no longer held\n\n",
				 (unsigned long long)s->gap);
	}
	if (s->closing) {
		buf_adds(out, ": berthd is shutting down\n\n");
		return 1;
	}
	if (s->next < events_oldest(ev)) {
		s->dropped = true;
		s->hub->dropped++;
		log_warn("dropping slow SSE subscriber", "behind=%llu ring=%zu",
			 (unsigned long long)(events_head(ev) + 1 - s->next),
			 events_ring_size(ev));
		buf_addf(out,
			 ": dropped: this client fell more than %zu events behind; reconnect "
			 "with Last-Event-ID: %llu\n\n",
			 events_ring_size(ev), (unsigned long long)(s->next - 1));
		return 1;
	}
	uint64_t head = events_head(ev);
	while (s->next <= head && out->len < FILL_CHUNK) {
		const struct event_rec *r = events_get(ev, s->next++);
		if (r && sub_wants(s, r->ns, r->topic))
			buf_add(out, r->frame, r->frame_len);
	}
	if (out->len == 0 && s->heartbeat_due)
		buf_adds(out, ": heartbeat\n\n");
	s->heartbeat_due = false;
	return 0;
}

static void sub_closed(struct http_stream *st, void *data)
{
	struct sse_sub *s = data;
	struct sse_hub *hub = s->hub;
	if (hub) {
		/* a peer that stopped reading is closed by its timeout before
		 * fill() can tell it: count it as dropped here */
		if (!s->dropped && !s->closing && s->next < events_oldest(hub->d->events)) {
			hub->dropped++;
			log_warn("dropped stalled SSE subscriber", "behind=%llu",
				 (unsigned long long)(events_head(hub->d->events) + 1 - s->next));
		}
		if (s->prev)
			s->prev->next_sub = s->next_sub;
		else
			hub->subs = s->next_sub;
		if (s->next_sub)
			s->next_sub->prev = s->prev;
		hub->count--;
		if (hub->count == 0)
			loop_trim_memory_soon(hub->d);
	}
	for (size_t i = 0; i < s->ntopics; i++)
		free(s->topics[i]);
	free(s->topics);
	free(s->ns);
	free(s);
}

static const struct http_stream_ops sub_ops = {
	.fill = sub_fill,
	.closed = sub_closed,
};

/* On every published event: wake the subscribers that want it; give a
 * subscriber that has fallen out of the ring a short time to drain. */
static void on_event(const struct event_rec *rec, json_t *payload, void *data)
{
	struct sse_hub *hub = data;
	uint64_t oldest = events_oldest(hub->d->events);
	for (struct sse_sub *s = hub->subs; s; s = s->next_sub) {
		if (s->next < oldest) {
			if (!s->stalled_timeout_set) {
				s->stalled_timeout_set = true;
				http_stream_set_timeout(s->stream, STALLED_TIMEOUT);
			}
			http_stream_wake(s->stream);
		} else if (sub_wants(s, rec->ns, rec->topic)) {
			http_stream_wake(s->stream);
		}
	}
}

static void heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sse_hub *hub = arg;
	for (struct sse_sub *s = hub->subs; s; s = s->next_sub) {
		s->heartbeat_due = true;
		http_stream_wake(s->stream);
	}
}

struct sse_hub *sse_hub_new(struct daemon *d)
{
	struct sse_hub *hub = xzalloc(sizeof(*hub));
	hub->d = d;
	hub->exchange_handle = events_subscribe(d->events, on_event, hub);
	hub->heartbeat = event_new(d->base, -1, EV_PERSIST, heartbeat_cb, hub);
	double iv = d->cfg.sse_heartbeat_interval;
	struct timeval tv = { (time_t)iv, (suseconds_t)((iv - (double)(time_t)iv) * 1e6) };
	event_add(hub->heartbeat, &tv);
	return hub;
}

void sse_hub_free(struct sse_hub *hub)
{
	if (!hub)
		return;
	event_free(hub->heartbeat);
	events_unsubscribe(hub->d->events, hub->exchange_handle);
	/* streams still open belong to MHD: detach them from the hub */
	for (struct sse_sub *s = hub->subs; s; s = s->next_sub)
		s->hub = NULL;
	free(hub);
}

void sse_hub_close_all(struct sse_hub *hub)
{
	for (struct sse_sub *s = hub->subs; s; s = s->next_sub) {
		s->closing = true;
		http_stream_wake(s->stream);
	}
}

int sse_subscribe(struct sse_hub *hub, struct request *r, bool have_since, uint64_t since,
		  const struct sse_filter *f, err_t *err)
{
	struct daemon *d = hub->d;
	if (hub->count >= d->cfg.sse_max_subscribers)
		return make_error(err, E_UNAVAILABLE, 0,
				  "too many event subscribers (%llu); try again later",
				  (unsigned long long)d->cfg.sse_max_subscribers);
	struct sse_sub *s = xzalloc(sizeof(*s));
	s->hub = hub;
	uint64_t head = events_head(d->events), oldest = events_oldest(d->events);
	if (!have_since || since >= head) {
		s->next = head + 1;
	} else {
		s->next = since + 1;
		if (s->next < oldest) {
			if (since != 0)
				s->gap = oldest - s->next;
			s->next = oldest;
		}
	}
	s->ns = f && f->ns ? xstrdup(f->ns) : NULL;
	if (f && f->ntopics) {
		s->topics = xcalloc(f->ntopics, sizeof(*s->topics));
		for (size_t i = 0; i < f->ntopics; i++)
			s->topics[i] = xstrdup(f->topics[i]);
		s->ntopics = f->ntopics;
	}
	s->next_sub = hub->subs;
	if (hub->subs)
		hub->subs->prev = s;
	hub->subs = s;
	hub->count++;
	static const char *const headers[] = { "X-Accel-Buffering", "no", NULL };
	s->stream = reply_stream(r, 200, "text/event-stream", headers, &sub_ops, s);
	return 0;
}

size_t sse_subscriber_count(const struct sse_hub *hub)
{
	return hub ? hub->count : 0;
}

uint64_t sse_dropped_total(const struct sse_hub *hub)
{
	return hub ? hub->dropped : 0;
}
