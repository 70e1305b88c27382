/*
 * Users and groups of the image: /etc/passwd and /etc/group read from the
 * rootfs' layers (an overlay's upperdir and lowerdirs, or one directory),
 * resolved as containerd's oci.WithUser and oci.WithAdditionalGIDs do.
 *
 * Layer files are reached with openat2(RESOLVE_IN_ROOT): a symlink in a
 * layer (even an absolute one) resolves inside that layer, never onto the
 * host. Lower layers only show through where the upper ones have nothing:
 * a whiteout (0/0 character device) or an opaque directory
 * (trusted.overlay.opaque or user.overlay.opaque "y") hides them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "spec/internal.h"

#define LAYER_FILE_MAX (4 << 20)

static int open_in(int rootfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

static bool is_opaque(int fd)
{
	char proc[64], v[4];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	static const char *const names[] = { "trusted.overlay.opaque", "user.overlay.opaque" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		ssize_t n = getxattr(proc, names[i], v, sizeof(v));
		if (n == 1 && v[0] == 'y')
			return true;
	}
	return false;
}

static int read_fd(int fd, const char *layer, const char *path, char **data, size_t *len,
		   err_t *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return make_error(err, E_INTERNAL, errno, "stat `%s` in `%s`", path, layer);
	if (!S_ISREG(st.st_mode))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "the image's `/%s` is not a regular file", path);
	if (st.st_size > LAYER_FILE_MAX)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "the image's `/%s` is larger than %d bytes", path,
				  LAYER_FILE_MAX);
	struct buf b = BUF_INIT;
	char chunk[8192];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			buf_release(&b);
			return make_error(err, E_INTERNAL, errno, "read `%s` in `%s`", path,
					  layer);
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > LAYER_FILE_MAX) {
			buf_release(&b);
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "the image's `/%s` is larger than %d bytes", path,
					  LAYER_FILE_MAX);
		}
		buf_add(&b, chunk, (size_t)n);
	}
	*data = buf_detach(&b, len);
	return 0;
}

enum lookup { FOUND, ABSENT, HIDDEN };

/* Look path up in one layer: FOUND (data read), ABSENT (lower layers may
 * have it) or HIDDEN (a whiteout, an opaque directory or a file where a
 * directory is needed: lower layers must not be looked at). */
static int lookup_layer(const char *layer, const char *path, char **data, size_t *len,
			err_t *err)
{
	cleanup_close int rootfd = open(layer, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		if (errno == ENOENT)
			return ABSENT;
		return make_error(err, E_INTERNAL, errno, "open layer `%s`", layer);
	}
	bool opaque = false;
	cleanup_free char *prefix = xstrdup(path);
	for (char *p = prefix;; p++) {
		bool last = (*p == '\0');
		if (*p != '/' && !last)
			continue;
		char saved = *p;
		*p = '\0';
		cleanup_close int fd = open_in(rootfd, prefix, O_PATH | O_NOFOLLOW);
		if (fd < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				return opaque ? HIDDEN : ABSENT;
			if (errno == ENOSYS)
				return make_error(err, E_NOT_IMPLEMENTED, errno,
						  "openat2 (Linux 5.6) is needed to read the image's "
						  "/etc/passwd");
			return make_error(err, E_INTERNAL, errno, "open `%s` in `%s`", prefix,
					  layer);
		}
		struct stat st;
		if (fstat(fd, &st) < 0)
			return make_error(err, E_INTERNAL, errno, "stat `%s` in `%s`", prefix,
					  layer);
		if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
			return HIDDEN;
		if (last) {
			cleanup_close int rfd =
				open_in(rootfd, prefix, O_RDONLY | O_NOCTTY | O_NONBLOCK);
			/* a dangling symlink hides the lower layers as overlayfs would */
			if (rfd < 0 && (errno == ENOENT || errno == ENOTDIR))
				return HIDDEN;
			if (rfd < 0)
				return make_error(err, E_INTERNAL, errno, "open `%s` in `%s`",
						  prefix, layer);
			if (read_fd(rfd, layer, path, data, len, err) < 0)
				return -1;
			return FOUND;
		}
		if (S_ISDIR(st.st_mode)) {
			if (is_opaque(fd))
				opaque = true;
		} else if (!S_ISLNK(st.st_mode)) {
			return HIDDEN;
		}
		*p = saved;
	}
}

int spec_layers_read(const char *const *layers, const char *path, char **data, size_t *len,
		     err_t *err)
{
	*data = NULL;
	*len = 0;
	for (; layers && *layers; layers++) {
		int r = lookup_layer(*layers, path, data, len, err);
		if (r < 0)
			return error_wrap(err, "read the image's `/%s`", path);
		if (r != ABSENT)
			return 0;
	}
	return 0;
}

/* --- /etc/passwd and /etc/group ----------------------------------------- */

