/*
 * berth-shim: one per task (shim/PROTOCOL.md is the contract with berthd).
 *
 * The shim is a single-threaded libevent program: every fd is non-blocking
 * and watched by the loop; the runtime runs as child processes reaped from
 * the SIGCHLD event. It owns the task directory's shim.sock, shim.pid,
 * exit.json and log, the rootfs mounts it made, and the container's stdio
 * pipes. It must stay small (it lives as long as the container): no big
 * buffers, only libevent_core and jansson.
 *
 * Modules: main.c (start-up handshake, lifecycle), proto.c (wire formats),
 * mount.c (rootfs), io.c (stdio copying), console.c (terminals: the
 * console socket, the pty master), runtime.c (runtime commands), ctl.c
 * (control socket), task.c (requests and the task's state).
 */
#ifndef BERTH_SHIM_SHIM_H
#define BERTH_SHIM_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "core/util.h"
#include "shim/proto.h"

enum task_status {
	TASK_CREATED, /* runtime create succeeded, not started */
	TASK_RUNNING, /* runtime start succeeded */
	TASK_PAUSED,  /* runtime pause succeeded (frozen) */
	TASK_STOPPED, /* the init process exited and exit.json is on disk */
};

/* How long an exit waits for the process's output to end (a process that
 * inherited stdout may outlive it) before it is announced anyway. */
#define OUTPUT_GRACE_SEC 1

struct io_copy;
struct console;
struct conn;

/* The stdio of one process (init or an exec): the pipe ends handed to the
 * runtime (child_fds, closed once it ran) and the copies to the client's
 * FIFOs or the log file (io.c). */
struct proc_io {
	int child_fds[3];
	struct io_copy *io[3];
	int log_fd;
	struct console *console; /* its terminal (io_paths.terminal), else NULL */
};

/* Where a process's stdio goes: client FIFO paths and a log file, NULL for none. */
struct io_paths {
	const char *in, *out, *err;
	const char *log;
	bool terminal; /* a console: in and out go to the pty master, err unused */
};

/* An exec'd process of the task (exec.c). */
struct exec_proc {
	struct exec_proc *next;
	struct shim *s;
	char *id;
	enum task_status status; /* CREATED (registered), RUNNING, STOPPED */
	pid_t pid;               /* 0 until started */
	bool exit_reaped;        /* reaped, exit not announced yet */
	int exit_status;
	int64_t exited_at;
	struct event *exit_timer;
	bool log, terminal;
	char *stdin_path, *stdout_path, *stderr_path;
	struct proc_io pio;
};
struct req;
struct rt_cmd;
struct shim;

/* Called when a runtime command has been reaped; status as waitpid's. */
typedef void (*rt_done_fn)(struct shim *s, struct rt_cmd *c, int status);

/* One control request, owned by its connection's list until answered; a
 * request whose client went away (conn NULL) is freed when it finishes. */
struct req {
	struct req *next;   /* in its connection's order */
	struct req *qnext;  /* in s->queue */
	struct conn *conn;  /* NULL once the client is gone */
	struct shim_request rq;
	char *answer;       /* the answer line, once there is one */
	int step;           /* task.c's progress through a multi-step request */
};

static inline void req_free(struct req *r)
{
	shim_request_release(&r->rq);
	free(r->answer);
	free(r);
}

/* One runtime invocation (at most one runs at a time). */
struct rt_cmd {
	pid_t pid;
	char *verb;        /* "create", "start", ... for messages */
	int err_fd;        /* its stderr (a pipe), -1 for create */
	struct event *err_ev;
	struct buf err;    /* what it wrote there, capped */
	off_t log_off;     /* runtime.log size when it started */
	struct proc_io *stdio; /* the process whose stderr it shares, when err_fd is -1 */
	struct event *timer; /* SIGKILL when it takes too long */
	bool timed_out;
	rt_done_fn done;
	void *data;
};

struct shim {
	struct event_base *base;
	char *dir;              /* absolute task directory */
	char *rootfs;           /* <dir>/rootfs */
	struct shim_opts opts;
	int handshake_fd;       /* write end of P1's pipe until reported */
	struct err *failure;    /* start-up failure, reported once undone */

