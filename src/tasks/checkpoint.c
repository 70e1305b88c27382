/*
 * tasks/checkpoint: CRIU checkpoints of a live task into the content store,
 * and the way back (containerd's Checkpoint, and Create with a checkpoint).
 *
 * Checkpoint: `criu check` (criu.c), then the shim's `checkpoint` (`runtime
 * checkpoint --image-path <dir>/checkpoint --work-path <dir>/checkpoint-work
 * [--leave-running] ID`), then a short-lived worker process (`berth-worker
 * archive DIR`) writes the image directory as a tar to a pipe the loop
 * watches and removes it; the loop streams the bytes into a content writer. Then the
 * container's spec is stored as a second blob and an OCI index names both,
 * as containerd's client does:
 *
 *   index (application/vnd.oci.image.index.v1+json), labelled
 *     containerd.io/gc.ref.content.{0,1} → its two blobs
 *   ├─ application/vnd.containerd.container.criu.checkpoint.criu.tar
 *   └─ application/vnd.containerd.container.checkpoint.config.v1+json
 *      (containerd stores a protobuf Any, hence its `+proto`; berth's
 *      container spec is JSON)
 *
 * The index gets an image record (name given, or
 * localhost/checkpoint/<id>:<unix time>), which holds everything against
 * garbage collection as any image does; until it exists, a lease does.
 *
 * Restore: the index is checked on the loop (it is small), the CRIU tar is
 * unpacked by the diff worker (confined, as layers are) into
 * <dir>/checkpoint, and the shim is told to restore from it at `start`.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "containers/containers.h"
#include "content/content.h"
#include "core/digest.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/util.h"
#include "diff/diff.h"
#include "events/events.h"
#include "gc/gc.h"
#include "images/images.h"
#include "leases/leases.h"
#include "tasks/internal.h"

#define INDEX_MAX (4 * 1024 * 1024) /* a checkpoint index is a few hundred bytes */
#define LEASE_SECONDS 3600.0	    /* protects the blobs until the image record exists */

enum ckpt_state {
	CK_CHECK,   /* criu check in flight */
	CK_DUMP,    /* the shim runs runtime checkpoint */
	CK_ARCHIVE, /* the worker tars the image into a content writer */
	CK_STORE,   /* blob commits in flight */
};

struct ckpt_job {
	struct ckpt_job *next;
	struct tasks *ts;
	enum ckpt_state state;
	char *ns, *id, *dir;
	bool exit;
	char *image;	/* the image record's name */
	json_t *labels; /* its labels */
	tasks_cb cb;	/* NULL once answered */
	void *data;
	char *lease;
	json_t *manifests; /* descriptors stored so far */
	json_t *container;
	/* the archive worker */
	pid_t pid;
	int out_fd, err_fd;
	struct event *out_ev;
	struct content_writer *w;
	bool eof, exited;
	int wstatus;
	bool committing; /* a content commit will call back */
	bool cancelled;	 /* shutdown: freed when the commit calls back */
};

/* ---- helpers ------------------------------------------------------------------ */

static void clear_checkpointing(struct ckpt_job *j)
{
	struct task *t = j->ts ? task_find(j->ts, j->ns, j->id) : NULL;
	if (t)
		t->checkpointing = false;
}

