/* berth-shim: exec'd processes — the extra processes a task runs beside its
 * init (containerd's Exec). An exec is registered (`exec`: its OCI process
 * is written to exec-<id>.json), started (`exec_start`: `runtime exec
 * --detach --pid-file exec-<id>.pid --process exec-<id>.json ID`, the
 * process then being the shim's child as the subreaper of the runtime),
 * signalled with kill(2) (runc's kill only reaches init), reaped like init
 * and announced with an `exit` notification carrying its exec_id, and
 * forgotten by `exec_delete`. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "shim/shim.h"

/* Execs a task may hold at once (started or not): each holds pipes. */
#define MAX_EXECS 256

struct exec_proc *exec_find(struct shim *s, const char *id)
{
	for (struct exec_proc *e = s->execs; e; e = e->next)
		if (!strcmp(e->id, id))
			return e;
	return NULL;
}

/* exec-<id>.<ext> in the task directory; caller frees. */
static char *exec_path(struct shim *s, const char *id, const char *ext)
{
	cleanup_free char *name = xasprintf("exec-%s.%s", id, ext);
	return shim_path(s, name);
}

json_t *exec_state_json(struct exec_proc *e)
{
	json_t *j = json_pack("{s:s,s:i,s:s}", "id", e->id, "pid", (int)e->pid, "status",
			      task_status_name(e->status));
	if (e->status == TASK_STOPPED) {
		json_t *x = proto_exit_json(e->pid, e->exit_status, e->exited_at);
		json_object_set(j, "exit_status", json_object_get(x, "exit_status"));
		json_object_set(j, "exited_at", json_object_get(x, "exited_at"));
		json_decref(x);
	}
	return j;
}

static void exec_free(struct shim *s, struct exec_proc *e)
{
	for (struct exec_proc **p = &s->execs; *p; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			s->n_execs--;
			break;
		}
	static const char *const exts[] = { "json", "pid", "log" };
	for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
		cleanup_free char *path = exec_path(s, e->id, exts[i]);
		unlink(path);
	}
	io_release(&e->pio);
	if (e->exit_timer)
		event_free(e->exit_timer);
	free(e->stdin_path);
	free(e->stdout_path);
	free(e->stderr_path);
	free(e->id);
	free(e);
}

void exec_release_all(struct shim *s)
{
	while (s->execs)
		exec_free(s, s->execs);
}

/* ---- exits -------------------------------------------------------------------- */

static void announce(struct shim *s, struct exec_proc *e)
{
	if (!e->exit_reaped)
		return;
	if (e->exit_timer)
		event_del(e->exit_timer);
	e->exit_reaped = false;
	e->status = TASK_STOPPED;
	json_t *x = proto_exit_json(e->pid, e->exit_status, e->exited_at);
	json_object_set_new(x, "exec_id", json_string(e->id));
	char *line = proto_event("exit", x);
	ctl_broadcast(s, line);
	free(line);
}

static void exit_timer_cb(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	struct exec_proc *e = arg;
	announce(e->s, e);
}

void exec_output_done(struct shim *s)
{
	for (struct exec_proc *e = s->execs; e; e = e->next)
		if (e->exit_reaped && io_output_done(&e->pio))
			announce(s, e);
}

bool exec_reaped(struct shim *s, pid_t pid, int status)
{
	struct exec_proc *e;
	for (e = s->execs; e; e = e->next)
		if (e->pid == pid && e->status == TASK_RUNNING && !e->exit_reaped)
			break;
	if (!e)
		return false;
	e->exit_reaped = true;
	e->exit_status = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	e->exited_at = time_now_ns();
	if (io_output_done(&e->pio)) {
		announce(s, e);
		return true;
	}
	/* output a grandchild still holds must not hold the exit back for long */
	if (!e->exit_timer)
		e->exit_timer = evtimer_new(s->base, exit_timer_cb, e);
	struct timeval tv = { OUTPUT_GRACE_SEC, 0 };
	evtimer_add(e->exit_timer, &tv);
	return true;
}

/* ---- requests ------------------------------------------------------------------ */

static void fail(struct shim *s, struct req *r, enum err_kind kind, const char *fmt, ...)
	PRINTF_LIKE(4, 5);
