/* tasks: resize and closeio (see tasks.h) — a task's terminal and stdin,
 * through its shim. */
#include "config.h"

#include "core/log.h"
#include "tasks/internal.h"

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

static void answered_cb(void *data, json_t *result, err_t *err)
{
	struct op *o = data;
	if (err && *err)
		o->cb(o->data, NULL, err);
	else
		o->cb(o->data, result, NULL);
	free(o);
}

/* exec_id as the shim takes it: NULL for init; false (cb called) when the
 * task has no such exec. */
static bool find_exec(struct task *t, const char **exec_id, tasks_cb cb, void *data)
{
	if (*exec_id && !**exec_id)
		*exec_id = NULL; /* "" is the init process, as containerd has it */
	if (*exec_id && !texec_find(t, *exec_id)) {
		task_fail_later(t->ts->d, cb, data, E_NOT_FOUND,
				"the task of `%s` has no exec `%s`", t->id, *exec_id);
		return false;
	}
	return true;
}

void tasks_resize(struct daemon *d, const char *ns, const char *id, const char *exec_id,
		  unsigned width, unsigned height, tasks_cb cb, void *data)
{
	if (width < 1 || width > TASKS_TERMINAL_MAX || height < 1 || height > TASKS_TERMINAL_MAX)
		return task_fail_later(d, cb, data, E_INVALID_ARGUMENT,
				       "a terminal is 1..%d wide and high, not %ux%u",
				       TASKS_TERMINAL_MAX, width, height);
	struct task *t = ready_task(d, ns, id, cb, data);
	if (!t || !find_exec(t, &exec_id, cb, data))
		return;
	json_t *params = json_pack("{s:i,s:i}", "width", (int)width, "height", (int)height);
	if (exec_id) { /* the shim knows whether it has a terminal, and its state */
		json_object_set_new(params, "exec_id", json_string(exec_id));
		shim_call(t->conn, "resize", params, answered_cb, task_op_new(t, cb, data));
		return;
	}
	if (!t->terminal) {
		json_decref(params);
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				       "the task of `%s` has no terminal (it was created without "
				       "`terminal: true`)",
				       id);
	}
	if (t->status == TS_STOPPED) {
		json_decref(params);
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				       "the task of `%s` is stopped: its terminal is gone", id);
	}
	log_debug("task terminal resized", "namespace=%s id=%s size=%ux%u", ns, id, width, height);
	shim_call(t->conn, "resize", params, answered_cb, task_op_new(t, cb, data));
}

void tasks_closeio(struct daemon *d, const char *ns, const char *id, const char *exec_id,
		   tasks_cb cb, void *data)
{
	struct task *t = ready_task(d, ns, id, cb, data);
	if (!t || !find_exec(t, &exec_id, cb, data))
		return;
	log_debug("task stdin closed", "namespace=%s id=%s exec_id=%s", ns, id,
		  exec_id ? exec_id : "");
	shim_call(t->conn, "closeio", exec_id ? json_pack("{s:s}", "exec_id", exec_id) : NULL,
		  answered_cb, task_op_new(t, cb, data));
}
