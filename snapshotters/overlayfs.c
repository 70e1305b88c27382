/* overlayfs: containerd's overlay snapshotter. <id>/fs is the upper dir of
 * an active snapshot (and a lower dir once committed), <id>/work its
 * workdir. Mounts are containerd's:
 *   active, no parent      bind <id>/fs rw
 *   active, parents        overlay lowerdir=<p1>/fs:<p2>/fs...,upperdir,workdir
 *   view, one parent       bind <p1>/fs ro
 *   view, several parents  overlay lowerdir=... (no upper: read-only)
 *   view, no parent        bind <id>/fs ro (empty)
 * `userxattr`: overlay needs it (kernel >= 5.11) only when mounting from a
 * user namespace, where trusted.* xattrs are not available. berthd runs as
 * root, so as containerd's NeedsUserXAttr: in the initial user namespace
 * (/proc/self/uid_map is the identity over all ids) it is never used;
 * otherwise it is used when the probe mount accepts it. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "core/log.h"
#include "snapshotters/snapshotter.h"

static bool in_initial_userns(void)
{
	cleanup_free char *map = read_file("/proc/self/uid_map", NULL);
	unsigned long a, b, c;
	if (!map || sscanf(map, "%lu %lu %lu", &a, &b, &c) != 3)
		return true;
	return a == 0 && b == 0 && c == 4294967295UL;
}

/* Mount a tiny overlay in a temporary directory under s->root and unmount
 * it: overlay must work on the filesystem that holds the snapshots. */
static int probe(struct snapshotter *s, err_t *err)
{
	cleanup_free char *dir = xasprintf("%s/probe-XXXXXX", s->root);
	if (!mkdtemp(dir))
		return make_error(err, E_INTERNAL, errno, "overlay probe: mkdtemp under `%s`",
				  s->root);
	const char *subs[] = {"l1", "l2", "u", "w", "m"};
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		cleanup_free char *p = xasprintf("%s/%s", dir, subs[i]);
		if (mkdir(p, 0700) < 0)
			return make_error(err, E_INTERNAL, errno, "overlay probe: mkdir `%s`", p);
	}
	s->userxattr = !in_initial_userns();
	cleanup_free char *m = xasprintf("%s/m", dir);
	cleanup_free char *opts = xasprintf("%slowerdir=%s/l1:%s/l2,upperdir=%s/u,workdir=%s/w",
					    s->userxattr ? "userxattr," : "", dir, dir, dir, dir);
	int rc = mount("overlay", m, "overlay", 0, opts);
	int e = errno;
	if (rc == 0)
		umount2(m, MNT_DETACH);
	/* remove the probe's directories (empty but for overlay's work/ files) */
	cleanup_free char *wk = xasprintf("%s/w/work", dir);
	rmdir(wk);
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		cleanup_free char *p = xasprintf("%s/%s", dir, subs[i]);
		rmdir(p);
	}
	rmdir(dir);
	if (rc < 0)
		return make_error(err, E_FAILED_PRECONDITION, e, "overlay does not mount on `%s`",
				  s->root);
	return 0;
}

static int create(struct snapshotter *s, uint64_t id, enum snapshot_kind kind,
		  const uint64_t *parents, size_t np, char **copy_from, err_t *err)
{
	cleanup_free char *dir = snapshotter_dir(s, id);
	cleanup_free char *fs = snapshotter_fs(s, id);
	cleanup_free char *work = snapshotter_work(s, id);
	if (mkdir(dir, 0700) < 0)
		return make_error(err, E_INTERNAL, errno, "create `%s`", dir);
	if (mkdir(fs, 0755) < 0 || (kind == SNAPSHOT_ACTIVE && mkdir(work, 0711) < 0))
		return make_error(err, E_INTERNAL, errno, "create the directories of `%s`", dir);
	/* an active snapshot's root inherits its parent's owner and mode */
	if (kind == SNAPSHOT_ACTIVE && np > 0) {
		cleanup_free char *pfs = snapshotter_fs(s, parents[0]);
		struct stat st;
		if (stat(pfs, &st) == 0 &&
		    (chown(fs, st.st_uid, st.st_gid) < 0 || chmod(fs, st.st_mode & 07777) < 0))
			return make_error(err, E_INTERNAL, errno, "set the owner of `%s`", fs);
	}
	*copy_from = NULL;
	return 0;
}

static json_t *bind_mount(const char *src, bool ro)
{
	return json_pack("{s:s,s:s,s:[s,s]}", "type", "bind", "source", src, "options",
			 ro ? "ro" : "rw", "rbind");
}

static json_t *mounts(struct snapshotter *s, uint64_t id, enum snapshot_kind kind,
		      const uint64_t *parents, size_t np)
{
	json_t *out = json_array();
	if (np == 0) {
		cleanup_free char *fs = snapshotter_fs(s, id);
		json_array_append_new(out, bind_mount(fs, kind == SNAPSHOT_VIEW));
		return out;
	}
	if (kind == SNAPSHOT_VIEW && np == 1) {
		cleanup_free char *fs = snapshotter_fs(s, parents[0]);
		json_array_append_new(out, bind_mount(fs, true));
		return out;
	}
	json_t *opts = json_array();
	if (s->userxattr)
		json_array_append_new(opts, json_string("userxattr"));
	if (kind == SNAPSHOT_ACTIVE) {
		cleanup_free char *work = snapshotter_work(s, id);
		cleanup_free char *fs = snapshotter_fs(s, id);
		json_array_append_new(opts, json_sprintf("workdir=%s", work));
		json_array_append_new(opts, json_sprintf("upperdir=%s", fs));
	}
	struct buf lower = BUF_INIT;
	buf_adds(&lower, "lowerdir=");
	for (size_t i = 0; i < np; i++) {
		cleanup_free char *fs = snapshotter_fs(s, parents[i]);
		buf_addf(&lower, "%s%s", i ? ":" : "", fs);
	}
	json_array_append_new(opts, json_string(lower.data));
	buf_release(&lower);
	json_array_append_new(out, json_pack("{s:s,s:s,s:o}", "type", "overlay", "source",
					     "overlay", "options", opts));
	return out;
}

const struct snapshotter_ops overlayfs_ops = {
    .name = "overlayfs",
    .probe = probe,
    .create = create,
    .mounts = mounts,
    .overlay_whiteouts = true,
    .can_reparent = true,
};
