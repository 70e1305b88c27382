#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "metadata/store.h"

struct store {
	MDB_env *env;
	MDB_dbi dbi[BUCKET_MAX];
	char *path;
};

/* The buckets. holds_namespace: records here keep their namespace from
 * being deleted (containerd refuses to delete a namespace that is not empty). */
static const struct bucket_def {
	const char *name;
	bool namespaced;
	bool holds_namespace;
} buckets[BUCKET_MAX] = {
	[BUCKET_META] = { "meta", false, false },
	[BUCKET_NAMESPACES] = { "namespaces", false, false },
	[BUCKET_BLOBS] = { "blobs", false, false },
	[BUCKET_CONTENT] = { "content", true, true },
	[BUCKET_INGESTS] = { "ingests", true, false },
	[BUCKET_IMAGES] = { "images", true, true },
	[BUCKET_LEASES] = { "leases", true, false },
	[BUCKET_SNAPSHOTS] = { "snapshots", true, true },
	[BUCKET_CONTAINERS] = { "containers", true, true },
};

const char *store_bucket_name(enum store_bucket b)
{
	return b < BUCKET_MAX ? buckets[b].name : "?";
}

int store_error(err_t *err, int rc, const char *what)
{
	enum err_kind kind = E_INTERNAL;
	if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL)
		kind = E_UNAVAILABLE;
	if (rc == MDB_NOTFOUND)
		kind = E_NOT_FOUND;
	if (rc == MDB_KEYEXIST)
		kind = E_ALREADY_EXISTS;
	return make_error(err, kind, 0, "metadata %s: %s", what, mdb_strerror(rc));
}

static int check_schema(struct store *s, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(s, true, &txn, err) < 0)
		return -1;
	MDB_val v;
	MDB_val k = { strlen("schema_version"), (void *)"schema_version" };
	int rc = mdb_get(txn, s->dbi[BUCKET_META], &k, &v);
	if (rc == MDB_NOTFOUND) {
		char ver[16];
		int n = snprintf(ver, sizeof(ver), "%d", STORE_SCHEMA_VERSION);
		MDB_val nv = { (size_t)n, ver };
		rc = mdb_put(txn, s->dbi[BUCKET_META], &k, &nv, 0);
		if (rc)
			return store_error(err, rc, "write schema version");
		log_info("metadata store created", "path=%s schema=%d", s->path,
			 STORE_SCHEMA_VERSION);
	} else if (rc) {
		return store_error(err, rc, "read schema version");
	} else {
		char ver[16] = "";
		memcpy(ver, v.mv_data, v.mv_size < sizeof(ver) - 1 ? v.mv_size : sizeof(ver) - 1);
		int got = atoi(ver);
		if (got != STORE_SCHEMA_VERSION)
			return make_error(err, E_FAILED_PRECONDITION, 0,
					  "metadata at `%s` has schema version %s, this berthd "
					  "reads version %d",
					  s->path, ver, STORE_SCHEMA_VERSION);
	}
	return store_txn_commit(&txn, err);
}

int store_open(struct store **out, const char *dir, uint64_t map_size, err_t *err)
{
	if (mkdir_p(dir, 0700) < 0)
		return make_error(err, E_INVALID_ARGUMENT, errno, "create metadata directory `%s`",
				  dir);
	struct store *s = xzalloc(sizeof(*s));
	s->path = xstrdup(dir);
	int rc = mdb_env_create(&s->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(s->env, 32);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env, (size_t)map_size);
	if (rc == 0)
		rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600);
	if (rc) {
		make_error(err, E_INVALID_ARGUMENT, 0, "open metadata store `%s`: %s", dir,
			   mdb_strerror(rc));
		store_close(s);
		return -1;
	}
	/* Stale readers left by a killed berthd would pin old pages forever. */
	int dead = 0;
	mdb_reader_check(s->env, &dead);

	MDB_txn *txn;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	for (int b = 0; rc == 0 && b < BUCKET_MAX; b++)
		rc = mdb_dbi_open(txn, buckets[b].name, MDB_CREATE, &s->dbi[b]);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc) {
		store_error(err, rc, "open buckets");
		store_close(s);
		return -1;
	}
	if (check_schema(s, err) < 0) {
		store_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->env)
		mdb_env_close(s->env);
	free(s->path);
	free(s);
}

