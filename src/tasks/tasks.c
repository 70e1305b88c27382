/* tasks: the table of tasks and their lifecycle (see tasks.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "containers/containers.h"
#include "core/log.h"
#include "core/util.h"
#include "diff/diff.h"
#include "events/events.h"
#include "snapshots/snapshots.h"
#include "tasks/internal.h"

const char *const task_status_names[] = {
	[TS_CREATING] = "created", [TS_CREATED] = "created", [TS_RUNNING] = "running",
	[TS_PAUSED] = "paused",    [TS_STOPPED] = "stopped", [TS_UNKNOWN] = "unknown",
	[TS_DELETING] = "stopped",
};

struct task *task_find(struct tasks *ts, const char *ns, const char *id)
{
	for (struct task *t = ts ? ts->list : NULL; t; t = t->next)
		if (!strcmp(t->id, id) && !strcmp(t->ns, ns))
			return t;
	return NULL;
}

struct task *task_new(struct tasks *ts, const char *ns, const char *id)
{
	struct task *t = xzalloc(sizeof(*t));
	t->ts = ts;
	t->ns = xstrdup(ns);
	t->id = xstrdup(id);
	t->dir = task_dir_path(ts->d, ns, id);
	t->next = ts->list;
	ts->list = t;
	ts->count++;
	return t;
}

void task_unlink_free(struct task *t)
{
	struct tasks *ts = t->ts;
	for (struct task **p = &ts->list; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			ts->count--;
			break;
		}
	shim_conn_free(t->conn);
	if (t->unpack)
		diff_job_cancel(t->unpack);
	free(t->restore_from);
	json_decref(t->create_io);
	texec_free_all(t);
	oom_watch_free(t->oom);
	if (t->reconnect)
		event_free(t->reconnect);
	free(t->cgroup_path);
	json_decref(t->create_event);
	json_decref(t->stdio);
	free(t->runtime);
	free(t->runtime_root);
	free(t->ns);
	free(t->id);
	free(t->dir);
	free(t);
}

json_t *task_json(const struct task *t)
{
	json_t *j = json_pack("{s:s,s:i,s:s}", "id", t->id, "pid", (int)t->pid, "status",
			      task_status_names[t->status]);
	if (t->status == TS_STOPPED || t->status == TS_DELETING) {
		json_object_set_new(j, "exit_status", json_integer(t->exit_status));
		json_object_set_new(j, "exited_at", json_string(t->exited_at));
	}
	json_object_set_new(j, "terminal", json_boolean(t->terminal));
	if (t->stdio)
		json_object_update(j, t->stdio);
	return j;
}

void task_set_stdio(struct task *t, json_t *io)
{
	json_decref(t->stdio);
	t->stdio = json_object();
	static const char *const keys[] = { "stdin", "stdout", "stderr" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *v = json_object_get(io, keys[i]);
		if (json_is_string(v))
			json_object_set(t->stdio, keys[i], v);
	}
	t->terminal = json_is_true(json_object_get(io, "terminal"));
}

static json_t *exit_json(const struct task *t)
{
	return json_pack("{s:i,s:s}", "exit_status", t->exit_status, "exited_at", t->exited_at);
}

void task_fail(tasks_cb cb, void *data, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	err_t err = NULL;
	make_error(&err, kind, 0, "%s", msg);
	cb(data, NULL, &err);
	err_free(&err);
}

/* Answers that must not run before the caller returns go through here. */
struct later {
	tasks_cb cb;
	void *data;
	json_t *result;
	err_t err;
};

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;
	l->cb(l->data, l->err ? NULL : l->result, l->err ? &l->err : NULL);
	json_decref(l->result);
	err_free(&l->err);
	free(l);
}

void task_answer_later(struct daemon *d, tasks_cb cb, void *data, json_t *result, err_t *err)
{
	struct later *l = xzalloc(sizeof(*l));
	l->cb = cb;
	l->data = data;
	l->result = result;
	if (err) {
		l->err = *err;
		*err = NULL;
	}
	event_base_once(d->base, -1, EV_TIMEOUT, later_cb, l, NULL);
}

