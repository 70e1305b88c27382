/* Unit tests for src/spec: the default spec, the image config merge, users
 * from layers (whiteouts, opaque directories, symlinks kept in their layer),
 * overrides and their errors, the seccomp profile, spec_validate(). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <seccomp.h>

#include "spec/internal.h"
#include "tap.h"

static char tmp[] = "/tmp/test-spec-XXXXXX";

static void put(const char *rel, const char *text)
{
	cleanup_free char *path = xasprintf("%s/%s", tmp, rel);
	cleanup_free char *dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	mkdir_p(dir, 0755);
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static char *p(const char *rel)
{
	static char buf[4][256];
	static int n;
	char *b = buf[n++ % 4];
	snprintf(b, sizeof(buf[0]), "%s/%s", tmp, rel);
	return b;
}

/* spec_generate with o; NULL on error, with *msg the error message (static). */
static json_t *gen(const struct spec_opts *o, const char **msg)
{
	static char last[512];
	json_t *spec = NULL;
	err_t err = NULL;
	last[0] = '\0';
	if (spec_generate(o, &spec, &err) < 0) {
		snprintf(last, sizeof(last), "%s%s", err->kind == E_INVALID_ARGUMENT ? "" : "KIND:",
			 err->msg);
		err_free(&err);
	}
	if (msg)
		*msg = last;
	return spec;
}

static bool fails(const struct spec_opts *o, const char *needle)
{
	const char *msg;
	json_t *s = gen(o, &msg);
	if (s) {
		json_decref(s);
		diag("no error, expected `%s`", needle);
		return false;
	}
	if (!strstr(msg, needle) || strncmp(msg, "KIND:", 5) == 0) {
		diag("error `%s`, expected invalid_argument with `%s`", msg, needle);
		return false;
	}
	return true;
}

