#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "core/filter.h"
#include "core/log.h"
#include "core/names.h"
#include "core/plugin.h"
#include "events/events.h"
#include "gc/gc.h"
#include "leases/leases.h"
#include "metadata/store.h"
#include "namespaces/namespaces.h"
#include "snapshots/snapshots.h"
#include "snapshotters/snapshotter.h"

#define PLUGIN_TYPE "io.berth.snapshotter.v1"
#define MAX_CHAIN 1024

#include "snapshots/internal.h"

/* ---- names, records ------------------------------------------------------- */

static int check_key(const char *what, const char *k, err_t *err)
{
	size_t n = k ? strlen(k) : 0;
	if (n == 0 || n > 255)
		return make_error(err, E_INVALID_ARGUMENT, 0, "%s must be 1 to 255 characters",
				  what);
	if (!isalnum((unsigned char)k[0]))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "%s `%.64s` must start with a letter or digit", what, k);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)k[i]) && !strchr("_.:@+=/-", k[i]))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "%s `%.64s`: invalid character at %zu (letters, digits "
					  "and _.:@+=/- only)",
					  what, k, i);
	return 0;
}

struct snapshotter *find_sn(struct daemon *d, const char *name, err_t *err)
{
	struct snapshots *ss = d->snapshots;
	for (size_t i = 0; ss && name && i < ss->nsns; i++) {
		if (strcmp(ss->sns[i].name, name) != 0)
			continue;
		if (!ss->sns[i].usable) {
			make_error(err, E_UNAVAILABLE, 0, "snapshotter `%s` is unusable: %s", name,
				   ss->sns[i].error);
			return NULL;
		}
		return &ss->sns[i];
	}
	make_error(err, E_NOT_FOUND, 0, "snapshotter `%.64s` not found", name ? name : "");
	return NULL;
}

int snapshots_check_snapshotter(struct daemon *d, const char *sn, err_t *err)
{
	return find_sn(d, sn, err) ? 0 : -1;
}

static char *rec_key(const char *sn, const char *key)
{
	return xasprintf("%s/%s", sn, key);
}

static int get_rec(struct daemon *d, MDB_txn *txn, const char *ns, const char *sn, const char *key,
		   json_t **out, err_t *err)
{
	cleanup_free char *k = rec_key(sn, key);
	if (store_get_opt(d->store, txn, BUCKET_SNAPSHOTS, ns, k, out, err) < 0)
		return -1;
	if (!*out)
		return make_error(err, E_NOT_FOUND, 0, "snapshot `%s` not found", key);
	return 0;
}

enum snapshot_kind rec_kind(json_t *rec)
{
	enum snapshot_kind k = SNAPSHOT_COMMITTED;
	snapshot_kind_parse(json_get_string(rec, "kind"), &k);
	return k;
}

uint64_t rec_id(json_t *rec)
{
	return (uint64_t)json_integer_value(json_object_get(rec, "id"));
}

static json_t *to_api(const char *name, json_t *rec)
{
	json_t *labels = json_object_get(rec, "labels");
	json_t *o = json_pack("{s:s,s:s,s:O,s:O,s:o}", "name", name, "kind",
			      snapshot_kind_name(rec_kind(rec)), "created_at",
			      json_object_get(rec, "created_at"), "updated_at",
			      json_object_get(rec, "updated_at"), "labels",
			      json_is_object(labels) ? json_incref(labels) : json_object());
	const char *parent = json_get_string(rec, "parent");
	if (parent)
		json_object_set_new(o, "parent", json_string(parent));
	return o;
}

/* The directory ids of the chain from parent up (parent's id first). */
static int chain_ids(struct daemon *d, MDB_txn *txn, const char *ns, const char *sn,
		     const char *parent, uint64_t *ids, size_t *n, err_t *err)
{
	*n = 0;
	cleanup_free char *cur = parent ? xstrdup(parent) : NULL;
	while (cur) {
		if (*n >= MAX_CHAIN)
			return make_error(err, E_FAILED_PRECONDITION, 0,
					  "snapshot chain deeper than %d", MAX_CHAIN);
		cleanup_json json_t *rec = NULL;
		if (get_rec(d, txn, ns, sn, cur, &rec, err) < 0)
			return error_wrap(err, "parent chain");
		ids[(*n)++] = rec_id(rec);
		const char *p = json_get_string(rec, "parent");
		free(cur);
		cur = p ? xstrdup(p) : NULL;
	}
	return 0;
}

