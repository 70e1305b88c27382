#include "config.h"

#include <string.h>

#include "events/events.h"
#include "metadata/store.h"

struct subscriber {
	events_cb cb;
	void *data;
	bool removed;
};

struct events {
	struct event_rec *ring;
	size_t size;
	uint64_t first_seq; /* id of the first event of this run */
	uint64_t next_seq;  /* id the next event gets */
	uint64_t oldest;    /* id of the oldest event still held */
	size_t bytes;       /* memory the held events take */
	size_t max_bytes;   /* 0: no cap beyond the count */
	struct subscriber **subs;
	size_t nsubs, subs_alloc;
	int publishing; /* depth: unsubscribe during publish only marks */
};

struct events *events_new(size_t ring_size, uint64_t first_seq)
{
	struct events *ev = xzalloc(sizeof(*ev));
	ev->size = ring_size ? ring_size : 1;
	ev->ring = xcalloc(ev->size, sizeof(*ev->ring));
	ev->first_seq = ev->next_seq = ev->oldest = first_seq ? first_seq : 1;
	return ev;
}

void events_set_max_bytes(struct events *ev, size_t max_bytes)
{
	ev->max_bytes = max_bytes;
}

size_t events_bytes(const struct events *ev)
{
	return ev->bytes;
}

/* What a held event costs: its frame, its strings, the allocator's share. */
static size_t rec_bytes(const struct event_rec *r)
{
	if (!r->frame)
		return 0;
	return r->frame_len + strlen(r->ns) + strlen(r->topic) + 3 * 16;
}

static void rec_release(struct event_rec *r)
{
	free(r->ns);
	free(r->topic);
	free(r->frame);
	memset(r, 0, sizeof(*r));
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	for (size_t i = 0; i < ev->size; i++)
		rec_release(&ev->ring[i]);
	for (size_t i = 0; i < ev->nsubs; i++)
		free(ev->subs[i]);
	free(ev->subs);
	free(ev->ring);
	free(ev);
}

int events_seq_start(struct daemon *d, uint64_t *first_seq, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(d->store, true, &txn, err) < 0)
		return -1;
	uint64_t start = (uint64_t)(time_now_ns() / 1000);
	uint64_t prev;
	err_t e = NULL;
	if (store_get_u64(d->store, txn, BUCKET_META, NULL, "events_seq_floor", &prev, &e) == 0 &&
	    prev >= start)
		start = prev + 1;
	err_free(&e);
	if (store_put_u64(d->store, txn, BUCKET_META, NULL, "events_seq_floor", start, err) < 0 ||
	    store_txn_commit(&txn, err) < 0)
		return -1;
	*first_seq = start;
	return 0;
}

json_t *events_envelope(int64_t ts_ns, const char *ns, const char *topic, json_t *payload)
{
	char ts[40];
	time_format_rfc3339(ts_ns, ts);
	return json_pack("{s:s,s:s,s:s,s:O}", "timestamp", ts, "namespace", ns ? ns : "",
			 "topic", topic, "event", payload);
}

uint64_t events_publish(struct events *ev, const char *ns, const char *topic, json_t *payload)
{
	if (!payload)
		payload = json_object();
	uint64_t seq = ev->next_seq++;
	struct event_rec *r = &ev->ring[seq % ev->size];
	ev->bytes -= rec_bytes(r);
	rec_release(r);
	if (seq >= ev->oldest + ev->size)
		ev->oldest = seq - ev->size + 1; /* the slot's event was the oldest */
	r->seq = seq;
	r->timestamp_ns = time_now_ns();
	r->ns = xstrdup(ns ? ns : "");
	r->topic = xstrdup(topic);
	json_t *env = events_envelope(r->timestamp_ns, ns, topic, payload);
	size_t dlen;
	cleanup_free char *data = json_dump_compact(env, &dlen);
	json_decref(env);
	struct buf f = BUF_INIT;
	buf_addf(&f, "id: %llu\nevent: %s\ndata: ", (unsigned long long)seq, topic);
	buf_add(&f, data, dlen);
	buf_add(&f, "\n\n", 2);
	r->frame = buf_detach(&f, &r->frame_len);
	ev->bytes += rec_bytes(r);
	/* over the byte cap: the oldest go first; the newest always stays */
	while (ev->max_bytes && ev->bytes > ev->max_bytes && ev->oldest < seq) {
		struct event_rec *o = &ev->ring[ev->oldest % ev->size];
		ev->bytes -= rec_bytes(o);
		rec_release(o);
		ev->oldest++;
	}

	ev->publishing++;
	for (size_t i = 0; i < ev->nsubs; i++)
		if (!ev->subs[i]->removed)
			ev->subs[i]->cb(r, payload, ev->subs[i]->data);
	if (--ev->publishing == 0) {
		size_t o = 0;
		for (size_t i = 0; i < ev->nsubs; i++) {
			if (ev->subs[i]->removed)
				free(ev->subs[i]);
			else
				ev->subs[o++] = ev->subs[i];
		}
		ev->nsubs = o;
	}
	json_decref(payload);
	return seq;
}

void *events_subscribe(struct events *ev, events_cb cb, void *data)
{
	struct subscriber *s = xzalloc(sizeof(*s));
	s->cb = cb;
	s->data = data;
	ALLOC_GROW(ev->subs, ev->nsubs + 1, ev->subs_alloc);
	ev->subs[ev->nsubs++] = s;
	return s;
}

void events_unsubscribe(struct events *ev, void *handle)
{
	for (size_t i = 0; i < ev->nsubs; i++) {
		if (ev->subs[i] != handle)
			continue;
		if (ev->publishing) {
			ev->subs[i]->removed = true;
		} else {
			free(ev->subs[i]);
			memmove(&ev->subs[i], &ev->subs[i + 1],
				(ev->nsubs - i - 1) * sizeof(*ev->subs));
			ev->nsubs--;
		}
		return;
	}
}

uint64_t events_head(const struct events *ev)
{
	return ev->next_seq - 1;
}

uint64_t events_oldest(const struct events *ev)
{
	return ev->oldest;
}

const struct event_rec *events_get(const struct events *ev, uint64_t seq)
{
	if (seq < events_oldest(ev) || seq >= ev->next_seq)
		return NULL;
	return &ev->ring[seq % ev->size];
}

size_t events_ring_size(const struct events *ev)
{
	return ev->size;
}

uint64_t events_published_total(const struct events *ev)
{
	return ev->next_seq - ev->first_seq;
}
