/* Unit tests for shim/proto.c: shim.json, request lines, answers, runc's json log. */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "shim/proto.h"
#include "tap.h"

static int parse_req(const char *line, struct shim_request *r, enum err_kind *kind)
{
	err_t err = NULL;
	int rc = proto_parse_request(line, strlen(line), r, &err);
	if (kind)
		*kind = err ? err->kind : E_KIND_MAX;
	err_free(&err);
	return rc;
}

static void test_requests(void)
{
	struct shim_request r;
	enum err_kind k;
	ok(parse_req("{\"id\":3,\"method\":\"state\"}", &r, NULL) == 0 && r.id == 3 &&
		   r.method == SHIM_STATE,
	   "state");
	ok(parse_req("{\"id\":4,\"method\":\"kill\"}", &r, NULL) == 0 && r.method == SHIM_KILL &&
		   r.signal == SIGTERM && !r.all,
	   "kill defaults to SIGTERM");
	ok(parse_req("{\"id\":5,\"method\":\"kill\",\"params\":{\"signal\":9,\"all\":true}}", &r,
		     NULL) == 0 &&
		   r.signal == 9 && r.all,
	   "kill 9 all");
	ok(parse_req("{\"id\":6,\"method\":\"kill\",\"params\":{\"signal\":0}}", &r, &k) < 0 &&
		   k == E_INVALID_ARGUMENT && r.has_id && r.id == 6,
	   "signal 0 is refused, the id is kept");
	ok(parse_req("{\"id\":7,\"method\":\"kill\",\"params\":{\"sig\":9}}", &r, &k) < 0 &&
		   k == E_INVALID_ARGUMENT,
	   "unknown kill param");
	ok(parse_req("{\"id\":8,\"method\":\"start\",\"params\":{\"x\":1}}", &r, &k) < 0,
	   "start takes no params");
	ok(parse_req("{\"id\":9,\"method\":\"fly\"}", &r, &k) < 0 && r.id == 9 &&
		   k == E_INVALID_ARGUMENT,
	   "unknown method");
	ok(parse_req("{\"method\":\"state\"}", &r, &k) < 0 && !r.has_id, "no id");
	ok(parse_req("[1]", &r, &k) < 0 && !r.has_id, "not an object");
	ok(parse_req("{\"id\":\"1\",\"method\":\"state\"}", &r, &k) < 0 && !r.has_id,
	   "a string id");
}

static void test_new_methods(void)
{
	struct shim_request r;
	enum err_kind k;
	ok(parse_req("{\"id\":1,\"method\":\"pause\"}", &r, NULL) == 0 && r.method == SHIM_PAUSE,
	   "pause");
	ok(parse_req("{\"id\":2,\"method\":\"resume\",\"params\":{}}", &r, NULL) == 0 &&
		   r.method == SHIM_RESUME,
	   "resume with empty params");
	ok(parse_req("{\"id\":3,\"method\":\"pids\"}", &r, NULL) == 0 && r.method == SHIM_PIDS,
	   "pids");
	ok(parse_req("{\"id\":4,\"method\":\"pause\",\"params\":{\"x\":1}}", &r, &k) < 0 &&
		   k == E_INVALID_ARGUMENT,
	   "pause takes no params");
	ok(parse_req("{\"id\":5,\"method\":\"update\",\"params\":{\"resources\":"
		     "{\"memory\":{\"limit\":8388608}}}}",
		     &r, NULL) == 0 &&
		   r.method == SHIM_UPDATE && r.resources &&
		   !strcmp(r.resources, "{\"memory\":{\"limit\":8388608}}"),
	   "update carries its resources as compact JSON");
	shim_request_release(&r);
	ok(r.resources == NULL, "released");
	ok(parse_req("{\"id\":6,\"method\":\"update\"}", &r, &k) < 0 && k == E_INVALID_ARGUMENT &&
		   r.id == 6,
	   "update without params");
	ok(parse_req("{\"id\":7,\"method\":\"update\",\"params\":{\"resources\":[1]}}", &r,
		     &k) < 0 &&
		   k == E_INVALID_ARGUMENT,
	   "update resources must be an object");
	ok(parse_req("{\"id\":8,\"method\":\"update\",\"params\":{\"resources\":{},\"x\":1}}",
		     &r, &k) < 0 &&
		   k == E_INVALID_ARGUMENT,
	   "unknown update param");
	shim_request_release(&r);

	err_t err = NULL;
	json_t *p = proto_pids("[12,34]\n", 8, &err);
	ok(p && json_array_size(json_object_get(p, "pids")) == 2 &&
		   json_integer_value(json_object_get(
			   json_array_get(json_object_get(p, "pids"), 1), "pid")) == 34,
	   "ps output → pids");
	json_decref(p);
	p = proto_pids("[]", 2, &err);
	ok(p && json_array_size(json_object_get(p, "pids")) == 0, "no pids");
	json_decref(p);
	ok(!proto_pids("[1,\"x\"]", 7, &err) && err && err->kind == E_INTERNAL, "not a pid");
	err_free(&err);
	ok(!proto_pids("[0]", 3, &err) && err, "pid 0");
	err_free(&err);
	ok(!proto_pids("{}", 2, &err) && err, "not an array");
	err_free(&err);
	ok(!proto_pids("", 0, &err) && err, "empty output");
	err_free(&err);
}

