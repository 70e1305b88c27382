#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "shim/shim.h"

enum delete_step {
	DELETE_BEGIN = 0,
	DELETE_WAIT_EXIT, /* a created task was killed: wait for its exit */
};


const char *task_status_name(enum task_status st)
{
	switch (st) {
	case TASK_CREATED:
		return "created";
	case TASK_RUNNING:
		return "running";
	case TASK_PAUSED:
		return "paused";
	case TASK_STOPPED:
		return "stopped";
	}
	return "unknown";
}

void task_finish(struct shim *s, struct req *r, char *line)
{
	if (s->current == r)
		s->current = NULL;
	ctl_answer(s, r, line);
}

void task_finish_error(struct shim *s, struct req *r, enum err_kind kind, const char *msg)
{
	task_finish(s, r, proto_answer_error(true, r->rq.id, kind, msg));
}

static json_t *state_json(struct shim *s)
{
	json_t *j = json_pack("{s:s,s:i,s:s}", "id", s->opts.id, "pid", (int)s->init_pid,
			      "status", task_status_name(s->status));
	if (s->status == TASK_STOPPED) {
		json_t *e = proto_exit_json(s->init_pid, s->exit_status, s->exited_at);
		json_object_set(j, "exit_status", json_object_get(e, "exit_status"));
		json_object_set(j, "exited_at", json_object_get(e, "exited_at"));
		json_decref(e);
	}
	if (s->execs) {
		json_t *arr = json_array();
		for (struct exec_proc *x = s->execs; x; x = x->next)
			json_array_append_new(arr, exec_state_json(x));
		json_object_set_new(j, "execs", arr);
	}
	return j;
}

bool task_exited(struct shim *s)
{
	return s->status == TASK_STOPPED || s->exit_reaped;
}

static void start_done(struct shim *s, struct rt_cmd *c, int status)
{
	struct req *r = c->data;
	if (status != 0) {
		cleanup_free char *msg = runtime_error(s, c, status);
		task_finish_error(s, r, E_INTERNAL, msg);
	} else {
		if (s->status == TASK_CREATED)
			s->status = TASK_RUNNING;
		task_finish(s, r, proto_answer(r->rq.id, json_pack("{s:i}", "pid", (int)s->init_pid)));
	}
	task_run_next(s);
}

/* A SIGKILL to a frozen container (cgroup v1) waits for a thaw: resume it
 * so the kill takes effect; whether the thaw worked, the kill was sent. */
static void kill_thaw_done(struct shim *s, struct rt_cmd *c, int status)
{
	struct req *r = c->data;
	if (status == 0 && s->status == TASK_PAUSED)
		s->status = TASK_RUNNING;
	task_finish(s, r, proto_answer(r->rq.id, json_object()));
	task_run_next(s);
}

static void kill_done(struct shim *s, struct rt_cmd *c, int status)
{
	struct req *r = c->data;
	if (status == 0 && s->status == TASK_PAUSED && r->rq.signal == SIGKILL) {
		const char *argv[] = { s->opts.id, NULL };
		cleanup_err err_t err = NULL;
		if (runtime_run(s, "resume", argv, NULL, kill_thaw_done, r, &err) == 0)
			return;
		task_finish(s, r, proto_answer(r->rq.id, json_object()));
	} else if (status == 0)
		task_finish(s, r, proto_answer(r->rq.id, json_object()));
	else if (task_exited(s))
		task_finish_error(s, r, E_NOT_FOUND, "process already finished");
	else {
		cleanup_free char *msg = runtime_error(s, c, status);
		task_finish_error(s, r, E_INTERNAL, msg);
	}
	task_run_next(s);
}

/* pause, resume: the new status once the runtime succeeded */
static void freeze_done(struct shim *s, struct rt_cmd *c, int status)
{
	struct req *r = c->data;
	bool pause = r->rq.method == SHIM_PAUSE; /* r is gone once answered */
	if (status != 0) {
		cleanup_free char *msg = runtime_error(s, c, status);
		task_finish_error(s, r, task_exited(s) ? E_FAILED_PRECONDITION : E_INTERNAL, msg);
	} else {
		if (!task_exited(s))
			s->status = pause ? TASK_PAUSED : TASK_RUNNING;
		task_finish(s, r, proto_answer(r->rq.id, state_json(s)));
		char *line = proto_event(pause ? "paused" : "resumed",
					 json_pack("{s:s}", "id", s->opts.id));
		ctl_broadcast(s, line);
		free(line);
	}
	task_run_next(s);
}

