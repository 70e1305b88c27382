/* berth tasks: the running side of containers, as `ctr tasks`: list the
 * tasks of a namespace, start, signal, wait for and delete a container's
 * task, and read what it logged (`berth run -d` captures its output);
 * pause and resume it, list its processes, change its resource limits.
 * A task is named by its container's id. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/container_opts.h"
#include "cli/table.h"
#include "cli/util.h"
#include "core/json.h"

enum { OPT_ALL = 256, OPT_MEMORY, OPT_CPUS, OPT_PIDS, OPT_EXIT, OPT_IMAGE, OPT_LABEL };

static char *task_path(const struct cli *cli, const char *id, const char *rest)
{
	cleanup_free char *e = client_escape(id);
	return cli_ns_path(cli, "/containers/%s/task%s", e, rest);
}

/* One row of `ls`. */
static void ls_row(struct table *tab, json_t *t, void *data)
{
	char pid[24] = "-";
	json_t *p = json_object_get(t, "pid");
	if (json_is_integer(p))
		snprintf(pid, sizeof(pid), "%lld",
			 (long long)json_integer_value(p));
	const char *status = json_get_string(t, "status");
	char shown[64];
	json_t *ex = json_object_get(t, "exit_status");
	if (status && strcmp(status, "stopped") == 0 && json_is_integer(ex)) {
		snprintf(shown, sizeof(shown), "stopped (%lld)",
			 (long long)json_integer_value(ex));
		status = shown;
	}
	table_add(tab, json_get_string(t, "id"), pid, status ? status : "-");
}

static int ls_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	bool quiet = false;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "qh", longopts)) != -1) {
		if (c == 'q')
			quiet = true;
		else
			return cli_getopt_other(cli, c);
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind]);
	cleanup_free char *path = cli_ns_path(cli, "/tasks");
	cleanup_json json_t *reply = NULL;
	int st = cli_call(cli, "GET", path, NULL, &reply);
	if (st != CLI_OK)
		return st;
	return cli_print_list(cli, reply, "tasks", "id", quiet,
			      table_new("TASK", "PID", "STATUS", NULL), ls_row, NULL);
}

static int start_one(struct cli *cli, const char *id, void *arg)
{
	cleanup_free char *path = task_path(cli, id, "/start");
	return cli_call(cli, "POST", path, NULL, NULL);
}

static int start_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing the container ID");
	return cli_for_each(cli, argc - optind, argv + optind, start_one, NULL);
}

struct kill_args {
	json_t *signal;
	bool all;
};

static int kill_one(struct cli *cli, const char *id, void *arg)
{
	const struct kill_args *k = arg;
	cleanup_free char *path = task_path(cli, id, "/kill");
	cleanup_json json_t *body = json_pack("{s:O}", "signal", k->signal);
	if (k->all)
		json_object_set_new(body, "all", json_true());
	return cli_call(cli, "POST", path, body, NULL);
}

/* "9", "KILL", "SIGKILL": a number goes as a number, a name as it is
 * (berthd knows the names); junk is a usage error here. */
static json_t *parse_signal(const char *s)
{
	uint64_t n;
	if (parse_u64(s, &n))
		return n > 0 && n < 65 ? json_integer((json_int_t)n) : NULL;
	if (!*s)
		return NULL;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
			return NULL;
	return json_string(s);
}

static int kill_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"signal", required_argument, NULL, 's'},
	    {"all", no_argument, NULL, 'a'},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	struct kill_args k = {NULL, false};
	int c;
	while ((c = cli_getopt(cli, argc, argv, "s:ah", longopts)) != -1) {
		if (c == 's') {
			json_decref(k.signal);
			if (!(k.signal = parse_signal(optarg)))
				return cli_usage_error(cli, "bad signal `%s`", optarg);
		} else if (c == 'a') {
			k.all = true;
		} else {
			json_decref(k.signal);
			return cli_getopt_other(cli, c);
		}
	}
	if (optind >= argc) {
		json_decref(k.signal);
		return cli_usage_error(cli, "missing the container ID");
	}
	if (!k.signal)
		k.signal = json_string("SIGTERM");
	int st = cli_for_each(cli, argc - optind, argv + optind, kill_one, &k);
	json_decref(k.signal);
	return st;
}

/* POST .../task/wait, for as long as it takes (no --timeout). */
static int wait_task(struct cli *cli, const char *id, json_t **reply)
{
	int st;
	struct client *c = cli_client(cli, &st);
	if (!c)
		return st;
	cleanup_free char *path = task_path(cli, id, "/wait");
	struct client_async *a = client_async_new(c, "POST", path, NULL);
	while (!client_async_poll(a, NULL, 0, -1))
		;
	err_t err = NULL;
	enum client_status cs = client_async_finish(a, reply, &err);
	if (cs != CLIENT_OK)
		return cli_fail(&err, (int)cs);
	return CLI_OK;
}

