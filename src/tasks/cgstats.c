#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tasks/cgstats.h"

static const char *const v1_names[CG_NCONTROLLERS] = {
	[CG_MEMORY] = "memory", [CG_CPU] = "cpu",   [CG_CPUACCT] = "cpuacct",
	[CG_PIDS] = "pids",     [CG_BLKIO] = "blkio",
};

/* v1 memory.limit_in_bytes without a limit is LONG_MAX rounded down to a
 * page: anything this large means unlimited. */
#define V1_UNLIMITED (UINT64_C(1) << 62)

/* ---- mounts ---------------------------------------------------------------- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

static void set_mount(char **mnt, char **root, const char *point, const char *r)
{
	if (*mnt)
		return; /* the first mount of a hierarchy wins */
	*mnt = unescape(point);
	*root = unescape(r);
}

int cgstats_mounts_parse(struct cg_mounts *m, const char *mountinfo, err_t *err)
{
	cleanup_free char *copy = xstrdup(mountinfo);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[6] = { 0 }, *p = line, *tok, *save2 = NULL;
		size_t n = 0;
		while (n < 6 && (tok = strtok_r(n ? NULL : p, " ", &save2)))
			f[n++] = tok;
		if (n < 6)
			return make_error(err, E_INTERNAL, 0, "mountinfo: malformed line");
		/* optional fields up to "-", then fstype, source, super options */
		while ((tok = strtok_r(NULL, " ", &save2)) && strcmp(tok, "-") != 0)
			;
		char *fstype = tok ? strtok_r(NULL, " ", &save2) : NULL;
		char *source = fstype ? strtok_r(NULL, " ", &save2) : NULL;
		char *super = source ? strtok_r(NULL, " ", &save2) : NULL;
		if (!super)
			return make_error(err, E_INTERNAL, 0, "mountinfo: malformed line");
		if (strcmp(fstype, "cgroup2") == 0) {
			set_mount(&m->v2, &m->v2_root, f[4], f[3]);
		} else if (strcmp(fstype, "cgroup") == 0) {
			char *save3 = NULL;
			for (char *o = strtok_r(super, ",", &save3); o; o = strtok_r(NULL, ",", &save3))
				for (int c = 0; c < CG_NCONTROLLERS; c++)
					if (strcmp(o, v1_names[c]) == 0)
						set_mount(&m->v1[c], &m->v1_root[c], f[4], f[3]);
		}
	}
	return 0;
}

int cgstats_mounts_read(struct cg_mounts *m, err_t *err)
{
	cleanup_free char *text = read_file("/proc/self/mountinfo", NULL);
	if (!text)
		return make_error(err, E_INTERNAL, errno, "read `/proc/self/mountinfo`");
	return cgstats_mounts_parse(m, text, err);
}

void cgstats_mounts_release(struct cg_mounts *m)
{
	free(m->v2);
	free(m->v2_root);
	for (int c = 0; c < CG_NCONTROLLERS; c++) {
		free(m->v1[c]);
		free(m->v1_root[c]);
	}
	*m = (struct cg_mounts)CG_MOUNTS_INIT;
}

/* mount + path with the mount's root taken off path; NULL when path lies
 * outside what the mount shows. */
static char *join_cgroup(const char *mnt, const char *root, const char *path)
{
	if (root && strcmp(root, "/") != 0) {
		size_t n = strlen(root);
		if (strncmp(path, root, n) != 0 || (path[n] != '/' && path[n] != '\0'))
			return NULL;
		path += n;
	}
	while (*path == '/')
		path++;
	return *path ? xasprintf("%s/%s", mnt, path) : xstrdup(mnt);
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- content parsers ------------------------------------------------------- */

static int malformed(err_t *err, const char *file, const char *what)
{
	return make_error(err, E_INTERNAL, 0, "malformed `%s`: %s", file, what);
}

static bool word_u64(const char *s, size_t len, uint64_t *v)
{
	char tmp[32];
	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return parse_u64(tmp, v);
}

int cgstats_parse_flat(const char *file, const char *text, json_t *obj, err_t *err)
{
	const char *p = text;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len) {
			const char *sp = memchr(p, ' ', len);
			uint64_t v;
			if (!sp || sp == p ||
			    !word_u64(sp + 1, len - (size_t)(sp + 1 - p), &v) || v > INT64_MAX)
				return malformed(err, file, "expected `key value` lines");
			cleanup_free char *key = xstrndup(p, (size_t)(sp - p));
			json_object_set_new(obj, key, json_integer((json_int_t)v));
		}
		p += len + (eol ? 1 : 0);
	}
	return 0;
}