	enum task_status status;
	bool restore_pending;   /* created from opts.checkpoint: `start` runs runtime restore */
	bool runtime_gone;      /* checkpointed with exit: the runtime has no container */
	pid_t init_pid;         /* 0 until init.pid was read */
	bool exit_reaped;       /* init reaped, exit not announced yet */
	int exit_status;
	int64_t exited_at;      /* ns */
	struct event *exit_timer; /* announce even if output never ends */

	size_t n_mounted;       /* rootfs mounts made (unmounted in reverse) */

	/* the init process's stdio */
	struct proc_io pio;
	struct exec_proc *execs;
	size_t n_execs;

	struct rt_cmd *rt;      /* the running runtime command */
	struct req *queue, **queue_tail; /* requests waiting for their turn */
	struct req *current;    /* the queued request being carried out */

	int listen_fd;
	struct event *listen_ev;
	struct conn *conns;

	struct event *sigchld_ev;
	struct event *quit_timer;
	int runtime_timeout;    /* seconds a runtime command may take */
	bool exiting;           /* deleted: flushing answers, then exit */
	int rc;                 /* process exit code */

	/* children reaped before their pid file was read (init, execs) */
	struct {
		pid_t pid;
		int status;
	} early[16];
	size_t n_early;
};

/* main.c */
/* init.pid (the runtime wrote it) → s->init_pid; -1 with *err when unreadable. */
int shim_read_init_pid(struct shim *s, err_t *err);
/* Finish start-up: report result (NULL on success) to P1 and, on failure,
 * leave the loop. */
void shim_report(struct shim *s, err_t e);
/* Leave the loop once every client has its answers (or after a while). */
void shim_quit(struct shim *s);
/* path of a file in the task directory; caller frees */
char *shim_path(struct shim *s, const char *name);

/* mount.c: mount opts.mounts on rootfs, counting s->n_mounted; undo on failure. */
int rootfs_mount(struct shim *s, err_t *err);
void rootfs_unmount(struct shim *s);

/* io.c */
void proc_io_init(struct proc_io *pio);
/* Open the client FIFOs and log, make the process's pipes (child_fds). */
int io_setup(struct shim *s, struct proc_io *pio, const struct io_paths *paths, err_t *err);
/* After the runtime ran: close the process's ends, start copying. */
void io_start(struct shim *s, struct proc_io *pio);
/* Whatever the process's stderr pipe holds now (the runtime's own errors), capped. */
char *io_take_stderr(struct proc_io *pio);
/* All output copied and closed (or nothing to copy). */
bool io_output_done(const struct proc_io *pio);
void io_release(struct proc_io *pio);
/* closeio: end the process's stdin (console_close_stdin for a terminal). */
void io_close_stdin(struct proc_io *pio);

/* One direction of copying (in → out, and log for output) through a buffer
 * of at most 64 KiB: then the reading stops (backpressure on the writer).
 * A write error other than EAGAIN drops out (the copy goes on draining
 * in); the end of in is the end. Takes in and out; log is borrowed (-1:
 * none). An output copy's end calls task_output_done(). */
typedef void (*io_done_fn)(struct io_copy *io, void *arg);
struct io_copy *io_copy_new(struct shim *s, int in, int out, int log, bool output);
/* fn(io, arg) once the copy has ended (out closed). */
void io_copy_on_done(struct io_copy *io, io_done_fn fn, void *arg);
void io_copy_start(struct io_copy *io);
/* End in now (as if it had reached EOF): out is closed once the buffer is out. */
void io_copy_close_input(struct io_copy *io);
bool io_copy_done(const struct io_copy *io);
void io_copy_free(struct io_copy *io);

/* console.c: a process's terminal, as containerd's shim holds it. Any
 * process (init, or an exec) that asks for a terminal gets one console:
 *   c = console_new(s, stdin_fifo, stdout_fifo, log_fd, &err)
 *   run `runtime create|exec --console-socket console_socket(c) ...`
 *   console_receive(c, &err) once the runtime succeeded (the master is queued
 *   on the socket by then), console_start(c) to copy,
 *   console_resize(), console_close_stdin() on requests,
 *   console_output_done() before announcing its exit, console_free().
 * The FIFOs are opened read-write so the copies survive their clients: a
 * client that goes away is no EOF on stdin and no EPIPE on stdout; output
 * nobody reads fills the FIFO, then 64 KiB in the shim, then the process's
 * writes block. Attaching again means opening the same FIFOs. */
