#include "config.h"

#include <signal.h>
#include <string.h>

#include "core/json.h"
#include "shim/proto.h"

static char **string_array(json_t *arr, const char *field, size_t *n, err_t *err)
{
	*n = 0;
	if (!arr)
		return NULL;
	char **v = xcalloc(json_array_size(arr) + 1, sizeof(*v));
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) {
		if (!json_is_string(e)) {
			for (size_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			make_error(err, E_INVALID_ARGUMENT, 0, "`%s[%zu]` must be a string", field, i);
			return NULL;
		}
		v[i] = xstrdup(json_string_value(e));
	}
	*n = json_array_size(arr);
	return v;
}

static char *opt_string(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? xstrdup(s) : NULL;
}

static int parse_mounts(json_t *arr, struct shim_opts *o, err_t *err)
{
	static const struct json_field fields[] = {
		{ "type", JF_STRING, true },
		{ "source", JF_STRING, true },
		{ "options", JF_ARRAY, false },
		{ "target", JF_STRING, false },
		{ NULL },
	};
	if (!arr)
		return 0;
	o->mounts = xcalloc(json_array_size(arr) + 1, sizeof(*o->mounts));
	size_t i;
	json_t *m;
	json_array_foreach(arr, i, m) {
		char what[32];
		snprintf(what, sizeof(what), "`mounts[%zu]`", i);
		if (!json_is_object(m))
			return make_error(err, E_INVALID_ARGUMENT, 0, "%s must be an object", what);
		if (json_check_object(m, what, fields, err) < 0)
			return -1;
		const char *target = json_string_value(json_object_get(m, "target"));
		if (target && *target)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "%s: `target` is not supported for rootfs mounts", what);
		struct shim_mount *sm = &o->mounts[o->n_mounts++];
		sm->type = opt_string(m, "type");
		sm->source = opt_string(m, "source");
		sm->options = string_array(json_object_get(m, "options"), "options",
					   &sm->n_options, err);
		if (!sm->options && *err)
			return -1;
	}
	return 0;
}

int proto_parse_opts(const char *text, size_t len, struct shim_opts *o, err_t *err)
{
	static const struct json_field fields[] = {
		{ "id", JF_STRING, true },
		{ "namespace", JF_STRING, true },
		{ "runtime", JF_STRING, true },
		{ "runtime_root", JF_STRING, true },
		{ "runtime_args", JF_ARRAY, false },
		{ "mounts", JF_ARRAY, false },
		{ "stdin", JF_STRING, false },
		{ "stdout", JF_STRING, false },
		{ "stderr", JF_STRING, false },
		{ "log", JF_BOOL, false },
		{ "terminal", JF_BOOL, false },
		{ "checkpoint", JF_STRING, false },
		{ "start", JF_BOOL, false },
		{ "cgroups_path", JF_STRING, false }, /* berthd's, for its live restore */
		{ NULL },
	};
	memset(o, 0, sizeof(*o));
	cleanup_json json_t *j = json_parse_body(text, len, err);
	if (!j || json_check_object(j, "shim.json", fields, err) < 0)
		return error_wrap(err, "shim.json");
	o->id = opt_string(j, "id");
	o->ns = opt_string(j, "namespace");
	o->runtime = opt_string(j, "runtime");
	o->runtime_root = opt_string(j, "runtime_root");
	o->stdin_path = opt_string(j, "stdin");
	o->stdout_path = opt_string(j, "stdout");
	o->stderr_path = opt_string(j, "stderr");
	o->log = json_is_true(json_object_get(j, "log"));
	o->terminal = json_is_true(json_object_get(j, "terminal"));
	o->checkpoint = opt_string(j, "checkpoint");
	o->start = json_is_true(json_object_get(j, "start"));
	if (!*o->id)
		return make_error(err, E_INVALID_ARGUMENT, 0, "shim.json: `id` is empty");
	if (o->start && o->checkpoint)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "shim.json: `start` with a `checkpoint` (its start restores it)");
	if (o->runtime[0] != '/')
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "shim.json: `runtime` must be an absolute path, not `%s`", o->runtime);
	if (o->terminal && o->stderr_path)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "shim.json: a `terminal` has one output stream: `stdout`, not "
				  "`stderr`");
	if (o->checkpoint && o->checkpoint[0] != '/')
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "shim.json: `checkpoint` must be an absolute path, not `%s`",
				  o->checkpoint);
	o->runtime_args = string_array(json_object_get(j, "runtime_args"), "runtime_args",
				       &o->n_runtime_args, err);
	if (*err || parse_mounts(json_object_get(j, "mounts"), o, err) < 0)
		return error_wrap(err, "shim.json");
	return 0;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void shim_opts_release(struct shim_opts *o)
{
	free(o->id);
	free(o->ns);
	free(o->runtime);
	free(o->runtime_root);
	free(o->checkpoint);
	free_strv(o->runtime_args, o->n_runtime_args);
	for (size_t i = 0; i < o->n_mounts; i++) {
		free(o->mounts[i].type);
		free(o->mounts[i].source);
		free_strv(o->mounts[i].options, o->mounts[i].n_options);
	}
	free(o->mounts);
	free(o->stdin_path);
	free(o->stdout_path);
	free(o->stderr_path);
	memset(o, 0, sizeof(*o));
}

