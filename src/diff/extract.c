#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "core/json.h"
#include "diff/internal.h"

#define READ_BLOCK (1024 * 1024)

/* What libarchive restores, with its own checks against `..` and absolute
 * paths (a second line behind diff_path_clean and the chroot). Its
 * ARCHIVE_EXTRACT_SECURE_SYMLINKS costs an open and a stat per path
 * component of every entry; check_parents() does the same job with a
 * cache of the directories already seen. */
#define DISK_FLAGS                                                                                 \
	(ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |                     \
	 ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_NODOTDOT |                                 \
	 ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS)

struct extract {
	const struct worker_opts *o;
	int in_fd; /* the uncompressed tar */
	struct archive *tar; /* the uncompressed stream, from the decompressor */
	struct archive *disk; /* archive_write_disk into "/" (the chroot) */
	uint64_t entries;
	char *inbuf;
	struct pathset created; /* every path this layer wrote, and their parents */
	struct pathset dirs_ok; /* paths seen to be real directories (not symlinks) */
	struct archive_entry *root; /* the layer's "./" entry, applied last */
};

/* libarchive gives no message for some failures (a gzip stream cut in its
 * trailer) */
const char *archive_msg(struct archive *a)
{
	const char *m = archive_error_string(a);
	return m ? m : "truncated or corrupt stream";
}

static la_ssize_t input_read_cb(struct archive *a, void *data, const void **buf)
{
	struct extract *x = data;
	for (;;) {
		ssize_t n = read(x->in_fd, x->inbuf, READ_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			archive_set_error(a, errno, "read the layer");
			return -1;
		}
		*buf = x->inbuf;
		return n;
	}
}

/* Read what follows the tar's end marker, so that the decompressor can
 * hash and hand over the whole stream. */
static void drain(struct extract *x)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(x->in_fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EINTR))
			return;
	}
}

/* Remove name under dfd, recursively, never following a symlink. */
static int remove_at(int dfd, const char *name)
{
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return -1;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -1;
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(dir))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = remove_at(dirfd(dir), de->d_name);
	}
	closedir(dir);
	if (rc == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

static int remove_path(const char *path)
{
	return remove_at(AT_FDCWD, *path ? path : ".");
}

/* Forget the directories seen: something was removed or replaced. */
static void dirs_changed(struct extract *x)
{
	pathset_release(&x->dirs_ok);
}

/* Refuse a path whose parent directories include a symlink: a layer must
 * not write through one (not even one inside the root). Parents that do
 * not exist yet are fine: libarchive creates them as directories. */
static int check_parents(struct extract *x, const char *entry, const char *path, err_t *err)
{
	for (const char *slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
		size_t len = (size_t)(slash - path);
		if (pathset_has(&x->dirs_ok, path, len))
			continue;
		cleanup_free char *dir = xstrndup(path, len);
		struct stat st;
		if (lstat(dir, &st) < 0) {
			if (errno == ENOENT)
				return 0;
			return make_error(err, E_INTERNAL, errno, "entry `%s`: `%s`", entry, dir);
		}
		if (S_ISLNK(st.st_mode))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "entry `%s`: cannot extract through symlink `%s`", entry,
					  dir);
		if (!S_ISDIR(st.st_mode))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "entry `%s`: `%s` is not a directory", entry, dir);
		pathset_add_with_parents(&x->dirs_ok, dir);
	}
	return 0;
}

/* Refuse a directory path with a symlink in it (as libarchive's
 * SECURE_SYMLINKS does for the entries it writes); create what is missing. */