static void test_opts(void)
{
	struct shim_opts o;
	err_t err = NULL;
	const char *good =
		"{\"id\":\"web\",\"namespace\":\"default\",\"runtime\":\"/usr/sbin/runc\","
		"\"runtime_root\":\"/run/berth/runc/default\",\"runtime_args\":[\"--systemd-cgroup\"],"
		"\"mounts\":[{\"type\":\"overlay\",\"source\":\"overlay\",\"options\":[\"lowerdir=/a\"]}],"
		"\"stdin\":null,\"stdout\":\"/tmp/o\",\"stderr\":null,\"log\":true,\"terminal\":false}";
	ok(proto_parse_opts(good, strlen(good), &o, &err) == 0, "a full shim.json");
	is_str(o.id, "web", "id");
	is_str(o.runtime_root, "/run/berth/runc/default", "runtime_root");
	ok(o.n_runtime_args == 1 && !strcmp(o.runtime_args[0], "--systemd-cgroup"), "runtime_args");
	ok(o.n_mounts == 1 && !strcmp(o.mounts[0].type, "overlay") && o.mounts[0].n_options == 1,
	   "mounts");
	ok(!o.stdin_path && o.stdout_path && !strcmp(o.stdout_path, "/tmp/o") && o.log, "stdio");
	shim_opts_release(&o);
	err_free(&err);

	const char *tty = "{\"id\":\"t\",\"namespace\":\"d\",\"runtime\":\"/r\",\"runtime_root\":"
			  "\"/r\",\"stdin\":\"/i\",\"stdout\":\"/o\",\"terminal\":true}";
	ok(proto_parse_opts(tty, strlen(tty), &o, &err) == 0 && o.terminal && o.stdin_path &&
		   o.stdout_path && !o.stderr_path,
	   "a terminal with stdin and stdout");
	shim_opts_release(&o);
	err_free(&err);

	static const char *const bad[] = {
		"{\"id\":\"a\",\"namespace\":\"d\",\"runtime\":\"runc\",\"runtime_root\":\"/r\"}",
		"{\"id\":\"a\",\"namespace\":\"d\",\"runtime\":\"/r\",\"runtime_root\":\"/r\",\"x\":1}",
		"{\"id\":\"a\",\"namespace\":\"d\",\"runtime\":\"/r\"}",
		"{\"id\":\"a\",\"namespace\":\"d\",\"runtime\":\"/r\",\"runtime_root\":\"/r\","
		"\"mounts\":[{\"type\":\"bind\"}]}",
		"{\"id\":\"a\",\"namespace\":\"d\",\"runtime\":\"/r\",\"runtime_root\":\"/r\","
		"\"mounts\":[{\"type\":\"bind\",\"source\":\"/s\",\"options\":[1]}]}",
		"{\"id\":\"a\",\"namespace\":\"d\",\"runtime\":\"/r\",\"runtime_root\":\"/r\","
		"\"runtime_args\":[true]}",
		"{\"id\":\"\",\"namespace\":\"d\",\"runtime\":\"/r\",\"runtime_root\":\"/r\"}",
		"{\"id\":\"a\",\"namespace\":\"d\",\"runtime\":\"/r\",\"runtime_root\":\"/r\","
		"\"terminal\":true,\"stdout\":\"/o\",\"stderr\":\"/e\"}",
		"nope",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(proto_parse_opts(bad[i], strlen(bad[i]), &o, &err) < 0 && err &&
			   err->kind == E_INVALID_ARGUMENT,
		   "bad shim.json %zu: %s", i, err ? err->msg : "(no error)");
		shim_opts_release(&o);
		err_free(&err);
	}
}

