#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "core/err.h"
#include "shim/shim.h"

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} flags[] = {
	{ "ro", false, MS_RDONLY },        { "rw", true, MS_RDONLY },
	{ "nosuid", false, MS_NOSUID },    { "suid", true, MS_NOSUID },
	{ "nodev", false, MS_NODEV },      { "dev", true, MS_NODEV },
	{ "noexec", false, MS_NOEXEC },    { "exec", true, MS_NOEXEC },
	{ "sync", false, MS_SYNCHRONOUS }, { "async", true, MS_SYNCHRONOUS },
	{ "noatime", false, MS_NOATIME },  { "atime", true, MS_NOATIME },
	{ "nodiratime", false, MS_NODIRATIME },
	{ "relatime", false, MS_RELATIME },
	{ "strictatime", false, MS_STRICTATIME },
	{ "bind", false, MS_BIND },        { "rbind", false, MS_BIND | MS_REC },
	{ "defaults", false, 0 },
};

/* Split options into mount flags and the data string. */
static unsigned long parse_options(const struct shim_mount *m, struct buf *data)
{
	unsigned long f = 0;
	for (size_t i = 0; i < m->n_options; i++) {
		const char *o = m->options[i];
		size_t k;
		for (k = 0; k < ARRAY_SIZE(flags); k++)
			if (!strcmp(o, flags[k].name))
				break;
		if (k < ARRAY_SIZE(flags)) {
			if (flags[k].clear)
				f &= ~flags[k].flag;
			else
				f |= flags[k].flag;
			continue;
		}
		if (data->len)
			buf_adds(data, ",");
		buf_adds(data, o);
	}
	return f;
}

/*
 * An overlay option string longer than a page cannot be passed to mount(2).
 * As containerd's mount helper, chdir into the lower directories' common
 * parent and name them relative to it. Returns the directory to chdir into
 * (caller frees) and rewrites data, or NULL when that does not help.
 */
static char *compact_lowerdir(struct buf *data)
{
	char *lower = strstr(data->data, "lowerdir=");
	if (!lower || (lower != data->data && lower[-1] != ','))
		return NULL;
	char *start = lower + strlen("lowerdir=");
	char *end = strchr(start, ',');
	size_t llen = end ? (size_t)(end - start) : strlen(start);
	cleanup_free char *dirs = xstrndup(start, llen);
	/* common prefix of every lowerdir, cut back to a '/' */
	size_t common = SIZE_MAX;
	const char *first = dirs;
	for (char *p = dirs; p;) {
		char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		size_t k = 0;
		while (k < n && k < common && first[k] == p[k])
			k++;
		common = k < common ? k : common;
		p = colon ? colon + 1 : NULL;
	}
	while (common > 0 && first[common - 1] != '/')
		common--;
	if (common <= 1)
		return NULL;
	char *parent = xstrndup(first, common);
	struct buf nd = BUF_INIT;
	buf_add(&nd, data->data, (size_t)(start - data->data));
	for (char *p = dirs; p;) {
		char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		buf_add(&nd, p + common, n - common);
		if (colon)
			buf_adds(&nd, ":");
		p = colon ? colon + 1 : NULL;
	}
	if (end)
		buf_adds(&nd, end);
	buf_release(data);
	*data = nd;
	return parent;
}

static int mount_one(struct shim *s, const struct shim_mount *m, err_t *err)
{
	struct buf data = BUF_INIT;
	unsigned long f = parse_options(m, &data);
	bool bind = f & MS_BIND || !strcmp(m->type, "bind") || !strcmp(m->type, "rbind");
	cleanup_free char *parent = NULL;
	int r;
	if (bind) {
		unsigned long bf = MS_BIND | (f & MS_REC) | (!strcmp(m->type, "rbind") ? MS_REC : 0);
		/* the kernel ignores the type of a bind mount; "none", not NULL,
		 * keeps memcheck (t5003) quiet */
		r = mount(m->source, s->rootfs, "none", bf, NULL);
		if (r == 0 && (f & ~(MS_BIND | MS_REC))) {
			r = mount("none", s->rootfs, "none", MS_BIND | MS_REMOUNT | (f & ~MS_REC),
				  NULL);
			if (r < 0) {
				int saved = errno;
				umount2(s->rootfs, MNT_DETACH);
				errno = saved;
			}
		}
	} else {
		long page = sysconf(_SC_PAGESIZE);
		if (data.len >= (size_t)page && !strcmp(m->type, "overlay")) {
			parent = compact_lowerdir(&data);
			if (!parent || data.len >= (size_t)page) {
				buf_release(&data);
				return make_error(err, E_INVALID_ARGUMENT, 0,
						  "mount options of `%s` are too long", m->source);
			}
			if (chdir(parent) < 0) {
				buf_release(&data);
				return make_error(err, E_INTERNAL, errno, "chdir `%s`", parent);
			}
		}
		r = mount(m->source, s->rootfs, m->type, f, data.len ? data.data : NULL);
		if (parent) {
			int saved = errno;
			if (chdir("/") < 0)
				abort();
			errno = saved;
		}
	}
	buf_release(&data);
	if (r < 0)
		return make_error(err, E_INTERNAL, errno, "mount %s `%s` on `%s`", m->type,
				  m->source, s->rootfs);
	return 0;
}

int rootfs_mount(struct shim *s, err_t *err)
{
	for (size_t i = 0; i < s->opts.n_mounts; i++) {
		if (mount_one(s, &s->opts.mounts[i], err) < 0) {
			rootfs_unmount(s);
			return -1;
		}
		s->n_mounted++;
	}
	return 0;
}

void rootfs_unmount(struct shim *s)
{
	for (; s->n_mounted > 0; s->n_mounted--) {
		if (umount2(s->rootfs, 0) < 0 && errno != EINVAL && errno != ENOENT)
			umount2(s->rootfs, MNT_DETACH);
	}
}
