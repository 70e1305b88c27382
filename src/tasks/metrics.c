#include "config.h"

#include <string.h>

#include "containers/containers.h"
#include "core/log.h"
#include "namespaces/namespaces.h"
#include "tasks/cgstats.h"
#include "tasks/metrics.h"
#include "tasks/tasks.h"

/* The metrics of the cgroup at path, with the mount table read now. */
static json_t *read_cgroup(const char *path, err_t *err)
{
	struct cg_mounts m = CG_MOUNTS_INIT;
	json_t *o = NULL;
	if (cgstats_mounts_read(&m, err) == 0)
		o = cgstats_read(&m, path, err);
	cgstats_mounts_release(&m);
	return o;
}

json_t *tasks_metrics(struct daemon *d, const char *ns, const char *id, err_t *err)
{
	cleanup_json json_t *t = tasks_get(d, ns, id, err);
	if (!t)
		return NULL;
	const char *status = json_get_string(t, "status");
	if (status && strcmp(status, "stopped") == 0) {
		make_error(err, E_FAILED_PRECONDITION, 0,
			   "the task of `%s` has stopped: it has no cgroup any more", id);
		return NULL;
	}
	cleanup_json json_t *c = containers_get(d, ns, id, err);
	if (!c)
		return NULL;
	json_t *p = json_object_get(json_object_get(json_object_get(c, "spec"), "linux"),
				    "cgroupsPath");
	const char *path = json_string_value(p);
	if (!path || path[0] != '/') {
		make_error(err, E_FAILED_PRECONDITION, 0,
			   "the spec of `%s` has no absolute linux.cgroupsPath", id);
		return NULL;
	}
	err_t e = NULL;
	json_t *o = read_cgroup(path, &e);
	if (!o && e->kind == E_NOT_FOUND) {
		make_error(err, E_FAILED_PRECONDITION, 0, "the task of `%s` has no cgroup: %s", id,
			   e->msg);
		err_free(&e);
		return NULL;
	}
	if (!o) {
		*err = e;
		error_wrap(err, "metrics of `%s`", id);
	}
	return o;
}

/* ---- /metrics -------------------------------------------------------------- */

struct sample {
	const char *ns, *id;
	json_t *m; /* borrowed from the list */
};

struct series {
	const char *name, *type, *help;
	const char *section, *key;
	double scale;
};

static const struct series series[] = {
	{ "berth_container_cpu_usage_seconds_total", "counter",
	  "CPU time consumed by the container's task, in seconds.", "cpu", "usage_ns", 1e-9 },
	{ "berth_container_memory_usage_bytes", "gauge",
	  "Memory used by the container's task (cgroup memory usage).", "memory", "usage", 1 },
	{ "berth_container_memory_limit_bytes", "gauge",
	  "Memory limit of the container's task; absent when unlimited.", "memory", "limit", 1 },
	{ "berth_container_pids_current", "gauge", "Processes in the container's task.", "pids",
	  "current", 1 },
	{ "berth_container_pids_limit", "gauge",
	  "Process limit of the container's task; absent when unlimited.", "pids", "limit", 1 },
	{ "berth_container_io_read_bytes_total", "counter",
	  "Bytes read from block devices by the container's task.", "io", "read_bytes", 1 },
	{ "berth_container_io_write_bytes_total", "counter",
	  "Bytes written to block devices by the container's task.", "io", "write_bytes", 1 },
};

/* Label values escape backslash, double quote and newline. */
static void add_label(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_addf(out, "\\%c", *s);
		else if (*s == '\n')
			buf_adds(out, "\\n");
		else
			buf_add(out, s, 1);
	}
}

void tasks_metrics_render(struct daemon *d, struct buf *out)
{
	err_t err = NULL;
	/* families are always announced; namespaces are listed only when tasks exist */
	cleanup_json json_t *nss = tasks_count(d) ? namespaces_list(d, NULL, &err) : json_array();
	if (!nss) {
		log_warn("metrics cannot list namespaces", "error=%s", err->msg);
		err_free(&err);
		nss = json_array();
	}
	cleanup_json json_t *all = json_array(); /* [ns, id, metrics] */
	size_t i, j;
	json_t *n, *t;
	json_array_foreach(nss, i, n) {
		const char *ns = json_get_string(n, "name");
		cleanup_json json_t *tasks = tasks_list(d, ns);
		json_array_foreach(tasks, j, t) {
			const char *id = json_get_string(t, "id");
			const char *st = json_get_string(t, "status");
			if (!id || (st && strcmp(st, "stopped") == 0))
				continue;
			json_t *m = tasks_metrics(d, ns, id, &err);
			if (!m) {
				/* a task racing its exit, or a spec without cgroup */
				log_debug("no metrics for a task", "namespace=%s id=%s error=%s", ns, id,
					  err->msg);
				err_free(&err);
				continue;
			}
			json_array_append_new(all, json_pack("[s,s,o]", ns, id, m));
		}
	}
	for (size_t s = 0; s < ARRAY_SIZE(series); s++) {
		buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", series[s].name, series[s].help,
			 series[s].name, series[s].type);
		json_t *row;
		json_array_foreach(all, i, row) {
			json_t *v = json_object_get(
				json_object_get(json_array_get(row, 2), series[s].section),
				series[s].key);
			if (!json_is_integer(v))
				continue;
			buf_addf(out, "%s{namespace=\"", series[s].name);
			add_label(out, json_string_value(json_array_get(row, 0)));
			buf_adds(out, "\",id=\"");
			add_label(out, json_string_value(json_array_get(row, 1)));
			if (series[s].scale == 1)
				buf_addf(out, "\"} %lld\n", (long long)json_integer_value(v));
			else
				buf_addf(out, "\"} %.9f\n",
					 (double)json_integer_value(v) * series[s].scale);
		}
	}
}
