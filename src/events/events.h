/*
 * events: the exchange every service publishes to (containerd's events
 * service). Each event gets the next id of a sequence that keeps growing
 * across restarts, is stored in a bounded ring for replay, and is handed to
 * the internal subscribers at once. The ring keeps each event pre-rendered
 * as its SSE frame, so fanning it out to many clients is a copy.
 *
 * Publishing never blocks and never fails: an event that does not fit the
 * ring pushes out the oldest one.
 */
#ifndef BERTH_EVENTS_EVENTS_H
#define BERTH_EVENTS_EVENTS_H

#include "core/daemon.h"
#include "core/json.h"

struct event_rec {
	uint64_t seq;
	int64_t timestamp_ns;
	char *ns;
	char *topic;
	char *frame; /* "id: N\nevent: TOPIC\ndata: {...}\n\n" */
	size_t frame_len;
};

/* first_seq: the id the first event gets (see events_seq_start). */
struct events *events_new(size_t ring_size, uint64_t first_seq);
void events_free(struct events *ev);

/* Choose where ids start so they grow across restarts: the later of now in
 * microseconds and the previous start, stored in the metadata meta bucket. */
int events_seq_start(struct daemon *d, uint64_t *first_seq, err_t *err);

/* Publish payload (taken) under topic in namespace ns; returns its id. */
uint64_t events_publish(struct events *ev, const char *ns, const char *topic, json_t *payload);

/* The envelope as served: {"timestamp","namespace","topic","event"}. */
json_t *events_envelope(int64_t ts_ns, const char *ns, const char *topic, json_t *payload);

/* Internal subscribers run inside events_publish, in subscription order.
 * payload is borrowed. They may unsubscribe themselves. */
typedef void (*events_cb)(const struct event_rec *rec, json_t *payload, void *data);
void *events_subscribe(struct events *ev, events_cb cb, void *data);
void events_unsubscribe(struct events *ev, void *handle);

/* Replay: the id of the newest event (first_seq - 1 when none yet), the
 * oldest id still held, and the event with a given id (NULL if not held). */
uint64_t events_head(const struct events *ev);
uint64_t events_oldest(const struct events *ev);
const struct event_rec *events_get(const struct events *ev, uint64_t seq);
size_t events_ring_size(const struct events *ev);
/* Also cap the memory the ring holds (frames and strings, in bytes; 0: only
 * the count caps it): the oldest events go first, the newest always stays. */
void events_set_max_bytes(struct events *ev, size_t max_bytes);
size_t events_bytes(const struct events *ev);
uint64_t events_published_total(const struct events *ev);

#endif
