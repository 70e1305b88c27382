/*
 * tasks/shim: berthd's side of shim/PROTOCOL.md — starting a berth-shim for
 * a task directory and talking NDJSON to its control socket.
 *
 * shim_spawn() runs `berth-shim <dir>` and calls back once the shim has
 * reported (P1 exited): with the init pid, or with the error the shim gave
 * (the runtime's own message). Nothing blocks: the report is read from a
 * pipe when the loop sees P1's exit.
 *
 * A shim_conn is one connection to a shim's socket: calls are answered in
 * order, notifications go to the event callback. When the connection
 * closes, every call still waiting is answered with E_UNAVAILABLE, then the
 * closed callback runs (the conn is then freed by the owner).
 */
#ifndef BERTH_TASKS_SHIM_H
#define BERTH_TASKS_SHIM_H

#include <sys/types.h>

#include "core/daemon.h"
#include "core/json.h"

typedef void (*shim_spawn_cb)(void *data, pid_t init_pid, err_t *err);
int shim_spawn(struct daemon *d, const char *shim_bin, const char *dir, shim_spawn_cb cb,
	       void *data, err_t *err);

struct shim_conn;
/* result is borrowed; on failure result is NULL and *err is set (freed
 * after the callback). */
typedef void (*shim_reply_cb)(void *data, json_t *result, err_t *err);
struct shim_conn_ops {
	void (*event)(void *data, const char *name, json_t *params);
	void (*closed)(void *data);
};
/* Connect to the socket (a Unix socket answers connect at once, or not at
 * all: E_UNAVAILABLE then). */
struct shim_conn *shim_connect(struct daemon *d, const char *sock, const struct shim_conn_ops *ops,
			       void *data, err_t *err);
void shim_call(struct shim_conn *c, const char *method, json_t *params, shim_reply_cb cb,
	       void *data);
/* Close without calling anything back (pending calls are answered with
 * E_UNAVAILABLE first, as on a hang-up; closed does not run). */
void shim_conn_free(struct shim_conn *c);

#endif
