#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "content/content.h"
#include "core/digest.h"
#include "core/log.h"
#include "events/events.h"
#include "images/images.h"
#include "images/oci.h"
#include "images/pull.h"
#include "images/resolve.h"
#include "images/unpack.h"
#include "leases/leases.h"
#include "metadata/store.h"
#include "namespaces/namespaces.h"
#include "remotes/remotes.h"
#include "snapshots/snapshots.h"

/* A pull's progress buffer may hold this much; past it, intermediate
 * "downloading" lines are dropped (state changes never are). */
#define PROGRESS_LIMIT (256 * 1024)
/* "downloading" lines per blob at most this often. */
#define PROGRESS_INTERVAL_NS (200 * 1000 * 1000)
/* The lease of a pull outlives a berthd killed mid-pull by this long. */
#define PULL_LEASE_SECONDS 3600
/* The label that marks a pull's lease. */
#define PULL_LEASE_LABEL "berth.pull"

struct pull_job;
struct fetch;

/* Where a blob of a pull is. */
enum task_state {
	TASK_WAITING = 0, /* not started: the per-pull limit */
	TASK_RUNNING,     /* being fetched (by this pull or by another one) */
	TASK_DONE,        /* in the content store and visible in the namespace */
};

/* One blob (config or layer) a pull needs. */
struct task {
	struct pull_job *job;
	struct descriptor desc;
	enum task_state state;
	struct fetch *fetch;      /* the transfer it waits on, NULL otherwise */
	struct task *next_waiter; /* in fetch->waiters */
	int64_t last_progress_ns;
};

/* One transfer of a blob into the content store, shared by every pull that
 * needs that digest meanwhile (the dedupe). */
struct fetch {
	struct pulls *pulls;
	char digest[72];
	uint64_t size;
	char *ns; /* the namespace whose ingest it writes */
	char ref[128]; /* that ingest */
	struct content_writer *w;
	struct remote_op *op;
	struct task *owner;   /* the task that started it (its labels, its pull's creds) */
	struct task *waiters; /* every task waiting on it, owner included */
	struct task *tee;     /* the task whose unpacker gets the bytes too, if any */
	struct buf tee_held;  /* taken from the transfer, not yet by the unpacker */
	struct fetch *next;
};

/* The phases of a pull; memcached's conn_states in spirit. */
enum job_state {
	JOB_RESOLVING = 0, /* fetching the top manifest or index */
	JOB_MANIFEST,      /* fetching the platform's manifest of an index */
	JOB_BLOBS,         /* fetching config and layers */
	JOB_FINISHED,      /* done or failed: only the progress stream may remain */
};

struct pull_job {
	struct pulls *pulls;
	struct daemon *d;
	enum job_state state;
	char *ns;
	struct reference ref;
	char *name; /* the image name: the normalised reference */
	struct platform platform;
	struct remote_opts opts;
	char *lease;
	struct remote_op *op; /* the manifest request in flight */
	json_t *target;       /* descriptor of the top manifest or index */
	struct task *tasks;
	size_t ntasks, running, done;
	size_t small_pending; /* manifests/indexes being committed */
	/* unpacking (tasks[0] is the config, tasks[1 + i] layer i) */
	bool unpack;
	bool local;          /* POST .../unpack: every blob is in the store already */
	char *snapshotter;   /* NULL: the default */
	struct unpacker *unpacker;
	char *chain;         /* the top chain ID, once unpacked */
	/* progress to the client */
	struct http_stream *stream;
	struct buf out;
	bool sse;
	bool finished_out; /* the last line is in out */
	struct pull_job *next;
};

struct pulls {
	struct daemon *d;
	struct pull_job *jobs;
	struct fetch *fetches;
	size_t njobs;
};

static void job_fail(struct pull_job *job, err_t *err);
static void job_maybe_finish(struct pull_job *job);
static void tasks_start(struct pull_job *job);

/* ---- progress ------------------------------------------------------------- */

static void emit(struct pull_job *job, json_t *line, bool droppable)
{
	if (!job->stream || job->finished_out) {
		json_decref(line);
		return;
	}
	if (droppable && job->out.len > PROGRESS_LIMIT) {
		json_decref(line);
		return;
	}
	size_t len;
	cleanup_free char *text = json_dump_compact(line, &len);
	json_decref(line);
	if (job->sse) {
		buf_adds(&job->out, "data: ");
		buf_add(&job->out, text, len);
		buf_adds(&job->out, "\n\n");
	} else {
		buf_add(&job->out, text, len);
		buf_adds(&job->out, "\n");
	}
	http_stream_wake(job->stream);
}

static void emit_blob(struct pull_job *job, const char *status, const char *digest,
		      uint64_t offset, uint64_t total, bool droppable)
{
	emit(job,
	     json_pack("{s:s,s:s,s:I,s:I}", "status", status, "digest", digest, "offset",
		       (json_int_t)offset, "total", (json_int_t)total),
	     droppable);
}

static int job_fill(struct http_stream *s, struct buf *out, void *data)
{
	struct pull_job *job = data;
	if (job->out.len) {
		buf_add(out, job->out.data, job->out.len);
		buf_reset(&job->out);
	}
	return job->finished_out ? 1 : 0;
}

static void job_free(struct pull_job *job);

