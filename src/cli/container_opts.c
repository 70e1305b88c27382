/* The flags describing a new container, shared by `berth containers create`
 * and `berth run` (see container_opts.h). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/container_opts.h"
#include "core/json.h"
#include "core/names.h"

const struct option container_opts_longopts[] = {
    {"env", required_argument, NULL, CONTAINER_OPT_ENV},
    {"user", required_argument, NULL, CONTAINER_OPT_USER},
    {"cwd", required_argument, NULL, CONTAINER_OPT_CWD},
    {"mount", required_argument, NULL, CONTAINER_OPT_MOUNT},
    {"net-host", no_argument, NULL, CONTAINER_OPT_NET_HOST},
    {"readonly", no_argument, NULL, CONTAINER_OPT_READONLY},
    {"memory", required_argument, NULL, CONTAINER_OPT_MEMORY},
    {"cpus", required_argument, NULL, CONTAINER_OPT_CPUS},
    {"pids", required_argument, NULL, CONTAINER_OPT_PIDS},
    {"hostname", required_argument, NULL, CONTAINER_OPT_HOSTNAME},
    {"runtime", required_argument, NULL, CONTAINER_OPT_RUNTIME},
    {"snapshotter", required_argument, NULL, CONTAINER_OPT_SNAPSHOTTER},
    {"label", required_argument, NULL, CONTAINER_OPT_LABEL},
    {NULL, 0, NULL, 0},
};

void container_opts_release(struct container_opts *o)
{
	json_decref(o->process);
	json_decref(o->options);
	json_decref(o->labels);
	*o = (struct container_opts)CONTAINER_OPTS_INIT;
}

struct option *container_opts_merge(const struct option *own)
{
	size_t n = 0, m = ARRAY_SIZE(container_opts_longopts);
	while (own && own[n].name)
		n++;
	struct option *all = xcalloc(n + m, sizeof(*all));
	if (n)
		memcpy(all, own, n * sizeof(*all));
	memcpy(all + n, container_opts_longopts, m * sizeof(*all));
	return all;
}

bool container_opts_parse_size(const char *s, int64_t *out)
{
	size_t len = strlen(s);
	uint64_t mul = 1;
	if (len && strchr("kKmMgG", s[len - 1])) {
		switch (s[len - 1]) {
		case 'k':
		case 'K':
			mul = 1024;
			break;
		case 'm':
		case 'M':
			mul = 1024 * 1024;
			break;
		default:
			mul = 1024 * 1024 * 1024;
		}
		len--;
	}
	cleanup_free char *num = xstrndup(s, len);
	uint64_t v;
	if (!parse_u64(num, &v) || v == 0 || v > (uint64_t)INT64_MAX / mul)
		return false;
	*out = (int64_t)(v * mul);
	return true;
}

static json_t *section(json_t **j)
{
	if (!*j)
		*j = json_object();
	return *j;
}

static void append(json_t *obj, const char *key, json_t *v)
{
	json_t *a = json_object_get(obj, key);
	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(obj, key, a);
	}
	json_array_append_new(a, v);
}

int container_opts_handle(struct cli *cli, struct container_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case CONTAINER_OPT_ENV:
		if (!strchr(arg, '=') || arg[0] == '=') {
			cli_usage_error(cli, "bad --env `%s`: want KEY=VALUE", arg);
			return -1;
		}
		append(section(&o->process), "env", json_string(arg));
		return 1;
	case CONTAINER_OPT_USER:
		if (!*arg) {
			cli_usage_error(cli, "empty --user");
			return -1;
		}
		json_object_set_new(section(&o->process), "user", json_string(arg));
		return 1;
	case CONTAINER_OPT_CWD:
		if (arg[0] != '/') {
			cli_usage_error(cli, "bad --cwd `%s`: want an absolute path", arg);
			return -1;
		}
		json_object_set_new(section(&o->process), "cwd", json_string(arg));
		return 1;
	case CONTAINER_OPT_MOUNT: {
		/* SRC:DST[:ro|rw]; berthd checks the paths */
		const char *c1 = strchr(arg, ':');
		const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c1 || c1 == arg || c1[1] == '\0' || c2 == c1 + 1 ||
		    (c2 && strcmp(c2 + 1, "ro") != 0 && strcmp(c2 + 1, "rw") != 0)) {
			cli_usage_error(cli, "bad --mount `%s`: want SRC:DST[:ro]", arg);
			return -1;
		}
		append(section(&o->options), "mounts", json_string(arg));
		return 1;
	}
	case CONTAINER_OPT_NET_HOST:
		json_object_set_new(section(&o->options), "net_host", json_true());
		return 1;
	case CONTAINER_OPT_READONLY:
		json_object_set_new(section(&o->options), "readonly_rootfs", json_true());
		return 1;
	case CONTAINER_OPT_MEMORY: {
		int64_t v;
		if (!container_opts_parse_size(arg, &v)) {
			cli_usage_error(cli, "bad --memory `%s`: want bytes, with k, m or g", arg);
			return -1;
		}
		json_object_set_new(section(&o->options), "memory", json_integer(v));
		return 1;
	}
	case CONTAINER_OPT_CPUS: {
		char *end;
		errno = 0;
		double v = strtod(arg, &end);
		if (!*arg || *end || errno || !isfinite(v) || v <= 0 || v > 1e6) {
			cli_usage_error(cli, "bad --cpus `%s`: want a positive number", arg);
			return -1;
		}
		json_object_set_new(section(&o->options), "cpus", json_real(v));
		return 1;
	}
	case CONTAINER_OPT_PIDS: {
		uint64_t v;
		if (!parse_u64(arg, &v) || v == 0 || v > INT64_MAX) {
			cli_usage_error(cli, "bad --pids `%s`: want a positive whole number", arg);
			return -1;
		}
		json_object_set_new(section(&o->options), "pids", json_integer((json_int_t)v));
		return 1;
	}
	case CONTAINER_OPT_HOSTNAME:
		json_object_set_new(section(&o->options), "hostname", json_string(arg));
		return 1;
	case CONTAINER_OPT_RUNTIME:
		o->runtime = arg;
		return 1;
	case CONTAINER_OPT_SNAPSHOTTER:
		o->snapshotter = arg;
		return 1;
	case CONTAINER_OPT_LABEL: {
		cleanup_free char *key = NULL;
		const char *value;
		if (cli_parse_label(cli, arg, &key, &value) != CLI_OK)
			return -1;
		err_t err = NULL;
		if (name_validate_label(key, value, &err) < 0) {
			cli_usage_error(cli, "%s", err->msg);
			err_free(&err);
			return -1;
		}
		json_object_set_new(section(&o->labels), key, json_string(value));
		return 1;
	}
	default:
		return 0;
	}
}

