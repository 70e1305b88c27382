/* berth tasks exec: run one more process in a running task, as `ctr tasks
 * exec` (and `docker exec`): POST .../task/exec, POST .../exec/EID/start,
 * then in the foreground its stdio through FIFOs made here (a terminal with
 * -t: raw mode with -i, the window size followed), signals forwarded to it,
 * its exit status returned and the exec deleted; with -d its output goes
 * to the exec's log and its id is printed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/tty.h"
#include "cli/util.h"
#include "core/json.h"

enum { OPT_EXEC_ID = 256, OPT_ENV, OPT_USER, OPT_CWD };

/* As `berth run`: berth's own failure (126 and 127, the command cannot run
 * or is not found, come from start_failure_status). */
enum { EXEC_FAILED = 125 };

struct exec {
	struct cli *cli;
	struct client *c;
	struct client *killer; /* kill during the wait */
	const char *id;
	char *exec_id;
	bool tty, interactive;
	struct cio io; /* stdout, stdin with -i, stderr without -t */
	bool interrupted;
};

/* .../task/exec, or with eid true .../task/exec/EID<rest> */
static char *exec_path(const struct exec *x, bool eid, const char *rest)
{
	cleanup_free char *e = client_escape(x->id);
	if (!eid)
		return cli_ns_path(x->cli, "/containers/%s/task/exec", e);
	cleanup_free char *ee = client_escape(x->exec_id);
	return cli_ns_path(x->cli, "/containers/%s/task/exec/%s%s", e, ee, rest);
}

/* SIGINT, SIGTERM, SIGHUP, SIGQUIT to the process; a second SIGINT is SIGKILL. */
static void forward_cb(void *arg, int sig)
{
	struct exec *x = arg;
	if (sig == SIGINT && x->interrupted)
		sig = SIGKILL;
	else if (sig == SIGINT)
		x->interrupted = true;
	err_t err = NULL;
	if (!x->killer &&
	    !(x->killer = client_new(x->cli->address, x->cli->token, x->cli->timeout, &err))) {
		cli_fail(&err, CLI_ERROR);
		return;
	}
	cleanup_free char *e = client_escape(x->id);
	cleanup_free char *path = cli_ns_path(x->cli, "/containers/%s/task/kill", e);
	cleanup_json json_t *body = json_pack("{s:i,s:s}", "signal", sig, "exec_id", x->exec_id);
	if (client_call(x->killer, "POST", path, body, NULL, &err) != CLIENT_OK) {
		if (err->kind == E_NOT_FOUND) /* it has just exited */
			err_free(&err);
		else
			cli_fail(&err, CLI_ERROR);
	}
}

static void delete_exec(struct exec *x)
{
	cleanup_free char *path = exec_path(x, true, "");
	err_t err = NULL;
	if (client_call(x->c, "DELETE", path, NULL, NULL, &err) != CLIENT_OK)
		cli_fail(&err, CLI_ERROR);
}

static int run_exec(struct exec *x, json_t *process, bool detach, int sigfd)
{
	err_t err = NULL;
	cleanup_json json_t *body =
	    json_pack("{s:s,s:O}", "exec_id", x->exec_id, "process", process);
	if (detach) {
		json_object_set_new(body, "log", json_true());
	} else {
		if (cio_make(&x->io, "berth-exec", x->interactive, !x->tty, &err) < 0)
			return cli_fail(&err, EXEC_FAILED);
		static const char *const keys[] = {"stdin", "stdout", "stderr"};
		for (int i = 0; i < 3; i++)
			if (x->io.path[i])
				json_object_set_new(body, keys[i], json_string(x->io.path[i]));
	}
	cleanup_free char *add = exec_path(x, false, "");
	if (client_call(x->c, "POST", add, body, NULL, &err) != CLIENT_OK)
		return cli_fail(&err, EXEC_FAILED);
	cleanup_free char *start = exec_path(x, true, "/start");
	if (client_call(x->c, "POST", start, NULL, NULL, &err) != CLIENT_OK) {
		int st = start_failure_status(err);
		cli_fail(&err, st);
		delete_exec(x);
		return st;
	}
	if (detach) {
		printf("%s\n", x->exec_id);
		return CLI_OK;
	}
	/* its terminal exists now: give it our size before it reads it */
	if (x->tty &&
	    tty_send_size(x->cli, x->c, x->id, x->exec_id, STDIN_FILENO, &err) != CLIENT_OK)
		cli_fail(&err, CLI_OK);
	if (x->tty && x->interactive && tty_raw(STDIN_FILENO, &err) < 0)
		cli_fail(&err, CLI_OK);
	struct tty_attach a = {
	    .cli = x->cli,
	    .c = x->c,
	    .id = x->id,
	    .exec_id = x->exec_id,
	    .in_fd = x->io.fd[CIO_IN],
	    .out_fd = x->io.fd[CIO_OUT],
	    .err_fd = x->io.fd[CIO_ERR],
	    .sigfd = sigfd,
	    .on_signal = forward_cb,
	    .arg = x,
	};
	x->io.fd[CIO_IN] = -1; /* tty_attach_run closes it */
	int status = tty_attach_run(&a, &err);
	tty_restore();
	tty_attach_release(&a);
	if (a.in_fd >= 0)
		close(a.in_fd);
	if (status < 0)
		return cli_fail(&err, EXEC_FAILED);
	delete_exec(x);
	return status;
}