static char *dumps(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

static bool json_eq_text(const json_t *j, const char *text)
{
	json_t *want = json_loads(text, JSON_DECODE_ANY, NULL);
	bool eq = want && json_equal((json_t *)j, want);
	if (!eq) {
		cleanup_free char *got = dumps(j);
		diag("got:  %s", got ? got : "(null)");
		diag("want: %s", text);
	}
	json_decref(want);
	return eq;
}

#define PROC(s, k) json_object_get(json_object_get((s), "process"), (k))
#define LINUX(s, k) json_object_get(json_object_get((s), "linux"), (k))

static json_t *find_mount(const json_t *spec, const char *dst)
{
	size_t i;
	json_t *m;
	json_array_foreach (json_object_get(spec, "mounts"), i, m)
		if (strcmp(json_string_value(json_object_get(m, "destination")), dst) == 0)
			return m;
	return NULL;
}

static const char *env_get(const json_t *spec, const char *key)
{
	size_t i, n = strlen(key);
	json_t *v;
	json_array_foreach (PROC(spec, "env"), i, v) {
		const char *s = json_string_value(v);
		if (strncmp(s, key, n) == 0 && s[n] == '=')
			return s + n + 1;
	}
	return NULL;
}

static bool has_ns(const json_t *spec, const char *type)
{
	size_t i;
	json_t *n;
	json_array_foreach (LINUX(spec, "namespaces"), i, n)
		if (strcmp(json_string_value(json_object_get(n, "type")), type) == 0)
			return true;
	return false;
}

static const json_t *seccomp_rule(const json_t *spec, const char *name, int nth)
{
	size_t i, k;
	json_t *r, *n;
	json_array_foreach (json_object_get(LINUX(spec, "seccomp"), "syscalls"), i, r)
		json_array_foreach (json_object_get(r, "names"), k, n)
			if (strcmp(json_string_value(n), name) == 0 && nth-- == 0)
				return r;
	return NULL;
}

static void test_default(void)
{
	json_t *args = json_pack("[s]", "sh");
	struct spec_opts o = { .id = "c1", .ns = "ns1", .args = args };
	json_t *s = gen(&o, NULL);
	ok(s != NULL, "spec with args only");
	is_str(json_get_string(s, "ociVersion"), SPEC_OCI_VERSION, "ociVersion");
	is_str(json_get_string(json_object_get(s, "root"), "path"), "rootfs", "root.path");
	ok(json_object_get(json_object_get(s, "root"), "readonly") == NULL, "root not read-only");
	const char *dsts[] = { "/proc",	       "/dev",		  "/dev/pts", "/dev/shm",
			       "/dev/mqueue", "/sys",		  "/sys/fs/cgroup", "/run" };
	is_int(json_array_size(json_object_get(s, "mounts")), ARRAY_SIZE(dsts), "8 mounts");
	for (size_t i = 0; i < ARRAY_SIZE(dsts); i++)
		is_str(json_get_string(json_array_get(json_object_get(s, "mounts"), i),
				       "destination"),
		       dsts[i], "mount %zu is %s", i, dsts[i]);
	ok(json_eq_text(json_object_get(find_mount(s, "/sys"), "options"),
			"[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]"),
	   "/sys read-only");
	ok(json_eq_text(find_mount(s, "/sys/fs/cgroup"),
			"{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":"
			"\"cgroup\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\","
			"\"ro\"]}"),
	   "cgroup mount read-only");
	json_t *caps = json_object_get(PROC(s, "capabilities"), "bounding");
	size_t ncaps = 0;
	while (spec_default_caps[ncaps])
		ncaps++;
	is_int(ncaps, 14, "14 default caps");
	is_int(json_array_size(caps), ncaps, "bounding holds the default caps");
	ok(json_equal(caps, json_object_get(PROC(s, "capabilities"), "effective")) &&
		   json_equal(caps, json_object_get(PROC(s, "capabilities"), "permitted")),
	   "effective and permitted as bounding");
	ok(json_object_get(PROC(s, "capabilities"), "inheritable") == NULL &&
		   json_object_get(PROC(s, "capabilities"), "ambient") == NULL,
	   "no inheritable or ambient caps");
	ok(json_eq_text(PROC(s, "rlimits"),
			"[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}]"),
	   "RLIMIT_NOFILE 1024:1024");
	ok(json_is_true(PROC(s, "noNewPrivileges")), "noNewPrivileges as containerd 1.6");
	ok(json_eq_text(LINUX(s, "namespaces"),
			"[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
			"{\"type\":\"mount\"},{\"type\":\"network\"}]"),
	   "five namespaces");
	is_int(json_array_size(LINUX(s, "maskedPaths")), 10, "10 masked paths");
	is_str(json_string_value(json_array_get(LINUX(s, "maskedPaths"), 2)), "/proc/kcore",
	       "/proc/kcore masked");
	ok(json_eq_text(LINUX(s, "readonlyPaths"),
			"[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\","
			"\"/proc/sysrq-trigger\"]"),
	   "read-only paths");
	ok(json_eq_text(json_object_get(LINUX(s, "resources"), "devices"),
			"[{\"allow\":false,\"access\":\"rwm\"}]"),
	   "devices deny-all");
	is_str(json_string_value(LINUX(s, "cgroupsPath")), "/berth/ns1/c1", "cgroupsPath");
	is_str(json_get_string(s, "hostname"), "c1", "hostname is the id");
	ok(json_eq_text(PROC(s, "args"), "[\"sh\"]"), "args");
	is_str(json_get_string(json_object_get(s, "process"), "cwd"), "/", "cwd /");
	ok(json_eq_text(json_object_get(PROC(s, "user"), "uid"), "0") &&
		   json_eq_text(json_object_get(PROC(s, "user"), "gid"), "0"),
	   "root");
	ok(json_object_get(s, "annotations") == NULL, "no annotations");
	ok(json_object_get(json_object_get(s, "process"), "terminal") == NULL, "no terminal");
	err_t err = NULL;
	ok(spec_validate(s, &err) == 0, "the generated spec validates");
	err_free(&err);
	json_decref(s);
	json_decref(args);
}

static void test_image_config(void)
{
	json_t *img = json_loads("{\"architecture\":\"amd64\",\"config\":{"
				 "\"Entrypoint\":[\"/ep\",\"-x\"],\"Cmd\":[\"a\",\"b\"],"
				 "\"Env\":[\"A=1\",\"PATH=/img/bin\",\"E=\"],\"WorkingDir\":\"/app\"}}",
				 0, NULL);
	struct spec_opts o = { .id = "c", .ns = "n", .image_config = img };
	json_t *s = gen(&o, NULL);
	ok(json_eq_text(PROC(s, "args"), "[\"/ep\",\"-x\",\"a\",\"b\"]"), "Entrypoint + Cmd");
	is_str(env_get(s, "PATH"), "/img/bin", "the image's PATH kept");
	is_str(env_get(s, "A"), "1", "image env");
	is_str(env_get(s, "E"), "", "empty value kept");
	is_str(env_get(s, "HOME"), "/", "HOME / without a passwd entry");
	is_str(json_get_string(json_object_get(s, "process"), "cwd"), "/app", "WorkingDir");
	json_decref(s);

	json_t *args = json_pack("[s, s]", "echo", "hi");
	json_t *env = json_pack("[s, s, s]", "A=2", "B=3", "HOME=/h");
	o.args = args;
	o.env = env;
	o.cwd = "/srv";
	s = gen(&o, NULL);
	ok(json_eq_text(PROC(s, "args"), "[\"echo\",\"hi\"]"),
	   "args replace Entrypoint and Cmd (containerd)");
	ok(json_eq_text(PROC(s, "env"), "[\"A=2\",\"PATH=/img/bin\",\"E=\",\"B=3\",\"HOME=/h\"]"),
	   "env overrides replace in place, add at the end, HOME kept");
	is_str(json_get_string(json_object_get(s, "process"), "cwd"), "/srv", "cwd override");
	json_decref(s);

	json_t *empty = json_array();
	o.args = empty;
	o.env = NULL;
	o.cwd = NULL;
	s = gen(&o, NULL);
	ok(json_eq_text(PROC(s, "args"), "[\"/ep\",\"-x\",\"a\",\"b\"]"),
	   "empty args keep the image's");
	json_decref(s);
	json_decref(img);

	img = json_loads("{\"config\":{\"Cmd\":[\"sh\"],\"Env\":[\"X=1\"],\"WorkingDir\":\"\"}}", 0,
			 NULL);
	o.image_config = img;
	o.args = NULL;
	o.terminal = true;
	s = gen(&o, NULL);
	ok(json_eq_text(PROC(s, "args"), "[\"sh\"]"), "Cmd alone");
	ok(json_eq_text(PROC(s, "env"),
			"[\"X=1\",\"" SPEC_DEFAULT_PATH "\",\"TERM=xterm\",\"HOME=/\"]"),
	   "PATH default added after the image env, TERM with a terminal");
	ok(json_is_true(PROC(s, "terminal")), "terminal");
	is_str(json_get_string(json_object_get(s, "process"), "cwd"), "/", "empty WorkingDir: /");
	json_decref(s);
	o.terminal = false;

	o.cwd = "";
	o.hostname = "";
	s = gen(&o, NULL);
	is_str(json_get_string(json_object_get(s, "process"), "cwd"), "/", "an empty cwd: default");
	is_str(json_get_string(s, "hostname"), "c", "an empty hostname: the id");
	json_decref(s);
	o.hostname = NULL;
	o.cwd = "rel/dir";
	ok(fails(&o, "`cwd` `rel/dir` must be an absolute path"), "relative cwd refused");
	o.cwd = NULL;
	json_t *bad_env = json_pack("[s]", "NOEQUALS");
	o.env = bad_env;
	ok(fails(&o, "`env` item `NOEQUALS` must be KEY=VALUE"), "env without = refused");
	json_decref(bad_env);
	bad_env = json_pack("[i]", 3);
	o.env = bad_env;
	ok(fails(&o, "`env` must be an array of strings"), "env of numbers refused");
	json_decref(bad_env);
	o.env = NULL;
	json_t *bad_args = json_pack("[s, i]", "a", 1);
	o.args = bad_args;
	ok(fails(&o, "`args` must be an array of strings"), "args of numbers refused");
	json_decref(bad_args);
	o.args = NULL;
	json_decref(img);

	img = json_loads("{\"config\":{\"Env\":[\"X=1\"]}}", 0, NULL);
	o.image_config = img;
	ok(fails(&o, "no command"), "no Entrypoint, no Cmd, no args: refused");
	json_decref(img);
	img = json_loads("{\"config\":{\"Cmd\":\"sh\"}}", 0, NULL);
	o.image_config = img;
	ok(fails(&o, "image config: `Cmd` must be an array"), "Cmd as a string refused");
	json_decref(img);
	img = json_loads("{\"config\":{\"Entrypoint\":[\"\"],\"Cmd\":[\"x\"]}}", 0, NULL);
	o.image_config = img;
	ok(fails(&o, "image config: the command (Entrypoint, then Cmd) is empty"),
	   "an empty Entrypoint[0] refused");
	json_t *empty_args = json_pack("[s]", "");
	o.args = empty_args;
	ok(fails(&o, "`args[0]` is empty"), "empty args[0] refused");
	o.args = NULL;
	json_decref(empty_args);
	json_decref(img);
	/* runc refuses these at start; berth at create, naming the entry */
	static const char *const bad_image_env[] = { "{\"config\":{\"Cmd\":[\"sh\"],\"Env\":[\"=c=b\"]}}",
					       "{\"config\":{\"Cmd\":[\"sh\"],\"Env\":[\"NOEQ\"]}}" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_image_env); i++) {
		img = json_loads(bad_image_env[i], 0, NULL);
		o.image_config = img;
		ok(fails(&o, "image config: `Env` item `"), "image Env without a key refused: %s",
		   bad_image_env[i]);
		json_decref(img);
	}
	json_decref(args);
	json_decref(env);
	json_decref(empty);
}

