#include "config.h"

#include <string.h>

#include <event2/event.h>

#include "containers/containers.h"
#include "core/filter.h"
#include "core/log.h"
#include "core/names.h"
#include "events/events.h"
#include "gc/gc.h"
#include "images/images.h"
#include "images/resolve.h"
#include "metadata/store.h"
#include "namespaces/namespaces.h"
#include "snapshots/snapshots.h"
#include "spec/spec.h"
#include "tasks/tasks.h"

/* Record fields that are not served. */
#define INTERNAL_IMAGE_TARGET "image_target"
/* On the snapshot a creation prepares, until the container's record is
 * committed (in the same transaction): which run of berthd prepared it
 * ("<pid>.<start ns>"). A snapshot still carrying it from an earlier run was
 * left by a creation that a crash interrupted. */
#define CREATE_LABEL "berth.containers.create"

static char *run_token(const struct daemon *d)
{
	return xasprintf("%d.%lld", (int)d->pid, (long long)d->started_at_ns);
}

static json_t *to_api(const char *id, const json_t *rec)
{
	json_t *o = json_deep_copy(rec);
	json_object_del(o, INTERNAL_IMAGE_TARGET);
	json_object_set_new(o, "id", json_string(id));
	if (!json_is_object(json_object_get(o, "labels")))
		json_object_set_new(o, "labels", json_object());
	return o;
}

static int not_found(err_t *err, const char *id)
{
	return make_error(err, E_NOT_FOUND, 0, "container `%s` not found", id);
}

json_t *containers_get(struct daemon *d, const char *ns, const char *id, err_t *err)
{
	if (name_validate_namespace(ns, err) < 0 ||
	    name_validate_identifier("container id", id, err) < 0)
		return NULL;
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	if (store_txn_begin(d->store, false, &txn, err) < 0 ||
	    store_get_opt(d->store, txn, BUCKET_CONTAINERS, ns, id, &rec, err) < 0)
		return NULL;
	if (!rec) {
		not_found(err, id);
		return NULL;
	}
	return to_api(id, rec);
}

struct list_ctx {
	json_t *out;
	const struct filter *f;
};

static int list_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct list_ctx *c = data;
	json_t *o = to_api(key, val);
	if (!c->f || filter_match_json(c->f, o))
		json_array_append_new(c->out, o);
	else
		json_decref(o);
	return 0;
}

json_t *containers_list(struct daemon *d, const char *ns, const struct filter *f, err_t *err)
{
	if (name_validate_namespace(ns, err) < 0)
		return NULL;
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(d->store, false, &txn, err) < 0)
		return NULL;
	struct list_ctx c = {json_array(), f};
	if (store_foreach(d->store, txn, BUCKET_CONTAINERS, ns, list_cb, &c, err) < 0) {
		json_decref(c.out);
		return NULL;
	}
	return c.out;
}

int containers_check_runtime(const char *name, err_t *err)
{
	if (strcmp(name, "runc") == 0 || strcmp(name, "crun") == 0)
		return 0;
	if (name[0] == '/' && !strstr(name, "/../") && strlen(name) < 4096)
		return 0;
	return make_error(err, E_INVALID_ARGUMENT, 0,
			  "`runtime.name`: unknown runtime `%.64s` (runc, crun, or an absolute "
			  "path to a runc-compatible binary)",
			  name);
}

/* ---- create ---------------------------------------------------------------- */

struct container_create {
	struct daemon *d;
	char *ns, *id;
	json_t *body;	      /* the request */
	json_t *image;	      /* the image record, or NULL */
	json_t *image_config; /* its config blob, or NULL */
	json_t *runtime;      /* {"name","options"?} */
	char *snapshotter;
	char *snapshot_key;
	bool prepared;	   /* the snapshot is ours: remove it on failure */
	bool pending;	   /* a prepare is in flight */
	struct event *now; /* or, with nothing to prepare, the next loop turn */
	containers_create_cb cb;
	void *data;
};

static void create_free(struct container_create *c)
{
	free(c->ns);
	free(c->id);
	json_decref(c->body);
	json_decref(c->image);
	json_decref(c->image_config);
	json_decref(c->runtime);
	free(c->snapshotter);
	free(c->snapshot_key);
	if (c->now)
		event_free(c->now);
	free(c);
}