static void job_unlink(struct ckpt_job *j)
{
	if (!j->ts)
		return;
	for (struct ckpt_job **p = &j->ts->ckpts; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
}

static void job_free(struct ckpt_job *j)
{
	if (j->out_ev)
		event_free(j->out_ev);
	if (j->out_fd >= 0)
		close(j->out_fd);
	if (j->err_fd >= 0)
		close(j->err_fd);
	json_decref(j->labels);
	json_decref(j->manifests);
	json_decref(j->container);
	free(j->lease);
	free(j->image);
	free(j->ns);
	free(j->id);
	free(j->dir);
	free(j);
}

/* Answer (result borrowed, or *err) and forget the job. */
static void job_finish(struct ckpt_job *j, json_t *result, err_t *err)
{
	struct daemon *d = j->ts ? j->ts->d : NULL;
	clear_checkpointing(j);
	job_unlink(j);
	if (err && *err) {
		log_info("task checkpoint failed", "namespace=%s id=%s error=%s", j->ns, j->id,
			 (*err)->msg);
		/* a partial image is of no use (checkpoint-work keeps CRIU's logs) */
		cleanup_free char *image = xasprintf("%s/checkpoint", j->dir);
		if (j->state == CK_DUMP || j->state == CK_ARCHIVE)
			rm_tree(image);
		if (d && j->lease) {
			/* what was stored is garbage now: the collector takes it */
			cleanup_err err_t lerr = NULL;
			if (leases_delete(d, j->ns, j->lease, &lerr) == 0)
				gc_schedule(d->gc);
		}
	}
	if (j->cb)
		j->cb(j->data, result, err);
	j->cb = NULL;
	job_free(j);
}

static void job_fail(struct ckpt_job *j, enum err_kind kind, const char *fmt, ...)
    PRINTF_LIKE(3, 4);
static void job_fail(struct ckpt_job *j, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	err_t err = NULL;
	make_error(&err, kind, 0, "%s", msg);
	job_finish(j, NULL, &err);
	err_free(&err);
}


/* ---- storing ------------------------------------------------------------------ */

static void store_next(struct ckpt_job *j);

static void stored_cb(void *data, json_t *info, err_t *err)
{
	struct ckpt_job *j = data;
	j->committing = false;
	if (j->cancelled) {
		job_free(j);
		return;
	}
	if (err && *err)
		return job_finish(j, NULL, err);
	store_next(j);
}

/* Store bytes as a blob of ns (held by the job's lease) with labels, then
 * store_next(). */
static void put_blob(struct ckpt_job *j, const char *media_type, const char *bytes, size_t len,
		     json_t *labels)
{
	struct daemon *d = j->ts->d;
	char digest[DIGEST_STRLEN + 1];
	digest_buffer(bytes, len, digest);
	json_array_append_new(j->manifests, json_pack("{s:s,s:s,s:I}", "mediaType", media_type,
						      "digest", digest, "size", (json_int_t)len));
	err_t err = NULL;
	if (leases_add_resource(d, j->ns, j->lease, "content", digest, &err) < 0)
		return job_finish(j, NULL, &err);
	cleanup_free char *ref = xasprintf("checkpoint-%s", digest_hex(digest));
	struct content_writer *w = NULL;
	if (content_writer_open(d->content, j->ns, ref, digest, len, &w, &err) < 0) {
		if (err->kind != E_ALREADY_EXISTS)
			return job_finish(j, NULL, &err);
		err_free(&err);
		if (content_add_to_namespace(d->content, NULL, j->ns, digest, labels, &err) < 0)
			return job_finish(j, NULL, &err);
		return store_next(j);
	}
	if ((content_writer_offset(w) != 0 && content_writer_reset(w, &err) < 0) ||
	    content_writer_write(w, bytes, len, &err) < 0) {
		content_writer_abort(w);
		return job_finish(j, NULL, &err);
	}
	j->committing = true;
	content_writer_commit(w, len, digest, labels, stored_cb, j);
}

/* After the CRIU tar: the spec, then the index, then the image record. */
static void store_next(struct ckpt_job *j)
{
	struct daemon *d = j->ts->d;
	size_t n = json_array_size(j->manifests);
	if (n == 1) {
		json_t *spec = json_object_get(j->container, "spec");
		cleanup_free char *text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
		return put_blob(j, CKPT_MEDIA_CONFIG, text, strlen(text), NULL);
	}
	if (n == 2) {
		json_t *c = j->container;
		json_t *rt = json_object_get(c, "runtime");
		char now[40];
		time_format_rfc3339(time_now_ns(), now);
		cleanup_json json_t *index = json_pack(
		    "{s:i,s:s,s:O,s:{s:s,s:s,s:s}}", "schemaVersion", 2, "mediaType",
		    CKPT_MEDIA_INDEX, "manifests", j->manifests, "annotations",
		    "io.containerd.checkpoint.container", j->id, "io.containerd.checkpoint.runtime",
		    json_get_string(rt, "name") ? json_get_string(rt, "name") : "runc",
		    "org.opencontainers.image.created", now);
		json_t *ann = json_object_get(index, "annotations");
		if (json_get_string(c, "image"))
			json_object_set_new(ann, "image.name",
					    json_string(json_get_string(c, "image")));
		if (json_get_string(c, "snapshotter"))
			json_object_set_new(ann, "io.containerd.checkpoint.snapshotter",
					    json_string(json_get_string(c, "snapshotter")));
		cleanup_json json_t *labels =
		    json_pack("{s:s,s:s}", GC_REF_CONTENT_PREFIX ".0",
			      json_get_string(json_array_get(j->manifests, 0), "digest"),
			      GC_REF_CONTENT_PREFIX ".1",
			      json_get_string(json_array_get(j->manifests, 1), "digest"));
		cleanup_free char *text = json_dumps(index, JSON_COMPACT);
		return put_blob(j, CKPT_MEDIA_INDEX, text, strlen(text), labels);
	}
	/* the index is stored: name it */
	json_t *desc = json_array_get(j->manifests, 2);
	err_t err = NULL;
	bool created;
	cleanup_json json_t *img = images_put(d, j->ns, j->image, desc, j->labels, &created, &err);
	if (!img)
		return job_finish(j, NULL, &err);
	if (leases_delete(d, j->ns, j->lease, &err) < 0) {
		log_warn("cannot delete a checkpoint's lease", "lease=%s error=%s", j->lease,
			 err->msg);
		err_free(&err);
	}
	free(j->lease);
	j->lease = NULL;
	cleanup_json json_t *res = json_deep_copy(desc);
	events_publish(d->events, j->ns, "/tasks/checkpointed",
		       json_pack("{s:s,s:O,s:s}", "container_id", j->id, "checkpoint", res, "image",
				 j->image));
	log_info("task checkpointed", "namespace=%s id=%s digest=%s image=%s exit=%d", j->ns, j->id,
		 json_get_string(res, "digest"), j->image, (int)j->exit);
	job_finish(j, res, NULL);
}

static void tar_committed_cb(void *data, json_t *info, err_t *err)
{
	struct ckpt_job *j = data;
	j->committing = false;
	if (j->cancelled) {
		job_free(j);
		return;
	}
	if (err && *err)
		return job_finish(j, NULL, err);
	const char *digest = json_get_string(info, "digest");
	json_array_append_new(j->manifests,
			      json_pack("{s:s,s:s,s:O}", "mediaType", CKPT_MEDIA_CRIU, "digest",
					digest, "size", json_object_get(info, "size")));
	err_t lerr = NULL;
	if (leases_add_resource(j->ts->d, j->ns, j->lease, "content", digest, &lerr) < 0)
		return job_finish(j, NULL, &lerr);
	store_next(j);
}

/* The worker's stderr, for the message. */
static char *worker_words(struct ckpt_job *j)
{
	char buf[1024];
	ssize_t n = j->err_fd >= 0 ? read(j->err_fd, buf, sizeof(buf) - 1) : -1;
	if (n <= 0)
		return WIFSIGNALED(j->wstatus)
			   ? xasprintf("killed by signal %d", WTERMSIG(j->wstatus))
			   : xasprintf("exit status %d", WEXITSTATUS(j->wstatus));
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return xstrdup(buf);
}

static void archive_maybe_done(struct ckpt_job *j)
{
	if (!j->eof || !j->exited)
		return;
	struct content_writer *w = steal_ptr(&j->w);
	if (!WIFEXITED(j->wstatus) || WEXITSTATUS(j->wstatus) != 0) {
		content_writer_abort(w);
		cleanup_free char *why = worker_words(j);
		return job_fail(j, E_INTERNAL, "archive the checkpoint of `%s`: %s", j->id, why);
	}
	j->state = CK_STORE;
	j->committing = true;
	content_writer_commit(w, 0, NULL, NULL, tar_committed_cb, j);
}

static void archive_exit_cb(pid_t pid, int status, void *arg)
{
	struct ckpt_job *j = arg;
	j->exited = true;
	j->wstatus = status;
	j->pid = 0;
	archive_maybe_done(j);
}

static void archive_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ckpt_job *j = arg;
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		err_t err = NULL;
		if (content_writer_write(j->w, buf, (size_t)n, &err) == 0)
			return;
		/* the store refused (disk full...): stop the worker */
		child_unwatch(j->ts->d, j->pid);
		kill(j->pid, SIGKILL);
		j->pid = 0;
		content_writer_abort(steal_ptr(&j->w));
		error_wrap(&err, "store the checkpoint of `%s`", j->id);
		return job_finish(j, NULL, &err);
	}
	event_del(j->out_ev);
	j->eof = true;
	archive_maybe_done(j);
}

