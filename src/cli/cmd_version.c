/* berth version: the client's version, then the daemon's (GET /v1/version),
 * laid out as `ctr version`. */
#include "config.h"

#include <stdio.h>

#include "cli/cli.h"
#include "core/json.h"

static int version_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind]);

	if (!cli->json) {
		printf("Client:\n  Version:  %s\n  Revision: %s\n\n", PACKAGE_VERSION,
		       BERTH_REVISION);
		fflush(stdout);
	}
	cleanup_json json_t *server = NULL;
	int st = cli_call(cli, "GET", "/v1/version", NULL, &server);
	if (cli->json) {
		cleanup_json json_t *out = json_pack("{s:{s:s,s:s}}", "client", "version",
						     PACKAGE_VERSION, "revision", BERTH_REVISION);
		if (st == CLI_OK)
			json_object_set(out, "server", server ? server : json_null());
		cli_print_json(out);
		return st;
	}
	if (st != CLI_OK)
		return st;
	const char *v = json_get_string(server, "version");
	const char *r = json_get_string(server, "revision");
	const char *api = json_get_string(server, "api");
	printf("Server:\n  Version:  %s\n  Revision: %s\n", v ? v : "unknown", r ? r : "unknown");
	if (api)
		printf("  API:      %s\n", api);
	return CLI_OK;
}

const struct cli_command cmd_version = {
    .name = "version",
    .summary = "show the client's and the daemon's versions",
    .help =
	"Show the version and revision of this client, then of the daemon\n"
	"(GET /v1/version). When the daemon cannot be reached, the client's part\n"
	"is printed and the command fails.\n"
	"With --json: {\"client\":{\"version\",\"revision\"},\"server\":<the daemon's answer>}.\n"
	"\n"
	"Options:\n"
	"  -h, --help  show this help\n",
    .run = version_run,
};
