/* Unit tests for src/tasks/cgstats: mountinfo parsing, layout detection
 * (v1, v2, hybrid), the v1 and v2 readers over fixture directories (files
 * written here, contents as the kernel writes them), absent controllers,
 * unlimited limits, malformed files; and, when this machine lets us mount a
 * cgroup2 hierarchy, a read of a real v2 cgroup. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tasks/cgstats.h"
#include "tap.h"

static char tmp[] = "/tmp/test-cgstats-XXXXXX";

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

static json_int_t geti(json_t *o, const char *path)
{
	cleanup_free char *copy = xstrdup(path);
	char *save = NULL;
	json_t *v = o;
	for (char *k = strtok_r(copy, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = json_object_get(v, k);
	return json_is_integer(v) ? json_integer_value(v) : -12345;
}

/* As this machine's /sys/fs/cgroup/memory/.../memory.stat (abridged). */
static const char v1_memory_stat[] =
	"cache 421888\nrss 1466368\nrss_huge 0\nshmem 0\nmapped_file 0\ndirty 32768\n"
	"writeback 0\nswap 0\npgpgin 1200\npgpgout 740\npgfault 2574\npgmajfault 0\n"
	"inactive_anon 1462272\nactive_anon 4096\ninactive_file 4096\nactive_file 417792\n"
	"unevictable 0\nhierarchical_memory_limit 67108864\n"
	"hierarchical_memsw_limit 9223372036854771712\ntotal_cache 421888\n"
	"total_rss 1466368\ntotal_pgfault 2574\n";

/* From Documentation/admin-guide/cgroup-v2.rst (abridged). */
static const char v2_memory_stat[] =
	"anon 1466368\nfile 421888\nkernel_stack 16384\npagetables 49152\npercpu 0\n"
	"sock 0\nshmem 0\nfile_mapped 0\nfile_dirty 0\nfile_writeback 0\nswapcached 0\n"
	"inactive_anon 1462272\nactive_anon 4096\ninactive_file 4096\nactive_file 417792\n"
	"unevictable 0\nslab_reclaimable 0\nslab_unreclaimable 74976\nslab 74976\n"
	"pgfault 2574\npgmajfault 0\n";