void task_fail_later(struct daemon *d, tasks_cb cb, void *data, enum err_kind kind,
		       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	err_t err = NULL;
	make_error(&err, kind, 0, "%s", msg);
	task_answer_later(d, cb, data, NULL, &err);
}

static void no_task(struct daemon *d, tasks_cb cb, void *data, const char *id)
{
	task_fail_later(d, cb, data, E_NOT_FOUND, "container `%s` has no task", id);
}

/* ---- exits ------------------------------------------------------------------ */

static void answer_waiters(struct task *t)
{
	struct waiter *w = t->waiters;
	t->waiters = NULL;
	while (w) {
		struct waiter *next = w->next;
		cleanup_json json_t *res = exit_json(t);
		w->cb(w->data, res, NULL);
		free(w);
		w = next;
	}
}

void task_fail_waiters(struct task *t, enum err_kind kind, const char *msg)
{
	struct waiter *w = t->waiters;
	t->waiters = NULL;
	while (w) {
		struct waiter *next = w->next;
		task_fail(w->cb, w->data, kind, "%s", msg);
		free(w);
		w = next;
	}
}

static void publish_exit(struct task *t)
{
	if (t->exit_seen)
		return;
	events_publish(t->ts->d->events, t->ns, "/tasks/exit",
		       json_pack("{s:s,s:s,s:i,s:i,s:s}", "container_id", t->id, "id", t->id, "pid",
				 (int)t->pid, "exit_status", t->exit_status, "exited_at",
				 t->exited_at));
	t->exit_seen = true;
	cleanup_free char *seen = xasprintf("%s/exit.seen", t->dir);
	int fd = open(seen, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

/* The init process has exited (shim notification, state answer or exit.json). */
void task_exited(struct task *t, json_t *params)
{
	if (t->status == TS_STOPPED || t->status == TS_DELETING)
		return;
	/* an OOM kill (of init or another process) is reported before the exit */
	oom_watch_check(t->oom);
	oom_watch_free(t->oom);
	t->oom = NULL;
	json_t *st = json_object_get(params, "exit_status");
	const char *at = json_get_string(params, "exited_at");
	t->exit_status = json_is_integer(st) ? (int)json_integer_value(st) : 255;
	snprintf(t->exited_at, sizeof(t->exited_at), "%s", at ? at : "");
	if (!at) {
		char now[40];
		time_format_rfc3339(time_now_ns(), now);
		snprintf(t->exited_at, sizeof(t->exited_at), "%s", now);
	}
	t->status = TS_STOPPED;
	log_info("task exited", "namespace=%s id=%s pid=%d status=%d", t->ns, t->id, (int)t->pid,
		 t->exit_status);
	if (t->starting) {
		t->exit_deferred = true; /* /tasks/start goes out first */
		return;
	}
	publish_exit(t);
	answer_waiters(t);
}

json_t *task_read_json(const struct task *t, const char *name)
{
	cleanup_free char *path = xasprintf("%s/%s", t->dir, name);
	size_t len;
	cleanup_free char *data = read_file(path, &len);
	json_error_t jerr;
	json_t *j = data ? json_loadb(data, len, 0, &jerr) : NULL;
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* exit.json, if the shim wrote one. */
bool task_read_exit_file(struct task *t)
{
	cleanup_json json_t *j = task_read_json(t, "exit.json");
	if (!j)
		return false;
	json_t *pid = json_object_get(j, "pid");
	if (json_is_integer(pid) && !t->pid)
		t->pid = (pid_t)json_integer_value(pid);
	task_exited(t, j);
	return true;
}

static void conn_event_cb(void *data, const char *name, json_t *params)
{
	struct task *t = data;
	if (!strcmp(name, "exit") && json_get_string(params, "exec_id"))
		texec_exited(t, params);
	else if (!strcmp(name, "exit"))
		task_exited(t, params);
	else
		log_debug("shim notification", "id=%s event=%s", t->id, name);
}

static void conn_closed_cb(void *data)
{
	struct task *t = data;
	if (t->status == TS_DELETING)
		return;
	shim_conn_free(t->conn);
	t->conn = NULL;
	if (t->status == TS_STOPPED)
		return;
	if (task_read_exit_file(t))
		return;
	log_warn("the shim of a task went away", "namespace=%s id=%s", t->ns, t->id);
	t->status = TS_UNKNOWN;
	task_fail_waiters(t, E_UNAVAILABLE, "the shim of the task went away");
}

static const struct shim_conn_ops conn_ops = {
	.event = conn_event_cb,
	.closed = conn_closed_cb,
};

int task_connect(struct task *t, err_t *err)
{
	cleanup_free char *sock = xasprintf("%s/shim.sock", t->dir);
	t->conn = shim_connect(t->ts->d, sock, &conn_ops, t, err);
	return t->conn ? 0 : -1;
}

/* ---- create ----------------------------------------------------------------- */

static int write_json_file(const char *dir, const char *name, json_t *j, err_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, name);
	cleanup_free char *s = json_dumps(j, JSON_COMPACT);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return make_error(err, E_INTERNAL, errno, "create `%s`", path);
	size_t len = strlen(s);
	ssize_t n = write(fd, s, len);
	int e = errno;
	close(fd);
	if (n != (ssize_t)len)
		return make_error(err, E_INTERNAL, n < 0 ? e : EIO, "write `%s`", path);
	return 0;
}

static int check_fifo(json_t *io, const char *key, err_t *err)
{
	json_t *v = json_object_get(io, key);
	if (!v || json_is_null(v))
		return 0;
	const char *p = json_string_value(v);
	if (!p || p[0] != '/')
		return make_error(err, E_INVALID_ARGUMENT, 0, "`%s` must be an absolute path", key);
	struct stat st;
	if (stat(p, &st) < 0)
		return make_error(err, E_INVALID_ARGUMENT, errno, "`%s` `%s`", key, p);
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISREG(st.st_mode))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`%s` `%s` is not a FIFO, a character device or a file", key, p);
	return 0;
}

static void create_fail(struct task *t, err_t *err)
{
	cleanup_err err_t rmerr = NULL;
	if (task_dir_remove(t->dir, &rmerr) < 0)
		log_warn("cannot remove a task directory", "dir=%s error=%s", t->dir, rmerr->msg);
	tasks_cb cb = t->create_cb;
	void *data = t->create_data;
	task_unlink_free(t);
	cb(data, NULL, err);
}

static void publish_start(struct task *t)
{
	events_publish(t->ts->d->events, t->ns, "/tasks/start",
		       json_pack("{s:s,s:i}", "container_id", t->id, "pid", (int)t->pid));
	log_debug("task started", "namespace=%s id=%s", t->ns, t->id);
}

/* The answer of a create with `start`: running (or already exited, then
 * /tasks/exit follows /tasks/start). */
static void started_at_create_cb(void *data, json_t *result, err_t *err)
{
	struct task *t = data;
	if (!t->create_cb) { /* shutdown: tasks_free answered the create */
		t->starting = false;
		return;
	}
	/* an exit seen here (starting is still set) is published after the start */
	if (err && *err) {
		/* the shim went away at once: its exit.json tells, else unknown */
		if (t->status == TS_CREATING && !task_read_exit_file(t))
			t->status = TS_UNKNOWN;
	} else if (t->status == TS_CREATING) {
		t->status = TS_RUNNING;
		if (!strcmp(json_get_string(result, "status") ?: "", "stopped"))
			task_exited(t, result);
	}
	t->starting = false;
	publish_start(t);
	tasks_cb cb = t->create_cb;
	void *cdata = t->create_data;
	t->create_cb = NULL;
	cleanup_json json_t *res = task_json(t);
	if (t->status == TS_STOPPED) /* it ran and exited already */
		json_object_set_new(res, "status", json_string("running"));
	cb(cdata, res, NULL);
	if (t->exit_deferred) {
		t->exit_deferred = false;
		publish_exit(t);
		answer_waiters(t);
	}
}

static void spawned_cb(void *data, pid_t init_pid, err_t *err)
{
	struct task *t = data;
	if (err && *err) {
		log_info("task create failed", "namespace=%s id=%s error=%s", t->ns, t->id,
			 (*err)->msg);
		return create_fail(t, err);
	}
	t->pid = init_pid;
	err_t cerr = NULL;
	if (task_connect(t, &cerr) < 0) {
		/* the shim reported success but does not answer: it died */
		log_warn("the new shim does not answer", "id=%s error=%s", t->id, cerr->msg);
		runtime_force_delete(t->ts->d, t->runtime, t->runtime_root, t->id, NULL, NULL);
		return create_fail(t, &cerr);
	}
	if (!t->restore_from) /* a restore has no cgroup before start */
		t->oom = oom_watch_start(t->ts->d, t->ns, t->id, t->cgroup_path);
	json_object_set_new(t->create_event, "pid", json_integer(init_pid));
	events_publish(t->ts->d->events, t->ns, "/tasks/create", t->create_event);
	t->create_event = NULL;
	log_info("task created", "namespace=%s id=%s pid=%d", t->ns, t->id, (int)init_pid);
	if (t->start_at_create) {
		/* started too: the shim's state, asked on the connection it has
		 * now accepted, says whether the init already exited (an exit
		 * after it is announced on that connection) */
		t->starting = true;
		shim_call(t->conn, "state", NULL, started_at_create_cb, t);
		return;
	}
	t->status = TS_CREATED;
	tasks_cb cb = t->create_cb;
	void *cdata = t->create_data;
	t->create_cb = NULL;
	cleanup_json json_t *res = task_json(t);
	cb(cdata, res, NULL);
}

static int task_prepare(struct task *t, json_t *io, err_t *err)
{
	struct daemon *d = t->ts->d;
	cleanup_json json_t *c = containers_get(d, t->ns, t->id, err);
	if (!c)
		return -1;
	json_t *rt = json_object_get(c, "runtime");
	t->runtime = runtime_find(rt ? json_get_string(rt, "name") : NULL, err);
	if (!t->runtime)
		return -1;
	t->runtime_root = xasprintf("%s/runc/%s", d->cfg.state, t->ns);
	bool terminal = json_is_true(json_object_get(io, "terminal"));
	if (terminal && json_is_string(json_object_get(io, "stderr")))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "a `terminal` has one output stream: give `stdout`, not `stderr`");
	static const char *const keys[] = { "stdin", "stdout", "stderr" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (check_fifo(io, keys[i], err) < 0)
			return -1;
	t->log = json_is_true(json_object_get(io, "log"));
	if (t->log && (json_is_string(json_object_get(io, "stdout")) ||
		       json_is_string(json_object_get(io, "stderr"))))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`log` captures stdout and stderr: give it or FIFOs, not both");

	cleanup_json json_t *spec = json_deep_copy(json_object_get(c, "spec"));
	if (!json_is_object(spec))
		return make_error(err, E_FAILED_PRECONDITION, 0, "container `%s` has no spec",
				  t->id);
	const char *cg = json_string_value(
		json_object_get(json_object_get(spec, "linux"), "cgroupsPath"));
	t->cgroup_path = cg ? xstrdup(cg) : NULL;
	/* runc refuses a console socket without process.terminal and a terminal
	 * without one: say so before, in the container's words */
	bool spec_terminal =
		json_is_true(json_object_get(json_object_get(spec, "process"), "terminal"));
	if (spec_terminal && !terminal)
		return make_error(err, E_FAILED_PRECONDITION, 0,
				  "container `%s` has process.terminal: its task must be created "
				  "with `terminal: true`",
				  t->id);
	if (terminal && !spec_terminal)
		return make_error(err, E_FAILED_PRECONDITION, 0,
				  "container `%s` was created without process.terminal: its task "
				  "cannot have a terminal",
				  t->id);
	task_set_stdio(t, io);
	cleanup_json json_t *mounts = NULL;
	const char *sn = json_get_string(c, "snapshotter");
	const char *key = json_get_string(c, "snapshot_key");
	json_t *root = json_object_get(spec, "root");
	if (!json_is_object(root)) {
		root = json_object();
		json_object_set_new(spec, "root", root);
	}
	if (sn && key) {
		mounts = snapshots_mounts(d, t->ns, sn, key, err);
		if (!mounts)
			return error_wrap(err, "the snapshot of container `%s`", t->id);
		json_object_set_new(root, "path", json_string("rootfs"));
	} else {
		mounts = json_array();
		const char *path = json_get_string(root, "path");
		if (!path || path[0] != '/')
			return make_error(err, E_FAILED_PRECONDITION, 0,
					  "container `%s` has no snapshot: its spec's root.path must "
					  "be an absolute path",
					  t->id);
	}

	cleanup_free char *parent = xasprintf("%s/tasks/%s", d->cfg.state, t->ns);
	if (mkdir_p(parent, 0711) < 0 || mkdir_p(t->runtime_root, 0711) < 0)
		return make_error(err, E_INTERNAL, errno, "create `%s`", parent);
	if (mkdir(t->dir, 0711) < 0) {
		if (errno != EEXIST)
			return make_error(err, E_INTERNAL, errno, "create `%s`", t->dir);
		/* left by a task that never got a shim (berthd died while creating) */
		log_info("removing a stale task directory", "dir=%s", t->dir);
		if (task_dir_remove(t->dir, err) < 0 || mkdir(t->dir, 0711) < 0)
			return make_error(err, E_INTERNAL, errno, "create `%s`", t->dir);
	}
	cleanup_free char *rootfs = xasprintf("%s/rootfs", t->dir);
	if (mkdir(rootfs, 0755) < 0)
		return make_error(err, E_INTERNAL, errno, "create `%s`", rootfs);
	cleanup_json json_t *opts = json_pack(
		"{s:s,s:s,s:s,s:s,s:O,s:O?,s:O?,s:O?,s:b,s:b,s:b,s:s?}", "id", t->id, "namespace",
		t->ns, "runtime", t->runtime, "runtime_root", t->runtime_root, "mounts", mounts,
		"stdin", json_object_get(io, "stdin"), "stdout", json_object_get(io, "stdout"),
		"stderr", json_object_get(io, "stderr"), "log", t->log, "terminal", terminal, "start",
		t->start_at_create, "cgroups_path", t->cgroup_path);
	if (t->restore_from) {
		cleanup_free char *cp = xasprintf("%s/checkpoint", t->dir);
		json_object_set_new(opts, "checkpoint", json_string(cp));
	}
	if (write_json_file(t->dir, "config.json", spec, err) < 0 ||
	    write_json_file(t->dir, "shim.json", opts, err) < 0)
		return -1;
	t->create_event = json_pack(
		"{s:s,s:s,s:O,s:{s:O?,s:O?,s:O?,s:b}}", "container_id", t->id, "bundle", t->dir,
		"rootfs", mounts, "io", "stdin", json_object_get(io, "stdin"), "stdout",
		json_object_get(io, "stdout"), "stderr", json_object_get(io, "stderr"), "terminal",
		terminal);
	if (json_get_string(io, "checkpoint"))
		json_object_set_new(t->create_event, "checkpoint",
				    json_string(json_get_string(io, "checkpoint")));
	return 0;
}

/* Restore: the CRIU image is unpacked, the shim can start. */
static void restore_unpacked_cb(struct task *t, err_t *err)
{
	err_t e = NULL;
	if (err && *err)
		return create_fail(t, err);
	if (shim_spawn(t->ts->d, t->ts->shim_bin, t->dir, spawned_cb, t, &e) < 0) {
		create_fail(t, &e);
		err_free(&e);
	}
}

/* Restore: CRIU works here (or not: CRIU's reason is the answer). */
static void restore_checked_cb(void *data, err_t *err)
{
	struct task *t = data;
	cleanup_json json_t *io = steal_ptr(&t->create_io);
	err_t e = NULL;
	if (err && *err) {
		if ((*err)->kind == E_UNAVAILABLE) { /* shutdown: tasks_free goes on */
			tasks_cb cb = t->create_cb;
			void *cdata = t->create_data;
			task_unlink_free(t);
			return cb(cdata, NULL, err);
		}
		return create_fail(t, err);
	}
	if (task_prepare(t, io, &e) < 0 ||
	    ckpt_unpack(t, t->restore_from, restore_unpacked_cb, &e) < 0) {
		create_fail(t, &e);
		err_free(&e);
	}
}

void tasks_create(struct daemon *d, const char *ns, const char *id, json_t *io, tasks_cb cb,
		  void *data)
{
	struct tasks *ts = d->tasks;
	if (task_find(ts, ns, id))
		return task_fail_later(d, cb, data, E_ALREADY_EXISTS,
				  "container `%s` already has a task", id);
	if (!ts->shim_bin)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				  "berth-shim is not installed beside berthd nor in PATH");
	err_t err = NULL;
	const char *checkpoint = json_get_string(io, "checkpoint");
	cleanup_free char *tar = NULL;
	if (checkpoint && !(tar = ckpt_restore_source(d, ns, checkpoint, &err)))
		return task_answer_later(d, cb, data, NULL, &err);
	struct task *t = task_new(ts, ns, id);
	t->status = TS_CREATING;
	t->start_at_create = json_is_true(json_object_get(io, "start"));
	t->create_cb = cb;
	t->create_data = data;
	if (tar) {
		t->restore_from = steal_ptr(&tar);
		t->create_io = json_incref(io);
		return criu_check(ts, restore_checked_cb, t);
	}
	if (task_prepare(t, io, &err) < 0 ||
	    shim_spawn(d, ts->shim_bin, t->dir, spawned_cb, t, &err) < 0) {
		cleanup_err err_t rmerr = NULL;
		if (task_dir_remove(t->dir, &rmerr) < 0)
			log_warn("cannot remove a task directory", "dir=%s error=%s", t->dir,
				 rmerr->msg);
		task_unlink_free(t);
		return task_answer_later(d, cb, data, NULL, &err);
	}
}

