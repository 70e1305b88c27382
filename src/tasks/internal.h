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

/* containerd's media types for a checkpoint (the config is JSON here: see
 * checkpoint.c) */
#define CKPT_MEDIA_INDEX "application/vnd.oci.image.index.v1+json"
#define CKPT_MEDIA_CRIU "application/vnd.containerd.container.criu.checkpoint.criu.tar"
#define CKPT_MEDIA_CONFIG "application/vnd.containerd.container.checkpoint.config.v1+json"

struct task;
struct diff_job;
typedef void (*ckpt_unpacked_cb)(struct task *t, err_t *err);

struct waiter {
	tasks_cb cb;
	void *data;
	struct waiter *next;
};

/* An exec'd process of a task (exec.c). */
struct texec {
	struct texec *next;
	char *id;
	enum task_status status; /* CREATING (being added), CREATED, RUNNING, STOPPED */
	pid_t pid;
	int exit_status;
	char exited_at[40];
	bool starting;      /* exec_start in flight */
	bool exit_deferred; /* exit arrived during the start: published after it */
	bool deleting;
	bool log;
	struct waiter *waiters;
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
	bool terminal;      /* the init process has a terminal (resize allowed) */
	json_t *stdio;      /* {"stdin"?,"stdout"?,"stderr"?}: its FIFOs, for attaching */
	char *runtime;      /* binary path */
	char *runtime_root;
	struct shim_conn *conn;
	char *cgroup_path;          /* linux.cgroupsPath of its spec */
	struct oom_watch *oom;      /* OOM kills in its memory cgroup */
	struct waiter *waiters;
	struct texec *execs;
	bool checkpointing;         /* a checkpoint of it is in progress */
	char *restore_from;         /* create: the CRIU tar blob it is restored from */
	struct diff_job *unpack;    /* create: unpacking that blob */
	ckpt_unpacked_cb unpack_cb;
	/* restored while its shim was still starting: connect again */
	struct event *reconnect;
	pid_t shim_pid;
	/* task create in flight */
	tasks_cb create_cb;
	void *create_data;
	json_t *create_io;          /* restore: the request, while CRIU is checked */
	json_t *create_event;
	bool start_at_create;       /* create with `start`: runtime run --detach */
	struct task *next;
};

struct criu_waiter;
struct ckpt_job;

struct tasks {
	struct daemon *d;
	char *shim_bin;
	char *dir; /* <state>/tasks */
	struct task *list;
	size_t count;
	/* criu.c */
	bool criu_ok;        /* `criu check` passed once: kept for the daemon's life */
	pid_t criu_pid;      /* a check in flight */
	bool criu_timed_out; /* ... killed by criu_timer */
	struct event *criu_timer;
	char *criu_bin, *criu_log;
	struct criu_waiter *criu_waiters;
	/* checkpoint.c: checkpoints being archived into the content store */
	struct ckpt_job *ckpts;
};

/* tasks.c: the table, exits, connections */
extern const char *const task_status_names[];
struct task *task_find(struct tasks *ts, const char *ns, const char *id);
struct task *task_new(struct tasks *ts, const char *ns, const char *id);
void task_unlink_free(struct task *t);
/* The init process has exited (params: {"exit_status","exited_at"}). */
void task_exited(struct task *t, json_t *params);
/* exit.json, if the shim wrote one: applied, true. */
/* A JSON object file of the task's directory (shim.json, config.json,
 * exit.json); NULL when it is missing, unreadable or not an object. */
json_t *task_read_json(const struct task *t, const char *name);
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
/* {"id","pid","status","exit_status"?,"exited_at"?,"terminal","stdin"?,"stdout"?,"stderr"?} */
json_t *task_json(const struct task *t);
/* Keep the FIFO paths and terminal flag of io (a create body or shim.json). */
void task_set_stdio(struct task *t, json_t *io);
/* cb(data, result) from the loop (result is stolen), or with *err (taken). */
void task_answer_later(struct daemon *d, tasks_cb cb, void *data, json_t *result, err_t *err);
/* cb from the loop, not before the caller returns. */
void task_fail_later(struct daemon *d, tasks_cb cb, void *data, enum err_kind kind,
		     const char *fmt, ...) PRINTF_LIKE(5, 6);
/* Why t cannot take a request now (creating, deleting, lost), or NULL. */
const char *task_not_ready(const struct task *t);

/* exec.c */
struct texec *texec_find(struct task *t, const char *exec_id);
/* An `exit` notification with an exec_id. */
void texec_exited(struct task *t, json_t *params);
/* The shim's `state` answer after a restart: rebuild t's execs from "execs". */
void texec_restore(struct task *t, json_t *state);
/* The task is gone: fail the waiters, free every exec. */
void texec_free_all(struct task *t);

/* criu.c: can CRIU checkpoint and restore here? `criu check` (BERTH_CRIU
 * or `criu` in PATH) runs in a child process the loop watches; checks asked
 * for while one runs share it. A success is remembered for the daemon's
 * life, a failure is not (the next call checks again). cb runs from the
 * loop, never before criu_check returns: err NULL when usable, else
 * E_FAILED_PRECONDITION "criu check: <CRIU's own Error lines>" (or naming
 * the missing binary); err is freed after cb. */
typedef void (*criu_check_cb)(void *data, err_t *err);
void criu_check(struct tasks *ts, criu_check_cb cb, void *data);
/* CRIU's reason from its output: the `Error (...)` lines' messages joined
 * with "; ", else its last line, else the exit status. Caller frees. */
char *criu_reason(const char *out, int status);
/* Shutdown: stop a check, answer its waiters E_UNAVAILABLE. */
void criu_release(struct tasks *ts);

/* checkpoint.c */
/* Restore: checkpoint (a digest string) names an OCI index in ns with a CRIU
 * image blob: E_NOT_FOUND without it, E_INVALID_ARGUMENT when it is not a
 * checkpoint. Returns the CRIU tar's digest (caller frees). */
char *ckpt_restore_source(struct daemon *d, const char *ns, const char *checkpoint,
			  err_t *err);
/* Unpack the CRIU tar blob into <t->dir>/checkpoint (the diff worker),
 * then cb from the loop (t->unpack while it runs; task_unlink_free cancels). */
int ckpt_unpack(struct task *t, const char *tar_digest, ckpt_unpacked_cb cb, err_t *err);
/* Remove the checkpoint directories of a task directory (no mounts there). */
void ckpt_dir_remove(const char *task_dir);
/* Shutdown: stop archiving checkpoints, answer their requests E_UNAVAILABLE. */
void ckpt_release(struct tasks *ts);

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
