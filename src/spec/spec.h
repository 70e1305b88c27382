/*
 * spec: OCI runtime specs for containers, what containerd's
 * `oci.WithNewSpec(oci.WithImageConfig(image), ...)` builds.
 *
 * spec_generate() starts from containerd's default Linux spec (namespaces
 * pid/ipc/uts/mount/network, the standard mounts with /sys read-only and a
 * cgroup mount, Docker's default capabilities, masked and read-only paths,
 * RLIMIT_NOFILE 1024:1024, containerd's/Docker's default seccomp profile with
 * the syscalls the host's libseccomp does not know dropped), applies the
 * image config (Entrypoint + Cmd, Env, WorkingDir, User) and then the
 * request's overrides. spec_validate() checks a spec a client sent whole.
 *
 * Pure functions: no loop, no daemon; the only I/O is reading /etc/passwd
 * and /etc/group from the rootfs layers (small files) to resolve users,
 * checking that bind mount sources and, for net_host, the host's /etc/hosts
 * and /etc/resolv.conf exist. Choices where containerd and Docker differ
 * are listed at the top of spec/generate.c.
 */
#ifndef BERTH_SPEC_SPEC_H
#define BERTH_SPEC_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/json.h"

struct spec_opts {
	const char *id;        /* container id: default hostname, cgroup path */
	const char *ns;        /* namespace: cgroup path /berth/<ns>/<id> */
	/* The image's config blob ({"config":{"Entrypoint","Cmd","Env",
	 * "WorkingDir","User"},...}); NULL when there is no image. Borrowed. */
	const json_t *image_config;
	/* Directories holding the rootfs' layers, topmost first (an overlay's
	 * upperdir then its lowerdirs, or one dir), NULL-terminated; files are
	 * looked up in order, a whiteout (0/0 char device) hides lower ones.
	 * Used only to resolve user and group names; may be NULL. */
	const char *const *rootfs_layers;

	/* Overrides from the request (API.md "process" and "options"); NULL,
	 * false or 0 keep what the image says / the default. Borrowed. */
	/* array of strings: replaces Entrypoint and Cmd both (containerd's
	 * WithProcessArgs, `ctr run IMAGE ID ARGS...`; not Docker's
	 * `docker run IMAGE CMD`, which keeps the Entrypoint); NULL or []
	 * keeps the image's Entrypoint + Cmd */
	const json_t *args;
	const json_t *env;      /* array of "K=V": added, replacing same K */
	const char *cwd;        /* absolute; "" as NULL (also user, hostname) */
	const char *user;       /* "name", "uid", "name:group", "uid:gid" */
	const char *hostname;
	bool terminal;
	bool net_host;          /* host network ns, host's /etc/hosts, /etc/resolv.conf */
	bool readonly_rootfs;
	/* array of {"source","destination","readonly"?: bool,"type"?,"options"?}
	 * or strings "src:dst[:ro]"; bind mounts unless type is given */
	const json_t *mounts;
	int64_t memory;         /* bytes (>= 6 MiB), swap limited to the same; 0 = unlimited */
	double cpus;            /* CPUs (quota = cpus * period 100000); 0 = unlimited */
	int64_t cpu_shares;     /* 0 = default */
	int64_t pids;           /* pids limit; 0 = unlimited */
};

/* Build the spec; *out is a new object. E_INVALID_ARGUMENT for bad overrides
 * (relative cwd, bad mount, negative limits, unknown user...), naming what. */
int spec_generate(const struct spec_opts *o, json_t **out, err_t *err);

/* Validate a client's full spec: ociVersion, process (args non-empty
 * strings, cwd absolute, user uid/gid, env strings), root.path, mounts
 * (destination absolute), linux namespaces types, resources values.
 * E_INVALID_ARGUMENT naming the first bad field. The spec is not changed. */
int spec_validate(const json_t *spec, err_t *err);

/* The process of an exec, as `ctr t exec` makes it: base (the container
 * spec's process; NULL: a bare one) with req's {"args" (required),"env"
 * (KEY=VALUE set over base's),"cwd" (absolute),"user" (resolved through
 * /etc/passwd and /etc/group under rootfs, the task's mounted root; NULL:
 * numeric users only),"terminal"}. *out is new. E_INVALID_ARGUMENT naming
 * the field. */
int spec_exec_process(const json_t *base, const json_t *req, const char *rootfs, json_t **out,
		      err_t *err);

/* Docker's/containerd's default capability set, NULL-terminated. */
extern const char *const spec_default_caps[];

#endif
