#include "config.h"

#include <string.h>

#include <event2/event.h>

#include "containers/containers.h"
#include "content/content.h"
#include "core/log.h"
#include "events/events.h"
#include "gc/gc.h"
#include "leases/leases.h"
#include "metadata/store.h"
#include "snapshots/snapshots.h"

/* Blob files removed per loop step. */
#define FILES_PER_STEP 32

enum gc_phase {
	GC_IDLE = 0,   /* nothing running */
	GC_NAMESPACES, /* marking and sweeping one namespace per step */
	GC_FILES,      /* removing blob files no namespace holds, a batch per step */
};

struct waiter {
	gc_done_cb cb;
	void *data;
	bool started; /* registered before the running collection began */
};

struct gc {
	struct daemon *d;
	enum gc_phase phase;
	struct event *step;     /* the next step of a running collection */
	struct event *delay;    /* gc_schedule's debounce */
	struct event *interval; /* the periodic collection */
	bool again;             /* asked for while running: run once more */
	/* the running collection */
	char **namespaces;
	size_t nns, ns_next;
	char **candidates; /* digests whose last record was removed */
	size_t ncand, cand_alloc, cand_next;
	uint64_t removed_content, removed_files, removed_leases, removed_snapshots;
	int64_t started_ns;
	struct waiter *waiters;
	size_t nwaiters, waiters_alloc;
};

static void step_cb(evutil_socket_t fd, short what, void *arg);

static void free_lists(struct gc *gc)
{
	for (size_t i = 0; i < gc->nns; i++)
		free(gc->namespaces[i]);
	free(gc->namespaces);
	gc->namespaces = NULL;
	gc->nns = gc->ns_next = 0;
	for (size_t i = 0; i < gc->ncand; i++)
		free(gc->candidates[i]);
	free(gc->candidates);
	gc->candidates = NULL;
	gc->ncand = gc->cand_alloc = gc->cand_next = 0;
}

static void add_candidate(struct gc *gc, const char *digest)
{
	ALLOC_GROW(gc->candidates, gc->ncand + 1, gc->cand_alloc);
	gc->candidates[gc->ncand++] = xstrdup(digest);
}

static int ns_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct gc *gc = data;
	gc->namespaces = xrealloc(gc->namespaces, (gc->nns + 1) * sizeof(*gc->namespaces));
	gc->namespaces[gc->nns++] = xstrdup(key);
	return 0;
}

static void start(struct gc *gc)
{
	err_t err = NULL;
	cleanup_txn MDB_txn *txn = NULL;
	gc->phase = GC_NAMESPACES;
	gc->started_ns = time_mono_ns();
	gc->removed_content = gc->removed_files = gc->removed_leases = 0;
	gc->removed_snapshots = 0;
	for (size_t i = 0; i < gc->nwaiters; i++)
		gc->waiters[i].started = true;
	if (store_txn_begin(gc->d->store, false, &txn, &err) < 0 ||
	    store_foreach(gc->d->store, txn, BUCKET_NAMESPACES, NULL, ns_cb, gc, &err) < 0) {
		log_error("garbage collection could not list namespaces", "err=%s", err->msg);
		err_free(&err);
	}
	event_active(gc->step, EV_TIMEOUT, 0);
}

/* ---- one namespace: mark from the roots, sweep the rest ------------------ */

struct mark {
	json_t *marked;  /* object: digest → true */
	json_t *records; /* object: digest → content record */
	json_t *queue;   /* array of digests to visit */
	int64_t now;
	struct gc *gc;
	const char *ns;
	MDB_txn *txn;
	json_t *expired_leases; /* array of ids */
	json_t *snapshot_roots; /* object: "<snapshotter>/<name>" → true */
};

static void mark(struct mark *m, const char *digest)
{
	if (!digest || json_object_get(m->marked, digest))
		return;
	json_object_set_new(m->marked, digest, json_true());
	json_array_append_new(m->queue, json_string(digest));
}

static void snapshot_root(struct mark *m, const char *snapshotter, const char *name)
{
	cleanup_free char *k = xasprintf("%s/%s", snapshotter, name);
	json_object_set_new(m->snapshot_roots, k, json_true());
}

static int content_rec_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct mark *m = data;
	json_object_set(m->records, key, val);
	json_t *labels = json_object_get(val, "labels");
	if (json_object_get(labels, GC_ROOT_LABEL))
		mark(m, key);
	return 0;
}

static int image_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct mark *m = data;
	mark(m, json_get_string(json_object_get(val, "target"), "digest"));
	return 0;
}

static void container_content(void *arg, const char *digest)
{
	mark(arg, digest);
}

static void container_snapshot(void *arg, const char *snapshotter, const char *key)
{
	snapshot_root(arg, snapshotter, key);
}

