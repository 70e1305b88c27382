/* tasks: exec'd processes (see tasks.h). berthd keeps a small table per
 * task (status, pid, exit, waiters) fed by the shim's answers and `exit`
 * notifications carrying an exec_id; the shim holds the processes. */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include "containers/containers.h"
#include "core/log.h"
#include "core/names.h"
#include "events/events.h"
#include "spec/spec.h"
#include "tasks/internal.h"

#define EXEC_ID_MAX 76

struct texec *texec_find(struct task *t, const char *exec_id)
{
	for (struct texec *x = t->execs; x; x = x->next)
		if (!strcmp(x->id, exec_id))
			return x;
	return NULL;
}

static json_t *texec_json(const struct texec *x)
{
	json_t *j = json_pack("{s:s,s:i,s:s}", "id", x->id, "pid", (int)x->pid, "status",
			      task_status_names[x->status]);
	if (x->status == TS_STOPPED) {
		json_object_set_new(j, "exit_status", json_integer(x->exit_status));
		json_object_set_new(j, "exited_at", json_string(x->exited_at));
	}
	return j;
}

static struct texec *texec_new(struct task *t, const char *exec_id)
{
	struct texec *x = xzalloc(sizeof(*x));
	x->id = xstrdup(exec_id);
	x->next = t->execs;
	t->execs = x;
	return x;
}

static void answer_waiters(struct texec *x)
{
	struct waiter *w = x->waiters;
	x->waiters = NULL;
	while (w) {
		struct waiter *next = w->next;
		cleanup_json json_t *res = json_pack("{s:i,s:s}", "exit_status", x->exit_status,
						     "exited_at", x->exited_at);
		w->cb(w->data, res, NULL);
		free(w);
		w = next;
	}
}

static void texec_unlink_free(struct task *t, struct texec *x)
{
	for (struct texec **p = &t->execs; *p; p = &(*p)->next)
		if (*p == x) {
			*p = x->next;
			break;
		}
	struct waiter *w = x->waiters;
	x->waiters = NULL;
	while (w) {
		struct waiter *next = w->next;
		task_fail(w->cb, w->data, E_NOT_FOUND, "exec `%s` is gone", x->id);
		free(w);
		w = next;
	}
	free(x->id);
	free(x);
}

void texec_free_all(struct task *t)
{
	while (t->execs)
		texec_unlink_free(t, t->execs);
}

static void publish_exit(struct task *t, struct texec *x)
{
	events_publish(t->ts->d->events, t->ns, "/tasks/exit",
		       json_pack("{s:s,s:s,s:i,s:i,s:s}", "container_id", t->id, "id", x->id, "pid",
				 (int)x->pid, "exit_status", x->exit_status, "exited_at",
				 x->exited_at));
	log_info("exec exited", "namespace=%s id=%s exec=%s status=%d", t->ns, t->id, x->id,
		 x->exit_status);
	answer_waiters(x);
}

static void set_exit(struct texec *x, json_t *params)
{
	json_t *st = json_object_get(params, "exit_status");
	const char *at = json_get_string(params, "exited_at");
	x->exit_status = json_is_integer(st) ? (int)json_integer_value(st) : 255;
	if (at)
		snprintf(x->exited_at, sizeof(x->exited_at), "%s", at);
	else
		time_format_rfc3339(time_now_ns(), x->exited_at);
	x->status = TS_STOPPED;
}

void texec_exited(struct task *t, json_t *params)
{
	struct texec *x = texec_find(t, json_get_string(params, "exec_id"));
	if (!x || x->status == TS_STOPPED)
		return;
	set_exit(x, params);
	if (x->starting) {
		x->exit_deferred = true; /* /tasks/exec-started goes out first */
		return;
	}
	publish_exit(t, x);
}

void texec_restore(struct task *t, json_t *state)
{
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(state, "execs"), i, e) {
		const char *id = json_get_string(e, "id");
		const char *st = json_get_string(e, "status");
		if (!id || !st || texec_find(t, id))
			continue;
		struct texec *x = texec_new(t, id);
		json_t *pid = json_object_get(e, "pid");
		x->pid = json_is_integer(pid) ? (pid_t)json_integer_value(pid) : 0;
		if (!strcmp(st, "stopped"))
			set_exit(x, e);
		else
			x->status = strcmp(st, "running") ? TS_CREATED : TS_RUNNING;
		cleanup_free char *log = xasprintf("%s/exec-%s.log", t->dir, id);
		struct stat sb;
		x->log = stat(log, &sb) == 0;
	}
}

/* ---- requests ------------------------------------------------------------------- */

struct exec_op {
	struct task *t;
	char *exec_id;
	tasks_cb cb;
	void *data;
};