static json_t *mounts_of(struct daemon *d, MDB_txn *txn, const char *ns, struct snapshotter *sn,
			 json_t *rec, err_t *err)
{
	enum snapshot_kind kind = rec_kind(rec);
	if (kind == SNAPSHOT_COMMITTED) {
		make_error(err, E_FAILED_PRECONDITION, 0,
			   "a committed snapshot has no mounts: prepare or view one over it");
		return NULL;
	}
	cleanup_free uint64_t *ids = xcalloc(MAX_CHAIN, sizeof(*ids));
	size_t n = 0;
	if (chain_ids(d, txn, ns, sn->name, json_get_string(rec, "parent"), ids, &n, err) < 0)
		return NULL;
	return sn->ops->mounts(sn, rec_id(rec), kind, ids, n);
}

static void now_ts(char ts[40])
{
	time_format_rfc3339(time_now_ns(), ts);
}

/* Directory ids are never handed out twice. berthd keeps the counter in
 * memory and stores it with every record (record(), in the record's own
 * transaction: no commit of its own per snapshot). At the first use it
 * starts past the stored value and past every directory on disk, so an id
 * taken before a crash whose record never landed is not reused while its
 * directory, or the removal of it, is still there. */
static int alloc_id(struct daemon *d, struct snapshotter *sn, uint64_t *out, err_t *err)
{
	if (!sn->next_id) {
		cleanup_txn MDB_txn *txn = NULL;
		cleanup_free char *k = xasprintf("snapshots_next_id.%s", sn->name);
		uint64_t next = 1;
		if (store_txn_begin(d->store, false, &txn, err) < 0)
			return -1;
		if (store_get_u64(d->store, txn, BUCKET_META, NULL, k, &next, err) < 0) {
			if ((*err)->kind != E_NOT_FOUND)
				return -1;
			err_free(err);
		} else if (next == 0) {
			return make_error(err, E_INTERNAL, 0, "metadata `%s` is corrupt", k);
		}
		uint64_t max = snapshotter_max_dir_id(sn);
		sn->next_id = max >= next ? max + 1 : next;
	}
	*out = sn->next_id++;
	return 0;
}

/* Store sn's id counter in txn (with the record that used an id). */
static int store_next_id(struct daemon *d, MDB_txn *txn, struct snapshotter *sn, err_t *err)
{
	cleanup_free char *k = xasprintf("snapshots_next_id.%s", sn->name);
	return store_put_u64(d->store, txn, BUCKET_META, NULL, k, sn->next_id, err);
}

struct children_ctx {
	const char *prefix; /* "<sn>/" */
	const char *name;
	bool found;
};

static int children_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct children_ctx *c = data;
	const char *p = json_get_string(val, "parent");
	if (strncmp(key, c->prefix, strlen(c->prefix)) == 0 && p && strcmp(p, c->name) == 0) {
		c->found = true;
		return 1;
	}
	return 0;
}

static struct pending *pending_find(struct snapshots *ss, const char *ns, const char *sn,
				    const char *key, const char *parent)
{
	for (size_t i = 0; i < ss->npending; i++) {
		struct pending *p = ss->pending[i];
		if (strcmp(p->ns, ns) != 0 || strcmp(p->sn_name, sn) != 0)
			continue;
		if (key && strcmp(p->key, key) == 0)
			return p;
		if (parent && p->parent && strcmp(p->parent, parent) == 0)
			return p;
	}
	return NULL;
}

static int has_children(struct daemon *d, MDB_txn *txn, const char *ns, const char *sn,
			const char *name, bool *out, err_t *err)
{
	cleanup_free char *prefix = xasprintf("%s/", sn);
	struct children_ctx c = {prefix, name, false};
	if (store_foreach(d->store, txn, BUCKET_SNAPSHOTS, ns, children_cb, &c, err) < 0)
		return -1;
	*out = c.found || pending_find(d->snapshots, ns, sn, NULL, name);
	return 0;
}

/* ---- prepare, view ------------------------------------------------------------ */

void pending_free(struct pending *p)
{
	struct snapshots *ss = p->ss;
	for (size_t i = 0; i < ss->npending; i++)
		if (ss->pending[i] == p) {
			ss->pending[i] = ss->pending[--ss->npending];
			break;
		}
	if (p->sn && p->id)
		snapshotter_busy(p->sn, p->id, false);
	if (p->ev)
		event_free(p->ev);
	json_decref(p->labels);
	json_decref(p->mounts);
	err_free(&p->err);
	free(p->ns);
	free(p->sn_name);
	free(p->key);
	free(p->parent);
	free(p);
}

/* Checks before anything is created: names, the key is free, the parent
 * is committed. Fills the parent chain. */