static int make_dir_path(struct extract *x, const char *entry, const char *dir, err_t *err)
{
	char *p = xstrdup(dir);
	int rc = 0;
	for (char *s = p; *p && rc == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		struct stat st;
		if (lstat(p, &st) == 0) {
			if (S_ISLNK(st.st_mode))
				rc = make_error(err, E_INVALID_ARGUMENT, 0,
						"entry `%s`: cannot extract through symlink `%s`",
						entry, p);
			else if (!S_ISDIR(st.st_mode))
				rc = make_error(err, E_INVALID_ARGUMENT, 0,
						"entry `%s`: `%s` is not a directory", entry, p);
		} else if (errno != ENOENT || mkdir(p, 0755) < 0) {
			rc =
			    make_error(err, E_INTERNAL, errno, "entry `%s`: create `%s`", entry, p);
		} else {
			pathset_add_with_parents(&x->created, p);
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return rc;
}

/* Remove every entry under dir (a cleaned path, "" for the root) that this
 * layer did not create; recurse into the directories it did. */
static int clear_opaque(struct extract *x, struct buf *path, err_t *err)
{
	int fd =
	    open(path->len ? path->data : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return make_error(err, E_INTERNAL, errno, "open `%s`", path->data);
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return make_error(err, E_INTERNAL, errno, "open `%s`", path->data);
	}
	size_t base = path->len;
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (base)
			buf_addf(path, "/%s", de->d_name);
		else
			buf_adds(path, de->d_name);
		if (!pathset_has(&x->created, path->data, path->len)) {
			if (remove_at(dirfd(dir), de->d_name) < 0)
				rc = make_error(err, E_INTERNAL, errno, "remove `%s`", path->data);
		} else {
			struct stat st;
			bool is_dir = de->d_type == DT_DIR;
			if (de->d_type == DT_UNKNOWN) /* filesystems without d_type */
				is_dir = fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
					 S_ISDIR(st.st_mode);
			if (is_dir)
				rc = clear_opaque(x, path, err);
		}
		path->len = base;
		path->data[base] = '\0';
	}
	closedir(dir);
	return rc;
}

static int apply_whiteout(struct extract *x, struct archive_entry *e, const char *path,
			  enum whiteout_kind kind, size_t dirlen, const char *name, err_t *err)
{
	const char *entry = archive_entry_pathname(e);
	cleanup_free char *dir = xstrndup(path, dirlen);
	if (kind == WHITEOUT_META)
		return 0;
	if (kind == WHITEOUT_BAD)
		return make_error(err, E_INVALID_ARGUMENT, 0, "entry `%s`: whiteout names no file",
				  entry);
	if (make_dir_path(x, entry, dir, err) < 0)
		return -1;
	if (kind == WHITEOUT_OPAQUE) {
		if (x->o->whiteouts == DIFF_WHITEOUTS_OVERLAY) {
			if (setxattr(*dir ? dir : ".", "trusted.overlay.opaque", "y", 1, 0) < 0)
				return make_error(err, E_INTERNAL, errno,
						  "entry `%s`: mark `%s` opaque", entry, dir);
			return 0;
		}
		struct buf b = BUF_INIT;
		buf_adds(&b, dir);
		dirs_changed(x);
		int rc = clear_opaque(x, &b, err);
		buf_release(&b);
		return rc < 0 ? error_wrap(err, "entry `%s`", entry) : 0;
	}
	cleanup_free char *target = *dir ? xasprintf("%s/%s", dir, name) : xstrdup(name);
	dirs_changed(x);
	if (remove_path(target) < 0)
		return make_error(err, E_INTERNAL, errno, "entry `%s`: remove `%s`", entry, target);
	if (x->o->whiteouts == DIFF_WHITEOUTS_DELETE)
		return 0;
	if (mknod(target, S_IFCHR, makedev(0, 0)) < 0 ||
	    lchown(target, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return make_error(err, E_INTERNAL, errno, "entry `%s`: create the whiteout `%s`",
				  entry, target);
	return 0;
}

/* Drop xattrs in the overlay namespace: only whiteout conversion sets them. */
static void filter_xattrs(struct archive_entry *e)
{
	if (archive_entry_xattr_reset(e) == 0)
		return;
	const char *name;
	const void *value;
	size_t size;
	bool bad = false;
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
		bad |= strncmp(name, "trusted.overlay.", 16) == 0 ||
		       strncmp(name, "user.overlay.", 13) == 0;
	if (!bad)
		return;
	struct archive_entry *keep = archive_entry_new();
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
		if (strncmp(name, "trusted.overlay.", 16) && strncmp(name, "user.overlay.", 13))
			archive_entry_xattr_add_entry(keep, name, value, size);
	archive_entry_xattr_clear(e);
	archive_entry_xattr_reset(keep);
	while (archive_entry_xattr_next(keep, &name, &value, &size) == ARCHIVE_OK)
		archive_entry_xattr_add_entry(e, name, value, size);
	archive_entry_free(keep);
}

static int copy_data(struct extract *x, const char *entry, err_t *err)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	for (;;) {
		int r = archive_read_data_block(x->tar, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return make_error(err, E_INVALID_ARGUMENT, 0, "entry `%s`: %s", entry,
					  archive_msg(x->tar));
		if (archive_write_data_block(x->disk, buf, size, off) < ARCHIVE_WARN)
			return make_error(err, E_INTERNAL, archive_errno(x->disk), "entry `%s`: %s",
					  entry, archive_msg(x->disk));
	}
}

static int extract_entry(struct extract *x, struct archive_entry *e, err_t *err)
{
	cleanup_free char *entry =
	    xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
	cleanup_free char *path = xstrdup(entry);
	const char *why = diff_path_clean(path);
	if (why)
		return make_error(err, E_INVALID_ARGUMENT, 0, "entry `%s`: path %s", entry, why);
	size_t dirlen;
	const char *name;
	enum whiteout_kind wk = diff_whiteout_parse(path, &dirlen, &name);
	if (wk != WHITEOUT_NONE)
		return apply_whiteout(x, e, path, wk, dirlen, name, err);

	const char *hl = archive_entry_hardlink(e);
	if (hl) {
		cleanup_free char *link = xstrdup(hl);
		if ((why = diff_path_clean(link)) || !*link)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "entry `%s`: hardlink target `%s` %s", entry, hl,
					  why ? why : "is the root");
		if (x->o->whiteouts == DIFF_WHITEOUTS_OVERLAY &&
		    !pathset_has(&x->created, link, strlen(link)))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "entry `%s`: hardlink target `%s` is not in this layer",
					  entry, hl);
		struct stat st;
		if (check_parents(x, entry, link, err) < 0)
			return -1;
		if (lstat(link, &st) < 0)
			return make_error(err, E_INVALID_ARGUMENT, errno,
					  "entry `%s`: hardlink target `%s`", entry, hl);
		/* libarchive writes a hardlink's data through the link: only
		 * into a regular file (never a device planted earlier) */
		if (!S_ISREG(st.st_mode) && archive_entry_size(e) > 0)
			return make_error(
			    err, E_INVALID_ARGUMENT, 0,
			    "entry `%s`: hardlink with data to `%s`, not a regular file", entry,
			    hl);
		archive_entry_set_hardlink(e, link);
	}
	if (!*path) {
		/* the root: libarchive would not restore its times (its
		 * children change them); apply_root() does, at the end */
		if (archive_entry_filetype(e) != AE_IFDIR)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "entry `%s`: the root is not a directory", entry);
		filter_xattrs(e);
		if (x->root)
			archive_entry_free(x->root);
		x->root = archive_entry_clone(e);
		return 0;
	}
	archive_entry_set_pathname(e, path);

	/* as containerd: atime is the later of the header's atime and mtime */
	if (!archive_entry_atime_is_set(e) || archive_entry_atime(e) < archive_entry_mtime(e) ||
	    (archive_entry_atime(e) == archive_entry_mtime(e) &&
	     archive_entry_atime_nsec(e) < archive_entry_mtime_nsec(e)))
		archive_entry_set_atime(e, archive_entry_mtime(e), archive_entry_mtime_nsec(e));
	filter_xattrs(e);

	if (check_parents(x, entry, path, err) < 0)
		return -1;
	size_t len = strlen(path);
	struct stat st;
	if (archive_entry_filetype(e) == AE_IFDIR) {
		/* a directory replaces a symlink (as containerd), never
		 * follows it (as libarchive would) */
		if (!pathset_has(&x->dirs_ok, path, len) && lstat(path, &st) == 0 &&
		    S_ISLNK(st.st_mode) && unlink(path) < 0)
			return make_error(err, E_INTERNAL, errno, "entry `%s`: replace a symlink",
					  entry);
	} else if (pathset_has(&x->dirs_ok, path, len) ||
		   x->o->whiteouts == DIFF_WHITEOUTS_DELETE ||
		   pathset_has(&x->created, path, len)) {
		/* what replaces a directory removes it first (libarchive
		 * would rmdir) */
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			dirs_changed(x);
			if (remove_path(path) < 0)
				return make_error(err, E_INTERNAL, errno,
						  "entry `%s`: replace a directory", entry);
		}
	}

	int r = archive_write_header(x->disk, e);
	if (r < ARCHIVE_WARN)
		return make_error(err, E_INVALID_ARGUMENT, 0, "entry `%s`: %s", entry,
				  archive_msg(x->disk));
	pathset_add_with_parents(&x->created, path);
	if (archive_entry_size(e) > 0 && copy_data(x, entry, err) < 0)
		return -1;
	if (archive_write_finish_entry(x->disk) < ARCHIVE_WARN)
		return make_error(err, E_INTERNAL, archive_errno(x->disk), "entry `%s`: %s", entry,
				  archive_msg(x->disk));
	return 0;
}