/* Layers: lower has passwd and group; upper whites out etc/group; opaque
 * has an opaque etc/ without passwd; sym's etc/passwd is a symlink that
 * would leave the layer. */
static bool make_layers(void)
{
	put("lower/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
				"# a comment\n"
				"bob:x:1000:1000:Bob:/home/bob:/bin/sh\n"
				"alice:x:1001:1001::/home/alice:/bin/sh\n"
				"broken line\n"
				"nohome:x:1002:1002\n");
	put("lower/etc/group", "root:x:0:\n"
			       "wheel:x:10:bob\n"
			       "bob:x:1000:bob\n"
			       "audio:x:29:alice,bob\n"
			       "staff:x:50:alice\n");
	put("upper/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
				"bob:x:1000:1000:Bob:/home/bob2:/bin/sh\n");
	if (mknod(p("upper/etc/group"), S_IFCHR | 0600, makedev(0, 0)) < 0) {
		diag("mknod a whiteout: %s", strerror(errno));
		return false;
	}
	put("opaque/etc/hosts", "");
	if (setxattr(p("opaque/etc"), "trusted.overlay.opaque", "y", 1, 0) < 0) {
		diag("setxattr: %s", strerror(errno));
		return false;
	}
	put("host-passwd", "hostuser:x:7:7::/:/bin/sh\n");
	put("sym/host-passwd", "layeruser:x:8:8::/l:/bin/sh\n");
	mkdir_p(p("sym/etc"), 0755);
	if (symlink("../../host-passwd", p("sym/etc/passwd")) < 0)
		return false;
	put("dangling/etc/x", "");
	if (symlink("/nowhere/passwd", p("dangling/etc/passwd")) < 0)
		return false;
	return true;
}

static bool user_is(const char *const *layers, const char *user, const char *want_json,
		    const char *home)
{
	struct spec_user u;
	err_t err = NULL;
	if (spec_user_resolve(layers, user, &u, &err) < 0) {
		diag("`%s`: %s", user, err->msg);
		err_free(&err);
		return false;
	}
	json_t *gids = json_array();
	for (size_t i = 0; i < u.ngids; i++)
		json_array_append_new(gids, json_integer(u.gids[i]));
	json_t *got = json_pack("{s:I, s:I, s:o}", "uid", (json_int_t)u.uid, "gid",
				(json_int_t)u.gid, "additionalGids", gids);
	bool eq = json_eq_text(got, want_json);
	if (home || u.home)
		eq = eq && home && u.home && strcmp(home, u.home) == 0;
	if (!eq)
		diag("`%s`: home `%s`", user, u.home ? u.home : "(null)");
	json_decref(got);
	spec_user_release(&u);
	return eq;
}