static void job_free_cb(evutil_socket_t fd, short what, void *arg)
{
	job_free(arg);
}

static void job_stream_closed(struct http_stream *s, void *data)
{
	struct pull_job *job = data;
	job->stream = NULL;
	buf_release(&job->out);
	if (job->state == JOB_FINISHED)
		job_free(job);
}

static const struct http_stream_ops job_stream_ops = {
	.fill = job_fill,
	.closed = job_stream_closed,
};

/* ---- life of a job ---------------------------------------------------- */

static void job_unlink(struct pull_job *job)
{
	struct pulls *p = job->pulls;
	for (struct pull_job **pp = &p->jobs; *pp; pp = &(*pp)->next) {
		if (*pp == job) {
			*pp = job->next;
			p->njobs--;
			return;
		}
	}
}

static void job_free(struct pull_job *job)
{
	for (size_t i = 0; i < job->ntasks; i++)
		descriptor_release(&job->tasks[i].desc);
	free(job->tasks);
	reference_release(&job->ref);
	free(job->ns);
	free(job->name);
	free(job->lease);
	free(job->snapshotter);
	free(job->chain);
	unpacker_free(job->unpacker);
	free((char *)job->opts.username);
	free((char *)job->opts.password);
	free((char *)job->opts.token);
	json_decref(job->target);
	buf_release(&job->out);
	free(job);
}

/* Detach a task from the fetch it waits on. */
static void task_leave_fetch(struct task *t)
{
	struct fetch *f = t->fetch;
	if (!f)
		return;
	for (struct task **pp = &f->waiters; *pp; pp = &(*pp)->next_waiter) {
		if (*pp == t) {
			*pp = t->next_waiter;
			break;
		}
	}
	if (f->owner == t)
		f->owner = NULL;
	if (f->tee == t) {
		f->tee = NULL;
		if (t->job->unpacker)
			unpacker_stream_on_space(t->job->unpacker, (size_t)(t - t->job->tasks) - 1,
						 NULL, NULL);
	}
	t->fetch = NULL;
	t->next_waiter = NULL;
}

static void fetch_free(struct fetch *f);

/* The job ends (either way): stop its transfers unless others share them,
 * drop its lease, answer its last line, publish its end. */
static void job_end(struct pull_job *job, json_t *last, const char *status, json_t *ev)
{
	struct daemon *d = job->d;
	job->state = JOB_FINISHED;
	job_unlink(job);
	if (job->op) {
		remote_op_cancel(job->op);
		job->op = NULL;
	}
	for (size_t i = 0; i < job->ntasks; i++) {
		struct task *t = &job->tasks[i];
		struct fetch *f = t->fetch;
		task_leave_fetch(t);
		if (f && !f->waiters)
			fetch_free(f); /* nobody else wants it: stop, keep the ingest */
	}
	/* stop the workers, remove unfinished extraction snapshots (freed with
	 * the job: this may run from the unpacker's own callback) */
	unpacker_cancel(job->unpacker);
	if (job->lease) {
		err_t err = NULL;
		if (leases_delete(d, job->ns, job->lease, &err) < 0) {
			log_warn("could not delete a pull's lease", "lease=%s err=%s", job->lease,
				 err->msg);
			err_free(&err);
		}
	}
	json_object_set_new(ev, "ref", json_string(job->name));
	json_object_set_new(ev, "status", json_string(status));
	events_publish(d->events, job->ns, job->local ? "/images/unpack" : "/images/pull", ev);
	if (job->stream) {
		emit(job, last, false);
		job->finished_out = true;
		http_stream_wake(job->stream);
	} else {
		/* freed from the loop: callers up the stack may still look at it */
		json_decref(last);
		struct timeval now = { 0, 0 };
		event_base_once(d->base, -1, EV_TIMEOUT, job_free_cb, job, &now);
	}
}

static void job_fail(struct pull_job *job, err_t *err)
{
	if (job->state == JOB_FINISHED)
		return;
	log_info("pull failed", "namespace=%s ref=%s err=%s", job->ns, job->name, (*err)->msg);
	json_t *e = json_pack("{s:s,s:s}", "code", err_kind_code((*err)->kind), "message",
			      (*err)->msg);
	json_t *last = json_pack("{s:s,s:O}", "status", "error", "error", e);
	json_t *ev = json_pack("{s:o}", "error", e);
	err_free(err);
	job_end(job, last, "error", ev);
}

static void job_maybe_finish(struct pull_job *job)
{
	if (job->state != JOB_BLOBS || job->done < job->ntasks || job->small_pending ||
	    (job->unpack && !job->chain))
		return;
	err_t err = NULL;
	bool created = false;
	json_t *img = job->local ? images_get(job->d, job->ns, job->name, &err)
				 : images_put(job->d, job->ns, job->name, job->target, NULL,
					      &created, &err);
	if (!img)
		return job_fail(job, &err);
	log_info("pulled", "namespace=%s ref=%s digest=%s", job->ns, job->name,
		 json_get_string(job->target, "digest"));
	json_t *last = json_pack("{s:s,s:o}", "status", "done", "image", img);
	json_t *ev = json_pack("{s:O}", "target", job->target);
	if (job->chain) {
		json_object_set_new(ev, "snapshotter", json_string(job->snapshotter));
		json_object_set_new(ev, "chain_id", json_string(job->chain));
	}
	job_end(job, last, "done", ev);
}