static int exec_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"exec-id", required_argument, NULL, OPT_EXEC_ID},
	    {"tty", no_argument, NULL, 't'},
	    {"interactive", no_argument, NULL, 'i'},
	    {"detach", no_argument, NULL, 'd'},
	    {"env", required_argument, NULL, OPT_ENV},
	    {"user", required_argument, NULL, OPT_USER},
	    {"cwd", required_argument, NULL, OPT_CWD},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	struct exec x = {.cli = cli, .io = CIO_INIT};
	bool detach = false;
	const char *exec_id = NULL;
	cleanup_json json_t *process = json_object();
	json_t *env = NULL;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "+tidh", longopts)) != -1) {
		switch (c) {
		case OPT_EXEC_ID:
			exec_id = optarg;
			break;
		case 't':
			x.tty = true;
			break;
		case 'i':
			x.interactive = true;
			break;
		case 'd':
			detach = true;
			break;
		case OPT_ENV:
			if (!env)
				json_object_set_new(process, "env", env = json_array());
			json_array_append_new(env, json_string(optarg));
			break;
		case OPT_USER:
			json_object_set_new(process, "user", json_string(optarg));
			break;
		case OPT_CWD:
			json_object_set_new(process, "cwd", json_string(optarg));
			break;
		default:
			return cli_getopt_other(cli, c);
		}
	}
	if (argc - optind < 2)
		return cli_usage_error(cli, optind < argc
						? "missing the command"
						: "missing the container ID and the command");
	if (detach && (x.tty || x.interactive))
		return cli_usage_error(cli,
				       "-d does not go with -t or -i: a detached exec logs its "
				       "output (GET .../task/logs?exec_id=EID)");
	if (x.tty && !isatty(STDIN_FILENO)) {
		fprintf(stderr, "berth: the input device is not a TTY\n");
		return EXEC_FAILED;
	}
	x.id = argv[optind];
	json_t *args = json_array();
	for (int i = optind + 1; i < argc; i++)
		json_array_append_new(args, json_string(argv[i]));
	json_object_set_new(process, "args", args);
	json_object_set_new(process, "terminal", json_boolean(x.tty));
	if (exec_id) {
		x.exec_id = xstrdup(exec_id);
	} else { /* as docker: one made up */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		x.exec_id = xasprintf("berth-exec-%ld-%ld", (long)getpid(), (long)ts.tv_nsec);
	}
	int st;
	if (!(x.c = cli_client(cli, &st))) {
		free(x.exec_id);
		return st;
	}
	signal(SIGPIPE, SIG_IGN);
	sigset_t old;
	int sigfd = cli_signalfd(true, &old);
	if (sigfd < 0) {
		st = EXEC_FAILED;
	} else {
		st = run_exec(&x, process, detach, sigfd);
		cli_signalfd_close(sigfd, &old); /* a signal after the exit is dropped */
	}
	cio_release(&x.io, false);
	client_free(x.killer);
	free(x.exec_id);
	return st;
}

const struct cli_command cmd_tasks_exec = {
    .name = "exec",
    .summary = "run another process in a task",
    .synopsis =
	"[-t] [-i] [-d] [--exec-id EID] [--env K=V] [--user U] [--cwd DIR] ID CMD [ARGS...]",
    .help = "Run CMD in the running task of the container ID (POST .../task/exec, then\n"
	    "start), with the container's process settings but its own args. In the\n"
	    "foreground its stdout and stderr come here through FIFOs until it exits; the\n"
	    "exec is then deleted and berth exits with its exit status (125: berth's own\n"
	    "failure, 126: not executable, 127: not found). SIGINT, SIGTERM, SIGHUP and\n"
	    "SIGQUIT go to the process (a second SIGINT as SIGKILL).\n"
	    "\n"
	    "Options:\n"
	    "      --exec-id EID  its id (default: one made up)\n"
	    "  -t, --tty          give it a terminal; with -i berth's terminal is in raw\n"
	    "                     mode until it exits and its size follows berth's\n"
	    "  -i, --interactive  copy berth's stdin to it; its end is the process's EOF\n"
	    "  -d, --detach       start it and print EID; its output goes to its log\n"
	    "                     (GET .../task/logs?exec_id=EID)\n"
	    "      --env K=V      set an environment variable (repeatable)\n"
	    "      --user U       run as U: uid, uid:gid, name or name:group\n"
	    "      --cwd DIR      its working directory\n"
	    "  -h, --help         show this help\n",
    .run = exec_run,
};
