/*
 * proto: the berth-shim wire formats of shim/PROTOCOL.md, as pure functions
 * (no I/O, no globals) so they can be unit tested and fuzzed.
 *
 * - shim.json, parsed into struct shim_opts (strict: unknown keys and wrong
 *   types are E_INVALID_ARGUMENT naming the field);
 * - one control-socket request line, parsed into struct shim_request;
 * - answers and notifications, built as one NDJSON line ending in "\n";
 * - the runtime's `--log-format json` log, reduced to its error message.
 *
 * Strings returned are malloc'd and owned by the caller.
 */
#ifndef BERTH_SHIM_PROTO_H
#define BERTH_SHIM_PROTO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "core/err.h"

/* One rootfs mount of shim.json, mounted on <dir>/rootfs in order. */
struct shim_mount {
	char *type;
	char *source;
	char **options;
	size_t n_options;
};

/* shim.json. Paths that are NULL were null or absent. */
struct shim_opts {
	char *id;
	char *ns;
	char *runtime;      /* absolute path of a runc-compatible binary */
	char *runtime_root; /* its --root */
	char **runtime_args;
	size_t n_runtime_args;
	struct shim_mount *mounts;
	size_t n_mounts;
	char *stdin_path;
	char *stdout_path;
	char *stderr_path;
	bool log;
	bool terminal;
	char *checkpoint;   /* a CRIU image directory: `start` restores it */
	bool start;         /* `runtime run --detach`: created and started at once */
};

int proto_parse_opts(const char *text, size_t len, struct shim_opts *o, err_t *err);
void shim_opts_release(struct shim_opts *o);

enum shim_method {
	SHIM_STATE,  /* answered from memory */
	SHIM_START,  /* runtime start */
	SHIM_KILL,   /* runtime kill [--all] ID SIG */
	SHIM_DELETE, /* runtime delete, cleanup, exit */
	SHIM_PAUSE,  /* runtime pause ID */
	SHIM_RESUME, /* runtime resume ID */
	SHIM_PIDS,   /* runtime ps --format json ID */
	SHIM_UPDATE, /* runtime update --resources FILE ID */
	SHIM_RESIZE, /* TIOCSWINSZ on a process's terminal */
	SHIM_CLOSEIO, /* end a process's stdin */
	SHIM_EXEC,        /* register an exec process (not started) */
	SHIM_EXEC_START,  /* runtime exec --detach --process FILE ID */
	SHIM_EXEC_DELETE, /* forget an exec that has exited (or never started) */
	SHIM_CHECKPOINT,  /* runtime checkpoint --image-path P --work-path W [--leave-running] ID */
};

/* An exec id: 1..76 of [A-Za-z0-9_.-], not starting with '.' or '-' (it
 * names files in the task directory). */
bool proto_exec_id_valid(const char *id);

struct shim_request {
	bool has_id;         /* false when even the id could not be read */
	json_int_t id;
	enum shim_method method;
	int signal;          /* kill: 1..64, default SIGTERM */
	bool all;            /* kill: every process of the container */
	char *resources;     /* update: the OCI linux resources object, compact JSON */
	char *exec_id;       /* the exec a request is about, NULL for init; required
			      * by exec, exec_start and exec_delete */
	/* exec: */
	char *process;       /* the OCI process object, compact JSON */
	char *stdin_path, *stdout_path, *stderr_path; /* client FIFOs */
	bool log;            /* stdout+stderr appended to exec-<id>.log */
	bool terminal;
	unsigned width, height; /* resize: 1..65535 each */
	/* checkpoint: absolute directories, and whether the task ends with it */
	char *image_path, *work_path;
	bool exit;
};

/* Parse one request line (without its "\n"). On failure req->has_id and
 * req->id still say which request to answer, and *err is E_INVALID_ARGUMENT.
 * A parsed request is released with shim_request_release() (also after a
 * failure). */
int proto_parse_request(const char *line, size_t len, struct shim_request *req, err_t *err);
void shim_request_release(struct shim_request *req);

/* `runtime ps --format json` output (a JSON array of pids) → the `pids`
 * answer {"pids":[{"pid":N}...]}; NULL and *err (E_INTERNAL) when it is not
 * an array of positive integers. */
json_t *proto_pids(const char *text, size_t len, err_t *err);

/* `{"id":ID,"result":RESULT}\n`; steals result. */
char *proto_answer(json_int_t id, json_t *result);
/* `{"id":ID|null,"error":{"code","message"}}\n`. */
char *proto_answer_error(bool has_id, json_int_t id, enum err_kind kind, const char *msg);
/* `{"event":NAME,"params":PARAMS}\n`; steals params. */
char *proto_event(const char *name, json_t *params);

/* {"pid","exit_status","exited_at"} of an exit at wall-clock ns. */
json_t *proto_exit_json(pid_t pid, int exit_status, int64_t exited_at_ns);

/* The message of the last `"level":"error"` line of a runc json log (only
 * lines that end in "\n" are read); NULL when there is none. */
char *proto_runtime_log_error(const char *text, size_t len);

#endif
