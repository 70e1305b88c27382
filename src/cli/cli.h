/*
 * cli: what the command files of the `berth` client share.
 *
 * Commands are static tables, as tmux's cmd_table: each file (cmd_*.c)
 * defines one `struct cli_command` per command or command group and exports
 * the top-level ones, which berth.c lists in its one table. A group (e.g.
 * `namespaces`) has a NULL-terminated table of subcommands and, optionally,
 * a fallback run when no subcommand is named (`berth plugins` = `berth
 * plugins ls`). A leaf has a run function that receives its own argv
 * (argv[0] is the command's name), parses its flags with cli_getopt() and
 * returns the process exit status. Adding a command group is: a new
 * cmd_<group>.c, its extern below, a row in berth.c's table, its words in
 * contrib/completion/berth.
 *
 * Output: results go to stdout (tables, or the daemon's JSON pretty-printed
 * with --json); every failure is one line `berth: <message>` on stderr,
 * printed by the helpers here, never by the client module.
 */
#ifndef BERTH_CLI_CLI_H
#define BERTH_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include <jansson.h>

#include "cli/client.h"
#include "core/util.h"

/* Exit statuses of `berth` (also in `berth --help`). */
enum cli_exit {
	CLI_OK = 0,	     /* success */
	CLI_ERROR = 1,	     /* the daemon answered an error, a partial failure, or the
				connection broke after it was made */
	CLI_USAGE = 2,	     /* bad command, flag or argument */
	CLI_UNREACHABLE = 3, /* cannot connect to the daemon */
};
_Static_assert((int)CLI_ERROR == (int)CLIENT_FAILED &&
		   (int)CLI_UNREACHABLE == (int)CLIENT_UNREACHABLE,
	       "client statuses are exit statuses");

/* The invocation: global options, the connection, the command being run. */
struct cli {
	const char *address;	       /* --address / BERTH_ADDRESS / the default socket */
	const char *ns;		       /* -n / BERTH_NAMESPACE / "default" */
	char *token;		       /* over TCP: --token-file or BERTH_TOKEN; never printed */
	bool json;		       /* --json: the daemon's JSON instead of tables */
	long timeout;		       /* --timeout seconds for non-streaming requests; 0: none */
	struct client *client;	       /* made on first use by cli_client() */
	const struct cli_command *cmd; /* the command being run, for --help */
	struct buf path;	       /* its words: "namespaces ls" */
};

struct cli_command {
	const char *name;
	const char *const *aliases; /* NULL-terminated, or NULL */
	const char *summary;	    /* one lowercase line, shown in the parent's list */
	const char *synopsis;	    /* arguments after the command words; NULL: none */
	const char *help;	    /* description and "Options:" block for --help */
	/* A leaf: run with the command's own argv; returns an exit status. */
	int (*run)(struct cli *cli, int argc, char **argv);
	/* A group: its subcommands, and the one run when none is named. */
	const struct cli_command *const *subcommands;
	const struct cli_command *fallback;
};

#define CLI_ALIASES(...) ((const char *const[]){__VA_ARGS__, NULL})
#define CLI_COMMANDS(...) ((const struct cli_command *const[]){__VA_ARGS__, NULL})
/* Every command takes -h/--help: put this in its long options. */
#define CLI_OPT_HELP                                                                               \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}

/* The command groups, one per cmd_*.c. */
extern const struct cli_command cmd_version;
extern const struct cli_command cmd_namespaces;
extern const struct cli_command cmd_events;
extern const struct cli_command cmd_plugins;
extern const struct cli_command cmd_server;
extern const struct cli_command cmd_pull;
extern const struct cli_command cmd_images_unpack; /* in cmd_pull.c */
extern const struct cli_command cmd_images;
extern const struct cli_command cmd_content;
extern const struct cli_command cmd_leases;
extern const struct cli_command cmd_snapshots;
extern const struct cli_command cmd_containers;
extern const struct cli_command cmd_run;
extern const struct cli_command cmd_tasks;
extern const struct cli_command cmd_tasks_metrics; /* in cmd_tasks_metrics.c */
/* in cmd_tasks_attach.c */
extern const struct cli_command cmd_tasks_attach, cmd_tasks_resize, cmd_tasks_closeio;
extern const struct cli_command cmd_tasks_exec; /* in cmd_tasks_exec.c */

/* Run cmd (a leaf or a group) with its argv (argv[0] is its name). */
int cli_run(struct cli *cli, const struct cli_command *cmd, int argc, char **argv);
/* Print cmd's --help to stdout. */
void cli_help(const struct cli *cli, const struct cli_command *cmd);

/* getopt_long() for a leaf: shortopts must hold "h" and longopts
 * CLI_OPT_HELP. Returns the option, -1 after the last one, or '?' when the
 * usage error has been printed. Pass any option the command does not handle
 * (including 'h' and '?') to cli_getopt_other(). */
int cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);
/* 'h': print the help, CLI_OK; anything else: CLI_USAGE. */
int cli_getopt_other(struct cli *cli, int opt);

/* Print "berth: <what>" and "Run 'berth <cmd> --help'." to stderr. */
int cli_usage_error(struct cli *cli, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Print "berth: <message of err>" to stderr, free err, return status. */
int cli_fail(err_t *err, int status);

/* The connection, made on first use; NULL after printing the error (an
 * unusable address: *status is CLI_USAGE). */
struct client *cli_client(struct cli *cli, int *status);
/* A JSON request through cli_client(); prints any failure. Returns the exit
 * status (CLI_OK on a 2xx answer, with *reply as for client_call()). */
int cli_call(struct cli *cli, const char *method, const char *path, const json_t *body,
	     json_t **reply);

/* --json output: j pretty-printed (2-space indent) and a newline. */
void cli_print_json(const json_t *j);
/* Labels object → "k=v,k2=v2" sorted by key ("" for none); caller frees. */
char *cli_format_labels(const json_t *labels);
/* Split "KEY=VALUE" into key (allocated) and value (points into arg);
 * a usage error (already printed) when there is no '=' or the key is empty. */
int cli_parse_label(struct cli *cli, const char *arg, char **key, const char **value);
/* LABEL=VALUE arguments into a labels object, each checked as berthd
 * checks labels; with patch, an empty value is null (JSON merge patch:
 * remove the label). A usage error (already printed) on a bad one. */
int cli_parse_labels(struct cli *cli, int argc, char *const *argv, bool patch, json_t **out);

/* "/v1/namespaces/<-n, escaped>" followed by the formatted rest; whatever
 * the rest holds from the user is escaped by the caller (client_escape()). */
char *cli_ns_path(const struct cli *cli, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* For commands acting on several names (`rm A B C`): one(cli, name, arg)
 * for each name in turn, which returns an exit status and prints its own
 * failure; each name that succeeded is printed on stdout. Goes on after a
 * failure; stops at once when the daemon is unreachable (3). Returns
 * CLI_OK, CLI_ERROR if any failed, or CLI_UNREACHABLE. */
int cli_for_each(struct cli *cli, int argc, char *const *argv,
		 int (*one)(struct cli *cli, const char *name, void *arg), void *arg);

/* Print the answer of a list request (`ls`), the objects in reply's array:
 * with quiet each object's `key` on a line, with --json the whole reply,
 * else table t (made by the caller with its headers; freed here) with one
 * row per object, added by row(). Returns CLI_OK. */
struct table;
int cli_print_list(struct cli *cli, const json_t *reply, const char *array, const char *key,
		   bool quiet, struct table *t,
		   void (*row)(struct table *t, json_t *item, void *data), void *data);

#endif
