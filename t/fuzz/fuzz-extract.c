/*
 * fuzz-extract: layer extraction (diff/extract.c, the extractor's own code:
 * path cleaning, whiteouts, hardlinks, symlinks, directories replacing
 * files) on fuzzed tar streams, in-process so that libFuzzer sees its
 * coverage. The first byte picks the whiteout mode (overlay or delete, the
 * latter over a small lower tree); the rest is the uncompressed tar.
 *
 * The snapshot directory is /a/b/snap of a sandbox: a private tmpfs
 * (nodev, nosuid: a device node the layer makes cannot be opened) in a
 * mount namespace of our own. Each input is extracted with the process
 * chrooted into the sandbox (as the real worker is chrooted into the
 * snapshot) and berth's own checks as the only thing between the layer
 * and the rest of the sandbox: afterwards every file outside /a/b/snap
 * must be exactly the canaries planted there, so a `..`, an absolute path,
 * a symlink or a hardlink that led outside the snapshot is a finding. The
 * chroot is left again through a descriptor of the real root.
 *
 * Without root (no namespace, no chroot) the target only runs the code in
 * a temporary directory and checks the canaries the same way.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diff/internal.h"
#include "fuzz.h"

static const char *const canaries[] = {"canary", "a/canary", "a/b/canary"};
#define NCANARY (sizeof(canaries) / sizeof(canaries[0]))

static struct {
	char dir[64];	 /* the sandbox, as seen from the real root */
	int dir_fd;	 /* ... its descriptor */
	int root_fd;	 /* the real root, to leave the chroot */
	bool chroot;	 /* root: namespace, tmpfs, chroot */
	char *artifacts; /* libFuzzer's -artifact_prefix directory, bound in */
	struct stat canary_st[NCANARY];
} sb;

static void die(const char *what)
{
	fprintf(stderr, "fuzz-extract: %s: %s\n", what, strerror(errno));
	abort();
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (ftw->level == 0)
		return 0;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
		die(path);
	return 0;
}

/* Empty a directory, whatever the layer left in it (modes 000 included). */
static void empty_dir(const char *path)
{
	chmod(path, 0755);
	/* directories a layer made unreadable: root reads them anyway */
	if (nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		die(path);
}

static void write_canary(const char *rel, size_t i)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", sb.dir, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || write(fd, "outside the snapshot\n", 21) != 21)
		die(path);
	close(fd);
	if (lstat(path, &sb.canary_st[i]) < 0)
		die(path);
}

/* Bind libFuzzer's artifact directory at its own path inside the sandbox,
 * so that a crash while chrooted still saves its input. */
static void bind_artifacts(void)
{
	if (!sb.artifacts)
		return;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s%s", sb.dir, sb.artifacts);
	for (char *s = path + strlen(sb.dir) + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(path, 0755);
			*s = '/';
		}
	mkdir(path, 0755);
	if (mount(sb.artifacts, path, NULL, MS_BIND, NULL) < 0)
		die("bind the artifact directory");
}

/* At exit: the tmpfs goes with our namespace; its mount point is ours to
 * remove. */
static void teardown(void)
{
	if (sb.chroot)
		umount2(sb.dir, MNT_DETACH);
	empty_dir(sb.dir);
	rmdir(sb.dir);
}

static void setup(void)
{
	snprintf(sb.dir, sizeof(sb.dir), "/tmp/berth-fuzz-extract.XXXXXX");
	if (!mkdtemp(sb.dir))
		die("mkdtemp");
	if (geteuid() == 0) {
		/* the tmpfs and the binds are ours alone and go with us */
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			die("private mount namespace");
		if (mount("berth-fuzz", sb.dir, "tmpfs", MS_NODEV | MS_NOSUID,
			  "size=256m,mode=0755") < 0)
			die("mount the sandbox tmpfs");
		sb.chroot = true;
		bind_artifacts();
		sb.root_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sb.root_fd < 0)
			die("open /");
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/a", sb.dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/a/b", sb.dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/a/b/snap", sb.dir);
	mkdir(path, 0755);
	for (size_t i = 0; i < NCANARY; i++)
		write_canary(canaries[i], i);
	sb.dir_fd = open(sb.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sb.dir_fd < 0)
		die(sb.dir);
	atexit(teardown);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	for (int i = 1; i < *argc; i++)
		if (strncmp((*argv)[i], "-artifact_prefix=/", 18) == 0) {
			char *p = xstrdup((*argv)[i] + 17);
			char *slash = strrchr(p, '/');
			if (slash && slash != p)
				*slash = '\0';
			sb.artifacts = p;
		}
	setup();
	return 0;
}

