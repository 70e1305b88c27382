/* berth snapshots: the snapshots of a snapshotter through
 * /v1/namespaces/{ns}/snapshotters/{sn}/snapshots, as `ctr snapshots`.
 *
 * Every subcommand takes --snapshotter NAME; without it, the snapshotter
 * the daemon marks as its default (GET .../snapshotters) is used. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "cli/util.h"
#include "core/json.h"

enum { OPT_FILTER = 256, OPT_SNAPSHOTTER, OPT_LABEL, OPT_TARGET };

/* The mount option page: longer overlay options are made relative to the
 * snapshotter's directory (as containerd's mount helper does). */
#define MOUNT_OPTIONS_MAX 4095

struct snap_opts {
	const char *snapshotter;
	char *fetched; /* the daemon's default, when asked */
};

static int snapshotter_of(struct cli *cli, struct snap_opts *o)
{
	if (o->snapshotter)
		return CLI_OK;
	cleanup_free char *path = cli_ns_path(cli, "/snapshotters");
	cleanup_json json_t *reply = NULL;
	int st = cli_call(cli, "GET", path, NULL, &reply);
	if (st != CLI_OK)
		return st;
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(reply, "snapshotters"), i, s) {
		if (json_is_true(json_object_get(s, "default")) && json_get_string(s, "name")) {
			o->fetched = xstrdup(json_get_string(s, "name"));
			o->snapshotter = o->fetched;
			return CLI_OK;
		}
	}
	o->snapshotter = "overlayfs";
	return CLI_OK;
}

/* ".../snapshotters/SN/snapshots[/KEY][rest]" */
static char *snap_path(struct cli *cli, struct snap_opts *o, const char *key, const char *rest)
{
	cleanup_free char *sn = client_escape(o->snapshotter);
	if (!key)
		return cli_ns_path(cli, "/snapshotters/%s/snapshots%s", sn, rest ? rest : "");
	cleanup_free char *k = client_escape(key);
	return cli_ns_path(cli, "/snapshotters/%s/snapshots/%s%s", sn, k, rest ? rest : "");
}

/* Parse the options every subcommand shares plus its own; returns -1 to go
 * on, or an exit status. */
static int getopts(struct cli *cli, int argc, char **argv, struct snap_opts *o, json_t *labels,
		   const char **target, struct buf *query)
{
	static const struct option longopts[] = {
	    {"snapshotter", required_argument, NULL, OPT_SNAPSHOTTER},
	    {"label", required_argument, NULL, OPT_LABEL},
	    {"target", required_argument, NULL, OPT_TARGET},
	    {"filter", required_argument, NULL, OPT_FILTER},
	    {"quiet", no_argument, NULL, 'q'},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = cli_getopt(cli, argc, argv, "qh", longopts)) != -1) {
		switch (c) {
		case OPT_SNAPSHOTTER:
			o->snapshotter = optarg;
			break;
		case OPT_LABEL: {
			if (!labels)
				return cli_usage_error(cli, "this command takes no --label");
			cleanup_free char *k = NULL;
			const char *v;
			if (cli_parse_label(cli, optarg, &k, &v) != CLI_OK)
				return CLI_USAGE;
			json_object_set_new(labels, k, json_string(v));
			break;
		}
		case OPT_TARGET:
			if (!target)
				return cli_usage_error(cli, "this command takes no --target");
			*target = optarg;
			break;
		case OPT_FILTER:
			if (!query)
				return cli_usage_error(cli, "this command takes no --filter");
			client_query_add(query, "filter", optarg);
			break;
		case 'q':
			if (!query)
				return cli_usage_error(cli, "this command takes no --quiet");
			buf_adds(query, ""); /* marks quiet through the caller's flag */
			break;
		default:
			return cli_getopt_other(cli, c);
		}
	}
	return -1;
}

/* ---- printing mount commands ---------------------------------------------- */

