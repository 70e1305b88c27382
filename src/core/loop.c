#include "config.h"

#include <errno.h>
#include <malloc.h>

#include <event2/event.h>
#include <sys/wait.h>

#include "core/log.h"
#include "core/loop.h"

struct child {
	pid_t pid;
	child_exit_cb cb;
	void *data;
};

struct child_table {
	struct child *v;
	size_t n, alloc;
};

struct child_table *child_table_new(void)
{
	return xzalloc(sizeof(struct child_table));
}

void child_table_free(struct child_table *t)
{
	if (!t)
		return;
	free(t->v);
	free(t);
}

void child_watch(struct daemon *d, pid_t pid, child_exit_cb cb, void *data)
{
	struct child_table *t = d->children;
	ALLOC_GROW(t->v, t->n + 1, t->alloc);
	t->v[t->n++] = (struct child){ pid, cb, data };
}

void child_unwatch(struct daemon *d, pid_t pid)
{
	struct child_table *t = d->children;
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].pid == pid) {
			t->v[i] = t->v[--t->n];
			return;
		}
	}
}

size_t child_count(struct daemon *d)
{
	return d->children->n;
}

void child_reap_all(struct daemon *d)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0) {
			if (pid < 0 && errno == EINTR)
				continue;
			return;
		}
		struct child_table *t = d->children;
		bool found = false;
		for (size_t i = 0; i < t->n; i++) {
			if (t->v[i].pid != pid)
				continue;
			struct child c = t->v[i];
			t->v[i] = t->v[--t->n];
			c.cb(pid, status, c.data);
			found = true;
			break;
		}
		if (!found)
			log_debug("reaped unwatched child", "pid=%d status=%d", (int)pid, status);
	}
}

static void trim_cb(evutil_socket_t fd, short what, void *arg)
{
	malloc_trim(0);
}

void loop_trim_memory_soon(struct daemon *d)
{
	if (!d->trim_timer)
		d->trim_timer = evtimer_new(d->base, trim_cb, NULL);
	if (evtimer_pending(d->trim_timer, NULL))
		return;
	struct timeval tv = { 1, 0 };
	evtimer_add(d->trim_timer, &tv);
}
