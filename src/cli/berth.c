/*
 * berth: the command-line client of berthd (ctr's counterpart).
 *
 *   berth [global options] COMMAND [SUBCOMMAND] [options] [args]
 *
 * main() parses the global options (which come before the command), then
 * dispatches through the static command table below; each command group
 * lives in its own cmd_<group>.c (see cli.h). The helpers every command
 * uses (option parsing, usage errors, the one-line error, JSON and label
 * formatting) live here too.
 *
 * Exit status:
 *   0  success
 *   1  the daemon answered with an error; or, for commands acting on several
 *      names, at least one failed; or the connection broke after it was made
 *   2  usage error: unknown command or flag, bad or missing argument
 *   3  cannot connect to the daemon
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "core/json.h"
#include "core/names.h"

#define DEFAULT_ADDRESS "/run/berth/berthd.sock"
#define DEFAULT_TIMEOUT 30

/* The top level: one row per command group, in the order `--help` lists them. */
static const struct cli_command *const commands[] = {
    &cmd_version, &cmd_namespaces, &cmd_pull,	 &cmd_images, &cmd_content,
    &cmd_leases,  &cmd_snapshots, &cmd_containers, &cmd_run, &cmd_tasks, &cmd_events,	   &cmd_plugins, &cmd_server, NULL,
};

static const char global_help[] =
    "Usage: berth [OPTIONS] COMMAND [ARGS...]\n"
    "\n"
    "berth is the command-line client of berthd, the berth container runtime daemon.\n"
    "\n"
    "Commands:\n"
    "%s"
    "\n"
    "Options (before the command):\n"
    "      --address ADDR     the daemon: a Unix socket path, or http://HOST:PORT for its\n"
    "                         TCP listener (env BERTH_ADDRESS; default " DEFAULT_ADDRESS ")\n"
    "  -n, --namespace NS     the namespace to work in (env BERTH_NAMESPACE; default\n"
    "                         `default`)\n"
    "      --json             print the daemon's JSON answer (pretty) instead of tables\n"
    "      --timeout SECONDS  time limit of each request, 0 for none (default 30); event\n"
    "                         streams are not limited, only their connection\n"
    "      --token-file FILE  over TCP, send the token in FILE as `Authorization: Bearer`\n"
    "                         (env BERTH_TOKEN holds the token itself; the file wins)\n"
    "  -h, --help             show this help\n"
    "  -v, --version          print the client's version and exit\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  the daemon answered with an error, or some of several operations failed\n"
    "  2  usage error: unknown command or flag, bad or missing argument\n"
    "  3  cannot connect to the daemon\n"
    "\n"
    "Run 'berth COMMAND --help' (or 'berth help COMMAND') for more information on a\n"
    "command.\n";

static const char *const *aliases_of(const struct cli_command *cmd)
{
	static const char *const none[] = {NULL};
	return cmd->aliases ? cmd->aliases : none;
}

/* "namespaces, ns" */
static char *names_of(const struct cli_command *cmd)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, cmd->name);
	for (const char *const *a = aliases_of(cmd); *a; a++)
		buf_addf(&b, ", %s", *a);
	return buf_detach(&b, NULL);
}

static void list_commands(struct buf *out, const struct cli_command *const *table)
{
	size_t w = 0;
	for (const struct cli_command *const *c = table; *c; c++) {
		cleanup_free char *n = names_of(*c);
		if (strlen(n) > w)
			w = strlen(n);
	}
	for (const struct cli_command *const *c = table; *c; c++) {
		cleanup_free char *n = names_of(*c);
		buf_addf(out, "  %-*s  %s\n", (int)w, n, (*c)->summary);
	}
}

static void global_usage(void)
{
	struct buf list = BUF_INIT;
	list_commands(&list, commands);
	printf(global_help, list.data);
	buf_release(&list);
}

void cli_help(const struct cli *cli, const struct cli_command *cmd)
{
	if (cmd->subcommands) {
		printf("Usage: berth [OPTIONS] %s COMMAND [ARGS...]\n\n", cli->path.data);
		printf("%s\n", cmd->help ? cmd->help : cmd->summary);
		struct buf list = BUF_INIT;
		list_commands(&list, cmd->subcommands);
		printf("\nCommands:\n%s", list.data);
		buf_release(&list);
		if (cmd->fallback)
			printf("\nWithout a command, `berth %s` is `berth %s %s`.\n",
			       cli->path.data, cli->path.data, cmd->fallback->name);
		printf("\nRun 'berth %s COMMAND --help' for more information on a command.\n",
		       cli->path.data);
		return;
	}
	printf("Usage: berth [OPTIONS] %s%s%s\n\n", cli->path.data, cmd->synopsis ? " " : "",
	       cmd->synopsis ? cmd->synopsis : "");
	printf("%s", cmd->help ? cmd->help : cmd->summary);
	printf("\nGlobal options (--address, -n, --json, --timeout, --token-file) go before\n"
	       "the command: see 'berth --help'.\n");
}