static bool user_fails(const char *const *layers, const char *user, const char *msg)
{
	struct spec_user u;
	err_t err = NULL;
	if (spec_user_resolve(layers, user, &u, &err) == 0) {
		spec_user_release(&u);
		diag("`%s` resolved", user);
		return false;
	}
	bool r = err->kind == E_INVALID_ARGUMENT && strcmp(err->msg, msg) == 0;
	if (!r)
		diag("`%s`: got `%s`", user, err->msg);
	err_free(&err);
	return r;
}

static void test_users(void)
{
	if (!make_layers()) {
		ok(0, "layer fixtures (needs root for the whiteout and trusted xattr)");
		return;
	}
	const char *lower[] = { p("lower"), NULL };
	const char *both[] = { p("upper"), p("lower"), NULL };
	ok(user_is(lower, "bob", "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000,10,29]}",
		   "/home/bob"),
	   "bob by name, groups listing bob but not the one named bob");
	ok(user_is(lower, "1000", "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000,10,29]}",
		   "/home/bob"),
	   "bob by uid");
	ok(user_is(lower, "1001:10", "{\"uid\":1001,\"gid\":10,\"additionalGids\":[10,29,50]}",
		   "/home/alice"),
	   "uid:gid");
	ok(user_is(lower, "bob:staff", "{\"uid\":1000,\"gid\":50,\"additionalGids\":[50,10,29]}",
		   "/home/bob"),
	   "name:group");
	ok(user_is(lower, "1000:audio", "{\"uid\":1000,\"gid\":29,\"additionalGids\":[29,10]}",
		   "/home/bob"),
	   "uid:group");
	ok(user_is(lower, "alice:0", "{\"uid\":1001,\"gid\":0,\"additionalGids\":[0,29,50]}",
		   "/home/alice"),
	   "name:gid");
	ok(user_is(lower, "", "{\"uid\":0,\"gid\":0,\"additionalGids\":[0]}", "/root"),
	   "no user: root");
	ok(user_is(lower, "4242", "{\"uid\":4242,\"gid\":0,\"additionalGids\":[0]}", NULL),
	   "a uid without an entry: gid 0, no home");
	ok(user_is(lower, "nohome", "{\"uid\":1002,\"gid\":1002,\"additionalGids\":[1002]}",
		   NULL),
	   "a short passwd line");
	ok(user_is(NULL, "123:456", "{\"uid\":123,\"gid\":456,\"additionalGids\":[456]}", NULL),
	   "numbers without layers");
	ok(user_fails(lower, "nobody", "no user `nobody` in the image's /etc/passwd"),
	   "unknown name");
	ok(user_fails(NULL, "bob", "no user `bob` in the image's /etc/passwd"),
	   "a name without layers");
	ok(user_fails(lower, "bob:nogroup", "no group `nogroup` in the image's /etc/group"),
	   "unknown group");
	ok(user_fails(lower, "a:b:c", "user `a:b:c` must be name, uid, name:group or uid:gid"),
	   "three parts");
	ok(user_fails(lower, ":10", "user `:10` must be name, uid, name:group or uid:gid"),
	   "empty user part");
	ok(user_fails(lower, "#", "no user `#` in the image's /etc/passwd"),
	   "a comment is not a user");

	ok(user_is(both, "bob", "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000]}",
		   "/home/bob2"),
	   "upper passwd wins; /etc/group whited out: no supplementary groups");
	ok(user_fails(both, "bob:wheel", "no group `wheel` in the image's /etc/group"),
	   "whited-out /etc/group hides the lower one");
	ok(user_fails(both, "alice", "no user `alice` in the image's /etc/passwd"),
	   "the upper passwd replaces the lower one whole");

	const char *opaque[] = { p("opaque"), p("lower"), NULL };
	ok(user_fails(opaque, "bob", "no user `bob` in the image's /etc/passwd"),
	   "an opaque /etc hides the lower passwd");
	const char *sym[] = { p("sym"), p("lower"), NULL };
	ok(user_fails(sym, "hostuser", "no user `hostuser` in the image's /etc/passwd"),
	   "a symlink climbing out of its layer stays inside it");
	ok(user_is(sym, "layeruser", "{\"uid\":8,\"gid\":8,\"additionalGids\":[8]}", "/l"),
	   "... and reads the layer's own file");
	const char *dangling[] = { p("dangling"), p("lower"), NULL };
	ok(user_fails(dangling, "bob", "no user `bob` in the image's /etc/passwd"),
	   "a dangling symlink hides the lower passwd");
	const char *missing[] = { p("no-such-layer"), p("lower"), NULL };
	ok(user_is(missing, "1000", "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000,10,29]}",
		   "/home/bob"),
	   "a missing layer directory is empty");

	/* through spec_generate: the image's User, the override, HOME */
	json_t *img = json_loads("{\"config\":{\"Cmd\":[\"sh\"],\"User\":\"bob\"}}", 0, NULL);
	struct spec_opts o = { .id = "c", .ns = "n", .image_config = img, .rootfs_layers = lower };
	json_t *s = gen(&o, NULL);
	ok(json_eq_text(PROC(s, "user"), "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000,10,"
					 "29]}"),
	   "the image's User");
	is_str(env_get(s, "HOME"), "/home/bob", "HOME from passwd");
	json_decref(s);
	o.user = "";
	s = gen(&o, NULL);
	ok(json_eq_text(json_object_get(PROC(s, "user"), "uid"), "1000"),
	   "an empty user keeps the image's");
	json_decref(s);
	o.user = "alice";
	s = gen(&o, NULL);
	ok(json_eq_text(json_object_get(PROC(s, "user"), "uid"), "1001"), "user override");
	json_decref(s);
	o.user = "ghost";
	ok(fails(&o, "no user `ghost` in the image's /etc/passwd"), "unknown user refused");
	json_decref(img);
}