static int check_prepare(struct daemon *d, MDB_txn *txn, const char *ns, struct snapshotter *sn,
			 const char *key, const char *parent, uint64_t *ids, size_t *n, err_t *err)
{
	cleanup_json json_t *old = NULL;
	cleanup_free char *k = rec_key(sn->name, key);
	if (store_get_opt(d->store, txn, BUCKET_SNAPSHOTS, ns, k, &old, err) < 0)
		return -1;
	if (old || pending_find(d->snapshots, ns, sn->name, key, NULL))
		return make_error(err, E_ALREADY_EXISTS, 0, "snapshot `%s` already exists", key);
	*n = 0;
	if (!parent)
		return 0;
	cleanup_json json_t *prec = NULL;
	cleanup_free char *pk = rec_key(sn->name, parent);
	if (store_get_opt(d->store, txn, BUCKET_SNAPSHOTS, ns, pk, &prec, err) < 0)
		return -1;
	if (!prec)
		return make_error(err, E_NOT_FOUND, 0, "parent snapshot `%s` not found", parent);
	if (rec_kind(prec) != SNAPSHOT_COMMITTED)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "parent `%s` is not a committed snapshot", parent);
	return chain_ids(d, txn, ns, sn->name, parent, ids, n, err);
}

/* Record the snapshot whose directory is ready; returns its mounts. */
static json_t *record(struct daemon *d, const char *ns, struct snapshotter *sn, const char *key,
		      const char *parent, bool view, json_t *labels, uint64_t id, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_free uint64_t *ids = xcalloc(MAX_CHAIN, sizeof(*ids));
	size_t n = 0;
	bool ns_created = false;
	if (store_txn_begin(d->store, true, &txn, err) < 0 ||
	    namespaces_ensure(d, txn, ns, &ns_created, err) < 0)
		return NULL;
	/* a copy may have run meanwhile: check again (our own pending entry
	 * is gone by now) */
	if (check_prepare(d, txn, ns, sn, key, parent, ids, &n, err) < 0)
		return NULL;
	char ts[40];
	now_ts(ts);
	enum snapshot_kind kind = view ? SNAPSHOT_VIEW : SNAPSHOT_ACTIVE;
	cleanup_json json_t *rec =
	    json_pack("{s:s,s:I,s:s,s:s,s:O}", "kind", snapshot_kind_name(kind), "id",
		      (json_int_t)id, "created_at", ts, "updated_at", ts, "labels", labels);
	if (parent)
		json_object_set_new(rec, "parent", json_string(parent));
	cleanup_free char *k = rec_key(sn->name, key);
	if (store_put(d->store, txn, BUCKET_SNAPSHOTS, ns, k, rec, STORE_NOOVERWRITE, err) < 0 ||
	    store_next_id(d, txn, sn, err) < 0 || store_txn_commit(&txn, err) < 0)
		return NULL;
	if (ns_created)
		namespaces_created(d, ns);
	events_publish(d->events, ns, "/snapshot/prepare",
		       json_pack("{s:s,s:s,s:s}", "key", key, "parent", parent ? parent : "",
				 "snapshotter", sn->name));
	return sn->ops->mounts(sn, id, kind, ids, n);
}

/* Everything up to the directory: validation, lease, id, create. Returns
 * 0 (directory ready), 1 (*copy_from must be copied first), -1. */
static int begin(struct daemon *d, const char *ns, const char *sn_name, const char *key,
		 const char *parent, bool view, json_t *labels, const char *lease,
		 struct snapshotter **snp, uint64_t *idp, char **copy_from, err_t *err)
{
	struct snapshotter *sn;
	if (name_validate_namespace(ns, err) < 0 || !(sn = find_sn(d, sn_name, err)) ||
	    check_key("snapshot key", key, err) < 0 ||
	    (parent && check_key("parent", parent, err) < 0) ||
	    (labels && json_check_labels(labels, "labels", false, err) < 0))
		return -1;
	cleanup_free uint64_t *ids = xcalloc(MAX_CHAIN, sizeof(*ids));
	size_t n = 0;
	{
		cleanup_txn MDB_txn *txn = NULL;
		if (store_txn_begin(d->store, false, &txn, err) < 0 ||
		    check_prepare(d, txn, ns, sn, key, parent, ids, &n, err) < 0)
			return -1;
	}
	if (lease) {
		cleanup_free char *type = xasprintf("snapshots/%s", sn->name);
		if (leases_add_resource(d, ns, lease, type, key, err) < 0)
			return -1;
	}
	uint64_t id = 0;
	if (alloc_id(d, sn, &id, err) < 0)
		return -1;
	int rc =
	    sn->ops->create(sn, id, view ? SNAPSHOT_VIEW : SNAPSHOT_ACTIVE, ids, n, copy_from, err);
	if (rc < 0) {
		err_t e2 = NULL;
		if (snapshotter_remove(sn, id, &e2) < 0)
			err_free(&e2);
		return -1;
	}
	*snp = sn;
	*idp = id;
	return rc;
}

