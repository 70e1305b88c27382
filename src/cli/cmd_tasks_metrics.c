/* berth tasks metrics: a task's cgroup figures (GET .../task/metrics) as a
 * METRIC / VALUE table like `ctr tasks metrics`, or the daemon's JSON. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "core/json.h"

enum { OPT_METRICS_JSON = 256 };

/* One row: name and the integer at section.key; null limits read "unlimited". */
static void row(struct table *t, const char *name, json_t *m, const char *section,
		const char *key)
{
	json_t *s = json_object_get(m, section);
	if (!s || (!json_object_get(s, key) && strcmp(key, "limit") != 0))
		return;
	json_t *v = json_object_get(s, key);
	char val[32];
	if (json_is_integer(v))
		snprintf(val, sizeof(val), "%lld", (long long)json_integer_value(v));
	else
		snprintf(val, sizeof(val), "unlimited");
	table_add(t, name, val);
}

/* Every key of an object of integers, as prefix.key rows. */
static void rows_of(struct table *t, const char *prefix, json_t *obj)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v) {
		if (!json_is_integer(v))
			continue;
		char name[160], val[32];
		snprintf(name, sizeof(name), "%s.%s", prefix, k);
		snprintf(val, sizeof(val), "%lld", (long long)json_integer_value(v));
		table_add(t, name, val);
	}
}

static int metrics_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, OPT_METRICS_JSON},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1) {
		if (c == OPT_METRICS_JSON)
			cli->json = true;
		else
			return cli_getopt_other(cli, c);
	}
	if (optind >= argc)
		return cli_usage_error(cli, "missing the container ID");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 1]);
	cleanup_free char *e = client_escape(argv[optind]);
	cleanup_free char *path = cli_ns_path(cli, "/containers/%s/task/metrics", e);
	cleanup_json json_t *m = NULL;
	int st = cli_call(cli, "GET", path, NULL, &m);
	if (st != CLI_OK)
		return st;
	if (cli->json) {
		cli_print_json(m);
		return CLI_OK;
	}
	struct table *t = table_new("METRIC", "VALUE", NULL);
	json_t *mem = json_object_get(m, "memory");
	if (mem) {
		row(t, "memory.usage_in_bytes", m, "memory", "usage");
		row(t, "memory.limit_in_bytes", m, "memory", "limit");
		row(t, "memory.max_usage_in_bytes", m, "memory", "max_usage");
		row(t, "memory.failcnt", m, "memory", "failcnt");
		rows_of(t, "memory.events", json_object_get(mem, "events"));
		rows_of(t, "memory.stat", json_object_get(mem, "stat"));
	}
	row(t, "cpu.usage", m, "cpu", "usage_ns");
	row(t, "cpu.user", m, "cpu", "user_ns");
	row(t, "cpu.system", m, "cpu", "system_ns");
	row(t, "cpu.nr_periods", m, "cpu", "periods");
	row(t, "cpu.nr_throttled", m, "cpu", "throttled_periods");
	row(t, "cpu.throttled_time", m, "cpu", "throttled_ns");
	if (json_object_get(m, "pids")) {
		row(t, "pids.current", m, "pids", "current");
		row(t, "pids.limit", m, "pids", "limit");
	}
	row(t, "io.read_bytes", m, "io", "read_bytes");
	row(t, "io.write_bytes", m, "io", "write_bytes");
	row(t, "io.read_ops", m, "io", "read_ops");
	row(t, "io.write_ops", m, "io", "write_ops");
	const char *cg = json_get_string(m, "cgroup");
	printf("CGROUP %s\n\n", cg ? cg : "-");
	table_print(t, stdout);
	table_free(t);
	return CLI_OK;
}

const struct cli_command cmd_tasks_metrics = {
    .name = "metrics",
    .aliases = CLI_ALIASES("stats"),
    .summary = "print a task's cgroup metrics",
    .synopsis = "[--json] ID",
    .help = "Print the cgroup figures of the task of the container ID (GET\n"
	    ".../task/metrics) as METRIC / VALUE rows, as `ctr tasks metrics` does:\n"
	    "memory usage, limit and memory.stat, cpu time in nanoseconds, pids and\n"
	    "block I/O. A limit that is not set reads `unlimited`.\n"
	    "\n"
	    "Options:\n"
	    "      --json  print the daemon's JSON object\n"
	    "  -h, --help  show this help\n",
    .run = metrics_run,
};