static void test_net_host_readonly(void)
{
	json_t *args = json_pack("[s]", "sh");
	struct spec_opts o = { .id = "c", .ns = "n", .args = args, .net_host = true,
			       .readonly_rootfs = true };
	json_t *s = gen(&o, NULL);
	ok(!has_ns(s, "network") && has_ns(s, "pid") && has_ns(s, "uts"),
	   "net_host: no network namespace, the others kept");
	if (access("/etc/resolv.conf", F_OK) == 0)
		ok(json_eq_text(find_mount(s, "/etc/resolv.conf"),
				"{\"destination\":\"/etc/resolv.conf\",\"type\":\"bind\","
				"\"source\":\"/etc/resolv.conf\",\"options\":[\"rbind\",\"ro\"]}"),
		   "host resolv.conf bound read-only");
	if (access("/etc/hosts", F_OK) == 0)
		ok(find_mount(s, "/etc/hosts") != NULL, "host hosts bound");
	char host[256];
	gethostname(host, sizeof(host));
	host[255] = '\0';
	is_str(json_get_string(s, "hostname"), host, "net_host: the host's name");
	ok(json_is_true(json_object_get(json_object_get(s, "root"), "readonly")),
	   "readonly_rootfs");
	json_decref(s);
	o.hostname = "web-1.example";
	s = gen(&o, NULL);
	is_str(json_get_string(s, "hostname"), "web-1.example", "hostname override");
	json_decref(s);
	o.hostname = "bad host";
	ok(fails(&o, "`hostname` `bad host`"), "bad hostname refused");
	o.hostname = NULL;
	o.net_host = false;
	s = gen(&o, NULL);
	ok(has_ns(s, "network") && find_mount(s, "/etc/hosts") == NULL,
	   "without net_host: network namespace, no host files");
	json_decref(s);
	json_decref(args);
}

static bool mounts_fail(const char *mounts_json, const char *needle)
{
	json_t *args = json_pack("[s]", "sh");
	json_t *m = json_loads(mounts_json, JSON_DECODE_ANY, NULL);
	struct spec_opts o = { .id = "c", .ns = "n", .args = args, .mounts = m };
	bool r = fails(&o, needle);
	json_decref(m);
	json_decref(args);
	return r;
}

static void test_mounts(void)
{
	mkdir_p(p("data"), 0755);
	json_t *args = json_pack("[s]", "sh");
	cleanup_free char *mj = xasprintf(
		"[\"%s:/data:ro\",\"%s:/rw:rw\",{\"source\":\"%s\",\"destination\":\"/obj\"},"
		"{\"source\":\"%s\",\"destination\":\"/objro\",\"readonly\":true,\"options\":"
		"[\"nosuid\"]},{\"type\":\"tmpfs\",\"destination\":\"/dev/shm\",\"options\":"
		"[\"size=1m\"]}]",
		p("data"), p("data"), p("data"), p("data"));
	json_t *m = json_loads(mj, 0, NULL);
	struct spec_opts o = { .id = "c", .ns = "n", .args = args, .mounts = m };
	json_t *s = gen(&o, NULL);
	ok(s != NULL, "good mounts accepted");
	cleanup_free char *w1 = xasprintf("{\"destination\":\"/data\",\"type\":\"bind\",\"source\":"
					  "\"%s\",\"options\":[\"rbind\",\"rprivate\",\"ro\"]}",
					  p("data"));
	ok(json_eq_text(find_mount(s, "/data"), w1), "src:dst:ro: rbind, rprivate, ro");
	ok(json_eq_text(json_object_get(find_mount(s, "/rw"), "options"),
			"[\"rbind\",\"rprivate\"]"),
	   "src:dst:rw: writable");
	ok(json_eq_text(json_object_get(find_mount(s, "/obj"), "options"),
			"[\"rbind\",\"rprivate\"]"),
	   "object form");
	ok(json_eq_text(json_object_get(find_mount(s, "/objro"), "options"),
			"[\"rbind\",\"rprivate\",\"nosuid\",\"ro\"]"),
	   "object form, readonly, extra options");
	ok(json_eq_text(find_mount(s, "/dev/shm"),
			"{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
			"\"options\":[\"size=1m\"]}"),
	   "a typed mount replaces the default one at its destination");
	is_int(json_array_size(json_object_get(s, "mounts")), 8 + 4, "mount count");
	err_t err = NULL;
	ok(spec_validate(s, &err) == 0, "validates");
	err_free(&err);
	json_decref(s);
	json_decref(m);
	json_decref(args);

	ok(mounts_fail("[\"/tmp:data\"]", "destination `data` must be an absolute path"),
	   "relative destination");
	ok(mounts_fail("[\"/tmp:/\"]", "destination `/` must not be `/`"), "destination /");
	ok(mounts_fail("[\"/tmp:/a/../etc\"]", "must not contain `..`"), "destination with ..");
	ok(mounts_fail("[\"/no/such/dir:/x\"]", "mount 0: source `/no/such/dir`"),
	   "missing source");
	ok(mounts_fail("[\"tmp:/x\"]", "source `tmp` must be an absolute path"),
	   "relative source");
	ok(mounts_fail("[\"/tmp\"]", "must be src:dst[:ro|rw]"), "no destination");
	ok(mounts_fail("[\"/tmp:/x:zz\"]", "must be src:dst[:ro|rw]"), "bad mode");
	ok(mounts_fail("[\"/tmp:/x:ro:y\"]", "must be src:dst[:ro|rw]"), "four parts");
	ok(mounts_fail("[\"/tmp:/ok\", {\"destination\":\"/x\"}]",
		       "mount 1: source `` must be an absolute path"),
	   "bind without source, second mount named");
	ok(mounts_fail("[{\"source\":\"/tmp\",\"destination\":\"/x\",\"bogus\":1}]",
		       "unknown field `bogus`"),
	   "unknown field");
	ok(mounts_fail("[{\"source\":\"/tmp\",\"destination\":\"/x\",\"readonly\":\"yes\"}]",
		       "field `readonly` must be a boolean"),
	   "readonly not a boolean");
	ok(mounts_fail("[{\"source\":\"/tmp\",\"destination\":\"/x\",\"options\":[1]}]",
		       "must be an array of strings"),
	   "options not strings");
	ok(mounts_fail("[{\"source\":\"/tmp\"}]", "missing required field `destination`"),
	   "no destination field");
	ok(mounts_fail("[3]", "mount 0 must be a JSON object"), "a number");
	ok(mounts_fail("{}", "`mounts` must be an array"), "not an array");
	ok(mounts_fail("[\"/tmp:/x\", {\"type\":\"tmpfs\",\"destination\":\"/x\"}]",
		       "mount 1: destination `/x` is already mount 0's"),
	   "two mounts at one destination");

	args = json_pack("[s]", "sh");
	struct spec_opts no_id = { .ns = "n", .args = args };
	ok(fails(&no_id, "a container id is required"), "no id");
	no_id.id = "";
	ok(fails(&no_id, "a container id is required"), "empty id");
	json_decref(args);
}