/* The root entry's owner, mode, xattrs and times, after everything else.
 * The root is the current directory (the chroot, in the extractor). */
static int apply_root(struct extract *x, err_t *err)
{
	struct archive_entry *e = x->root;
	if (!e)
		return 0;
	if (lchown(".", (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0 ||
	    chmod(".", archive_entry_mode(e) & 07777) < 0)
		return make_error(err, E_INTERNAL, errno,
				  "entry `%s`: restore the root's owner and mode",
				  archive_entry_pathname(e));
	const char *name;
	const void *value;
	size_t size;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
		if (lsetxattr(".", name, value, size, 0) < 0)
			return make_error(err, E_INTERNAL, errno, "entry `%s`: set xattr `%s`",
					  archive_entry_pathname(e), name);
	struct timespec ts[2] = {
		{ archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
		{ archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
	};
	if (archive_entry_atime_is_set(e) && (archive_entry_atime(e) > ts[0].tv_sec ||
					      (archive_entry_atime(e) == ts[0].tv_sec &&
					       archive_entry_atime_nsec(e) > ts[0].tv_nsec)))
		ts[0] = (struct timespec){ archive_entry_atime(e), archive_entry_atime_nsec(e) };
	if (utimensat(AT_FDCWD, ".", ts, AT_SYMLINK_NOFOLLOW) < 0)
		return make_error(err, E_INTERNAL, errno, "entry `%s`: restore the root's times",
				  archive_entry_pathname(e));
	return 0;
}

/* Before the worker reports success: a commit recorded after `done` never
 * points at unsynced files. */
static void sync_root(err_t *err)
{
	int fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		make_error(err, E_INTERNAL, e, "sync the layer's files");
		return;
	}
	close(fd);
}

static int extract(struct extract *x, err_t *err)
{
	if (archive_read_open2(x->tar, x, NULL, input_read_cb, NULL, NULL) != ARCHIVE_OK)
		return make_error(err, E_INVALID_ARGUMENT, 0, "read the layer: %s",
				  archive_msg(x->tar));
	for (;;) {
		struct archive_entry *e;
		int r = archive_read_next_header(x->tar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return make_error(err, E_INVALID_ARGUMENT, 0, "read the layer: %s",
					  archive_msg(x->tar));
		x->entries++;
		if (extract_entry(x, e, err) < 0)
			return -1;
	}
	drain(x);
	if (archive_write_close(x->disk) < ARCHIVE_WARN)
		return make_error(err, E_INTERNAL, archive_errno(x->disk), "finish the layer: %s",
				  archive_msg(x->disk));
	return apply_root(x, err);
}

/* libarchive is set up before the seccomp filter goes on. */
static int extract_setup(struct extract *x, const struct worker_opts *o, int in_fd, err_t *err)
{
	*x = (struct extract){ .o = o, .in_fd = in_fd };
	x->inbuf = xmalloc(READ_BLOCK);
	x->tar = archive_read_new();
	x->disk = archive_write_disk_new();
	if (!x->tar || !x->disk || archive_read_support_format_tar(x->tar) != ARCHIVE_OK)
		return make_error(err, E_INTERNAL, 0, "libarchive: cannot read tar");
	if (archive_write_disk_set_options(x->disk, DISK_FLAGS) != ARCHIVE_OK)
		return make_error(err, E_INTERNAL, 0, "libarchive: %s", archive_msg(x->disk));
	return 0;
}

static void extract_release(struct extract *x)
{
	if (x->tar)
		archive_read_free(x->tar);
	if (x->disk)
		archive_write_free(x->disk);
	if (x->root)
		archive_entry_free(x->root);
	pathset_release(&x->created);
	pathset_release(&x->dirs_ok);
	free(x->inbuf);
}

int extract_tar(const struct worker_opts *o, int in_fd, uint64_t *entries, err_t *err)
{
	struct extract x;
	int rc = extract_setup(&x, o, in_fd, err);
	if (rc == 0)
		rc = extract(&x, err);
	*entries = x.entries;
	extract_release(&x);
	return rc;
}

void extractor_main(const struct worker_opts *o)
{
	err_t err = NULL;
	struct extract x;
	if (extract_setup(&x, o, WORKER_FD_INPUT, &err) == 0 && confine_worker(&err) == 0) {
		if (getenv("BERTH_TEST_DIFF_PROBE"))
			confine_probe(&err);
		else if (extract(&x, &err) == 0)
			sync_root(&err);
	}
	if (err)
		worker_report_error(err);
	worker_report(json_pack("{s:I}", "entries", (json_int_t)x.entries));
	_exit(0);
}
