/*
 * namespaces: containerd's namespaces service. Every other object lives in
 * a namespace; `default` always exists (created at start-up, never
 * deleted). A namespace can be deleted only when nothing is left in it:
 * every bucket flagged holds_namespace in metadata/store.c is checked, so
 * later services block deletion just by storing their records there.
 * Create, update and delete publish /namespaces/{create,update,delete}.
 */
#ifndef BERTH_NAMESPACES_NAMESPACES_H
#define BERTH_NAMESPACES_NAMESPACES_H

#include "core/daemon.h"
#include "core/json.h"
#include "metadata/store.h"

#define NAMESPACE_DEFAULT "default"

/* Make sure `default` exists. */
int namespaces_init(struct daemon *d, err_t *err);

/* Each returns the namespace as served: {"name","labels","created_at","updated_at"}. */
json_t *namespaces_create(struct daemon *d, const char *name, json_t *labels, err_t *err);
json_t *namespaces_get(struct daemon *d, const char *name, err_t *err);
/* labels_patch: merge-patch (null deletes a label). */
json_t *namespaces_update(struct daemon *d, const char *name, json_t *labels_patch, err_t *err);
int namespaces_delete(struct daemon *d, const char *name, err_t *err);
/* Every namespace, in name order; filters already parsed (may be NULL). */
struct filter;
json_t *namespaces_list(struct daemon *d, const struct filter *f, err_t *err);

/* Writes into a namespace create it if needed, as containerd does: inside
 * txn, validate ns and add its record when missing (*created set). After
 * committing, call namespaces_created() to publish /namespaces/create. */
int namespaces_ensure(struct daemon *d, MDB_txn *txn, const char *ns, bool *created, err_t *err);
void namespaces_created(struct daemon *d, const char *ns);

/* Does the namespace exist? (0 no, 1 yes, -1 error) */
int namespaces_exists(struct daemon *d, const char *name, err_t *err);

#endif