/* ---- unpacking ------------------------------------------------------------- */

static void unpack_event(void *data, const char *status, size_t i, const char *digest,
			 const char *chain)
{
	struct pull_job *job = data;
	emit(job,
	     json_pack("{s:s,s:s,s:I,s:s}", "status", status, "digest", digest, "layer",
		       (json_int_t)i, "chain_id", chain),
	     false);
}

static void unpack_done(void *data, const char *chain, err_t *err)
{
	struct pull_job *job = data;
	if (!chain) {
		err_t e = NULL;
		make_error(&e, (*err)->kind, 0, "unpack: %s", (*err)->msg);
		return job_fail(job, &e);
	}
	/* config → its unpacked chain, as containerd labels it: the image keeps
	 * its snapshots through the config blob */
	char key[128];
	snprintf(key, sizeof(key), "containerd.io/gc.ref.snapshot.%s", job->snapshotter);
	cleanup_json json_t *patch = json_pack("{s:s}", key, chain);
	err_t e = NULL;
	json_t *info = content_update_labels(job->d->content, job->ns, job->tasks[0].desc.digest,
					     patch, &e);
	if (!info)
		return job_fail(job, &e);
	json_decref(info);
	job->chain = xstrdup(chain);
	emit(job,
	     json_pack("{s:s,s:s,s:s}", "status", "unpacked", "snapshotter", job->snapshotter,
		       "chain_id", chain),
	     false);
	job_maybe_finish(job);
}

/* The config is in: create the unpacker (which finds the chains unpacked
 * already) and let the layers go. */
static int unpack_begin(struct pull_job *job)
{
	err_t err = NULL;
	size_t len = 0;
	cleanup_free char *config =
	    image_read_blob(job->d, job->ns, job->tasks[0].desc.digest, IMAGE_BLOB_MAX, &len, &err);
	if (!config) {
		job_fail(job, &err);
		return -1;
	}
	size_t n = job->ntasks - 1;
	struct descriptor *layers = xcalloc(n + 1, sizeof(*layers));
	for (size_t i = 0; i < n; i++)
		layers[i] = job->tasks[i + 1].desc; /* shallow: read during the call */
	job->unpacker = unpacker_new(job->d, job->ns, job->snapshotter, job->lease, layers, n,
				     config, len, unpack_event, unpack_done, job, &err);
	free(layers);
	if (!job->unpacker) {
		error_wrap(&err, "unpack");
		job_fail(job, &err);
		return -1;
	}
	unpacker_start(job->unpacker);
	return job->state == JOB_FINISHED ? -1 : 0;
}

/* ---- blobs ------------------------------------------------------------------ */

static size_t tee_layer(const struct fetch *f);
static void tee_stop(struct fetch *f);

static void task_done(struct task *t, const char *status)
{
	struct pull_job *job = t->job;
	if (t->state == TASK_DONE)
		return;
	if (t->state == TASK_RUNNING)
		job->running--;
	t->state = TASK_DONE;
	job->done++;
	emit_blob(job, status, t->desc.digest, t->desc.size, t->desc.size, false);
	if (job->unpack) {
		if (t == &job->tasks[0]) {
			if (unpack_begin(job) < 0)
				return;
		} else if (job->unpacker) {
			unpacker_blob_ready(job->unpacker, (size_t)(t - job->tasks) - 1);
			if (job->state == JOB_FINISHED)
				return;
		}
	}
	tasks_start(job);
	job_maybe_finish(job);
}

/* Make a blob already on disk visible in the job's namespace. */
static int adopt(struct pull_job *job, const char *digest, json_t *labels, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(job->d->store, true, &txn, err) < 0 ||
	    content_add_to_namespace(job->d->content, txn, job->ns, digest, labels, err) < 0)
		return -1;
	return store_txn_commit(&txn, err);
}

static void fetch_unlink(struct fetch *f)
{
	for (struct fetch **pp = &f->pulls->fetches; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			return;
		}
	}
}

static void fetch_free(struct fetch *f)
{
	fetch_unlink(f);
	if (f->op)
		remote_op_cancel(f->op);
	if (f->w)
		content_writer_close(f->w);
	if (f->tee)
		tee_stop(f);
	buf_release(&f->tee_held);
	while (f->waiters)
		task_leave_fetch(f->waiters);
	free(f->ns);
	free(f);
}

/* The fetch ended: every waiter is done (adopting the blob into its own
 * namespace) or fails with err. */
static void fetch_finish(struct fetch *f, err_t *err)
{
	struct task *waiters = f->waiters;
	f->waiters = NULL;
	f->owner = NULL;
	if (f->tee && f->tee_held.len) {
		/* the transfer ended with bytes the worker has not taken: extract
		 * the layer from the stored blob instead */
		tee_stop(f);
	} else if (f->tee) {
		/* the stream ends with the blob: unpacker_blob_ready (task_done)
		 * closes it, fetch_free must not abandon it */
		unpacker_stream_on_space(f->tee->job->unpacker, tee_layer(f), NULL, NULL);
		f->tee = NULL;
	}
	fetch_free(f);
	for (struct task *t = waiters, *next; t; t = next) {
		next = t->next_waiter;
		t->fetch = NULL;
		t->next_waiter = NULL;
		struct pull_job *job = t->job;
		if (job->state == JOB_FINISHED)
			continue;
		if (err && *err) {
			err_t e = NULL;
			make_error(&e, (*err)->kind, 0, "%s", (*err)->msg);
			job_fail(job, &e);
			continue;
		}
		err_t e = NULL;
		if (adopt(job, t->desc.digest, NULL, &e) < 0) {
			job_fail(job, &e);
			continue;
		}
		task_done(t, "done");
	}
}

