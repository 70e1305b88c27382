/*
 * fuzz-shim-proto: shim/proto.c, the shim's wire formats. The first byte
 * picks what the rest is: shim.json, a control-socket request line, the
 * runtime's `ps --format json` output or its json log. The answers the shim
 * builds from what parses (or from the error) must be one line of JSON
 * carrying the request's id.
 */
#include "config.h"

#include "fuzz.h"
#include "core/json.h"
#include "shim/proto.h"

/* One NDJSON line: a JSON object, a single '\n', at the end. */
static json_t *check_line(const char *line)
{
	size_t len = strlen(line);
	FUZZ_ASSERT(len > 1 && line[len - 1] == '\n' && !memchr(line, '\n', len - 1),
		    "not one line: `%s`", line);
	json_t *j = json_loadb(line, len, 0, NULL);
	FUZZ_ASSERT(json_is_object(j), "not a JSON object: `%s`", line);
	return j;
}

static void request(const char *data, size_t len)
{
	struct shim_request req;
	err_t err = NULL;
	char *line;
	if (proto_parse_request(data, len, &req, &err) < 0) {
		FUZZ_ASSERT(err && err->kind == E_INVALID_ARGUMENT, "refusal kind %d",
			    err ? (int)err->kind : -1);
		line = proto_answer_error(req.has_id, req.id, err->kind, err->msg);
		err_free(&err);
	} else {
		FUZZ_ASSERT(req.signal >= 1 && req.signal <= 64, "signal %d", req.signal);
		FUZZ_ASSERT(req.method != SHIM_UPDATE || req.resources, "update without resources");
		line = proto_answer(req.id, json_pack("{s:i}", "method", (int)req.method));
	}
	cleanup_json json_t *j = check_line(line);
	json_t *id = json_object_get(j, "id");
	if (req.has_id)
		FUZZ_ASSERT(json_is_integer(id) && json_integer_value(id) == req.id,
			    "answer to %" JSON_INTEGER_FORMAT " carries another id: `%s`", req.id,
			    line);
	else
		FUZZ_ASSERT(json_is_null(id), "answer without an id: `%s`", line);
	free(line);
	shim_request_release(&req);
}

static void opts(const char *data, size_t len)
{
	struct shim_opts o;
	memset(&o, 0, sizeof(o));
	err_t err = NULL;
	if (proto_parse_opts(data, len, &o, &err) < 0) {
		FUZZ_ASSERT(
		    err && (err->kind == E_INVALID_ARGUMENT || err->kind == E_NOT_IMPLEMENTED) &&
			*err->msg,
		    "refusal kind %d", err ? (int)err->kind : -1);
		err_free(&err);
	} else {
		FUZZ_ASSERT(o.id && o.runtime, "shim.json without id or runtime");
		for (size_t i = 0; i < o.n_mounts; i++)
			FUZZ_ASSERT(o.mounts[i].type && o.mounts[i].source, "mount %zu", i);
	}
	shim_opts_release(&o);
}

static void pids(const char *data, size_t len)
{
	err_t err = NULL;
	json_t *j = proto_pids(data, len, &err);
	if (!j) {
		FUZZ_ASSERT(err && err->kind == E_INTERNAL, "refusal kind %d",
			    err ? (int)err->kind : -1);
		err_free(&err);
		return;
	}
	char *line = proto_answer(7, j);
	json_decref(check_line(line));
	free(line);
}

static void runtime_log(const char *data, size_t len)
{
	char *msg = proto_runtime_log_error(data, len);
	if (msg) {
		char *line = proto_answer_error(true, 1, E_INTERNAL, msg);
		json_decref(check_line(line));
		free(line);
		char *ev = proto_event("exit", proto_exit_json(1, 0, 0));
		json_decref(check_line(ev));
		free(ev);
	}
	free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *doc = (const char *)data + 1;
	size_t len = size - 1;
	switch (data[0] % 4) {
	case 0:
		request(doc, len);
		break;
	case 1:
		opts(doc, len);
		break;
	case 2:
		pids(doc, len);
		break;
	case 3:
		runtime_log(doc, len);
		break;
	}
	return 0;
}
