/*
 * spec_generate(): containerd's default spec, the image config, then the
 * request's overrides, as `ctr run [flags] IMAGE ID [ARGS...]` builds it
 * (oci.WithImageConfig, WithProcessArgs, WithEnv, WithUser, ...).
 *
 * Choices where containerd and Docker differ, or say nothing:
 * - args replace Entrypoint and Cmd both (containerd's WithProcessArgs; Docker's
 *   `docker run IMAGE CMD` would keep the Entrypoint). An absent or empty
 *   args keeps the image's Entrypoint + Cmd; when that is empty too the
 *   spec cannot be made (containerd: "no arguments specified").
 * - env: the image's Env, PATH's default when it has none, then the
 *   request's "K=V" entries replacing the same K; TERM=xterm with a
 *   terminal; HOME from the user's passwd entry (else "/") when unset, as
 *   runc would.
 * - An empty string in cwd, user or hostname is the same as NULL: not given.
 * - user: the image's User unless overridden; additionalGids hold the
 *   primary gid first, then the groups listing the user (containerd 1.6.18+).
 * - hostname: the request's, else the container id; with net_host the
 *   host's name (Docker's --network host).
 * - memory: linux.resources.memory.limit and swap both set to it, so the
 *   limit covers memory + swap and a container does not spill into swap
 *   (ctr sets only the limit, Docker allows as much swap again). At least
 *   6 MiB, as Docker requires.
 * - cpus: quota = cpus * 100000 over period 100000, from 0.01 to the host's
 *   online CPUs (Docker's range); cpu_shares from 2 to 262144 (the kernel's);
 *   pids up to 4194304 (PID_MAX_LIMIT).
 * - cgroupsPath "/berth/<ns>/<id>"; no annotations.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/internal.h"

#define MEMORY_MIN (6LL << 20)
#define CPU_PERIOD 100000
#define SHARES_MIN 2
#define SHARES_MAX 262144
#define PIDS_MAX 4194304

static int check_strings(const json_t *a, const char *what, err_t *err)
{
	size_t i;
	json_t *v;
	if (!json_is_array(a))
		return make_error(err, E_INVALID_ARGUMENT, 0, "%s must be an array of strings",
				  what);
	json_array_foreach (a, i, v)
		if (!json_is_string(v))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "%s must be an array of strings (item %zu is not)", what,
					  i);
	return 0;
}

/* The image config's member key when it has the right type (NULL when absent
 * or null). */
static int image_field(const json_t *config, const char *key, json_type type,
		       const json_t **out, err_t *err)
{
	*out = NULL;
	json_t *v = config ? json_object_get(config, key) : NULL;
	if (!v || json_is_null(v))
		return 0;
	if (json_typeof(v) != type)
		return make_error(err, E_INVALID_ARGUMENT, 0, "image config: `%s` must be %s",
				  key, type == JSON_ARRAY ? "an array" : "a string");
	if (type == JSON_ARRAY) {
		cleanup_free char *what = xasprintf("image config: `%s`", key);
		if (check_strings(v, what, err) < 0)
			return -1;
	}
	*out = v;
	return 0;
}

static size_t env_key_len(const char *kv)
{
	const char *eq = strchr(kv, '=');
	return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* Index of the entry of env setting the key of kv, or -1. */
static ssize_t env_find(const json_t *env, const char *kv)
{
	size_t klen = env_key_len(kv), i;
	json_t *v;
	json_array_foreach (env, i, v) {
		const char *s = json_string_value(v);
		if (env_key_len(s) == klen && strncmp(s, kv, klen) == 0)
			return (ssize_t)i;
	}
	return -1;
}

static void env_set(json_t *env, const char *kv, bool replace)
{
	ssize_t i = env_find(env, kv);
	if (i < 0)
		json_array_append_new(env, json_string(kv));
	else if (replace)
		json_array_set_new(env, (size_t)i, json_string(kv));
}

static int build_args(const struct spec_opts *o, const json_t *config, json_t *process,
		      err_t *err)
{
	json_t *args = json_array();
	json_object_set_new(process, "args", args);
	if (o->args && !json_is_null(o->args)) {
		if (check_strings(o->args, "`args`", err) < 0)
			return -1;
		json_array_extend(args, (json_t *)o->args);
	}
	if (json_array_size(args) == 0) {
		const json_t *ep, *cmd;
		if (image_field(config, "Entrypoint", JSON_ARRAY, &ep, err) < 0 ||
		    image_field(config, "Cmd", JSON_ARRAY, &cmd, err) < 0)
			return -1;
		if (ep)
			json_array_extend(args, (json_t *)ep);
		if (cmd)
			json_array_extend(args, (json_t *)cmd);
	}
	if (json_array_size(args) == 0)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "no command: the image has no Entrypoint or Cmd and no `args` "
				  "were given");
	/* runc cannot run "": say so at create (found by t/fuzz) */
	if (!*json_string_value(json_array_get(args, 0)))
		return make_error(err, E_INVALID_ARGUMENT, 0, "%s",
				  o->args && json_array_size(o->args)
					  ? "`args[0]` is empty"
					  : "image config: the command (Entrypoint, then Cmd) is empty");
	return 0;
}

