/* tasks/oom: OOM kills in a task's cgroup become /tasks/oom events.
 *
 * The kernel counts OOM kills per memory cgroup (v1: `oom_kill` in
 * memory.oom_control, v2: `oom_kill` in memory.events). berthd watches the
 * counter on its loop — v1 through an eventfd registered in
 * cgroup.event_control, v2 through inotify on memory.events — and publishes
 * one /tasks/oom per kill it sees. The counter is also read once more when
 * the task's exit arrives, before /tasks/exit is published, so an OOM that
 * killed the init process is always reported first. A watch that cannot be
 * set up (no memory controller) only logs: the task runs without it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/util.h"
#include "events/events.h"
#include "tasks/cgstats.h"
#include "tasks/oom.h"

struct oom_watch {
	struct daemon *d;
	char *ns, *id;
	char *counter_file; /* memory.oom_control (v1) or memory.events (v2) */
	int fd;             /* eventfd (v1) or inotify (v2) */
	int ctl_fd;         /* v1: memory.oom_control kept open for the registration */
	struct event *ev;
	struct event *recheck; /* the kernel notifies before it kills: look again */
	int rechecks;          /* looks left after a notification */
	uint64_t seen;
};

/* The oom_kill count in the counter file; false when it cannot be read. */
static bool read_count(const char *file, uint64_t *out)
{
	size_t len;
	cleanup_free char *text = read_file(file, &len);
	if (!text)
		return false;
	for (char *line = text; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!strncmp(line, "oom_kill ", 9))
			return parse_u64(line + 9, out);
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

uint64_t oom_watch_check(struct oom_watch *w)
{
	uint64_t n;
	if (!w || !read_count(w->counter_file, &n))
		return 0;
	while (w->seen < n) {
		w->seen++;
		log_info("task OOM kill", "namespace=%s id=%s count=%llu", w->ns, w->id,
			 (unsigned long long)w->seen);
		events_publish(w->d->events, w->ns, "/tasks/oom",
			       json_pack("{s:s}", "container_id", w->id));
	}
	return n;
}

/* v1 signals the eventfd when the cgroup goes under OOM, before the OOM
 * killer has chosen and counted its victim: a look right away may see the
 * old count, so look again a few times, further apart. */
static void recheck_arm(struct oom_watch *w)
{
	static const int delays_ms[] = { 1000, 200, 20 };
	if (w->rechecks <= 0)
		return;
	int ms = delays_ms[--w->rechecks];
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(w->recheck, &tv);
}

static void recheck_cb(evutil_socket_t fd, short what, void *arg)
{
	struct oom_watch *w = arg;
	uint64_t before = w->seen;
	oom_watch_check(w);
	if (w->seen == before)
		recheck_arm(w);
}

static void ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct oom_watch *w = arg;
	char buf[4096];
	while (read(fd, buf, sizeof(buf)) > 0)
		; /* eventfd counter or inotify records: only "something changed" matters */
	uint64_t before = w->seen;
	oom_watch_check(w);
	if (w->seen == before) {
		w->rechecks = 3;
		recheck_arm(w);
	}
}

/* The cgroup mounts, read again at most once a second: a burst of watches
 * (the live restore of many tasks, containers started in a loop) reads
 * /proc/self/mountinfo once. Kept for the process's life. */
static struct cg_mounts mounts_cache = CG_MOUNTS_INIT;
static int64_t mounts_read_ns;

static const struct cg_mounts *recent_mounts(err_t *err)
{
	int64_t now = time_mono_ns();
	if (mounts_read_ns && now - mounts_read_ns < 1000000000)
		return &mounts_cache;
	struct cg_mounts fresh = CG_MOUNTS_INIT;
	if (cgstats_mounts_read(&fresh, err) < 0)
		return NULL;
	cgstats_mounts_release(&mounts_cache);
	mounts_cache = fresh;
	mounts_read_ns = now;
	return &mounts_cache;
}

struct oom_watch *oom_watch_start(struct daemon *d, const char *ns, const char *id,
				  const char *cgroup_path)
{
	if (!cgroup_path || cgroup_path[0] != '/')
		return NULL;
	err_t err = NULL;
	const struct cg_mounts *mp = recent_mounts(&err);
	if (!mp) {
		log_debug("no OOM watch: mounts", "id=%s error=%s", id, err->msg);
		err_free(&err);
		return NULL;
	}
	const struct cg_mounts m = *mp; /* not to be released: the cache's */
	struct oom_watch *w = xzalloc(sizeof(*w));
	w->d = d;
	w->fd = w->ctl_fd = -1;
	struct stat st;
	cleanup_free char *v1 =
		m.v1[CG_MEMORY] ? xasprintf("%s%s", m.v1[CG_MEMORY], cgroup_path) : NULL;
	cleanup_free char *v2 = m.v2 ? xasprintf("%s%s/memory.events", m.v2, cgroup_path) : NULL;
	if (v1 && stat(v1, &st) == 0 && S_ISDIR(st.st_mode)) {
		w->counter_file = xasprintf("%s/memory.oom_control", v1);
		cleanup_free char *ctl = xasprintf("%s/cgroup.event_control", v1);
		w->ctl_fd = open(w->counter_file, O_RDONLY | O_CLOEXEC);
		w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		int cfd = open(ctl, O_WRONLY | O_CLOEXEC);
		char line[64];
		int n = snprintf(line, sizeof(line), "%d %d", w->fd, w->ctl_fd);
		bool ok = w->ctl_fd >= 0 && w->fd >= 0 && cfd >= 0 && write(cfd, line, (size_t)n) == n;
		if (cfd >= 0)
			close(cfd);
		if (!ok) {
			log_debug("no OOM watch: v1 registration", "id=%s error=%s", id,
				  strerror(errno));
			goto fail;
		}
	} else if (v2 && stat(v2, &st) == 0) {
		w->counter_file = xstrdup(v2);
		w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (w->fd < 0 || inotify_add_watch(w->fd, v2, IN_MODIFY) < 0) {
			log_debug("no OOM watch: inotify", "id=%s error=%s", id, strerror(errno));
			goto fail;
		}
	} else {
		log_debug("no OOM watch: no memory cgroup", "id=%s path=%s", id, cgroup_path);
		goto fail;
	}
	w->ns = xstrdup(ns);
	w->id = xstrdup(id);
	uint64_t n;
	if (read_count(w->counter_file, &n))
		w->seen = n; /* only kills from now on (a restore sees its own) */
	w->ev = event_new(d->base, w->fd, EV_READ | EV_PERSIST, ready_cb, w);
	event_add(w->ev, NULL);
	w->recheck = evtimer_new(d->base, recheck_cb, w);
	return w;
fail:
	oom_watch_free(w);
	return NULL;
}

void oom_watch_free(struct oom_watch *w)
{
	if (!w)
		return;
	if (w->ev)
		event_free(w->ev);
	if (w->recheck)
		event_free(w->recheck);
	if (w->fd >= 0)
		close(w->fd);
	if (w->ctl_fd >= 0)
		close(w->ctl_fd);
	free(w->counter_file);
	free(w->ns);
	free(w->id);
	free(w);
}
