/*
 * spec_validate(): the checks a spec a client sent whole must pass before
 * it is stored, so that a runtime never meets a malformed one. Only the
 * fields berth and the runtimes read are checked, and only for type and
 * sense (runtime-spec's schema, reduced); unknown fields are left alone as
 * the runtime-spec allows extensions.
 */
#include "config.h"

#include <string.h>

#include "spec/internal.h"

#define ID_MAX ((json_int_t)UINT32_MAX - 1)
#define JSON_INTEGER_MAX ((json_int_t)INT64_MAX)

static int bad(err_t *err, const char *field, const char *what)
{
	return make_error(err, E_INVALID_ARGUMENT, 0, "spec: `%s` %s", field, what);
}

/* v (may be NULL when !required) must have type t: "a string" etc. */
static int want(const json_t *parent, const char *key, const char *field, json_type t,
		bool required, const json_t **out, err_t *err)
{
	static const char *const names[] = {
		[JSON_OBJECT] = "must be an object", [JSON_ARRAY] = "must be an array",
		[JSON_STRING] = "must be a string",  [JSON_INTEGER] = "must be an integer",
		[JSON_REAL] = "must be a number",    [JSON_TRUE] = "must be a boolean",
	};
	const json_t *v = json_object_get(parent, key);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return bad(err, field, "is required");
		return 0;
	}
	bool ok = t == JSON_TRUE    ? json_is_boolean(v)
		  : t == JSON_REAL  ? json_is_number(v)
				    : json_typeof(v) == t;
	if (!ok)
		return bad(err, field, names[t]);
	*out = v;
	return 0;
}

static int uint_field(const json_t *parent, const char *key, const char *field, bool required,
		      json_int_t max, err_t *err)
{
	const json_t *v;
	if (want(parent, key, field, JSON_INTEGER, required, &v, err) < 0)
		return -1;
	if (v && json_integer_value(v) < 0)
		return bad(err, field, "must not be negative");
	if (v && json_integer_value(v) > max)
		return bad(err, field, "is too large");
	return 0;
}

static int strings(const json_t *parent, const char *key, const char *field, bool required,
		   bool absolute, err_t *err)
{
	const json_t *a, *v;
	size_t i;
	if (want(parent, key, field, JSON_ARRAY, required, &a, err) < 0)
		return -1;
	if (!a)
		return 0;
	json_array_foreach (a, i, v) {
		if (!json_is_string(v))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "spec: `%s[%zu]` must be a string", field, i);
		if (absolute && json_string_value(v)[0] != '/')
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "spec: `%s[%zu]` must be an absolute path", field, i);
	}
	return 0;
}