static json_t *prepare_sync(struct daemon *d, const char *ns, const char *sn_name, const char *key,
			    const char *parent, bool view, json_t *labels, const char *lease,
			    err_t *err)
{
	struct snapshotter *sn = NULL;
	uint64_t id = 0;
	cleanup_free char *copy_from = NULL;
	cleanup_json json_t *lab = labels ? json_incref(labels) : json_object();
	if (sn_name && parent && strcmp(sn_name, "native") == 0) {
		make_error(err, E_FAILED_PRECONDITION, 0,
			   "native copies the parent's tree: use snapshots_prepare_async");
		return NULL;
	}
	int rc = begin(d, ns, sn_name, key, parent, view, lab, lease, &sn, &id, &copy_from, err);
	if (rc < 0)
		return NULL;
	if (rc > 0) {
		/* a snapshotter that copies, not listed above */
		err_t e2 = NULL;
		if (snapshotter_remove(sn, id, &e2) < 0)
			err_free(&e2);
		make_error(err, E_FAILED_PRECONDITION, 0,
			   "snapshotter `%s` copies: use snapshots_prepare_async", sn->name);
		return NULL;
	}
	json_t *m = record(d, ns, sn, key, parent, view, lab, id, err);
	if (!m) {
		err_t e2 = NULL;
		if (snapshotter_remove(sn, id, &e2) < 0)
			err_free(&e2);
	}
	return m;
}

json_t *snapshots_prepare(struct daemon *d, const char *ns, const char *sn, const char *key,
			  const char *parent, json_t *labels, const char *lease, err_t *err)
{
	return prepare_sync(d, ns, sn, key, parent, false, labels, lease, err);
}

json_t *snapshots_view(struct daemon *d, const char *ns, const char *sn, const char *key,
		       const char *parent, json_t *labels, const char *lease, err_t *err)
{
	return prepare_sync(d, ns, sn, key, parent, true, labels, lease, err);
}

/* Run the callback of a pending prepare, and free it. */
void pending_answer(struct pending *p)
{
	snapshots_prepare_cb cb = p->cb;
	void *data = p->data;
	json_t *m = json_incref(p->mounts);
	err_t e = steal_ptr(&p->err);
	pending_free(p);
	if (cb)
		cb(data, e ? NULL : m, &e);
	json_decref(m);
	err_free(&e);
}

static void pending_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	pending_answer(arg);
}

static void copy_done(int status, const char *output, void *data)
{
	struct pending *p = data;
	struct snapshots *ss = p->ss;
	p->w = NULL;
	/* out of the pending list first, so record() sees the key as free */
	for (size_t i = 0; i < ss->npending; i++)
		if (ss->pending[i] == p) {
			ss->pending[i] = ss->pending[--ss->npending];
			ss->pending[ss->npending] = NULL;
			break;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		size_t n = strlen(output);
		make_error(&p->err, E_INTERNAL, 0, "copy of the parent's tree failed: %.*s",
			   (int)(n && output[n - 1] == '\n' ? n - 1 : n), output);
	} else {
		p->mounts = record(ss->d, p->ns, p->sn, p->key, p->parent, p->view, p->labels,
				   p->id, &p->err);
	}
	if (p->err) {
		err_t e2 = NULL;
		if (snapshotter_remove(p->sn, p->id, &e2) < 0)
			err_free(&e2);
	}
	/* pending_free looks for p in the list: put it back */
	ALLOC_GROW(ss->pending, ss->npending + 1, ss->pending_alloc);
	ss->pending[ss->npending++] = p;
	pending_answer(p);
}