/* ---- start, kill ---------------------------------------------------------- */

struct op *task_op_new(struct task *t, tasks_cb cb, void *data)
{
	struct op *o = xzalloc(sizeof(*o));
	o->t = t;
	o->cb = cb;
	o->data = data;
	return o;
}

static void started_cb(void *data, json_t *result, err_t *err)
{
	struct op *o = data;
	struct task *t = o->t;
	t->starting = false;
	if (err && *err) {
		o->cb(o->data, NULL, err);
	} else {
		if (t->status == TS_CREATED)
			t->status = TS_RUNNING;
		json_t *pid = json_object_get(result, "pid");
		if (!t->pid && json_is_integer(pid) && json_integer_value(pid) > 0) {
			/* restored from a checkpoint: its init and cgroup exist now */
			t->pid = (pid_t)json_integer_value(pid);
			if (!t->oom)
				t->oom = oom_watch_start(t->ts->d, t->ns, t->id, t->cgroup_path);
		}
		publish_start(t);
		cleanup_json json_t *res = task_json(t);
		if (t->status == TS_STOPPED) /* it ran and exited already */
			json_object_set_new(res, "status", json_string("running"));
		o->cb(o->data, res, NULL);
	}
	if (t->exit_deferred) {
		t->exit_deferred = false;
		publish_exit(t);
		answer_waiters(t);
	}
	free(o);
}

