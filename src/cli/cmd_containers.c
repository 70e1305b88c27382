/* berth containers: create, list, inspect, label and remove the container
 * records of a namespace through /v1/namespaces/{ns}/containers, as
 * `ctr containers`. A container is metadata (spec, snapshot, runtime);
 * running it is a task's business. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/container_opts.h"
#include "cli/table.h"
#include "cli/util.h"
#include "core/json.h"

enum { OPT_FILTER = 256, OPT_KEEP_SNAPSHOT };

static char *container_path(const struct cli *cli, const char *id, const char *query)
{
	cleanup_free char *e = client_escape(id);
	return cli_ns_path(cli, "/containers/%s%s", e, query ? query : "");
}

/* One row of `ls`. */
static void ls_row(struct table *t, json_t *ct, void *data)
{
	const char *image = json_get_string(ct, "image");
	const char *rt = json_get_string(json_object_get(ct, "runtime"), "name");
	cleanup_free char *labels =
	    cli_format_labels(json_object_get(ct, "labels"));
	table_add(t, json_get_string(ct, "id"), image ? image : "-", rt ? rt : "-",
		  labels);
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
	struct buf query = BUF_INIT;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "qh", longopts)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case OPT_FILTER:
			client_query_add(&query, "filter", optarg);
			break;
		default:
			buf_release(&query);
			return cli_getopt_other(cli, c);
		}
	}
	if (optind < argc) {
		buf_release(&query);
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind]);
	}
	cleanup_free char *path = cli_ns_path(cli, "/containers%s", query.len ? query.data : "");
	buf_release(&query);
	cleanup_json json_t *reply = NULL;
	int st = cli_call(cli, "GET", path, NULL, &reply);
	if (st != CLI_OK)
		return st;
	return cli_print_list(cli, reply, "containers", "id", quiet,
			      table_new("CONTAINER", "IMAGE", "RUNTIME", "LABELS", NULL), ls_row, NULL);
}

static int create_run(struct cli *cli, int argc, char **argv)
{
	cleanup_json json_t *body = NULL;
	int first;
	int st = container_opts_parse(cli, argc, argv, &first, &body);
	if (st != CLI_OK || !body)
		return st;
	cleanup_free char *path = cli_ns_path(cli, "/containers");
	cleanup_json json_t *reply = NULL;
	if ((st = cli_call(cli, "POST", path, body, &reply)) != CLI_OK)
		return st;
	if (cli->json)
		cli_print_json(reply);
	else
		printf("%s\n", json_get_string(reply, "id"));
	return CLI_OK;
}

static int info_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing the container ID");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 1]);
	cleanup_free char *path = container_path(cli, argv[optind], NULL);
	cleanup_json json_t *reply = NULL;
	int st = cli_call(cli, "GET", path, NULL, &reply);
	if (st == CLI_OK)
		cli_print_json(reply);
	return st;
}

static int rm_one(struct cli *cli, const char *id, void *arg)
{
	const bool *keep = arg;
	cleanup_free char *path = container_path(cli, id, *keep ? NULL : "?cleanup=snapshot");
	return cli_call(cli, "DELETE", path, NULL, NULL);
}

static int rm_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"keep-snapshot", no_argument, NULL, OPT_KEEP_SNAPSHOT},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	bool keep = false;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1) {
		if (c == OPT_KEEP_SNAPSHOT)
			keep = true;
		else
			return cli_getopt_other(cli, c);
	}
	if (optind >= argc)
		return cli_usage_error(cli, "missing the container ID");
	return cli_for_each(cli, argc - optind, argv + optind, rm_one, &keep);
}

static int label_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing the container ID");
	cleanup_json json_t *patch = NULL;
	int st = cli_parse_labels(cli, argc - optind - 1, argv + optind + 1, true, &patch);
	if (st != CLI_OK)
		return st;
	cleanup_json json_t *body = json_pack("{s:O}", "labels", patch);
	cleanup_free char *path = container_path(cli, argv[optind], NULL);
	cleanup_json json_t *reply = NULL;
	if ((st = cli_call(cli, "PATCH", path, body, &reply)) != CLI_OK)
		return st;
	if (cli->json) {
		cli_print_json(reply);
	} else {
		cleanup_free char *l = cli_format_labels(json_object_get(reply, "labels"));
		printf("%s\n", l);
	}
	return CLI_OK;
}

static const struct cli_command containers_ls = {
    .name = "ls",
    .aliases = CLI_ALIASES("list"),
    .summary = "list containers",
    .synopsis = "[-q] [--filter EXPR]...",
    .help = "List the containers of the namespace (GET /v1/namespaces/NS/containers) as a\n"
	    "table of CONTAINER, IMAGE, RUNTIME and LABELS.\n"
	    "\n"
	    "Options:\n"
	    "  -q, --quiet        print only the ids, one a line\n"
	    "      --filter EXPR  containerd filter syntax: id==x, image==x,\n"
	    "                     runtime.name==runc, labels.\"k\"==v, id~=\"regex\"; a\n"
	    "                     comma is AND, repeat --filter for OR\n"
	    "  -h, --help         show this help\n",
    .run = ls_run,
};

static const struct cli_command containers_create = {
    .name = "create",
    .summary = "create a container",
    .synopsis = "[OPTIONS] IMAGE ID [CMD [ARGS...]]",
    .help = "Create the container ID from IMAGE (POST /v1/namespaces/NS/containers): an\n"
	    "active snapshot ID over the image's unpacked layers and an OCI spec made from\n"
	    "the image's config (entrypoint and command, env, working directory, user)\n"
	    "and the options below. CMD and ARGS replace the image's entrypoint and\n"
	    "command. Prints ID. The image must be unpacked for the snapshotter.\n"
	    "\n"
	    "Options:\n" CONTAINER_OPTS_HELP "  -h, --help               show this help\n",
    .run = create_run,
};

static const struct cli_command containers_info = {
    .name = "info",
    .aliases = CLI_ALIASES("inspect"),
    .summary = "show a container as JSON",
    .synopsis = "ID",
    .help = "Print the container ID (GET /v1/namespaces/NS/containers/ID) as pretty\n"
	    "JSON, with its spec.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = info_run,
};

static const struct cli_command containers_rm = {
    .name = "rm",
    .aliases = CLI_ALIASES("remove", "delete", "del"),
    .summary = "remove containers",
    .synopsis = "[--keep-snapshot] ID...",
    .help = "Remove each container ID and its snapshot (DELETE\n"
	    "/v1/namespaces/NS/containers/ID?cleanup=snapshot), as `ctr containers rm`,\n"
	    "printing each id removed; exits 1 if any failed. A container with a task\n"
	    "cannot be removed.\n"
	    "\n"
	    "Options:\n"
	    "      --keep-snapshot  leave the container's snapshot in place\n"
	    "  -h, --help           show this help\n",
    .run = rm_run,
};

static const struct cli_command containers_label = {
    .name = "label",
    .summary = "set and clear labels of a container",
    .synopsis = "ID [LABEL=VALUE...]",
    .help = "Set each LABEL to VALUE on the container ID (an empty VALUE removes the\n"
	    "label), through PATCH, and print its labels.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = label_run,
};

const struct cli_command cmd_containers = {
    .name = "containers",
    .aliases = CLI_ALIASES("container", "c"),
    .summary = "manage containers",
    .help = "Manage the container records of a namespace: a spec, a root filesystem\n"
	    "snapshot and a runtime, ready to be run as a task.",
    .subcommands = CLI_COMMANDS(&containers_ls, &containers_create, &containers_info,
				&containers_rm, &containers_label),
    .fallback = &containers_ls,
};