static const char *const methods[] = {
	[SHIM_STATE] = "state",
	[SHIM_START] = "start",
	[SHIM_KILL] = "kill",
	[SHIM_DELETE] = "delete",
	[SHIM_PAUSE] = "pause",
	[SHIM_RESUME] = "resume",
	[SHIM_PIDS] = "pids",
	[SHIM_UPDATE] = "update",
	[SHIM_RESIZE] = "resize",
	[SHIM_CLOSEIO] = "closeio",
	[SHIM_EXEC] = "exec",
	[SHIM_EXEC_START] = "exec_start",
	[SHIM_EXEC_DELETE] = "exec_delete",
	[SHIM_CHECKPOINT] = "checkpoint",
};

void shim_request_release(struct shim_request *req)
{
	free(req->resources);
	free(req->exec_id);
	free(req->process);
	free(req->stdin_path);
	free(req->stdout_path);
	free(req->stderr_path);
	free(req->image_path);
	free(req->work_path);
	req->image_path = req->work_path = NULL;
	req->resources = req->exec_id = req->process = NULL;
	req->stdin_path = req->stdout_path = req->stderr_path = NULL;
}

bool proto_exec_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > 76 || id[0] == '.' || id[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* `exec_id` of params: required or not; NULL (and no error) when absent. */
static int parse_exec_id(json_t *params, bool required, struct shim_request *req, err_t *err)
{
	json_t *v = json_object_get(params, "exec_id");
	if (!v || json_is_null(v)) {
		if (required)
			return make_error(err, E_INVALID_ARGUMENT, 0, "`params.exec_id` is required");
		return 0;
	}
	const char *id = json_string_value(v);
	if (!id)
		return make_error(err, E_INVALID_ARGUMENT, 0, "`exec_id` must be a string");
	if (!*id && !required)
		return 0; /* "" is the init process, as containerd has it */
	if (!proto_exec_id_valid(id))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`exec_id` `%.80s` is not 1..76 of [A-Za-z0-9_.-]", id);
	req->exec_id = xstrdup(id);
	return 0;
}

static int parse_exec(json_t *params, struct shim_request *req, err_t *err)
{
	static const struct json_field fields[] = {
		{ "exec_id", JF_STRING, true },
		{ "process", JF_OBJECT, true },
		{ "stdin", JF_ANY, false },
		{ "stdout", JF_ANY, false },
		{ "stderr", JF_ANY, false },
		{ "log", JF_BOOL, false },
		{ "terminal", JF_BOOL, false },
		{ NULL },
	};
	if (!params)
		return make_error(err, E_INVALID_ARGUMENT, 0, "`exec` needs `params`");
	if (json_check_object(params, "`params`", fields, err) < 0 ||
	    parse_exec_id(params, true, req, err) < 0)
		return -1;
	static const char *const keys[] = { "stdin", "stdout", "stderr" };
	char **dst[] = { &req->stdin_path, &req->stdout_path, &req->stderr_path };
	for (size_t i = 0; i < 3; i++) {
		json_t *v = json_object_get(params, keys[i]);
		if (!v || json_is_null(v))
			continue;
		const char *p = json_string_value(v);
		if (!p || p[0] != '/')
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`%s` must be an absolute path or null", keys[i]);
		*dst[i] = xstrdup(p);
	}
	req->log = json_is_true(json_object_get(params, "log"));
	req->terminal = json_is_true(json_object_get(params, "terminal"));
	if (req->log && (req->stdout_path || req->stderr_path))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`log` captures stdout and stderr: give it or FIFOs, not both");
	req->process = json_dumps(json_object_get(params, "process"), JSON_COMPACT);
	if (!req->process)
		abort();
	return 0;
}

static int parse_update(json_t *params, struct shim_request *req, err_t *err)
{
	static const struct json_field fields[] = {
		{ "resources", JF_OBJECT, true },
		{ NULL },
	};
	if (!params)
		return make_error(err, E_INVALID_ARGUMENT, 0, "`update` needs `params.resources`");
	if (json_check_object(params, "`params`", fields, err) < 0)
		return -1;
	req->resources = json_dumps(json_object_get(params, "resources"), JSON_COMPACT);
	if (!req->resources)
		abort();
	return 0;
}

/* resize: {"width","height","exec_id"?}; closeio: {"exec_id"?} */
static int parse_stdio(json_t *params, struct shim_request *req, err_t *err)
{
	static const struct json_field resize_fields[] = {
		{ "width", JF_INTEGER, true },
		{ "height", JF_INTEGER, true },
		{ "exec_id", JF_STRING, false },
		{ NULL },
	};
	static const struct json_field closeio_fields[] = {
		{ "exec_id", JF_STRING, false },
		{ NULL },
	};
	bool resize = req->method == SHIM_RESIZE;
	if (!params && resize)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`resize` needs `params.width` and `params.height`");
	if (!params)
		return 0;
	if (json_check_object(params, "`params`", resize ? resize_fields : closeio_fields, err) <
	    0)
		return -1;
	if (parse_exec_id(params, false, req, err) < 0)
		return -1;
	if (!resize)
		return 0;
	static const char *const dims[] = { "width", "height" };
	for (int i = 0; i < 2; i++) {
		json_int_t n = json_integer_value(json_object_get(params, dims[i]));
		if (n < 1 || n > 65535)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`%s` must be 1..65535, not %" JSON_INTEGER_FORMAT, dims[i],
					  n);
		*(i ? &req->height : &req->width) = (unsigned)n;
	}
	return 0;
}