int snapshots_prepare_async(struct daemon *d, const char *ns, const char *sn_name, const char *key,
			    const char *parent, bool view, json_t *labels, const char *lease,
			    snapshots_prepare_cb cb, void *data, err_t *err)
{
	struct snapshots *ss = d->snapshots;
	struct snapshotter *sn = NULL;
	uint64_t id = 0;
	cleanup_free char *copy_from = NULL;
	cleanup_json json_t *lab = labels ? json_incref(labels) : json_object();
	int rc = begin(d, ns, sn_name, key, parent, view, lab, lease, &sn, &id, &copy_from, err);
	if (rc < 0)
		return -1;
	json_t *mounts = NULL;
	err_t rerr = NULL;
	if (rc == 0) {
		/* recorded now (before p is pending: the key must look free) */
		mounts = record(d, ns, sn, key, parent, view, lab, id, &rerr);
		if (!mounts) {
			err_t e2 = NULL;
			if (snapshotter_remove(sn, id, &e2) < 0)
				err_free(&e2);
		}
	}
	struct pending *p = xzalloc(sizeof(*p));
	p->ss = ss;
	p->ns = xstrdup(ns);
	p->sn_name = xstrdup(sn->name);
	p->key = xstrdup(key);
	p->parent = parent ? xstrdup(parent) : NULL;
	p->view = view;
	p->labels = json_incref(lab);
	p->sn = sn;
	p->cb = cb;
	p->data = data;
	ALLOC_GROW(ss->pending, ss->npending + 1, ss->pending_alloc);
	ss->pending[ss->npending++] = p;
	if (rc == 0) {
		p->mounts = mounts;
		p->err = rerr;
		p->ev = event_new(d->base, -1, 0, pending_ev_cb, p);
		event_active(p->ev, EV_TIMEOUT, 0);
		return 0;
	}
	p->id = id;
	snapshotter_busy(sn, id, true);
	cleanup_free char *dst = snapshotter_fs(sn, id);
	const char *argv[] = {
	    "cp", "-a", "--reflink=auto", "--no-target-directory", "--", copy_from, dst, NULL};
	p->w = sworker_spawn(d, argv, NULL, NULL, copy_done, p, err);
	if (!p->w) {
		err_t e2 = NULL;
		if (snapshotter_remove(sn, id, &e2) < 0)
			err_free(&e2);
		p->cb = NULL;
		pending_free(p);
		return -1;
	}
	return 0;
}

void snapshots_prepare_cancel(struct daemon *d, snapshots_prepare_cb cb, void *data)
{
	struct snapshots *ss = d->snapshots;
	for (size_t i = 0; i < ss->npending; i++) {
		struct pending *p = ss->pending[i];
		if (p->cb != cb || p->data != data)
			continue;
		p->cb = NULL;
		if (p->w) {
			sworker_kill(p->w);
			p->w = NULL;
			err_t e2 = NULL;
			if (snapshotter_remove(p->sn, p->id, &e2) < 0)
				err_free(&e2);
			pending_free(p);
		}
		/* a deferred answer just runs without a callback */
		return;
	}
}

/* ---- commit ----------------------------------------------------------------- */

static void cache_usage_start(struct daemon *d, const char *ns, struct snapshotter *sn,
			      const char *name, uint64_t id);

static int commit(struct daemon *d, const char *ns, const char *sn_name, const char *name,
		  const char *key, const char *reparent, json_t *labels, const char *lease,
		  err_t *err)
{
	struct snapshotter *sn;
	if (name_validate_namespace(ns, err) < 0 || !(sn = find_sn(d, sn_name, err)) ||
	    check_key("snapshot key", key, err) < 0 || check_key("name", name, err) < 0 ||
	    (labels && json_check_labels(labels, "labels", true, err) < 0))
		return -1;
	if (reparent && !sn->ops->can_reparent)
		return make_error(err, E_FAILED_PRECONDITION, 0,
				  "snapshotter `%s` cannot commit onto another parent", sn->name);
	if (reparent && check_key("parent", reparent, err) < 0)
		return -1;
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL, *old = NULL;
	if (store_txn_begin(d->store, true, &txn, err) < 0 ||
	    get_rec(d, txn, ns, sn->name, key, &rec, err) < 0)
		return -1;
	if (rec_kind(rec) != SNAPSHOT_ACTIVE)
		return make_error(err, E_FAILED_PRECONDITION, 0,
				  "snapshot `%s` is %s: only active snapshots can be committed",
				  key, snapshot_kind_name(rec_kind(rec)));
	cleanup_free char *nk = rec_key(sn->name, name);
	if (store_get_opt(d->store, txn, BUCKET_SNAPSHOTS, ns, nk, &old, err) < 0)
		return -1;
	if (old || pending_find(d->snapshots, ns, sn->name, name, NULL))
		return make_error(err, E_ALREADY_EXISTS, 0, "snapshot `%s` already exists", name);
	if (reparent) {
		if (json_get_string(rec, "parent"))
			return make_error(err, E_FAILED_PRECONDITION, 0,
					  "snapshot `%s` has a parent: only a snapshot prepared "
					  "without one can be committed onto `%s`",
					  key, reparent);
		cleanup_json json_t *prec = NULL;
		cleanup_free char *pk = rec_key(sn->name, reparent);
		if (store_get_opt(d->store, txn, BUCKET_SNAPSHOTS, ns, pk, &prec, err) < 0)
			return -1;
		if (!prec)
			return make_error(err, E_NOT_FOUND, 0, "parent snapshot `%s` not found",
					  reparent);
		if (rec_kind(prec) != SNAPSHOT_COMMITTED)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "parent `%s` is not a committed snapshot", reparent);
		json_object_set_new(rec, "parent", json_string(reparent));
	}
	if (lease) {
		cleanup_free char *type = xasprintf("snapshots/%s", sn->name);
		/* its own transaction: take ours out of the way first */
		mdb_txn_abort(txn);
		txn = NULL;
		if (leases_add_resource(d, ns, lease, type, name, err) < 0)
			return -1;
		return commit(d, ns, sn_name, name, key, reparent, labels, NULL, err);
	}
	char ts[40];
	now_ts(ts);
	json_t *have = json_object_get(rec, "labels");
	if (!json_is_object(have)) {
		have = json_object();
		json_object_set_new(rec, "labels", have);
	}
	if (labels)
		json_labels_merge(have, labels);
	json_object_set_new(rec, "kind", json_string("committed"));
	json_object_set_new(rec, "created_at", json_string(ts));
	json_object_set_new(rec, "updated_at", json_string(ts));
	cleanup_free char *kk = rec_key(sn->name, key);
	if (store_del(d->store, txn, BUCKET_SNAPSHOTS, ns, kk, err) < 0 ||
	    store_put(d->store, txn, BUCKET_SNAPSHOTS, ns, nk, rec, STORE_NOOVERWRITE, err) < 0 ||
	    store_txn_commit(&txn, err) < 0)
		return -1;
	events_publish(
	    d->events, ns, "/snapshot/commit",
	    json_pack("{s:s,s:s,s:s}", "key", key, "name", name, "snapshotter", sn->name));
	cache_usage_start(d, ns, sn, name, rec_id(rec));
	return 0;
}