/* Undo the prepared snapshot (a failure after it). */
static void undo_snapshot(struct container_create *c)
{
	if (!c->prepared)
		return;
	err_t e = NULL;
	if (snapshots_remove(c->d, c->ns, c->snapshotter, c->snapshot_key, &e) < 0) {
		log_warn("could not remove the snapshot of a failed container",
			 "namespace=%s id=%s "
			 "snapshotter=%s key=%s err=\"%s\"",
			 c->ns, c->id, c->snapshotter, c->snapshot_key, e->msg);
		err_free(&e);
	}
	c->prepared = false;
}

/* The directories of a rootfs' layers, topmost first, from its mounts:
 * bind → source; overlay → upperdir, then lowerdirs in order. */
static char **rootfs_layers(const json_t *mounts)
{
	size_t n = 0, alloc = 0;
	char **out = NULL;
	size_t i;
	json_t *m;
	json_array_foreach(mounts, i, m) {
		const char *type = json_get_string(m, "type");
		const char *src = json_get_string(m, "source");
		if (!type)
			continue;
		if (strcmp(type, "bind") == 0 || strcmp(type, "rbind") == 0) {
			if (src) {
				ALLOC_GROW(out, n + 2, alloc);
				out[n++] = xstrdup(src);
			}
			continue;
		}
		if (strcmp(type, "overlay") != 0)
			continue;
		const char *upper = NULL, *lower = NULL;
		size_t j;
		json_t *o;
		json_array_foreach(json_object_get(m, "options"), j, o) {
			const char *s = json_string_value(o);
			if (s && strncmp(s, "upperdir=", 9) == 0)
				upper = s + 9;
			else if (s && strncmp(s, "lowerdir=", 9) == 0)
				lower = s + 9;
		}
		if (upper) {
			ALLOC_GROW(out, n + 2, alloc);
			out[n++] = xstrdup(upper);
		}
		while (lower && *lower) {
			const char *colon = strchr(lower, ':');
			size_t len = colon ? (size_t)(colon - lower) : strlen(lower);
			if (len) {
				ALLOC_GROW(out, n + 2, alloc);
				out[n++] = xstrndup(lower, len);
			}
			lower = colon ? colon + 1 : NULL;
		}
	}
	if (out)
		out[n] = NULL;
	return out;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The spec: the client's, or one generated for the rootfs at mounts. */
static json_t *make_spec(struct container_create *c, const json_t *mounts, err_t *err)
{
	json_t *given = json_object_get(c->body, "spec");
	if (given)
		return json_incref(given);
	const json_t *process = json_object_get(c->body, "process");
	const json_t *options = json_object_get(c->body, "options");
	char **layers = rootfs_layers(mounts);
	json_t *mem = json_object_get(options, "memory");
	json_t *pids = json_object_get(options, "pids");
	struct spec_opts o = {
	    .id = c->id,
	    .ns = c->ns,
	    .image_config = c->image_config,
	    .rootfs_layers = (const char *const *)layers,
	    .args = json_object_get(process, "args"),
	    .env = json_object_get(process, "env"),
	    .cwd = json_get_string(process, "cwd"),
	    .user = json_get_string(process, "user"),
	    .hostname = json_get_string(options, "hostname"),
	    .terminal = json_is_true(json_object_get(process, "terminal")),
	    .net_host = json_is_true(json_object_get(options, "net_host")),
	    .readonly_rootfs = json_is_true(json_object_get(options, "readonly_rootfs")),
	    .mounts = json_object_get(options, "mounts"),
	    .memory = mem ? (int64_t)json_integer_value(mem) : 0,
	    .cpus = json_number_value(json_object_get(options, "cpus")),
	    .pids = pids ? (int64_t)json_integer_value(pids) : 0,
	};
	json_t *spec = NULL;
	int rc = spec_generate(&o, &spec, err);
	free_strv(layers);
	if (rc < 0) {
		error_wrap(err, "spec");
		return NULL;
	}
	return spec;
}

/* The snapshot is there (or none is needed): make the spec, store the
 * record. Returns the served container. */
static json_t *finish(struct container_create *c, const json_t *mounts, err_t *err)
{
	struct daemon *d = c->d;
	cleanup_json json_t *spec = make_spec(c, mounts, err);
	if (!spec)
		return NULL;
	char ts[40];
	time_format_rfc3339(time_now_ns(), ts);
	json_t *labels = json_object_get(c->body, "labels");
	cleanup_json json_t *rec = json_pack(
	    "{s:O,s:O,s:o,s:s,s:s}", "spec", spec, "runtime", c->runtime, "labels",
	    labels ? json_deep_copy(labels) : json_object(), "created_at", ts, "updated_at", ts);
	if (c->image) {
		json_object_set(rec, "image", json_object_get(c->image, "name"));
		json_object_set(rec, INTERNAL_IMAGE_TARGET,
				json_object_get(json_object_get(c->image, "target"), "digest"));
	}
	if (c->snapshot_key) {
		json_object_set_new(rec, "snapshotter", json_string(c->snapshotter));
		json_object_set_new(rec, "snapshot_key", json_string(c->snapshot_key));
	}
	cleanup_txn MDB_txn *txn = NULL;
	bool ns_created = false;
	if (store_txn_begin(d->store, true, &txn, err) < 0 ||
	    namespaces_ensure(d, txn, c->ns, &ns_created, err) < 0)
		return NULL;
	if (store_put(d->store, txn, BUCKET_CONTAINERS, c->ns, c->id, rec, STORE_NOOVERWRITE, err) <
	    0) {
		if ((*err)->kind == E_ALREADY_EXISTS) {
			err_free(err);
			make_error(err, E_ALREADY_EXISTS, 0, "container `%s` already exists",
				   c->id);
		}
		return NULL;
	}
	if (c->prepared) {
		/* the snapshot is the container's now: no longer a creation's */
		cleanup_json json_t *patch = json_pack("{s:n}", CREATE_LABEL);
		cleanup_json json_t *st = snapshots_update_labels_txn(
		    d, txn, c->ns, c->snapshotter, c->snapshot_key, patch, err);
		if (!st)
			return NULL;
	}
	if (store_txn_commit(&txn, err) < 0)
		return NULL;
	if (ns_created)
		namespaces_created(d, c->ns);
	json_t *ev = json_pack("{s:s,s:O}", "id", c->id, "runtime", c->runtime);
	if (c->image)
		json_object_set(ev, "image", json_object_get(c->image, "name"));
	events_publish(d->events, c->ns, "/containers/create", ev);
	log_info("container created", "namespace=%s id=%s", c->ns, c->id);
	return to_api(c->id, rec);
}

static void prepared_cb(void *data, json_t *mounts, err_t *err)
{
	struct container_create *c = data;
	c->pending = false;
	err_t e = NULL;
	cleanup_json json_t *ct = NULL;
	if (*err) {
		e = *err;
		*err = NULL;
		error_wrap(&e, "snapshot `%s`", c->snapshot_key);
	} else {
		c->prepared = true;
		ct = finish(c, mounts, &e);
		if (!ct)
			undo_snapshot(c);
	}
	c->cb(c->data, ct, &e);
	err_free(&e);
	create_free(c);
}

/* Nothing to prepare: finish on the next loop turn, as a prepare would. */
static void now_cb(evutil_socket_t fd, short what, void *arg)
{
	struct container_create *c = arg;
	err_t e = NULL;
	cleanup_json json_t *mounts = NULL;
	json_t *ct = NULL;
	if (c->snapshot_key && !snapshots_exists(c->d, c->ns, c->snapshotter, c->snapshot_key)) {
		/* removed since the request was checked */
		make_error(&e, E_NOT_FOUND, 0, "`snapshot_key`: snapshot `%s` not found",
			   c->snapshot_key);
		goto out;
	}
	if (c->snapshot_key) {
		/* a client's snapshot: its mounts serve only to look users up (a
		 * committed one has none) */
		mounts = snapshots_mounts(c->d, c->ns, c->snapshotter, c->snapshot_key, &e);
		err_free(&e);
	}
	ct = finish(c, mounts, &e);
out:
	c->cb(c->data, ct, &e);
	json_decref(ct);
	err_free(&e);
	create_free(c);
}

static int check_body(json_t *body, err_t *err)
{
	static const struct json_field fields[] = {
	    {"id", JF_STRING, true},
	    {"image", JF_STRING, false},
	    {"spec", JF_OBJECT, false},
	    {"snapshotter", JF_STRING, false},
	    {"snapshot_key", JF_STRING, false},
	    {"runtime", JF_OBJECT, false},
	    {"labels", JF_LABELS, false},
	    {"process", JF_OBJECT, false},
	    {"options", JF_OBJECT, false},
	    {NULL},
	};
	static const struct json_field runtime[] = {
	    {"name", JF_STRING, true},
	    {"options", JF_OBJECT, false},
	    {NULL},
	};
	static const struct json_field process[] = {
	    {"args", JF_ARRAY, false},	{"env", JF_ARRAY, false},     {"cwd", JF_STRING, false},
	    {"user", JF_STRING, false}, {"terminal", JF_BOOL, false}, {NULL},
	};
	static const struct json_field options[] = {
	    {"net_host", JF_BOOL, false},   {"readonly_rootfs", JF_BOOL, false},
	    {"mounts", JF_ARRAY, false},    {"memory", JF_INTEGER, false},
	    {"cpus", JF_NUMBER, false},	    {"pids", JF_INTEGER, false},
	    {"hostname", JF_STRING, false}, {NULL},
	};
	if (json_check_object(body, "request body", fields, err) < 0)
		return -1;
	json_t *j;
	if ((j = json_object_get(body, "runtime")) &&
	    json_check_object(j, "`runtime`", runtime, err) < 0)
		return -1;
	if ((j = json_object_get(body, "process")) &&
	    json_check_object(j, "`process`", process, err) < 0)
		return -1;
	if ((j = json_object_get(body, "options")) &&
	    json_check_object(j, "`options`", options, err) < 0)
		return -1;
	if (json_object_get(body, "spec") &&
	    (json_object_get(body, "process") || json_object_get(body, "options")))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`process` and `options` describe a spec to generate: they "
				  "cannot come with `spec`");
	return 0;
}