static void start_archive(struct ckpt_job *j)
{
	struct daemon *d = j->ts->d;
	err_t err = NULL;
	cleanup_free char *image = xasprintf("%s/checkpoint", j->dir);
	cleanup_free char *ref =
	    xasprintf("checkpoint-%s-%s-%lld", j->ns, j->id, (long long)time_now_ns());
	if (!d->worker_bin) {
		make_error(&err, E_FAILED_PRECONDITION, 0,
			   "berth-worker is not installed beside berthd nor in PATH");
		return job_finish(j, NULL, &err);
	}
	if (content_writer_open(d->content, j->ns, ref, NULL, 0, &j->w, &err) < 0)
		return job_finish(j, NULL, &err);
	int out[2], errp[2];
	if (pipe2(out, O_CLOEXEC) < 0)
		goto fail;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		goto fail;
	}
	char *argv[] = { d->worker_bin, "archive", image, NULL };
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(errp[1], 2);
		/* none of berthd's sockets, LMDB or shim connections (the raw
		 * syscall: sanitizer runtimes swallow close_range(3)) */
		syscall(SYS_close_range, 3U, ~0U, 0U);
		execv(argv[0], argv);
		dprintf(2, "start `%s`: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int e = errno;
	close(out[1]);
	close(errp[1]);
	if (pid < 0) {
		close(out[0]);
		close(errp[0]);
		errno = e;
		goto fail;
	}
	j->state = CK_ARCHIVE;
	j->pid = pid;
	j->out_fd = out[0];
	j->err_fd = errp[0];
	fcntl(j->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(j->err_fd, F_SETFL, O_NONBLOCK);
	j->out_ev = event_new(d->base, j->out_fd, EV_READ | EV_PERSIST, archive_read_cb, j);
	event_add(j->out_ev, NULL);
	child_watch(d, pid, archive_exit_cb, j);
	return;
fail:
	content_writer_abort(steal_ptr(&j->w));
	make_error(&err, E_INTERNAL, errno, "start the checkpoint archive worker");
	job_finish(j, NULL, &err);
}

/* ---- the dump ------------------------------------------------------------------- */

/* runc says "criu failed: type DUMP errno 0" and names its log: CRIU's
 * own Error lines there say why. The tail of the log is enough. */
static void add_criu_log(struct ckpt_job *j, err_t *err)
{
	cleanup_free char *path = xasprintf("%s/checkpoint-work/dump.log", j->dir);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return;
	char buf[16384];
	off_t off = st.st_size > (off_t)sizeof(buf) - 1 ? st.st_size - (off_t)sizeof(buf) + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, off);
	if (n <= 0)
		return;
	buf[n] = '\0';
	char *first = strstr(buf, "Error (");
	if (!first)
		return;
	cleanup_free char *why = criu_reason(first, 0);
	char *msg = (*err)->msg;
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	(*err)->msg = xasprintf("%s (criu: %s)", msg, why);
	free(msg);
}