static int parse_checkpoint(json_t *params, struct shim_request *req, err_t *err)
{
	static const struct json_field fields[] = {
		{ "image_path", JF_STRING, true },
		{ "work_path", JF_STRING, true },
		{ "exit", JF_BOOL, false },
		{ NULL },
	};
	if (!params)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`checkpoint` needs `params.image_path` and `params.work_path`");
	if (json_check_object(params, "`params`", fields, err) < 0)
		return -1;
	const char *image = json_get_string(params, "image_path");
	const char *work = json_get_string(params, "work_path");
	if (image[0] != '/' || work[0] != '/')
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`image_path` and `work_path` must be absolute paths");
	req->image_path = xstrdup(image);
	req->work_path = xstrdup(work);
	req->exit = json_is_true(json_object_get(params, "exit"));
	return 0;
}

int proto_parse_request(const char *line, size_t len, struct shim_request *req, err_t *err)
{
	static const struct json_field fields[] = {
		{ "id", JF_INTEGER, true },
		{ "method", JF_STRING, true },
		{ "params", JF_OBJECT, false },
		{ NULL },
	};
	static const struct json_field kill_fields[] = {
		{ "signal", JF_INTEGER, false },
		{ "all", JF_BOOL, false },
		{ "exec_id", JF_ANY, false },
		{ NULL },
	};
	static const struct json_field exec_id_fields[] = {
		{ "exec_id", JF_ANY, false },
		{ NULL },
	};
	memset(req, 0, sizeof(*req));
	req->signal = SIGTERM;
	cleanup_json json_t *j = json_parse_body(line, len, err);
	if (!j)
		return -1;
	json_t *id = json_object_get(j, "id");
	if (json_is_integer(id)) {
		req->has_id = true;
		req->id = json_integer_value(id);
	}
	if (json_check_object(j, "request", fields, err) < 0)
		return -1;
	const char *m = json_string_value(json_object_get(j, "method"));
	size_t i;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!strcmp(m, methods[i]))
			break;
	if (i == sizeof(methods) / sizeof(methods[0]))
		return make_error(err, E_INVALID_ARGUMENT, 0, "unknown method `%.64s`", m);
	req->method = i;
	json_t *params = json_object_get(j, "params");
	if (req->method == SHIM_UPDATE)
		return parse_update(params, req, err);
	if (req->method == SHIM_RESIZE || req->method == SHIM_CLOSEIO)
		return parse_stdio(params, req, err);
	if (req->method == SHIM_EXEC)
		return parse_exec(params, req, err);
	if (req->method == SHIM_CHECKPOINT)
		return parse_checkpoint(params, req, err);
	if (req->method == SHIM_EXEC_START || req->method == SHIM_EXEC_DELETE ||
	    (req->method == SHIM_STATE && params)) {
		if (!params && req->method != SHIM_STATE)
			return make_error(err, E_INVALID_ARGUMENT, 0, "`%s` needs `params.exec_id`",
					  methods[i]);
		if (json_check_object(params, "`params`", exec_id_fields, err) < 0)
			return -1;
		return parse_exec_id(params, req->method != SHIM_STATE, req, err);
	}
	if (!params)
		return 0;
	if (req->method != SHIM_KILL) {
		if (json_object_size(params))
			return make_error(err, E_INVALID_ARGUMENT, 0, "`%s` takes no params",
					  methods[i]);
		return 0;
	}
	if (json_check_object(params, "`params`", kill_fields, err) < 0)
		return -1;
	json_t *sig = json_object_get(params, "signal");
	if (sig) {
		json_int_t n = json_integer_value(sig);
		if (n < 1 || n > 64)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`signal` must be 1..64, not %" JSON_INTEGER_FORMAT, n);
		req->signal = (int)n;
	}
	req->all = json_is_true(json_object_get(params, "all"));
	return parse_exec_id(params, false, req, err);
}

