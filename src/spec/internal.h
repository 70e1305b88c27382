/*
 * spec/internal.h: the pieces spec_generate() is made of, one file each.
 *
 * default.c  containerd's default Linux spec (spec_default_new)
 * seccomp.c  containerd's/Docker's default seccomp profile (spec_seccomp_default)
 * user.c     users and groups from the rootfs layers (spec_user_resolve)
 * generate.c the image config and the request's overrides (spec_generate)
 * validate.c a client's whole spec (spec_validate)
 */
#ifndef BERTH_SPEC_INTERNAL_H
#define BERTH_SPEC_INTERNAL_H

#include <sys/types.h>

#include "spec/spec.h"

#define SPEC_OCI_VERSION "1.0.2-dev"
#define SPEC_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* containerd 1.6's populateDefaultUnixSpec() plus the read-only cgroup
 * mount: root "rootfs", cwd "/", uid 0, default caps, RLIMIT_NOFILE,
 * mounts, masked and read-only paths, devices deny-all, the five
 * namespaces, cgroupsPath "/<ns>/<id>" (callers may replace it). */
json_t *spec_default_new(const char *ns, const char *id);

/* The default seccomp profile for a process whose bounding set is caps
 * (an array of "CAP_..." strings): the allow-list, the arch's extra calls,
 * the capability-gated groups, clone without namespace flags unless
 * CAP_SYS_ADMIN. Names this host's libseccomp cannot resolve are left out. */
json_t *spec_seccomp_default(const json_t *caps);

/* The architectures of the profile on this host ("SCMP_ARCH_X86_64", ...),
 * NULL-terminated. */
extern const char *const spec_seccomp_arches[];

/* A process user resolved against the image. */
struct spec_user {
	uid_t uid;
	gid_t gid;
	char *home;          /* from /etc/passwd; NULL when the uid has no entry */
	gid_t *gids;         /* additionalGids: gid first, then the groups listing the user */
	size_t ngids;
};

/* Resolve user ("", "name", "uid", "name:group", "uid:gid", group also by
 * number) as containerd's WithUser + WithAdditionalGIDs against
 * /etc/passwd and /etc/group of layers (topmost first; may be NULL).
 * "" is root. Unknown names are E_INVALID_ARGUMENT. */
int spec_user_resolve(const char *const *layers, const char *user, struct spec_user *u,
		      err_t *err);
void spec_user_release(struct spec_user *u);

/* Read path (relative, e.g. "etc/passwd") from the union of layers,
 * topmost first: a whiteout (0/0 char device) or an opaque directory on
 * the way hides the lower layers; symlinks resolve inside their own layer
 * only. *data NULL (and 0 returned) when no layer has it. At most 4 MiB. */
int spec_layers_read(const char *const *layers, const char *path, char **data, size_t *len,
		     err_t *err);

#endif
