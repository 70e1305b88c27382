/*
 * cli/container_opts: the flags that describe a new container, shared by
 * `berth containers create` and `berth run`, turned into the body of
 * POST /v1/namespaces/{ns}/containers (API.md "Containers and tasks").
 *
 *   --env K=V (repeatable)      process.env
 *   --user U                    process.user ("name", "uid", "name:group", "uid:gid")
 *   --cwd DIR                   process.cwd
 *   --mount SRC:DST[:ro] (rep.) options.mounts (strings, as berthd takes them)
 *   --net-host                  options.net_host
 *   --readonly                  options.readonly_rootfs
 *   --memory N[k|m|g]           options.memory (bytes; binary suffixes)
 *   --cpus N                    options.cpus (a positive number, "0.5")
 *   --pids N                    options.pids
 *   --hostname NAME             options.hostname
 *   --runtime NAME              runtime.name ("runc", "crun" or an absolute path)
 *   --snapshotter NAME          snapshotter
 *   --label K=V (repeatable)    labels
 *
 * Two ways to use it:
 *  - container_opts_parse(): a command whose only flags are these (and -h)
 *    parses argv whole: flags, then IMAGE ID [CMD [ARGS...]].
 *  - a command with its own flags too (`berth run --rm -d ...`) merges
 *    container_opts_longopts into its table with container_opts_merge(),
 *    passes every option cli_getopt() returns to container_opts_handle()
 *    first, and builds the body with container_opts_body() once the
 *    positional arguments are known.
 * Option values of these flags are CONTAINER_OPT_BASE and up, apart from
 * the 256+ values the commands use for their own long options. Parsing
 * stops at the first non-flag (getopt's '+'), so a CMD's own flags
 * (`sh -c ...`) stay with it.
 */
#ifndef BERTH_CLI_CONTAINER_OPTS_H
#define BERTH_CLI_CONTAINER_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cli/cli.h"

enum {
	CONTAINER_OPT_BASE = 0x1000,
	CONTAINER_OPT_ENV = CONTAINER_OPT_BASE,
	CONTAINER_OPT_USER,
	CONTAINER_OPT_CWD,
	CONTAINER_OPT_MOUNT,
	CONTAINER_OPT_NET_HOST,
	CONTAINER_OPT_READONLY,
	CONTAINER_OPT_MEMORY,
	CONTAINER_OPT_CPUS,
	CONTAINER_OPT_PIDS,
	CONTAINER_OPT_HOSTNAME,
	CONTAINER_OPT_RUNTIME,
	CONTAINER_OPT_SNAPSHOTTER,
	CONTAINER_OPT_LABEL,
	CONTAINER_OPT_END,
};

/* The flags above, terminated by an all-zero row. */
extern const struct option container_opts_longopts[];

/* The "Options:" lines of the flags above, for a command's --help. */
#define CONTAINER_OPTS_HELP                                                                        \
	"      --env K=V            set an environment variable (repeatable)\n"                    \
	"      --user U             run as U: name, uid, name:group or uid:gid (names\n"           \
	"                           are looked up in the image's /etc/passwd, /etc/group)\n"       \
	"      --cwd DIR            working directory (absolute)\n"                                \
	"      --mount SRC:DST[:ro] bind-mount host path SRC at DST (repeatable)\n"                \
	"      --net-host           use the host's network namespace\n"                            \
	"      --readonly           mount the root filesystem read-only\n"                         \
	"      --memory N           memory limit in bytes, k/m/g suffixes (binary)\n"              \
	"      --cpus N             CPU limit, e.g. 0.5 or 2\n"                                    \
	"      --pids N             limit on the number of processes\n"                            \
	"      --hostname NAME      the container's hostname (default: its id)\n"                  \
	"      --runtime NAME       runc (default), crun, or the absolute path of a\n"             \
	"                           runc-compatible binary\n"                                      \
	"      --snapshotter NAME   the snapshotter of the container's root filesystem\n"          \
	"      --label K=V          set a label on the container (repeatable)\n"

/* What the flags said so far. CONTAINER_OPTS_INIT, then
 * container_opts_release(). */
struct container_opts {
	json_t *process; /* {"env"?,"user"?,"cwd"?} */
	json_t *options; /* {"mounts"?,"net_host"?,...} */
	json_t *labels;	 /* {} */
	const char *runtime;
	const char *snapshotter;
};
#define CONTAINER_OPTS_INIT                                                                        \
	{                                                                                          \
		NULL, NULL, NULL, NULL, NULL                                                       \
	}
void container_opts_release(struct container_opts *o);

/* own (a command's longopts, terminated by a zero row; may be NULL)
 * followed by container_opts_longopts, terminated; the caller frees. */
struct option *container_opts_merge(const struct option *own);

/* Take option opt (a value cli_getopt() returned; its value in optarg).
 * Returns 1 when it was one of these flags and was taken, 0 when it is not
 * one of them (the caller handles it), or -1 after printing a usage error
 * (bad value): the command then exits CLI_USAGE. */
int container_opts_handle(struct cli *cli, struct container_opts *o, int opt, const char *optarg);

/* The POST body: {"id","image","process":{...,"args"?},"options"?,
 * "labels"?,"runtime"?:{"name"},"snapshotter"?}; args (argc strings,
 * may be 0) become process.args, replacing the image's Entrypoint+Cmd.
 * *body is new. Never fails. */
void container_opts_body(const struct container_opts *o, const char *image, const char *id,
			 int argc, char *const *argv, json_t **body);

/* argv of a command that takes only these flags and -h: flags, then IMAGE
 * ID [CMD [ARGS...]]. Returns CLI_OK with *body set, or an exit status
 * after printing (CLI_OK with *body NULL after --help). *optind_out gets
 * the index of IMAGE in argv. */
int container_opts_parse(struct cli *cli, int argc, char **argv, int *optind_out, json_t **body);

/* "512", "64k", "256m", "1g" (binary: k = 1024) to bytes; false on junk,
 * zero or overflow. */
bool container_opts_parse_size(const char *s, int64_t *out);

#endif