static struct exec_op *exec_op_new(struct task *t, const char *exec_id, tasks_cb cb, void *data)
{
	struct exec_op *o = xzalloc(sizeof(*o));
	o->t = t;
	o->exec_id = xstrdup(exec_id);
	o->cb = cb;
	o->data = data;
	return o;
}

static void exec_op_free(struct exec_op *o)
{
	free(o->exec_id);
	free(o);
}

/* The task, ready for a request about its processes, or NULL (cb failed). */
static struct task *ready_task(struct daemon *d, const char *ns, const char *id, tasks_cb cb,
			       void *data)
{
	struct task *t = task_find(d->tasks, ns, id);
	if (!t) {
		task_fail_later(d, cb, data, E_NOT_FOUND, "container `%s` has no task", id);
		return NULL;
	}
	const char *why = task_not_ready(t);
	if (why) {
		task_fail_later(d, cb, data, E_FAILED_PRECONDITION, "the task of `%s` %s", id, why);
		return NULL;
	}
	return t;
}

/* The exec, or NULL (cb failed with not_found). */
static struct texec *find_exec(struct daemon *d, struct task *t, const char *exec_id,
			       tasks_cb cb, void *data)
{
	struct texec *x = exec_id ? texec_find(t, exec_id) : NULL;
	if (!x || x->status == TS_CREATING)
		task_fail_later(d, cb, data, E_NOT_FOUND, "the task of `%s` has no exec `%s`", t->id,
				exec_id ? exec_id : "");
	return x && x->status != TS_CREATING ? x : NULL;
}

static void added_cb(void *data, json_t *result, err_t *err)
{
	struct exec_op *o = data;
	struct task *t = o->t;
	struct texec *x = texec_find(t, o->exec_id);
	if (err && *err) {
		if (x && x->status == TS_CREATING)
			texec_unlink_free(t, x);
		o->cb(o->data, NULL, err);
		return exec_op_free(o);
	}
	x->status = TS_CREATED;
	events_publish(t->ts->d->events, t->ns, "/tasks/exec-added",
		       json_pack("{s:s,s:s}", "container_id", t->id, "exec_id", x->id));
	log_info("exec added", "namespace=%s id=%s exec=%s", t->ns, t->id, x->id);
	cleanup_json json_t *res = texec_json(x);
	o->cb(o->data, res, NULL);
	exec_op_free(o);
}

static int check_path(json_t *body, const char *key, err_t *err)
{
	json_t *v = json_object_get(body, key);
	if (!v || json_is_null(v))
		return 0;
	const char *p = json_string_value(v);
	struct stat st;
	if (!p || p[0] != '/')
		return make_error(err, E_INVALID_ARGUMENT, 0, "`%s` must be an absolute path", key);
	if (stat(p, &st) < 0)
		return make_error(err, E_INVALID_ARGUMENT, errno, "`%s` `%s`", key, p);
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISREG(st.st_mode))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`%s` `%s` is not a FIFO, a character device or a file", key, p);
	return 0;
}

/* The shim's `exec` params from the API body, or NULL and *err. */
static json_t *exec_params(struct task *t, json_t *body, err_t *err)
{
	const char *exec_id = json_get_string(body, "exec_id");
	if (name_validate_identifier("exec id", exec_id, err) < 0)
		return NULL;
	if (strlen(exec_id) > EXEC_ID_MAX) {
		make_error(err, E_INVALID_ARGUMENT, 0, "exec id `%s` is longer than %d characters",
			   exec_id, EXEC_ID_MAX);
		return NULL;
	}
	static const char *const io[] = { "stdin", "stdout", "stderr" };
	for (size_t i = 0; i < ARRAY_SIZE(io); i++)
		if (check_path(body, io[i], err) < 0)
			return NULL;
	bool log = json_is_true(json_object_get(body, "log"));
	if (log && (json_is_string(json_object_get(body, "stdout")) ||
		    json_is_string(json_object_get(body, "stderr")))) {
		make_error(err, E_INVALID_ARGUMENT, 0,
			   "`log` captures stdout and stderr: give it or FIFOs, not both");
		return NULL;
	}
	cleanup_json json_t *c = containers_get(t->ts->d, t->ns, t->id, err);
	if (!c)
		return NULL;
	json_t *base = json_object_get(json_object_get(c, "spec"), "process");
	cleanup_free char *rootfs = xasprintf("%s/rootfs", t->dir);
	json_t *process = NULL;
	if (spec_exec_process(base, json_object_get(body, "process"), rootfs, &process, err) < 0)
		return NULL;
	bool terminal = json_is_true(json_object_get(process, "terminal"));
	return json_pack("{s:s,s:o,s:O?,s:O?,s:O?,s:b,s:b}", "exec_id", exec_id, "process",
			 process, "stdin", json_object_get(body, "stdin"), "stdout",
			 json_object_get(body, "stdout"), "stderr", json_object_get(body, "stderr"),
			 "log", log, "terminal", terminal);
}