int cgstats_parse_value(const char *file, const char *text, uint64_t *v, bool *unlimited,
			err_t *err)
{
	size_t len = strlen(text);
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	*unlimited = false;
	if (len == 3 && memcmp(text, "max", 3) == 0) {
		*unlimited = true;
		*v = UINT64_MAX;
		return 0;
	}
	if (!word_u64(text, len, v))
		return malformed(err, file, "expected an integer or `max`");
	return 0;
}

int cgstats_parse_blkio(const char *file, const char *text, uint64_t *read, uint64_t *write,
			err_t *err)
{
	*read = *write = 0;
	cleanup_free char *copy = xstrdup(text);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *w[3];
		size_t n = 0;
		char *save2 = NULL, *tok;
		while (n < 3 && (tok = strtok_r(n ? NULL : line, " ", &save2)))
			w[n++] = tok;
		if (n == 2 && strcmp(w[0], "Total") == 0)
			continue;
		uint64_t v;
		if (n != 3 || !strchr(w[0], ':') || !parse_u64(w[2], &v))
			return malformed(err, file, "expected `major:minor op value` lines");
		if (strcmp(w[1], "Read") == 0)
			*read += v;
		else if (strcmp(w[1], "Write") == 0)
			*write += v;
	}
	return 0;
}

int cgstats_parse_iostat(const char *file, const char *text, uint64_t *rbytes,
			 uint64_t *wbytes, uint64_t *rios, uint64_t *wios, err_t *err)
{
	*rbytes = *wbytes = *rios = *wios = 0;
	cleanup_free char *copy = xstrdup(text);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *save2 = NULL;
		char *dev = strtok_r(line, " ", &save2);
		if (!dev || !strchr(dev, ':'))
			return malformed(err, file, "expected `major:minor key=value...` lines");
		for (char *kv; (kv = strtok_r(NULL, " ", &save2));) {
			char *eq = strchr(kv, '=');
			uint64_t v;
			if (!eq || !parse_u64(eq + 1, &v))
				return malformed(err, file, "expected `key=value` pairs");
			*eq = '\0';
			if (strcmp(kv, "rbytes") == 0)
				*rbytes += v;
			else if (strcmp(kv, "wbytes") == 0)
				*wbytes += v;
			else if (strcmp(kv, "rios") == 0)
				*rios += v;
			else if (strcmp(kv, "wios") == 0)
				*wios += v;
		}
	}
	return 0;
}

/* ---- reading a directory --------------------------------------------------- */

/* The text of dir/name: 1 read, 0 absent (no such file), -1 error. */
static int slurp(const char *dir, const char *name, char **text, err_t *err)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);
	*text = read_file(p, NULL);
	if (*text)
		return 1;
	if (errno == ENOENT || errno == ENODEV || errno == ENOTSUP)
		return 0;
	return make_error(err, E_INTERNAL, errno, "read `%s`", p);
}

/* dir/name as one value: 1 read, 0 absent, -1 error. */
static int read_value(const char *dir, const char *name, uint64_t *v, bool *unlimited,
		      err_t *err)
{
	cleanup_free char *text = NULL;
	int r = slurp(dir, name, &text, err);
	if (r <= 0)
		return r;
	return cgstats_parse_value(name, text, v, unlimited, err) < 0 ? -1 : 1;
}