static void pids_done(struct shim *s, struct rt_cmd *c, int status)
{
	struct req *r = c->data;
	cleanup_free char *path = shim_path(s, "ps.json");
	if (status != 0) {
		cleanup_free char *msg = runtime_error(s, c, status);
		task_finish_error(s, r, task_exited(s) ? E_FAILED_PRECONDITION : E_INTERNAL, msg);
	} else {
		size_t len = 0;
		cleanup_free char *text = read_file(path, &len);
		cleanup_err err_t err = NULL;
		json_t *res = text ? proto_pids(text, len, &err) : NULL;
		size_t i;
		json_t *p;
		json_array_foreach(json_object_get(res, "pids"), i, p) {
			pid_t pid = (pid_t)json_integer_value(json_object_get(p, "pid"));
			for (struct exec_proc *x = s->execs; x; x = x->next)
				if (x->pid == pid && x->status == TASK_RUNNING)
					json_object_set_new(p, "info",
							    json_pack("{s:s}", "exec_id", x->id));
		}
		if (res)
			task_finish(s, r, proto_answer(r->rq.id, res));
		else
			task_finish_error(s, r, E_INTERNAL,
				     err ? err->msg : "`ps --format json` wrote nothing");
	}
	unlink(path);
	task_run_next(s);
}

static void update_done(struct shim *s, struct rt_cmd *c, int status)
{
	struct req *r = c->data;
	cleanup_free char *path = shim_path(s, "update.json");
	unlink(path);
	if (status != 0) {
		/* the kernel refused a value (a limit below the usage, ...) */
		cleanup_free char *msg = runtime_error(s, c, status);
		task_finish_error(s, r, E_FAILED_PRECONDITION, msg);
	} else {
		task_finish(s, r, proto_answer(r->rq.id, state_json(s)));
	}
	task_run_next(s);
}

static void begin_pids(struct shim *s, struct req *r)
{
	cleanup_err err_t err = NULL;
	cleanup_free char *path = shim_path(s, "ps.json");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		make_error(&err, E_INTERNAL, errno, "create `%s`", path);
		return task_finish_error(s, r, err->kind, err->msg);
	}
	const char *argv[] = { "--format", "json", s->opts.id, NULL };
	int stdio[3] = { -1, fd, RT_CAPTURE };
	int rc = runtime_run(s, "ps", argv, stdio, pids_done, r, &err);
	close(fd);
	if (rc < 0)
		task_finish_error(s, r, err->kind, err->msg);
}

static void begin_update(struct shim *s, struct req *r)
{
	cleanup_err err_t err = NULL;
	cleanup_free char *path = shim_path(s, "update.json");
	if (write_file_atomic(path, r->rq.resources, strlen(r->rq.resources), 0600) < 0) {
		make_error(&err, E_INTERNAL, errno, "write `%s`", path);
		return task_finish_error(s, r, err->kind, err->msg);
	}
	const char *argv[] = { "--resources", path, s->opts.id, NULL };
	if (runtime_run(s, "update", argv, NULL, update_done, r, &err) < 0)
		task_finish_error(s, r, err->kind, err->msg);
}

static void remove_state_files(struct shim *s)
{
	static const char *const files[] = { "shim.pid", "init.pid", "exit.json",
					     "runtime.log", "ps.json", "update.json" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		cleanup_free char *p = shim_path(s, files[i]);
		unlink(p);
	}
}

static void delete_finish(struct shim *s, struct req *r);

static void delete_done(struct shim *s, struct rt_cmd *c, int status)
{
	struct req *r = c->data;
	if (status != 0) {
		cleanup_free char *msg = runtime_error(s, c, status);
		task_finish_error(s, r, E_INTERNAL, msg);
		task_run_next(s);
		return;
	}
	delete_finish(s, r);
}

/* The runtime's container is gone (or never was): undo the rest, answer, quit. */
static void delete_finish(struct shim *s, struct req *r)
{
	exec_release_all(s);
	rootfs_unmount(s);
	ctl_unlisten(s);
	remove_state_files(s);
	json_t *e = proto_exit_json(s->init_pid, s->exit_status, s->exited_at);
	json_object_del(e, "pid");
	s->exiting = true;
	task_finish(s, r, proto_answer(r->rq.id, e));
	/* everything still queued is answered: there is no task any more */
	while (s->queue) {
		struct req *q = s->queue;
		s->queue = q->qnext;
		task_finish_error(s, q, E_NOT_FOUND, "the task is deleted");
	}
	s->queue_tail = &s->queue;
	shim_quit(s);
}