/* The snapshot `key` a creation is about to prepare exists: when an earlier
 * run's creation prepared it and crashed before the container was recorded,
 * nothing else holds it: remove it (else the taken key is the prepare's
 * E_ALREADY_EXISTS). */
static int drop_interrupted(struct daemon *d, const char *ns, const char *sn, const char *key,
			    err_t *err)
{
	err_t e = NULL;
	cleanup_json json_t *st = snapshots_stat(d, ns, sn, key, &e);
	if (!st) {
		err_free(&e); /* none (or unreadable: the prepare will say) */
		return 0;
	}
	const char *by = json_get_string(json_object_get(st, "labels"), CREATE_LABEL);
	cleanup_free char *token = run_token(d);
	if (!by || strcmp(by, token) == 0 || !json_is_string(json_object_get(st, "kind")) ||
	    strcmp(json_get_string(st, "kind"), "active") != 0)
		return 0;
	log_info("removing the snapshot of a container creation a crash interrupted",
		 "namespace=%s snapshotter=%s key=%s", ns, sn, key);
	if (snapshots_remove(d, ns, sn, key, err) < 0)
		return error_wrap(err, "remove snapshot `%s` of an interrupted creation", key);
	return 0;
}

struct container_create *containers_create(struct daemon *d, const char *ns, json_t *body,
					   containers_create_cb cb, void *data, err_t *err)
{
	if (name_validate_namespace(ns, err) < 0 || check_body(body, err) < 0)
		return NULL;
	const char *id = json_get_string(body, "id");
	if (name_validate_identifier("container id", id, err) < 0)
		return NULL;
	json_t *spec = json_object_get(body, "spec");
	if (spec && spec_validate(spec, err) < 0) {
		error_wrap(err, "spec");
		return NULL;
	}
	json_t *rt = json_object_get(body, "runtime");
	const char *rt_name = rt ? json_get_string(rt, "name") : d->cfg.default_runtime;
	if (containers_check_runtime(rt_name, err) < 0)
		return NULL;

	/* a duplicate is refused before anything is done (and again at commit) */
	{
		cleanup_txn MDB_txn *txn = NULL;
		cleanup_json json_t *old = NULL;
		if (store_txn_begin(d->store, false, &txn, err) < 0 ||
		    store_get_opt(d->store, txn, BUCKET_CONTAINERS, ns, id, &old, err) < 0)
			return NULL;
		if (old) {
			make_error(err, E_ALREADY_EXISTS, 0, "container `%s` already exists", id);
			return NULL;
		}
	}

	struct container_create *c = xzalloc(sizeof(*c));
	c->d = d;
	c->ns = xstrdup(ns);
	c->id = xstrdup(id);
	c->body = json_incref(body);
	c->cb = cb;
	c->data = data;
	c->runtime = json_pack("{s:s}", "name", rt_name);
	if (rt && json_object_get(rt, "options"))
		json_object_set(c->runtime, "options", json_object_get(rt, "options"));
	const char *sn = json_get_string(body, "snapshotter");
	c->snapshotter = xstrdup(sn ? sn : snapshots_default(d));
	const char *key = json_get_string(body, "snapshot_key");

	struct image_resolved res = {0};
	const char *image = json_get_string(body, "image");
	if (image) {
		if (!(c->image = images_get(d, ns, image, err)))
			goto fail;
		/* the config for the spec, the chain for the snapshot */
		if ((!spec || !key) && image_resolve(d, ns, c->image, &res, err) < 0)
			goto fail;
		c->image_config = json_incref(res.config);
	}
	if (key || !image) {
		if (key) {
			json_t *st = NULL;
			if (snapshots_check_snapshotter(d, c->snapshotter, err) < 0 ||
			    !(st = snapshots_stat(d, ns, c->snapshotter, key, err))) {
				error_wrap(err, "`snapshot_key`");
				goto fail;
			}
			json_decref(st);
			c->snapshot_key = xstrdup(key);
		}
		c->now = evtimer_new(d->base, now_cb, c);
		event_active(c->now, EV_TIMEOUT, 0);
		image_resolved_release(&res);
		return c;
	}

	if (snapshots_check_snapshotter(d, c->snapshotter, err) < 0)
		goto fail;
	const char *parent = res.chain_id[0] ? res.chain_id : NULL;
	if (parent && !snapshots_exists(d, ns, c->snapshotter, parent)) {
		/* the fix, as the user would type it */
		cleanup_free char *flag = strcmp(c->snapshotter, snapshots_default(d)) != 0
					      ? xasprintf("--snapshotter %s ", c->snapshotter)
					      : xstrdup("");
		make_error(err, E_FAILED_PRECONDITION, 0,
			   "image `%s` is not unpacked for snapshotter `%s`: run `berth images "
			   "unpack %s%s`",
			   json_get_string(c->image, "name"), c->snapshotter, flag,
			   json_get_string(c->image, "name"));
		goto fail;
	}
	c->snapshot_key = xstrdup(id);
	if (drop_interrupted(d, ns, c->snapshotter, id, err) < 0)
		goto fail;
	{
		cleanup_free char *token = run_token(d);
		cleanup_json json_t *labels = json_pack("{s:s}", CREATE_LABEL, token);
		if (snapshots_prepare_async(d, ns, c->snapshotter, c->snapshot_key, parent, false,
					    labels, NULL, prepared_cb, c, err) < 0)
			goto fail;
	}
	c->pending = true;
	image_resolved_release(&res);
	return c;
fail:
	image_resolved_release(&res);
	create_free(c);
	return NULL;
}

