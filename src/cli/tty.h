/* cli/tty: berth's side of a terminal task (`berth run -t`, `berth tasks
 * attach`): the local terminal in raw mode, restored on every exit path,
 * and the attach loop that copies our stdin to the task's stdin FIFO and
 * its stdout FIFO to our stdout, sends our window size (at once and on
 * every SIGWINCH) and waits for the process's exit. */
#ifndef BERTH_CLI_TTY_H
#define BERTH_CLI_TTY_H

#include <stdbool.h>

#include "cli/cli.h"

/* Put fd (a terminal) in raw mode (cfmakeraw on the saved settings), once;
 * tty_restore() puts the saved settings back, and runs at exit too. */
int tty_raw(int fd, err_t *err);
void tty_restore(void);

/* POST .../task/resize with fd's window size on connection c, for the exec
 * exec_id (NULL: init); nothing is sent when fd is not a terminal. */
enum client_status tty_send_size(struct cli *cli, struct client *c, const char *id,
				 const char *exec_id, int fd, err_t *err);

/* tty_attach_run() returns the process's exit status (0..255), or: */
enum { TTY_DETACHED = -2, TTY_FAILED = -1 };

struct tty_attach {
	struct cli *cli;
	struct client *c; /* for the wait, a long-poll */
	const char *id;
	const char *exec_id; /* an exec of the task, NULL: its init process */
	int in_fd;	     /* our end of the task's stdin FIFO (written), -1: none */
	int out_fd;	     /* our end of its stdout FIFO (read) */
	int err_fd;	     /* its stderr FIFO (read, to our stderr), -1: none */
	int sigfd;	     /* signalfd of SIGWINCH and the signals below */
	bool detach_keys;    /* Ctrl-P Ctrl-Q leaves the task running */
	/* signals other than SIGWINCH; NULL: they detach */
	void (*on_signal)(void *arg, int sig);
	void *arg;
	struct client *ctl; /* a second connection (resize), made on need */
};

/* Copy until the process exits (then drain its output) or the user
 * detaches; the caller put the terminal in raw mode when it wanted. Takes
 * none of the fds; closes in_fd at the exit, and once our stdin has ended
 * and all of it is written (a pipe's reader then sees EOF; a terminal
 * task's FIFO stays open in the shim). */
int tty_attach_run(struct tty_attach *a, err_t *err);
void tty_attach_release(struct tty_attach *a);

#endif
