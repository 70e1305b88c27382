/*
 * tasks: the running side of containers (containerd's tasks service). A task
 * is a container's process tree, supervised by one berth-shim; its state
 * lives in the shim and in <state>/tasks/<ns>/<id>/ (shim/PROTOCOL.md), not
 * in LMDB, so it survives berthd restarts: tasks_open() reconnects to every
 * shim it finds there (live restore). A shim still starting the runtime
 * when berthd died (not listening yet) is found by its shim.pid or its
 * command line: its task is `created` (start refused, 412, until the shim
 * answers) and connected once it listens; a bundle whose shim never started
 * is removed (no task).
 *
 * Operations that need the shim answer later, through a tasks_cb from the
 * loop (never before the call returns): with a result object (borrowed) or
 * an error (freed after the callback). Every started operation calls back
 * exactly once, at the latest from tasks_free() (E_UNAVAILABLE).
 *
 * Served objects: {"id","pid","status","exit_status"?,"exited_at"?,"terminal",
 * "stdin"?,"stdout"?,"stderr"?}, status created, running, paused, stopped or
 * unknown (its shim is gone); the FIFO paths it was created with (a client
 * attaches to a terminal task by opening them again).
 * Events: /tasks/create, /tasks/start, /tasks/exit, /tasks/delete,
 * /tasks/paused, /tasks/resumed ({"container_id"}), /tasks/checkpointed.
 */
#ifndef BERTH_TASKS_TASKS_H
#define BERTH_TASKS_TASKS_H

#include <stdbool.h>

#include "core/daemon.h"
#include "core/json.h"

typedef void (*tasks_cb)(void *data, json_t *result, err_t *err);

/* Find berth-shim, make <state>/tasks and reconnect to the shims there. */
int tasks_open(struct daemon *d, err_t *err);
void tasks_free(struct daemon *d);
/* The berth-shim binary in use, NULL when none was found. */
const char *tasks_shim_path(struct daemon *d);

bool tasks_exists(struct daemon *d, const char *ns, const char *id);
size_t tasks_count(struct daemon *d);
json_t *tasks_get(struct daemon *d, const char *ns, const char *id, err_t *err);
json_t *tasks_list(struct daemon *d, const char *ns);

/* io: {"stdin"?,"stdout"?,"stderr"? (FIFO paths),"terminal"?,"log"?,
 * "checkpoint"?}. With terminal the container's process.terminal must be
 * true (and the other way round: E_FAILED_PRECONDITION), and there is no
 * stderr. checkpoint: the digest of a checkpoint index: the task is
 * created without a process and start restores it; E_NOT_FOUND when the
 * content is missing, E_INVALID_ARGUMENT when it is no checkpoint,
 * E_FAILED_PRECONDITION when `criu check` fails. */
void tasks_create(struct daemon *d, const char *ns, const char *id, json_t *io, tasks_cb cb,
		  void *data);
void tasks_start(struct daemon *d, const char *ns, const char *id, tasks_cb cb, void *data);
void tasks_kill(struct daemon *d, const char *ns, const char *id, int sig, bool all,
		tasks_cb cb, void *data);
/* Calls back when the task has exited: {"exit_status","exited_at"}. */
void tasks_wait(struct daemon *d, const char *ns, const char *id, tasks_cb cb, void *data);
/* Forget a waiter (its client left): cb will not run. */
void tasks_wait_cancel(struct daemon *d, const char *ns, const char *id, void *data);
void tasks_delete(struct daemon *d, const char *ns, const char *id, tasks_cb cb, void *data);

/* control.c. pause: running → paused (the cgroup freezer), resume: back;
 * both answer the task object. E_FAILED_PRECONDITION in any other state. */
void tasks_pause(struct daemon *d, const char *ns, const char *id, tasks_cb cb, void *data);
void tasks_resume(struct daemon *d, const char *ns, const char *id, tasks_cb cb, void *data);
/* {"pids":[{"pid"}...]} of a created, running or paused task. */
void tasks_pids(struct daemon *d, const char *ns, const char *id, tasks_cb cb, void *data);
/* Apply OCI linux resources (validated by tasks_check_resources first,
 * E_INVALID_ARGUMENT naming the field) → the task object. */
void tasks_update(struct daemon *d, const char *ns, const char *id, json_t *resources,
		  tasks_cb cb, void *data);
/* Sane values only: memory limits -1 or >= 6 MiB, cpu shares 2..262144,
 * quota -1 or 1000.. at most the machine's CPUs, period 1000..1000000, pids
 * limit -1 or 1..4194304, blockIO weight 10..1000; unknown keys refused. */