/* s quoted for a POSIX shell when it needs it. */
static void shell_word(struct buf *b, const char *s)
{
	bool plain = *s != '\0';
	for (const char *p = s; *p; p++)
		if (!strchr(
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=,+-@%",
			*p))
			plain = false;
	if (plain) {
		buf_adds(b, s);
		return;
	}
	buf_adds(b, "'");
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			buf_adds(b, "'\\''");
		else
			buf_add(b, p, 1);
	}
	buf_adds(b, "'");
}

/* The directory every path of an overlay option shares, or NULL. */
static char *common_dir(json_t *opts)
{
	char *common = NULL;
	size_t i;
	json_t *o;
	json_array_foreach(opts, i, o) {
		const char *s = json_string_value(o);
		const char *eq = s ? strchr(s, '=') : NULL;
		if (!eq || (strncmp(s, "lowerdir=", 9) != 0 && strncmp(s, "upperdir=", 9) != 0 &&
			    strncmp(s, "workdir=", 8) != 0))
			continue;
		for (const char *p = eq + 1; *p;) {
			const char *end = strchr(p, ':');
			size_t n = end ? (size_t)(end - p) : strlen(p);
			/* the snapshotter root is the parent of "<id>/fs" */
			char *path = xstrndup(p, n);
			char *slash = strrchr(path, '/');
			if (slash)
				*slash = '\0';
			slash = strrchr(path, '/');
			if (slash)
				*slash = '\0';
			if (!common) {
				common = path;
			} else {
				size_t k = 0;
				while (common[k] && common[k] == path[k])
					k++;
				while (k > 0 && common[k] != '\0' && common[k] != '/')
					k--;
				common[k] = '\0';
				free(path);
			}
			p += n;
			if (*p == ':')
				p++;
		}
	}
	if (common && !*common) {
		free(common);
		return NULL;
	}
	return common;
}

static void print_mount(json_t *m, const char *target)
{
	const char *type = json_get_string(m, "type");
	const char *source = json_get_string(m, "source");
	json_t *opts = json_object_get(m, "options");
	struct buf o = BUF_INIT;
	size_t i;
	json_t *v;
	json_array_foreach(opts, i, v) {
		if (o.len)
			buf_adds(&o, ",");
		buf_adds(&o, json_string_value(v) ? json_string_value(v) : "");
	}
	struct buf cmd = BUF_INIT;
	if (type && strcmp(type, "bind") == 0) {
		buf_adds(&cmd, "mount -o ");
		shell_word(&cmd, o.data ? o.data : "bind");
		buf_adds(&cmd, " ");
		shell_word(&cmd, source ? source : "");
		buf_adds(&cmd, " ");
		shell_word(&cmd, target);
	} else {
		cleanup_free char *dir = NULL;
		if (o.len > MOUNT_OPTIONS_MAX && (dir = common_dir(opts))) {
			/* too long for one page: paths relative to their common
			 * directory, mounted from there */
			size_t dl = strlen(dir);
			struct buf rel = BUF_INIT;
			for (const char *p = o.data; *p;) {
				if (strncmp(p, dir, dl) == 0 && p[dl] == '/') {
					p += dl + 1;
					continue;
				}
				buf_add(&rel, p, 1);
				p++;
			}
			buf_release(&o);
			o = rel;
			buf_adds(&cmd, "(cd ");
			shell_word(&cmd, dir);
			buf_adds(&cmd, " && ");
		}
		buf_adds(&cmd, "mount -t ");
		shell_word(&cmd, type ? type : "none");
		buf_adds(&cmd, " ");
		shell_word(&cmd, source ? source : "none");
		buf_adds(&cmd, " -o ");
		shell_word(&cmd, o.data ? o.data : "");
		buf_adds(&cmd, " ");
		shell_word(&cmd, target);
		if (dir)
			buf_adds(&cmd, ")");
	}
	printf("%s\n", cmd.data);
	buf_release(&cmd);
	buf_release(&o);
}

