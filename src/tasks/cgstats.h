/*
 * cgstats: a task's resource figures read straight from its cgroup (what
 * containerd's cgroups v1/v2 Metrics carry), for GET .../task/metrics and
 * /metrics. berthd is root and these are small pseudo-files, so they are read
 * on the loop; nothing here keeps state besides the parsed mount table.
 *
 * Layout: the cgroup is "v2" when its path exists under a cgroup2 mount
 * whose cgroup.controllers there names a resource controller (cpu, memory,
 * pids, io), or when no v1 resource controller is mounted at all; otherwise
 * "v1", one directory per controller (<mount of memory>/<path>, ...). Mount
 * points come from /proc/self/mountinfo, never assumed. On a hybrid machine
 * (v1 controllers plus an empty "unified" v2) this picks v1.
 *
 * The object (json, every number an integer):
 *   {"cgroup":"v1"|"v2",
 *    "cpu":{"usage_ns","user_ns","system_ns","throttled_periods","throttled_ns","periods"},
 *    "memory":{"usage","limit","max_usage"?,"failcnt"?,"stat":{<every key of memory.stat>},
 *              "events"?:{"oom"?,"oom_kill"}},
 *    "pids":{"current","limit"},
 *    "io":{"read_bytes","write_bytes","read_ops"?,"write_ops"?}}
 * A controller whose files are absent leaves its section out (not an error).
 * Unlimited limits ("max" in v2 and pids.max, or v1's page-rounded LONG_MAX
 * in memory.limit_in_bytes) are null: "no limit", never a huge number.
 * A file that is present but malformed is E_INTERNAL naming the file.
 */
#ifndef BERTH_TASKS_CGSTATS_H
#define BERTH_TASKS_CGSTATS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/json.h"

/* v1 controllers berth reads, indexes of cg_mounts.v1. */
enum cg_controller {
	CG_MEMORY = 0,
	CG_CPU,
	CG_CPUACCT,
	CG_PIDS,
	CG_BLKIO,
	CG_NCONTROLLERS,
};

/* Where each hierarchy is mounted (NULL: not mounted). root is the
 * hierarchy's root as seen by the mount (mountinfo field 4), stripped from
 * cgroup paths that start with it. */
struct cg_mounts {
	char *v2, *v2_root;
	char *v1[CG_NCONTROLLERS], *v1_root[CG_NCONTROLLERS];
};
#define CG_MOUNTS_INIT { 0 }

/* Parse the text of a mountinfo file. */
int cgstats_mounts_parse(struct cg_mounts *m, const char *mountinfo, err_t *err);
/* Parse /proc/self/mountinfo. */
int cgstats_mounts_read(struct cg_mounts *m, err_t *err);
void cgstats_mounts_release(struct cg_mounts *m);

/* The metrics of the cgroup at path (as in linux.cgroupsPath, "/berth/ns/id"):
 * detects the layout; E_NOT_FOUND when the cgroup exists in no hierarchy. */
json_t *cgstats_read(const struct cg_mounts *m, const char *path, err_t *err);

/* The metrics of a v2 cgroup directory. */
json_t *cgstats_read_v2(const char *dir, err_t *err);
/* The metrics of a v1 cgroup: dirs[c] is its directory in controller c's
 * hierarchy, NULL when that controller is not mounted or lacks the cgroup. */
json_t *cgstats_read_v1(const char *const dirs[CG_NCONTROLLERS], err_t *err);

/* ---- content parsers (file names the file in errors) -------------------- */

/* "key value" lines (memory.stat, cpu.stat, memory.events, cpuacct.stat)
 * into obj as integers. */
int cgstats_parse_flat(const char *file, const char *text, json_t *obj, err_t *err);
/* One integer, or "max" (*unlimited set, *v = UINT64_MAX). */
int cgstats_parse_value(const char *file, const char *text, uint64_t *v, bool *unlimited,
			err_t *err);
/* v1 blkio.throttle.io_service_bytes(_recursive) / io_serviced: sums the
 * Read and Write lines of every device. */
int cgstats_parse_blkio(const char *file, const char *text, uint64_t *read, uint64_t *write,
			err_t *err);
/* v2 io.stat: sums rbytes, wbytes, rios, wios of every device. */
int cgstats_parse_iostat(const char *file, const char *text, uint64_t *rbytes,
			 uint64_t *wbytes, uint64_t *rios, uint64_t *wios, err_t *err);

#endif