static void write_v1(const char *base, bool with_pids, bool limited)
{
	char rel[256];
#define P(ctl, file) (snprintf(rel, sizeof(rel), "%s/%s/berth/default/c1/%s", base, ctl, file), rel)
	put(P("memory", "memory.usage_in_bytes"), "2138112\n");
	put(P("memory", "memory.limit_in_bytes"), limited ? "67108864\n" : "9223372036854771712\n");
	put(P("memory", "memory.max_usage_in_bytes"), "3297280\n");
	put(P("memory", "memory.failcnt"), "0\n");
	put(P("memory", "memory.stat"), v1_memory_stat);
	put(P("memory", "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
	put(P("cpuacct", "cpuacct.usage"), "51234567\n");
	put(P("cpuacct", "cpuacct.stat"), "user 3\nsystem 2\n");
	put(P("cpu", "cpu.stat"),
	    "nr_periods 40\nnr_throttled 7\nthrottled_time 123456789\nnr_bursts 0\nburst_time 0\n");
	put(P("blkio", "blkio.throttle.io_service_bytes_recursive"),
	    "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 12288\n8:0 Async 0\n8:0 Discard 0\n"
	    "8:0 Total 12288\n8:16 Read 100\n8:16 Write 0\n8:16 Sync 100\n8:16 Async 0\n"
	    "8:16 Discard 0\n8:16 Total 100\nTotal 12388\n");
	put(P("blkio", "blkio.throttle.io_serviced_recursive"),
	    "8:0 Read 1\n8:0 Write 2\n8:0 Sync 3\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 3\n"
	    "Total 3\n");
	if (with_pids) {
		put(P("pids", "pids.current"), "3\n");
		put(P("pids", "pids.max"), "max\n");
	}
#undef P
}

static void write_v2(const char *base, const char *controllers)
{
	char rel[256];
#define P(file) (snprintf(rel, sizeof(rel), "%s/berth/default/c1/%s", base, file), rel)
	put(P("cgroup.controllers"), controllers);
	put(P("cpu.stat"), "usage_usec 51234\nuser_usec 30000\nsystem_usec 21234\n"
			   "nr_periods 40\nnr_throttled 7\nthrottled_usec 1234\n"
			   "nr_bursts 0\nburst_usec 0\n");
	put(P("memory.current"), "2138112\n");
	put(P("memory.max"), "67108864\n");
	put(P("memory.peak"), "3297280\n");
	put(P("memory.stat"), v2_memory_stat);
	put(P("memory.events"), "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n");
	put(P("pids.current"), "4\n");
	put(P("pids.max"), "max\n");
	put(P("io.stat"), "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n"
			  "8:0 rbytes=800 wbytes=0 rios=2 wios=0 dbytes=0 dios=0\n");
#undef P
}

/* A mountinfo naming the fixture hierarchies (cpu and cpuacct comounted,
 * as many distributions do; a space in a path escaped as the kernel does). */
static char *mountinfo(bool v1, bool v2, const char *v1base, const char *v2base)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/root rw\n");
	if (v1) {
		static const char *const ctl[][2] = {
			{ "memory", "memory" }, { "cpu", "cpu" }, { "cpuacct", "cpuacct" },
			{ "blkio", "blkio" },   { "pids", "pids" },
		};
		for (size_t i = 0; i < ARRAY_SIZE(ctl); i++)
			buf_addf(&b,
				 "%zu 31 0:%zu / %s/%s rw,nosuid,nodev,noexec,relatime shared:%zu - "
				 "cgroup cgroup rw,%s\n",
				 32 + i, 28 + i, v1base, ctl[i][0], 9 + i, ctl[i][1]);
		buf_addf(&b, "40 31 0:37 / %s/systemd rw,relatime - cgroup cgroup "
			     "rw,xattr,name=systemd\n", v1base);
	}
	if (v2)
		buf_addf(&b, "41 31 0:38 / %s rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 "
			     "cgroup2 rw,nsdelegate\n", v2base);
	return b.data;
}

static void test_mountinfo(void)
{
	struct cg_mounts m = CG_MOUNTS_INIT;
	err_t err = NULL;
	const char *text =
		"22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
		"31 23 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n"
		"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
		"35 31 0:32 /ctr /my\\040cg/memory rw - cgroup cgroup rw,memory\n"
		"36 31 0:33 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
		"41 31 0:38 / /sys/fs/cgroup/unified rw shared:4 - cgroup2 cgroup2 rw\n"
		"42 31 0:38 / /elsewhere rw - cgroup2 cgroup2 rw\n";
	ok(cgstats_mounts_parse(&m, text, &err) == 0, "mountinfo parses");
	is_str(m.v1[CG_CPU], "/sys/fs/cgroup/cpu,cpuacct", "cpu from comounted cpu,cpuacct");
	is_str(m.v1[CG_CPUACCT], "/sys/fs/cgroup/cpu,cpuacct", "cpuacct too");
	is_str(m.v1[CG_MEMORY], "/my cg/memory", "escaped mount point decoded");
	is_str(m.v1_root[CG_MEMORY], "/ctr", "mount root kept");
	ok(m.v1[CG_BLKIO] == NULL, "blkio not mounted");
	is_str(m.v2, "/sys/fs/cgroup/unified", "first cgroup2 mount wins");
	cgstats_mounts_release(&m);

	ok(cgstats_mounts_parse(&m, "1 2 3\n", &err) < 0 && err, "truncated line is an error");
	err_free(&err);
	cgstats_mounts_release(&m);

	ok(cgstats_mounts_read(&m, &err) == 0, "this machine's mountinfo parses");
	diag("this machine: v2 at %s, memory at %s", m.v2 ? m.v2 : "(none)",
	     m.v1[CG_MEMORY] ? m.v1[CG_MEMORY] : "(none)");
	cgstats_mounts_release(&m);
}

static void test_v1(void)
{
	cleanup_free char *v1 = xasprintf("%s/v1", tmp);
	cleanup_free char *v2 = xasprintf("%s/v1uni", tmp);
	write_v1("v1", false, true);
	/* hybrid: the unified hierarchy has the cgroup too, without resource controllers */
	put("v1uni/berth/default/c1/cgroup.controllers", "hugetlb\n");
	put("v1uni/berth/default/c1/cpu.stat", "usage_usec 1\n");
	cleanup_free char *mi = mountinfo(true, true, v1, v2);
	struct cg_mounts m = CG_MOUNTS_INIT;
	err_t err = NULL;
	ok(cgstats_mounts_parse(&m, mi, &err) == 0, "v1 mountinfo parses");

	cleanup_json json_t *o = cgstats_read(&m, "/berth/default/c1", &err);
	ok(o != NULL, "v1 cgroup read");
	if (!o) {
		diag("%s", err->msg);
		err_free(&err);
		cgstats_mounts_release(&m);
		return;
	}
	is_str(json_string_value(json_object_get(o, "cgroup")), "v1", "hybrid machine reads v1");
	is_int(geti(o, "memory.usage"), 2138112, "memory.usage");
	is_int(geti(o, "memory.limit"), 67108864, "memory.limit");
	is_int(geti(o, "memory.max_usage"), 3297280, "memory.max_usage");
	is_int(geti(o, "memory.stat.total_rss"), 1466368, "memory.stat keys all kept");
	is_int(json_object_size(json_object_get(json_object_get(o, "memory"), "stat")), 22,
	       "every memory.stat line");
	is_int(geti(o, "memory.events.oom_kill"), 2, "oom_kill from memory.oom_control");
	is_int(geti(o, "cpu.usage_ns"), 51234567, "cpu.usage_ns from cpuacct.usage");
	long hz = sysconf(_SC_CLK_TCK);
	is_int(geti(o, "cpu.user_ns"), 3 * (1000000000 / hz), "cpu.user_ns from ticks");
	is_int(geti(o, "cpu.system_ns"), 2 * (1000000000 / hz), "cpu.system_ns from ticks");
	is_int(geti(o, "cpu.throttled_periods"), 7, "throttled periods");
	is_int(geti(o, "cpu.throttled_ns"), 123456789, "throttled time");
	is_int(geti(o, "io.read_bytes"), 4196, "read bytes summed over devices");
	is_int(geti(o, "io.write_bytes"), 8192, "write bytes");
	is_int(geti(o, "io.read_ops"), 1, "read ops");
	ok(json_object_get(o, "pids") == NULL, "no pids cgroup: no pids section");

	/* unlimited memory, pids with max */
	write_v1("v1", true, false);
	json_decref(o);
	o = cgstats_read(&m, "/berth/default/c1", &err);
	ok(o && json_is_null(json_object_get(json_object_get(o, "memory"), "limit")),
	   "page-rounded LONG_MAX limit is null");
	is_int(geti(o, "pids.current"), 3, "pids.current");
	ok(o && json_is_null(json_object_get(json_object_get(o, "pids"), "limit")),
	   "pids.max `max` is null");

	/* malformed */
	put("v1/memory/berth/default/c1/memory.stat", "cache 1\nrss lots\n");
	json_decref(o);
	o = cgstats_read(&m, "/berth/default/c1", &err);
	ok(!o && err && err->kind == E_INTERNAL && strstr(err->msg, "`memory.stat`"),
	   "malformed memory.stat names the file");
	if (err)
		diag("%s", err->msg);
	err_free(&err);
	put("v1/memory/berth/default/c1/memory.stat", v1_memory_stat);
	put("v1/cpuacct/berth/default/c1/cpuacct.usage", "12x\n");
	o = cgstats_read(&m, "/berth/default/c1", &err);
	ok(!o && err && strstr(err->msg, "`cpuacct.usage`"), "malformed cpuacct.usage names the file");
	err_free(&err);
	put("v1/cpuacct/berth/default/c1/cpuacct.usage", "5\n");

	/* a missing file inside a present controller: the section goes */
	cleanup_free char *blk = xasprintf("%s/blkio/berth/default/c1", v1);
	cleanup_free char *f1 = xasprintf("%s/blkio.throttle.io_service_bytes_recursive", blk);
	cleanup_free char *f2 = xasprintf("%s/blkio.throttle.io_serviced_recursive", blk);
	unlink(f1);
	unlink(f2);
	o = cgstats_read(&m, "/berth/default/c1", &err);
	ok(o && !json_object_get(o, "io") && json_object_get(o, "memory"),
	   "blkio files absent: no io section, the rest is there");

	json_decref(o);
	o = cgstats_read(&m, "/berth/default/gone", &err);
	ok(!o && err && err->kind == E_NOT_FOUND, "missing cgroup is not_found");
	err_free(&err);
	cgstats_mounts_release(&m);
}

static void test_v2(void)
{
	cleanup_free char *v2 = xasprintf("%s/v2", tmp);
	write_v2("v2", "cpuset cpu io memory hugetlb pids rdma misc\n");
	cleanup_free char *mi = mountinfo(false, true, "", v2);
	struct cg_mounts m = CG_MOUNTS_INIT;
	err_t err = NULL;
	ok(cgstats_mounts_parse(&m, mi, &err) == 0, "v2 mountinfo parses");
	cleanup_json json_t *o = cgstats_read(&m, "/berth/default/c1", &err);
	ok(o != NULL, "v2 cgroup read");
	if (!o) {
		diag("%s", err->msg);
		err_free(&err);
		cgstats_mounts_release(&m);
		return;
	}
	is_str(json_string_value(json_object_get(o, "cgroup")), "v2", "layout v2");
	is_int(geti(o, "cpu.usage_ns"), 51234000, "usage_usec in ns");
	is_int(geti(o, "cpu.user_ns"), 30000000, "user_usec in ns");
	is_int(geti(o, "cpu.system_ns"), 21234000, "system_usec in ns");
	is_int(geti(o, "cpu.throttled_periods"), 7, "nr_throttled");
	is_int(geti(o, "cpu.throttled_ns"), 1234000, "throttled_usec in ns");
	is_int(geti(o, "memory.usage"), 2138112, "memory.current");
	is_int(geti(o, "memory.limit"), 67108864, "memory.max");
	is_int(geti(o, "memory.max_usage"), 3297280, "memory.peak");
	is_int(geti(o, "memory.stat.slab_unreclaimable"), 74976, "memory.stat kept");
	is_int(geti(o, "memory.events.oom"), 1, "memory.events oom");
	is_int(geti(o, "memory.events.oom_kill"), 1, "memory.events oom_kill");
	is_int(geti(o, "pids.current"), 4, "pids.current");
	ok(json_is_null(json_object_get(json_object_get(o, "pids"), "limit")), "pids.max max: null");
	is_int(geti(o, "io.read_bytes"), 1460000, "rbytes summed");
	is_int(geti(o, "io.write_bytes"), 314773504, "wbytes summed");
	is_int(geti(o, "io.read_ops"), 194, "rios summed");
	is_int(geti(o, "io.write_ops"), 353, "wios summed");

	put("v2/berth/default/c1/memory.max", "max\n");
	put("v2/berth/default/c1/pids.max", "64\n");
	json_decref(o);
	o = cgstats_read(&m, "/berth/default/c1", &err);
	ok(o && json_is_null(json_object_get(json_object_get(o, "memory"), "limit")),
	   "memory.max max: null");
	is_int(geti(o, "pids.limit"), 64, "pids.max number");

	/* no memory controller delegated: its files are absent */
	cleanup_free char *d = xasprintf("%s/berth/default/c1", v2);
	static const char *const memf[] = { "memory.current", "memory.max", "memory.peak",
					    "memory.stat", "memory.events", "io.stat" };
	for (size_t i = 0; i < ARRAY_SIZE(memf); i++) {
		cleanup_free char *f = xasprintf("%s/%s", d, memf[i]);
		unlink(f);
	}
	json_decref(o);
	o = cgstats_read(&m, "/berth/default/c1", &err);
	ok(o && !json_object_get(o, "memory") && !json_object_get(o, "io") &&
		   json_object_get(o, "cpu") && json_object_get(o, "pids"),
	   "absent memory and io files: sections absent");

	put("v2/berth/default/c1/io.stat", "8:0 rbytes=12 wbytes\n");
	json_decref(o);
	o = cgstats_read(&m, "/berth/default/c1", &err);
	ok(!o && err && strstr(err->msg, "`io.stat`"), "malformed io.stat names the file");
	err_free(&err);
	put("v2/berth/default/c1/io.stat", "");
	put("v2/berth/default/c1/pids.current", "max\n");
	o = cgstats_read(&m, "/berth/default/c1", &err);
	ok(!o && err && strstr(err->msg, "`pids.current`"), "pids.current `max` is malformed");
	err_free(&err);
	cgstats_mounts_release(&m);
}

static void test_parsers(void)
{
	err_t err = NULL;
	uint64_t v, a, b, c, d;
	bool unl;
	ok(cgstats_parse_value("f", "42\n", &v, &unl, &err) == 0 && v == 42 && !unl, "value");
	ok(cgstats_parse_value("f", "max\n", &v, &unl, &err) == 0 && unl, "max");
	ok(cgstats_parse_value("pids.max", "-1\n", &v, &unl, &err) < 0 &&
		   strstr(err->msg, "`pids.max`"),
	   "negative is malformed, naming the file");
	err_free(&err);
	ok(cgstats_parse_value("f", "", &v, &unl, &err) < 0, "empty is malformed");
	err_free(&err);
	ok(cgstats_parse_blkio("b", "Total 0\n", &a, &b, &err) == 0 && a == 0 && b == 0,
	   "blkio with no device");
	ok(cgstats_parse_blkio("blkio.x", "8:0 Read\n", &a, &b, &err) < 0 &&
		   strstr(err->msg, "`blkio.x`"),
	   "blkio short line malformed");
	err_free(&err);
	ok(cgstats_parse_iostat("io.stat", "", &a, &b, &c, &d, &err) == 0 && a + b + c + d == 0,
	   "empty io.stat");
	ok(cgstats_parse_iostat("io.stat", "rbytes=1\n", &a, &b, &c, &d, &err) < 0,
	   "io.stat without device malformed");
	err_free(&err);
	cleanup_json json_t *o = json_object();
	ok(cgstats_parse_flat("cpu.stat", "a 1\n\nb 2", o, &err) == 0 && json_object_size(o) == 2,
	   "flat: blank lines and no final newline");
	ok(cgstats_parse_flat("cpu.stat", "a\n", o, &err) < 0 && strstr(err->msg, "`cpu.stat`"),
	   "flat: key without value malformed");
	err_free(&err);
}

/* A real cgroup2 hierarchy, when one can be mounted here. */
static void test_real_v2(void)
{
	if (geteuid() != 0) {
		printf("ok %d # skip real cgroup2: not root\n", ++tap_run_);
		return;
	}
	cleanup_free char *mnt = xasprintf("%s/cg2", tmp);
	mkdir(mnt, 0755);
	if (mount("none", mnt, "cgroup2", 0, NULL) < 0) {
		printf("ok %d # skip real cgroup2: mount -t cgroup2 failed: %s\n", ++tap_run_,
		       strerror(errno));
		return;
	}
	cleanup_free char *dir = xasprintf("%s/berth-test-cgstats-%d", mnt, (int)getpid());
	if (mkdir(dir, 0755) < 0) {
		printf("ok %d # skip real cgroup2: mkdir %s: %s\n", ++tap_run_, dir, strerror(errno));
		umount2(mnt, MNT_DETACH);
		return;
	}
	err_t err = NULL;
	cleanup_json json_t *o = cgstats_read_v2(dir, &err);
	ok(o != NULL, "a real cgroup2 directory reads");
	if (err) {
		diag("%s", err->msg);
		err_free(&err);
	}
	is_str(o ? json_string_value(json_object_get(o, "cgroup")) : NULL, "v2", "as v2");
	ok(o && geti(o, "cpu.usage_ns") == 0, "an empty cgroup used no cpu");
	cleanup_free char *ctl = xasprintf("%s/cgroup.controllers", dir);
	cleanup_free char *ctls = read_file(ctl, NULL);
	diag("controllers here: %s", ctls && *ctls ? ctls : "(none)\n");
	bool has_mem = ctls && strstr(ctls, "memory");
	ok(has_mem == (o && json_object_get(o, "memory") != NULL),
	   "memory section exactly when the memory controller is enabled");
	rmdir(dir);
	umount2(mnt, MNT_DETACH);
}

static int rm_rf(const char *path)
{
	cleanup_free char *cmd = xasprintf("rm -rf '%s'", path);
	return system(cmd);
}

int main(void)
{
	plan_lazy();
	if (!mkdtemp(tmp))
		return 1;
	test_mountinfo();
	test_parsers();
	test_v1();
	test_v2();
	test_real_v2();
	rm_rf(tmp);
	return done_testing();
}
