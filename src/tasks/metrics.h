/*
 * tasks/metrics: a task's cgroup figures (tasks/cgstats.h for the object),
 * for GET .../task/metrics and for the per-container series of /metrics.
 * The cgroup is the container spec's linux.cgroupsPath; the mount table is
 * read from /proc/self/mountinfo at each call (small files, read on the
 * loop: berthd is root and nothing here waits on another process).
 */
#ifndef BERTH_TASKS_METRICS_H
#define BERTH_TASKS_METRICS_H

#include "core/daemon.h"
#include "core/json.h"

/* The metrics of the task of container id: E_NOT_FOUND without a task (or
 * container), E_FAILED_PRECONDITION when the task has stopped or its cgroup
 * is gone. The caller owns the result. */
json_t *tasks_metrics(struct daemon *d, const char *ns, const char *id, err_t *err);

/* Append the berth_container_* series (Prometheus text, HELP and TYPE
 * included) for every task of every namespace that has a cgroup. */
void tasks_metrics_render(struct daemon *d, struct buf *out);

#endif