static int lease_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct mark *m = data;
	if (lease_expired(val, m->now)) {
		json_array_append_new(m->expired_leases, json_string(key));
		return 0;
	}
	size_t i;
	json_t *r;
	json_array_foreach (json_object_get(val, "resources"), i, r) {
		const char *type = json_get_string(r, "type");
		const char *rid = json_get_string(r, "id");
		if (type && strcmp(type, "content") == 0)
			mark(m, rid);
		else if (type && rid && strncmp(type, "snapshots/", 10) == 0)
			snapshot_root(m, type + 10, rid);
	}
	return 0;
}

static void collect_namespace(struct gc *gc, const char *ns)
{
	err_t err = NULL;
	struct daemon *d = gc->d;
	cleanup_txn MDB_txn *txn = NULL;
	struct mark m = { json_object(), json_object(), json_array(), time_now_ns(), gc, ns,
			  NULL, json_array(), json_object() };
	json_t *removed = json_array();
	json_t *removed_snapshots = json_array();
	if (store_txn_begin(d->store, true, &txn, &err) < 0)
		goto out;
	m.txn = txn;
	if (store_foreach(d->store, txn, BUCKET_CONTENT, ns, content_rec_cb, &m, &err) < 0 ||
	    store_foreach(d->store, txn, BUCKET_IMAGES, ns, image_cb, &m, &err) < 0 ||
	    store_foreach(d->store, txn, BUCKET_LEASES, ns, lease_cb, &m, &err) < 0 ||
	    containers_gc_mark(d, txn, ns, container_content, container_snapshot, &m, &err) < 0)
		goto out;
	/* follow gc.ref labels */
	for (size_t i = 0; i < json_array_size(m.queue); i++) {
		const char *dg = json_string_value(json_array_get(m.queue, i));
		json_t *labels = json_object_get(json_object_get(m.records, dg), "labels");
		const char *k;
		json_t *v;
		json_object_foreach (labels, k, v) {
			if (strncmp(k, GC_REF_CONTENT_PREFIX, strlen(GC_REF_CONTENT_PREFIX)) == 0 &&
			    json_is_string(v))
				mark(&m, json_string_value(v));
			/* containerd.io/gc.ref.snapshot.<snapshotter>=<name> */
			if (strncmp(k, GC_REF_SNAPSHOT_PREFIX, strlen(GC_REF_SNAPSHOT_PREFIX)) == 0 &&
			    json_is_string(v))
				snapshot_root(&m, k + strlen(GC_REF_SNAPSHOT_PREFIX),
					      json_string_value(v));
		}
	}
	/* sweep */
	size_t i;
	json_t *idj;
	json_array_foreach (m.expired_leases, i, idj) {
		if (store_del(d->store, txn, BUCKET_LEASES, ns, json_string_value(idj), &err) < 0)
			goto out;
	}
	const char *dg;
	json_t *rec;
	json_object_foreach (m.records, dg, rec) {
		if (json_object_get(m.marked, dg))
			continue;
		if (store_del(d->store, txn, BUCKET_CONTENT, ns, dg, &err) < 0)
			goto out;
		json_array_append_new(removed, json_string(dg));
	}
	if (d->snapshots &&
	    snapshots_gc_sweep(d, txn, ns, m.snapshot_roots, removed_snapshots, &err) < 0)
		goto out;
	if (store_txn_commit(&txn, &err) < 0)
		goto out;
	gc->removed_snapshots += json_array_size(removed_snapshots);
	snapshots_gc_removed(d, ns, removed_snapshots);
	gc->removed_leases += json_array_size(m.expired_leases);
	gc->removed_content += json_array_size(removed);
	json_array_foreach (removed, i, idj) {
		const char *digest = json_string_value(idj);
		events_publish(d->events, ns, "/content/delete", json_pack("{s:s}", "digest", digest));
		add_candidate(gc, digest);
	}
out:
	if (err) {
		log_error("garbage collection of a namespace failed", "namespace=%s err=%s", ns,
			  err->msg);
		err_free(&err);
	}
	json_decref(removed);
	json_decref(removed_snapshots);
	json_decref(m.snapshot_roots);
	json_decref(m.marked);
	json_decref(m.records);
	json_decref(m.queue);
	json_decref(m.expired_leases);
}

/* ---- files ---------------------------------------------------------------- */

/* Also sweep blobs on disk that no namespace holds although nothing was
 * removed now (a crash between a record's removal and its file's). */
static int blob_cb(const char *key, json_t *val, void *data, err_t *err)
{
	add_candidate(data, key);
	return 0;
}