int snapshots_commit(struct daemon *d, const char *ns, const char *sn, const char *name,
		     const char *key, json_t *labels, const char *lease, err_t *err)
{
	return commit(d, ns, sn, name, key, NULL, labels, lease, err);
}

int snapshots_commit_reparent(struct daemon *d, const char *ns, const char *sn, const char *name,
			      const char *key, const char *parent, json_t *labels,
			      const char *lease, err_t *err)
{
	if (!parent)
		return make_error(err, E_INVALID_ARGUMENT, 0, "commit onto a parent needs one");
	return commit(d, ns, sn, name, key, parent, labels, lease, err);
}

/* ---- reads, labels, remove ------------------------------------------------- */

static json_t *read_rec(struct daemon *d, const char *ns, const char *sn_name, const char *key,
			struct snapshotter **snp, MDB_txn **txnp, err_t *err)
{
	struct snapshotter *sn;
	json_t *rec = NULL;
	if (name_validate_namespace(ns, err) < 0 || !(sn = find_sn(d, sn_name, err)) ||
	    check_key("snapshot key", key, err) < 0 ||
	    store_txn_begin(d->store, false, txnp, err) < 0 ||
	    get_rec(d, *txnp, ns, sn->name, key, &rec, err) < 0)
		return NULL;
	if (snp)
		*snp = sn;
	return rec;
}

char *snapshots_active_dir(struct daemon *d, const char *ns, const char *sn_name, const char *key,
			   bool *overlay_whiteouts, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	struct snapshotter *sn = NULL;
	cleanup_json json_t *rec = read_rec(d, ns, sn_name, key, &sn, &txn, err);
	if (!rec)
		return NULL;
	if (rec_kind(rec) != SNAPSHOT_ACTIVE) {
		make_error(err, E_FAILED_PRECONDITION, 0, "snapshot `%s` is not active", key);
		return NULL;
	}
	*overlay_whiteouts = sn->ops->overlay_whiteouts;
	return snapshotter_fs(sn, rec_id(rec));
}

bool snapshots_exists(struct daemon *d, const char *ns, const char *sn, const char *key)
{
	cleanup_err err_t err = NULL;
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = read_rec(d, ns, sn, key, NULL, &txn, &err);
	return rec != NULL;
}

json_t *snapshots_stat(struct daemon *d, const char *ns, const char *sn, const char *key,
		       err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = read_rec(d, ns, sn, key, NULL, &txn, err);
	return rec ? to_api(key, rec) : NULL;
}

json_t *snapshots_mounts(struct daemon *d, const char *ns, const char *sn_name, const char *key,
			 err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	struct snapshotter *sn = NULL;
	cleanup_json json_t *rec = read_rec(d, ns, sn_name, key, &sn, &txn, err);
	return rec ? mounts_of(d, txn, ns, sn, rec, err) : NULL;
}

