#include "config.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "api/request.h"
#include "core/digest.h"
#include "core/log.h"
#include "tasks/http.h"
#include "tasks/tasks.h"

static const char *const no_query[] = { NULL };

/* A request waiting for the tasks service. The service always calls back;
 * a client that left meanwhile only clears r. Waits are cancelled instead. */
struct pending {
	struct request *r;
	struct daemon *d;
	int status;   /* HTTP status of a success */
	bool wait;    /* a long-poll: cancelled when the client leaves */
	char *ns, *id;
	char *exec_id; /* the exec a wait is for, NULL for init */
};

static void pending_free(struct pending *p)
{
	free(p->ns);
	free(p->id);
	free(p->exec_id);
	free(p);
}

static void pending_abort(struct request *r, void *data)
{
	struct pending *p = data;
	p->r = NULL;
	if (p->wait) {
		if (p->exec_id)
			tasks_exec_wait_cancel(p->d, p->ns, p->id, p->exec_id, p);
		else
			tasks_wait_cancel(p->d, p->ns, p->id, p);
		pending_free(p);
	}
}

static void pending_done(void *data, json_t *result, err_t *err)
{
	struct pending *p = data;
	if (p->r) {
		if (err && *err)
			reply_error(p->r, err);
		else if (p->status == 204)
			reply_empty(p->r, 204);
		else
			reply_json(p->r, p->status, json_incref(result));
	}
	pending_free(p);
}

static struct pending *pending_new(struct request *r, int status)
{
	struct pending *p = xzalloc(sizeof(*p));
	p->r = r;
	p->d = r->d;
	p->status = status;
	p->ns = xstrdup(request_param(r, "ns"));
	p->id = xstrdup(request_param(r, "id"));
	request_defer(r, pending_abort, p);
	return p;
}

static json_t *body_or_empty(struct request *r, const struct json_field *fields, err_t *err)
{
	if (r->body.len == 0)
		return json_object();
	json_t *b = request_json(r, err);
	if (b && json_check_object(b, "request body", fields, err) < 0) {
		json_decref(b);
		return NULL;
	}
	return b;
}

static void task_create_h(struct request *r)
{
	static const struct json_field fields[] = {
		{ "stdin", JF_ANY, false },  { "stdout", JF_ANY, false },
		{ "stderr", JF_ANY, false }, { "terminal", JF_BOOL, false },
		{ "log", JF_BOOL, false },   { "checkpoint", JF_ANY, false },
		{ "start", JF_BOOL, false }, { NULL },
	};
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = body_or_empty(r, fields, &err)))
		return reply_error(r, &err);
	json_t *cpv = json_object_get(body, "checkpoint");
	if (json_is_true(json_object_get(body, "start")) && cpv && !json_is_null(cpv))
		return reply_errorf(r, E_INVALID_ARGUMENT,
				    "`start` with a `checkpoint`: the task's start restores it; "
				    "create it, then start it");
	static const char *const io[] = { "stdin", "stdout", "stderr" };
	for (size_t i = 0; i < ARRAY_SIZE(io); i++) {
		json_t *v = json_object_get(body, io[i]);
		if (v && !json_is_null(v) && !json_is_string(v))
			return reply_errorf(r, E_INVALID_ARGUMENT, "`%s` must be a path or null",
					    io[i]);
	}
	json_t *cp = json_object_get(body, "checkpoint");
	if (cp && !json_is_null(cp)) {
		/* a digest, or a descriptor as the checkpoint answered it */
		json_t *dg = json_is_object(cp) ? json_object_get(cp, "digest") : cp;
		if (!json_is_string(dg))
			return reply_errorf(r, E_INVALID_ARGUMENT,
					    "`checkpoint` must be the digest of a checkpoint (or its "
					    "descriptor)");
		if (digest_validate(json_string_value(dg), &err) < 0) {
			error_wrap(&err, "`checkpoint`");
			return reply_error(r, &err);
		}
		json_object_set(body, "checkpoint", dg);
	} else {
		json_object_del(body, "checkpoint");
	}
	struct pending *p = pending_new(r, 201);
	tasks_create(r->d, p->ns, p->id, body, pending_done, p);
}

static void task_get_h(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	json_t *t = tasks_get(r->d, request_param(r, "ns"), request_param(r, "id"), &err);
	if (!t)
		return reply_error(r, &err);
	reply_json(r, 200, t);
}