static int read_flat(const char *dir, const char *name, json_t **out, err_t *err)
{
	cleanup_free char *text = NULL;
	int r = slurp(dir, name, &text, err);
	if (r <= 0)
		return r;
	json_t *o = json_object();
	if (cgstats_parse_flat(name, text, o, err) < 0) {
		json_decref(o);
		return -1;
	}
	*out = o;
	return 1;
}

static json_t *u64_json(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *limit_json(uint64_t v, bool unlimited)
{
	return unlimited ? json_null() : u64_json(v);
}

static uint64_t flat_u64(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static int pids_section(json_t *out, const char *dir, err_t *err)
{
	uint64_t cur, max;
	bool unl;
	int r = read_value(dir, "pids.current", &cur, &unl, err);
	if (r <= 0)
		return r;
	if (unl)
		return malformed(err, "pids.current", "expected an integer");
	if ((r = read_value(dir, "pids.max", &max, &unl, err)) < 0)
		return -1;
	json_object_set_new(out, "pids",
			    json_pack("{s:o,s:o}", "current", u64_json(cur), "limit",
				      r ? limit_json(max, unl) : json_null()));
	return 0;
}

json_t *cgstats_read_v2(const char *dir, err_t *err)
{
	cleanup_json json_t *out = json_pack("{s:s}", "cgroup", "v2");
	json_t *o = NULL;
	uint64_t v, lim;
	bool unl, lunl;
	int r;

	/* cpu.stat exists without the cpu controller too (usage only) */
	if ((r = read_flat(dir, "cpu.stat", &o, err)) < 0)
		return NULL;
	if (r) {
		json_object_set_new(out, "cpu",
				    json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}",
					      "usage_ns", u64_json(flat_u64(o, "usage_usec") * 1000),
					      "user_ns", u64_json(flat_u64(o, "user_usec") * 1000),
					      "system_ns", u64_json(flat_u64(o, "system_usec") * 1000),
					      "periods", u64_json(flat_u64(o, "nr_periods")),
					      "throttled_periods", u64_json(flat_u64(o, "nr_throttled")),
					      "throttled_ns",
					      u64_json(flat_u64(o, "throttled_usec") * 1000)));
		json_decref(o);
	}

	if ((r = read_value(dir, "memory.current", &v, &unl, err)) < 0)
		return NULL;
	if (r) {
		if (unl)
			return malformed(err, "memory.current", "expected an integer"), NULL;
		if ((r = read_value(dir, "memory.max", &lim, &lunl, err)) < 0)
			return NULL;
		json_t *mem = json_pack("{s:o,s:o}", "usage", u64_json(v), "limit",
					r ? limit_json(lim, lunl) : json_null());
		json_object_set_new(out, "memory", mem);
		uint64_t peak;
		bool punl;
		if ((r = read_value(dir, "memory.peak", &peak, &punl, err)) < 0)
			return NULL;
		if (r && !punl)
			json_object_set_new(mem, "max_usage", u64_json(peak));
		json_t *stat = NULL;
		if ((r = read_flat(dir, "memory.stat", &stat, err)) < 0)
			return NULL;
		json_object_set_new(mem, "stat", r ? stat : json_object());
		json_t *ev = NULL;
		if ((r = read_flat(dir, "memory.events", &ev, err)) < 0)
			return NULL;
		if (r)
			json_object_set_new(mem, "events",
					    json_pack("{s:o,s:o}", "oom", u64_json(flat_u64(ev, "oom")),
						      "oom_kill",
						      u64_json(flat_u64(ev, "oom_kill"))));
		json_decref(ev);
	}

	if (pids_section(out, dir, err) < 0)
		return NULL;

	cleanup_free char *text = NULL;
	if ((r = slurp(dir, "io.stat", &text, err)) < 0)
		return NULL;
	if (r) {
		uint64_t rb, wb, ri, wi;
		if (cgstats_parse_iostat("io.stat", text, &rb, &wb, &ri, &wi, err) < 0)
			return NULL;
		json_object_set_new(out, "io",
				    json_pack("{s:o,s:o,s:o,s:o}", "read_bytes", u64_json(rb),
					      "write_bytes", u64_json(wb), "read_ops", u64_json(ri),
					      "write_ops", u64_json(wi)));
	}
	return steal_ptr(&out);
}