const char *task_not_ready(const struct task *t)
{
	switch (t->status) {
	case TS_CREATING:
		return "is being created";
	case TS_DELETING:
		return "is being deleted";
	case TS_UNKNOWN:
		return "has lost its shim (status unknown): delete it";
	default:
		return NULL;
	}
}

void tasks_start(struct daemon *d, const char *ns, const char *id, tasks_cb cb, void *data)
{
	struct task *t = task_find(d->tasks, ns, id);
	if (!t)
		return no_task(d, cb, data, id);
	const char *why = task_not_ready(t);
	if (why)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION, "the task of `%s` %s", id,
				  why);
	if (t->status != TS_CREATED || t->starting)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				  "the task of `%s` is %s, not created", id,
				  t->starting ? "starting" : task_status_names[t->status]);
	t->starting = true;
	shim_call(t->conn, "start", NULL, started_cb, task_op_new(t, cb, data));
}

static void op_done_cb(void *data, json_t *result, err_t *err)
{
	struct op *o = data;
	o->cb(o->data, result, err);
	free(o);
}

void tasks_kill(struct daemon *d, const char *ns, const char *id, int sig, bool all,
		tasks_cb cb, void *data)
{
	struct task *t = task_find(d->tasks, ns, id);
	if (!t)
		return no_task(d, cb, data, id);
	const char *why = task_not_ready(t);
	if (why)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION, "the task of `%s` %s", id,
				  why);
	if (t->status == TS_STOPPED)
		return task_fail_later(d, cb, data, E_NOT_FOUND,
				  "the task of `%s` has exited already (process already finished)",
				  id);
	shim_call(t->conn, "kill", json_pack("{s:i,s:b}", "signal", sig, "all", all), op_done_cb,
		  task_op_new(t, cb, data));
}