void container_opts_body(const struct container_opts *o, const char *image, const char *id,
			 int argc, char *const *argv, json_t **body)
{
	json_t *b = json_pack("{s:s}", "id", id);
	if (image)
		json_object_set_new(b, "image", json_string(image));
	json_t *process = o->process ? json_deep_copy(o->process) : NULL;
	if (argc > 0) {
		json_t *args = json_array();
		for (int i = 0; i < argc; i++)
			json_array_append_new(args, json_string(argv[i]));
		if (!process)
			process = json_object();
		json_object_set_new(process, "args", args);
	}
	if (process)
		json_object_set_new(b, "process", process);
	if (o->options)
		json_object_set_new(b, "options", json_deep_copy(o->options));
	if (o->labels)
		json_object_set_new(b, "labels", json_deep_copy(o->labels));
	if (o->runtime)
		json_object_set_new(b, "runtime", json_pack("{s:s}", "name", o->runtime));
	if (o->snapshotter)
		json_object_set_new(b, "snapshotter", json_string(o->snapshotter));
	*body = b;
}

int container_opts_parse(struct cli *cli, int argc, char **argv, int *optind_out, json_t **body)
{
	static const struct option own[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	cleanup_free struct option *longopts = container_opts_merge(own);
	struct container_opts o = CONTAINER_OPTS_INIT;
	*body = NULL;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "+h", longopts)) != -1) {
		int r = container_opts_handle(cli, &o, c, optarg);
		if (r == 1)
			continue;
		container_opts_release(&o);
		return r < 0 ? CLI_USAGE : cli_getopt_other(cli, c);
	}
	if (argc - optind < 2) {
		container_opts_release(&o);
		return cli_usage_error(cli, optind < argc
						? "missing the container ID"
						: "missing the IMAGE and the container ID");
	}
	*optind_out = optind;
	container_opts_body(&o, argv[optind], argv[optind + 1], argc - optind - 2,
			    argv + optind + 2, body);
	container_opts_release(&o);
	return CLI_OK;
}
