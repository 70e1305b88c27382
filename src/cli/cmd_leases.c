/* berth leases: list, create and remove leases through
 * /v1/namespaces/{ns}/leases, as `ctr leases`. A lease keeps the content
 * it holds from garbage collection until it is removed or expires. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "cli/util.h"
#include "core/json.h"

enum { OPT_FILTER = 256, OPT_ID, OPT_EXPIRES_IN, OPT_LABEL, OPT_SYNC };

static char *lease_path(const struct cli *cli, const char *id, const char *query)
{
	cleanup_free char *e = client_escape(id);
	return cli_ns_path(cli, "/leases/%s%s", e, query ? query : "");
}

/* "in 29 minutes", "expired", or "-" for a lease that never expires. */
static void format_expiry(const char *at, char *out, size_t len)
{
	int64_t t;
	if (!at || !parse_rfc3339(at, &t)) {
		snprintf(out, len, "-");
		return;
	}
	int64_t left = (t - time_now_ns()) / 1000000000;
	if (left <= 0) {
		snprintf(out, len, "expired");
		return;
	}
	char d[32];
	human_duration(left, d, sizeof(d));
	/* "in About an hour" reads badly */
	snprintf(out, len, "in %s%s", d[0] == 'A' ? "a" : "", d[0] == 'A' ? d + 1 : d);
}

/* One row of `ls`. */
static void ls_row(struct table *t, json_t *l, void *data)
{
	char age[32], exp[48];
	format_age(json_get_string(l, "created_at"), age, sizeof(age));
	cleanup_free char *created =
	    strcmp(age, "-") == 0 ? xstrdup(age) : xasprintf("%s ago", age);
	format_expiry(json_get_string(l, "expires_at"), exp, sizeof(exp));
	cleanup_free char *labels = cli_format_labels(json_object_get(l, "labels"));
	table_add(t, json_get_string(l, "id"), created, exp, labels);
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
	cleanup_free char *path = cli_ns_path(cli, "/leases%s", query.len ? query.data : "");
	buf_release(&query);
	cleanup_json json_t *reply = NULL;
	int st = cli_call(cli, "GET", path, NULL, &reply);
	if (st != CLI_OK)
		return st;
	return cli_print_list(cli, reply, "leases", "id", quiet,
			      table_new("ID", "CREATED", "EXPIRES", "LABELS", NULL), ls_row, NULL);
}

static int create_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"id", required_argument, NULL, OPT_ID},
	    {"expires-in", required_argument, NULL, OPT_EXPIRES_IN},
	    {"label", required_argument, NULL, OPT_LABEL},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	const char *id = NULL;
	uint64_t expires = 0;
	bool has_expiry = false;
	cleanup_free char **label_args = NULL;
	int nlabels = 0;
	size_t alloc = 0;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1) {
		switch (c) {
		case OPT_ID:
			if (!*optarg)
				return cli_usage_error(cli, "empty --id");
			id = optarg;
			break;
		case OPT_EXPIRES_IN:
			if (!parse_duration(optarg, &expires) || expires == 0 ||
			    expires > (uint64_t)INT32_MAX)
				return cli_usage_error(
				    cli,
				    "bad --expires-in `%s`: want a duration such "
				    "as 30m, 24h, 3600s",
				    optarg);
			has_expiry = true;
			break;
		case OPT_LABEL:
			ALLOC_GROW(label_args, (size_t)nlabels + 1, alloc);
			label_args[nlabels++] = optarg;
			break;
		default:
			return cli_getopt_other(cli, c);
		}
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind]);
	cleanup_json json_t *labels = NULL;
	int st = cli_parse_labels(cli, nlabels, label_args, false, &labels);
	if (st != CLI_OK)
		return st;
	cleanup_json json_t *body = json_object();
	if (id)
		json_object_set_new(body, "id", json_string(id));
	if (has_expiry)
		json_object_set_new(body, "expires_in", json_integer((json_int_t)expires));
	if (json_object_size(labels))
		json_object_set(body, "labels", labels);
	cleanup_free char *path = cli_ns_path(cli, "/leases");
	cleanup_json json_t *reply = NULL;
	if ((st = cli_call(cli, "POST", path, body, &reply)) != CLI_OK)
		return st;
	if (cli->json)
		cli_print_json(reply);
	else
		printf("%s\n", json_get_string(reply, "id") ? json_get_string(reply, "id") : "?");
	return CLI_OK;
}