struct list_ctx {
	json_t *out;
	const struct filter *f;
	const char *prefix;
};

static int list_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct list_ctx *c = data;
	size_t pl = strlen(c->prefix);
	if (strncmp(key, c->prefix, pl) != 0)
		return 0;
	json_t *o = to_api(key + pl, val);
	if (!c->f || filter_match_json(c->f, o))
		json_array_append_new(c->out, o);
	else
		json_decref(o);
	return 0;
}

json_t *snapshots_list(struct daemon *d, const char *ns, const char *sn_name,
		       const struct filter *f, err_t *err)
{
	struct snapshotter *sn;
	if (name_validate_namespace(ns, err) < 0 || !(sn = find_sn(d, sn_name, err)))
		return NULL;
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(d->store, false, &txn, err) < 0)
		return NULL;
	cleanup_free char *prefix = xasprintf("%s/", sn->name);
	struct list_ctx c = {json_array(), f, prefix};
	if (store_foreach(d->store, txn, BUCKET_SNAPSHOTS, ns, list_cb, &c, err) < 0) {
		json_decref(c.out);
		return NULL;
	}
	return c.out;
}

json_t *snapshots_update_labels(struct daemon *d, const char *ns, const char *sn_name,
				const char *key, json_t *patch, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(d->store, true, &txn, err) < 0)
		return NULL;
	json_t *st = snapshots_update_labels_txn(d, txn, ns, sn_name, key, patch, err);
	if (st && store_txn_commit(&txn, err) < 0) {
		json_decref(st);
		return NULL;
	}
	return st;
}

json_t *snapshots_update_labels_txn(struct daemon *d, MDB_txn *txn, const char *ns,
				    const char *sn_name, const char *key, json_t *patch,
				    err_t *err)
{
	struct snapshotter *sn;
	if (name_validate_namespace(ns, err) < 0 || !(sn = find_sn(d, sn_name, err)) ||
	    check_key("snapshot key", key, err) < 0 ||
	    (patch && json_check_labels(patch, "labels", true, err) < 0))
		return NULL;
	cleanup_json json_t *rec = NULL;
	if (get_rec(d, txn, ns, sn->name, key, &rec, err) < 0)
		return NULL;
	json_t *have = json_object_get(rec, "labels");
	if (!json_is_object(have)) {
		have = json_object();
		json_object_set_new(rec, "labels", have);
	}
	if (patch)
		json_labels_merge(have, patch);
	char ts[40];
	now_ts(ts);
	json_object_set_new(rec, "updated_at", json_string(ts));
	cleanup_free char *k = rec_key(sn->name, key);
	if (store_put(d->store, txn, BUCKET_SNAPSHOTS, ns, k, rec, 0, err) < 0)
		return NULL;
	return to_api(key, rec);
}

int snapshots_remove_txn(struct daemon *d, MDB_txn *txn, const char *ns, const char *sn_name,
			 const char *key, uint64_t *id, err_t *err)
{
	struct snapshotter *sn;
	if (name_validate_namespace(ns, err) < 0 || !(sn = find_sn(d, sn_name, err)) ||
	    check_key("snapshot key", key, err) < 0)
		return -1;
	cleanup_json json_t *rec = NULL;
	bool children = false;
	if (get_rec(d, txn, ns, sn->name, key, &rec, err) < 0 ||
	    has_children(d, txn, ns, sn->name, key, &children, err) < 0)
		return -1;
	if (children)
		return make_error(err, E_FAILED_PRECONDITION, 0,
				  "snapshot `%s` has children: remove them first", key);
	cleanup_free char *k = rec_key(sn->name, key);
	if (store_del(d->store, txn, BUCKET_SNAPSHOTS, ns, k, err) < 0)
		return -1;
	*id = rec_id(rec);
	return 0;
}

void snapshots_removed(struct daemon *d, const char *ns, const char *sn_name, const char *key,
		       uint64_t id)
{
	err_t err = NULL;
	struct snapshotter *sn = find_sn(d, sn_name, &err);
	if (!sn) {
		err_free(&err);
		return;
	}
	/* the record is gone: the directory goes in the background (or, after a
	 * crash, as an orphan) */
	if (snapshotter_remove(sn, id, &err) < 0) {
		log_warn("snapshot directory left for the orphan cleanup", "err=\"%s\"", err->msg);
		err_free(&err);
	}
	events_publish(d->events, ns, "/snapshot/remove",
		       json_pack("{s:s,s:s}", "key", key, "snapshotter", sn->name));
	if (d->gc)
		gc_schedule(d->gc);
}

