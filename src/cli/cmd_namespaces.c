/* berth namespaces (ns): list, create, remove and label namespaces through
 * /v1/namespaces, as `ctr namespaces`. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "core/json.h"
#include "core/names.h"

enum { OPT_FILTER = 256 };

/* A namespace name from the command line; a usage error when invalid. */
static int check_name(struct cli *cli, const char *name)
{
	err_t err = NULL;
	if (name_validate_namespace(name, &err) < 0) {
		int st = cli_usage_error(cli, "%s", err->msg);
		err_free(&err);
		return st;
	}
	return CLI_OK;
}

static char *ns_path(const char *name)
{
	cleanup_free char *e = client_escape(name);
	return xasprintf("/v1/namespaces/%s", e);
}

/* One row of `ls`. */
static void ls_row(struct table *t, json_t *ns, void *data)
{
	cleanup_free char *labels =
	    cli_format_labels(json_object_get(ns, "labels"));
	table_add(t, json_get_string(ns, "name"), labels);
}

static int ls_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"filter", required_argument, NULL, OPT_FILTER},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	bool quiet = false;
	struct buf path = BUF_INIT;
	buf_adds(&path, "/v1/namespaces");
	int c;
	while ((c = cli_getopt(cli, argc, argv, "qh", longopts)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
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
	return cli_print_list(cli, reply, "namespaces", "name", quiet,
			      table_new("NAME", "LABELS", NULL), ls_row, NULL);
}

/* create and label: NAME [K=V|K=]... sent as {"labels":{...}} with method;
 * patch: an empty value means remove (null). */
static int send_labels(struct cli *cli, int argc, char **argv, const char *method, bool patch)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing the namespace NAME");
	const char *name = argv[optind];
	int st = check_name(cli, name);
	if (st != CLI_OK)
		return st;
	cleanup_json json_t *labels = NULL;
	if ((st = cli_parse_labels(cli, argc - optind - 1, argv + optind + 1, patch, &labels)) !=
	    CLI_OK)
		return st;

	cleanup_json json_t *body = json_pack("{s:O}", "labels", labels);
	cleanup_json json_t *reply = NULL;
	cleanup_free char *path = ns_path(name);
	if ((st = cli_call(cli, method, path, body, &reply)) != CLI_OK)
		return st;
	if (cli->json && reply)
		cli_print_json(reply);
	return CLI_OK;
}

static int create_run(struct cli *cli, int argc, char **argv)
{
	return send_labels(cli, argc, argv, "PUT", false);
}

static int label_run(struct cli *cli, int argc, char **argv)
{
	return send_labels(cli, argc, argv, "PATCH", true);
}

static int rm_one(struct cli *cli, const char *name, void *arg)
{
	cleanup_free char *path = ns_path(name);
	return cli_call(cli, "DELETE", path, NULL, NULL);
}

static int rm_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing the namespace NAME");
	/* check every name first: a typo removes nothing */
	for (int i = optind; i < argc; i++) {
		int st = check_name(cli, argv[i]);
		if (st != CLI_OK)
			return st;
	}
	return cli_for_each(cli, argc - optind, argv + optind, rm_one, NULL);
}

static const struct cli_command ns_ls = {
    .name = "ls",
    .aliases = CLI_ALIASES("list"),
    .summary = "list namespaces",
    .synopsis = "[-q] [--filter EXPR]...",
    .help = "List namespaces as a table of NAME and LABELS (k=v,k2=v2, sorted by key)\n"
	    "(GET /v1/namespaces).\n"
	    "\n"
	    "Options:\n"
	    "  -q, --quiet        print only the names, one a line\n"
	    "      --filter EXPR  containerd filter syntax: name==x, labels.\"k\"==v,\n"
	    "                     name~=\"regex\"; a comma is AND, repeat --filter for OR\n"
	    "  -h, --help         show this help\n",
    .run = ls_run,
};

static const struct cli_command ns_create = {
    .name = "create",
    .summary = "create a namespace",
    .synopsis = "NAME [LABEL=VALUE...]",
    .help = "Create the namespace NAME with the given labels (PUT /v1/namespaces/NAME).\n"
	    "Fails if it exists. With --json, prints the namespace created.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = create_run,
};

static const struct cli_command ns_rm = {
    .name = "rm",
    .aliases = CLI_ALIASES("remove"),
    .summary = "remove namespaces",
    .synopsis = "NAME...",
    .help = "Remove each namespace NAME (DELETE /v1/namespaces/NAME), printing each name\n"
	    "removed and one error line for each that could not be; exits 1 if any\n"
	    "failed. A namespace that still holds images, containers, content or\n"
	    "snapshots cannot be removed.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = rm_run,
};

static const struct cli_command ns_label = {
    .name = "label",
    .summary = "set or remove labels of a namespace",
    .synopsis = "NAME [LABEL=VALUE|LABEL=]...",
    .help = "Set the labels of the namespace NAME (PATCH /v1/namespaces/NAME); LABEL=\n"
	    "with an empty value removes that label; labels not named are kept.\n"
	    "With --json, prints the namespace as updated.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = label_run,
};

const struct cli_command cmd_namespaces = {
    .name = "namespaces",
    .aliases = CLI_ALIASES("ns"),
    .summary = "manage namespaces",
    .help = "Manage namespaces: every image, container, blob and snapshot lives in one.",
    .subcommands = CLI_COMMANDS(&ns_ls, &ns_create, &ns_rm, &ns_label),
};