void containers_create_cancel(struct container_create *c)
{
	if (c->pending)
		snapshots_prepare_cancel(c->d, prepared_cb, c);
	create_free(c);
}

/* ---- update, delete --------------------------------------------------------- */

json_t *containers_update(struct daemon *d, const char *ns, const char *id, json_t *body,
			  err_t *err)
{
	static const struct json_field fields[] = {
	    {"labels", JF_LABELS_PATCH, false},
	    {"spec", JF_OBJECT, false},
	    {"image", JF_STRING, false},
	    {NULL},
	};
	if (name_validate_namespace(ns, err) < 0 ||
	    name_validate_identifier("container id", id, err) < 0 ||
	    json_check_object(body, "request body", fields, err) < 0)
		return NULL;
	json_t *spec = json_object_get(body, "spec");
	if (spec && spec_validate(spec, err) < 0) {
		error_wrap(err, "spec");
		return NULL;
	}
	cleanup_json json_t *image = NULL;
	const char *image_name = json_get_string(body, "image");
	if (image_name && !(image = images_get(d, ns, image_name, err)))
		return NULL;

	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *rec = NULL;
	if (store_txn_begin(d->store, true, &txn, err) < 0 ||
	    store_get_opt(d->store, txn, BUCKET_CONTAINERS, ns, id, &rec, err) < 0)
		return NULL;
	if (!rec) {
		not_found(err, id);
		return NULL;
	}
	json_t *patch = json_object_get(body, "labels");
	if (patch) {
		json_t *labels = json_object_get(rec, "labels");
		if (!json_is_object(labels)) {
			labels = json_object();
			json_object_set_new(rec, "labels", labels);
		}
		json_labels_merge(labels, patch);
	}
	if (spec)
		json_object_set(rec, "spec", spec);
	if (image) {
		json_object_set(rec, "image", json_object_get(image, "name"));
		json_object_set(rec, INTERNAL_IMAGE_TARGET,
				json_object_get(json_object_get(image, "target"), "digest"));
	}
	char ts[40];
	time_format_rfc3339(time_now_ns(), ts);
	json_object_set_new(rec, "updated_at", json_string(ts));
	if (store_put(d->store, txn, BUCKET_CONTAINERS, ns, id, rec, 0, err) < 0 ||
	    store_txn_commit(&txn, err) < 0)
		return NULL;
	json_t *ev = json_pack("{s:s,s:O}", "id", id, "labels", json_object_get(rec, "labels"));
	if (json_object_get(rec, "image"))
		json_object_set(ev, "image", json_object_get(rec, "image"));
	if (json_object_get(rec, "snapshot_key"))
		json_object_set(ev, "snapshot_key", json_object_get(rec, "snapshot_key"));
	events_publish(d->events, ns, "/containers/update", ev);
	/* a changed image may leave the old one's content unreferenced */
	if (image && d->gc)
		gc_schedule(d->gc);
	return to_api(id, rec);
}