/* ---- wait ------------------------------------------------------------------- */

void tasks_wait(struct daemon *d, const char *ns, const char *id, tasks_cb cb, void *data)
{
	struct task *t = task_find(d->tasks, ns, id);
	if (!t)
		return no_task(d, cb, data, id);
	if (t->status == TS_STOPPED || t->status == TS_DELETING)
		return task_answer_later(d, cb, data, exit_json(t), NULL);
	if (t->status == TS_UNKNOWN)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				  "the task of `%s` has lost its shim (status unknown)", id);
	struct waiter *w = xzalloc(sizeof(*w));
	w->cb = cb;
	w->data = data;
	w->next = t->waiters;
	t->waiters = w;
}

void tasks_wait_cancel(struct daemon *d, const char *ns, const char *id, void *data)
{
	struct task *t = task_find(d->tasks, ns, id);
	if (!t)
		return;
	for (struct waiter **p = &t->waiters; *p; p = &(*p)->next)
		if ((*p)->data == data) {
			struct waiter *w = *p;
			*p = w->next;
			free(w);
			return;
		}
}

/* ---- delete ----------------------------------------------------------------- */

static void deleted(struct op *o)
{
	struct task *t = o->t;
	struct daemon *d = t->ts->d;
	cleanup_err err_t err = NULL;
	if (task_dir_remove(t->dir, &err) < 0)
		log_warn("cannot remove a task directory", "dir=%s error=%s", t->dir, err->msg);
	if (t->prev_status != TS_STOPPED && !t->exited_at[0]) {
		/* it never reported an exit (its shim is gone): containerd's 255 */
		t->exit_status = 255;
		char now[40];
		time_format_rfc3339(time_now_ns(), now);
		snprintf(t->exited_at, sizeof(t->exited_at), "%s", now);
	}
	publish_exit(t);
	answer_waiters(t);
	events_publish(d->events, t->ns, "/tasks/delete",
		       json_pack("{s:s,s:s,s:i,s:i,s:s}", "container_id", t->id, "id", t->id,
				 "pid", (int)t->pid, "exit_status", t->exit_status, "exited_at",
				 t->exited_at));
	log_info("task deleted", "namespace=%s id=%s status=%d", t->ns, t->id, t->exit_status);
	cleanup_json json_t *res = json_pack("{s:s,s:i,s:i,s:s}", "id", t->id, "pid", (int)t->pid,
					     "exit_status", t->exit_status, "exited_at",
					     t->exited_at);
	tasks_cb cb = o->cb;
	void *data = o->data;
	task_unlink_free(t);
	free(o);
	cb(data, res, NULL);
}