static void tasks_list_h(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	reply_json(r, 200, json_pack("{s:o}", "tasks", tasks_list(r->d, request_param(r, "ns"))));
}

static void task_start_h(struct request *r)
{
	static const struct json_field fields[] = { { NULL } };
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = body_or_empty(r, fields, &err)))
		return reply_error(r, &err);
	struct pending *p = pending_new(r, 200);
	tasks_start(r->d, p->ns, p->id, pending_done, p);
}

static void task_kill_h(struct request *r)
{
	static const struct json_field fields[] = {
		{ "signal", JF_ANY, false },
		{ "all", JF_BOOL, false },
		{ "exec_id", JF_STRING, false },
		{ NULL },
	};
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = body_or_empty(r, fields, &err)))
		return reply_error(r, &err);
	json_t *s = json_object_get(body, "signal");
	int sig = SIGTERM;
	if (json_is_integer(s)) {
		json_int_t n = json_integer_value(s);
		sig = n >= 1 && n <= SIGRTMAX ? (int)n : -1;
	} else if (json_is_string(s)) {
		sig = signal_parse(json_string_value(s));
	} else if (s && !json_is_null(s)) {
		sig = -1;
	}
	if (sig < 0)
		return reply_errorf(r, E_INVALID_ARGUMENT,
				    "`signal` must be a signal name (SIGTERM, TERM) or number");
	const char *exec_id = json_get_string(body, "exec_id");
	struct pending *p = pending_new(r, 204);
	if (exec_id && *exec_id)
		return tasks_exec_kill(r->d, p->ns, p->id, exec_id, sig, pending_done, p);
	tasks_kill(r->d, p->ns, p->id, sig, json_is_true(json_object_get(body, "all")),
		   pending_done, p);
}

static void task_wait_h(struct request *r)
{
	static const struct json_field fields[] = { { "exec_id", JF_STRING, false }, { NULL } };
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = body_or_empty(r, fields, &err)))
		return reply_error(r, &err);
	const char *exec_id = json_get_string(body, "exec_id");
	struct pending *p = pending_new(r, 200);
	p->wait = true;
	if (exec_id && *exec_id) {
		p->exec_id = xstrdup(exec_id);
		return tasks_exec_wait(r->d, p->ns, p->id, exec_id, pending_done, p);
	}
	tasks_wait(r->d, p->ns, p->id, pending_done, p);
}

/* ---- exec ------------------------------------------------------------------- */

static void exec_add_h(struct request *r)
{
	static const struct json_field fields[] = {
		{ "exec_id", JF_STRING, true }, { "process", JF_OBJECT, true },
		{ "stdin", JF_ANY, false },     { "stdout", JF_ANY, false },
		{ "stderr", JF_ANY, false },    { "log", JF_BOOL, false },
		{ NULL },
	};
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    json_check_object(body, "request body", fields, &err) < 0)
		return reply_error(r, &err);
	static const char *const io[] = { "stdin", "stdout", "stderr" };
	for (size_t i = 0; i < ARRAY_SIZE(io); i++) {
		json_t *v = json_object_get(body, io[i]);
		if (v && !json_is_null(v) && !json_is_string(v))
			return reply_errorf(r, E_INVALID_ARGUMENT, "`%s` must be a path or null",
					    io[i]);
	}
	struct pending *p = pending_new(r, 201);
	tasks_exec_add(r->d, p->ns, p->id, body, pending_done, p);
}

static void exec_get_h(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	json_t *x = tasks_exec_get(r->d, request_param(r, "ns"), request_param(r, "id"),
				   request_param(r, "eid"), &err);
	if (!x)
		return reply_error(r, &err);
	reply_json(r, 200, x);
}

static void exec_start_h(struct request *r)
{
	static const struct json_field fields[] = { { NULL } };
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = body_or_empty(r, fields, &err)))
		return reply_error(r, &err);
	struct pending *p = pending_new(r, 200);
	tasks_exec_start(r->d, p->ns, p->id, request_param(r, "eid"), pending_done, p);
}

