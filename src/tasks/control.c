/* tasks: pause, resume, pids, update (see tasks.h) — the freezer, the
 * process list and resource limits of a live task, through its shim. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "events/events.h"
#include "tasks/internal.h"

#define MIB (1024LL * 1024)
#define MEMORY_MIN (6 * MIB)   /* below this runc's init cannot even start */
#define LIMIT_MAX (1LL << 60) /* 1 EiB: anything above is a typo */

static struct task *live_task(struct daemon *d, const char *ns, const char *id, tasks_cb cb,
			      void *data)
{
	struct task *t = task_find(d->tasks, ns, id);
	if (!t) {
		task_fail_later(d, cb, data, E_NOT_FOUND, "container `%s` has no task", id);
		return NULL;
	}
	const char *why = task_not_ready(t);
	if (why) {
		task_fail_later(d, cb, data, E_FAILED_PRECONDITION, "the task of `%s` %s", id, why);
		return NULL;
	}
	return t;
}

/* ---- pause, resume ---------------------------------------------------------- */

static void frozen_cb(void *data, json_t *result, err_t *err, bool pause)
{
	struct op *o = data;
	struct task *t = o->t;
	if (err && *err) {
		o->cb(o->data, NULL, err);
		free(o);
		return;
	}
	if (t->status == TS_RUNNING || t->status == TS_PAUSED)
		t->status = pause ? TS_PAUSED : TS_RUNNING;
	events_publish(t->ts->d->events, t->ns, pause ? "/tasks/paused" : "/tasks/resumed",
		       json_pack("{s:s}", "container_id", t->id));
	log_info(pause ? "task paused" : "task resumed", "namespace=%s id=%s", t->ns, t->id);
	cleanup_json json_t *res = task_json(t);
	o->cb(o->data, res, NULL);
	free(o);
}

static void paused_cb(void *data, json_t *result, err_t *err)
{
	frozen_cb(data, result, err, true);
}

static void resumed_cb(void *data, json_t *result, err_t *err)
{
	frozen_cb(data, result, err, false);
}

void tasks_pause(struct daemon *d, const char *ns, const char *id, tasks_cb cb, void *data)
{
	struct task *t = live_task(d, ns, id, cb, data);
	if (!t)
		return;
	if (t->status != TS_RUNNING || t->starting)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				       "the task of `%s` is %s, not running: only a running task "
				       "can be paused",
				       id, t->starting ? "starting" : task_status_names[t->status]);
	shim_call(t->conn, "pause", NULL, paused_cb, task_op_new(t, cb, data));
}

void tasks_resume(struct daemon *d, const char *ns, const char *id, tasks_cb cb, void *data)
{
	struct task *t = live_task(d, ns, id, cb, data);
	if (!t)
		return;
	if (t->status != TS_PAUSED)
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				       "the task of `%s` is %s, not paused", id,
				       task_status_names[t->status]);
	shim_call(t->conn, "resume", NULL, resumed_cb, task_op_new(t, cb, data));
}

/* ---- pids, update ----------------------------------------------------------- */

static void pass_cb(void *data, json_t *result, err_t *err)
{
	struct op *o = data;
	o->cb(o->data, result, err);
	free(o);
}

static bool has_process(const struct task *t)
{
	return t->status == TS_CREATED || t->status == TS_RUNNING || t->status == TS_PAUSED;
}

void tasks_pids(struct daemon *d, const char *ns, const char *id, tasks_cb cb, void *data)
{
	struct task *t = live_task(d, ns, id, cb, data);
	if (!t)
		return;
	if (!has_process(t))
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				       "the task of `%s` is %s: it has no processes", id,
				       task_status_names[t->status]);
	shim_call(t->conn, "pids", NULL, pass_cb, task_op_new(t, cb, data));
}

static void updated_cb(void *data, json_t *result, err_t *err)
{
	struct op *o = data;
	if (err && *err) {
		o->cb(o->data, NULL, err);
	} else {
		log_info("task updated", "namespace=%s id=%s", o->t->ns, o->t->id);
		cleanup_json json_t *res = task_json(o->t);
		o->cb(o->data, res, NULL);
	}
	free(o);
}

void tasks_update(struct daemon *d, const char *ns, const char *id, json_t *resources,
		  tasks_cb cb, void *data)
{
	err_t err = NULL;
	if (tasks_check_resources(resources, &err) < 0) {
		task_fail_later(d, cb, data, err->kind, "%s", err->msg);
		err_free(&err);
		return;
	}
	struct task *t = live_task(d, ns, id, cb, data);
	if (!t)
		return;
	if (!has_process(t))
		return task_fail_later(d, cb, data, E_FAILED_PRECONDITION,
				       "the task of `%s` is %s: there is nothing to update", id,
				       task_status_names[t->status]);
	shim_call(t->conn, "update", json_pack("{s:O}", "resources", resources), updated_cb,
		  task_op_new(t, cb, data));
}

/* ---- validation ------------------------------------------------------------- */

/* An integer field of obj, checked against [min, max]; -1 allowed when
 * unlimited is. Absent: 0 and *v untouched. */
static int int_field(json_t *obj, const char *section, const char *key, long long min,
		     long long max, bool unlimited, long long *v, err_t *err)
{
	json_t *j = json_object_get(obj, key);
	if (!j || json_is_null(j))
		return 0;
	if (!json_is_integer(j))
		return make_error(err, E_INVALID_ARGUMENT, 0, "`resources.%s.%s` must be an integer",
				  section, key);
	long long n = json_integer_value(j);
	if (unlimited && n == -1) {
		*v = n;
		return 0;
	}
	if (n < min || n > max)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`resources.%s.%s` must be %s%lld..%lld, not %lld", section, key,
				  unlimited ? "-1 (unlimited) or " : "", min, max, n);
	*v = n;
	return 0;
}