struct console *console_new(struct shim *s, const char *stdin_path, const char *stdout_path,
			    int log_fd, err_t *err);
/* The socket path to give the runtime (short: a private directory in /tmp). */
const char *console_socket(const struct console *c);
/* Take the pty master the runtime sent (SCM_RIGHTS); removes the socket. */
int console_receive(struct console *c, err_t *err);
void console_start(struct console *c);
/* TIOCSWINSZ on the master; E_FAILED_PRECONDITION before console_receive. */
int console_resize(struct console *c, unsigned width, unsigned height, err_t *err);
/* Stop copying stdin; once its buffer is written, send the terminal's EOF
 * character (VEOF, ^D) to the process. */
void console_close_stdin(struct console *c);
/* The master reached its end (every slave fd closed) and the output is out. */
bool console_output_done(const struct console *c);
void console_free(struct console *c);

/* runtime.c */
/* stdio[2] of runtime_run: stderr captured for the runtime's message. */
#define RT_CAPTURE (-2)
/* Run `runtime --root R [args] --log .. --log-format json VERB ARGV...`;
 * stdio NULL means /dev/null, /dev/null, a capture pipe; -1 in stdio is
 * /dev/null, RT_CAPTURE (stderr only) the capture pipe. */
int runtime_run(struct shim *s, const char *verb, const char *const *argv, const int *stdio,
		rt_done_fn done, void *data, err_t *err);
/* Reaped: finish s->rt. */
void runtime_reaped(struct shim *s, int status);
/* "runc create: <the runtime's message>"; caller frees. */
char *runtime_error(struct shim *s, struct rt_cmd *c, int status);
void runtime_release(struct shim *s);

/* ctl.c */
int ctl_listen(struct shim *s, err_t *err);
void ctl_unlisten(struct shim *s);
void ctl_broadcast(struct shim *s, const char *line);
/* Queue line to the request's connection, in request order. */
void ctl_answer(struct shim *s, struct req *r, char *line);
/* Close every connection that has nothing left to send; true when none is left. */
bool ctl_flush_close(struct shim *s);
void ctl_release(struct shim *s);

/* exec.c */
struct exec_proc *exec_find(struct shim *s, const char *id);
/* The requests about execs (SHIM_EXEC*, kill and state with an exec_id);
 * r is s->current, except for state. */
void exec_request(struct shim *s, struct req *r);
/* pid was reaped: true when it was an exec's. */
bool exec_reaped(struct shim *s, pid_t pid, int status);
/* An exec's output may have finished: announce the exits waiting for it. */
void exec_output_done(struct shim *s);
/* {"id","pid","status","exit_status"?,"exited_at"?} */
json_t *exec_state_json(struct exec_proc *e);
/* The task is deleted: drop every exec and its files. */
void exec_release_all(struct shim *s);

/* task.c */
const char *task_status_name(enum task_status st);
/* The current request is done: answer it (or drop it, the client is gone). */
void task_finish(struct shim *s, struct req *r, char *line);
void task_finish_error(struct shim *s, struct req *r, enum err_kind kind, const char *msg);
/* Start the next queued request, if none runs. */
void task_run_next(struct shim *s);
/* Has the init process exited (reaped or announced)? */
bool task_exited(struct shim *s);
void task_request(struct shim *s, struct conn *c, struct req *r);
/* resize, closeio of one process (init or an exec), answered at once. */
void task_stdio_request(struct shim *s, struct req *r, struct proc_io *pio, bool exited);
void task_reaped(struct shim *s, pid_t pid, int status);
/* init.pid has been read: pick up its exit if it was reaped already. */
void task_init_known(struct shim *s);
/* The output finished or the wait for it timed out. */
void task_output_done(struct shim *s);
void task_release(struct shim *s);

#endif