static void exec_wait_h(struct request *r)
{
	static const struct json_field fields[] = { { NULL } };
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = body_or_empty(r, fields, &err)))
		return reply_error(r, &err);
	struct pending *p = pending_new(r, 200);
	p->wait = true;
	p->exec_id = xstrdup(request_param(r, "eid"));
	tasks_exec_wait(r->d, p->ns, p->id, p->exec_id, pending_done, p);
}

static void exec_delete_h(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	struct pending *p = pending_new(r, 200);
	tasks_exec_delete(r->d, p->ns, p->id, request_param(r, "eid"), pending_done, p);
}

static void task_delete_h(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	struct pending *p = pending_new(r, 200);
	tasks_delete(r->d, p->ns, p->id, pending_done, p);
}

static void task_simple_h(struct request *r,
			  void (*op)(struct daemon *, const char *, const char *, tasks_cb, void *))
{
	static const struct json_field fields[] = { { NULL } };
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = body_or_empty(r, fields, &err)))
		return reply_error(r, &err);
	struct pending *p = pending_new(r, 200);
	op(r->d, p->ns, p->id, pending_done, p);
}

static void task_pause_h(struct request *r)
{
	task_simple_h(r, tasks_pause);
}

static void task_resume_h(struct request *r)
{
	task_simple_h(r, tasks_resume);
}

static void task_checkpoint_h(struct request *r)
{
	static const struct json_field fields[] = {
		{ "exit", JF_BOOL, false },
		{ "image", JF_STRING, false },
		{ "labels", JF_LABELS, false },
		{ NULL },
	};
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = body_or_empty(r, fields, &err)))
		return reply_error(r, &err);
	json_t *labels = json_object_get(body, "labels");
	struct pending *p = pending_new(r, 201);
	tasks_checkpoint(r->d, p->ns, p->id, json_is_true(json_object_get(body, "exit")),
			 json_get_string(body, "image"), labels, pending_done, p);
}

static void task_pids_h(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	struct pending *p = pending_new(r, 200);
	tasks_pids(r->d, p->ns, p->id, pending_done, p);
}

static void task_update_h(struct request *r)
{
	static const struct json_field fields[] = {
		{ "resources", JF_OBJECT, true },
		{ NULL },
	};
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    json_check_object(body, "request body", fields, &err) < 0)
		return reply_error(r, &err);
	struct pending *p = pending_new(r, 200);
	tasks_update(r->d, p->ns, p->id, json_object_get(body, "resources"), pending_done, p);
}

static void task_resize_h(struct request *r)
{
	static const struct json_field fields[] = {
		{ "width", JF_ANY, true },
		{ "height", JF_ANY, true },
		{ "exec_id", JF_STRING, false },
		{ NULL },
	};
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    json_check_object(body, "request body", fields, &err) < 0)
		return reply_error(r, &err);
	static const char *const dims[] = { "width", "height" };
	unsigned v[2];
	for (int i = 0; i < 2; i++) {
		json_t *j = json_object_get(body, dims[i]);
		json_int_t n = json_is_integer(j) ? json_integer_value(j) : 0;
		if (n < 1 || n > TASKS_TERMINAL_MAX)
			return reply_errorf(r, E_INVALID_ARGUMENT,
					    "`%s` must be an integer 1..%d (characters)", dims[i],
					    TASKS_TERMINAL_MAX);
		v[i] = (unsigned)n;
	}
	struct pending *p = pending_new(r, 204);
	tasks_resize(r->d, p->ns, p->id, json_get_string(body, "exec_id"), v[0], v[1],
		     pending_done, p);
}

static void task_closeio_h(struct request *r)
{
	static const struct json_field fields[] = { { "exec_id", JF_STRING, false }, { NULL } };
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = body_or_empty(r, fields, &err)))
		return reply_error(r, &err);
	struct pending *p = pending_new(r, 204);
	tasks_closeio(r->d, p->ns, p->id, json_get_string(body, "exec_id"), pending_done, p);
}

/* ---- logs ------------------------------------------------------------------- */

struct follow {
	struct daemon *d;
	char *ns, *id;
	char *exec_id; /* NULL: the init process's log */
	int fd;
	off_t off;
	struct event *timer;
	struct http_stream *stream;
	bool last; /* the task was done at the previous empty read */
};

static void follow_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct follow *f = arg;
	http_stream_wake(f->stream);
}