static const struct cli_command *find_command(const struct cli_command *const *table,
					      const char *name)
{
	for (const struct cli_command *const *c = table; *c; c++) {
		if (strcmp((*c)->name, name) == 0)
			return *c;
		for (const char *const *a = aliases_of(*c); *a; a++)
			if (strcmp(*a, name) == 0)
				return *c;
	}
	return NULL;
}

static bool is_help_flag(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* `berth ns ls --json` is a common slip: say where the flag belongs. */
static bool is_global_flag(const char *name)
{
	static const char *const globals[] = {"--address", "--namespace", "-n",
					      "--json",	   "--timeout",	  "--token-file"};
	for (size_t i = 0; i < ARRAY_SIZE(globals); i++)
		if (strcmp(globals[i], name) == 0)
			return true;
	return false;
}

int cli_run(struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	if (cli->path.len)
		buf_adds(&cli->path, " ");
	buf_adds(&cli->path, cmd->name);
	cli->cmd = cmd;
	if (cmd->run) {
		optind = 0; /* glibc: a full re-initialisation of getopt */
		return cmd->run(cli, argc, argv);
	}
	if (argc >= 2 && is_help_flag(argv[1])) {
		cli_help(cli, cmd);
		return CLI_OK;
	}
	if (argc < 2 || argv[1][0] == '-') {
		if (cmd->fallback)
			return cli_run(cli, cmd->fallback, argc, argv);
		if (argc < 2)
			return cli_usage_error(cli, "`berth %s` needs a command", cli->path.data);
		return cli_usage_error(
		    cli, "unknown flag `%s`%s", argv[1],
		    is_global_flag(argv[1]) ? ": global options go before the command" : "");
	}
	const struct cli_command *sub = find_command(cmd->subcommands, argv[1]);
	if (!sub)
		return cli_usage_error(cli, "unknown command `%s` for `berth %s`", argv[1],
				       cli->path.data);
	return cli_run(cli, sub, argc - 1, argv + 1);
}

int cli_usage_error(struct cli *cli, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "berth: %s\nRun 'berth%s%s --help'.\n", b.data, cli->path.len ? " " : "",
		cli->path.len ? cli->path.data : "");
	buf_release(&b);
	return CLI_USAGE;
}

int cli_fail(err_t *err, int status)
{
	fflush(stdout);
	fprintf(stderr, "berth: %s\n", *err ? (*err)->msg : "unknown error");
	err_free(err);
	return status;
}

/* The option whose error getopt reports: a long one when the argument just
 * consumed is `--name[=value]` naming it (optopt is then its val, or 0 for an
 * unknown name); otherwise the short option optopt. */
static void describe_bad_option(int argc, char **argv, const struct option *longopts, char *out,
				size_t outlen, bool *is_long_known)
{
	*is_long_known = false;
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : NULL;
	if (arg && strncmp(arg, "--", 2) == 0) {
		size_t n = strcspn(arg + 2, "=");
		bool named = optopt == 0;
		for (const struct option *o = longopts; o->name && !named; o++)
			if (o->val == optopt && strncmp(o->name, arg + 2, n) == 0)
				named = true;
		if (named) {
			*is_long_known = optopt != 0;
			snprintf(out, outlen, "--%.*s", (int)n, arg + 2);
			return;
		}
	}
	snprintf(out, outlen, "-%c", optopt > 0 && optopt < 128 && isprint(optopt) ? optopt : '?');
}

int cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	/* ':' reports a missing value apart; it goes after a leading '+' or '-' */
	bool mode = shortopts[0] == '+' || shortopts[0] == '-';
	cleanup_free char *opts =
	    mode ? xasprintf("%c:%s", shortopts[0], shortopts + 1) : xasprintf(":%s", shortopts);
	opterr = 0;
	int c = getopt_long(argc, argv, opts, longopts, NULL);
	if (c != '?' && c != ':')
		return c;
	char name[128];
	bool long_known;
	describe_bad_option(argc, argv, longopts, name, sizeof(name), &long_known);
	if (c == ':')
		cli_usage_error(cli, "flag `%s` needs a value", name);
	else if (long_known)
		cli_usage_error(cli, "flag `%s` takes no value", name);
	else if (cli->path.len && is_global_flag(name))
		cli_usage_error(cli, "unknown flag `%s`: global options go before the command",
				name);
	else
		cli_usage_error(cli, "unknown flag `%s`", name);
	return '?';
}