static int check_process(const json_t *spec, err_t *err)
{
	const json_t *p, *v, *user, *caps, *rl, *args, *gids;
	size_t i;
	if (want(spec, "process", "process", JSON_OBJECT, true, &p, err) < 0)
		return -1;
	if (strings(p, "args", "process.args", true, false, err) < 0)
		return -1;
	args = json_object_get(p, "args");
	if (json_array_size(args) == 0)
		return bad(err, "process.args", "must not be empty");
	if (json_string_value(json_array_get(args, 0))[0] == '\0')
		return bad(err, "process.args[0]", "must not be empty");
	if (want(p, "cwd", "process.cwd", JSON_STRING, true, &v, err) < 0)
		return -1;
	if (json_string_value(v)[0] != '/')
		return bad(err, "process.cwd", "must be an absolute path");
	if (strings(p, "env", "process.env", false, false, err) < 0)
		return -1;
	json_array_foreach (json_object_get(p, "env"), i, v) {
		const char *kv = json_string_value(v);
		if (!strchr(kv, '=') || kv[0] == '=')
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "spec: `process.env[%zu]` must be KEY=VALUE", i);
	}
	if (want(p, "terminal", "process.terminal", JSON_TRUE, false, &v, err) < 0 ||
	    want(p, "noNewPrivileges", "process.noNewPrivileges", JSON_TRUE, false, &v, err) < 0)
		return -1;
	if (want(p, "user", "process.user", JSON_OBJECT, true, &user, err) < 0 ||
	    uint_field(user, "uid", "process.user.uid", true, ID_MAX, err) < 0 ||
	    uint_field(user, "gid", "process.user.gid", true, ID_MAX, err) < 0 ||
	    want(user, "additionalGids", "process.user.additionalGids", JSON_ARRAY, false,
		 &gids, err) < 0)
		return -1;
	json_array_foreach (gids, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > ID_MAX)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "spec: `process.user.additionalGids[%zu]` must be a gid",
					  i);
	}
	if (want(p, "capabilities", "process.capabilities", JSON_OBJECT, false, &caps, err) < 0)
		return -1;
	static const char *const sets[] = { "bounding", "effective", "inheritable", "permitted",
					    "ambient" };
	for (size_t k = 0; caps && k < ARRAY_SIZE(sets); k++) {
		cleanup_free char *f = xasprintf("process.capabilities.%s", sets[k]);
		if (strings(caps, sets[k], f, false, false, err) < 0)
			return -1;
		json_array_foreach (json_object_get(caps, sets[k]), i, v)
			if (strncmp(json_string_value(v), "CAP_", 4) != 0)
				return make_error(err, E_INVALID_ARGUMENT, 0,
						  "spec: `%s[%zu]` `%s` is not a capability", f, i,
						  json_string_value(v));
	}
	if (want(p, "rlimits", "process.rlimits", JSON_ARRAY, false, &rl, err) < 0)
		return -1;
	json_array_foreach (rl, i, v) {
		cleanup_free char *f = xasprintf("process.rlimits[%zu]", i);
		const json_t *t;
		if (!json_is_object(v))
			return bad(err, f, "must be an object");
		if (want(v, "type", f, JSON_STRING, true, &t, err) < 0 ||
		    uint_field(v, "hard", f, true, JSON_INTEGER_MAX, err) < 0 ||
		    uint_field(v, "soft", f, true, JSON_INTEGER_MAX, err) < 0)
			return -1;
		if (strncmp(json_string_value(t), "RLIMIT_", 7) != 0)
			return bad(err, f, "type must be RLIMIT_...");
	}
	return 0;
}

static int check_mounts(const json_t *spec, err_t *err)
{
	const json_t *mounts, *m, *v;
	size_t i;
	if (want(spec, "mounts", "mounts", JSON_ARRAY, false, &mounts, err) < 0)
		return -1;
	json_array_foreach (mounts, i, m) {
		cleanup_free char *f = xasprintf("mounts[%zu]", i);
		cleanup_free char *fd = xasprintf("mounts[%zu].destination", i);
		cleanup_free char *fo = xasprintf("mounts[%zu].options", i);
		if (!json_is_object(m))
			return bad(err, f, "must be an object");
		if (want(m, "destination", fd, JSON_STRING, true, &v, err) < 0)
			return -1;
		if (json_string_value(v)[0] != '/')
			return bad(err, fd, "must be an absolute path");
		if (want(m, "type", f, JSON_STRING, false, &v, err) < 0 ||
		    want(m, "source", f, JSON_STRING, false, &v, err) < 0 ||
		    strings(m, "options", fo, false, false, err) < 0)
			return -1;
	}
	return 0;
}