static bool limits_fail(int64_t memory, double cpus, int64_t shares, int64_t pids,
			const char *needle)
{
	json_t *args = json_pack("[s]", "sh");
	struct spec_opts o = { .id = "c", .ns = "n", .args = args, .memory = memory,
			       .cpus = cpus, .cpu_shares = shares, .pids = pids };
	bool r = fails(&o, needle);
	json_decref(args);
	return r;
}

static void test_limits(void)
{
	json_t *args = json_pack("[s]", "sh");
	struct spec_opts o = { .id = "c", .ns = "n", .args = args, .memory = 64 << 20,
			       .cpus = 0.5, .cpu_shares = 512, .pids = 100 };
	json_t *s = gen(&o, NULL);
	json_t *res = LINUX(s, "resources");
	ok(json_eq_text(json_object_get(res, "memory"), "{\"limit\":67108864,\"swap\":67108864}"),
	   "memory: limit, swap equal");
	ok(json_eq_text(json_object_get(res, "cpu"),
			"{\"shares\":512,\"quota\":50000,\"period\":100000}"),
	   "cpus 0.5: quota 50000 per 100000, shares");
	ok(json_eq_text(json_object_get(res, "pids"), "{\"limit\":100}"), "pids");
	ok(json_object_get(res, "devices") != NULL, "devices kept");
	json_decref(s);
	o.memory = 0;
	o.cpus = 0;
	o.cpu_shares = 0;
	o.pids = 0;
	s = gen(&o, NULL);
	res = LINUX(s, "resources");
	ok(!json_object_get(res, "memory") && !json_object_get(res, "cpu") &&
		   !json_object_get(res, "pids"),
	   "0 means no limit");
	json_decref(s);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	o.cpus = (double)ncpu;
	s = gen(&o, NULL);
	is_int(json_integer_value(json_object_get(json_object_get(LINUX(s, "resources"), "cpu"),
						  "quota")),
	       ncpu * 100000, "cpus = all host CPUs accepted");
	json_decref(s);
	json_decref(args);

	ok(limits_fail(-1, 0, 0, 0, "`memory` -1"), "negative memory");
	ok(limits_fail(1000, 0, 0, 0, "at least 6291456 bytes"), "memory under 6 MiB");
	ok(limits_fail(0, -1, 0, 0, "`cpus` -1"), "negative cpus");
	ok(limits_fail(0, 1e9, 0, 0, "`cpus` 1e+09 must be"), "absurd cpus");
	ok(limits_fail(0, (double)ncpu + 0.5, 0, 0, "the CPUs of this host"),
	   "more cpus than the host has");
	ok(limits_fail(0, 0.001, 0, 0, "from 0.01"), "cpus under 0.01");
	ok(limits_fail(0, NAN, 0, 0, "`cpus` nan"), "cpus NaN");
	ok(limits_fail(0, INFINITY, 0, 0, "`cpus` inf"), "cpus infinite");
	ok(limits_fail(0, 0, -5, 0, "`cpu_shares` -5"), "negative shares");
	ok(limits_fail(0, 0, 1, 0, "from 2 to 262144"), "shares under 2");
	ok(limits_fail(0, 0, 1000000, 0, "from 2 to 262144"), "shares over 262144");
	ok(limits_fail(0, 0, 0, -1, "`pids` -1"), "negative pids");
	ok(limits_fail(0, 0, 0, 1LL << 40, "up to 4194304"), "absurd pids");
}

