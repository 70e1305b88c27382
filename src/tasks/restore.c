/* tasks/restore: start-up (finding berth-shim, live restore of the task
 * directories a previous berthd left) and shutdown. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/util.h"
#include "tasks/internal.h"

/* ---- start-up and shutdown ---------------------------------------------------- */

static void restore_state_cb(void *data, json_t *result, err_t *err)
{
	struct task *t = data;
	if (err && *err) {
		log_debug("state of a restored task", "id=%s error=%s", t->id, (*err)->msg);
		return;
	}
	const char *st = json_get_string(result, "status");
	json_t *pid = json_object_get(result, "pid");
	if (json_is_integer(pid) && json_integer_value(pid) > 0)
		t->pid = (pid_t)json_integer_value(pid);
	if (!st || t->status == TS_DELETING)
		return;
	texec_restore(t, result);
	if (!strcmp(st, "stopped"))
		task_exited(t, result);
	else if (!strcmp(st, "created") && t->status == TS_RUNNING)
		t->status = TS_CREATED;
	else if (!strcmp(st, "running") && t->status == TS_CREATED)
		t->status = TS_RUNNING; /* created with `start`, caught while starting */
	else if (!strcmp(st, "paused") && t->status == TS_RUNNING)
		t->status = TS_PAUSED;
}

/* The berth-shim process serving dir ("berth-shim <dir>"): the one shim.pid
 * names, else one found in /proc (a shim that has not written shim.pid
 * yet); 0 when there is none. */
static bool is_shim_of(pid_t pid, const char *dir)
{
	cleanup_free char *path = xasprintf("/proc/%d/cmdline", (int)pid);
	size_t len;
	cleanup_free char *cmd = read_file(path, &len);
	static const char name[] = "berth-shim";
	size_t dl = strlen(dir);
	return cmd && len == sizeof(name) + dl + 1 && memcmp(cmd, name, sizeof(name)) == 0 &&
	       memcmp(cmd + sizeof(name), dir, dl + 1) == 0;
}

static pid_t find_shim_process(const char *dir)
{
	cleanup_free char *pidf = xasprintf("%s/shim.pid", dir);
	cleanup_free char *ps = read_file(pidf, NULL);
	pid_t pid = ps ? (pid_t)strtol(ps, NULL, 10) : 0;
	if (pid > 0 && is_shim_of(pid, dir))
		return pid;
	DIR *proc = opendir("/proc");
	if (!proc)
		return 0;
	struct dirent *de;
	pid = 0;
	while (!pid && (de = readdir(proc))) {
		uint64_t n;
		if (parse_u64(de->d_name, &n) && n > 0 && n <= INT_MAX && is_shim_of((pid_t)n, dir))
			pid = (pid_t)n;
	}
	closedir(proc);
	return pid;
}

/* The shim answers: the task is as its state says (created, unless it
 * started, paused or exited meanwhile). */
static void restore_connected(struct tasks *ts, struct task *t)
{
	cleanup_free char *pidf = xasprintf("%s/init.pid", t->dir);
	cleanup_free char *ps = read_file(pidf, NULL);
	if (ps && !t->pid)
		t->pid = (pid_t)strtol(ps, NULL, 10);
	if (!t->cgroup_path) {
		/* a task made before shim.json named it: from its spec */
		cleanup_json json_t *spec = task_read_json(t, "config.json");
		const char *cg = json_string_value(
			json_object_get(json_object_get(spec, "linux"), "cgroupsPath"));
		t->cgroup_path = cg ? xstrdup(cg) : NULL;
	}
	t->oom = oom_watch_start(ts->d, t->ns, t->id, t->cgroup_path);
	if (t->conn)
		shim_call(t->conn, "state", NULL, restore_state_cb, t);
}

/* A task whose shim never got going (berthd died before it was spawned or
 * while it started, and it is gone without a trace): nothing runs, so
 * nothing is left of it, as when no shim.json was written. */
static void restore_drop(struct task *t)
{
	log_info("removing a task whose shim never started", "namespace=%s id=%s", t->ns, t->id);
	err_t err = NULL;
	if (task_dir_remove(t->dir, &err) < 0) {
		log_warn("cannot remove a stale task directory", "dir=%s error=%s", t->dir,
			 err->msg);
		err_free(&err);
	}
	task_unlink_free(t);
}

#define RECONNECT_MS 50

/* A restored task whose shim was still starting: connect once it listens;
 * if it exits first, its start failed (it undid what it did). */
static void reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct task *t = arg;
	err_t err = NULL;
	if (t->status != TS_CREATING)
		return;
	if (task_connect(t, &err) == 0) {
		log_info("restored task's shim answers", "namespace=%s id=%s", t->ns, t->id);
		t->status = TS_CREATED;
		return restore_connected(t->ts, t);
	}
	err_free(&err);
	if (kill(t->shim_pid, 0) == 0 && is_shim_of(t->shim_pid, t->dir)) {
		struct timeval tv = { 0, RECONNECT_MS * 1000 };
		evtimer_add(t->reconnect, &tv);
		return;
	}
	cleanup_free char *pidf = xasprintf("%s/shim.pid", t->dir);
	if (access(pidf, F_OK) < 0 && !task_read_exit_file(t))
		return restore_drop(t);
	log_warn("a restored task's shim died while it started", "namespace=%s id=%s", t->ns,
		 t->id);
	t->status = TS_UNKNOWN;
}