int cli_getopt_other(struct cli *cli, int opt)
{
	if (opt == 'h') {
		cli_help(cli, cli->cmd);
		return CLI_OK;
	}
	return CLI_USAGE;
}

struct client *cli_client(struct cli *cli, int *status)
{
	if (cli->client)
		return cli->client;
	err_t err = NULL;
	cli->client = client_new(cli->address, cli->token, cli->timeout, &err);
	if (!cli->client) {
		fflush(stdout);
		fprintf(stderr, "berth: %s\nRun 'berth --help'.\n", err->msg);
		err_free(&err);
		*status = CLI_USAGE;
	}
	return cli->client;
}

int cli_call(struct cli *cli, const char *method, const char *path, const json_t *body,
	     json_t **reply)
{
	int status;
	struct client *c = cli_client(cli, &status);
	if (!c)
		return status;
	err_t err = NULL;
	enum client_status st = client_call(c, method, path, body, reply, &err);
	if (st != CLIENT_OK)
		return cli_fail(&err, (int)st);
	return CLI_OK;
}

void cli_print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
	printf("%s\n", s ? s : "null");
	free(s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *cli_format_labels(const json_t *labels)
{
	size_t n = json_is_object(labels) ? json_object_size(labels) : 0;
	if (n == 0)
		return xstrdup("");
	const char **keys = xcalloc(n, sizeof(*keys));
	size_t i = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)labels, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	struct buf b = BUF_INIT;
	for (i = 0; i < n; i++) {
		json_t *val = json_object_get(labels, keys[i]);
		if (json_is_string(val)) {
			buf_addf(&b, "%s%s=%s", i ? "," : "", keys[i], json_string_value(val));
		} else {
			cleanup_free char *s = json_dump_compact(val, NULL);
			buf_addf(&b, "%s%s=%s", i ? "," : "", keys[i], s);
		}
	}
	free(keys);
	return buf_detach(&b, NULL);
}

int cli_parse_label(struct cli *cli, const char *arg, char **key, const char **value)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return cli_usage_error(cli, "bad label `%s`: want LABEL=VALUE", arg);
	*key = xstrndup(arg, (size_t)(eq - arg));
	*value = eq + 1;
	return CLI_OK;
}

int cli_parse_labels(struct cli *cli, int argc, char *const *argv, bool patch, json_t **out)
{
	json_t *labels = json_object();
	for (int i = 0; i < argc; i++) {
		cleanup_free char *key = NULL;
		const char *value;
		if (cli_parse_label(cli, argv[i], &key, &value) != CLI_OK) {
			json_decref(labels);
			return CLI_USAGE;
		}
		err_t err = NULL;
		if (name_validate_label(key, value, &err) < 0) {
			int st = cli_usage_error(cli, "%s", err->msg);
			err_free(&err);
			json_decref(labels);
			return st;
		}
		json_object_set_new(labels, key,
				    patch && !*value ? json_null() : json_string(value));
	}
	*out = labels;
	return CLI_OK;
}

char *cli_ns_path(const struct cli *cli, const char *fmt, ...)
{
	cleanup_free char *ns = client_escape(cli->ns);
	struct buf b = BUF_INIT;
	buf_addf(&b, "/v1/namespaces/%s", ns);
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return buf_detach(&b, NULL);
}

int cli_for_each(struct cli *cli, int argc, char *const *argv,
		 int (*one)(struct cli *cli, const char *name, void *arg), void *arg)
{
	int st = CLI_OK;
	for (int i = 0; i < argc; i++) {
		int r = one(cli, argv[i], arg);
		if (r == CLI_UNREACHABLE)
			return r;
		if (r != CLI_OK)
			st = CLI_ERROR;
		else
			printf("%s\n", argv[i]);
		fflush(stdout);
	}
	return st;
}

int cli_print_list(struct cli *cli, const json_t *reply, const char *array, const char *key,
		   bool quiet, struct table *t,
		   void (*row)(struct table *t, json_t *item, void *data), void *data)
{
	json_t *list = json_object_get(reply, array);
	size_t i;
	json_t *item;
	if (quiet) {
		json_array_foreach(list, i, item) {
			const char *k = json_get_string(item, key);
			if (k)
				printf("%s\n", k);
		}
	} else if (cli->json) {
		cli_print_json(reply);
	} else {
		json_array_foreach(list, i, item)
			row(t, item, data);
		table_print(t, stdout);
	}
	table_free(t);
	return CLI_OK;
}