static int check_memory(json_t *m, err_t *err)
{
	static const struct json_field fields[] = {
		{ "limit", JF_ANY, false },	  { "reservation", JF_ANY, false },
		{ "swap", JF_ANY, false },	  { "kernel", JF_ANY, false },
		{ "kernelTCP", JF_ANY, false },	  { "swappiness", JF_ANY, false },
		{ "disableOOMKiller", JF_BOOL, false }, { NULL },
	};
	if (json_check_object(m, "`resources.memory`", fields, err) < 0)
		return -1;
	long long limit = 0, swap = 0, other = 0;
	if (int_field(m, "memory", "limit", MEMORY_MIN, LIMIT_MAX, true, &limit, err) < 0 ||
	    int_field(m, "memory", "swap", MEMORY_MIN, LIMIT_MAX, true, &swap, err) < 0 ||
	    int_field(m, "memory", "reservation", 0, LIMIT_MAX, true, &other, err) < 0 ||
	    int_field(m, "memory", "kernel", MEMORY_MIN, LIMIT_MAX, true, &other, err) < 0 ||
	    int_field(m, "memory", "kernelTCP", MEMORY_MIN, LIMIT_MAX, true, &other, err) < 0 ||
	    int_field(m, "memory", "swappiness", 0, 100, false, &other, err) < 0)
		return -1;
	if (limit > 0 && swap > 0 && swap < limit)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`resources.memory.swap` (memory+swap, %lld) must not be below "
				  "`resources.memory.limit` (%lld)",
				  swap, limit);
	return 0;
}

static int check_cpu(json_t *c, err_t *err)
{
	static const struct json_field fields[] = {
		{ "shares", JF_ANY, false },	     { "quota", JF_ANY, false },
		{ "period", JF_ANY, false },	     { "realtimeRuntime", JF_ANY, false },
		{ "realtimePeriod", JF_ANY, false }, { "cpus", JF_STRING, false },
		{ "mems", JF_STRING, false },	     { "idle", JF_ANY, false },
		{ NULL },
	};
	if (json_check_object(c, "`resources.cpu`", fields, err) < 0)
		return -1;
	long long shares = 0, quota = 0, period = 0, other = 0;
	/* the ranges the kernel takes (cpu.shares, cpu.cfs_quota_us, cpu.cfs_period_us) */
	if (int_field(c, "cpu", "shares", 2, 262144, false, &shares, err) < 0 ||
	    int_field(c, "cpu", "quota", 1000, LIMIT_MAX, true, &quota, err) < 0 ||
	    int_field(c, "cpu", "period", 1000, 1000000, false, &period, err) < 0 ||
	    int_field(c, "cpu", "realtimeRuntime", 0, 1000000, true, &other, err) < 0 ||
	    int_field(c, "cpu", "realtimePeriod", 1, 1000000, false, &other, err) < 0 ||
	    int_field(c, "cpu", "idle", 0, 1, false, &other, err) < 0)
		return -1;
	if (quota > 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_CONF);
		long long p = period ? period : 100000; /* the kernel's default period */
		if (ncpu > 0 && quota > p * ncpu)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`resources.cpu.quota` %lld over a period of %lld asks for "
					  "%.2f CPUs: this machine has %ld",
					  quota, p, (double)quota / (double)p, ncpu);
	}
	return 0;
}

int tasks_check_resources(json_t *res, err_t *err)
{
	static const struct json_field fields[] = {
		{ "memory", JF_OBJECT, false },	 { "cpu", JF_OBJECT, false },
		{ "pids", JF_OBJECT, false },	 { "blockIO", JF_OBJECT, false },
		{ "hugepageLimits", JF_ARRAY, false }, { "unified", JF_OBJECT, false },
		{ NULL },
	};
	static const struct json_field pids_fields[] = { { "limit", JF_ANY, false }, { NULL } };
	static const struct json_field blkio_fields[] = {
		{ "weight", JF_ANY, false },
		{ "leafWeight", JF_ANY, false },
		{ "weightDevice", JF_ARRAY, false },
		{ "throttleReadBpsDevice", JF_ARRAY, false },
		{ "throttleWriteBpsDevice", JF_ARRAY, false },
		{ "throttleReadIOPSDevice", JF_ARRAY, false },
		{ "throttleWriteIOPSDevice", JF_ARRAY, false },
		{ NULL },
	};
	if (!json_is_object(res))
		return make_error(err, E_INVALID_ARGUMENT, 0, "`resources` must be an object");
	if (json_check_object(res, "`resources`", fields, err) < 0)
		return -1;
	json_t *m = json_object_get(res, "memory"), *c = json_object_get(res, "cpu");
	json_t *p = json_object_get(res, "pids"), *b = json_object_get(res, "blockIO");
	long long v = 0;
	if ((m && check_memory(m, err) < 0) || (c && check_cpu(c, err) < 0))
		return -1;
	if (p && (json_check_object(p, "`resources.pids`", pids_fields, err) < 0 ||
		  int_field(p, "pids", "limit", 1, 4194304, true, &v, err) < 0))
		return -1;
	if (b && (json_check_object(b, "`resources.blockIO`", blkio_fields, err) < 0 ||
		  int_field(b, "blockIO", "weight", 10, 1000, false, &v, err) < 0 ||
		  int_field(b, "blockIO", "leafWeight", 10, 1000, false, &v, err) < 0))
		return -1;
	return 0;
}
