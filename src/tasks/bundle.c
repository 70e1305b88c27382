/* tasks/bundle: task directories and runtime binaries. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/util.h"
#include "tasks/internal.h"

extern char **environ;

char *task_dir_path(struct daemon *d, const char *ns, const char *id)
{
	return xasprintf("%s/tasks/%s/%s", d->cfg.state, ns, id);
}

int task_dir_remove(const char *dir, err_t *err)
{
	cleanup_free char *rootfs = xasprintf("%s/rootfs", dir);
	/* a rootfs the shim could not unmount (it died) is detached first */
	while (umount2(rootfs, MNT_DETACH) == 0)
		;
	ckpt_dir_remove(dir);
	DIR *dh = opendir(dir);
	if (!dh) {
		if (errno == ENOENT)
			return 0;
		return make_error(err, E_INTERNAL, errno, "open `%s`", dir);
	}
	int dfd = dirfd(dh);
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(dh))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno == EISDIR && unlinkat(dfd, de->d_name, AT_REMOVEDIR) == 0)
			continue;
		rc = make_error(err, E_INTERNAL, errno, "remove `%s/%s`", dir, de->d_name);
		break;
	}
	closedir(dh);
	if (rc < 0)
		return rc;
	if (rmdir(dir) < 0 && errno != ENOENT)
		return make_error(err, E_INTERNAL, errno, "remove `%s`", dir);
	return 0;
}

char *runtime_find(const char *name, err_t *err)
{
	if (!name || !*name)
		name = "runc";
	if (name[0] == '/') {
		if (access(name, X_OK) < 0) {
			make_error(err, E_FAILED_PRECONDITION, errno, "runtime binary `%s`", name);
			return NULL;
		}
		return xstrdup(name);
	}
	if (strchr(name, '/')) {
		make_error(err, E_INVALID_ARGUMENT, 0,
			   "runtime `%s`: give a name (runc, crun) or an absolute path", name);
		return NULL;
	}
	char *found = path_lookup(name);
	if (found)
		return found;
	make_error(err, E_FAILED_PRECONDITION, 0, "runtime `%s` is not installed (not found in PATH)",
		   name);
	return NULL;
}

struct force_delete {
	void (*cb)(void *data);
	void *data;
};

static void force_delete_exit_cb(pid_t pid, int status, void *arg)
{
	struct force_delete *f = arg;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_debug("runtime delete --force failed", "pid=%d status=%d", (int)pid, status);
	if (f->cb)
		f->cb(f->data);
	free(f);
}

static void force_delete_once_cb(evutil_socket_t fd, short what, void *arg)
{
	struct force_delete *f = arg;
	if (f->cb)
		f->cb(f->data);
	free(f);
}

int task_spawn(const char *bin, char *const argv[], int out_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out_fd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	} else {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_USEVFORK);
	int rc = posix_spawn(pid, bin, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

void runtime_force_delete(struct daemon *d, const char *runtime, const char *root,
			  const char *id, void (*cb)(void *data), void *data)
{
	char *argv[] = { (char *)runtime, (char *)"--root", (char *)root, (char *)"delete",
			 (char *)"--force", (char *)id, NULL };
	pid_t pid;
	int rc = runtime ? task_spawn(runtime, argv, -1, &pid) : ENOENT;
	struct force_delete *f = xzalloc(sizeof(*f));
	f->cb = cb;
	f->data = data;
	if (rc != 0) {
		log_warn("cannot run the runtime to delete a container", "runtime=%s id=%s error=%s",
			 runtime ? runtime : "", id, strerror(rc));
		/* still from the loop, never before the caller returns */
		event_base_once(d->base, -1, EV_TIMEOUT, force_delete_once_cb, f, NULL);
		return;
	}
	child_watch(d, pid, force_delete_exit_cb, f);
}
