/*
 * The default seccomp profile: containerd's contrib/seccomp DefaultProfile
 * (Docker's profiles/seccomp/default.json), as a table of syscall groups
 * with the condition that includes each: always, on this architecture, when
 * the bounding set holds a capability, or when it lacks CAP_SYS_ADMIN.
 * Everything else fails with EPERM (defaultErrnoRet 1). Names the host's
 * libseccomp cannot resolve are dropped, as runc would refuse them.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <seccomp.h>

#include "spec/internal.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#define CLONE_NS_FLAGS                                                                    \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |        \
	 CLONE_NEWNET | CLONE_NEWCGROUP)

enum when {
	ALWAYS,
	WITH_CAP,      /* cap is in the bounding set */
	WITHOUT_ADMIN, /* CAP_SYS_ADMIN is not in the bounding set */
	KERNEL_4_8,    /* the running kernel is 4.8 or later */
};

struct arg {
	unsigned index;
	uint64_t value, value_two;
	const char *op;
};

struct group {
	enum when when;
	const char *cap;
	const char *const *names;
	int errno_ret; /* 0: SCMP_ACT_ALLOW; else SCMP_ACT_ERRNO with this errno */
	struct arg arg; /* used when arg.op is set */
};

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const char *const allowed[] = {
	"accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat",
	"capget", "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime",
	"clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
	"clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
	"connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
	"epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2",
	"epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit",
	"exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
	"fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32",
	"fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork",
	"fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64",
	"fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64",
	"futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents",
	"getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32",
	"getgroups", "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid",
	"getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid",
	"getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname",
	"getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32",
	"getxattr", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
	"io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
	"io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit",
	"io_uring_enter", "io_uring_register", "io_uring_setup", "ipc", "kill",
	"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
	"lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek",
	"lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack",
	"membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
	"mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr",
	"mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
	"mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
	"msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
	"newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
	"pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
	"ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
	"process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2",
	"read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
	"recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
	"renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
	"rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
	"rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
	"sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
	"sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
	"sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
	"sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
	"semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
	"setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
	"setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
	"setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
	"setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
	"set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt",
	"shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
	"socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx",
	"symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill",
	"time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
	"timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
	"timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
	"tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat",
	"utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4",
	"waitid", "waitpid", "write", "writev", NULL,
};

static const struct group groups[] = {
	{ ALWAYS, NULL, allowed, 0, { 0 } },
	/* no vsock: it reaches the host past the network namespace */
	{ ALWAYS, NULL, NAMES("socket"), 0, { 0, AF_VSOCK, 0, "SCMP_CMP_NE" } },
	/* personality: only PER_LINUX, PER_LINUX32, UNAME26 variants and the query */
	{ ALWAYS, NULL, NAMES("personality"), 0, { 0, 0x0, 0, "SCMP_CMP_EQ" } },
	{ ALWAYS, NULL, NAMES("personality"), 0, { 0, 0x0008, 0, "SCMP_CMP_EQ" } },
	{ ALWAYS, NULL, NAMES("personality"), 0, { 0, 0x20000, 0, "SCMP_CMP_EQ" } },
	{ ALWAYS, NULL, NAMES("personality"), 0, { 0, 0x20008, 0, "SCMP_CMP_EQ" } },
	{ ALWAYS, NULL, NAMES("personality"), 0, { 0, 0xffffffff, 0, "SCMP_CMP_EQ" } },
	{ KERNEL_4_8, NULL, NAMES("process_vm_readv", "process_vm_writev", "ptrace"), 0, { 0 } },
#if defined(__x86_64__)
	{ ALWAYS, NULL, NAMES("arch_prctl", "modify_ldt"), 0, { 0 } },
#elif defined(__i386__)
	{ ALWAYS, NULL, NAMES("modify_ldt"), 0, { 0 } },
#elif defined(__aarch64__) || defined(__arm__)
	{ ALWAYS, NULL,
	  NAMES("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
		"cacheflush", "set_tls"),
	  0, { 0 } },
#elif defined(__powerpc64__)
	{ ALWAYS, NULL, NAMES("sync_file_range2", "swapcontext"), 0, { 0 } },
#elif defined(__s390x__) || defined(__s390__)
	{ ALWAYS, NULL, NAMES("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"),
	  0, { 0 } },
#elif defined(__riscv)
	{ ALWAYS, NULL, NAMES("riscv_flush_icache"), 0, { 0 } },
#endif
	{ WITH_CAP, "CAP_DAC_READ_SEARCH", NAMES("open_by_handle_at"), 0, { 0 } },
	{ WITH_CAP, "CAP_SYS_ADMIN",
	  NAMES("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen",
		"fspick", "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree",
		"perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
		"setns", "syslog", "umount", "umount2", "unshare"),
	  0, { 0 } },
	{ WITH_CAP, "CAP_SYS_BOOT", NAMES("reboot"), 0, { 0 } },
	{ WITH_CAP, "CAP_SYS_CHROOT", NAMES("chroot"), 0, { 0 } },
	{ WITH_CAP, "CAP_SYS_MODULE", NAMES("delete_module", "init_module", "finit_module"), 0,
	  { 0 } },
	{ WITH_CAP, "CAP_SYS_PACCT", NAMES("acct"), 0, { 0 } },
	{ WITH_CAP, "CAP_SYS_PTRACE",
	  NAMES("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
		"process_vm_writev", "ptrace"),
	  0, { 0 } },
	{ WITH_CAP, "CAP_SYS_RAWIO", NAMES("iopl", "ioperm"), 0, { 0 } },
	{ WITH_CAP, "CAP_SYS_TIME",
	  NAMES("settimeofday", "stime", "clock_settime", "clock_settime64"), 0, { 0 } },
	{ WITH_CAP, "CAP_SYS_TTY_CONFIG", NAMES("vhangup"), 0, { 0 } },
	{ WITH_CAP, "CAP_SYS_NICE",
	  NAMES("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"), 0, { 0 } },
	{ WITH_CAP, "CAP_SYSLOG", NAMES("syslog"), 0, { 0 } },
	{ WITH_CAP, "CAP_BPF", NAMES("bpf"), 0, { 0 } },
	{ WITH_CAP, "CAP_PERFMON", NAMES("perf_event_open"), 0, { 0 } },
	/* without CAP_SYS_ADMIN: clone without namespace flags (its flags are
	 * the second argument on s390), and clone3, whose flags seccomp cannot
	 * see, fails with ENOSYS so that libc falls back to clone */
#if defined(__s390x__) || defined(__s390__)
	{ WITHOUT_ADMIN, NULL, NAMES("clone"), 0, { 1, CLONE_NS_FLAGS, 0, "SCMP_CMP_MASKED_EQ" } },
#else
	{ WITHOUT_ADMIN, NULL, NAMES("clone"), 0, { 0, CLONE_NS_FLAGS, 0, "SCMP_CMP_MASKED_EQ" } },
#endif
	{ WITHOUT_ADMIN, NULL, NAMES("clone3"), ENOSYS, { 0 } },
};