static void commit_cb(void *data, json_t *info, err_t *err)
{
	struct fetch *f = data;
	f->w = NULL; /* the writer is gone after commit */
	if (err && *err && (*err)->kind == E_INVALID_ARGUMENT) {
		/* the registry sent other bytes: a retry must fetch them afresh, not
		 * resume an ingest that can never verify */
		err_t e = NULL;
		if (content_ingest_abort(f->pulls->d->content, f->ns, f->ref, &e) < 0)
			err_free(&e);
	}
	fetch_finish(f, err);
}

static void fetch_done_cb(void *data, err_t *err)
{
	struct fetch *f = data;
	f->op = NULL;
	if (err && *err) {
		fetch_finish(f, err);
		return;
	}
	struct content_writer *w = f->w;
	content_writer_commit(w, f->size, f->digest, NULL, commit_cb, f);
}

/* The layer index of the task teeing f into its unpacker. */
static size_t tee_layer(const struct fetch *f)
{
	return (size_t)(f->tee - f->tee->job->tasks) - 1;
}

static void tee_stop(struct fetch *f)
{
	struct unpacker *u = f->tee->job->unpacker;
	size_t i = tee_layer(f);
	f->tee = NULL;
	buf_release(&f->tee_held);
	unpacker_stream_on_space(u, i, NULL, NULL);
	unpacker_stream_abandon(u, i);
}

/* Give the unpacker what it takes of the held bytes; true when none are
 * left. */
static bool tee_drain(struct fetch *f, err_t *err, int *rc)
{
	struct unpacker *u = f->tee->job->unpacker;
	size_t i = tee_layer(f);
	*rc = 0;
	if (!unpacker_stream_alive(u, i)) {
		*rc = -1;
		return make_error(err, E_INTERNAL, 0, "the layer's stream ended"), false;
	}
	/* a write may free room at once (the job flushes to the worker's pipe):
	 * stop only when the job is full, so that it is waiting to say so */
	size_t n;
	while (f->tee_held.len && (n = unpacker_stream_space(u, i)) > 0) {
		if (n > f->tee_held.len)
			n = f->tee_held.len;
		if (unpacker_stream_write(u, i, f->tee_held.data, n, err) < 0) {
			*rc = -1;
			return false;
		}
		buf_consume(&f->tee_held, n);
	}
	return f->tee_held.len == 0;
}

/* The unpacker has room again: hand it the held bytes, then let the
 * transfer go on. */
static void tee_space(void *data)
{
	struct fetch *f = data;
	err_t err = NULL;
	int rc;
	if (!f->tee)
		return;
	if (!tee_drain(f, &err, &rc)) {
		if (rc < 0) {
			/* the worker stopped: the layer is extracted from the stored
			 * blob instead, whose result says what is wrong with it */
			err_free(&err);
			tee_stop(f);
			if (f->op)
				remote_op_resume(f->op);
			return;
		}
		unpacker_stream_on_space(f->tee->job->unpacker, tee_layer(f), tee_space, f);
		return;
	}
	if (f->op)
		remote_op_resume(f->op);
}

static int sink_start(void *data, uint64_t offset, err_t *err)
{
	struct fetch *f = data;
	/* a transfer that starts over cannot go on feeding the unpacker: the
	 * layer is extracted from the blob once it is stored instead */
	if (f->tee && offset != content_writer_offset(f->w))
		tee_stop(f);
	if (offset == 0 && content_writer_offset(f->w) != 0)
		return content_writer_reset(f->w, err);
	return 0;
}

static int sink_write(void *data, const void *buf, size_t len, err_t *err)
{
	struct fetch *f = data;
	int paused = 0;
	if (content_writer_write(f->w, buf, len, err) < 0)
		return -1;
	if (f->tee) {
		/* backpressure: what the worker cannot take now is held, and the
		 * transfer pauses until it has room (returning 1 pauses after these
		 * bytes, which the transfer counts as taken) */
		buf_add(&f->tee_held, buf, len);
		int rc;
		if (!tee_drain(f, err, &rc)) {
			if (rc < 0) {
				/* the worker stopped: extract from the stored blob instead
				 * (its result says what is wrong with the layer) */
				err_free(err);
				tee_stop(f);
			} else {
				unpacker_stream_on_space(f->tee->job->unpacker, tee_layer(f),
							 tee_space, f);
				paused = 1;
			}
		}
	}
	int64_t now = time_mono_ns();
	uint64_t off = content_writer_offset(f->w);
	for (struct task *t = f->waiters; t; t = t->next_waiter) {
		if (now - t->last_progress_ns < PROGRESS_INTERVAL_NS)
			continue;
		t->last_progress_ns = now;
		emit_blob(t->job, "downloading", f->digest, off, f->size, true);
	}
	return paused;
}