static int rm_one(struct cli *cli, const char *id, void *arg)
{
	const bool *sync = arg;
	cleanup_free char *path = lease_path(cli, id, *sync ? "?sync=true" : NULL);
	return cli_call(cli, "DELETE", path, NULL, NULL);
}

static int rm_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"sync", no_argument, NULL, OPT_SYNC},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	bool sync = false;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1) {
		if (c == OPT_SYNC)
			sync = true;
		else
			return cli_getopt_other(cli, c);
	}
	if (optind >= argc)
		return cli_usage_error(cli, "missing the lease ID");
	for (int i = optind; i < argc; i++)
		if (!*argv[i])
			return cli_usage_error(cli, "empty lease ID");
	return cli_for_each(cli, argc - optind, argv + optind, rm_one, &sync);
}

static const struct cli_command leases_ls = {
    .name = "ls",
    .aliases = CLI_ALIASES("list"),
    .summary = "list leases",
    .synopsis = "[-q] [--filter EXPR]...",
    .help = "List the leases of the namespace (GET /v1/namespaces/NS/leases) as a table of\n"
	    "ID, CREATED, EXPIRES (`in 29 minutes`, `expired`, `-` for never) and LABELS.\n"
	    "\n"
	    "Options:\n"
	    "  -q, --quiet        print only the ids, one a line\n"
	    "      --filter EXPR  containerd filter syntax: id==x, labels.\"k\"==v; a comma\n"
	    "                     is AND, repeat --filter for OR\n"
	    "  -h, --help         show this help\n",
    .run = ls_run,
};

static const struct cli_command leases_create = {
    .name = "create",
    .summary = "create a lease",
    .synopsis = "[--id ID] [--expires-in DURATION] [--label LABEL=VALUE]...",
    .help = "Create a lease (POST /v1/namespaces/NS/leases) and print its id. Content\n"
	    "added to it stays out of garbage collection's reach until the lease is\n"
	    "removed or expires.\n"
	    "\n"
	    "Options:\n"
	    "      --id ID               the lease's id (default: one made by berthd)\n"
	    "      --expires-in DURATION expire after DURATION: 3600 or 3600s, 30m, 24h,\n"
	    "                            2d, 1h30m (default: never)\n"
	    "      --label LABEL=VALUE   set a label; repeat for several\n"
	    "  -h, --help                show this help\n",
    .run = create_run,
};

static const struct cli_command leases_rm = {
    .name = "rm",
    .aliases = CLI_ALIASES("remove", "delete"),
    .summary = "remove leases",
    .synopsis = "[--sync] ID...",
    .help = "Remove each lease ID (DELETE /v1/namespaces/NS/leases/ID), printing each id\n"
	    "removed and one error line for each that could not be; exits 1 if any\n"
	    "failed. What only the lease held is then collected.\n"
	    "\n"
	    "Options:\n"
	    "      --sync  answer only after a garbage collection has run\n"
	    "  -h, --help  show this help\n",
    .run = rm_run,
};

const struct cli_command cmd_leases = {
    .name = "leases",
    .aliases = CLI_ALIASES("lease"),
    .summary = "manage leases",
    .help = "Manage leases: named holds on content that keep garbage collection away\n"
	    "from it (every pull runs under one).",
    .subcommands = CLI_COMMANDS(&leases_ls, &leases_create, &leases_rm),
    .fallback = &leases_ls,
};