static int build_env(const struct spec_opts *o, const json_t *config, json_t *process,
		     err_t *err)
{
	const json_t *image_env;
	if (image_field(config, "Env", JSON_ARRAY, &image_env, err) < 0)
		return -1;
	json_t *env = json_array();
	json_object_set_new(process, "env", env);
	size_t i;
	json_t *v;
	/* runc refuses an entry without a key at start: say so at create, naming
	 * the image's entry (found by t/fuzz) */
	if (image_env)
		json_array_foreach (image_env, i, v) {
			const char *kv = json_string_value(v);
			if (!strchr(kv, '=') || kv[0] == '=')
				return make_error(err, E_INVALID_ARGUMENT, 0,
						  "image config: `Env` item `%s` must be KEY=VALUE",
						  kv);
			env_set(env, kv, true);
		}
	env_set(env, SPEC_DEFAULT_PATH, false);
	if (o->env && !json_is_null(o->env)) {
		if (check_strings(o->env, "`env`", err) < 0)
			return -1;
		json_array_foreach (o->env, i, v) {
			const char *kv = json_string_value(v);
			if (!strchr(kv, '=') || kv[0] == '=')
				return make_error(err, E_INVALID_ARGUMENT, 0,
						  "`env` item `%s` must be KEY=VALUE", kv);
			env_set(env, kv, true);
		}
	}
	if (o->terminal)
		env_set(env, "TERM=xterm", false);
	return 0;
}

static int build_user(const struct spec_opts *o, const json_t *config, json_t *process,
		      err_t *err)
{
	const json_t *image_user;
	if (image_field(config, "User", JSON_STRING, &image_user, err) < 0)
		return -1;
	const char *user = o->user && *o->user ? o->user
			   : image_user		? json_string_value(image_user)
						: "";
	struct spec_user u;
	if (spec_user_resolve(o->rootfs_layers, user, &u, err) < 0)
		return -1;
	json_t *gids = json_array();
	for (size_t i = 0; i < u.ngids; i++)
		json_array_append_new(gids, json_integer(u.gids[i]));
	json_object_set_new(process, "user",
			    json_pack("{s:I, s:I, s:o}", "uid", (json_int_t)u.uid, "gid",
				      (json_int_t)u.gid, "additionalGids", gids));
	json_t *env = json_object_get(process, "env");
	cleanup_free char *home = xasprintf("HOME=%s", u.home ? u.home : "/");
	env_set(env, home, false);
	spec_user_release(&u);
	return 0;
}

static int build_cwd(const struct spec_opts *o, const json_t *config, json_t *process,
		     err_t *err)
{
	const json_t *wd;
	if (image_field(config, "WorkingDir", JSON_STRING, &wd, err) < 0)
		return -1;
	if (o->cwd && *o->cwd) {
		if (o->cwd[0] != '/')
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`cwd` `%s` must be an absolute path", o->cwd);
		json_object_set_new(process, "cwd", json_string(o->cwd));
	} else if (wd && json_string_value(wd)[0]) {
		/* Docker takes a relative WorkingDir from / */
		const char *s = json_string_value(wd);
		cleanup_free char *abs = xasprintf("%s%s", s[0] == '/' ? "" : "/", s);
		json_object_set_new(process, "cwd", json_string(abs));
	}
	return 0;
}

static bool hostname_ok(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 64 || h[0] == '-' || h[0] == '.')
		return false;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		      (*h >= '0' && *h <= '9') || *h == '-' || *h == '.'))
			return false;
	return true;
}

