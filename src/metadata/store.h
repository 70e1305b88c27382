/*
 * metadata/store: berth's metadata in one LMDB environment at <root>/meta.
 *
 * Key schema (schema version 1). Each bucket is an LMDB named database:
 *
 *   meta        global   "schema_version" → "1"; "events_seq_floor" → decimal
 *   namespaces  global   <ns> → {"labels":{},"created_at","updated_at"}
 *   blobs       global   "sha256:<hex>" → {"size","created_at"}: blobs on disk
 *   content     ns       "sha256:<hex>" → {"labels","created_at","updated_at"}:
 *                        the blob is visible in the namespace (holds it)
 *   ingests     ns       <ref> → {"key","expected","total","started_at","updated_at"}
 *   images      ns       <name> → {"target","labels","created_at","updated_at"} (holds)
 *   leases      ns       <id> → {"labels","created_at","expires_at","resources":[...]}
 *   snapshots   ns       "<snapshotter>/<name or key>" → {"kind","parent"?,"id",
 *                        "labels","created_at","updated_at","usage"?} (holds);
 *                        id names the directory <root>/snapshots/<snapshotter>/<id>
 *   containers  ns       <id> → {"image"?,"image_target"?,"spec","snapshotter"?,
 *                        "snapshot_key"?,"runtime":{"name","options"?},"labels",
 *                        "created_at","updated_at"} (holds); image_target is the
 *                        digest of the image's target when the container was made
 *                        or its image changed (the GC keeps that content)
 *
 * Namespaced buckets key their records as "<ns>\0<key>", so a namespace's
 * records are one contiguous range; global buckets use the key as is.
 * Values are compact JSON text. Writes are LMDB write transactions and are
 * durable at commit (no MDB_NOSYNC). The environment is opened and used only
 * from the loop thread; forked workers never touch it.
 *
 * Transactions are plain MDB_txn pointers; declare them cleanup_txn so an
 * early return aborts, and finish with store_txn_commit(&txn, err).
 */
#ifndef BERTH_METADATA_STORE_H
#define BERTH_METADATA_STORE_H

#include <lmdb.h>

#include "core/err.h"
#include "core/json.h"

#define STORE_SCHEMA_VERSION 1

enum store_bucket {
	BUCKET_META = 0,
	BUCKET_NAMESPACES,
	BUCKET_BLOBS,
	BUCKET_CONTENT,
	BUCKET_INGESTS,
	BUCKET_IMAGES,
	BUCKET_LEASES,
	BUCKET_SNAPSHOTS,
	BUCKET_CONTAINERS,
	BUCKET_MAX,
};

struct store;

int store_open(struct store **out, const char *dir, uint64_t map_size, err_t *err);
void store_close(struct store *s);
const char *store_path(const struct store *s);

int store_txn_begin(struct store *s, bool write, MDB_txn **txn, err_t *err);
/* Commit and set *txn to NULL; on failure the transaction is aborted. */
int store_txn_commit(MDB_txn **txn, err_t *err);

static inline void cleanup_txn_fn(MDB_txn **txn)
{
	if (*txn)
		mdb_txn_abort(*txn);
}
#define cleanup_txn __attribute__((cleanup(cleanup_txn_fn)))

/* ns is NULL for global buckets and required for namespaced ones. */
int store_get(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
	      const char *key, json_t **out, err_t *err);
/* Missing key: returns 0 and sets *out NULL, no error. */
int store_get_opt(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
		  const char *key, json_t **out, err_t *err);

#define STORE_NOOVERWRITE 1u /* E_ALREADY_EXISTS when the key exists */
int store_put(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
	      const char *key, const json_t *val, unsigned flags, err_t *err);
int store_put_raw(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
		  const char *key, const void *val, size_t len, err_t *err);
int store_get_raw(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
		  const char *key, MDB_val *out, err_t *err);
/* A counter kept as a decimal number: E_NOT_FOUND when the key does not
 * exist, E_INTERNAL when its value is not a number. */
int store_get_u64(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
		  const char *key, uint64_t *out, err_t *err);
int store_put_u64(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
		  const char *key, uint64_t val, err_t *err);
/* E_NOT_FOUND when the key does not exist. */
int store_del(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
	      const char *key, err_t *err);

/* Call cb for every record of the bucket (of namespace ns for namespaced
 * buckets) in key order; cb returns < 0 to stop with an error, 1 to stop. */
typedef int (*store_foreach_cb)(const char *key, json_t *val, void *data, err_t *err);
int store_foreach(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
		  store_foreach_cb cb, void *data, err_t *err);

/* Does namespace ns still hold anything that blocks its deletion? Returns 1
 * and sets *what to the bucket name ("images", ...) when it does, 0 if not. */
int store_namespace_in_use(struct store *s, MDB_txn *txn, const char *ns, const char **what,
			   err_t *err);

const char *store_bucket_name(enum store_bucket b);

/* Map an LMDB return code to an err. */
int store_error(err_t *err, int rc, const char *what);

#endif
