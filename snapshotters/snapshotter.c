#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/loop.h"
#include "snapshotters/snapshotter.h"

#define WORKER_OUTPUT_MAX (64 * 1024)

struct snapshotter_removal {
	struct snapshotter *s;
	struct sworker *w;
	char *name; /* the entry under s->root */
};

/* what rm_small_tree() removes from the loop, bigger goes to a worker */
#define SMALL_TREE_ENTRIES 64
#define SMALL_TREE_FILE (256 << 10)

static void removal_free(struct snapshotter_removal *r);

const char *snapshot_kind_name(enum snapshot_kind k)
{
	switch (k) {
	case SNAPSHOT_ACTIVE:
		return "active";
	case SNAPSHOT_VIEW:
		return "view";
	case SNAPSHOT_COMMITTED:
		return "committed";
	}
	return "?";
}

int snapshot_kind_parse(const char *s, enum snapshot_kind *out)
{
	for (int k = SNAPSHOT_ACTIVE; k <= SNAPSHOT_COMMITTED; k++)
		if (s && strcmp(s, snapshot_kind_name(k)) == 0) {
			*out = k;
			return 0;
		}
	return -1;
}

/* ---- workers ---------------------------------------------------------------- */

struct sworker {
	struct daemon *d;
	pid_t pid;
	int fd; /* read end of the output pipe */
	struct event *ev;
	struct buf out;
	bool eof, exited;
	int status;
	sworker_done_cb done;
	void *data;
	void (*release)(void *data); /* frees data when done never runs */
};

static void sworker_free(struct sworker *w)
{
	if (w->ev)
		event_free(w->ev);
	if (w->fd >= 0)
		close(w->fd);
	buf_release(&w->out);
	free(w);
}

static void sworker_maybe_done(struct sworker *w)
{
	if (!w->eof || !w->exited)
		return;
	sworker_done_cb done = w->done;
	void *data = w->data;
	int status = w->status;
	char *out = buf_detach(&w->out, NULL);
	sworker_free(w);
	done(status, out, data);
	free(out);
}

static void sworker_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sworker *w = arg;
	char b[4096];
	ssize_t n = read(fd, b, sizeof(b));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		if (w->out.len < WORKER_OUTPUT_MAX)
			buf_add(&w->out, b, (size_t)n);
		return;
	}
	event_del(w->ev);
	w->eof = true;
	sworker_maybe_done(w);
}

static void sworker_exit_cb(pid_t pid, int status, void *data)
{
	struct sworker *w = data;
	w->exited = true;
	w->status = status;
	sworker_maybe_done(w);
}

struct sworker *sworker_spawn(struct daemon *d, const char *const *argv,
			      int (*fn)(void *arg, int out_fd), void *arg, sworker_done_cb done,
			      void *data, err_t *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		make_error(err, E_INTERNAL, errno, "worker pipe");
		return NULL;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		make_error(err, E_INTERNAL, errno, "fork a worker");
		return NULL;
	}
	if (pid == 0) {
		/* bulk work (copies, removals, usage walks): below the daemon */
		if (setpriority(PRIO_PROCESS, 0, 10) < 0)
			(void)0; /* best effort */
		/* the child: default signals, output to the pipe */
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		/* nothing of berthd's (the lock file, sockets, LMDB) may outlive
		 * it in a worker that runs on after a crash */
		close_range(3, ~0U, 0);
		if (argv) {
			execvp(argv[0], (char *const *)argv);
			dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
			_exit(127);
		}
		_exit(fn(arg, 1));
	}
	close(p[1]);
	struct sworker *w = xzalloc(sizeof(*w));
	w->d = d;
	w->pid = pid;
	w->fd = p[0];
	w->done = done;
	w->data = data;
	evutil_make_socket_nonblocking(w->fd);
	w->ev = event_new(d->base, w->fd, EV_READ | EV_PERSIST, sworker_read_cb, w);
	event_add(w->ev, NULL);
	child_watch(d, pid, sworker_exit_cb, w);
	return w;
}

void sworker_kill(struct sworker *w)
{
	if (!w)
		return;
	if (!w->exited) {
		child_unwatch(w->d, w->pid);
		kill(w->pid, SIGKILL);
		/* reaped by the SIGCHLD handler as an unknown child */
	}
	if (w->release)
		w->release(w->data);
	sworker_free(w);
}

void sworker_set_release(struct sworker *w, void (*release)(void *data))
{
	w->release = release;
}

/* ---- directories -------------------------------------------------------------- */

char *snapshotter_dir(const struct snapshotter *s, uint64_t id)
{
	return xasprintf("%s/%llu", s->root, (unsigned long long)id);
}

