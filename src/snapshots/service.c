/* snapshots/service: start-up and shutdown of the snapshots service, the
 * snapshotter list, and its part of garbage collection. */
#include "config.h"

#include <string.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/plugin.h"
#include "events/events.h"
#include "gc/gc.h"
#include "metadata/store.h"
#include "snapshots/internal.h"

#define PLUGIN_TYPE "io.berth.snapshotter.v1"

int snapshots_open(struct daemon *d, err_t *err)
{
	struct snapshots *ss = xzalloc(sizeof(*ss));
	ss->d = d;
	const struct snapshotter_ops *all[] = {&overlayfs_ops, &native_ops};
	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		struct snapshotter *s = &ss->sns[ss->nsns];
		if (snapshotter_init(s, d, all[i], err) < 0) {
			plugin_set_status(PLUGIN_TYPE, all[i]->name, PLUGIN_ERROR, (*err)->msg);
			for (size_t j = 0; j < ss->nsns; j++)
				snapshotter_release(&ss->sns[j]);
			free(ss);
			return -1;
		}
		ss->nsns++;
		plugin_set_status(PLUGIN_TYPE, s->name, s->usable ? PLUGIN_OK : PLUGIN_ERROR,
				  s->error);
	}
	d->snapshots = ss;
	snapshots_cleanup_orphans(d);
	return 0;
}

void snapshots_free(struct daemon *d)
{
	struct snapshots *ss = d->snapshots;
	if (!ss)
		return;
	while (ss->npending) {
		struct pending *p = ss->pending[0];
		if (p->w) {
			sworker_kill(p->w);
			p->w = NULL;
		}
		if (p->cb) {
			err_free(&p->err);
			make_error(&p->err, E_UNAVAILABLE, 0, "berthd is shutting down");
		}
		pending_answer(p);
	}
	while (ss->nusages) {
		struct usage_req *u = ss->usages[0];
		sworker_kill(u->w);
		usage_req_free(u);
	}
	for (size_t i = 0; i < ss->nsns; i++)
		snapshotter_release(&ss->sns[i]);
	free(ss->pending);
	free(ss->usages);
	free(ss);
	d->snapshots = NULL;
}

const char *snapshots_default(struct daemon *d)
{
	return d->cfg.snapshotter ? d->cfg.snapshotter : "overlayfs";
}

json_t *snapshots_snapshotters(struct daemon *d)
{
	struct snapshots *ss = d->snapshots;
	json_t *out = json_array();
	for (size_t i = 0; i < ss->nsns; i++) {
		struct snapshotter *s = &ss->sns[i];
		json_t *o = json_pack("{s:s,s:b,s:s}", "name", s->name, "default",
				      strcmp(s->name, snapshots_default(d)) == 0, "status",
				      s->usable ? "ok" : "error");
		if (s->error)
			json_object_set_new(o, "error", json_string(s->error));
		json_array_append_new(out, o);
	}
	return out;
}

/* ---- garbage collection -------------------------------------------------------- */

struct gc_ctx {
	json_t *records; /* "<sn>/<name>" → record */
	json_t *marked;
};

static int gc_rec_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct gc_ctx *c = data;
	json_object_set(c->records, key, val);
	return 0;
}

/* Mark "<sn>/<name>" and its parent chain. */
static void gc_mark(struct gc_ctx *c, const char *full)
{
	cleanup_free char *cur = xstrdup(full);
	while (cur && !json_object_get(c->marked, cur)) {
		json_t *rec = json_object_get(c->records, cur);
		if (!rec)
			return;
		json_object_set_new(c->marked, cur, json_true());
		const char *parent = json_get_string(rec, "parent");
		char *next = NULL;
		if (parent) {
			const char *slash = strchr(cur, '/');
			next = xasprintf("%.*s/%s", (int)(slash - cur), cur, parent);
		}
		free(cur);
		cur = next;
	}
}