static int check_linux(const json_t *spec, err_t *err)
{
	static const char *const ns_types[] = { "pid",  "network", "mount", "ipc",
						"uts",	"user",	   "cgroup", "time" };
	const json_t *l, *nss, *n, *v, *res, *r;
	size_t i;
	if (want(spec, "linux", "linux", JSON_OBJECT, false, &l, err) < 0)
		return -1;
	if (!l)
		return 0;
	if (want(l, "namespaces", "linux.namespaces", JSON_ARRAY, false, &nss, err) < 0)
		return -1;
	unsigned seen = 0;
	json_array_foreach (nss, i, n) {
		cleanup_free char *f = xasprintf("linux.namespaces[%zu]", i);
		cleanup_free char *ft = xasprintf("linux.namespaces[%zu].type", i);
		if (!json_is_object(n))
			return bad(err, f, "must be an object");
		if (want(n, "type", ft, JSON_STRING, true, &v, err) < 0)
			return -1;
		size_t k = 0;
		while (k < ARRAY_SIZE(ns_types) && strcmp(ns_types[k], json_string_value(v)) != 0)
			k++;
		if (k == ARRAY_SIZE(ns_types))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "spec: `%s` `%s` is not a namespace type", ft,
					  json_string_value(v));
		if (seen & (1u << k))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "spec: `%s` `%s` appears twice", ft,
					  json_string_value(v));
		seen |= 1u << k;
		cleanup_free char *fp = xasprintf("linux.namespaces[%zu].path", i);
		if (want(n, "path", fp, JSON_STRING, false, &v, err) < 0)
			return -1;
		if (v && json_string_value(v)[0] != '/')
			return bad(err, fp, "must be an absolute path");
	}
	if (want(l, "cgroupsPath", "linux.cgroupsPath", JSON_STRING, false, &v, err) < 0 ||
	    strings(l, "maskedPaths", "linux.maskedPaths", false, true, err) < 0 ||
	    strings(l, "readonlyPaths", "linux.readonlyPaths", false, true, err) < 0 ||
	    want(l, "seccomp", "linux.seccomp", JSON_OBJECT, false, &v, err) < 0)
		return -1;
	if (v && (want(v, "defaultAction", "linux.seccomp.defaultAction", JSON_STRING, true, &r,
		       err) < 0 ||
		  want(v, "syscalls", "linux.seccomp.syscalls", JSON_ARRAY, false, &r, err) < 0))
		return -1;
	if (want(l, "resources", "linux.resources", JSON_OBJECT, false, &res, err) < 0)
		return -1;
	if (!res)
		return 0;
	const json_t *mem, *cpu, *pids;
	if (want(res, "memory", "linux.resources.memory", JSON_OBJECT, false, &mem, err) < 0 ||
	    want(res, "cpu", "linux.resources.cpu", JSON_OBJECT, false, &cpu, err) < 0 ||
	    want(res, "pids", "linux.resources.pids", JSON_OBJECT, false, &pids, err) < 0 ||
	    want(res, "devices", "linux.resources.devices", JSON_ARRAY, false, &v, err) < 0)
		return -1;
	if (mem) {
		/* -1 is runtime-spec's "unlimited" */
		static const char *const keys[] = { "limit", "reservation", "swap" };
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			cleanup_free char *f = xasprintf("linux.resources.memory.%s", keys[k]);
			if (want(mem, keys[k], f, JSON_INTEGER, false, &r, err) < 0)
				return -1;
			if (r && json_integer_value(r) < -1)
				return bad(err, f, "must be -1 (unlimited) or a byte count");
		}
	}
	if (cpu && (uint_field(cpu, "shares", "linux.resources.cpu.shares", false, JSON_INTEGER_MAX, err) < 0 ||
		    want(cpu, "quota", "linux.resources.cpu.quota", JSON_INTEGER, false, &r,
			 err) < 0 ||
		    uint_field(cpu, "period", "linux.resources.cpu.period", false, JSON_INTEGER_MAX,
			       err) < 0 ||
		    want(cpu, "cpus", "linux.resources.cpu.cpus", JSON_STRING, false, &r, err) < 0))
		return -1;
	if (pids) {
		if (want(pids, "limit", "linux.resources.pids.limit", JSON_INTEGER, true, &r, err) <
		    0)
			return -1;
		if (json_integer_value(r) < -1)
			return bad(err, "linux.resources.pids.limit",
				   "must be -1 (unlimited) or a count");
	}
	return 0;
}

int spec_validate(const json_t *spec, err_t *err)
{
	const json_t *v, *root;
	if (!json_is_object(spec))
		return make_error(err, E_INVALID_ARGUMENT, 0, "spec must be a JSON object");
	if (want(spec, "ociVersion", "ociVersion", JSON_STRING, true, &v, err) < 0)
		return -1;
	if (strncmp(json_string_value(v), "1.", 2) != 0)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "spec: `ociVersion` `%s` is not a 1.x runtime-spec version",
				  json_string_value(v));
	if (check_process(spec, err) < 0)
		return -1;
	if (want(spec, "root", "root", JSON_OBJECT, true, &root, err) < 0 ||
	    want(root, "path", "root.path", JSON_STRING, true, &v, err) < 0 ||
	    want(root, "readonly", "root.readonly", JSON_TRUE, false, &v, err) < 0)
		return -1;
	if (json_string_value(json_object_get(root, "path"))[0] == '\0')
		return bad(err, "root.path", "must not be empty");
	if (want(spec, "hostname", "hostname", JSON_STRING, false, &v, err) < 0 ||
	    check_mounts(spec, err) < 0 || check_linux(spec, err) < 0)
		return -1;
	return 0;
}