static int build_hostname(const struct spec_opts *o, json_t *spec, err_t *err)
{
	char host[HOST_NAME_MAX + 1];
	const char *name = NULL;
	if (o->hostname && *o->hostname) {
		if (!hostname_ok(o->hostname))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`hostname` `%s` must be 1 to 64 letters, digits, `-` "
					  "and `.`",
					  o->hostname);
		name = o->hostname;
	} else if (o->net_host && gethostname(host, sizeof(host)) == 0) {
		host[HOST_NAME_MAX] = '\0';
		name = host;
	} else if (o->id && o->id[0]) {
		name = o->id;
	}
	if (name)
		json_object_set_new(spec, "hostname", json_string(name));
	return 0;
}

/* A path is a mount destination when it is absolute, not "/", and has no
 * ".." component. */
static const char *destination_problem(const char *d)
{
	if (d[0] != '/')
		return "must be an absolute path";
	if (d[1] == '\0')
		return "must not be `/`";
	for (const char *p = d; (p = strstr(p, "..")); p += 2)
		if (p[-1] == '/' && (p[2] == '/' || p[2] == '\0'))
			return "must not contain `..`";
	return NULL;
}

/* The index of the mount at dst in mounts, -1 if none. */
static ssize_t mount_at(const json_t *mounts, const char *dst)
{
	size_t i;
	json_t *m;
	json_array_foreach (mounts, i, m)
		if (strcmp(json_string_value(json_object_get(m, "destination")), dst) == 0)
			return (ssize_t)i;
	return -1;
}

static void remove_mount(json_t *mounts, const char *dst)
{
	ssize_t i = mount_at(mounts, dst);
	if (i >= 0)
		json_array_remove(mounts, (size_t)i);
}

/* Add a mount of the request (the idx-th; the earlier ones are in mine),
 * replacing a default one at the same destination. */
static int add_mount(json_t *mounts, json_t *mine, size_t idx, const char *src, const char *dst,
		     const char *type, bool ro, const json_t *extra, err_t *err)
{
	const char *why = destination_problem(dst);
	if (why)
		return make_error(err, E_INVALID_ARGUMENT, 0, "mount %zu: destination `%s` %s",
				  idx, dst, why);
	ssize_t dup = mount_at(mine, dst);
	if (dup >= 0)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "mount %zu: destination `%s` is already mount %zd's", idx, dst,
				  dup);
	json_array_append_new(mine, json_pack("{s:s}", "destination", dst));
	bool bind = !type || !*type || strcmp(type, "bind") == 0;
	json_t *opts = json_array();
	if (bind) {
		struct stat st;
		if (!src || src[0] != '/') {
			json_decref(opts);
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "mount %zu: source `%s` must be an absolute path", idx,
					  src ? src : "");
		}
		if (stat(src, &st) < 0) {
			json_decref(opts);
			return make_error(err, E_INVALID_ARGUMENT, errno,
					  "mount %zu: source `%s`", idx, src);
		}
		json_array_append_new(opts, json_string("rbind"));
		json_array_append_new(opts, json_string("rprivate"));
	}
	if (extra)
		json_array_extend(opts, (json_t *)extra);
	if (ro)
		json_array_append_new(opts, json_string("ro"));
	remove_mount(mounts, dst);
	json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:o}", "destination", dst,
						"type", bind ? "bind" : type, "source",
						src ? src : type, "options", opts));
	return 0;
}

static int parse_mount_string(json_t *mounts, json_t *mine, size_t idx, const char *s,
			      err_t *err)
{
	cleanup_free char *copy = xstrdup(s);
	char *f[4];
	size_t n = 0;
	f[n++] = copy;
	for (char *p = copy; *p; p++)
		if (*p == ':') {
			if (n == 3)
				return make_error(err, E_INVALID_ARGUMENT, 0,
						  "mount %zu: `%s` must be src:dst[:ro|rw]", idx, s);
			*p = '\0';
			f[n++] = p + 1;
		}
	if (n < 2 || (n == 3 && strcmp(f[2], "ro") != 0 && strcmp(f[2], "rw") != 0))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "mount %zu: `%s` must be src:dst[:ro|rw]", idx, s);
	return add_mount(mounts, mine, idx, f[0], f[1], NULL,
			 n == 3 && strcmp(f[2], "ro") == 0, NULL, err);
}