static uint64_t sink_offset(void *data)
{
	struct fetch *f = data;
	return content_writer_offset(f->w);
}

static const struct remote_blob_sink fetch_sink = {
	.start = sink_start,
	.write = sink_write,
	.offset = sink_offset,
};

static struct fetch *fetch_find(struct pulls *p, const char *digest)
{
	for (struct fetch *f = p->fetches; f; f = f->next)
		if (strcmp(f->digest, digest) == 0)
			return f;
	return NULL;
}

static void fetch_join(struct fetch *f, struct task *t)
{
	t->fetch = f;
	t->next_waiter = f->waiters;
	f->waiters = t;
}

/* Ingest refs as containerd names them: "layer-sha256:<hex>". */
static void ingest_ref(const struct descriptor *desc, char *out, size_t size)
{
	const char *kind = media_type_is_layer(desc->media_type) ? "layer" : "config";
	snprintf(out, size, "%s-%s", kind, desc->digest);
}

static void task_start(struct task *t)
{
	struct pull_job *job = t->job;
	struct pulls *p = job->pulls;
	struct daemon *d = job->d;
	err_t err = NULL;
	t->state = TASK_RUNNING;
	job->running++;

	/* the lease protects the digest from now on, whoever commits it */
	if (leases_add_resource(d, job->ns, job->lease, "content", t->desc.digest, &err) < 0)
		return job_fail(job, &err);

	uint64_t size = 0;
	int on_disk = content_on_disk(d->content, NULL, t->desc.digest, &size, &err);
	if (on_disk < 0)
		return job_fail(job, &err);
	if (on_disk) {
		if (adopt(job, t->desc.digest, NULL, &err) < 0)
			return job_fail(job, &err);
		return task_done(t, "exists");
	}
	if (job->local) {
		make_error(&err, E_FAILED_PRECONDITION, 0,
			   "the image's blob `%s` is not in the content store: pull the image again",
			   t->desc.digest);
		return job_fail(job, &err);
	}
	struct fetch *f = fetch_find(p, t->desc.digest);
	if (f) {
		fetch_join(f, t);
		emit_blob(job, "waiting", t->desc.digest, 0, t->desc.size, false);
		return;
	}
	char ref[128];
	ingest_ref(&t->desc, ref, sizeof(ref));
	struct content_writer *w = NULL;
	if (content_writer_open(d->content, job->ns, ref, t->desc.digest, t->desc.size, &w,
				&err) < 0) {
		if (err->kind == E_ALREADY_EXISTS) {
			err_free(&err);
			if (adopt(job, t->desc.digest, NULL, &err) < 0)
				return job_fail(job, &err);
			return task_done(t, "exists");
		}
		return job_fail(job, &err);
	}
	if (leases_add_resource(d, job->ns, job->lease, "ingests", ref, &err) < 0) {
		content_writer_close(w);
		return job_fail(job, &err);
	}
	f = xzalloc(sizeof(*f));
	f->pulls = p;
	snprintf(f->digest, sizeof(f->digest), "%s", t->desc.digest);
	f->size = t->desc.size;
	f->ns = xstrdup(job->ns);
	snprintf(f->ref, sizeof(f->ref), "%s", ref);
	f->w = w;
	f->owner = t;
	f->next = p->fetches;
	p->fetches = f;
	fetch_join(f, t);
	uint64_t resumed = content_writer_offset(w);
	size_t layer = (size_t)(t - job->tasks) - 1;
	if (resumed == 0 && job->unpacker && t != &job->tasks[0] &&
	    unpacker_layer_needed(job->unpacker, layer)) {
		int rc = unpacker_stream_begin(job->unpacker, layer, &err);
		if (rc < 0) {
			err_free(&err); /* the unpacker failed the job already */
			return;
		}
		if (rc == 0)
			f->tee = t;
	}
	emit_blob(job, resumed ? "resuming" : "downloading", t->desc.digest, resumed, t->desc.size,
		  false);
	f->op = remotes_fetch_blob(d->remotes, &job->ref, t->desc.digest, t->desc.size, &job->opts,
				   &fetch_sink, f, fetch_done_cb, f);
}

static void tasks_start(struct pull_job *job)
{
	uint64_t limit = job->d->cfg.max_concurrent_downloads_per_pull;
	for (size_t i = 0; i < job->ntasks && job->state == JOB_BLOBS; i++) {
		if (job->running >= limit)
			break;
		if (i > 0 && job->unpack && !job->unpacker)
			break; /* layers wait for the config: their chains decide */
		if (job->tasks[i].state == TASK_WAITING)
			task_start(&job->tasks[i]);
	}
}

/* ---- manifests and indexes ----------------------------------------------- */

static void small_commit_cb(void *data, json_t *info, err_t *err)
{
	struct pull_job *job = data;
	job->small_pending--;
	if (err && *err) {
		err_t e = steal_ptr(err);
		return job_fail(job, &e);
	}
	job_maybe_finish(job);
}