static void dumped_cb(void *data, json_t *result, err_t *err)
{
	struct ckpt_job *j = data;
	if (err && *err) {
		if ((*err)->kind == E_FAILED_PRECONDITION)
			add_criu_log(j, err);
		return job_finish(j, NULL, err);
	}
	struct daemon *d = j->ts->d;
	err_t e = NULL;
	j->container = containers_get(d, j->ns, j->id, &e);
	if (!j->container)
		return job_finish(j, NULL, &e);
	cleanup_json json_t *labels = json_pack("{s:s}", "berth.checkpoint.container", j->id);
	cleanup_json json_t *lease = leases_create(d, j->ns, NULL, LEASE_SECONDS, labels, &e);
	if (!lease)
		return job_finish(j, NULL, &e);
	j->lease = xstrdup(json_get_string(lease, "id"));
	start_archive(j);
}

/* Why t cannot be checkpointed now, or NULL; mine: the caller's own
 * checkpoint is the one in progress. */
static const char *not_checkpointable(const struct task *t, bool mine)
{
	const char *why = task_not_ready(t);
	if (why)
		return why;
	if (t->starting)
		return "is starting";
	if (t->checkpointing && !mine)
		return "is being checkpointed already";
	if (t->status != TS_RUNNING && t->status != TS_PAUSED)
		return t->status == TS_CREATED ? "is created, not running or paused"
					       : "is stopped, not running or paused";
	return NULL;
}

