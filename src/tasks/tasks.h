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
 * Served objects: {"id","pid","status","exit_status"?,"exited_at"?}, status
 * created, running, paused, stopped or unknown (its shim is gone).
 * Events: /tasks/create, /tasks/start, /tasks/exit, /tasks/delete,
 * /tasks/paused, /tasks/resumed ({"container_id"}).
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

/* io: {"stdin"?,"stdout"?,"stderr"? (FIFO paths),"terminal"?,"log"?} */
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

/* The captured output of a task created with "log": E_NOT_FOUND without a
 * task, E_FAILED_PRECONDITION when it does not capture. Returns the path. */
char *tasks_log_path(struct daemon *d, const char *ns, const char *id, err_t *err);
/* Has the task exited (or is it gone)? Followers of logs stop then. */
bool tasks_done(struct daemon *d, const char *ns, const char *id);

/* "SIGTERM", "TERM", "term", "15" → 15; -1 when it is not a signal. */
int signal_parse(const char *s);

#endif