/* blkio's first present file of names: 1 read, 0 none, -1 error. */
static int read_blkio(const char *dir, const char *const *names, uint64_t *rd, uint64_t *wr,
		      err_t *err)
{
	for (; *names; names++) {
		cleanup_free char *text = NULL;
		int r = slurp(dir, *names, &text, err);
		if (r < 0)
			return -1;
		/* the _recursive files exist but stay empty on some kernels */
		if (r && (*text || !names[1]))
			return cgstats_parse_blkio(*names, text, rd, wr, err) < 0 ? -1 : 1;
	}
	return 0;
}

json_t *cgstats_read_v1(const char *const dirs[CG_NCONTROLLERS], err_t *err)
{
	cleanup_json json_t *out = json_pack("{s:s}", "cgroup", "v1");
	uint64_t v, lim;
	bool unl, lunl;
	int r;

	if (dirs[CG_CPUACCT]) {
		if ((r = read_value(dirs[CG_CPUACCT], "cpuacct.usage", &v, &unl, err)) < 0)
			return NULL;
		if (r) {
			if (unl)
				return malformed(err, "cpuacct.usage", "expected an integer"), NULL;
			json_t *cpu = json_pack("{s:o}", "usage_ns", u64_json(v));
			json_object_set_new(out, "cpu", cpu);
			json_t *st = NULL;
			if ((r = read_flat(dirs[CG_CPUACCT], "cpuacct.stat", &st, err)) < 0)
				return NULL;
			/* cpuacct.stat counts USER_HZ ticks */
			long hz = sysconf(_SC_CLK_TCK);
			uint64_t tick = hz > 0 ? UINT64_C(1000000000) / (uint64_t)hz : 10000000;
			json_object_set_new(cpu, "user_ns", u64_json(flat_u64(st, "user") * tick));
			json_object_set_new(cpu, "system_ns",
					    u64_json(flat_u64(st, "system") * tick));
			json_decref(st);
		}
	}
	if (dirs[CG_CPU]) {
		json_t *st = NULL;
		if ((r = read_flat(dirs[CG_CPU], "cpu.stat", &st, err)) < 0)
			return NULL;
		if (r) {
			json_t *cpu = json_object_get(out, "cpu");
			if (!cpu) {
				cpu = json_object();
				json_object_set_new(out, "cpu", cpu);
			}
			json_object_set_new(cpu, "periods", u64_json(flat_u64(st, "nr_periods")));
			json_object_set_new(cpu, "throttled_periods",
					    u64_json(flat_u64(st, "nr_throttled")));
			json_object_set_new(cpu, "throttled_ns",
					    u64_json(flat_u64(st, "throttled_time")));
			json_decref(st);
		}
	}

	const char *md = dirs[CG_MEMORY];
	if (md && (r = read_value(md, "memory.usage_in_bytes", &v, &unl, err)) != 0) {
		if (r < 0)
			return NULL;
		if (unl)
			return malformed(err, "memory.usage_in_bytes", "expected an integer"), NULL;
		if ((r = read_value(md, "memory.limit_in_bytes", &lim, &lunl, err)) < 0)
			return NULL;
		json_t *mem = json_pack("{s:o,s:o}", "usage", u64_json(v), "limit",
					r && !lunl && lim < V1_UNLIMITED ? u64_json(lim) : json_null());
		json_object_set_new(out, "memory", mem);
		static const char *const extra[][2] = {
			{ "memory.max_usage_in_bytes", "max_usage" },
			{ "memory.failcnt", "failcnt" },
		};
		for (size_t i = 0; i < ARRAY_SIZE(extra); i++) {
			if ((r = read_value(md, extra[i][0], &lim, &lunl, err)) < 0)
				return NULL;
			if (r && !lunl)
				json_object_set_new(mem, extra[i][1], u64_json(lim));
		}
		json_t *stat = NULL;
		if ((r = read_flat(md, "memory.stat", &stat, err)) < 0)
			return NULL;
		json_object_set_new(mem, "stat", r ? stat : json_object());
		json_t *oc = NULL;
		if ((r = read_flat(md, "memory.oom_control", &oc, err)) < 0)
			return NULL;
		if (r && json_object_get(oc, "oom_kill"))
			json_object_set_new(mem, "events",
					    json_pack("{s:o}", "oom_kill",
						      u64_json(flat_u64(oc, "oom_kill"))));
		json_decref(oc);
	}

	if (dirs[CG_PIDS] && pids_section(out, dirs[CG_PIDS], err) < 0)
		return NULL;

	if (dirs[CG_BLKIO]) {
		static const char *const bytes[] = { "blkio.throttle.io_service_bytes_recursive",
						     "blkio.throttle.io_service_bytes", NULL };
		static const char *const ops[] = { "blkio.throttle.io_serviced_recursive",
						   "blkio.throttle.io_serviced", NULL };
		uint64_t rd, wr;
		if ((r = read_blkio(dirs[CG_BLKIO], bytes, &rd, &wr, err)) < 0)
			return NULL;
		if (r) {
			json_t *io = json_pack("{s:o,s:o}", "read_bytes", u64_json(rd),
					       "write_bytes", u64_json(wr));
			json_object_set_new(out, "io", io);
			if ((r = read_blkio(dirs[CG_BLKIO], ops, &rd, &wr, err)) < 0)
				return NULL;
			if (r) {
				json_object_set_new(io, "read_ops", u64_json(rd));
				json_object_set_new(io, "write_ops", u64_json(wr));
			}
		}
	}
	return steal_ptr(&out);
}