static void fail(struct shim *s, struct req *r, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	task_finish_error(s, r, kind, msg);
}

/* Why the task cannot take a new process now, or NULL. */
static const char *not_running(struct shim *s)
{
	if (task_exited(s))
		return "stopped";
	if (s->status != TASK_RUNNING)
		return task_status_name(s->status);
	return NULL;
}

static void add(struct shim *s, struct req *r)
{
	struct shim_request *q = &r->rq;
	const char *why = not_running(s);
	if (why)
		return fail(s, r, E_FAILED_PRECONDITION, "task is %s, not running: cannot exec into it",
			    why);
	if (exec_find(s, q->exec_id))
		return fail(s, r, E_ALREADY_EXISTS, "exec `%s` already exists", q->exec_id);
	if (s->n_execs >= MAX_EXECS)
		return fail(s, r, E_FAILED_PRECONDITION,
			    "the task holds %d execs already: delete finished ones first",
			    MAX_EXECS);
	if (q->terminal && q->stderr_path)
		return fail(s, r, E_INVALID_ARGUMENT,
			    "a `terminal` has one output stream: `stdout`, not `stderr`");
	cleanup_free char *path = exec_path(s, q->exec_id, "json");
	if (write_file_atomic(path, q->process, strlen(q->process), 0600) < 0)
		return fail(s, r, E_INTERNAL, "write `%s`: %s", path, strerror(errno));
	struct exec_proc *e = xzalloc(sizeof(*e));
	e->s = s;
	e->id = xstrdup(q->exec_id);
	e->status = TASK_CREATED;
	e->log = q->log;
	e->terminal = q->terminal;
	e->stdin_path = steal_ptr(&q->stdin_path);
	e->stdout_path = steal_ptr(&q->stdout_path);
	e->stderr_path = steal_ptr(&q->stderr_path);
	proc_io_init(&e->pio);
	e->next = s->execs;
	s->execs = e;
	s->n_execs++;
	task_finish(s, r, proto_answer(q->id, exec_state_json(e)));
}

static void started(struct shim *s, struct rt_cmd *c, int status)
{
	struct req *r = c->data;
	struct exec_proc *e = exec_find(s, r->rq.exec_id);
	cleanup_free char *pidfile = exec_path(s, r->rq.exec_id, "pid");
	if (status != 0) {
		/* a command not in the image, a user that does not exist...:
		 * the runtime's message; the exec stays created */
		cleanup_free char *msg = runtime_error(s, c, status);
		io_release(&e->pio);
		unlink(pidfile);
		task_finish_error(s, r, E_FAILED_PRECONDITION, msg);
		task_run_next(s);
		return;
	}
	cleanup_free char *text = read_file(pidfile, NULL);
	uint64_t pid = 0;
	if (text)
		text[strcspn(text, " \n")] = '\0';
	if (!text || !parse_u64(text, &pid) || pid == 0 || pid > INT_MAX) {
		io_release(&e->pio);
		fail(s, r, E_INTERNAL, "read `%s`: %s", pidfile,
		     text ? "not a pid" : strerror(errno));
		task_run_next(s);
		return;
	}
	cleanup_err err_t cerr = NULL;
	if (e->pio.console && console_receive(e->pio.console, &cerr) < 0) {
		/* runc exec --detach has started it: it must not run unseen */
		kill((pid_t)pid, SIGKILL);
		e->pid = (pid_t)pid;
		e->status = TASK_RUNNING;
		io_release(&e->pio);
		task_finish_error(s, r, cerr->kind, cerr->msg);
		task_run_next(s);
		return;
	}
	e->pid = (pid_t)pid;
	e->status = TASK_RUNNING;
	io_start(s, &e->pio);
	task_finish(s, r, proto_answer(r->rq.id, json_pack("{s:i}", "pid", (int)e->pid)));
	/* reaped already, before its pid was known? */
	size_t n = s->n_early < ARRAY_SIZE(s->early) ? s->n_early : ARRAY_SIZE(s->early);
	for (size_t i = 0; i < n; i++)
		if (s->early[i].pid == e->pid) {
			s->early[i].pid = 0;
			exec_reaped(s, e->pid, s->early[i].status);
		}
	task_run_next(s);
}