static void forced_cb(void *data)
{
	deleted(data);
}

/* The shim is gone: do what it would have done. */
static void delete_without_shim(struct op *o)
{
	struct task *t = o->t;
	shim_conn_free(t->conn);
	t->conn = NULL;
	cleanup_free char *pidf = xasprintf("%s/shim.pid", t->dir);
	cleanup_free char *s = read_file(pidf, NULL);
	long spid = s ? strtol(s, NULL, 10) : 0;
	if (spid > 1)
		kill((pid_t)spid, SIGKILL);
	if (!t->runtime) {
		cleanup_json json_t *j = task_read_json(t, "shim.json");
		const char *rt = j ? json_get_string(j, "runtime") : NULL;
		const char *root = j ? json_get_string(j, "runtime_root") : NULL;
		t->runtime = rt ? xstrdup(rt) : NULL;
		t->runtime_root = xstrdup(root ? root : "/run/berth/runc");
	}
	runtime_force_delete(t->ts->d, t->runtime, t->runtime_root, t->id, forced_cb, o);
}

static void shim_deleted_cb(void *data, json_t *result, err_t *err)
{
	struct op *o = data;
	struct task *t = o->t;
	if (err && *err) {
		if ((*err)->kind == E_UNAVAILABLE) {
			log_warn("the shim went away during delete", "id=%s", t->id);
			return delete_without_shim(o);
		}
		/* the shim refused (it is running again?): back to what it was */
		t->status = t->prev_status;
		o->cb(o->data, NULL, err);
		free(o);
		return;
	}
	if (t->prev_status != TS_STOPPED) {
		json_t *st = json_object_get(result, "exit_status");
		t->exit_status = json_is_integer(st) ? (int)json_integer_value(st) : 255;
		const char *at = json_get_string(result, "exited_at");
		if (at)
			snprintf(t->exited_at, sizeof(t->exited_at), "%s", at);
	}
	shim_conn_free(t->conn);
	t->conn = NULL;
	deleted(o);
}