static void test_seccomp(void)
{
	json_t *args = json_pack("[s]", "sh");
	struct spec_opts o = { .id = "c", .ns = "n", .args = args };
	json_t *s = gen(&o, NULL);
	json_t *sc = LINUX(s, "seccomp");
	is_str(json_get_string(sc, "defaultAction"), "SCMP_ACT_ERRNO", "default action errno");
	is_int(json_integer_value(json_object_get(sc, "defaultErrnoRet")), 1, "EPERM");
	ok(json_array_size(json_object_get(sc, "architectures")) > 0, "architectures set");
	size_t i, k, names = 0, bad = 0;
	json_t *r, *n;
	json_array_foreach (json_object_get(sc, "syscalls"), i, r) {
		json_array_foreach (json_object_get(r, "names"), k, n) {
			names++;
			if (seccomp_syscall_resolve_name(json_string_value(n)) == __NR_SCMP_ERROR) {
				bad++;
				diag("`%s` does not resolve", json_string_value(n));
			}
		}
	}
	ok(names > 300, "%zu syscall names", names);
	is_int(bad, 0, "every name resolves on this host");
	ok(seccomp_syscall_resolve_name("read") >= 0 && seccomp_rule(s, "read", 0) &&
		   seccomp_rule(s, "openat", 0) && seccomp_rule(s, "execve", 0),
	   "read, openat, execve allowed");
	ok(!seccomp_rule(s, "mount", 0) && !seccomp_rule(s, "unshare", 0) &&
		   !seccomp_rule(s, "reboot", 0) && !seccomp_rule(s, "kexec_load", 0),
	   "mount, unshare, reboot, kexec_load not allowed");
	ok(seccomp_rule(s, "chroot", 0) != NULL, "chroot allowed (CAP_SYS_CHROOT is default)");
	const json_t *clone = seccomp_rule(s, "clone", 0);
	ok(clone && json_eq_text(json_object_get(clone, "args"),
				 "[{\"index\":0,\"value\":2114060288,\"valueTwo\":0,\"op\":"
				 "\"SCMP_CMP_MASKED_EQ\"}]"),
	   "clone only without namespace flags");
	const json_t *clone3 = seccomp_rule(s, "clone3", 0);
	ok(clone3 && json_eq_text(clone3, "{\"names\":[\"clone3\"],\"action\":\"SCMP_ACT_ERRNO\","
					  "\"errnoRet\":38}"),
	   "clone3: ENOSYS");
	ok(seccomp_rule(s, "personality", 4) != NULL && seccomp_rule(s, "personality", 5) == NULL,
	   "five personality rules");
	ok(json_eq_text(json_object_get(seccomp_rule(s, "personality", 0), "args"),
			"[{\"index\":0,\"value\":0,\"valueTwo\":0,\"op\":\"SCMP_CMP_EQ\"}]"),
	   "personality(PER_LINUX)");
#if defined(__x86_64__)
	ok(seccomp_rule(s, "arch_prctl", 0) != NULL, "x86_64: arch_prctl");
	ok(json_eq_text(json_object_get(sc, "architectures"),
			"[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"]"),
	   "x86_64 architectures");
#endif
	json_decref(s);

	json_t *caps = json_pack("[s, s, s]", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_TIME");
	json_t *prof = spec_seccomp_default(caps);
	json_t *wrap = json_pack("{s:{s:O}}", "linux", "seccomp", prof);
	clone = seccomp_rule(wrap, "clone", 0);
	ok(clone && !json_object_get(clone, "args") && !seccomp_rule(wrap, "clone", 1),
	   "CAP_SYS_ADMIN: clone unrestricted");
	ok(seccomp_rule(wrap, "mount", 0) && seccomp_rule(wrap, "setns", 0),
	   "CAP_SYS_ADMIN: mount, setns");
	clone3 = seccomp_rule(wrap, "clone3", 0);
	ok(clone3 && json_eq_text(json_object_get(clone3, "action"), "\"SCMP_ACT_ALLOW\""),
	   "CAP_SYS_ADMIN: clone3 allowed");
	ok(seccomp_rule(wrap, "kcmp", 0) && seccomp_rule(wrap, "settimeofday", 0),
	   "CAP_SYS_PTRACE, CAP_SYS_TIME groups");
	ok(!seccomp_rule(wrap, "chroot", 0), "no CAP_SYS_CHROOT: no chroot");
	json_decref(wrap);
	json_decref(prof);
	json_decref(caps);
	json_decref(args);
}

static bool invalid(const char *text, const char *needle)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	err_t err = NULL;
	bool r = false;
	if (!j)
		diag("bad test JSON %s", text);
	else if (spec_validate(j, &err) == 0)
		diag("valid: %s", text);
	else if (err->kind != E_INVALID_ARGUMENT || !strstr(err->msg, needle))
		diag("got `%s`, want `%s`", err->msg, needle);
	else
		r = true;
	err_free(&err);
	json_decref(j);
	return r;
}

#define MIN_PROC "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}}"
#define MIN_ROOT "\"root\":{\"path\":\"rootfs\"}"
#define MIN "\"ociVersion\":\"1.0.2\"," MIN_PROC "," MIN_ROOT