/* The FIFOs `berth run -d -t` left for attaching (in a berth-run-XXXXXX
 * directory of its own): removed with the task. Others are the client's. */
static void remove_run_fifos(const json_t *task)
{
	static const char *const keys[] = {"stdin", "stdout", "stderr"};
	char *dir = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *p = json_get_string(task, keys[i]);
		const char *slash = p ? strrchr(p, '/') : NULL;
		if (!slash)
			continue;
		cleanup_free char *d = xstrndup(p, (size_t)(slash - p));
		const char *base = strrchr(d, '/');
		if (!base || strncmp(base + 1, "berth-run-", 10) != 0)
			continue;
		unlink(p);
		free(dir);
		dir = steal_ptr(&d);
	}
	if (dir)
		rmdir(dir);
	free(dir);
}

static int rm_one(struct cli *cli, const char *id, void *arg)
{
	const bool *force = arg;
	int st;
	if (*force) {
		cleanup_free char *kpath = task_path(cli, id, "/kill");
		cleanup_json json_t *body = json_pack("{s:s,s:b}", "signal", "SIGKILL", "all", 1);
		struct client *c = cli_client(cli, &st);
		if (!c)
			return st;
		err_t err = NULL;
		enum client_status cs = client_call(c, "POST", kpath, body, NULL, &err);
		/* not_found: it had already stopped (or there is no task: DELETE says) */
		if (cs == CLIENT_FAILED && err->kind == E_NOT_FOUND)
			err_free(&err);
		else if (cs != CLIENT_OK)
			return cli_fail(&err, (int)cs);
		else if ((st = wait_task(cli, id, NULL)) != CLI_OK)
			return st;
	}
	cleanup_free char *path = task_path(cli, id, "");
	cleanup_json json_t *task = NULL;
	struct client *c = cli_client(cli, &st);
	if (!c)
		return st;
	err_t gerr = NULL;
	if (client_call(c, "GET", path, NULL, &task, &gerr) != CLIENT_OK)
		err_free(&gerr); /* DELETE says why */
	st = cli_call(cli, "DELETE", path, NULL, NULL);
	if (st == CLI_OK && task)
		remove_run_fifos(task);
	return st;
}

static int rm_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"force", no_argument, NULL, 'f'},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	bool force = false;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "fh", longopts)) != -1) {
		if (c == 'f')
			force = true;
		else
			return cli_getopt_other(cli, c);
	}
	if (optind >= argc)
		return cli_usage_error(cli, "missing the container ID");
	return cli_for_each(cli, argc - optind, argv + optind, rm_one, &force);
}

static int wait_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing the container ID");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 1]);
	cleanup_json json_t *reply = NULL;
	int st = wait_task(cli, argv[optind], &reply);
	if (st != CLI_OK)
		return st;
	if (cli->json) {
		cli_print_json(reply);
		return CLI_OK;
	}
	json_t *ex = json_object_get(reply, "exit_status");
	if (!json_is_integer(ex)) {
		fprintf(stderr, "berth: berthd's answer holds no exit_status\n");
		return CLI_ERROR;
	}
	printf("%lld\n", (long long)json_integer_value(ex));
	return (int)(json_integer_value(ex) & 0xff);
}

static volatile sig_atomic_t logs_stop;

static void logs_signal(int sig)
{
	(void)sig;
	logs_stop = 1;
}

static bool logs_data_cb(const char *data, size_t len, void *arg)
{
	(void)arg;
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false; /* stdout closed (`| head`): stop quietly */
		data += n;
		len -= (size_t)n;
	}
	return true;
}

static int logs_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"follow", no_argument, NULL, 'f'},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	bool follow = false;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "fh", longopts)) != -1) {
		if (c == 'f')
			follow = true;
		else
			return cli_getopt_other(cli, c);
	}
	if (optind >= argc)
		return cli_usage_error(cli, "missing the container ID");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 1]);
	int st;
	struct client *cl = cli_client(cli, &st);
	if (!cl)
		return st;
	cleanup_free char *path =
	    task_path(cli, argv[optind], follow ? "/logs?follow=true" : "/logs");
	struct sigaction sa = {.sa_handler = logs_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	err_t err = NULL;
	enum client_status cs = client_stream(cl, path, "application/octet-stream", logs_data_cb,
					      NULL, &logs_stop, &err);
	if (cs != CLIENT_OK)
		return cli_fail(&err, (int)cs);
	return CLI_OK;
}

