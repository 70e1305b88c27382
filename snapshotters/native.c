/* native: containerd's native snapshotter, for filesystems without overlay.
 * Every snapshot is a whole tree in <id>/fs. An active snapshot or a view
 * with a parent starts as a copy of the parent's tree, made by `cp -a`
 * (owners, modes, times, xattrs, hardlinks, devices, fifos, symlinks; with
 * --reflink=auto where the filesystem can share extents) in a worker
 * process. Mounts are bind mounts of <id>/fs, read-only for views.
 * Whiteouts in extracted layers are deletions. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "snapshotters/snapshotter.h"

static int create(struct snapshotter *s, uint64_t id, enum snapshot_kind kind,
		  const uint64_t *parents, size_t np, char **copy_from, err_t *err)
{
	cleanup_free char *dir = snapshotter_dir(s, id);
	cleanup_free char *fs = snapshotter_fs(s, id);
	*copy_from = NULL;
	if (mkdir(dir, 0700) < 0)
		return make_error(err, E_INTERNAL, errno, "create `%s`", dir);
	if (np == 0) {
		if (mkdir(fs, 0755) < 0)
			return make_error(err, E_INTERNAL, errno, "create `%s`", fs);
		return 0;
	}
	/* cp -a creates fs itself, with the parent root's owner and mode */
	*copy_from = snapshotter_fs(s, parents[0]);
	return 1;
}

static json_t *mounts(struct snapshotter *s, uint64_t id, enum snapshot_kind kind,
		      const uint64_t *parents, size_t np)
{
	cleanup_free char *fs = snapshotter_fs(s, id);
	return json_pack("[{s:s,s:s,s:[s,s]}]", "type", "bind", "source", fs, "options",
			 kind == SNAPSHOT_VIEW ? "ro" : "rw", "rbind");
}

const struct snapshotter_ops native_ops = {
    .name = "native",
    .probe = NULL,
    .create = create,
    .mounts = mounts,
    .overlay_whiteouts = false,
    .can_reparent = false,
};