static void test_validate(void)
{
	err_t err = NULL;
	json_t *j = json_loads("{" MIN "}", 0, NULL);
	ok(spec_validate(j, &err) == 0, "a minimal spec validates");
	err_free(&err);
	json_decref(j);
	ok(invalid("[]", "spec must be a JSON object"), "not an object");
	ok(invalid("\"x\"", "spec must be a JSON object"), "a string");
	ok(invalid("{" MIN_PROC "," MIN_ROOT "}", "`ociVersion` is required"), "no ociVersion");
	ok(invalid("{\"ociVersion\":\"0.9\"," MIN_PROC "," MIN_ROOT "}", "not a 1.x"),
	   "old ociVersion");
	ok(invalid("{\"ociVersion\":\"1.0.2\"," MIN_ROOT "}", "`process` is required"),
	   "no process");
	ok(invalid("{\"ociVersion\":\"1.0.2\",\"process\":{\"cwd\":\"/\",\"user\":{\"uid\":0,"
		   "\"gid\":0}}," MIN_ROOT "}",
		   "`process.args` is required"),
	   "missing process.args");
	ok(invalid("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[],\"cwd\":\"/\",\"user\":{"
		   "\"uid\":0,\"gid\":0}}," MIN_ROOT "}",
		   "`process.args` must not be empty"),
	   "empty process.args");
	ok(invalid("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\",1],\"cwd\":\"/\","
		   "\"user\":{\"uid\":0,\"gid\":0}}," MIN_ROOT "}",
		   "`process.args[1]` must be a string"),
	   "args not strings");
	ok(invalid("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"tmp\","
		   "\"user\":{\"uid\":0,\"gid\":0}}," MIN_ROOT "}",
		   "`process.cwd` must be an absolute path"),
	   "relative cwd");
	ok(invalid("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
		   "\"user\":{\"uid\":-1,\"gid\":0}}," MIN_ROOT "}",
		   "`process.user.uid` must not be negative"),
	   "negative uid");
	ok(invalid("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
		   "\"user\":{\"uid\":\"0\",\"gid\":0}}," MIN_ROOT "}",
		   "`process.user.uid` must be an integer"),
	   "uid as a string");
	ok(invalid("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
		   "\"terminal\":\"yes\",\"user\":{\"uid\":0,\"gid\":0}}," MIN_ROOT "}",
		   "`process.terminal` must be a boolean"),
	   "terminal as a string");
	ok(invalid("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
		   "\"env\":[\"A\"],\"user\":{\"uid\":0,\"gid\":0}}," MIN_ROOT "}",
		   "`process.env[0]` must be KEY=VALUE"),
	   "env without =");
	ok(invalid("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
		   "\"capabilities\":{\"bounding\":[\"SYS_ADMIN\"]},\"user\":{\"uid\":0,\"gid\":0}},"
		   MIN_ROOT "}",
		   "`SYS_ADMIN` is not a capability"),
	   "capability without CAP_");
	ok(invalid("{\"ociVersion\":\"1.0.2\"," MIN_PROC "}", "`root` is required"), "no root");
	ok(invalid("{\"ociVersion\":\"1.0.2\"," MIN_PROC ",\"root\":{\"path\":\"\"}}",
		   "`root.path` must not be empty"),
	   "empty root.path");
	ok(invalid("{" MIN ",\"mounts\":[{\"destination\":\"proc\",\"type\":\"proc\"}]}",
		   "`mounts[0].destination` must be an absolute path"),
	   "bad mount destination");
	ok(invalid("{" MIN ",\"mounts\":[{\"type\":\"proc\"}]}",
		   "`mounts[0].destination` is required"),
	   "mount without destination");
	ok(invalid("{" MIN ",\"mounts\":{}}", "`mounts` must be an array"), "mounts object");
	ok(invalid("{" MIN ",\"mounts\":[{\"destination\":\"/x\",\"options\":\"ro\"}]}",
		   "`mounts[0].options` must be an array"),
	   "mount options a string");
	ok(invalid("{" MIN ",\"linux\":{\"namespaces\":[{\"type\":\"bogus\"}]}}",
		   "`bogus` is not a namespace type"),
	   "unknown namespace");
	ok(invalid("{" MIN ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}}",
		   "appears twice"),
	   "duplicate namespace");
	ok(invalid("{" MIN ",\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"x\"}]}}",
		   "`linux.namespaces[0].path` must be an absolute path"),
	   "relative namespace path");
	ok(invalid("{" MIN ",\"linux\":{\"resources\":{\"memory\":{\"limit\":\"1g\"}}}}",
		   "`linux.resources.memory.limit` must be an integer"),
	   "memory limit as a string");
	ok(invalid("{" MIN ",\"linux\":{\"resources\":{\"memory\":{\"limit\":-5}}}}",
		   "`linux.resources.memory.limit` must be -1"),
	   "negative memory limit");
	ok(invalid("{" MIN ",\"linux\":{\"resources\":{\"cpu\":{\"shares\":-1}}}}",
		   "`linux.resources.cpu.shares` must not be negative"),
	   "negative shares");
	ok(invalid("{" MIN ",\"linux\":{\"resources\":{\"pids\":{\"limit\":-2}}}}",
		   "`linux.resources.pids.limit`"),
	   "bad pids limit");
	ok(invalid("{" MIN ",\"linux\":{\"maskedPaths\":[\"proc/kcore\"]}}",
		   "`linux.maskedPaths[0]` must be an absolute path"),
	   "relative masked path");
	ok(invalid("{" MIN ",\"linux\":[]}", "`linux` must be an object"), "linux array");
	ok(invalid("{" MIN ",\"hostname\":5}", "`hostname` must be a string"), "hostname number");
	ok(invalid("{" MIN ",\"linux\":{\"seccomp\":{\"syscalls\":[]}}}",
		   "`linux.seccomp.defaultAction` is required"),
	   "seccomp without defaultAction");
}

static int rm_cb(const char *path)
{
	cleanup_free char *cmd = xasprintf("rm -rf '%s'", path);
	return system(cmd);
}

int main(void)
{
	plan_lazy();
	if (!mkdtemp(tmp))
		return 1;
	test_default();
	test_image_config();
	test_users();
	test_net_host_readonly();
	test_mounts();
	test_limits();
	test_seccomp();
	test_validate();
	rm_cb(tmp);
	return done_testing();
}