const char *store_path(const struct store *s)
{
	return s->path;
}

int store_txn_begin(struct store *s, bool write, MDB_txn **txn, err_t *err)
{
	int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, txn);
	if (rc) {
		*txn = NULL;
		return store_error(err, rc, "begin transaction");
	}
	return 0;
}

int store_txn_commit(MDB_txn **txn, err_t *err)
{
	int rc = mdb_txn_commit(*txn);
	*txn = NULL;
	if (rc)
		return store_error(err, rc, "commit");
	return 0;
}

/* Build the LMDB key for (bucket, ns, key) in buf. */
static int make_key(enum store_bucket b, const char *ns, const char *key, struct buf *kb,
		    MDB_val *out, err_t *err)
{
	if (b >= BUCKET_MAX)
		return make_error(err, E_INTERNAL, 0, "bad bucket %d", (int)b);
	if (buckets[b].namespaced) {
		if (!ns)
			return make_error(err, E_INTERNAL, 0, "bucket `%s` needs a namespace",
					  buckets[b].name);
		buf_adds(kb, ns);
		buf_add(kb, "", 1);
	}
	if (key)
		buf_adds(kb, key);
	if (kb->len == 0 || kb->len > 511)
		return make_error(err, E_INVALID_ARGUMENT, 0, "key `%.64s` has a bad length",
				  key ? key : "");
	out->mv_data = kb->data;
	out->mv_size = kb->len;
	return 0;
}

int store_get_raw(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
		  const char *key, MDB_val *out, err_t *err)
{
	struct buf kb = BUF_INIT;
	MDB_val k;
	int r = make_key(b, ns, key, &kb, &k, err);
	if (r == 0) {
		int rc = mdb_get(txn, s->dbi[b], &k, out);
		if (rc == MDB_NOTFOUND)
			r = make_error(err, E_NOT_FOUND, 0, "%s `%s` not found",
				       buckets[b].name, key);
		else if (rc)
			r = store_error(err, rc, "get");
	}
	buf_release(&kb);
	return r;
}

int store_get_u64(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
		  const char *key, uint64_t *out, err_t *err)
{
	MDB_val v;
	if (store_get_raw(s, txn, b, ns, key, &v, err) < 0)
		return -1;
	char num[32] = "";
	memcpy(num, v.mv_data, v.mv_size < sizeof(num) - 1 ? v.mv_size : sizeof(num) - 1);
	if (v.mv_size >= sizeof(num) || !parse_u64(num, out))
		return make_error(err, E_INTERNAL, 0, "metadata `%s` is corrupt", key);
	return 0;
}

int store_put_u64(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
		  const char *key, uint64_t val, err_t *err)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)val);
	return store_put_raw(s, txn, b, ns, key, num, (size_t)n, err);
}

static json_t *parse_value(const MDB_val *v, const char *key, err_t *err)
{
	json_error_t jerr;
	json_t *j = json_loadb(v->mv_data, v->mv_size, 0, &jerr);
	if (!j)
		make_error(err, E_INTERNAL, 0, "metadata record `%s` is corrupt: %s", key,
			   jerr.text);
	return j;
}

int store_get(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
	      const char *key, json_t **out, err_t *err)
{
	MDB_val v;
	if (store_get_raw(s, txn, b, ns, key, &v, err) < 0)
		return -1;
	*out = parse_value(&v, key, err);
	return *out ? 0 : -1;
}

int store_get_opt(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
		  const char *key, json_t **out, err_t *err)
{
	*out = NULL;
	err_t e = NULL;
	if (store_get(s, txn, b, ns, key, out, &e) < 0) {
		if (e->kind == E_NOT_FOUND) {
			err_free(&e);
			return 0;
		}
		*err = e;
		return -1;
	}
	return 0;
}