static void delete_stopped(struct shim *s, struct req *r)
{
	const char *argv[] = { s->opts.id, NULL };
	cleanup_err err_t err = NULL;
	if (s->runtime_gone) {
		delete_finish(s, r); /* a checkpoint with exit: the runtime destroyed it */
		return;
	}
	if (runtime_run(s, "delete", argv, NULL, delete_done, r, &err) < 0) {
		task_finish_error(s, r, err->kind, err->msg);
		task_run_next(s);
	}
}

static void delete_kill_done(struct shim *s, struct rt_cmd *c, int status)
{
	struct req *r = c->data;
	if (status != 0 && !task_exited(s)) {
		cleanup_free char *msg = runtime_error(s, c, status);
		task_finish_error(s, r, E_INTERNAL, msg);
		task_run_next(s);
		return;
	}
	if (s->status == TASK_STOPPED)
		delete_stopped(s, r);
	else
		r->step = DELETE_WAIT_EXIT; /* task_announce() goes on */
}

void task_stdio_request(struct shim *s, struct req *r, struct proc_io *pio, bool exited)
{
	cleanup_err err_t err = NULL;
	if (r->rq.method == SHIM_CLOSEIO)
		io_close_stdin(pio);
	else if (!pio->console)
		make_error(&err, E_FAILED_PRECONDITION, 0, "the process has no terminal");
	else if (exited)
		make_error(&err, E_FAILED_PRECONDITION, 0, "the process has exited");
	else
		console_resize(pio->console, r->rq.width, r->rq.height, &err);
	if (err)
		task_finish_error(s, r, err->kind, err->msg);
	else
		task_finish(s, r, proto_answer(r->rq.id, json_object()));
}

/* `start` of a task created from a checkpoint: the restored init is the
 * runtime's detached child, reparented to the shim (the subreaper). */
static void restore_done(struct shim *s, struct rt_cmd *c, int status)
{
	struct req *r = c->data;
	cleanup_err err_t err = NULL;
	if (status != 0) {
		/* CRIU refused (kernel features, a changed rootfs...): its words */
		cleanup_free char *msg = runtime_error(s, c, status);
		task_finish_error(s, r, E_FAILED_PRECONDITION, msg);
	} else if (shim_read_init_pid(s, &err) < 0) {
		task_finish_error(s, r, err->kind, err->msg);
	} else {
		s->restore_pending = false;
		s->status = TASK_RUNNING;
		io_start(s, &s->pio);
		task_init_known(s);
		task_finish(s, r, proto_answer(r->rq.id, json_pack("{s:i}", "pid", (int)s->init_pid)));
	}
	task_run_next(s);
}

static void begin_restore(struct shim *s, struct req *r)
{
	cleanup_err err_t err = NULL;
	cleanup_free char *pidfile = shim_path(s, "init.pid");
	cleanup_free char *work = shim_path(s, "restore-work");
	if (mkdir(work, 0700) < 0 && errno != EEXIST) {
		make_error(&err, E_INTERNAL, errno, "create `%s`", work);
		return task_finish_error(s, r, err->kind, err->msg);
	}
	const char *argv[] = { "--detach",   "--image-path", s->opts.checkpoint,
			       "--work-path", work,	     "--bundle",
			       s->dir,	      "--pid-file",   pidfile,
			       s->opts.id,    NULL };
	/* the restored process gets the pipes create would have given it */
	if (runtime_run(s, "restore", argv, s->pio.child_fds, restore_done, r, &err) < 0)
		task_finish_error(s, r, err->kind, err->msg);
}

static void checkpoint_done(struct shim *s, struct rt_cmd *c, int status)
{
	struct req *r = c->data;
	if (status != 0) {
		cleanup_free char *msg = runtime_error(s, c, status);
		task_finish_error(s, r, E_FAILED_PRECONDITION, msg);
	} else {
		/* with exit, the runtime killed the container and forgot it (runc
		 * destroys it after the dump): its exit follows, delete skips it */
		if (r->rq.exit)
			s->runtime_gone = true;
		task_finish(s, r,
			    proto_answer(r->rq.id, json_pack("{s:s,s:b}", "image_path",
							      r->rq.image_path, "exit", r->rq.exit)));
	}
	task_run_next(s);
}