void tasks_delete(struct daemon *d, const char *ns, const char *id, tasks_cb cb, void *data)
{
	struct task *t = task_find(d->tasks, ns, id);
	if (!t)
		return no_task(d, cb, data, id);
	if (t->status == TS_CREATING || t->status == TS_DELETING || t->starting)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION, "the task of `%s` %s", id,
				  t->starting ? "is starting" : task_not_ready(t));
	if (t->status == TS_RUNNING || t->status == TS_PAUSED)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				  "the task of `%s` is %s: kill it and wait for its exit first", id,
				  task_status_names[t->status]);
	if (t->checkpointing)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				  "the task of `%s` is being checkpointed", id);
	t->prev_status = t->status;
	struct op *o = task_op_new(t, cb, data);
	if (t->status == TS_UNKNOWN || !t->conn) {
		t->status = TS_DELETING;
		return delete_without_shim(o);
	}
	t->status = TS_DELETING;
	shim_call(t->conn, "delete", NULL, shim_deleted_cb, o);
}

/* ---- queries ------------------------------------------------------------------ */

const char *tasks_shim_path(struct daemon *d)
{
	return d->tasks ? d->tasks->shim_bin : NULL;
}

bool tasks_exists(struct daemon *d, const char *ns, const char *id)
{
	return task_find(d->tasks, ns, id) != NULL;
}