int store_put_raw(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
		  const char *key, const void *val, size_t len, err_t *err)
{
	struct buf kb = BUF_INIT;
	MDB_val k;
	int r = make_key(b, ns, key, &kb, &k, err);
	if (r == 0) {
		MDB_val v = { len, (void *)val };
		int rc = mdb_put(txn, s->dbi[b], &k, &v, 0);
		if (rc)
			r = store_error(err, rc, "put");
	}
	buf_release(&kb);
	return r;
}

int store_put(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
	      const char *key, const json_t *val, unsigned flags, err_t *err)
{
	struct buf kb = BUF_INIT;
	MDB_val k;
	int r = make_key(b, ns, key, &kb, &k, err);
	if (r == 0) {
		size_t len;
		cleanup_free char *text = json_dump_compact(val, &len);
		MDB_val v = { len, text };
		int rc = mdb_put(txn, s->dbi[b], &k, &v,
				 (flags & STORE_NOOVERWRITE) ? MDB_NOOVERWRITE : 0);
		if (rc == MDB_KEYEXIST)
			r = make_error(err, E_ALREADY_EXISTS, 0, "%s `%s` already exists",
				       buckets[b].name, key);
		else if (rc)
			r = store_error(err, rc, "put");
	}
	buf_release(&kb);
	return r;
}

int store_del(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
	      const char *key, err_t *err)
{
	struct buf kb = BUF_INIT;
	MDB_val k;
	int r = make_key(b, ns, key, &kb, &k, err);
	if (r == 0) {
		int rc = mdb_del(txn, s->dbi[b], &k, NULL);
		if (rc == MDB_NOTFOUND)
			r = make_error(err, E_NOT_FOUND, 0, "%s `%s` not found",
				       buckets[b].name, key);
		else if (rc)
			r = store_error(err, rc, "delete");
	}
	buf_release(&kb);
	return r;
}

int store_foreach(struct store *s, MDB_txn *txn, enum store_bucket b, const char *ns,
		  store_foreach_cb cb, void *data, err_t *err)
{
	if (b >= BUCKET_MAX)
		return make_error(err, E_INTERNAL, 0, "bad bucket %d", (int)b);
	struct buf prefix = BUF_INIT;
	if (buckets[b].namespaced) {
		buf_adds(&prefix, ns);
		buf_add(&prefix, "", 1);
	}
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, s->dbi[b], &cur);
	if (rc) {
		buf_release(&prefix);
		return store_error(err, rc, "open cursor");
	}
	MDB_val k = { prefix.len, prefix.data }, v;
	int r = 0;
	rc = mdb_cursor_get(cur, &k, &v, prefix.len ? MDB_SET_RANGE : MDB_FIRST);
	struct buf key = BUF_INIT;
	while (rc == 0) {
		if (prefix.len &&
		    (k.mv_size < prefix.len || memcmp(k.mv_data, prefix.data, prefix.len) != 0))
			break;
		buf_reset(&key);
		buf_add(&key, (char *)k.mv_data + prefix.len, k.mv_size - prefix.len);
		json_t *j = parse_value(&v, key.data, err);
		if (!j) {
			r = -1;
			break;
		}
		r = cb(key.data, j, data, err);
		json_decref(j);
		if (r != 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc && rc != MDB_NOTFOUND && r == 0)
		r = store_error(err, rc, "iterate");
	mdb_cursor_close(cur);
	buf_release(&key);
	buf_release(&prefix);
	return r < 0 ? -1 : 0;
}

int store_namespace_in_use(struct store *s, MDB_txn *txn, const char *ns, const char **what,
			   err_t *err)
{
	size_t plen = strlen(ns) + 1;
	for (int b = 0; b < BUCKET_MAX; b++) {
		if (!buckets[b].holds_namespace)
			continue;
		MDB_cursor *cur;
		int rc = mdb_cursor_open(txn, s->dbi[b], &cur);
		if (rc)
			return store_error(err, rc, "open cursor");
		MDB_val k = { plen, (void *)ns }, v;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		bool used = rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, ns, plen) == 0;
		mdb_cursor_close(cur);
		if (rc && rc != MDB_NOTFOUND)
			return store_error(err, rc, "scan");
		if (used) {
			*what = buckets[b].name;
			return 1;
		}
	}
	return 0;
}
