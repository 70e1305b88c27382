#include "config.h"

#include <string.h>

#include "api/request.h"
#include "core/names.h"
#include "events/events.h"
#include "events/http.h"
#include "events/sse.h"

/* GET /v1/events: SSE stream, ?namespace= ?topic= (prefix, repeatable)
 * ?since= or Last-Event-ID (which wins: EventSource resends the URL too). */
static void events_sse(struct request *r)
{
	err_t err = NULL;
	static const char *const allowed[] = { "namespace", "topic", "since", NULL };
	if (request_check_query(r, allowed, &err) < 0)
		return reply_error(r, &err);
	struct sse_filter f = { 0 };
	f.ns = request_query(r, "namespace");
	if (f.ns && name_validate_namespace(f.ns, &err) < 0)
		return reply_error(r, &err);
	cleanup_free const char **topics = NULL;
	f.ntopics = request_query_all(r, "topic", &topics);
	f.topics = topics;
	for (size_t i = 0; i < f.ntopics; i++)
		if (topics[i][0] != '/')
			return reply_errorf(r, E_INVALID_ARGUMENT,
					    "topic filter `%s` must start with `/`", topics[i]);
	const char *since_s = request_header(r, "Last-Event-ID");
	const char *src = "Last-Event-ID";
	if (!since_s || !*since_s) {
		since_s = request_query(r, "since");
		src = "since";
	}
	uint64_t since = 0;
	bool have_since = since_s != NULL;
	if (have_since && !parse_u64(since_s, &since))
		return reply_errorf(r, E_INVALID_ARGUMENT,
				    "%s `%.64s` is not an event id (a non-negative integer)", src,
				    since_s);
	if (sse_subscribe(r->d->sse, r, have_since, since, &f, &err) < 0)
		return reply_error(r, &err);
}

/* POST /v1/events: publish {"namespace","topic","event"} as containerd's Publish. */
static void events_post(struct request *r)
{
	err_t err = NULL;
	static const struct json_field fields[] = {
		{ "namespace", JF_STRING, true },
		{ "topic", JF_STRING, true },
		{ "event", JF_OBJECT, false },
		{ NULL },
	};
	static const char *const no_query[] = { NULL };
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	cleanup_json json_t *body = request_json(r, &err);
	if (!body || json_check_object(body, "request body", fields, &err) < 0)
		return reply_error(r, &err);
	const char *ns = json_get_string(body, "namespace");
	const char *topic = json_get_string(body, "topic");
	if (name_validate_namespace(ns, &err) < 0 || name_validate_topic(topic, &err) < 0)
		return reply_error(r, &err);
	json_t *payload = json_object_get(body, "event");
	payload = payload && !json_is_null(payload) ? json_incref(payload) : json_object();
	uint64_t id = events_publish(r->d->events, ns, topic, payload);
	const struct event_rec *rec = events_get(r->d->events, id);
	char ts[40];
	time_format_rfc3339(rec->timestamp_ns, ts);
	reply_json(r, 201,
		   json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)id, "timestamp", ts,
			     "namespace", ns, "topic", topic));
}

const struct route events_routes[] = {
	{ M_GET, "/v1/events", events_sse },
	{ M_POST, "/v1/events", events_post },
	{ 0, NULL },
};