/* Does the v2 directory have a resource controller (cgroup.controllers)? */
static bool v2_has_controllers(const char *dir)
{
	cleanup_free char *p = xasprintf("%s/cgroup.controllers", dir);
	cleanup_free char *text = read_file(p, NULL);
	if (!text)
		return false;
	static const char *const want[] = { "cpu", "memory", "pids", "io" };
	char *save = NULL;
	for (char *w = strtok_r(text, " \n", &save); w; w = strtok_r(NULL, " \n", &save))
		for (size_t i = 0; i < ARRAY_SIZE(want); i++)
			if (strcmp(w, want[i]) == 0)
				return true;
	return false;
}

json_t *cgstats_read(const struct cg_mounts *m, const char *path, err_t *err)
{
	bool any_v1 = false;
	for (int c = 0; c < CG_NCONTROLLERS; c++)
		any_v1 |= m->v1[c] != NULL;
	if (m->v2) {
		cleanup_free char *dir = join_cgroup(m->v2, m->v2_root, path);
		if (dir && is_dir(dir) && (!any_v1 || v2_has_controllers(dir))) {
			json_t *o = cgstats_read_v2(dir, err);
			return o ? o : (error_wrap(err, "cgroup `%s`", path), NULL);
		}
	}
	char *dirs[CG_NCONTROLLERS] = { 0 };
	bool found = false;
	for (int c = 0; c < CG_NCONTROLLERS; c++) {
		if (!m->v1[c])
			continue;
		dirs[c] = join_cgroup(m->v1[c], m->v1_root[c], path);
		if (dirs[c] && !is_dir(dirs[c])) {
			free(dirs[c]);
			dirs[c] = NULL;
		}
		found |= dirs[c] != NULL;
	}
	json_t *o = NULL;
	if (!found)
		make_error(err, E_NOT_FOUND, 0, "cgroup `%s` not found", path);
	else if (!(o = cgstats_read_v1((const char *const *)dirs, err)))
		error_wrap(err, "cgroup `%s`", path);
	for (int c = 0; c < CG_NCONTROLLERS; c++)
		free(dirs[c]);
	return o;
}
