/* tasks internals: the table of tasks (tasks.c), their directories
 * (bundle.c). Loop thread only. */
#ifndef BERTH_TASKS_INTERNAL_H
#define BERTH_TASKS_INTERNAL_H

#include <sys/types.h>

#include "tasks/oom.h"
#include "tasks/shim.h"
#include "tasks/tasks.h"

/* Where a task is in its life. */
enum task_status {
	TS_CREATING = 0, /* bundle written, the shim is starting the runtime */
	TS_CREATED,      /* runtime create done, init waiting for start */
	TS_RUNNING,      /* started */
	TS_PAUSED,       /* frozen (issue 6) */
	TS_STOPPED,      /* init has exited: exit_status and exited_at are set */
	TS_UNKNOWN,      /* the shim is gone without reporting an exit */
	TS_DELETING,     /* delete in progress */
};

struct waiter {
	tasks_cb cb;
	void *data;
	struct waiter *next;
};

struct task {
	struct tasks *ts;
	char *ns, *id, *dir;
	enum task_status status;
	enum task_status prev_status; /* before a delete began */
	pid_t pid;
	int exit_status;
	char exited_at[40];
	bool exit_seen;     /* /tasks/exit published (exit.seen on disk) */
	bool starting;      /* a start call is in flight */
	bool exit_deferred; /* an exit arrived during start: published after it */
	bool log;           /* output captured in <dir>/log */
	char *runtime;      /* binary path */
	char *runtime_root;
	struct shim_conn *conn;
	char *cgroup_path;          /* linux.cgroupsPath of its spec */
	struct oom_watch *oom;      /* OOM kills in its memory cgroup */
	struct waiter *waiters;
	/* restored while its shim was still starting: connect again */
	struct event *reconnect;
	pid_t shim_pid;
	/* task create in flight */
	tasks_cb create_cb;
	void *create_data;
	json_t *create_event;
	struct task *next;
};

struct tasks {
	struct daemon *d;
	char *shim_bin;
	char *dir; /* <state>/tasks */
	struct task *list;
	size_t count;
};

/* tasks.c: the table, exits, connections */
extern const char *const task_status_names[];
struct task *task_find(struct tasks *ts, const char *ns, const char *id);
struct task *task_new(struct tasks *ts, const char *ns, const char *id);
void task_unlink_free(struct task *t);
/* The init process has exited (params: {"exit_status","exited_at"}). */
void task_exited(struct task *t, json_t *params);
/* exit.json, if the shim wrote one: applied, true. */
bool task_read_exit_file(struct task *t);
int task_connect(struct task *t, err_t *err);
void task_fail_waiters(struct task *t, enum err_kind kind, const char *msg);
void task_fail(tasks_cb cb, void *data, enum err_kind kind, const char *fmt, ...)
	PRINTF_LIKE(4, 5);

/* An operation waiting for its shim's answer. */
struct op {
	struct task *t;
	tasks_cb cb;
	void *data;
};
struct op *task_op_new(struct task *t, tasks_cb cb, void *data);
/* {"id","pid","status","exit_status"?,"exited_at"?} */
json_t *task_json(const struct task *t);
/* cb from the loop, not before the caller returns. */
void task_fail_later(struct daemon *d, tasks_cb cb, void *data, enum err_kind kind,
		     const char *fmt, ...) PRINTF_LIKE(5, 6);
/* Why t cannot take a request now (creating, deleting, lost), or NULL. */
const char *task_not_ready(const struct task *t);

/* bundle.c */
char *task_dir_path(struct daemon *d, const char *ns, const char *id);
/* Remove what a task directory holds (never below a mounted rootfs: it is
 * unmounted first) and the directory. */
int task_dir_remove(const char *dir, err_t *err);
/* Resolve a runtime name ("runc", "crun", an absolute path) to a binary. */
char *runtime_find(const char *name, err_t *err);
/* posix_spawn bin with a clean signal state: stdin /dev/null, stdout out_fd
 * (stderr inherited) or, with out_fd -1, both /dev/null; no other fd. */
int task_spawn(const char *bin, char *const argv[], int out_fd, pid_t *pid);
/* Run `runtime --root R delete --force id` without waiting on the loop,
 * then call cb (may be NULL). */
void runtime_force_delete(struct daemon *d, const char *runtime, const char *root,
			  const char *id, void (*cb)(void *data), void *data);

#endif