json_t *proto_pids(const char *text, size_t len, err_t *err)
{
	json_error_t jerr;
	cleanup_json json_t *j = json_loadb(text, len, 0, &jerr);
	if (!json_is_array(j)) {
		make_error(err, E_INTERNAL, 0, "`ps --format json` did not print a JSON array");
		return NULL;
	}
	json_t *pids = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(j, i, e) {
		json_int_t n = json_integer_value(e);
		if (!json_is_integer(e) || n < 1 || n > INT32_MAX) {
			json_decref(pids);
			make_error(err, E_INTERNAL, 0,
				   "`ps --format json`: element %zu is not a pid", i);
			return NULL;
		}
		json_array_append_new(pids, json_pack("{s:I}", "pid", n));
	}
	return json_pack("{s:o}", "pids", pids);
}

static char *line_of(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		abort();
	char *line = xasprintf("%s\n", s);
	free(s);
	return line;
}

char *proto_answer(json_int_t id, json_t *result)
{
	return line_of(json_pack("{s:I,s:o}", "id", id, "result", result ? result : json_object()));
}

char *proto_answer_error(bool has_id, json_int_t id, enum err_kind kind, const char *msg)
{
	return line_of(json_pack("{s:o,s:{s:s,s:s}}", "id",
				 has_id ? json_integer(id) : json_null(), "error", "code",
				 err_kind_code(kind), "message", msg ? msg : ""));
}

char *proto_event(const char *name, json_t *params)
{
	return line_of(json_pack("{s:s,s:o}", "event", name, "params", params));
}

json_t *proto_exit_json(pid_t pid, int exit_status, int64_t exited_at_ns)
{
	char ts[40];
	time_format_rfc3339(exited_at_ns, ts);
	return json_pack("{s:i,s:i,s:s}", "pid", (int)pid, "exit_status", exit_status,
			 "exited_at", ts);
}

char *proto_runtime_log_error(const char *text, size_t len)
{
	char *msg = NULL;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		json_t *j = json_loadb(p, (size_t)(nl - p), 0, NULL);
		const char *level = json_string_value(json_object_get(j, "level"));
		const char *m = json_string_value(json_object_get(j, "msg"));
		if (level && m && (!strcmp(level, "error") || !strcmp(level, "fatal"))) {
			free(msg);
			msg = xstrdup(m);
		}
		json_decref(j);
		p = nl + 1;
	}
	return msg;
}