/* The lower tree a DIFF_WHITEOUTS_DELETE layer applies over. */
static void lower_tree(void)
{
	if (mkdir("etc", 0755) < 0 || mkdir("etc/old", 0755) < 0 || mkdir("usr", 0755) < 0 ||
	    symlink("../etc", "usr/etc") < 0 || symlink("/", "rootlink") < 0)
		die("lower tree");
	int fd = open("etc/motd", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "lower\n", 6) != 6)
		die("etc/motd");
	close(fd);
	if (link("etc/motd", "etc/old/motd") < 0)
		die("etc/old/motd");
}

static size_t nseen;
static char *bad;

static int walk_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *rel = path + strlen(sb.dir);
	if (*rel == '/')
		rel++;
	if (!*rel || !strcmp(rel, "a") || !strcmp(rel, "a/b"))
		return 0;
	if (!strcmp(rel, "a/b/snap"))
		return FTW_SKIP_SUBTREE;
	size_t n = strlen(rel) + 1;
	if (sb.artifacts && !strncmp(path + strlen(sb.dir), sb.artifacts, n) &&
	    (sb.artifacts[n] == '/' || !sb.artifacts[n]))
		return S_ISDIR(st->st_mode) && sb.artifacts[n] ? 0 : FTW_SKIP_SUBTREE;
	for (size_t i = 0; i < NCANARY; i++)
		if (!strcmp(rel, canaries[i])) {
			const struct stat *c = &sb.canary_st[i];
			nseen++;
			if (st->st_ino != c->st_ino || st->st_mode != c->st_mode ||
			    st->st_uid != c->st_uid || st->st_gid != c->st_gid ||
			    st->st_size != c->st_size || st->st_nlink != c->st_nlink ||
			    st->st_mtim.tv_sec != c->st_mtim.tv_sec ||
			    st->st_mtim.tv_nsec != c->st_mtim.tv_nsec) {
				bad = xasprintf("canary `%s` was changed", rel);
				return FTW_STOP;
			}
			return 0;
		}
	bad = xasprintf("`%s` appeared outside the snapshot", rel);
	return FTW_STOP;
}

/* Everything outside the snapshot is as planted. */
static void check_sandbox(const uint8_t *data, size_t size)
{
	nseen = 0;
	nftw(sb.dir, walk_cb, 16, FTW_PHYS | FTW_ACTIONRETVAL);
	if (!bad && nseen != NCANARY)
		bad = xasprintf("%zu of %zu canaries left", nseen, NCANARY);
	FUZZ_ASSERT(!bad, "%s", bad);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!sb.dir[0])
		setup();
	if (size < 1)
		return 0;
	struct worker_opts o = {
	    .whiteouts = data[0] & 1 ? DIFF_WHITEOUTS_DELETE : DIFF_WHITEOUTS_OVERLAY,
	};
	char snap[PATH_MAX];
	snprintf(snap, sizeof(snap), "%s/a/b/snap", sb.dir);
	empty_dir(snap);

	int in = memfd_create("layer", MFD_CLOEXEC);
	if (in < 0 || (size > 1 && write(in, data + 1, size - 1) != (ssize_t)(size - 1)) ||
	    lseek(in, 0, SEEK_SET) < 0)
		die("memfd");
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0)
		die("open .");
	if (sb.chroot) {
		if (fchdir(sb.dir_fd) < 0 || chroot(".") < 0 || chdir("/a/b/snap") < 0)
			die("enter the sandbox");
	} else if (chdir(snap) < 0) {
		die(snap);
	}
	if (o.whiteouts == DIFF_WHITEOUTS_DELETE)
		lower_tree();

	uint64_t entries = 0;
	err_t err = NULL;
	mode_t old = umask(022);
	int rc = extract_tar(&o, in, &entries, &err);
	umask(old);
	if (rc < 0)
		FUZZ_ASSERT(err && (err->kind == E_INVALID_ARGUMENT || err->kind == E_INTERNAL) &&
				*err->msg,
			    "a failure has a kind and a message");
	else
		FUZZ_ASSERT(!err, "success with an error set");
	err_free(&err);

	if (sb.chroot && (fchdir(sb.root_fd) < 0 || chroot(".") < 0))
		die("leave the sandbox");
	if (fchdir(cwd) < 0)
		die("back to the working directory");
	close(cwd);
	close(in);
	check_sandbox(data, size);
	return 0;
}