char *snapshotter_fs(const struct snapshotter *s, uint64_t id)
{
	return xasprintf("%s/%llu/fs", s->root, (unsigned long long)id);
}

char *snapshotter_work(const struct snapshotter *s, uint64_t id)
{
	return xasprintf("%s/%llu/work", s->root, (unsigned long long)id);
}

uint64_t snapshotter_max_dir_id(const struct snapshotter *s)
{
	DIR *dir = opendir(s->root);
	if (!dir)
		return 0;
	uint64_t max = 0, id;
	struct dirent *de;
	while ((de = readdir(dir))) {
		const char *n = de->d_name;
		if (strncmp(n, "rm-", 3) == 0)
			n += 3;
		if (parse_u64(n, &id) && id > max)
			max = id;
	}
	closedir(dir);
	return max;
}

int snapshotter_init(struct snapshotter *s, struct daemon *d, const struct snapshotter_ops *ops,
		     err_t *err)
{
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->d = d;
	s->name = ops->name;
	s->root = xasprintf("%s/snapshots/%s", d->cfg.root, ops->name);
	if (mkdir_p(s->root, 0700) < 0)
		return make_error(err, E_INTERNAL, errno, "create `%s`", s->root);
	err_t perr = NULL;
	if (ops->probe && ops->probe(s, &perr) < 0) {
		s->error = xstrdup(perr->msg);
		err_free(&perr);
		log_warn("snapshotter unusable", "snapshotter=%s err=\"%s\"", s->name, s->error);
	} else {
		s->usable = true;
	}
	return 0;
}

void snapshotter_release(struct snapshotter *s)
{
	while (s->nremovals) {
		struct snapshotter_removal *r = s->removals[0];
		sworker_kill(r->w);
		removal_free(r);
	}
	free(s->removals);
	free(s->busy);
	free(s->error);
	free(s->root);
	memset(s, 0, sizeof(*s));
}

void snapshotter_busy(struct snapshotter *s, uint64_t id, bool busy)
{
	for (size_t i = 0; i < s->nbusy; i++) {
		if (s->busy[i] == id) {
			if (!busy)
				s->busy[i] = s->busy[--s->nbusy];
			return;
		}
	}
	if (busy) {
		ALLOC_GROW(s->busy, s->nbusy + 1, s->busy_alloc);
		s->busy[s->nbusy++] = id;
	}
}

static void removal_free(struct snapshotter_removal *r)
{
	struct snapshotter *s = r->s;
	for (size_t i = 0; i < s->nremovals; i++)
		if (s->removals[i] == r) {
			s->removals[i] = s->removals[--s->nremovals];
			break;
		}
	free(r->name);
	free(r);
}

static void removal_done(int status, const char *output, void *data)
{
	struct snapshotter_removal *r = data;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_warn("could not remove a snapshot directory", "path=%s/%s output=\"%.200s\"",
			 r->s->root, r->name, output);
	removal_free(r);
}

static bool removal_running(struct snapshotter *s, const char *name)
{
	for (size_t i = 0; i < s->nremovals; i++)
		if (strcmp(s->removals[i]->name, name) == 0)
			return true;
	return false;
}

/* Remove <root>/<name> (already renamed out of the way): a small tree (a
 * container's upper directory that saw a few writes) at once, anything
 * bigger in a worker. */
static int remove_entry(struct snapshotter *s, const char *name, err_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s", s->root, name);
	if (rm_small_tree(path, SMALL_TREE_ENTRIES, SMALL_TREE_FILE) == 0)
		return 0;
	struct snapshotter_removal *r = xzalloc(sizeof(*r));
	r->s = s;
	r->name = xstrdup(name);
	const char *argv[] = {"rm", "-rf", "--one-file-system", "--", path, NULL};
	ALLOC_GROW(s->removals, s->nremovals + 1, s->removals_alloc);
	s->removals[s->nremovals++] = r;
	r->w = sworker_spawn(s->d, argv, NULL, NULL, removal_done, r, err);
	if (!r->w) {
		removal_free(r);
		return -1;
	}
	return 0;
}

int snapshotter_remove(struct snapshotter *s, uint64_t id, err_t *err)
{
	cleanup_free char *from = snapshotter_dir(s, id);
	char name[64];
	snprintf(name, sizeof(name), "rm-%llu", (unsigned long long)id);
	cleanup_free char *to = xasprintf("%s/%s", s->root, name);
	if (rename(from, to) < 0) {
		if (errno == ENOENT)
			return 0;
		return make_error(err, E_INTERNAL, errno, "rename `%s`", from);
	}
	return remove_entry(s, name, err);
}

