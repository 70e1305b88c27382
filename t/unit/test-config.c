/* Unit tests for core/config.c: defaults, file, flags, validation. */
#include "config.h"

#include <stdio.h>
#include <fcntl.h>
#include <string.h>

#include "core/conf.h"
#include "tap.h"

static int apply(const char *text, struct config *c, err_t *err)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	int r = config_apply_json(c, j, err);
	json_decref(j);
	return r;
}

int main(void)
{
	plan_lazy();
	struct config c;
	err_t err = NULL;
	config_init(&c);
	is_str(c.root, "/var/lib/berth", "default root");
	is_str(c.state, "/run/berth", "default state");
	is_int(c.max_json_body, 1 << 20, "default body limit is 1 MiB");

	ok(apply("{\"root\":\"/srv/b\",\"log_level\":\"debug\",\"event_ring_size\":64}", &c, &err) ==
		   0,
	   "valid keys apply");
	is_str(c.root, "/srv/b", "root from file");
	is_int(c.log_level, LOG_DEBUG, "log level from file");
	is_int(c.event_ring_size, 64, "ring size from file");

	ok(apply("{\"bogus\":1}", &c, &err) < 0 && strstr(err->msg, "unknown key `bogus`"),
	   "unknown key is an error naming it");
	err_free(&err);
	ok(apply("{\"root\":5}", &c, &err) < 0 && strstr(err->msg, "`root` must be a string"),
	   "wrong type");
	err_free(&err);
	ok(apply("{\"root\":\"relative\"}", &c, &err) < 0 && strstr(err->msg, "absolute"),
	   "relative path in the file");
	err_free(&err);
	ok(apply("{\"log_level\":\"loud\"}", &c, &err) < 0 && strstr(err->msg, "loud"),
	   "unknown log level");
	err_free(&err);
	ok(apply("{\"event_ring_size\":1}", &c, &err) < 0 && strstr(err->msg, "between"),
	   "size below its minimum");
	err_free(&err);
	ok(apply("{\"event_ring_size\":-5}", &c, &err) < 0, "negative size");
	err_free(&err);
	ok(apply("{\"sse_heartbeat_interval\":0.5}", &c, &err) == 0 &&
		   c.sse_heartbeat_interval == 0.5,
	   "fractional seconds");
	ok(apply("[1]", &c, &err) < 0, "top level must be an object");
	err_free(&err);
	config_release(&c);

	config_init(&c);
	is_str(c.default_runtime, "runc", "default runtime is runc");
	ok(apply("{\"default_runtime\":\"crun\"}", &c, &err) == 0 && config_validate(&c, &err) == 0 &&
		   strcmp(c.default_runtime, "crun") == 0,
	   "default_runtime crun");
	ok(apply("{\"default_runtime\":\"/opt/bin/runc\"}", &c, &err) == 0 &&
		   config_validate(&c, &err) == 0,
	   "default_runtime an absolute path");
	ok(apply("{\"default_runtime\":\"kata\"}", &c, &err) == 0 && config_validate(&c, &err) < 0 &&
		   strstr(err->msg, "`default_runtime`") && strstr(err->msg, "kata"),
	   "an unknown default_runtime is refused, naming the key");
	err_free(&err);
	config_release(&c);

	/* file + flags */
	char path[] = "/tmp/berth-config-XXXXXX";
	int fd = mkstemp(path);
	const char *text = "{\"root\":\"/from/file\",\"state\":\"/st\",\"log_level\":\"warn\"}";
	if (write(fd, text, strlen(text)) < 0)
		return 1;
	close(fd);
	struct config_flags fl = { .root = "/from/flag" };
	config_init(&c);
	ok(config_load(&c, path, true, &fl, &err) == 0, "load file and flags");
	is_str(c.root, "/from/flag", "flag wins over file");
	is_str(c.state, "/st", "file value kept where no flag");
	is_str(c.socket, "/st/berthd.sock", "socket defaults under state");
	is_int(c.log_level, LOG_WARN, "log level from file");
	config_release(&c);

	config_init(&c);
	ok(config_load(&c, "/nonexistent/berth.json", false, NULL, &err) == 0,
	   "missing default config file is fine");
	config_release(&c);
	config_init(&c);
	ok(config_load(&c, "/nonexistent/berth.json", true, NULL, &err) < 0 &&
		   err->kind == E_INVALID_ARGUMENT,
	   "missing explicit config file is an error");
	err_free(&err);
	config_release(&c);

	fd = open(path, O_WRONLY | O_TRUNC);
	if (write(fd, "{not json", 9) < 0)
		return 1;
	close(fd);
	config_init(&c);
	ok(config_load(&c, path, true, NULL, &err) < 0 && strstr(err->msg, "line 1"),
	   "malformed file names the position");
	err_free(&err);
	config_release(&c);

	struct config_flags fl2 = { .listen = "127.0.0.1:1234" };
	config_init(&c);
	ok(config_load(&c, NULL, false, &fl2, &err) < 0 && strstr(err->msg, "token"),
	   "listen without a token file is refused");
	err_free(&err);
	config_release(&c);

	struct config_flags fl3 = { .root = "rel/dir" };
	config_init(&c);
	ok(config_load(&c, NULL, false, &fl3, &err) == 0 && c.root[0] == '/' &&
		   strstr(c.root, "/rel/dir"),
	   "relative flag path made absolute");
	config_release(&c);
	unlink(path);
	return done_testing();
}