/* Store a manifest or index (already verified bytes) with its gc labels. */
static int store_small(struct pull_job *job, const char *kind, const char *digest,
		       const char *data, size_t len, json_t *labels, err_t *err)
{
	struct daemon *d = job->d;
	if (leases_add_resource(d, job->ns, job->lease, "content", digest, err) < 0)
		return -1;
	char ref[128];
	snprintf(ref, sizeof(ref), "%s-%s", kind, digest);
	struct content_writer *w = NULL;
	if (content_writer_open(d->content, job->ns, ref, digest, len, &w, err) < 0) {
		if ((*err)->kind != E_ALREADY_EXISTS)
			return -1;
		err_free(err);
		return adopt(job, digest, labels, err);
	}
	if (content_writer_offset(w) != 0 && content_writer_reset(w, err) < 0) {
		content_writer_close(w);
		return -1;
	}
	if (content_writer_write(w, data, len, err) < 0) {
		content_writer_abort(w);
		return -1;
	}
	job->small_pending++;
	content_writer_commit(w, len, digest, labels, small_commit_cb, job);
	return 0;
}

/* The tasks of a manifest: its config, then its layers. */
static void make_tasks(struct pull_job *job, struct manifest *man)
{
	job->state = JOB_BLOBS;
	job->ntasks = man->nlayers + 1;
	job->tasks = xcalloc(job->ntasks, sizeof(*job->tasks));
	job->tasks[0].desc = man->config;
	memset(&man->config, 0, sizeof(man->config));
	for (size_t i = 0; i < man->nlayers; i++) {
		job->tasks[i + 1].desc = man->layers[i];
		memset(&man->layers[i], 0, sizeof(man->layers[i]));
	}
	for (size_t i = 0; i < job->ntasks; i++)
		job->tasks[i].job = job;
}

static void start_blobs(struct pull_job *job, struct remote_manifest *m)
{
	err_t err = NULL;
	struct manifest man;
	if (manifest_parse(m->data, m->len, m->media_type, &man, &err) < 0)
		return job_fail(job, &err);
	/* manifest → config and layers, as containerd labels them */
	json_t *labels = json_pack("{s:s}", "containerd.io/gc.ref.content.config", man.config.digest);
	for (size_t i = 0; i < man.nlayers; i++) {
		char key[64];
		snprintf(key, sizeof(key), "containerd.io/gc.ref.content.l.%zu", i);
		json_object_set_new(labels, key, json_string(man.layers[i].digest));
	}
	make_tasks(job, &man);
	manifest_release(&man);
	int rc = store_small(job, "manifest", m->digest, m->data, m->len, labels, &err);
	json_decref(labels);
	if (rc < 0)
		return job_fail(job, &err);
	emit(job, json_pack("{s:s,s:s,s:I}", "status", "manifest", "digest", m->digest, "layers",
			    (json_int_t)(job->ntasks - 1)),
	     false);
	tasks_start(job);
	job_maybe_finish(job);
}

static void manifest_cb(void *data, struct remote_manifest *m, err_t *err)
{
	struct pull_job *job = data;
	job->op = NULL;
	if (err && *err) {
		err_t e = steal_ptr(err);
		remote_manifest_free(m);
		return job_fail(job, &e);
	}
	if (!media_type_is_manifest(m->media_type)) {
		err_t e = NULL;
		make_error(&e, E_INVALID_ARGUMENT, 0,
			   "the index entry `%s` is a `%s`, not an image manifest", m->digest,
			   m->media_type);
		remote_manifest_free(m);
		return job_fail(job, &e);
	}
	start_blobs(job, m);
	remote_manifest_free(m);
}

static void resolve_cb(void *data, struct remote_manifest *m, err_t *err)
{
	struct pull_job *job = data;
	job->op = NULL;
	if (err && *err) {
		err_t e = steal_ptr(err);
		remote_manifest_free(m);
		return job_fail(job, &e);
	}
	err_t e = NULL;
	job->target = json_pack("{s:s,s:s,s:I}", "mediaType", m->media_type, "digest", m->digest,
				"size", (json_int_t)m->len);
	emit(job, json_pack("{s:s,s:s,s:s,s:I}", "status", "resolved", "digest", m->digest,
			    "mediaType", m->media_type, "size", (json_int_t)m->len),
	     false);
	if (media_type_is_manifest(m->media_type)) {
		start_blobs(job, m);
		remote_manifest_free(m);
		return;
	}
	if (!media_type_is_index(m->media_type)) {
		make_error(&e, E_INVALID_ARGUMENT, 0, "`%s` is not an image: media type `%s`",
			   job->name, m->media_type);
		remote_manifest_free(m);
		return job_fail(job, &e);
	}
	struct image_index ix;
	if (index_parse(m->data, m->len, m->media_type, &ix, &e) < 0) {
		remote_manifest_free(m);
		return job_fail(job, &e);
	}
	int pick = platform_select(&ix, &job->platform, &e);
	if (pick < 0) {
		index_release(&ix);
		remote_manifest_free(m);
		return job_fail(job, &e);
	}
	char child[72];
	snprintf(child, sizeof(child), "%s", ix.manifests[pick].digest);
	index_release(&ix);
	/* index → the manifest pulled; the other platforms are not fetched */
	cleanup_json json_t *labels = json_pack("{s:s}", "containerd.io/gc.ref.content.m.0", child);
	int rc = store_small(job, "index", m->digest, m->data, m->len, labels, &e);
	remote_manifest_free(m);
	if (rc < 0)
		return job_fail(job, &e);
	char plat[80];
	platform_format(&job->platform, plat, sizeof(plat));
	emit(job, json_pack("{s:s,s:s,s:s}", "status", "platform", "platform", plat, "digest", child),
	     false);
	job->state = JOB_MANIFEST;
	job->op = remotes_get_manifest(job->d->remotes, &job->ref, child, &job->opts, manifest_cb,
				       job);
}