const char *const spec_seccomp_arches[] = {
#if defined(__x86_64__)
	"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
#elif defined(__i386__)
	"SCMP_ARCH_X86",
#elif defined(__aarch64__)
	"SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
#elif defined(__arm__)
	"SCMP_ARCH_ARM",
#elif defined(__s390x__)
	"SCMP_ARCH_S390", "SCMP_ARCH_S390X",
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	"SCMP_ARCH_PPC64LE",
#elif defined(__riscv) && __riscv_xlen == 64
	"SCMP_ARCH_RISCV64",
#endif
	NULL,
};

static bool has_cap(const json_t *caps, const char *cap)
{
	size_t i;
	json_t *v;
	json_array_foreach (caps, i, v) {
		const char *s = json_string_value(v);
		if (s && strcmp(s, cap) == 0)
			return true;
	}
	return false;
}

static bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;
	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

static bool included(const struct group *g, const json_t *caps)
{
	switch (g->when) {
	case ALWAYS:
		return true;
	case WITH_CAP:
		return has_cap(caps, g->cap);
	case WITHOUT_ADMIN:
		return !has_cap(caps, "CAP_SYS_ADMIN");
	case KERNEL_4_8:
		return kernel_at_least(4, 8);
	}
	return false;
}

/* Whether each name of group gi exists on this architecture: libseccomp's
 * resolver walks its tables, and every generated spec asks for ~370 names,
 * so each is resolved once per process (kept for its life). */
static const bool *known_names(size_t gi)
{
	static bool *cache[ARRAY_SIZE(groups)];
	if (!cache[gi]) {
		size_t n = 0;
		while (groups[gi].names[n])
			n++;
		bool *ok = xmalloc(n ? n * sizeof(*ok) : 1);
		for (size_t k = 0; k < n; k++)
			ok[k] = seccomp_syscall_resolve_name(groups[gi].names[k]) != __NR_SCMP_ERROR;
		cache[gi] = ok;
	}
	return cache[gi];
}

json_t *spec_seccomp_default(const json_t *caps)
{
	json_t *syscalls = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(groups); i++) {
		const struct group *g = &groups[i];
		if (!included(g, caps))
			continue;
		json_t *names = json_array();
		const bool *known = known_names(i);
		for (size_t k = 0; g->names[k]; k++)
			if (known[k])
				json_array_append_new(names, json_string(g->names[k]));
		if (json_array_size(names) == 0) {
			json_decref(names);
			continue;
		}
		json_t *rule = json_pack("{s:o, s:s}", "names", names, "action",
					 g->errno_ret ? "SCMP_ACT_ERRNO" : "SCMP_ACT_ALLOW");
		if (g->errno_ret)
			json_object_set_new(rule, "errnoRet", json_integer(g->errno_ret));
		if (g->arg.op)
			json_object_set_new(rule, "args",
					    json_pack("[{s:I, s:I, s:I, s:s}]", "index",
						      (json_int_t)g->arg.index, "value",
						      (json_int_t)g->arg.value, "valueTwo",
						      (json_int_t)g->arg.value_two, "op",
						      g->arg.op));
		json_array_append_new(syscalls, rule);
	}
	json_t *arches = json_array();
	for (const char *const *a = spec_seccomp_arches; *a; a++)
		json_array_append_new(arches, json_string(*a));
	return json_pack("{s:s, s:i, s:o, s:o}", "defaultAction", "SCMP_ACT_ERRNO",
			 "defaultErrnoRet", EPERM, "architectures", arches, "syscalls",
			 syscalls);
}
