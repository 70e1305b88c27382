#include "config.h"

#include <errno.h>
#include <linux/fs.h>
#include <seccomp.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diff/internal.h"

/* What extraction needs, and what the sanitizer runtimes use (memory,
 * signals for reports). Everything else fails with EPERM: no sockets, no
 * processes, no mounts, no chroot, no ptrace, no exec. */
/* clang-format off */
static const char *const allowed[] = {
	/* the input, the status pipe, files being written */
	"read", "readv", "pread64", "write", "writev", "pwrite64", "lseek", "close",
	"open", "openat", "creat", "fcntl", "dup", "dup2", "dup3",
	"fstat", "stat", "lstat", "newfstatat", "statx", "fstatfs", "statfs",
	"ftruncate", "fallocate", "fadvise64", "fsync", "fdatasync", "syncfs",
	/* the tree */
	"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
	"link", "linkat", "symlink", "symlinkat", "readlink", "readlinkat", "mknod", "mknodat",
	"chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
	"utime", "utimes", "utimensat", "futimesat", "getdents", "getdents64",
	"chdir", "fchdir", "getcwd", "umask", "access", "faccessat", "faccessat2",
	"setxattr", "lsetxattr", "fsetxattr", "getxattr", "lgetxattr", "fgetxattr",
	"listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
	/* memory, time, identity, exit */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
	"clock_gettime", "gettimeofday", "time", "getrandom", "futex", "sched_yield",
	"getpid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
	"getrlimit", "prlimit64", "uname",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
	"exit", "exit_group",
	/* the worker waits for its extractor */
	"wait4", "waitid",
};
/* clang-format on */

int confine_worker(err_t *err)
{
	if (fchdir(WORKER_FD_ROOT) < 0 || chroot(".") < 0 || chdir("/") < 0)
		return make_error(err, E_INTERNAL, errno, "confine the worker to its directory");
	close(WORKER_FD_ROOT);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return make_error(err, E_INTERNAL, errno, "set no_new_privs");

	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return make_error(err, E_INTERNAL, 0, "seccomp_init failed");
	int rc = 0;
	for (size_t i = 0; i < ARRAY_SIZE(allowed) && rc == 0; i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);
		if (nr != __NR_SCMP_ERROR)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	/* abort() and the sanitizers signal themselves only */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	/* libarchive reads and sets file flags; nothing else */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)FS_IOC_GETFLAGS));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)FS_IOC_SETFLAGS));
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0)
		return make_error(err, E_INTERNAL, -rc, "install the seccomp filter");
	return 0;
}

static void probe(struct buf *b, const char *name, long r)
{
	buf_addf(b, " %s=%s", name,
		 r < 0 ? (errno == EPERM ? "EPERM" : strerror(errno)) : "allowed");
	if (r >= 0 && strcmp(name, "socket") == 0)
		close((int)r);
}

void confine_probe(err_t *err)
{
	struct buf b = BUF_INIT;
	struct stat st;
	char *const argv[] = { "true", NULL };
	probe(&b, "socket", socket(AF_INET, SOCK_STREAM, 0));
	probe(&b, "chroot", chroot("/"));
	probe(&b, "mount", mount("none", "/", "tmpfs", 0, NULL));
	probe(&b, "unshare", unshare(CLONE_NEWNS));
	probe(&b, "execve", execve("/nonexistent", argv, argv + 1));
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	probe(&b, "fork", (long)pid);
	probe(&b, "prctl", prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
	probe(&b, "stat_proc", stat("/proc/self", &st));
	make_error(err, E_INTERNAL, 0, "confinement probe:%s", b.data);
	buf_release(&b);
}