/* ---- pause, resume, ps, update --------------------------------------------- */

static int pause_one(struct cli *cli, const char *id, void *arg)
{
	cleanup_free char *path = task_path(cli, id, arg);
	return cli_call(cli, "POST", path, NULL, NULL);
}

static int freeze_run(struct cli *cli, int argc, char **argv, const char *what)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing the container ID");
	return cli_for_each(cli, argc - optind, argv + optind, pause_one, (void *)what);
}

static int pause_run(struct cli *cli, int argc, char **argv)
{
	return freeze_run(cli, argc, argv, "/pause");
}

static int resume_run(struct cli *cli, int argc, char **argv)
{
	return freeze_run(cli, argc, argv, "/resume");
}

static int ps_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing the container ID");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 1]);
	cleanup_free char *path = task_path(cli, argv[optind], "/pids");
	cleanup_json json_t *reply = NULL;
	int st = cli_call(cli, "GET", path, NULL, &reply);
	if (st != CLI_OK)
		return st;
	if (cli->json) {
		cli_print_json(reply);
		return CLI_OK;
	}
	struct table *tab = table_new("PID", "INFO", NULL);
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(reply, "pids"), i, p) {
		char pid[24];
		snprintf(pid, sizeof(pid), "%lld",
			 (long long)json_integer_value(json_object_get(p, "pid")));
		json_t *info = json_object_get(p, "info");
		const char *exec_id = json_get_string(info, "exec_id");
		/* ctr's column: the exec id of an exec'd process */
		cleanup_free char *shown = exec_id	? xasprintf("exec_id=%s", exec_id)
					   : info ? json_dumps(info, JSON_COMPACT)
						  : NULL;
		table_add(tab, pid, shown ? shown : "-");
	}
	table_print(tab, stdout);
	table_free(tab);
	return CLI_OK;
}

/* The resources object of `tasks update` from its options; a usage error
 * (printed) on a bad value. */
static int update_option(struct cli *cli, int c, const char *arg, json_t *res)
{
	switch (c) {
	case OPT_MEMORY: {
		int64_t v;
		if (!container_opts_parse_size(arg, &v))
			return cli_usage_error(cli, "bad --memory `%s`: want bytes, with k, m or g",
					       arg);
		json_object_set_new(res, "memory", json_pack("{s:I}", "limit", (json_int_t)v));
		return 0;
	}
	case OPT_CPUS: {
		char *end;
		errno = 0;
		double v = strtod(arg, &end);
		if (!*arg || *end || errno || !isfinite(v) || v < 0.01 || v > 1e6)
			return cli_usage_error(cli, "bad --cpus `%s`: want a number of CPUs, 0.01 or more",
					       arg);
		json_object_set_new(res, "cpu",
				    json_pack("{s:I,s:I}", "quota", (json_int_t)(v * 100000 + 0.5),
					      "period", (json_int_t)100000));
		return 0;
	}
	case OPT_PIDS: {
		uint64_t v;
		if (!strcmp(arg, "-1") || !strcmp(arg, "max")) {
			json_object_set_new(res, "pids", json_pack("{s:i}", "limit", -1));
			return 0;
		}
		if (!parse_u64(arg, &v) || v == 0 || v > INT64_MAX)
			return cli_usage_error(cli, "bad --pids `%s`: want a positive whole number or max",
					       arg);
		json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)v));
		return 0;
	}
	}
	return cli_getopt_other(cli, c);
}

static int update_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"memory", required_argument, NULL, OPT_MEMORY},
	    {"cpus", required_argument, NULL, OPT_CPUS},
	    {"pids", required_argument, NULL, OPT_PIDS},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	cleanup_json json_t *res = json_object();
	int c;
	while ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1) {
		if (c != OPT_MEMORY && c != OPT_CPUS && c != OPT_PIDS)
			return cli_getopt_other(cli, c);
		int st = update_option(cli, c, optarg, res);
		if (st != 0)
			return st;
	}
	if (optind >= argc)
		return cli_usage_error(cli, "missing the container ID");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 1]);
	if (!json_object_size(res))
		return cli_usage_error(cli, "nothing to update: give --memory, --cpus or --pids");
	cleanup_free char *path = task_path(cli, argv[optind], "/update");
	cleanup_json json_t *body = json_pack("{s:O}", "resources", res);
	return cli_call(cli, "POST", path, body, NULL);
}