static void begin_checkpoint(struct shim *s, struct req *r)
{
	cleanup_err err_t err = NULL;
	if (task_exited(s) || (s->status != TASK_RUNNING && s->status != TASK_PAUSED)) {
		char msg[80];
		snprintf(msg, sizeof(msg), "task is %s, not running or paused",
			 task_exited(s) ? "stopped" : task_status_name(s->status));
		return task_finish_error(s, r, E_FAILED_PRECONDITION, msg);
	}
	const char *argv[8] = { "--image-path", r->rq.image_path, "--work-path", r->rq.work_path };
	size_t n = 4;
	if (!r->rq.exit)
		argv[n++] = "--leave-running";
	argv[n++] = s->opts.id;
	argv[n] = NULL;
	if (runtime_run(s, "checkpoint", argv, NULL, checkpoint_done, r, &err) < 0)
		task_finish_error(s, r, err->kind, err->msg);
}

static void begin(struct shim *s, struct req *r)
{
	cleanup_err err_t err = NULL;
	char sig[16];
	const char *argv[5] = { NULL };
	if (r->rq.exec_id || r->rq.method == SHIM_EXEC || r->rq.method == SHIM_EXEC_START ||
	    r->rq.method == SHIM_EXEC_DELETE) {
		exec_request(s, r);
		return;
	}
	switch (r->rq.method) {
	case SHIM_STATE:
		task_finish(s, r, proto_answer(r->rq.id, state_json(s)));
		return;
	case SHIM_START:
		if (s->restore_pending && s->status == TASK_CREATED) {
			begin_restore(s, r);
			return;
		}
		if (s->status != TASK_CREATED || s->exit_reaped) {
			char msg[64];
			snprintf(msg, sizeof(msg), "task is %s, not created",
				 task_exited(s) ? "stopped" : task_status_name(s->status));
			task_finish_error(s, r, E_FAILED_PRECONDITION, msg);
			return;
		}
		argv[0] = s->opts.id;
		if (runtime_run(s, "start", argv, NULL, start_done, r, &err) < 0)
			task_finish_error(s, r, err->kind, err->msg);
		return;
	case SHIM_KILL:
		if (s->restore_pending) {
			task_finish_error(s, r, E_FAILED_PRECONDITION,
					  "task is not restored yet: it has no process (start "
					  "restores it)");
			return;
		}
		if (task_exited(s)) {
			task_finish_error(s, r, E_NOT_FOUND, "process already finished");
			return;
		}
		snprintf(sig, sizeof(sig), "%d", r->rq.signal);
		if (r->rq.all) {
			argv[0] = "--all";
			argv[1] = s->opts.id;
			argv[2] = sig;
		} else {
			argv[0] = s->opts.id;
			argv[1] = sig;
		}
		if (runtime_run(s, "kill", argv, NULL, kill_done, r, &err) < 0)
			task_finish_error(s, r, err->kind, err->msg);
		return;
	case SHIM_DELETE:
		if (s->restore_pending) {
			delete_finish(s, r); /* the runtime never had the container */
		} else if (s->status == TASK_STOPPED) {
			delete_stopped(s, r);
		} else if (s->exit_reaped) {
			r->step = DELETE_WAIT_EXIT;
		} else if (s->status == TASK_RUNNING || s->status == TASK_PAUSED) {
			task_finish_error(s, r, E_FAILED_PRECONDITION, s->status == TASK_RUNNING
								? "task is running"
								: "task is paused");
		} else {
			argv[0] = s->opts.id;
			argv[1] = "9";
			if (runtime_run(s, "kill", argv, NULL, delete_kill_done, r, &err) < 0)
				task_finish_error(s, r, err->kind, err->msg);
		}
		return;
	case SHIM_PAUSE:
	case SHIM_RESUME: {
		enum task_status want = r->rq.method == SHIM_PAUSE ? TASK_RUNNING : TASK_PAUSED;
		if (task_exited(s) || s->status != want) {
			char msg[64];
			snprintf(msg, sizeof(msg), "task is %s, not %s",
				 task_exited(s) ? "stopped" : task_status_name(s->status), task_status_name(want));
			task_finish_error(s, r, E_FAILED_PRECONDITION, msg);
			return;
		}
		argv[0] = s->opts.id;
		if (runtime_run(s, r->rq.method == SHIM_PAUSE ? "pause" : "resume", argv, NULL,
				freeze_done, r, &err) < 0)
			task_finish_error(s, r, err->kind, err->msg);
		return;
	}
	case SHIM_PIDS:
	case SHIM_UPDATE:
		if (task_exited(s) || s->restore_pending) {
			task_finish_error(s, r, E_FAILED_PRECONDITION,
					  s->restore_pending ? "task is not restored yet"
							     : "task is stopped");
			return;
		}
		if (r->rq.method == SHIM_PIDS)
			begin_pids(s, r);
		else
			begin_update(s, r);
		return;
	case SHIM_RESIZE:
	case SHIM_CLOSEIO:
		task_stdio_request(s, r, &s->pio, task_exited(s));
		return;
	case SHIM_EXEC:
	case SHIM_EXEC_START:
	case SHIM_EXEC_DELETE:
		return; /* exec_request() above */
	case SHIM_CHECKPOINT:
		begin_checkpoint(s, r);
		return;
	}
}