static void print_mounts(json_t *reply, const char *target)
{
	/* a relative target would be wrong after the cd of a long overlay */
	cleanup_free char *abs = NULL;
	if (target[0] != '/') {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)))
			abs = xasprintf("%s/%s", cwd, target);
	}
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(reply, "mounts"), i, m)
		print_mount(m, abs ? abs : target);
}

/* ---- commands -------------------------------------------------------------- */

#define SETUP(labels, target, query)                                                               \
	struct snap_opts o = {0};                                                                  \
	cleanup_free char *path = NULL;                                                            \
	cleanup_json json_t *body = NULL;                                                          \
	int st = getopts(cli, argc, argv, &o, labels, target, query);                              \
	if (st >= 0)                                                                               \
		goto out;                                                                          \
	if ((st = snapshotter_of(cli, &o)) != CLI_OK)                                              \
		goto out;

static int ls_run(struct cli *cli, int argc, char **argv)
{
	struct buf query = BUF_INIT;
	bool quiet = false;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
			quiet = true;
	cleanup_json json_t *reply = NULL;
	SETUP(NULL, NULL, &query)
	if (optind < argc) {
		st = cli_usage_error(cli, "unexpected argument `%s`", argv[optind]);
		goto out;
	}
	path = snap_path(cli, &o, NULL, query.len ? query.data : NULL);
	if ((st = cli_call(cli, "GET", path, NULL, &reply)) != CLI_OK)
		goto out;
	json_t *list = json_object_get(reply, "snapshots");
	size_t i;
	json_t *s;
	if (quiet) {
		json_array_foreach(list, i, s)
			printf("%s\n", json_get_string(s, "name"));
	} else if (cli->json) {
		cli_print_json(reply);
	} else {
		struct table *t = table_new("KEY", "PARENT", "KIND", NULL);
		json_array_foreach(list, i, s) {
			const char *parent = json_get_string(s, "parent");
			table_add(t, json_get_string(s, "name"), parent ? parent : "",
				  json_get_string(s, "kind"));
		}
		table_print(t, stdout);
		table_free(t);
	}
out:
	buf_release(&query);
	free(o.fetched);
	return st;
}

static void print_tree(json_t *list, const char *name, int level)
{
	struct buf prefix = BUF_INIT;
	for (int i = 0; i < level; i++)
		buf_adds(&prefix, "  ");
	if (level > 0)
		buf_adds(&prefix, "\\_");
	printf("%s %s\n", prefix.data ? prefix.data : "", name);
	buf_release(&prefix);
	size_t i;
	json_t *s;
	json_array_foreach(list, i, s) {
		const char *p = json_get_string(s, "parent");
		if (p && strcmp(p, name) == 0)
			print_tree(list, json_get_string(s, "name"), level + 1);
	}
}

static int tree_run(struct cli *cli, int argc, char **argv)
{
	cleanup_json json_t *reply = NULL;
	SETUP(NULL, NULL, NULL)
	if (optind < argc) {
		st = cli_usage_error(cli, "unexpected argument `%s`", argv[optind]);
		goto out;
	}
	path = snap_path(cli, &o, NULL, NULL);
	if ((st = cli_call(cli, "GET", path, NULL, &reply)) != CLI_OK)
		goto out;
	json_t *list = json_object_get(reply, "snapshots");
	size_t i;
	json_t *s;
	/* roots: no parent, or a parent not in the list */
	json_array_foreach(list, i, s) {
		const char *p = json_get_string(s, "parent");
		bool root = !p;
		if (p) {
			root = true;
			size_t j;
			json_t *q;
			json_array_foreach(list, j, q)
				if (strcmp(json_get_string(q, "name"), p) == 0)
					root = false;
		}
		if (root)
			print_tree(list, json_get_string(s, "name"), 0);
	}
out:
	free(o.fetched);
	return st;
}