static int build_mounts(const struct spec_opts *o, json_t *spec, err_t *err)
{
	json_t *mounts = json_object_get(spec, "mounts");
	if (o->net_host) {
		static const char *const files[] = { "/etc/hosts", "/etc/resolv.conf" };
		for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
			if (access(files[i], F_OK) < 0)
				continue;
			json_array_append_new(mounts,
					      json_pack("{s:s, s:s, s:s, s:[s, s]}", "destination",
							files[i], "type", "bind", "source",
							files[i], "options", "rbind", "ro"));
		}
	}
	if (!o->mounts || json_is_null(o->mounts))
		return 0;
	if (!json_is_array(o->mounts))
		return make_error(err, E_INVALID_ARGUMENT, 0, "`mounts` must be an array");
	static const struct json_field fields[] = {
		{ "source", JF_STRING, false },	 { "destination", JF_STRING, true },
		{ "readonly", JF_BOOL, false },	 { "type", JF_STRING, false },
		{ "options", JF_ARRAY, false },	 { NULL },
	};
	size_t i;
	json_t *m;
	cleanup_json json_t *mine = json_array();
	json_array_foreach (o->mounts, i, m) {
		if (json_is_string(m)) {
			if (parse_mount_string(mounts, mine, i, json_string_value(m), err) < 0)
				return -1;
			continue;
		}
		cleanup_free char *what = xasprintf("mount %zu", i);
		if (json_check_object(m, what, fields, err) < 0)
			return -1;
		const json_t *opts = json_object_get(m, "options");
		if (opts && !json_is_null(opts) && check_strings(opts, what, err) < 0)
			return -1;
		if (opts && json_is_null(opts))
			opts = NULL;
		if (add_mount(mounts, mine, i, json_get_string(m, "source"),
			      json_get_string(m, "destination"), json_get_string(m, "type"),
			      json_is_true(json_object_get(m, "readonly")), opts, err) < 0)
			return -1;
	}
	return 0;
}

static int build_resources(const struct spec_opts *o, json_t *linux_, err_t *err)
{
	json_t *res = json_object_get(linux_, "resources");
	if (o->memory < 0 || (o->memory > 0 && o->memory < MEMORY_MIN))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`memory` %lld must be 0 (unlimited) or at least %lld bytes",
				  (long long)o->memory, MEMORY_MIN);
	if (o->memory > 0)
		json_object_set_new(res, "memory",
				    json_pack("{s:I, s:I}", "limit", (json_int_t)o->memory, "swap",
					      (json_int_t)o->memory));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if (!isfinite(o->cpus) || o->cpus < 0 ||
	    (o->cpus > 0 && (o->cpus < 0.01 || o->cpus > (double)ncpu)))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`cpus` %g must be 0 (unlimited) or from 0.01 to %ld, the CPUs "
				  "of this host",
				  o->cpus, ncpu);
	if (o->cpu_shares < 0 ||
	    (o->cpu_shares > 0 && (o->cpu_shares < SHARES_MIN || o->cpu_shares > SHARES_MAX)))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`cpu_shares` %lld must be 0 (default) or from %d to %d",
				  (long long)o->cpu_shares, SHARES_MIN, SHARES_MAX);
	if (o->cpus > 0 || o->cpu_shares > 0) {
		json_t *cpu = json_object();
		if (o->cpu_shares > 0)
			json_object_set_new(cpu, "shares", json_integer(o->cpu_shares));
		if (o->cpus > 0) {
			json_object_set_new(cpu, "quota",
					    json_integer((json_int_t)(o->cpus * CPU_PERIOD + 0.5)));
			json_object_set_new(cpu, "period", json_integer(CPU_PERIOD));
		}
		json_object_set_new(res, "cpu", cpu);
	}
	if (o->pids < 0 || o->pids > PIDS_MAX)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`pids` %lld must be 0 (unlimited) or up to %d",
				  (long long)o->pids, PIDS_MAX);
	if (o->pids > 0)
		json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)o->pids));
	return 0;
}

static void drop_namespace(json_t *linux_, const char *type)
{
	json_t *nss = json_object_get(linux_, "namespaces");
	size_t i;
	json_t *n;
	json_array_foreach (nss, i, n)
		if (strcmp(json_string_value(json_object_get(n, "type")), type) == 0) {
			json_array_remove(nss, i);
			return;
		}
}