static int checkpoint_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"exit", no_argument, NULL, OPT_EXIT},
	    {"image", required_argument, NULL, OPT_IMAGE},
	    {"label", required_argument, NULL, OPT_LABEL},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	cleanup_json json_t *body = json_object();
	cleanup_json json_t *labels = json_object();
	int c;
	while ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1) {
		if (c == OPT_EXIT) {
			json_object_set_new(body, "exit", json_true());
		} else if (c == OPT_IMAGE) {
			json_object_set_new(body, "image", json_string(optarg));
		} else if (c == OPT_LABEL) {
			cleanup_json json_t *one = NULL;
			int st = cli_parse_labels(cli, 1, &optarg, false, &one);
			if (st != 0)
				return st;
			json_object_update(labels, one);
		} else {
			return cli_getopt_other(cli, c);
		}
	}
	if (optind >= argc)
		return cli_usage_error(cli, "missing the container ID");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 1]);
	if (json_object_size(labels))
		json_object_set(body, "labels", labels);
	cleanup_free char *path = task_path(cli, argv[optind], "/checkpoint");
	cleanup_json json_t *reply = NULL;
	int st = cli_call(cli, "POST", path, body, &reply);
	if (st != CLI_OK)
		return st;
	printf("%s\n", json_get_string(reply, "digest"));
	return CLI_OK;
}

/* Create the task from a checkpoint and start it (the restore runs then). */
static int restore_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind + 2 > argc)
		return cli_usage_error(cli, "give the container ID and the checkpoint's digest");
	if (optind + 2 < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 2]);
	const char *id = argv[optind], *digest = argv[optind + 1];
	if (!digest_is_valid(digest))
		return cli_usage_error(cli, "`%s` is not a digest (sha256:<64 hex digits>)", digest);
	cleanup_free char *path = task_path(cli, id, "");
	cleanup_json json_t *body = json_pack("{s:s,s:b}", "checkpoint", digest, "log", 1);
	int st = cli_call(cli, "POST", path, body, NULL);
	if (st != CLI_OK)
		return st;
	cleanup_free char *start = task_path(cli, id, "/start");
	cleanup_json json_t *reply = NULL;
	st = cli_call(cli, "POST", start, NULL, &reply);
	if (st != CLI_OK) {
		/* leave no created task that holds nothing behind */
		cli_call(cli, "DELETE", path, NULL, NULL);
		return st;
	}
	printf("%lld\n", (long long)json_integer_value(json_object_get(reply, "pid")));
	return CLI_OK;
}

static const struct cli_command tasks_checkpoint = {
    .name = "checkpoint",
    .summary = "checkpoint a task into the content store (CRIU)",
    .synopsis = "[--exit] [--image NAME] [--label K=V]... ID",
    .help = "Checkpoint the running (or paused) task of the container ID with CRIU\n"
	    "(POST .../task/checkpoint) into the content store and print the digest of\n"
	    "the checkpoint (an OCI index of the CRIU image and the container's spec).\n"
	    "An image record names it (NAME, or localhost/checkpoint/ID:<time>) and\n"
	    "keeps it from garbage collection; `berth tasks restore` brings it back.\n"
	    "CRIU must work on this machine (`criu check`): berthd says why when not.\n"
	    "\n"
	    "Options:\n"
	    "  --exit         the task ends with the checkpoint (default: it goes on)\n"
	    "  --image NAME   the image record's name\n"
	    "  --label K=V    a label of the image record (repeatable)\n"
	    "  -h, --help     show this help\n",
    .run = checkpoint_run,
};

static const struct cli_command tasks_restore = {
    .name = "restore",
    .summary = "restore a checkpoint as a container's task",
    .synopsis = "ID DIGEST",
    .help = "Create the task of the container ID (it has none) from the checkpoint DIGEST\n"
	    "(POST .../task with \"checkpoint\", output captured as by `berth run -d`)\n"
	    "and start it: the processes go on from where they were checkpointed. Print\n"
	    "the restored init's pid. The container should be made from the same image\n"
	    "as the checkpointed one.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = restore_run,
};

static const struct cli_command tasks_pause = {
    .name = "pause",
    .summary = "freeze tasks",
    .synopsis = "ID...",
    .help = "Pause the running task of each container ID (POST .../task/pause): every\n"
	    "process of the container is frozen (the cgroup freezer) until resumed.\n"
	    "Prints each id paused.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = pause_run,
};

static const struct cli_command tasks_resume = {
    .name = "resume",
    .summary = "thaw paused tasks",
    .synopsis = "ID...",
    .help = "Resume the paused task of each container ID (POST .../task/resume),\n"
	    "printing each id resumed.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = resume_run,
};

