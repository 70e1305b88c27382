/*
 * The default Linux spec: what containerd 1.6's populateDefaultUnixSpec()
 * builds (`ctr oci spec` prints it), plus Docker's read-only cgroup mount
 * at /sys/fs/cgroup so a container sees its own cgroup.
 */
#include "config.h"

#include "spec/internal.h"

const char *const spec_default_caps[] = {
	"CAP_CHOWN",	    "CAP_DAC_OVERRIDE", "CAP_FSETID",	"CAP_FOWNER",
	"CAP_MKNOD",	    "CAP_NET_RAW",	"CAP_SETGID",	"CAP_SETUID",
	"CAP_SETFCAP",	    "CAP_SETPCAP",	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",   "CAP_KILL",		"CAP_AUDIT_WRITE",
	NULL,
};

static const char *const masked_paths[] = {
	"/proc/acpi",	     "/proc/asound",	 "/proc/kcore",	      "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/sys/firmware",     "/proc/scsi",	 NULL,
};

static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static const char *const namespaces[] = { "pid", "ipc", "uts", "mount", "network", NULL };

struct default_mount {
	const char *destination, *type, *source;
	const char *options[8];
};

static const struct default_mount mounts[] = {
	{ "/proc", "proc", "proc", { "nosuid", "noexec", "nodev" } },
	{ "/dev", "tmpfs", "tmpfs", { "nosuid", "strictatime", "mode=755", "size=65536k" } },
	{ "/dev/pts",
	  "devpts",
	  "devpts",
	  { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" } },
	{ "/dev/shm", "tmpfs", "shm", { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } },
	{ "/dev/mqueue", "mqueue", "mqueue", { "nosuid", "noexec", "nodev" } },
	{ "/sys", "sysfs", "sysfs", { "nosuid", "noexec", "nodev", "ro" } },
	{ "/sys/fs/cgroup", "cgroup", "cgroup", { "nosuid", "noexec", "nodev", "relatime", "ro" } },
	{ "/run", "tmpfs", "tmpfs", { "nosuid", "strictatime", "mode=755", "size=65536k" } },
};

static json_t *strings(const char *const *list)
{
	json_t *a = json_array();
	for (; *list; list++)
		json_array_append_new(a, json_string(*list));
	return a;
}

static json_t *default_mounts(void)
{
	json_t *a = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(mounts); i++) {
		json_t *opts = json_array();
		for (size_t k = 0; k < ARRAY_SIZE(mounts[i].options) && mounts[i].options[k]; k++)
			json_array_append_new(opts, json_string(mounts[i].options[k]));
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:o}", "destination",
						   mounts[i].destination, "type", mounts[i].type,
						   "source", mounts[i].source, "options", opts));
	}
	return a;
}

json_t *spec_default_new(const char *ns, const char *id)
{
	json_t *caps = json_pack("{s:o, s:o, s:o}", "bounding", strings(spec_default_caps),
				 "effective", strings(spec_default_caps), "permitted",
				 strings(spec_default_caps));
	json_t *process = json_pack(
		"{s:{s:i, s:i}, s:[s], s:s, s:o, s:[{s:s, s:i, s:i}], s:b}", "user", "uid", 0,
		"gid", 0, "env", SPEC_DEFAULT_PATH, "cwd", "/", "capabilities", caps, "rlimits",
		"type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024, "noNewPrivileges", 1);
	json_t *ns_list = json_array();
	for (const char *const *n = namespaces; *n; n++)
		json_array_append_new(ns_list, json_pack("{s:s}", "type", *n));
	cleanup_free char *cg = xasprintf("/%s%s%s", ns ? ns : "default", id && *id ? "/" : "",
					  id ? id : "");
	json_t *linux_ = json_pack("{s:{s:[{s:b, s:s}]}, s:s, s:o, s:o, s:o}", "resources",
				   "devices", "allow", 0, "access", "rwm", "cgroupsPath", cg,
				   "namespaces", ns_list, "maskedPaths", strings(masked_paths),
				   "readonlyPaths", strings(readonly_paths));
	return json_pack("{s:s, s:o, s:{s:s}, s:o, s:o}", "ociVersion", SPEC_OCI_VERSION,
			 "process", process, "root", "path", "rootfs", "mounts", default_mounts(),
			 "linux", linux_);
}