static void test_lines(void)
{
	char *s = proto_answer(3, json_pack("{s:i}", "pid", 42));
	is_str(s, "{\"id\":3,\"result\":{\"pid\":42}}\n", "answer");
	free(s);
	s = proto_answer_error(false, 0, E_NOT_FOUND, "gone");
	is_str(s, "{\"id\":null,\"error\":{\"code\":\"not_found\",\"message\":\"gone\"}}\n",
	       "error answer without id");
	free(s);
	s = proto_event("exit", proto_exit_json(7, 137, 1000000001));
	is_str(s,
	       "{\"event\":\"exit\",\"params\":{\"pid\":7,\"exit_status\":137,"
	       "\"exited_at\":\"1970-01-01T00:00:01.000000001Z\"}}\n",
	       "exit notification");
	free(s);
}

static void test_runtime_log(void)
{
	const char *log = "{\"level\":\"info\",\"msg\":\"hi\"}\n"
			  "{\"level\":\"error\",\"msg\":\"first\"}\n"
			  "not json\n"
			  "{\"level\":\"error\",\"msg\":\"exec: \\\"/x\\\": no such file\"}\n"
			  "{\"level\":\"error\",\"msg\":\"cut";
	char *m = proto_runtime_log_error(log, strlen(log));
	is_str(m, "exec: \"/x\": no such file", "the last complete error line");
	free(m);
	ok(proto_runtime_log_error("{\"level\":\"warning\",\"msg\":\"w\"}\n", 31) == NULL,
	   "no error line");
}

static void test_stdio_methods(void)
{
	struct shim_request r;
	enum err_kind k;
	ok(parse_req("{\"id\":1,\"method\":\"resize\",\"params\":{\"width\":80,\"height\":24}}",
		     &r, NULL) == 0 &&
		   r.method == SHIM_RESIZE && r.width == 80 && r.height == 24 && !r.exec_id,
	   "resize 80x24");
	shim_request_release(&r);
	ok(parse_req("{\"id\":2,\"method\":\"resize\",\"params\":{\"width\":1,\"height\":65535,"
		     "\"exec_id\":\"e1\"}}",
		     &r, NULL) == 0 &&
		   r.height == 65535 && r.exec_id && !strcmp(r.exec_id, "e1"),
	   "resize of an exec, the largest height");
	shim_request_release(&r);
	ok(parse_req("{\"id\":3,\"method\":\"resize\",\"params\":{\"width\":0,\"height\":24}}",
		     &r, &k) < 0 &&
		   k == E_INVALID_ARGUMENT && r.id == 3,
	   "width 0 refused");
	shim_request_release(&r);
	ok(parse_req("{\"id\":4,\"method\":\"resize\",\"params\":{\"width\":80,\"height\":65536}}",
		     &r, &k) < 0 &&
		   k == E_INVALID_ARGUMENT,
	   "height over 65535 refused");
	shim_request_release(&r);
	ok(parse_req("{\"id\":5,\"method\":\"resize\",\"params\":{\"width\":80}}", &r, &k) < 0,
	   "resize needs a height");
	shim_request_release(&r);
	ok(parse_req("{\"id\":6,\"method\":\"resize\"}", &r, &k) < 0, "resize needs params");
	shim_request_release(&r);
	ok(parse_req("{\"id\":7,\"method\":\"closeio\"}", &r, NULL) == 0 &&
		   r.method == SHIM_CLOSEIO,
	   "closeio");
	shim_request_release(&r);
	ok(parse_req("{\"id\":8,\"method\":\"closeio\",\"params\":{\"width\":1}}", &r, &k) < 0,
	   "closeio takes no size");
	shim_request_release(&r);
}