/* ---- the request ------------------------------------------------------------ */

/* "unpack" (default true, as `ctr pull` and docker pull do) and
 * "snapshotter" (default: the daemon's). */
static int parse_unpack(struct pull_job *job, json_t *body, err_t *err)
{
	json_t *unpack = json_object_get(body, "unpack");
	job->unpack = !unpack || json_is_true(unpack);
	const char *sn = json_get_string(body, "snapshotter");
	if (!sn)
		sn = snapshots_default(job->d);
	if (snapshots_check_snapshotter(job->d, sn, err) < 0) {
		if ((*err)->kind == E_NOT_FOUND)
			(*err)->kind = E_INVALID_ARGUMENT; /* a bad field, not a missing path */
		return -1;
	}
	job->snapshotter = xstrdup(sn);
	return 0;
}

static int parse_request(struct pull_job *job, json_t *body, err_t *err)
{
	static const struct json_field fields[] = {
		{ "ref", JF_STRING, true },
		{ "platform", JF_STRING, false },
		{ "unpack", JF_BOOL, false },
		{ "snapshotter", JF_STRING, false },
		{ "plain_http", JF_BOOL, false },
		{ "auth", JF_OBJECT, false },
		{ NULL },
	};
	static const struct json_field auth_fields[] = {
		{ "username", JF_STRING, false },
		{ "password", JF_STRING, false },
		{ "token", JF_STRING, false },
		{ NULL },
	};
	if (json_check_object(body, "request body", fields, err) < 0)
		return -1;
	if (parse_unpack(job, body, err) < 0)
		return -1;
	if (reference_parse(json_get_string(body, "ref"), &job->ref, err) < 0)
		return -1;
	job->name = reference_string(&job->ref);
	const char *plat = json_get_string(body, "platform");
	if (plat) {
		if (platform_parse(plat, &job->platform, err) < 0)
			return -1;
	} else {
		platform_host(&job->platform);
	}
	job->opts.plain_http = json_is_true(json_object_get(body, "plain_http"));
	json_t *auth = json_object_get(body, "auth");
	if (auth && json_is_object(auth)) {
		if (json_check_object(auth, "`auth`", auth_fields, err) < 0)
			return -1;
		const char *u = json_get_string(auth, "username");
		const char *p = json_get_string(auth, "password");
		const char *t = json_get_string(auth, "token");
		if ((u != NULL) != (p != NULL) || (t && u))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`auth` takes either `username` and `password`, or "
					  "`token`");
		job->opts.username = u ? xstrdup(u) : NULL;
		job->opts.password = p ? xstrdup(p) : NULL;
		job->opts.token = t ? xstrdup(t) : NULL;
	}
	return 0;
}

static bool wants_sse(struct request *r)
{
	const char *accept = request_header(r, "Accept");
	return accept && strstr(accept, "text/event-stream") != NULL;
}

void pull_http_start(struct request *r)
{
	struct daemon *d = r->d;
	err_t err = NULL;
	static const char *const no_query[] = { NULL };
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)))
		return reply_error(r, &err);
	if (!d->remotes || !d->content)
		return reply_errorf(r, E_UNAVAILABLE, "the registry client is not available");
	struct pull_job *job = xzalloc(sizeof(*job));
	job->pulls = d->pulls;
	job->d = d;
	job->ns = xstrdup(request_param(r, "ns"));
	if (parse_request(job, body, &err) < 0) {
		job_free(job);
		return reply_error(r, &err);
	}
	cleanup_json json_t *lease_labels = json_pack("{s:s}", PULL_LEASE_LABEL, job->name);
	json_t *lease = leases_create(d, job->ns, NULL, PULL_LEASE_SECONDS, lease_labels, &err);
	if (!lease) {
		job_free(job);
		return reply_error(r, &err);
	}
	job->lease = xstrdup(json_get_string(lease, "id"));
	json_decref(lease);

	job->sse = wants_sse(r);
	job->next = d->pulls->jobs;
	d->pulls->jobs = job;
	d->pulls->njobs++;
	job->stream = reply_stream(r, 200, job->sse ? "text/event-stream" : "application/x-ndjson",
				   NULL, &job_stream_ops, job);
	log_info("pull started", "namespace=%s ref=%s", job->ns, job->name);
	emit(job, json_pack("{s:s,s:s}", "status", "resolving", "ref", job->name), false);
	job->state = JOB_RESOLVING;
	job->op = remotes_get_manifest(d->remotes, &job->ref, NULL, &job->opts, resolve_cb, job);
}

/* ---- POST .../images/{name}/unpack ---------------------------------------- */