/* Live restore of one task directory. */
static void restore_one(struct tasks *ts, const char *ns, const char *id)
{
	struct task *t = task_new(ts, ns, id);
	cleanup_json json_t *j = task_read_json(t, "shim.json");
	if (j) {
		const char *rt = json_get_string(j, "runtime");
		const char *root = json_get_string(j, "runtime_root");
		t->runtime = rt ? xstrdup(rt) : NULL;
		t->runtime_root = root ? xstrdup(root) : NULL;
		t->log = json_is_true(json_object_get(j, "log"));
		const char *cg = json_get_string(j, "cgroups_path");
		t->cgroup_path = cg ? xstrdup(cg) : NULL;
		task_set_stdio(t, j);
	}
	cleanup_free char *seen = xasprintf("%s/exit.seen", t->dir);
	t->exit_seen = access(seen, F_OK) == 0;
	cleanup_free char *pidf = xasprintf("%s/init.pid", t->dir);
	cleanup_free char *ps = read_file(pidf, NULL);
	t->pid = ps ? (pid_t)strtol(ps, NULL, 10) : 0;
	t->status = TS_RUNNING;
	if (task_read_exit_file(t)) {
		err_t err = NULL;
		if (task_connect(t, &err) < 0)
			err_free(&err);
	} else {
		err_t err = NULL;
		if (task_connect(t, &err) < 0) {
			pid_t shim = find_shim_process(t->dir);
			cleanup_free char *shimf = xasprintf("%s/shim.pid", t->dir);
			if (shim > 0) {
				/* berthd died while the shim was starting the
				 * runtime: it listens once the container exists */
				log_info("a task's shim is still starting", "namespace=%s id=%s",
					 ns, id);
				err_free(&err);
				t->status = TS_CREATING;
				t->shim_pid = shim;
				t->reconnect = evtimer_new(ts->d->base, reconnect_cb, t);
				struct timeval tv = { 0, RECONNECT_MS * 1000 };
				evtimer_add(t->reconnect, &tv);
				return;
			}
			if (!ps && access(shimf, F_OK) < 0) {
				err_free(&err);
				return restore_drop(t);
			}
			log_warn("a task's shim is gone", "namespace=%s id=%s error=%s", ns, id,
				 err->msg);
			err_free(&err);
			t->status = TS_UNKNOWN;
		}
	}
	if (t->status != TS_STOPPED && t->status != TS_UNKNOWN) {
		restore_connected(ts, t);
		log_info("task restored", "namespace=%s id=%s pid=%d status=%s", ns, id,
			 (int)t->pid, task_status_names[t->status]);
		return;
	}
	if (t->conn)
		shim_call(t->conn, "state", NULL, restore_state_cb, t);
	log_info("task restored", "namespace=%s id=%s pid=%d status=%s", ns, id, (int)t->pid,
		 task_status_names[t->status]);
}

int tasks_open(struct daemon *d, err_t *err)
{
	struct tasks *ts = xzalloc(sizeof(*ts));
	ts->d = d;
	d->tasks = ts;
	ts->dir = xasprintf("%s/tasks", d->cfg.state);
	ts->shim_bin = find_helper("berth-shim");
	if (!ts->shim_bin)
		log_warn("berth-shim not found: tasks cannot be created", "path=%s", "");
	if (mkdir_p(ts->dir, 0711) < 0)
		return make_error(err, E_INTERNAL, errno, "create `%s`", ts->dir);
	DIR *nsd = opendir(ts->dir);
	if (!nsd)
		return make_error(err, E_INTERNAL, errno, "open `%s`", ts->dir);
	struct dirent *ne;
	size_t n = 0;
	while ((ne = readdir(nsd))) {
		if (ne->d_name[0] == '.')
			continue;
		cleanup_free char *nsdir = xasprintf("%s/%s", ts->dir, ne->d_name);
		DIR *idd = opendir(nsdir);
		if (!idd)
			continue;
		struct dirent *ie;
		while ((ie = readdir(idd))) {
			if (ie->d_name[0] == '.')
				continue;
			cleanup_free char *opts =
				xasprintf("%s/%s/shim.json", nsdir, ie->d_name);
			cleanup_free char *sock =
				xasprintf("%s/%s/shim.sock", nsdir, ie->d_name);
			if (access(opts, F_OK) < 0) {
				/* berthd died before it started a shim for it */
				cleanup_free char *dir = xasprintf("%s/%s", nsdir, ie->d_name);
				err_t rerr = NULL;
				if (task_dir_remove(dir, &rerr) < 0) {
					log_warn("cannot remove a stale task directory",
						 "dir=%s error=%s", dir, rerr->msg);
					err_free(&rerr);
				}
				continue;
			}
			restore_one(ts, ne->d_name, ie->d_name);
			n++;
		}
		closedir(idd);
	}
	closedir(nsd);
	if (n)
		log_info("tasks restored", "count=%zu", n);
	return 0;
}

void tasks_free(struct daemon *d)
{
	struct tasks *ts = d->tasks;
	if (!ts)
		return;
	criu_release(ts); /* restores waiting for it fail and leave the list */
	while (ts->list) {
		struct task *t = ts->list;
		task_fail_waiters(t, E_UNAVAILABLE, "berthd is shutting down");
		if (t->create_cb) {
			/* the shim keeps starting; its report goes nowhere */
			task_fail(t->create_cb, t->create_data, E_UNAVAILABLE, "berthd is shutting down");
			t->create_cb = NULL;
		}
		task_unlink_free(t);
	}
	ckpt_release(ts); /* after the shims: their calls have been answered */
	free(ts->shim_bin);
	free(ts->dir);
	free(ts);
	d->tasks = NULL;
}