static const struct cli_command tasks_ps = {
    .name = "ps",
    .summary = "list a task's processes",
    .synopsis = "ID",
    .help = "List the processes of the task of the container ID (GET .../task/pids),\n"
	    "host pids, as a table of PID and INFO.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = ps_run,
};

static const struct cli_command tasks_update = {
    .name = "update",
    .summary = "change a task's resource limits",
    .synopsis = "ID [--memory N] [--cpus N] [--pids N]",
    .help = "Change the resource limits of the live task of the container ID\n"
	    "(POST .../task/update). The container's spec is not changed: a new task\n"
	    "starts with the limits of the spec.\n"
	    "\n"
	    "Options:\n"
	    "  --memory N  memory limit in bytes (k, m, g suffixes), at least 6m\n"
	    "  --cpus N    CPU time as a number of CPUs (0.5: half of one), over a 100 ms period\n"
	    "  --pids N    most processes at once; max (or -1) for no limit\n"
	    "  -h, --help  show this help\n",
    .run = update_run,
};

static const struct cli_command tasks_ls = {
    .name = "ls",
    .aliases = CLI_ALIASES("list"),
    .summary = "list tasks",
    .synopsis = "[-q]",
    .help = "List the tasks of the namespace (GET /v1/namespaces/NS/tasks) as a table of\n"
	    "TASK (its container's id), PID and STATUS (created, running, paused,\n"
	    "stopped with its exit status, unknown).\n"
	    "\n"
	    "Options:\n"
	    "  -q, --quiet  print only the ids, one a line\n"
	    "  -h, --help   show this help\n",
    .run = ls_run,
};

static const struct cli_command tasks_start = {
    .name = "start",
    .summary = "start created tasks",
    .synopsis = "ID...",
    .help = "Start the created task of each container ID (POST .../task/start), printing\n"
	    "each id started. The task's output goes where its creation said (FIFOs or\n"
	    "its log); nothing is attached here.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = start_run,
};

static const struct cli_command tasks_kill = {
    .name = "kill",
    .summary = "signal tasks",
    .synopsis = "[-s SIGNAL] [--all] ID...",
    .help = "Send a signal to the task of each container ID (POST .../task/kill),\n"
	    "printing each id signalled.\n"
	    "\n"
	    "Options:\n"
	    "  -s, --signal SIG  SIGTERM (default), TERM, 15, SIGKILL...\n"
	    "  -a, --all         signal every process of the container, not only its init\n"
	    "  -h, --help        show this help\n",
    .run = kill_run,
};

static const struct cli_command tasks_rm = {
    .name = "rm",
    .aliases = CLI_ALIASES("remove", "delete", "del"),
    .summary = "delete stopped tasks",
    .synopsis = "[-f] ID...",
    .help = "Delete the task of each container ID (DELETE .../task), printing each id\n"
	    "deleted. A running task cannot be deleted unless -f is given. The container\n"
	    "stays (`berth containers rm`).\n"
	    "\n"
	    "Options:\n"
	    "  -f, --force  kill a running task with SIGKILL and wait for it first\n"
	    "  -h, --help   show this help\n",
    .run = rm_run,
};

static const struct cli_command tasks_wait = {
    .name = "wait",
    .summary = "wait for a task to exit",
    .synopsis = "ID",
    .help = "Wait until the task of the container ID exits (POST .../task/wait, no\n"
	    "time limit), print its exit status and exit with it.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = wait_run,
};

static const struct cli_command tasks_logs = {
    .name = "logs",
    .summary = "print a task's captured output",
    .synopsis = "[-f] ID",
    .help = "Print the stdout and stderr the task of the container ID logged (it was\n"
	    "created with log capture, as by `berth run -d`), interleaved as captured.\n"
	    "\n"
	    "Options:\n"
	    "  -f, --follow  go on printing until the task exits\n"
	    "  -h, --help    show this help\n",
    .run = logs_run,
};

const struct cli_command cmd_tasks = {
    .name = "tasks",
    .aliases = CLI_ALIASES("task", "t"),
    .summary = "manage tasks (the running side of containers)",
    .help = "Manage the tasks of a namespace: a container's running process, named by the\n"
	    "container's id.",
    .subcommands =
	CLI_COMMANDS(&tasks_ls, &tasks_start, &tasks_kill, &tasks_rm, &tasks_wait, &tasks_logs,
		     &tasks_pause, &tasks_resume, &tasks_ps, &tasks_update, &cmd_tasks_metrics,
		     &cmd_tasks_exec, &cmd_tasks_attach, &cmd_tasks_resize, &cmd_tasks_closeio,
		     &tasks_checkpoint, &tasks_restore),
    .fallback = &tasks_ls,
};