void unpack_http_start(struct request *r)
{
	struct daemon *d = r->d;
	err_t err = NULL;
	static const char *const no_query[] = { NULL };
	static const struct json_field fields[] = {
		{ "snapshotter", JF_STRING, false },
		{ "platform", JF_STRING, false },
		{ NULL },
	};
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	if (r->body.len > 0) {
		if (!(body = request_json(r, &err)) ||
		    json_check_object(body, "request body", fields, &err) < 0)
			return reply_error(r, &err);
	}
	if (!d->content)
		return reply_errorf(r, E_UNAVAILABLE, "the content store is not available");
	struct pull_job *job = xzalloc(sizeof(*job));
	job->pulls = d->pulls;
	job->d = d;
	job->local = true;
	job->unpack = true;
	job->ns = xstrdup(request_param(r, "ns"));
	json_t *img = images_get(d, job->ns, request_param(r, "name"), &err);
	if (!img) {
		job_free(job);
		return reply_error(r, &err);
	}
	job->name = xstrdup(json_get_string(img, "name"));
	job->target = json_incref(json_object_get(img, "target"));
	json_decref(img);
	const char *plat = body ? json_get_string(body, "platform") : NULL;
	if (plat ? platform_parse(plat, &job->platform, &err) < 0
		 : (platform_host(&job->platform), 0)) {
		job_free(job);
		return reply_error(r, &err);
	}
	struct manifest man;
	cleanup_json json_t *empty = json_object();
	if (parse_unpack(job, body ? body : empty, &err) < 0 ||
	    image_resolve_manifest(d, job->ns, job->target, &job->platform, &man, &err) < 0) {
		job_free(job);
		return reply_error(r, &err);
	}
	cleanup_json json_t *lease_labels = json_pack("{s:s}", PULL_LEASE_LABEL, job->name);
	json_t *lease = leases_create(d, job->ns, NULL, PULL_LEASE_SECONDS, lease_labels, &err);
	if (!lease) {
		manifest_release(&man);
		job_free(job);
		return reply_error(r, &err);
	}
	job->lease = xstrdup(json_get_string(lease, "id"));
	json_decref(lease);
	make_tasks(job, &man);
	manifest_release(&man);

	job->sse = wants_sse(r);
	job->next = d->pulls->jobs;
	d->pulls->jobs = job;
	d->pulls->njobs++;
	job->stream = reply_stream(r, 200, job->sse ? "text/event-stream" : "application/x-ndjson",
				   NULL, &job_stream_ops, job);
	log_info("unpack started", "namespace=%s image=%s snapshotter=%s", job->ns, job->name,
		 job->snapshotter);
	emit(job,
	     json_pack("{s:s,s:s,s:s}", "status", "unpacking", "image", job->name, "snapshotter",
		       job->snapshotter),
	     false);
	tasks_start(job);
	job_maybe_finish(job);
}

/* ---- the table ------------------------------------------------------------ */

struct stale {
	json_t *found; /* array of [ns, id] */
	const char *ns;
};

static int stale_lease_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct stale *st = data;
	if (json_object_get(json_object_get(val, "labels"), PULL_LEASE_LABEL))
		json_array_append_new(st->found, json_pack("[s,s]", st->ns, key));
	return 0;
}

/* No pull survives a restart: the leases of pulls that were running when
 * berthd stopped protect nothing anyone will finish. Their ingests stay, so
 * pulling again resumes them. */
static void drop_stale_leases(struct daemon *d)
{
	err_t err = NULL;
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_json json_t *namespaces = namespaces_list(d, NULL, &err);
	if (!namespaces)
		goto out;
	struct stale st = { json_array(), NULL };
	if (store_txn_begin(d->store, false, &txn, &err) < 0) {
		json_decref(st.found);
		goto out;
	}
	size_t i;
	json_t *ns;
	json_array_foreach (namespaces, i, ns) {
		st.ns = json_get_string(ns, "name");
		if (store_foreach(d->store, txn, BUCKET_LEASES, st.ns, stale_lease_cb, &st, &err) <
		    0)
			break;
	}
	mdb_txn_abort(steal_ptr(&txn));
	json_t *pair;
	json_array_foreach (st.found, i, pair) {
		const char *lns = json_string_value(json_array_get(pair, 0));
		const char *id = json_string_value(json_array_get(pair, 1));
		if (leases_delete(d, lns, id, &err) < 0)
			break;
		log_info("dropped the lease of an interrupted pull", "namespace=%s lease=%s", lns,
			 id);
	}
	json_decref(st.found);
out:
	if (err) {
		log_warn("could not drop the leases of interrupted pulls", "err=%s", err->msg);
		err_free(&err);
	}
}

struct pulls *pulls_new(struct daemon *d)
{
	struct pulls *p = xzalloc(sizeof(*p));
	p->d = d;
	drop_stale_leases(d);
	unpack_cleanup(d); /* extractions a killed berthd left */
	return p;
}

size_t pulls_running(const struct pulls *p)
{
	return p ? p->njobs : 0;
}

void pulls_shutdown(struct pulls *p)
{
	if (!p)
		return;
	while (p->jobs) {
		err_t err = NULL;
		make_error(&err, E_UNAVAILABLE, 0,
			   "berthd is shutting down; pull again to resume where this one stopped");
		job_fail(p->jobs, &err);
	}
}

void pulls_free(struct pulls *p)
{
	if (!p)
		return;
	pulls_shutdown(p);
	while (p->fetches)
		fetch_free(p->fetches);
	free(p);
}