/* Drop trailing whitespace (a token file usually ends in a newline). */
static void trim_right(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Over TCP, the token: from --token-file, else BERTH_TOKEN. */
static int load_token(struct cli *cli, const char *token_file)
{
	if (strncmp(cli->address, "http://", 7) != 0 && strncmp(cli->address, "https://", 8) != 0)
		return CLI_OK; /* the Unix socket is guarded by its file mode */
	if (token_file) {
		size_t len;
		char *t = read_file(token_file, &len);
		if (!t) {
			fprintf(stderr, "berth: cannot read token file `%s`: %s\n", token_file,
				strerror(errno));
			return CLI_USAGE;
		}
		if (strlen(t) != len) {
			wipe_free(t);
			fprintf(stderr, "berth: token file `%s` holds a NUL byte\n", token_file);
			return CLI_USAGE;
		}
		cli->token = t;
	} else if (getenv("BERTH_TOKEN")) {
		cli->token = xstrdup(getenv("BERTH_TOKEN"));
	}
	if (cli->token) {
		trim_right(cli->token);
		if (!*cli->token) {
			fprintf(stderr, "berth: the token is empty\n");
			return CLI_USAGE;
		}
	}
	return CLI_OK;
}

static int global_usage_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
static int global_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("berth: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nRun 'berth --help'.\n", stderr);
	return CLI_USAGE;
}

/* `berth help [COMMAND...]`: the --help of that command. */
static int help_command(struct cli *cli, int argc, char **argv)
{
	const struct cli_command *const *table = commands;
	const struct cli_command *cmd = NULL;
	for (int i = 1; i < argc; i++) {
		const struct cli_command *next = table ? find_command(table, argv[i]) : NULL;
		if (!next)
			return cli_usage_error(cli, "unknown command `%s`", argv[i]);
		if (cli->path.len)
			buf_adds(&cli->path, " ");
		buf_adds(&cli->path, next->name);
		cmd = next;
		table = cmd->subcommands;
	}
	if (!cmd)
		global_usage();
	else
		cli_help(cli, cmd);
	return CLI_OK;
}

enum { OPT_ADDRESS = 256, OPT_JSON, OPT_TIMEOUT, OPT_TOKEN_FILE };

static int run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"address", required_argument, NULL, OPT_ADDRESS},
	    {"namespace", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
	    {"version", no_argument, NULL, 'v'},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	const char *token_file = NULL;
	const char *env;
	cli->address = (env = getenv("BERTH_ADDRESS")) && *env ? env : DEFAULT_ADDRESS;
	cli->ns = (env = getenv("BERTH_NAMESPACE")) && *env ? env : "default";
	cli->timeout = DEFAULT_TIMEOUT;
	const char *ns_from = "BERTH_NAMESPACE";

	int c;
	/* '+': stop at the command; what follows belongs to it */
	while ((c = cli_getopt(cli, argc, argv, "+n:hv", longopts)) != -1) {
		switch (c) {
		case OPT_ADDRESS:
			cli->address = optarg;
			break;
		case 'n':
			cli->ns = optarg;
			ns_from = "--namespace";
			break;
		case OPT_JSON:
			cli->json = true;
			break;
		case OPT_TIMEOUT: {
			uint64_t t;
			if (!parse_u64(optarg, &t) || t > 365u * 24 * 3600)
				return global_usage_error("bad --timeout `%s`: want whole seconds",
							  optarg);
			cli->timeout = (long)t;
			break;
		}
		case OPT_TOKEN_FILE:
			token_file = optarg;
			break;
		case 'v':
			printf("berth version %s, revision %s\n", PACKAGE_VERSION, BERTH_REVISION);
			return CLI_OK;
		case 'h':
			global_usage();
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (optind >= argc)
		return global_usage_error("no command given");

	err_t err = NULL;
	if (name_validate_namespace(cli->ns, &err) < 0) {
		int st = global_usage_error("%s (from %s)", err->msg, ns_from);
		err_free(&err);
		return st;
	}
	int st = load_token(cli, token_file);
	if (st != CLI_OK)
		return st;

	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "help") == 0)
		return help_command(cli, argc, argv);
	const struct cli_command *cmd = find_command(commands, argv[0]);
	if (!cmd)
		return global_usage_error("unknown command `%s`", argv[0]);
	return cli_run(cli, cmd, argc, argv);
}

int main(int argc, char **argv)
{
	/* a closed stdout (`berth events | head -1`) is a write error, not a kill */
	signal(SIGPIPE, SIG_IGN);
	struct cli cli = {.path = BUF_INIT};
	int st = run(&cli, argc, argv);
	client_free(cli.client);
	wipe_free(cli.token);
	buf_release(&cli.path);
	if (fflush(stdout) != 0 && errno != EPIPE) {
		fprintf(stderr, "berth: cannot write the output: %s\n", strerror(errno));
		if (st == CLI_OK)
			st = CLI_ERROR;
	}
	return st;
}