static void test_checkpoint(void)
{
	struct shim_request r;
	enum err_kind k;
	ok(parse_req("{\"id\":1,\"method\":\"checkpoint\",\"params\":{\"image_path\":\"/t/cp\","
		     "\"work_path\":\"/t/w\",\"exit\":true}}",
		     &r, NULL) == 0 &&
		   r.method == SHIM_CHECKPOINT && r.exit && !strcmp(r.image_path, "/t/cp") &&
		   !strcmp(r.work_path, "/t/w"),
	   "checkpoint with its paths and exit");
	shim_request_release(&r);
	ok(r.image_path == NULL && r.work_path == NULL, "released");
	ok(parse_req("{\"id\":2,\"method\":\"checkpoint\",\"params\":{\"image_path\":\"/a\","
		     "\"work_path\":\"/b\"}}",
		     &r, NULL) == 0 &&
		   !r.exit,
	   "exit defaults to false (leave running)");
	shim_request_release(&r);
	static const char *const bad[] = {
		"{\"id\":3,\"method\":\"checkpoint\"}",
		"{\"id\":3,\"method\":\"checkpoint\",\"params\":{\"image_path\":\"/a\"}}",
		"{\"id\":3,\"method\":\"checkpoint\",\"params\":{\"image_path\":\"a\",\"work_path\":\"/b\"}}",
		"{\"id\":3,\"method\":\"checkpoint\",\"params\":{\"image_path\":\"/a\",\"work_path\":\"/b\","
		"\"exit\":1}}",
		"{\"id\":3,\"method\":\"checkpoint\",\"params\":{\"image_path\":\"/a\",\"work_path\":\"/b\","
		"\"x\":1}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok(parse_req(bad[i], &r, &k) < 0 && k == E_INVALID_ARGUMENT && r.id == 3,
		   "bad checkpoint request %zu", i);
		shim_request_release(&r);
	}

	struct shim_opts o;
	err_t err = NULL;
	const char *cp = "{\"id\":\"a\",\"namespace\":\"d\",\"runtime\":\"/r\",\"runtime_root\":\"/r\","
			 "\"checkpoint\":\"/s/tasks/d/a/checkpoint\"}";
	ok(proto_parse_opts(cp, strlen(cp), &o, &err) == 0 && o.checkpoint &&
		   !strcmp(o.checkpoint, "/s/tasks/d/a/checkpoint"),
	   "shim.json checkpoint");
	shim_opts_release(&o);
	ok(o.checkpoint == NULL, "released");
	const char *rel = "{\"id\":\"a\",\"namespace\":\"d\",\"runtime\":\"/r\",\"runtime_root\":\"/r\","
			  "\"checkpoint\":\"checkpoint\"}";
	ok(proto_parse_opts(rel, strlen(rel), &o, &err) < 0 && err &&
		   err->kind == E_INVALID_ARGUMENT,
	   "shim.json checkpoint must be absolute");
	shim_opts_release(&o);
	err_free(&err);
}

int main(void)
{
	test_requests();
	test_new_methods();
	test_stdio_methods();
	test_opts();
	test_checkpoint();
	test_lines();
	test_runtime_log();
	return done_testing();
}