static bool id_in(const uint64_t *v, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] == id)
			return true;
		if (v[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool is_busy(struct snapshotter *s, uint64_t id)
{
	for (size_t i = 0; i < s->nbusy; i++)
		if (s->busy[i] == id)
			return true;
	return false;
}

static int remove_other(struct snapshotter *s, const char *n, err_t *err)
{
	cleanup_free char *name = xasprintf("rm-x%s", n);
	cleanup_free char *from = xasprintf("%s/%s", s->root, n);
	cleanup_free char *to = xasprintf("%s/%s", s->root, name);
	if (rename(from, to) < 0)
		return 0;
	return remove_entry(s, name, err);
}

int snapshotter_cleanup(struct snapshotter *s, const uint64_t *live, size_t nlive)
{
	DIR *dir = opendir(s->root);
	if (!dir)
		return 0;
	int found = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		const char *n = de->d_name;
		err_t err = NULL;
		uint64_t id;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || removal_running(s, n))
			continue;
		if (parse_u64(n, &id)) {
			if (id_in(live, nlive, id) || is_busy(s, id))
				continue;
			log_info("removing an orphaned snapshot directory", "snapshotter=%s id=%s",
				 s->name, n);
			found++;
			if (snapshotter_remove(s, id, &err) < 0)
				goto fail;
			continue;
		}
		found++;
		if (strncmp(n, "rm-", 3) == 0) {
			/* a removal a crash interrupted */
			if (remove_entry(s, n, &err) < 0)
				goto fail;
			continue;
		}
		/* anything else (a probe's leftovers): out of the way, then remove */
		if (remove_other(s, n, &err) < 0)
			goto fail;
		continue;
	fail:
		log_warn("orphan cleanup failed", "snapshotter=%s entry=%s err=\"%s\"", s->name, n,
			 err->msg);
		err_free(&err);
	}
	closedir(dir);
	return found;
}

/* ---- usage -------------------------------------------------------------------- */

struct usage_job {
	snapshotter_usage_cb cb;
	void *data;
	char *path;
};

/* The child's walk state (the child is single-threaded and short-lived). */
static struct {
	int64_t size, inodes;
	struct {
		dev_t dev;
		ino_t ino;
	} * seen;
	size_t nseen, seen_alloc;
} walk;

static int walk_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (st->st_nlink > 1 && !S_ISDIR(st->st_mode)) {
		for (size_t i = 0; i < walk.nseen; i++)
			if (walk.seen[i].dev == st->st_dev && walk.seen[i].ino == st->st_ino)
				return 0;
		ALLOC_GROW(walk.seen, walk.nseen + 1, walk.seen_alloc);
		walk.seen[walk.nseen].dev = st->st_dev;
		walk.seen[walk.nseen++].ino = st->st_ino;
	}
	walk.inodes++;
	walk.size += (int64_t)st->st_blocks * 512;
	return 0;
}

static int usage_child(void *arg, int out)
{
	const char *path = arg;
	if (nftw(path, walk_cb, 64, FTW_PHYS | FTW_MOUNT) < 0) {
		dprintf(out, "walk %s: %s\n", path, strerror(errno));
		return 1;
	}
	dprintf(out, "%lld %lld\n", (long long)walk.size, (long long)walk.inodes);
	return 0;
}

static void usage_job_free(void *data)
{
	struct usage_job *j = data;
	free(j->path);
	free(j);
}

static void usage_done(int status, const char *output, void *data)
{
	struct usage_job *j = data;
	long long size = 0, inodes = 0;
	err_t err = NULL;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    sscanf(output, "%lld %lld", &size, &inodes) != 2) {
		size_t n = strlen(output);
		make_error(&err, E_INTERNAL, 0, "usage of `%s`: %.*s", j->path,
			   (int)(n && output[n - 1] == '\n' ? n - 1 : n), output);
	}
	j->cb(j->data, size, inodes, &err);
	err_free(&err);
	usage_job_free(j);
}

struct sworker *snapshotter_usage(struct snapshotter *s, uint64_t id, snapshotter_usage_cb cb,
				  void *data, err_t *err)
{
	struct usage_job *j = xzalloc(sizeof(*j));
	j->cb = cb;
	j->data = data;
	j->path = snapshotter_fs(s, id);
	struct sworker *w = sworker_spawn(s->d, NULL, usage_child, j->path, usage_done, j, err);
	if (!w)
		usage_job_free(j);
	else
		sworker_set_release(w, usage_job_free); /* killed at shutdown */
	return w;
}