static void finish(struct gc *gc)
{
	double ms = (double)(time_mono_ns() - gc->started_ns) / 1e6;
	log_info("garbage collection done",
		 "content=%llu files=%llu leases=%llu snapshots=%llu duration_ms=%.1f",
		 (unsigned long long)gc->removed_content, (unsigned long long)gc->removed_files,
		 (unsigned long long)gc->removed_leases, (unsigned long long)gc->removed_snapshots,
		 ms);
	cleanup_json json_t *result = json_pack(
		"{s:{s:I,s:I,s:I},s:f}", "removed", "content", (json_int_t)gc->removed_content,
		"snapshots", (json_int_t)gc->removed_snapshots, "leases", (json_int_t)gc->removed_leases, "duration_ms",
		ms);
	free_lists(gc);
	gc->phase = GC_IDLE;
	/* answer the waiters whose request came before this run started */
	size_t o = 0;
	struct waiter *done = xcalloc(gc->nwaiters + 1, sizeof(*done));
	size_t ndone = 0;
	for (size_t i = 0; i < gc->nwaiters; i++) {
		if (gc->waiters[i].started)
			done[ndone++] = gc->waiters[i];
		else
			gc->waiters[o++] = gc->waiters[i];
	}
	gc->nwaiters = o;
	for (size_t i = 0; i < ndone; i++)
		done[i].cb(done[i].data, result, NULL);
	free(done);
	if (gc->again || gc->nwaiters) {
		gc->again = false;
		start(gc);
	}
}

static void step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gc *gc = arg;
	err_t err = NULL;
	switch (gc->phase) {
	case GC_NAMESPACES:
		if (gc->ns_next < gc->nns) {
			collect_namespace(gc, gc->namespaces[gc->ns_next++]);
		} else {
			cleanup_txn MDB_txn *txn = NULL;
			/* a fresh list of every blob: the candidates above are in it */
			for (size_t i = 0; i < gc->ncand; i++)
				free(gc->candidates[i]);
			gc->ncand = 0;
			if (store_txn_begin(gc->d->store, false, &txn, &err) < 0 ||
			    store_foreach(gc->d->store, txn, BUCKET_BLOBS, NULL, blob_cb, gc,
					  &err) < 0) {
				log_error("garbage collection could not list blobs", "err=%s",
					  err->msg);
				err_free(&err);
			}
			gc->phase = GC_FILES;
			/* snapshot directories without records: one readdir per
			 * snapshotter, removals in workers */
			if (gc->d->snapshots)
				snapshots_cleanup_orphans(gc->d);
		}
		break;
	case GC_FILES:
		for (int n = 0; n < FILES_PER_STEP && gc->cand_next < gc->ncand; n++) {
			int r = content_remove_unreferenced(gc->d->content,
							    gc->candidates[gc->cand_next++], &err);
			if (r > 0)
				gc->removed_files++;
			if (r < 0) {
				log_error("garbage collection could not remove a blob", "err=%s",
					  err->msg);
				err_free(&err);
			}
		}
		if (gc->cand_next >= gc->ncand) {
			finish(gc);
			return;
		}
		break;
	case GC_IDLE:
		return;
	}
	event_active(gc->step, EV_TIMEOUT, 0);
}

static void delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gc *gc = arg;
	if (gc->phase != GC_IDLE)
		gc->again = true;
	else
		start(gc);
}

struct gc *gc_new(struct daemon *d)
{
	struct gc *gc = xzalloc(sizeof(*gc));
	gc->d = d;
	gc->step = event_new(d->base, -1, 0, step_cb, gc);
	gc->delay = evtimer_new(d->base, delay_cb, gc);
	gc->interval = event_new(d->base, -1, EV_PERSIST, delay_cb, gc);
	double iv = d->cfg.gc_interval;
	struct timeval tv = { (time_t)iv, (suseconds_t)((iv - (double)(time_t)iv) * 1e6) };
	event_add(gc->interval, &tv);
	return gc;
}

void gc_free(struct gc *gc)
{
	if (!gc)
		return;
	event_free(gc->step);
	event_free(gc->delay);
	event_free(gc->interval);
	free_lists(gc);
	free(gc->waiters);
	free(gc);
}

void gc_schedule(struct gc *gc)
{
	if (evtimer_pending(gc->delay, NULL))
		return;
	double dl = gc->d->cfg.gc_delay;
	struct timeval tv = { (time_t)dl, (suseconds_t)((dl - (double)(time_t)dl) * 1e6) };
	evtimer_add(gc->delay, &tv);
}

void gc_run(struct gc *gc, gc_done_cb cb, void *data)
{
	ALLOC_GROW(gc->waiters, gc->nwaiters + 1, gc->waiters_alloc);
	gc->waiters[gc->nwaiters++] = (struct waiter){ cb, data, false };
	if (gc->phase == GC_IDLE)
		start(gc);
	else
		gc->again = true;
}

void gc_cancel(struct gc *gc, gc_done_cb cb, void *data)
{
	size_t o = 0;
	for (size_t i = 0; i < gc->nwaiters; i++)
		if (gc->waiters[i].cb != cb || gc->waiters[i].data != data)
			gc->waiters[o++] = gc->waiters[i];
	gc->nwaiters = o;
}