int snapshots_gc_sweep(struct daemon *d, MDB_txn *txn, const char *ns, json_t *roots,
		       json_t *removed, err_t *err)
{
	struct snapshots *ss = d->snapshots;
	struct gc_ctx c = {json_object(), json_object()};
	int rc = -1;
	if (store_foreach(d->store, txn, BUCKET_SNAPSHOTS, ns, gc_rec_cb, &c, err) < 0)
		goto out;
	const char *k;
	json_t *v;
	json_object_foreach(roots, k, v)
		gc_mark(&c, k);
	json_object_foreach(c.records, k, v) {
		if (rec_kind(v) != SNAPSHOT_COMMITTED ||
		    json_object_get(json_object_get(v, "labels"), GC_ROOT_LABEL))
			gc_mark(&c, k);
	}
	for (size_t i = 0; ss && i < ss->npending; i++) {
		struct pending *p = ss->pending[i];
		if (p->parent && strcmp(p->ns, ns) == 0) {
			cleanup_free char *full = xasprintf("%s/%s", p->sn_name, p->parent);
			gc_mark(&c, full);
		}
	}
	json_object_foreach(c.records, k, v) {
		if (json_object_get(c.marked, k))
			continue;
		if (store_del(d->store, txn, BUCKET_SNAPSHOTS, ns, k, err) < 0)
			goto out;
		const char *slash = strchr(k, '/');
		if (!slash)
			continue;
		json_array_append_new(removed, json_pack("{s:s%,s:s,s:I}", "snapshotter", k,
							 (size_t)(slash - k), "name", slash + 1,
							 "id", (json_int_t)rec_id(v)));
	}
	rc = 0;
out:
	json_decref(c.records);
	json_decref(c.marked);
	return rc;
}

void snapshots_gc_removed(struct daemon *d, const char *ns, json_t *removed)
{
	size_t i;
	json_t *r;
	json_array_foreach(removed, i, r) {
		const char *sn_name = json_get_string(r, "snapshotter");
		err_t err = NULL;
		struct snapshotter *sn = find_sn(d, sn_name, &err);
		if (sn && snapshotter_remove(sn, rec_id(r), &err) < 0)
			sn = NULL;
		if (err) {
			log_warn("snapshot directory left for the orphan cleanup", "err=\"%s\"",
				 err->msg);
			err_free(&err);
		}
		events_publish(d->events, ns, "/snapshot/remove",
			       json_pack("{s:s,s:s}", "key", json_get_string(r, "name"),
					 "snapshotter", sn_name));
	}
}

struct live_ctx {
	struct snapshots *ss;
	MDB_txn *txn;
	uint64_t *ids[2];
	size_t n[2], alloc[2];
};

static int live_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct live_ctx *c = data;
	for (size_t i = 0; i < c->ss->nsns; i++) {
		size_t l = strlen(c->ss->sns[i].name);
		if (strncmp(key, c->ss->sns[i].name, l) == 0 && key[l] == '/') {
			ALLOC_GROW(c->ids[i], c->n[i] + 1, c->alloc[i]);
			c->ids[i][c->n[i]++] = rec_id(val);
		}
	}
	return 0;
}

static int ns_live_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct live_ctx *c = data;
	return store_foreach(c->ss->d->store, c->txn, BUCKET_SNAPSHOTS, key, live_cb, c, err);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void snapshots_cleanup_orphans(struct daemon *d)
{
	struct snapshots *ss = d->snapshots;
	struct live_ctx c = {ss};
	err_t err = NULL;
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(d->store, false, &txn, &err) < 0 ||
	    (c.txn = txn,
	     store_foreach(d->store, txn, BUCKET_NAMESPACES, NULL, ns_live_cb, &c, &err)) < 0) {
		log_error("orphan cleanup could not list snapshots", "err=\"%s\"", err->msg);
		err_free(&err);
	} else {
		for (size_t i = 0; i < ss->nsns; i++) {
			if (c.n[i])
				qsort(c.ids[i], c.n[i], sizeof(uint64_t), cmp_u64);
			snapshotter_cleanup(&ss->sns[i], c.ids[i], c.n[i]);
		}
	}
	for (size_t i = 0; i < 2; i++)
		free(c.ids[i]);
}