/* One line of /etc/passwd or /etc/group split at ':' (in place). */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == ':') {
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

static bool parse_id(const char *s, uint32_t *out)
{
	uint64_t v;
	if (!parse_u64(s, &v) || v >= UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

struct pw {
	char *name, *home;
	uint32_t uid, gid;
};

/* The first passwd entry with that name (or, name NULL, that uid). */
static bool passwd_find(const char *text, const char *name, uint32_t uid, struct pw *out)
{
	if (!text)
		return false;
	cleanup_free char *copy = xstrdup(text);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[7];
		size_t nf = split_fields(line, f, 7);
		if (line[0] == '#' || nf < 4)
			continue;
		uint32_t u, g;
		if (!parse_id(f[2], &u) || !parse_id(f[3], &g))
			continue;
		if (name ? strcmp(f[0], name) != 0 : u != uid)
			continue;
		out->name = xstrdup(f[0]);
		out->home = xstrdup(nf > 5 ? f[5] : "");
		out->uid = u;
		out->gid = g;
		return true;
	}
	return false;
}

static bool group_find(const char *text, const char *name, uint32_t *gid)
{
	if (!text)
		return false;
	cleanup_free char *copy = xstrdup(text);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4];
		if (line[0] == '#' || split_fields(line, f, 4) < 3)
			continue;
		if (strcmp(f[0], name) == 0 && parse_id(f[2], gid))
			return true;
	}
	return false;
}

static void add_gid(struct spec_user *u, size_t *alloc, uint32_t gid)
{
	for (size_t i = 0; i < u->ngids; i++)
		if (u->gids[i] == gid)
			return;
	ALLOC_GROW(u->gids, u->ngids + 1, *alloc);
	u->gids[u->ngids++] = gid;
}

/* The groups whose member list names user, other than the one named as it
 * (containerd's getSupplementalGroupsFromPath filter). */
static void supplementary(const char *text, const char *user, struct spec_user *u,
			  size_t *alloc)
{
	if (!text)
		return;
	cleanup_free char *copy = xstrdup(text);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4];
		uint32_t gid;
		if (line[0] == '#' || split_fields(line, f, 4) < 4 || !parse_id(f[2], &gid))
			continue;
		if (strcmp(f[0], user) == 0)
			continue;
		char *msave = NULL;
		for (char *m = strtok_r(f[3], ",", &msave); m; m = strtok_r(NULL, ",", &msave))
			if (strcmp(m, user) == 0) {
				add_gid(u, alloc, gid);
				break;
			}
	}
}

int spec_user_resolve(const char *const *layers, const char *user, struct spec_user *u,
		      err_t *err)
{
	memset(u, 0, sizeof(*u));
	cleanup_free char *passwd = NULL, *group = NULL;
	size_t len;
	if (spec_layers_read(layers, "etc/passwd", &passwd, &len, err) < 0 ||
	    spec_layers_read(layers, "etc/group", &group, &len, err) < 0)
		return -1;

	cleanup_free char *uname_ = xstrdup(user ? user : "");
	char *gname = strchr(uname_, ':');
	if (gname) {
		*gname++ = '\0';
		if (strchr(gname, ':') || !*uname_ || !*gname)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "user `%s` must be name, uid, name:group or uid:gid",
					  user);
	}
	struct pw pw = { 0 };
	bool have_pw = false;
	uint32_t uid = 0, gid = 0;
	if (!*uname_) {
		/* no user: root, with root's passwd entry when there is one */
		have_pw = passwd_find(passwd, NULL, 0, &pw);
		gid = have_pw ? pw.gid : 0;
	} else if (parse_id(uname_, &uid)) {
		/* a uid without an entry is fine: its gid is 0 (containerd) */
		have_pw = passwd_find(passwd, NULL, uid, &pw);
		gid = have_pw ? pw.gid : 0;
	} else {
		have_pw = passwd_find(passwd, uname_, 0, &pw);
		if (!have_pw)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "no user `%s` in the image's /etc/passwd", uname_);
		uid = pw.uid;
		gid = pw.gid;
	}
	if (gname && !parse_id(gname, &gid) && !group_find(group, gname, &gid)) {
		free(pw.name);
		free(pw.home);
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "no group `%s` in the image's /etc/group", gname);
	}
	u->uid = uid;
	u->gid = gid;
	u->home = have_pw && pw.home[0] ? steal_ptr(&pw.home) : NULL;
	/* containerd >= 1.6.18 (CVE-2023-25173): the primary gid comes first */
	size_t alloc = 0;
	add_gid(u, &alloc, gid);
	if (have_pw)
		supplementary(group, pw.name, u, &alloc);
	free(pw.name);
	free(pw.home);
	return 0;
}

void spec_user_release(struct spec_user *u)
{
	free(u->home);
	free(u->gids);
	memset(u, 0, sizeof(*u));
}
