/* berth plugins, berth server: what the daemon is made of and where it
 * runs (GET /v1/plugins, GET /v1/server), as `ctr plugins ls` and
 * `ctr info`. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "core/json.h"

enum { OPT_FILTER = 256 };

/* ["a","b"] → "a,b"; "-" for none. */
static char *join(const json_t *list)
{
	struct buf b = BUF_INIT;
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v) {
		if (json_is_string(v))
			buf_addf(&b, "%s%s", b.len ? "," : "", json_string_value(v));
	}
	if (!b.len)
		buf_adds(&b, "-");
	return buf_detach(&b, NULL);
}

static int plugins_ls_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"detailed", no_argument, NULL, 'd'},
	    {"filter", required_argument, NULL, OPT_FILTER},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	bool quiet = false, detailed = false;
	struct buf path = BUF_INIT;
	buf_adds(&path, "/v1/plugins");
	int c;
	while ((c = cli_getopt(cli, argc, argv, "qdh", longopts)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'd':
			detailed = true;
			break;
		case OPT_FILTER:
			client_query_add(&path, "filter", optarg);
			break;
		default:
			buf_release(&path);
			return cli_getopt_other(cli, c);
		}
	}
	if (optind < argc) {
		buf_release(&path);
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind]);
	}
	cleanup_json json_t *reply = NULL;
	int st = cli_call(cli, "GET", path.data, NULL, &reply);
	buf_release(&path);
	if (st != CLI_OK)
		return st;

	json_t *list = json_object_get(reply, "plugins");
	size_t i;
	json_t *p;
	if (quiet) {
		json_array_foreach(list, i, p)
			printf("%s.%s\n", json_get_string(p, "type") ?: "",
			       json_get_string(p, "id") ?: "");
		return CLI_OK;
	}
	if (cli->json) {
		cli_print_json(reply);
		return CLI_OK;
	}
	struct table *t =
	    detailed ? table_new("TYPE", "ID", "STATUS", "REQUIRES", "CAPABILITIES", "ERROR", NULL)
		     : table_new("TYPE", "ID", "STATUS", NULL);
	json_array_foreach(list, i, p) {
		const char *type = json_get_string(p, "type"), *id = json_get_string(p, "id");
		const char *status = json_get_string(p, "status");
		if (!detailed) {
			table_add(t, type, id, status);
			continue;
		}
		cleanup_free char *req = join(json_object_get(p, "requires"));
		cleanup_free char *caps = join(json_object_get(p, "capabilities"));
		table_add(t, type, id, status, req, caps, json_get_string(p, "error"));
	}
	table_print(t, stdout);
	table_free(t);
	return CLI_OK;
}

/* The fields of /v1/server in the order shown, with their labels. */
static const struct {
	const char *key, *label;
} server_fields[] = {
    {"uuid", "UUID"},
    {"pid", "PID"},
    {"root", "Root"},
    {"state", "State"},
    {"started_at", "Started at"},
};

static bool known_field(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(server_fields); i++)
		if (strcmp(server_fields[i].key, key) == 0)
			return true;
	return false;
}

static void print_field(const char *label, const json_t *v, int width)
{
	cleanup_free char *s =
	    json_is_string(v) ? xstrdup(json_string_value(v)) : json_dump_compact(v, NULL);
	printf("%s:%*s%s\n", label, width - (int)strlen(label), "", s);
}

static int server_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind]);
	cleanup_json json_t *reply = NULL;
	int st = cli_call(cli, "GET", "/v1/server", NULL, &reply);
	if (st != CLI_OK)
		return st;
	if (cli->json) {
		cli_print_json(reply);
		return CLI_OK;
	}
	/* known fields first, in order; any the daemon adds later after them */
	int width = 0;
	const char *key;
	json_t *v;
	for (size_t i = 0; i < ARRAY_SIZE(server_fields); i++)
		if (json_object_get(reply, server_fields[i].key) &&
		    (int)strlen(server_fields[i].label) > width)
			width = (int)strlen(server_fields[i].label);
	json_object_foreach(reply, key, v)
		if (!known_field(key) && (int)strlen(key) > width)
			width = (int)strlen(key);
	width += 1;
	for (size_t i = 0; i < ARRAY_SIZE(server_fields); i++)
		if ((v = json_object_get(reply, server_fields[i].key)))
			print_field(server_fields[i].label, v, width);
	json_object_foreach(reply, key, v)
		if (!known_field(key))
			print_field(key, v, width);
	return CLI_OK;
}

static const struct cli_command plugins_ls = {
    .name = "ls",
    .aliases = CLI_ALIASES("list"),
    .summary = "list the daemon's plugins",
    .synopsis = "[-q] [-d] [--filter EXPR]...",
    .help = "List the daemon's compiled-in plugins as a table of TYPE, ID and STATUS\n"
	    "(ok, error, skipped, pending) (GET /v1/plugins).\n"
	    "\n"
	    "Options:\n"
	    "  -q, --quiet        print only TYPE.ID, one a line\n"
	    "  -d, --detailed     also show what each requires, its capabilities and,\n"
	    "                     for a plugin that failed, why\n"
	    "      --filter EXPR  containerd filter syntax (type==..., id==...); repeat for OR\n"
	    "  -h, --help         show this help\n",
    .run = plugins_ls_run,
};

const struct cli_command cmd_plugins = {
    .name = "plugins",
    .summary = "list the daemon's plugins",
    .help = "Inspect the daemon's plugins.",
    .subcommands = CLI_COMMANDS(&plugins_ls),
    .fallback = &plugins_ls,
};

const struct cli_command cmd_server = {
    .name = "server",
    .summary = "show where and since when the daemon runs",
    .help = "Show the running daemon's identity (GET /v1/server): its UUID, process id,\n"
	    "root and state directories, and when it started; one `Key: value` a line.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = server_run,
};