void task_run_next(struct shim *s)
{
	while (!s->current && s->queue && !s->exiting) {
		struct req *r = s->queue;
		s->queue = r->qnext;
		if (!s->queue)
			s->queue_tail = &s->queue;
		r->qnext = NULL;
		s->current = r;
		begin(s, r);
	}
}

void task_request(struct shim *s, struct conn *c UNUSED, struct req *r)
{
	/* state is answered at once unless earlier requests of the same
	 * client are still waiting (answers keep request order) */
	bool first = true;
	for (struct req *q = s->queue; q; q = q->qnext)
		first = first && q->conn != r->conn;
	if (s->current && s->current->conn == r->conn)
		first = false;
	if (r->rq.method == SHIM_STATE && first) {
		if (r->rq.exec_id) {
			exec_request(s, r);
			return;
		}
		ctl_answer(s, r, proto_answer(r->rq.id, state_json(s)));
		return;
	}
	if ((r->rq.method == SHIM_RESIZE || r->rq.method == SHIM_CLOSEIO) && first) {
		/* no runtime needed: a terminal must not wait for one */
		if (r->rq.exec_id)
			exec_request(s, r);
		else
			task_stdio_request(s, r, &s->pio, task_exited(s));
		return;
	}
	r->qnext = NULL;
	*s->queue_tail = r;
	s->queue_tail = &r->qnext;
	task_run_next(s);
}

/* The exit is on disk: announce it to every client, let a delete go on. */
static void announce(struct shim *s)
{
	if (!s->exit_reaped)
		return;
	if (s->exit_timer)
		event_del(s->exit_timer);
	json_t *e = proto_exit_json(s->init_pid, s->exit_status, s->exited_at);
	char *text = json_dumps(e, JSON_COMPACT);
	cleanup_free char *path = shim_path(s, "exit.json");
	/* a failed write leaves berthd with `unknown` after a restart; the
	 * clients connected now still learn the exit */
	if (text)
		write_file_atomic(path, text, strlen(text), 0644);
	free(text);
	s->status = TASK_STOPPED;
	s->exit_reaped = false;
	char *line = proto_event("exit", e);
	ctl_broadcast(s, line);
	free(line);
	struct req *r = s->current;
	if (r && r->rq.method == SHIM_DELETE && r->step == DELETE_WAIT_EXIT && !s->rt)
		delete_stopped(s, r);
}

static void exit_timer_cb(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	announce(arg);
}

void task_output_done(struct shim *s)
{
	if (s->exit_reaped && io_output_done(&s->pio))
		announce(s);
	exec_output_done(s);
}

void task_reaped(struct shim *s, pid_t pid, int status)
{
	if (exec_reaped(s, pid, status))
		return;
	if (s->init_pid <= 0 || pid != s->init_pid) {
		/* init or an exec whose pid file is not read yet, or an orphan */
		size_t i = s->n_early++ % ARRAY_SIZE(s->early);
		s->early[i].pid = pid;
		s->early[i].status = status;
		return;
	}
	if (s->exit_reaped || s->status == TASK_STOPPED)
		return;
	s->exit_reaped = true;
	s->exit_status = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	s->exited_at = time_now_ns();
	if (io_output_done(&s->pio)) {
		announce(s);
		return;
	}
	if (!s->exit_timer)
		s->exit_timer = evtimer_new(s->base, exit_timer_cb, s);
	struct timeval tv = { OUTPUT_GRACE_SEC, 0 };
	evtimer_add(s->exit_timer, &tv);
}

void task_init_known(struct shim *s)
{
	size_t n = s->n_early < ARRAY_SIZE(s->early) ? s->n_early : ARRAY_SIZE(s->early);
	for (size_t i = 0; i < n; i++)
		if (s->early[i].pid == s->init_pid) {
			s->early[i].pid = 0;
			task_reaped(s, s->init_pid, s->early[i].status);
		}
}

void task_release(struct shim *s)
{
	if (s->exit_timer)
		event_free(s->exit_timer);
	s->exit_timer = NULL;
	while (s->queue) {
		struct req *q = s->queue;
		s->queue = q->qnext;
		if (!q->conn)
			req_free(q);
	}
	s->queue_tail = &s->queue;
	if (s->current && !s->current->conn)
		req_free(s->current);
	s->current = NULL;
}