static int one_key_run(struct cli *cli, int argc, char **argv, const char *rest,
		       const char *target_name)
{
	cleanup_json json_t *reply = NULL;
	SETUP(NULL, NULL, NULL)
	int want = target_name ? 2 : 1;
	if (argc - optind < want) {
		st = cli_usage_error(cli, "missing the snapshot KEY%s%s", target_name ? " or " : "",
				     target_name ? target_name : "");
		goto out;
	}
	if (argc - optind > want) {
		st = cli_usage_error(cli, "unexpected argument `%s`", argv[optind + want]);
		goto out;
	}
	path = snap_path(cli, &o, argv[optind], rest);
	if ((st = cli_call(cli, "GET", path, NULL, &reply)) != CLI_OK)
		goto out;
	if (target_name && !cli->json)
		print_mounts(reply, argv[optind + 1]);
	else
		cli_print_json(reply);
out:
	free(o.fetched);
	return st;
}

static int info_run(struct cli *cli, int argc, char **argv)
{
	return one_key_run(cli, argc, argv, NULL, NULL);
}

static int mounts_run(struct cli *cli, int argc, char **argv)
{
	return one_key_run(cli, argc, argv, "/mounts", "TARGET");
}

static int usage_run(struct cli *cli, int argc, char **argv)
{
	SETUP(NULL, NULL, NULL)
	if (optind >= argc) {
		st = cli_usage_error(cli, "missing the snapshot KEY");
		goto out;
	}
	struct table *t = table_new("KEY", "SIZE", "INODES", NULL);
	json_t *all = json_object();
	for (int i = optind; i < argc && st != CLI_UNREACHABLE; i++) {
		cleanup_free char *upath = snap_path(cli, &o, argv[i], "/usage");
		json_t *reply = NULL;
		int one = cli_call(cli, "GET", upath, NULL, &reply);
		if (one != CLI_OK) {
			st = one;
			continue;
		}
		char sz[HUMAN_SIZE_MAX];
		char inodes[32];
		human_size((uint64_t)json_integer_value(json_object_get(reply, "size")), sz);
		snprintf(inodes, sizeof(inodes), "%lld",
			 (long long)json_integer_value(json_object_get(reply, "inodes")));
		table_add(t, argv[i], sz, inodes);
		json_object_set_new(all, argv[i], reply);
	}
	if (st < 0)
		st = CLI_OK;
	if (cli->json)
		cli_print_json(all);
	else if (table_rows(t))
		table_print(t, stdout);
	table_free(t);
	json_decref(all);
out:
	free(o.fetched);
	return st;
}

static int create(struct cli *cli, int argc, char **argv, const char *kind)
{
	cleanup_json json_t *labels = json_object();
	cleanup_json json_t *reply = NULL;
	const char *target = NULL;
	SETUP(labels, &target, NULL)
	if (optind >= argc) {
		st = cli_usage_error(cli, "missing the snapshot KEY");
		goto out;
	}
	if (argc - optind > 2) {
		st = cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 2]);
		goto out;
	}
	body = json_pack("{s:s,s:s,s:O}", "key", argv[optind], "kind", kind, "labels", labels);
	if (argc - optind == 2)
		json_object_set_new(body, "parent", json_string(argv[optind + 1]));
	path = snap_path(cli, &o, NULL, NULL);
	if ((st = cli_call(cli, "POST", path, body, &reply)) != CLI_OK)
		goto out;
	if (cli->json)
		cli_print_json(reply);
	else if (target)
		print_mounts(reply, target);
out:
	free(o.fetched);
	return st;
}

static int prepare_run(struct cli *cli, int argc, char **argv)
{
	return create(cli, argc, argv, "active");
}

static int view_run(struct cli *cli, int argc, char **argv)
{
	return create(cli, argc, argv, "view");
}