static void checked_cb(void *data, err_t *err)
{
	struct ckpt_job *j = data;
	if (err && *err)
		return job_finish(j, NULL, err);
	struct task *t = task_find(j->ts, j->ns, j->id);
	if (!t)
		return job_fail(j, E_NOT_FOUND, "container `%s` has no task", j->id);
	const char *why = not_checkpointable(t, true);
	if (why)
		return job_fail(j, E_FAILED_PRECONDITION, "the task of `%s` %s", j->id, why);
	cleanup_free char *image = xasprintf("%s/checkpoint", t->dir);
	cleanup_free char *work = xasprintf("%s/checkpoint-work", t->dir);
	rm_tree(image);
	rm_tree(work);
	if (mkdir(work, 0700) < 0)
		return job_fail(j, E_INTERNAL, "create `%s`: %s", work, strerror(errno));
	j->state = CK_DUMP;
	shim_call(
	    t->conn, "checkpoint",
	    json_pack("{s:s,s:s,s:b}", "image_path", image, "work_path", work, "exit", j->exit),
	    dumped_cb, j);
}

void tasks_checkpoint(struct daemon *d, const char *ns, const char *id, bool exit,
		      const char *image, json_t *labels, tasks_cb cb, void *data)
{
	struct tasks *ts = d->tasks;
	struct task *t = task_find(ts, ns, id);
	if (!t)
		return task_fail_later(d, cb, data, E_NOT_FOUND, "container `%s` has no task", id);
	const char *why = not_checkpointable(t, false);
	if (why)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION, "the task of `%s` %s",
				       id, why);
	err_t err = NULL;
	char *name;
	if (image) {
		name = image_name_normalize(image, &err);
	} else {
		/* localhost/checkpoint/<id>:<seconds>.<nanoseconds> */
		int64_t now = time_now_ns();
		cleanup_free char *lower = xstrdup(id);
		for (char *p = lower; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		cleanup_free char *want =
		    xasprintf("localhost/checkpoint/%s:%lld.%09lld", lower,
			      (long long)(now / 1000000000), (long long)(now % 1000000000));
		name = image_name_normalize(want, &err);
		if (!name) {
			/* an id that is no repository name */
			err_free(&err);
			free(want);
			want =
			    xasprintf("localhost/checkpoint:%lld.%09lld",
				      (long long)(now / 1000000000), (long long)(now % 1000000000));
			name = image_name_normalize(want, &err);
		}
	}
	if (!name)
		return task_answer_later(d, cb, data, NULL, &err);
	struct ckpt_job *j = xzalloc(sizeof(*j));
	j->ts = ts;
	j->state = CK_CHECK;
	j->ns = xstrdup(ns);
	j->id = xstrdup(id);
	j->dir = xstrdup(t->dir);
	j->exit = exit;
	j->image = name;
	j->labels = labels ? json_incref(labels) : NULL;
	j->cb = cb;
	j->data = data;
	j->manifests = json_array();
	j->out_fd = j->err_fd = -1;
	j->next = ts->ckpts;
	ts->ckpts = j;
	t->checkpointing = true;
	criu_check(ts, checked_cb, j);
}

void ckpt_release(struct tasks *ts)
{
	while (ts->ckpts) {
		struct ckpt_job *j = ts->ckpts;
		ts->ckpts = j->next;
		if (j->pid) {
			child_unwatch(ts->d, j->pid);
			kill(j->pid, SIGKILL);
		}
		if (j->w)
			content_writer_abort(steal_ptr(&j->w));
		j->ts = NULL;
		if (j->cb)
			task_fail(j->cb, j->data, E_UNAVAILABLE, "berthd is shutting down");
		j->cb = NULL;
		if (j->committing)
			j->cancelled = true; /* the store answers its commit, then it goes */
		else
			job_free(j);
	}
}