void tasks_exec_add(struct daemon *d, const char *ns, const char *id, json_t *body, tasks_cb cb,
		    void *data)
{
	struct task *t = ready_task(d, ns, id, cb, data);
	if (!t)
		return;
	if (t->status != TS_RUNNING || t->starting)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				       "the task of `%s` is %s, not running: cannot exec into it", id,
				       t->starting ? "starting" : task_status_names[t->status]);
	err_t err = NULL;
	json_t *params = exec_params(t, body, &err);
	if (!params) {
		task_fail_later(d, cb, data, err->kind, "%s", err->msg);
		err_free(&err);
		return;
	}
	const char *exec_id = json_get_string(params, "exec_id");
	if (texec_find(t, exec_id)) {
		task_fail_later(d, cb, data, E_ALREADY_EXISTS, "the task of `%s` has an exec `%s`",
				id, exec_id);
		json_decref(params);
		return;
	}
	struct texec *x = texec_new(t, exec_id); /* holds the id while the shim works */
	x->status = TS_CREATING;
	x->log = json_is_true(json_object_get(params, "log"));
	shim_call(t->conn, "exec", params, added_cb, exec_op_new(t, exec_id, cb, data));
}

static void started_cb(void *data, json_t *result, err_t *err)
{
	struct exec_op *o = data;
	struct task *t = o->t;
	struct texec *x = texec_find(t, o->exec_id);
	x->starting = false;
	if (err && *err) {
		o->cb(o->data, NULL, err);
	} else {
		json_t *pid = json_object_get(result, "pid");
		if (json_is_integer(pid))
			x->pid = (pid_t)json_integer_value(pid);
		if (x->status == TS_CREATED)
			x->status = TS_RUNNING;
		events_publish(t->ts->d->events, t->ns, "/tasks/exec-started",
			       json_pack("{s:s,s:s,s:i}", "container_id", t->id, "exec_id", x->id,
					 "pid", (int)x->pid));
		cleanup_json json_t *res = texec_json(x);
		if (x->status == TS_STOPPED) /* it ran and exited already */
			json_object_set_new(res, "status", json_string("running"));
		o->cb(o->data, res, NULL);
	}
	if (x->exit_deferred) {
		x->exit_deferred = false;
		publish_exit(t, x);
	}
	exec_op_free(o);
}

void tasks_exec_start(struct daemon *d, const char *ns, const char *id, const char *exec_id,
		      tasks_cb cb, void *data)
{
	struct task *t = ready_task(d, ns, id, cb, data);
	struct texec *x = t ? find_exec(d, t, exec_id, cb, data) : NULL;
	if (!x)
		return;
	if (x->status != TS_CREATED || x->starting)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				       "exec `%s` is %s, not created", exec_id,
				       x->starting ? "starting" : task_status_names[x->status]);
	if (t->status != TS_RUNNING)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				       "the task of `%s` is %s, not running: cannot exec into it", id,
				       task_status_names[t->status]);
	x->starting = true;
	shim_call(t->conn, "exec_start", json_pack("{s:s}", "exec_id", exec_id), started_cb,
		  exec_op_new(t, exec_id, cb, data));
}

json_t *tasks_exec_get(struct daemon *d, const char *ns, const char *id, const char *exec_id,
		       err_t *err)
{
	struct task *t = task_find(d->tasks, ns, id);
	if (!t) {
		make_error(err, E_NOT_FOUND, 0, "container `%s` has no task", id);
		return NULL;
	}
	struct texec *x = texec_find(t, exec_id);
	if (!x || x->status == TS_CREATING) {
		make_error(err, E_NOT_FOUND, 0, "the task of `%s` has no exec `%s`", id, exec_id);
		return NULL;
	}
	return texec_json(x);
}

static void pass_cb(void *data, json_t *result, err_t *err)
{
	struct exec_op *o = data;
	o->cb(o->data, result, err);
	exec_op_free(o);
}

void tasks_exec_kill(struct daemon *d, const char *ns, const char *id, const char *exec_id,
		     int sig, tasks_cb cb, void *data)
{
	struct task *t = ready_task(d, ns, id, cb, data);
	struct texec *x = t ? find_exec(d, t, exec_id, cb, data) : NULL;
	if (!x)
		return;
	if (x->status == TS_STOPPED)
		return task_fail_later(d, cb, data, E_NOT_FOUND,
				       "exec `%s` has exited already (process already finished)",
				       exec_id);
	if (x->status != TS_RUNNING)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				       "exec `%s` is not started", exec_id);
	shim_call(t->conn, "kill", json_pack("{s:i,s:s}", "signal", sig, "exec_id", exec_id),
		  pass_cb, exec_op_new(t, exec_id, cb, data));
}