static int follow_fill(struct http_stream *s, struct buf *out, void *data)
{
	struct follow *f = data;
	char tmp[65536];
	ssize_t n = pread(f->fd, tmp, sizeof(tmp), f->off);
	if (n > 0) {
		f->off += n;
		buf_add(out, tmp, (size_t)n);
		return 0;
	}
	if (n < 0 && errno != EINTR)
		return -1;
	/* nothing new: finished once the task is done and the file read to its end */
	bool done = f->exec_id ? tasks_exec_done(f->d, f->ns, f->id, f->exec_id)
			       : tasks_done(f->d, f->ns, f->id);
	if (done && f->last)
		return 1;
	f->last = done;
	struct timeval tv = { 0, done ? 20 * 1000 : 200 * 1000 };
	evtimer_add(f->timer, &tv);
	return 0;
}

static void follow_closed(struct http_stream *s, void *data)
{
	struct follow *f = data;
	event_free(f->timer);
	close(f->fd);
	free(f->exec_id);
	free(f->ns);
	free(f->id);
	free(f);
}

static const struct http_stream_ops follow_ops = {
	.fill = follow_fill,
	.closed = follow_closed,
};

static void task_logs_h(struct request *r)
{
	static const char *const allowed[] = { "follow", "exec_id", NULL };
	err_t err = NULL;
	bool follow;
	if (request_check_query(r, allowed, &err) < 0 ||
	    request_query_bool(r, "follow", false, &follow, &err) < 0)
		return reply_error(r, &err);
	const char *ns = request_param(r, "ns"), *id = request_param(r, "id");
	const char *exec_id = request_query(r, "exec_id");
	if (exec_id && !*exec_id)
		exec_id = NULL;
	cleanup_free char *path = exec_id ? tasks_exec_log_path(r->d, ns, id, exec_id, &err)
					  : tasks_log_path(r->d, ns, id, &err);
	if (!path)
		return reply_error(r, &err);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return reply_errorf(r, E_INTERNAL, "cannot open the log of `%s`: %s", id,
				    strerror(errno));
	if (!follow) {
		struct stat st;
		if (fstat(fd, &st) < 0 || st.st_size == 0) {
			close(fd);
			return reply_data(r, 200, "application/octet-stream", NULL, 0);
		}
		struct MHD_Response *resp = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
		if (!resp) {
			close(fd);
			return reply_errorf(r, E_INTERNAL, "cannot serve the log of `%s`", id);
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"application/octet-stream");
		return reply_response(r, 200, resp);
	}
	struct follow *f = xzalloc(sizeof(*f));
	f->d = r->d;
	f->ns = xstrdup(ns);
	f->id = xstrdup(id);
	f->exec_id = exec_id ? xstrdup(exec_id) : NULL;
	f->fd = fd;
	f->timer = evtimer_new(r->d->base, follow_timer_cb, f);
	static const char *const headers[] = { "Cache-Control", "no-cache", NULL };
	f->stream = reply_stream(r, 200, "application/octet-stream", headers, &follow_ops, f);
}

#define C "/v1/namespaces/{ns}/containers/{id}/task"
const struct route tasks_routes[] = {
	{ M_GET, "/v1/namespaces/{ns}/tasks", tasks_list_h },
	{ M_POST, C, task_create_h },
	{ M_GET, C, task_get_h },
	{ M_DELETE, C, task_delete_h },
	{ M_POST, C "/start", task_start_h },
	{ M_POST, C "/kill", task_kill_h },
	{ M_POST, C "/wait", task_wait_h },
	{ M_GET, C "/logs", task_logs_h },
	{ M_POST, C "/pause", task_pause_h },
	{ M_POST, C "/resume", task_resume_h },
	{ M_GET, C "/pids", task_pids_h },
	{ M_POST, C "/update", task_update_h },
	{ M_POST, C "/resize", task_resize_h },
	{ M_POST, C "/closeio", task_closeio_h },
	{ M_POST, C "/checkpoint", task_checkpoint_h },
	{ M_POST, C "/exec", exec_add_h },
	{ M_GET, C "/exec/{eid}", exec_get_h },
	{ M_DELETE, C "/exec/{eid}", exec_delete_h },
	{ M_POST, C "/exec/{eid}/start", exec_start_h },
	{ M_POST, C "/exec/{eid}/wait", exec_wait_h },
	{ 0, NULL },
};
