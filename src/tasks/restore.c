/* tasks/restore: start-up (finding berth-shim, live restore of the task
 * directories a previous berthd left) and shutdown. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "tasks/internal.h"

/* ---- start-up and shutdown ---------------------------------------------------- */

static char *find_shim(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			char *cand = xasprintf("%s/berth-shim", self);
			if (access(cand, X_OK) == 0)
				return cand;
			free(cand);
		}
	}
	err_t err = NULL;
	char *p = runtime_find("berth-shim", &err);
	err_free(&err);
	return p;
}

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
	else if (!strcmp(st, "paused") && t->status == TS_RUNNING)
		t->status = TS_PAUSED;
}

/* Live restore of one task directory. */
static void restore_one(struct tasks *ts, const char *ns, const char *id)
{
	struct task *t = task_new(ts, ns, id);
	cleanup_free char *optsf = xasprintf("%s/shim.json", t->dir);
	size_t len;
	cleanup_free char *opts = read_file(optsf, &len);
	json_error_t jerr;
	cleanup_json json_t *j = opts ? json_loadb(opts, len, 0, &jerr) : NULL;
	if (j) {
		const char *rt = json_get_string(j, "runtime");
		const char *root = json_get_string(j, "runtime_root");
		t->runtime = rt ? xstrdup(rt) : NULL;
		t->runtime_root = root ? xstrdup(root) : NULL;
		t->log = json_is_true(json_object_get(j, "log"));
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
			log_warn("a task's shim is gone", "namespace=%s id=%s error=%s", ns, id,
				 err->msg);
			err_free(&err);
			t->status = TS_UNKNOWN;
		}
	}
	if (t->status != TS_STOPPED && t->status != TS_UNKNOWN) {
		cleanup_free char *specf = xasprintf("%s/config.json", t->dir);
		size_t slen;
		cleanup_free char *stext = read_file(specf, &slen);
		cleanup_json json_t *spec = stext ? json_loadb(stext, slen, 0, &jerr) : NULL;
		const char *cg = json_string_value(
			json_object_get(json_object_get(spec, "linux"), "cgroupsPath"));
		t->cgroup_path = cg ? xstrdup(cg) : NULL;
		t->oom = oom_watch_start(ts->d, ns, id, t->cgroup_path);
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
	ts->shim_bin = find_shim();
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