static int commit_run(struct cli *cli, int argc, char **argv)
{
	cleanup_json json_t *labels = json_object();
	cleanup_json json_t *reply = NULL;
	SETUP(labels, NULL, NULL)
	if (argc - optind < 2) {
		st = cli_usage_error(cli, "want NAME and KEY");
		goto out;
	}
	if (argc - optind > 2) {
		st = cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 2]);
		goto out;
	}
	body = json_pack("{s:s,s:O}", "name", argv[optind], "labels", labels);
	path = snap_path(cli, &o, argv[optind + 1], "/commit");
	if ((st = cli_call(cli, "POST", path, body, &reply)) != CLI_OK)
		goto out;
	if (cli->json)
		cli_print_json(reply);
out:
	free(o.fetched);
	return st;
}

static int rm_one(struct cli *cli, const char *key, void *arg)
{
	cleanup_free char *path = snap_path(cli, arg, key, NULL);
	return cli_call(cli, "DELETE", path, NULL, NULL);
}

static int rm_run(struct cli *cli, int argc, char **argv)
{
	SETUP(NULL, NULL, NULL)
	if (optind >= argc) {
		st = cli_usage_error(cli, "missing the snapshot KEY");
		goto out;
	}
	st = cli_for_each(cli, argc - optind, argv + optind, rm_one, &o);
out:
	free(o.fetched);
	return st;
}

static int label_run(struct cli *cli, int argc, char **argv)
{
	cleanup_json json_t *reply = NULL;
	cleanup_json json_t *patch = NULL;
	SETUP(NULL, NULL, NULL)
	if (optind >= argc) {
		st = cli_usage_error(cli, "missing the snapshot KEY");
		goto out;
	}
	if ((st = cli_parse_labels(cli, argc - optind - 1, argv + optind + 1, true, &patch)) !=
	    CLI_OK)
		goto out;
	body = json_pack("{s:O}", "labels", patch);
	path = snap_path(cli, &o, argv[optind], NULL);
	if ((st = cli_call(cli, "PATCH", path, body, &reply)) != CLI_OK)
		goto out;
	if (cli->json) {
		cli_print_json(reply);
	} else {
		cleanup_free char *l = cli_format_labels(json_object_get(reply, "labels"));
		printf("%s\n", l);
	}
out:
	free(o.fetched);
	return st;
}

#define SN_OPT "      --snapshotter NAME  the snapshotter (default: the daemon's default)\n"

static const struct cli_command snapshots_ls = {
    .name = "ls",
    .aliases = CLI_ALIASES("list"),
    .summary = "list snapshots",
    .synopsis = "[-q] [--filter EXPR]...",
    .help = "List the snapshots of a snapshotter as a table of KEY, PARENT and KIND\n"
	    "(active, view or committed), as `ctr snapshots ls`.\n"
	    "\n"
	    "Options:\n" SN_OPT "  -q, --quiet              print only the keys\n"
	    "      --filter EXPR        containerd filter syntax: kind==committed,\n"
	    "                           parent==x, labels.\"k\"==v; repeat for OR\n"
	    "  -h, --help               show this help\n",
    .run = ls_run,
};

static const struct cli_command snapshots_tree = {
    .name = "tree",
    .summary = "show snapshots as a tree of parents and children",
    .help = "Print each snapshot under its parent, indented, as `ctr snapshots tree`.\n"
	    "\n"
	    "Options:\n" SN_OPT "  -h, --help               show this help\n",
    .run = tree_run,
};

static const struct cli_command snapshots_info = {
    .name = "info",
    .summary = "show a snapshot as JSON",
    .synopsis = "KEY",
    .help = "Print the snapshot KEY (name, parent, kind, times, labels) as JSON.\n"
	    "\n"
	    "Options:\n" SN_OPT "  -h, --help               show this help\n",
    .run = info_run,
};

