/*
 * leases: containerd's leases service. A lease protects the resources it
 * lists (content by digest, ingests by ref; snapshots later) from garbage
 * collection until it is deleted or expires. Every pull runs under one.
 *
 * Record (bucket `leases`, per namespace): {"labels","created_at",
 * "expires_at"?,"expires_at_ns"?,"resources":[{"type","id"}]}; served as
 * {"id","created_at","expires_at"?,"labels"}.
 */
#ifndef BERTH_LEASES_LEASES_H
#define BERTH_LEASES_LEASES_H

#include <lmdb.h>

#include "core/daemon.h"
#include "core/json.h"

/* id NULL: one is generated; expires_in <= 0: never expires. */
json_t *leases_create(struct daemon *d, const char *ns, const char *id, double expires_in,
		      json_t *labels, err_t *err);
struct filter;
json_t *leases_list(struct daemon *d, const char *ns, const struct filter *f, err_t *err);
int leases_delete(struct daemon *d, const char *ns, const char *id, err_t *err);
json_t *leases_resources(struct daemon *d, const char *ns, const char *id, err_t *err);
/* type: "content" (a digest), "ingests" (a ref), "snapshots/<snapshotter>". */
int leases_add_resource(struct daemon *d, const char *ns, const char *id, const char *type,
			const char *rid, err_t *err);
int leases_remove_resource(struct daemon *d, const char *ns, const char *id, const char *type,
			   const char *rid, err_t *err);
int leases_validate_resource(const char *type, const char *rid, err_t *err);

/* Is the lease record expired at now_ns? */
bool lease_expired(json_t *rec, int64_t now_ns);

#endif