void tasks_exec_wait(struct daemon *d, const char *ns, const char *id, const char *exec_id,
		     tasks_cb cb, void *data)
{
	struct task *t = task_find(d->tasks, ns, id);
	if (!t)
		return task_fail_later(d, cb, data, E_NOT_FOUND, "container `%s` has no task", id);
	struct texec *x = find_exec(d, t, exec_id, cb, data);
	if (!x)
		return;
	if (x->status == TS_STOPPED && !x->exit_deferred)
		return task_answer_later(d, cb, data,
					 json_pack("{s:i,s:s}", "exit_status", x->exit_status,
						   "exited_at", x->exited_at),
					 NULL);
	struct waiter *w = xzalloc(sizeof(*w));
	w->cb = cb;
	w->data = data;
	w->next = x->waiters;
	x->waiters = w;
}

void tasks_exec_wait_cancel(struct daemon *d, const char *ns, const char *id,
			    const char *exec_id, void *data)
{
	struct task *t = task_find(d->tasks, ns, id);
	struct texec *x = t ? texec_find(t, exec_id) : NULL;
	if (!x)
		return;
	for (struct waiter **p = &x->waiters; *p; p = &(*p)->next)
		if ((*p)->data == data) {
			struct waiter *w = *p;
			*p = w->next;
			free(w);
			return;
		}
}

static void deleted_cb(void *data, json_t *result, err_t *err)
{
	struct exec_op *o = data;
	struct task *t = o->t;
	struct texec *x = texec_find(t, o->exec_id);
	if (err && *err) {
		if (x)
			x->deleting = false;
		o->cb(o->data, NULL, err);
		return exec_op_free(o);
	}
	cleanup_json json_t *res = json_pack("{s:s,s:i}", "id", o->exec_id, "pid",
					     x ? (int)x->pid : 0);
	if (x && x->status == TS_STOPPED) {
		json_object_set_new(res, "exit_status", json_integer(x->exit_status));
		json_object_set_new(res, "exited_at", json_string(x->exited_at));
	}
	if (x)
		texec_unlink_free(t, x);
	log_info("exec deleted", "namespace=%s id=%s exec=%s", t->ns, t->id, o->exec_id);
	o->cb(o->data, res, NULL);
	exec_op_free(o);
}

void tasks_exec_delete(struct daemon *d, const char *ns, const char *id, const char *exec_id,
		       tasks_cb cb, void *data)
{
	struct task *t = task_find(d->tasks, ns, id);
	if (!t)
		return task_fail_later(d, cb, data, E_NOT_FOUND, "container `%s` has no task", id);
	struct texec *x = find_exec(d, t, exec_id, cb, data);
	if (!x)
		return;
	if (x->status == TS_RUNNING || x->starting || x->deleting)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				       "exec `%s` is %s: kill it and wait for its exit first",
				       exec_id, x->deleting ? "being deleted" : "running");
	if (!t->conn) {
		/* the shim is gone: nothing holds the exec any more */
		json_t *res = texec_json(x);
		json_object_del(res, "status");
		texec_unlink_free(t, x);
		return task_answer_later(d, cb, data, res, NULL);
	}
	x->deleting = true;
	shim_call(t->conn, "exec_delete", json_pack("{s:s}", "exec_id", exec_id), deleted_cb,
		  exec_op_new(t, exec_id, cb, data));
}

char *tasks_exec_log_path(struct daemon *d, const char *ns, const char *id, const char *exec_id,
			  err_t *err)
{
	struct task *t = task_find(d->tasks, ns, id);
	struct texec *x = t ? texec_find(t, exec_id) : NULL;
	if (!x || x->status == TS_CREATING) {
		make_error(err, E_NOT_FOUND, 0, "the task of `%s` has no exec `%s`", id, exec_id);
		return NULL;
	}
	if (!x->log) {
		make_error(err, E_FAILED_PRECONDITION, 0,
			   "exec `%s` does not capture its output (create it with \"log\": true)",
			   exec_id);
		return NULL;
	}
	return xasprintf("%s/exec-%s.log", t->dir, exec_id);
}

bool tasks_exec_done(struct daemon *d, const char *ns, const char *id, const char *exec_id)
{
	struct task *t = task_find(d->tasks, ns, id);
	struct texec *x = t ? texec_find(t, exec_id) : NULL;
	return !x || x->status == TS_STOPPED || t->status == TS_UNKNOWN ||
	       t->status == TS_DELETING;
}
