/* berth tasks attach, resize, closeio: a task's terminal and stdin (as
 * `ctr tasks attach`, `docker attach`, ctr's resize and CloseIO). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/tty.h"
#include "cli/util.h"
#include "core/json.h"

static char *task_path(const struct cli *cli, const char *id, const char *rest)
{
	cleanup_free char *e = client_escape(id);
	return cli_ns_path(cli, "/containers/%s/task%s", e, rest);
}

/* ---- attach ---------------------------------------------------------------- */

static int open_fifo(const char *what, const char *path, int flags, int *fd)
{
	*fd = open(path, flags | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0) {
		fprintf(stderr, "berth: cannot open the task's %s `%s`: %s\n", what, path,
			strerror(errno));
		return CLI_ERROR;
	}
	return CLI_OK;
}

static int attach(struct cli *cli, struct client *c, const char *id, int sigfd)
{
	cleanup_free char *path = task_path(cli, id, "");
	cleanup_json json_t *task = NULL;
	err_t err = NULL;
	if (client_call(c, "GET", path, NULL, &task, &err) != CLIENT_OK)
		return cli_fail(&err, CLI_ERROR);
	const char *out = json_get_string(task, "stdout");
	const char *in = json_get_string(task, "stdin");
	if (!json_is_true(json_object_get(task, "terminal")) || !out) {
		fprintf(stderr,
			"berth: the task of `%s` has no terminal to attach to (start it with "
			"`berth run -d -t`)\n",
			id);
		return CLI_ERROR;
	}
	struct tty_attach a = {
	    .cli = cli,
	    .c = c,
	    .id = id,
	    .in_fd = -1,
	    .out_fd = -1, .err_fd = -1,
	    .sigfd = sigfd,
	    .detach_keys = true,
	};
	if (open_fifo("stdout", out, O_RDONLY, &a.out_fd) != CLI_OK ||
	    (in && open_fifo("stdin", in, O_WRONLY, &a.in_fd) != CLI_OK)) {
		if (a.out_fd >= 0)
			close(a.out_fd);
		return CLI_ERROR;
	}
	if (isatty(STDIN_FILENO) && tty_raw(STDIN_FILENO, &err) < 0) {
		close(a.out_fd);
		if (a.in_fd >= 0)
			close(a.in_fd);
		return cli_fail(&err, CLI_ERROR);
	}
	int status = tty_attach_run(&a, &err);
	tty_restore();
	tty_attach_release(&a);
	close(a.out_fd);
	if (a.in_fd >= 0)
		close(a.in_fd);
	if (status == TTY_DETACHED) {
		fprintf(stderr, "berth: detached from `%s`, which runs on\n", id);
		return CLI_OK;
	}
	if (status < 0)
		return cli_fail(&err, CLI_ERROR);
	return status;
}

static int attach_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing the container ID");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 1]);
	int st;
	struct client *cl = cli_client(cli, &st);
	if (!cl)
		return st;
	signal(SIGPIPE, SIG_IGN);
	/* every signal that would end us detaches instead (the terminal is
	 * restored); SIGWINCH resizes */
	sigset_t old;
	int sigfd = cli_signalfd(true, &old);
	if (sigfd < 0)
		return CLI_ERROR;
	st = attach(cli, cl, argv[optind], sigfd);
	cli_signalfd_close(sigfd, &old);
	return st;
}

/* ---- resize, closeio ----------------------------------------------------------- */

static int resize_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (argc - optind != 3)
		return cli_usage_error(cli, "need the container ID, a WIDTH and a HEIGHT");
	uint64_t v[2];
	for (int i = 0; i < 2; i++)
		if (!parse_u64(argv[optind + 1 + i], &v[i]) || v[i] > INT32_MAX)
			return cli_usage_error(cli, "bad %s `%s`: a number of %s",
					       i ? "HEIGHT" : "WIDTH", argv[optind + 1 + i],
					       i ? "rows" : "columns");
	cleanup_free char *path = task_path(cli, argv[optind], "/resize");
	cleanup_json json_t *body =
	    json_pack("{s:I,s:I}", "width", (json_int_t)v[0], "height", (json_int_t)v[1]);
	return cli_call(cli, "POST", path, body, NULL);
}

static int closeio_one(struct cli *cli, const char *id, void *arg)
{
	cleanup_free char *path = task_path(cli, id, "/closeio");
	return cli_call(cli, "POST", path, NULL, NULL);
}

static int closeio_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing the container ID");
	return cli_for_each(cli, argc - optind, argv + optind, closeio_one, NULL);
}

const struct cli_command cmd_tasks_attach = {
    .name = "attach",
    .summary = "attach to a terminal task",
    .synopsis = "ID",
    .help = "Attach berth's terminal to the terminal of the task of the container ID (one\n"
	    "started with `berth run -d -t`): raw mode, its output here, what is typed\n"
	    "there, its window size following this one. Ends when its process exits,\n"
	    "with its exit status; Ctrl-P Ctrl-Q (or SIGINT, SIGTERM, SIGHUP to berth)\n"
	    "detaches and leaves it running, exit status 0. Output it printed while\n"
	    "nobody was attached (up to what its FIFO and the shim hold) comes first.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = attach_run,
};

const struct cli_command cmd_tasks_resize = {
    .name = "resize",
    .summary = "set the window size of a task's terminal",
    .synopsis = "ID WIDTH HEIGHT",
    .help = "Set the window size of the terminal of the task of the container ID (POST\n"
	    ".../task/resize): WIDTH columns and HEIGHT rows, 1..65535 each. Its process\n"
	    "gets SIGWINCH.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = resize_run,
};

const struct cli_command cmd_tasks_closeio = {
    .name = "closeio",
    .summary = "close a task's stdin",
    .synopsis = "ID...",
    .help = "End the stdin of the task of each container ID (POST .../task/closeio): its\n"
	    "process reads EOF even while a client still holds the FIFO; a terminal gets\n"
	    "its EOF character (^D). Prints each id.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = closeio_run,
};
