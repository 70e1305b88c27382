/* Unit tests for events/events.c: ids, ring eviction, replay lookups, subscribers. */
#include "config.h"

#include <string.h>

#include "events/events.h"
#include "tap.h"

struct seen {
	int n;
	uint64_t last;
	void *handle;
	struct events *ev;
	bool unsubscribe_self;
};

static void cb(const struct event_rec *rec, json_t *payload, void *data)
{
	struct seen *s = data;
	s->n++;
	s->last = rec->seq;
	if (s->unsubscribe_self)
		events_unsubscribe(s->ev, s->handle);
}

int main(void)
{
	plan_lazy();
	struct events *ev = events_new(4, 1000);
	is_int(events_head(ev), 999, "empty exchange: head is first-1");
	is_int(events_oldest(ev), 1000, "empty exchange: oldest is first");
	ok(events_get(ev, 1000) == NULL, "nothing held yet");

	struct seen a = { 0 }, b = { 0 };
	a.handle = events_subscribe(ev, cb, &a);
	b.ev = ev;
	b.unsubscribe_self = true;
	b.handle = events_subscribe(ev, cb, &b);

	uint64_t id = events_publish(ev, "default", "/namespaces/create",
				     json_pack("{s:s}", "name", "x"));
	is_int(id, 1000, "first id");
	is_int(a.n, 1, "subscriber called");
	is_int(b.n, 1, "self-unsubscribing subscriber called once");
	const struct event_rec *r = events_get(ev, 1000);
	ok(r && strcmp(r->topic, "/namespaces/create") == 0 && strcmp(r->ns, "default") == 0,
	   "record holds topic and namespace");
	ok(r && strncmp(r->frame, "id: 1000\nevent: /namespaces/create\ndata: {", 42) == 0,
	   "frame is pre-rendered SSE");
	ok(r && r->frame_len > 4 && strcmp(r->frame + r->frame_len - 2, "\n\n") == 0,
	   "frame ends with a blank line");
	ok(r && strstr(r->frame, "\"namespace\":\"default\"") &&
		   strstr(r->frame, "\"event\":{\"name\":\"x\"}"),
	   "frame data is the envelope");

	for (int i = 0; i < 5; i++)
		events_publish(ev, "ns2", "/test/x", NULL);
	is_int(b.n, 1, "unsubscribed subscriber is not called again");
	is_int(a.n, 6, "subscriber saw every event");
	is_int(events_head(ev), 1005, "head after six events");
	is_int(events_oldest(ev), 1002, "ring of 4 holds the last four");
	ok(events_get(ev, 1001) == NULL, "evicted event is gone");
	ok(events_get(ev, 1002) != NULL && events_get(ev, 1005) != NULL, "held events found");
	ok(events_get(ev, 1006) == NULL, "future id not found");
	is_int(events_published_total(ev), 6, "published counter");
	events_unsubscribe(ev, a.handle);
	events_free(ev);

	/* the byte cap: a ring of 100 events capped at ~2 KiB */
	ev = events_new(100, 1);
	events_set_max_bytes(ev, 2048);
	for (int i = 0; i < 50; i++)
		events_publish(ev, "default", "/test/bytes", json_pack("{s:i}", "i", i));
	ok(events_bytes(ev) <= 2048 && events_bytes(ev) > 1024, "held bytes under the cap");
	uint64_t oldest = events_oldest(ev);
	ok(oldest > 1 && oldest < 50, "the byte cap evicted the oldest events");
	ok(events_get(ev, oldest - 1) == NULL && events_get(ev, oldest) != NULL &&
		   events_get(ev, 50) != NULL,
	   "held events run from oldest to head");
	cleanup_free char *big = xmalloc(8192);
	memset(big, 'x', 8191);
	big[8191] = '\0';
	uint64_t bid = events_publish(ev, "default", "/test/big", json_pack("{s:s}", "b", big));
	is_int(events_oldest(ev), bid, "an event over the cap alone is still held (the newest stays)");
	ok(events_get(ev, bid) != NULL, "the big event is replayable");
	events_publish(ev, "default", "/test/small", NULL);
	is_int(events_oldest(ev), bid + 1, "the next event pushes it out");
	for (int i = 0; i < 300; i++)
		events_publish(ev, "default", "/test/wrap", NULL);
	ok(events_head(ev) - events_oldest(ev) < 100, "count and byte caps together after wrapping");
	events_free(ev);

	json_t *env = events_envelope(0, "n", "/t", json_object());
	ok(json_is_object(json_object_get(env, "event")) &&
		   strcmp(json_get_string(env, "timestamp"), "1970-01-01T00:00:00.000000000Z") == 0,
	   "envelope fields");
	json_decref(json_object_get(env, "event"));
	json_decref(env);
	return done_testing();
}