int snapshots_remove(struct daemon *d, const char *ns, const char *sn_name, const char *key,
		     err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	uint64_t id = 0;
	if (store_txn_begin(d->store, true, &txn, err) < 0 ||
	    snapshots_remove_txn(d, txn, ns, sn_name, key, &id, err) < 0 ||
	    store_txn_commit(&txn, err) < 0)
		return -1;
	snapshots_removed(d, ns, sn_name, key, id);
	return 0;
}

/* ---- usage ------------------------------------------------------------------ */

void usage_req_free(struct usage_req *u)
{
	struct snapshots *ss = u->ss;
	for (size_t i = 0; i < ss->nusages; i++)
		if (ss->usages[i] == u) {
			ss->usages[i] = ss->usages[--ss->nusages];
			break;
		}
	free(u->ns);
	free(u->sn_name);
	free(u->key);
	free(u);
}

static void usage_walk_cb(void *data, int64_t size, int64_t inodes, err_t *werr)
{
	struct usage_req *u = data;
	struct daemon *d = u->ss->d;
	cleanup_json json_t *usage =
	    json_pack("{s:I,s:I}", "size", (json_int_t)size, "inodes", (json_int_t)inodes);
	u->w = NULL;
	if (!*werr) {
		/* cache it on a committed snapshot that is still the same */
		err_t err = NULL;
		cleanup_txn MDB_txn *txn = NULL;
		cleanup_json json_t *rec = NULL;
		if (store_txn_begin(d->store, true, &txn, &err) == 0 &&
		    get_rec(d, txn, u->ns, u->sn_name, u->key, &rec, &err) == 0 &&
		    rec_kind(rec) == SNAPSHOT_COMMITTED && rec_id(rec) == u->id) {
			json_object_set(rec, "usage", usage);
			cleanup_free char *k = rec_key(u->sn_name, u->key);
			if (store_put(d->store, txn, BUCKET_SNAPSHOTS, u->ns, k, rec, 0, &err) == 0)
				store_txn_commit(&txn, &err);
		}
		err_free(&err);
	} else if (!u->cb) {
		log_warn("usage of a committed snapshot", "err=\"%s\"", (*werr)->msg);
	}
	snapshots_usage_cb cb = u->cb;
	void *cbdata = u->data;
	usage_req_free(u);
	if (cb)
		cb(cbdata, *werr ? NULL : usage, werr);
}

static struct usage_req *usage_start(struct daemon *d, const char *ns, struct snapshotter *sn,
				     const char *key, uint64_t id, snapshots_usage_cb cb,
				     void *data, err_t *err)
{
	struct snapshots *ss = d->snapshots;
	struct usage_req *u = xzalloc(sizeof(*u));
	u->ss = ss;
	u->ns = xstrdup(ns);
	u->sn_name = xstrdup(sn->name);
	u->key = xstrdup(key);
	u->id = id;
	u->cb = cb;
	u->data = data;
	ALLOC_GROW(ss->usages, ss->nusages + 1, ss->usages_alloc);
	ss->usages[ss->nusages++] = u;
	u->w = snapshotter_usage(sn, id, usage_walk_cb, u, err);
	if (!u->w) {
		usage_req_free(u);
		return NULL;
	}
	return u;
}

static void cache_usage_start(struct daemon *d, const char *ns, struct snapshotter *sn,
			      const char *name, uint64_t id)
{
	err_t err = NULL;
	if (!usage_start(d, ns, sn, name, id, NULL, NULL, &err)) {
		log_warn("could not start a usage walk", "err=\"%s\"", err->msg);
		err_free(&err);
	}
}

int snapshots_usage(struct daemon *d, const char *ns, const char *sn_name, const char *key,
		    json_t **now, snapshots_usage_cb cb, void *data, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	struct snapshotter *sn = NULL;
	cleanup_json json_t *rec = read_rec(d, ns, sn_name, key, &sn, &txn, err);
	if (!rec)
		return -1;
	json_t *cached = json_object_get(rec, "usage");
	if (rec_kind(rec) == SNAPSHOT_COMMITTED && json_is_object(cached)) {
		*now = json_deep_copy(cached);
		return 1;
	}
	return usage_start(d, ns, sn, key, rec_id(rec), cb, data, err) ? 0 : -1;
}

void snapshots_usage_cancel(struct daemon *d, snapshots_usage_cb cb, void *data)
{
	struct snapshots *ss = d->snapshots;
	for (size_t i = 0; i < ss->nusages; i++)
		if (ss->usages[i]->cb == cb && ss->usages[i]->data == data)
			ss->usages[i]->cb = NULL; /* the walk still caches its result */
}