size_t tasks_count(struct daemon *d)
{
	return d->tasks ? d->tasks->count : 0;
}

json_t *tasks_get(struct daemon *d, const char *ns, const char *id, err_t *err)
{
	struct task *t = task_find(d->tasks, ns, id);
	if (!t) {
		make_error(err, E_NOT_FOUND, 0, "container `%s` has no task", id);
		return NULL;
	}
	return task_json(t);
}

static int by_id(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	return strcmp(json_get_string(x, "id"), json_get_string(y, "id"));
}

json_t *tasks_list(struct daemon *d, const char *ns)
{
	size_t n = 0;
	for (struct task *t = d->tasks ? d->tasks->list : NULL; t; t = t->next)
		n += !strcmp(t->ns, ns);
	json_t **v = xcalloc(n ? n : 1, sizeof(*v));
	size_t i = 0;
	for (struct task *t = d->tasks ? d->tasks->list : NULL; t; t = t->next)
		if (!strcmp(t->ns, ns))
			v[i++] = task_json(t);
	qsort(v, n, sizeof(*v), by_id);
	json_t *arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
	return arr;
}

char *tasks_log_path(struct daemon *d, const char *ns, const char *id, err_t *err)
{
	struct task *t = task_find(d->tasks, ns, id);
	if (!t) {
		make_error(err, E_NOT_FOUND, 0, "container `%s` has no task", id);
		return NULL;
	}
	if (!t->log) {
		make_error(err, E_FAILED_PRECONDITION, 0,
			   "the task of `%s` does not capture its output (create it with "
			   "\"log\": true)",
			   id);
		return NULL;
	}
	return xasprintf("%s/log", t->dir);
}

bool tasks_done(struct daemon *d, const char *ns, const char *id)
{
	struct task *t = task_find(d->tasks, ns, id);
	return !t || t->status == TS_STOPPED || t->status == TS_UNKNOWN ||
	       t->status == TS_DELETING;
}

