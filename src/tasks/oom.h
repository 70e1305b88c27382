/* tasks/oom: /tasks/oom events from a task's memory cgroup (see oom.c). */
#ifndef BERTH_TASKS_OOM_H
#define BERTH_TASKS_OOM_H

#include <stdint.h>

#include "core/daemon.h"

struct oom_watch;
/* Watch the cgroup at cgroup_path (linux.cgroupsPath); NULL when there is
 * no memory cgroup to watch (logged at debug level). */
struct oom_watch *oom_watch_start(struct daemon *d, const char *ns, const char *id,
				  const char *cgroup_path);
/* Publish a /tasks/oom for every kill counted since the last look; returns
 * the count. */
uint64_t oom_watch_check(struct oom_watch *w);
void oom_watch_free(struct oom_watch *w);

#endif