int containers_delete(struct daemon *d, const char *ns, const char *id, bool cleanup_snapshot,
		      err_t *err)
{
	if (name_validate_namespace(ns, err) < 0 ||
	    name_validate_identifier("container id", id, err) < 0)
		return -1;
	/* the container's record and its snapshot's go in one transaction */
	cleanup_json json_t *rec = NULL;
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(d->store, true, &txn, err) < 0 ||
	    store_get_opt(d->store, txn, BUCKET_CONTAINERS, ns, id, &rec, err) < 0)
		return -1;
	if (!rec)
		return not_found(err, id);
	if (tasks_exists(d, ns, id))
		return make_error(err, E_FAILED_PRECONDITION, 0,
				  "container `%s` has a task: delete the task first", id);
	const char *sn = json_get_string(rec, "snapshotter");
	const char *key = json_get_string(rec, "snapshot_key");
	uint64_t snap_id = 0;
	bool snap_removed = false;
	if (cleanup_snapshot && sn && key) {
		if (snapshots_remove_txn(d, txn, ns, sn, key, &snap_id, err) == 0) {
			snap_removed = true;
		} else {
			if ((*err)->kind != E_NOT_FOUND)
				return error_wrap(err, "container `%s`: remove its snapshot", id);
			err_free(err);
		}
	}
	if (store_del(d->store, txn, BUCKET_CONTAINERS, ns, id, err) < 0 ||
	    store_txn_commit(&txn, err) < 0)
		return -1;
	if (snap_removed)
		snapshots_removed(d, ns, sn, key, snap_id);
	events_publish(d->events, ns, "/containers/delete", json_pack("{s:s}", "id", id));
	log_info("container deleted", "namespace=%s id=%s", ns, id);
	/* its image's content and its snapshot (kept) may be unreferenced now */
	if (d->gc)
		gc_schedule(d->gc);
	return 0;
}

/* ---- garbage collection ------------------------------------------------------ */

struct gc_ctx {
	void (*mark_content)(void *arg, const char *digest);
	void (*mark_snapshot)(void *arg, const char *snapshotter, const char *key);
	void *arg;
};

static int gc_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct gc_ctx *g = data;
	const char *target = json_get_string(val, INTERNAL_IMAGE_TARGET);
	const char *sn = json_get_string(val, "snapshotter");
	const char *skey = json_get_string(val, "snapshot_key");
	if (target)
		g->mark_content(g->arg, target);
	if (sn && skey)
		g->mark_snapshot(g->arg, sn, skey);
	return 0;
}

int containers_gc_mark(struct daemon *d, MDB_txn *txn, const char *ns,
		       void (*mark_content)(void *arg, const char *digest),
		       void (*mark_snapshot)(void *arg, const char *snapshotter, const char *key),
		       void *arg, err_t *err)
{
	struct gc_ctx g = {mark_content, mark_snapshot, arg};
	return store_foreach(d->store, txn, BUCKET_CONTAINERS, ns, gc_cb, &g, err);
}