int spec_generate(const struct spec_opts *o, json_t **out, err_t *err)
{
	*out = NULL;
	if (!o->id || !o->id[0])
		return make_error(err, E_INVALID_ARGUMENT, 0, "a container id is required");
	const char *ns = o->ns && o->ns[0] ? o->ns : "default", *id = o->id;
	json_t *config = NULL;
	if (o->image_config && !json_is_null(o->image_config)) {
		if (!json_is_object(o->image_config))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "image config must be a JSON object");
		config = json_object_get(o->image_config, "config");
		if (config && json_is_null(config))
			config = NULL;
		if (config && !json_is_object(config))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "image config: `config` must be an object");
	}

	cleanup_json json_t *spec = spec_default_new(ns, id);
	json_t *process = json_object_get(spec, "process");
	json_t *linux_ = json_object_get(spec, "linux");
	cleanup_free char *cg = xasprintf("/berth/%s/%s", ns, id);
	json_object_set_new(linux_, "cgroupsPath", json_string(cg));

	if (build_args(o, config, process, err) < 0 || build_env(o, config, process, err) < 0 ||
	    build_cwd(o, config, process, err) < 0 || build_user(o, config, process, err) < 0 ||
	    build_hostname(o, spec, err) < 0 || build_mounts(o, spec, err) < 0 ||
	    build_resources(o, linux_, err) < 0)
		return -1;
	if (o->terminal)
		json_object_set_new(process, "terminal", json_true());
	if (o->net_host)
		drop_namespace(linux_, "network");
	if (o->readonly_rootfs)
		json_object_set_new(json_object_get(spec, "root"), "readonly", json_true());
	json_t *caps = json_object_get(json_object_get(process, "capabilities"), "bounding");
	json_object_set_new(linux_, "seccomp", spec_seccomp_default(caps));
	*out = steal_ptr(&spec);
	return 0;
}

int spec_exec_process(const json_t *base, const json_t *req, const char *rootfs, json_t **out,
		      err_t *err)
{
	static const struct json_field fields[] = {
		{ "args", JF_ARRAY, true },   { "env", JF_ARRAY, false },
		{ "cwd", JF_STRING, false },  { "user", JF_STRING, false },
		{ "terminal", JF_BOOL, false }, { NULL },
	};
	*out = NULL;
	if (!json_is_object(req))
		return make_error(err, E_INVALID_ARGUMENT, 0, "`process` must be an object");
	if (json_check_object((json_t *)req, "`process`", fields, err) < 0)
		return -1;
	json_t *args = json_object_get(req, "args");
	if (check_strings(args, "`process.args`", err) < 0)
		return -1;
	if (json_array_size(args) == 0 || !*json_string_value(json_array_get(args, 0)))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`process.args` must name a command");
	cleanup_json json_t *p =
		json_is_object(base) ? json_deep_copy(base) : json_pack("{s:s}", "cwd", "/");
	json_object_set(p, "args", args);
	json_t *env = json_object_get(p, "env");
	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(p, "env", env);
	}
	json_t *add = json_object_get(req, "env");
	if (add) {
		if (check_strings(add, "`process.env`", err) < 0)
			return -1;
		size_t i;
		json_t *v;
		json_array_foreach (add, i, v) {
			const char *kv = json_string_value(v);
			if (!*kv || *kv == '=')
				return make_error(err, E_INVALID_ARGUMENT, 0,
						  "`process.env[%zu]` must be KEY=VALUE", i);
			env_set(env, kv, true);
		}
	}
	const char *cwd = json_get_string(req, "cwd");
	if (cwd && *cwd) {
		if (cwd[0] != '/')
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`process.cwd` must be an absolute path, not `%s`", cwd);
		json_object_set_new(p, "cwd", json_string(cwd));
	}
	const char *user = json_get_string(req, "user");
	if (user && *user) {
		const char *layers[] = { rootfs, NULL };
		struct spec_user u;
		if (spec_user_resolve(rootfs ? layers : NULL, user, &u, err) < 0)
			return error_wrap(err, "`process.user`");
		json_t *gids = json_array();
		for (size_t i = 0; i < u.ngids; i++)
			json_array_append_new(gids, json_integer(u.gids[i]));
		json_object_set_new(p, "user",
				    json_pack("{s:I, s:I, s:o}", "uid", (json_int_t)u.uid, "gid",
					      (json_int_t)u.gid, "additionalGids", gids));
		cleanup_free char *home = xasprintf("HOME=%s", u.home ? u.home : "/");
		env_set(env, home, true);
		spec_user_release(&u);
	}
	json_t *term = json_object_get(req, "terminal");
	if (term) {
		json_object_set(p, "terminal", term);
		if (json_is_true(term))
			env_set(env, "TERM=xterm", false);
	}
	json_object_del(p, "consoleSize");
	*out = steal_ptr(&p);
	return 0;
}