static void start(struct shim *s, struct req *r, struct exec_proc *e)
{
	if (e->status != TASK_CREATED)
		return fail(s, r, E_FAILED_PRECONDITION, "exec `%s` is %s, not created", e->id,
			    e->exit_reaped ? "stopped" : task_status_name(e->status));
	const char *why = not_running(s);
	if (why)
		return fail(s, r, E_FAILED_PRECONDITION, "task is %s, not running: cannot exec into it",
			    why);
	cleanup_err err_t err = NULL;
	cleanup_free char *log = e->log ? exec_path(s, e->id, "log") : NULL;
	struct io_paths paths = { e->stdin_path, e->stdout_path, e->stderr_path, log, e->terminal };
	if (io_setup(s, &e->pio, &paths, &err) < 0) {
		io_release(&e->pio);
		return fail(s, r, err->kind, "%s", err->msg);
	}
	cleanup_free char *pidfile = exec_path(s, e->id, "pid");
	cleanup_free char *procfile = exec_path(s, e->id, "json");
	unlink(pidfile);
	const char *argv[] = { "--detach", "--pid-file", pidfile, "--process", procfile,
			       s->opts.id, NULL, NULL, NULL };
	if (e->pio.console) { /* the runtime sends the pty master there */
		argv[5] = "--console-socket";
		argv[6] = console_socket(e->pio.console);
		argv[7] = s->opts.id;
	}
	s->n_early = 0; /* only what is reaped from now on can be this exec */
	if (runtime_run(s, "exec", argv, e->pio.child_fds, started, r, &err) < 0) {
		io_release(&e->pio);
		return fail(s, r, err->kind, "%s", err->msg);
	}
	s->rt->stdio = &e->pio;
}

static void signal_exec(struct shim *s, struct req *r, struct exec_proc *e)
{
	if (e->status == TASK_CREATED)
		return fail(s, r, E_FAILED_PRECONDITION, "exec `%s` is not started", e->id);
	if (e->status == TASK_STOPPED || e->exit_reaped)
		return fail(s, r, E_NOT_FOUND, "process already finished");
	/* not reaped yet, so the pid is still this process's (a zombie at worst) */
	if (kill(e->pid, r->rq.signal) < 0)
		return fail(s, r, errno == ESRCH ? E_NOT_FOUND : E_INTERNAL, "kill %d: %s",
			    (int)e->pid, strerror(errno));
	task_finish(s, r, proto_answer(r->rq.id, json_object()));
}

static void forget(struct shim *s, struct req *r, struct exec_proc *e)
{
	if (e->status == TASK_RUNNING)
		return fail(s, r, E_FAILED_PRECONDITION,
			    "exec `%s` is running: kill it and wait for its exit first", e->id);
	json_t *res = e->status == TASK_STOPPED
			      ? proto_exit_json(e->pid, e->exit_status, e->exited_at)
			      : json_pack("{s:i}", "pid", 0);
	exec_free(s, e);
	task_finish(s, r, proto_answer(r->rq.id, res));
}

void exec_request(struct shim *s, struct req *r)
{
	if (r->rq.method == SHIM_EXEC)
		return add(s, r);
	struct exec_proc *e = exec_find(s, r->rq.exec_id);
	if (!e)
		return fail(s, r, E_NOT_FOUND, "no exec `%s`", r->rq.exec_id);
	switch (r->rq.method) {
	case SHIM_STATE:
		return task_finish(s, r, proto_answer(r->rq.id, exec_state_json(e)));
	case SHIM_EXEC_START:
		return start(s, r, e);
	case SHIM_KILL:
		return signal_exec(s, r, e);
	case SHIM_EXEC_DELETE:
		return forget(s, r, e);
	case SHIM_RESIZE:
	case SHIM_CLOSEIO:
		if (e->status == TASK_CREATED)
			return fail(s, r, E_FAILED_PRECONDITION, "exec `%s` is not started", e->id);
		return task_stdio_request(s, r, &e->pio, e->status == TASK_STOPPED || e->exit_reaped);
	default:
		return fail(s, r, E_INVALID_ARGUMENT, "`exec_id` is not a parameter of this method");
	}
}