int tasks_check_resources(json_t *resources, err_t *err);

/* terminal.c, for the init process (exec_id NULL or "") or an exec (E_NOT_FOUND
 * for one the task does not have). resize: set the window size of its
 * terminal (each 1..TASKS_TERMINAL_MAX, else E_INVALID_ARGUMENT;
 * E_FAILED_PRECONDITION for a process without a terminal, not started or
 * exited). closeio: end its stdin (EOF for a pipe; the terminal's EOF
 * character for a terminal); a process without stdin has nothing to close.
 * Both answer {}. */
#define TASKS_TERMINAL_MAX 65535
void tasks_resize(struct daemon *d, const char *ns, const char *id, const char *exec_id,
		  unsigned width, unsigned height, tasks_cb cb, void *data);
void tasks_closeio(struct daemon *d, const char *ns, const char *id, const char *exec_id,
		   tasks_cb cb, void *data);

/* The captured output of a task created with "log": E_NOT_FOUND without a
 * task, E_FAILED_PRECONDITION when it does not capture. Returns the path. */
char *tasks_log_path(struct daemon *d, const char *ns, const char *id, err_t *err);
/* Has the task exited (or is it gone)? Followers of logs stop then. */
bool tasks_done(struct daemon *d, const char *ns, const char *id);

/* exec.c: processes added to a running task (containerd's Exec). Served
 * objects: {"id" (the exec id),"pid","status","exit_status"?,"exited_at"?},
 * status created, running or stopped. Events /tasks/exec-added
 * ({"container_id","exec_id"}), /tasks/exec-started (+"pid") and
 * /tasks/exit with "id" the exec id.
 * add: body {"exec_id","process":{"args","env","cwd","user","terminal"},
 * "stdin"?,"stdout"?,"stderr"?,"log"?}; E_ALREADY_EXISTS for a taken exec
 * id, E_FAILED_PRECONDITION unless the task is running. */
void tasks_exec_add(struct daemon *d, const char *ns, const char *id, json_t *body, tasks_cb cb,
		    void *data);
void tasks_exec_start(struct daemon *d, const char *ns, const char *id, const char *exec_id,
		      tasks_cb cb, void *data);
json_t *tasks_exec_get(struct daemon *d, const char *ns, const char *id, const char *exec_id,
		       err_t *err);
void tasks_exec_kill(struct daemon *d, const char *ns, const char *id, const char *exec_id,
		     int sig, tasks_cb cb, void *data);
/* Calls back at its exit: {"exit_status","exited_at"}. */
void tasks_exec_wait(struct daemon *d, const char *ns, const char *id, const char *exec_id,
		     tasks_cb cb, void *data);
void tasks_exec_wait_cancel(struct daemon *d, const char *ns, const char *id,
			    const char *exec_id, void *data);
/* Forget a stopped (or never started) exec → {"id","pid","exit_status"?,"exited_at"?}. */
void tasks_exec_delete(struct daemon *d, const char *ns, const char *id, const char *exec_id,
		       tasks_cb cb, void *data);
/* The output of an exec created with "log" (as tasks_log_path). */
char *tasks_exec_log_path(struct daemon *d, const char *ns, const char *id, const char *exec_id,
			  err_t *err);
bool tasks_exec_done(struct daemon *d, const char *ns, const char *id, const char *exec_id);

/* checkpoint.c: CRIU checkpoint of a running or paused task into the
 * content store (containerd's Checkpoint): `criu check` first
 * (E_FAILED_PRECONDITION with CRIU's reason when it fails), then `runtime
 * checkpoint` through the shim (the task keeps running unless exit), the
 * image directory as a tar blob, the container's spec as a JSON blob and an
 * OCI index of both, named by an image record `image` (NULL:
 * localhost/checkpoint/<id>:<unix time>) with labels (may be NULL). Answers
 * the index descriptor {"mediaType","digest","size"}; publishes
 * /tasks/checkpointed {"container_id","checkpoint","image"}. E_NOT_FOUND
 * without a task, E_FAILED_PRECONDITION unless running or paused.
 * Restore: tasks_create with io "checkpoint": "<digest of such an index>". */
void tasks_checkpoint(struct daemon *d, const char *ns, const char *id, bool exit,
		      const char *image, json_t *labels, tasks_cb cb, void *data);

/* "SIGTERM", "TERM", "term", "15" → 15; -1 when it is not a signal. */
int signal_parse(const char *s);

#endif