/* ---- restore -------------------------------------------------------------------- */

char *ckpt_restore_source(struct daemon *d, const char *ns, const char *checkpoint, err_t *err)
{
	cleanup_json json_t *info = content_info(d->content, ns, checkpoint, err);
	if (!info) {
		if ((*err)->kind == E_NOT_FOUND) {
			err_free(err);
			make_error(err, E_NOT_FOUND, 0,
				   "checkpoint `%s` is not in the content store", checkpoint);
		}
		return NULL;
	}
	uint64_t size = 0;
	cleanup_close int fd = content_open(d->content, ns, checkpoint, &size, err);
	if (fd < 0)
		return NULL;
	const char *want = "an OCI index naming a `" CKPT_MEDIA_CRIU "` blob";
	if (size > INDEX_MAX) {
		make_error(err, E_INVALID_ARGUMENT, 0,
			   "`%s` is not a checkpoint (%s): it is %llu bytes", checkpoint, want,
			   (unsigned long long)size);
		return NULL;
	}
	cleanup_free char *bytes = xmalloc(size + 1);
	ssize_t n = pread(fd, bytes, size, 0);
	if (n != (ssize_t)size) {
		make_error(err, E_INTERNAL, n < 0 ? errno : EIO, "read `%s`", checkpoint);
		return NULL;
	}
	json_error_t jerr;
	cleanup_json json_t *index = json_loadb(bytes, size, 0, &jerr);
	json_t *mans = json_object_get(index, "manifests");
	const char *mt = json_get_string(index, "mediaType");
	if (!json_is_object(index) || !json_is_array(mans) ||
	    (mt && strcmp(mt, CKPT_MEDIA_INDEX))) {
		make_error(err, E_INVALID_ARGUMENT, 0, "`%s` is not a checkpoint (%s)", checkpoint,
			   want);
		return NULL;
	}
	size_t i;
	json_t *m;
	const char *tar = NULL;
	json_array_foreach(mans, i, m) {
		const char *t = json_get_string(m, "mediaType");
		if (t && !strcmp(t, CKPT_MEDIA_CRIU))
			tar = json_get_string(m, "digest");
	}
	if (!tar || digest_validate(tar, err) < 0) {
		err_free(err);
		make_error(err, E_INVALID_ARGUMENT, 0, "`%s` is not a checkpoint (%s)", checkpoint,
			   want);
		return NULL;
	}
	cleanup_json json_t *tinfo = content_info(d->content, ns, tar, err);
	if (!tinfo) {
		error_wrap(err, "the CRIU image of checkpoint `%s`", checkpoint);
		return NULL;
	}
	return xstrdup(tar);
}

static void unpacked_cb(void *data, const struct diff_result *res, err_t *err)
{
	struct task *t = data;
	t->unpack = NULL;
	ckpt_unpacked_cb cb = t->unpack_cb;
	t->unpack_cb = NULL;
	if (err && *err) {
		error_wrap(err, "unpack the CRIU image of the checkpoint");
		return cb(t, err);
	}
	log_debug("checkpoint unpacked", "id=%s entries=%llu", t->id,
		  (unsigned long long)res->entries);
	cb(t, NULL);
}

int ckpt_unpack(struct task *t, const char *tar_digest, ckpt_unpacked_cb cb, err_t *err)
{
	struct daemon *d = t->ts->d;
	uint64_t size;
	cleanup_close int fd = content_open(d->content, t->ns, tar_digest, &size, err);
	if (fd < 0)
		return -1;
	cleanup_free char *dir = xasprintf("%s/checkpoint", t->dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return make_error(err, E_INTERNAL, errno, "create `%s`", dir);
	struct diff_apply_opts o = {
	    .dir = dir,
	    .whiteouts = DIFF_WHITEOUTS_DELETE,
	    .src_fd = fd,
	};
	t->unpack_cb = cb;
	t->unpack = diff_apply_start(d, &o, unpacked_cb, NULL, t, err);
	return t->unpack ? 0 : -1;
}

void ckpt_dir_remove(const char *task_dir)
{
	static const char *const dirs[] = {"checkpoint", "checkpoint-work", "restore-work"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		cleanup_free char *p = xasprintf("%s/%s", task_dir, dirs[i]);
		rm_tree(p);
	}
}