static const struct cli_command snapshots_mounts = {
    .name = "mounts",
    .aliases = CLI_ALIASES("m", "mount"),
    .summary = "print the mount command of a snapshot",
    .synopsis = "KEY TARGET",
    .help = "Print a mount(8) command that mounts the active snapshot or view KEY on\n"
	    "TARGET, as `ctr snapshots mounts`; paste it into a root shell. Overlay\n"
	    "options longer than a page are made relative to the snapshotter's\n"
	    "directory and mounted from there, as containerd does.\n"
	    "\n"
	    "Options:\n" SN_OPT "  -h, --help               show this help\n",
    .run = mounts_run,
};

static const struct cli_command snapshots_usage = {
    .name = "usage",
    .summary = "show the disk usage of snapshots",
    .synopsis = "KEY...",
    .help = "Print the SIZE (allocated bytes) and INODES of each snapshot's own layer.\n"
	    "\n"
	    "Options:\n" SN_OPT "  -h, --help               show this help\n",
    .run = usage_run,
};

static const struct cli_command snapshots_prepare = {
    .name = "prepare",
    .summary = "create an active snapshot",
    .synopsis = "[--target DIR] [--label K=V]... KEY [PARENT]",
    .help = "Create the active (writable) snapshot KEY over the committed PARENT.\n"
	    "\n"
	    "Options:\n" SN_OPT "      --target DIR         print the mount command for DIR\n"
	    "      --label K=V          a label (repeatable)\n"
	    "  -h, --help               show this help\n",
    .run = prepare_run,
};

static const struct cli_command snapshots_view = {
    .name = "view",
    .summary = "create a read-only view of a snapshot",
    .synopsis = "[--target DIR] [--label K=V]... KEY [PARENT]",
    .help = "Create the read-only view KEY of the committed PARENT.\n"
	    "\n"
	    "Options:\n" SN_OPT "      --target DIR         print the mount command for DIR\n"
	    "      --label K=V          a label (repeatable)\n"
	    "  -h, --help               show this help\n",
    .run = view_run,
};

static const struct cli_command snapshots_commit = {
    .name = "commit",
    .summary = "commit an active snapshot",
    .synopsis = "[--label K=V]... NAME KEY",
    .help = "Commit the active snapshot KEY as the committed snapshot NAME.\n"
	    "\n"
	    "Options:\n" SN_OPT "      --label K=V          a label (repeatable)\n"
	    "  -h, --help               show this help\n",
    .run = commit_run,
};

static const struct cli_command snapshots_rm = {
    .name = "rm",
    .aliases = CLI_ALIASES("remove", "delete", "del"),
    .summary = "remove snapshots",
    .synopsis = "KEY...",
    .help = "Remove each snapshot KEY, printing each one removed and one error line for\n"
	    "each that could not be (a snapshot with children cannot); exits 1 if any\n"
	    "failed.\n"
	    "\n"
	    "Options:\n" SN_OPT "  -h, --help               show this help\n",
    .run = rm_run,
};

static const struct cli_command snapshots_label = {
    .name = "label",
    .summary = "set or remove the labels of a snapshot",
    .synopsis = "KEY [LABEL=VALUE]...",
    .help = "Set each LABEL to VALUE (an empty VALUE removes the label), then print\n"
	    "the snapshot's labels.\n"
	    "\n"
	    "Options:\n" SN_OPT "  -h, --help               show this help\n",
    .run = label_run,
};

const struct cli_command cmd_snapshots = {
    .name = "snapshots",
    .aliases = CLI_ALIASES("snapshot"),
    .summary = "manage snapshots",
    .help = "Manage the snapshots of a snapshotter (overlayfs, native): the layers of\n"
	    "unpacked images and the writable root filesystems made over them.",
    .subcommands = CLI_COMMANDS(&snapshots_ls, &snapshots_tree, &snapshots_info, &snapshots_mounts,
				&snapshots_usage, &snapshots_prepare, &snapshots_view,
				&snapshots_commit, &snapshots_rm, &snapshots_label),
    .fallback = &snapshots_ls,
};
