/* Unit tests for metadata/store.c on a temporary LMDB environment. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "metadata/store.h"
#include "tap.h"

static int count_cb(const char *key, json_t *val, void *data, err_t *err)
{
	(*(int *)data)++;
	return 0;
}

int main(void)
{
	plan_lazy();
	char dir[] = "/tmp/berth-store-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	cleanup_free char *meta = xasprintf("%s/meta", dir);
	struct store *s = NULL;
	err_t err = NULL;
	ok(store_open(&s, meta, 1 << 24, &err) == 0, "open creates the environment");

	MDB_txn *txn = NULL;
	ok(store_txn_begin(s, true, &txn, &err) == 0, "write transaction");
	json_t *v = json_pack("{s:s}", "a", "b");
	ok(store_put(s, txn, BUCKET_NAMESPACES, NULL, "one", v, STORE_NOOVERWRITE, &err) == 0,
	   "put");
	ok(store_put(s, txn, BUCKET_NAMESPACES, NULL, "one", v, STORE_NOOVERWRITE, &err) < 0 &&
		   err->kind == E_ALREADY_EXISTS,
	   "put with NOOVERWRITE on an existing key");
	err_free(&err);
	ok(store_put(s, txn, BUCKET_NAMESPACES, NULL, "two", v, 0, &err) == 0, "second put");
	json_decref(v);
	ok(store_txn_commit(&txn, &err) == 0 && txn == NULL, "commit clears the handle");

	ok(store_txn_begin(s, false, &txn, &err) == 0, "read transaction");
	json_t *got = NULL;
	ok(store_get(s, txn, BUCKET_NAMESPACES, NULL, "one", &got, &err) == 0 &&
		   strcmp(json_get_string(got, "a"), "b") == 0,
	   "get returns the stored JSON");
	json_decref(got);
	ok(store_get(s, txn, BUCKET_NAMESPACES, NULL, "nope", &got, &err) < 0 &&
		   err->kind == E_NOT_FOUND,
	   "missing key is not_found");
	err_free(&err);
	got = (json_t *)1;
	ok(store_get_opt(s, txn, BUCKET_NAMESPACES, NULL, "nope", &got, &err) == 0 && !got,
	   "get_opt of a missing key");
	int n = 0;
	ok(store_foreach(s, txn, BUCKET_NAMESPACES, NULL, count_cb, &n, &err) == 0 && n == 2,
	   "foreach visits every record");
	const char *what = NULL;
	is_int(store_namespace_in_use(s, txn, "one", &what, &err), 0,
	       "nothing holds a namespace yet");
	mdb_txn_abort(txn);
	txn = NULL;

	/* an aborted write leaves nothing behind */
	{
		cleanup_txn MDB_txn *t2 = NULL;
		store_txn_begin(s, true, &t2, &err);
		json_t *x = json_object();
		store_put(s, t2, BUCKET_NAMESPACES, NULL, "ghost", x, 0, &err);
		json_decref(x);
	}
	store_txn_begin(s, false, &txn, &err);
	ok(store_get_opt(s, txn, BUCKET_NAMESPACES, NULL, "ghost", &got, &err) == 0 && !got,
	   "cleanup_txn aborts an uncommitted write");
	mdb_txn_abort(txn);

	store_txn_begin(s, true, &txn, &err);
	ok(store_del(s, txn, BUCKET_NAMESPACES, NULL, "two", &err) == 0, "delete");
	ok(store_del(s, txn, BUCKET_NAMESPACES, NULL, "two", &err) < 0 && err->kind == E_NOT_FOUND,
	   "delete of a missing key is not_found");
	err_free(&err);
	ok(store_txn_commit(&txn, &err) == 0, "commit delete");

	/* counters kept as decimal numbers */
	store_txn_begin(s, true, &txn, &err);
	uint64_t u = 0;
	ok(store_put_u64(s, txn, BUCKET_META, NULL, "counter", UINT64_MAX, &err) == 0 &&
		   store_get_u64(s, txn, BUCKET_META, NULL, "counter", &u, &err) == 0 &&
		   u == UINT64_MAX,
	   "put_u64 then get_u64 of the largest value");
	u = 7;
	ok(store_get_u64(s, txn, BUCKET_META, NULL, "no-counter", &u, &err) < 0 &&
		   err->kind == E_NOT_FOUND && u == 7,
	   "get_u64 of a missing key is not_found, *out untouched");
	err_free(&err);
	store_put_raw(s, txn, BUCKET_META, NULL, "counter", "12x", 3, &err);
	ok(store_get_u64(s, txn, BUCKET_META, NULL, "counter", &u, &err) < 0 &&
		   err->kind == E_INTERNAL,
	   "get_u64 of a value that is not a number is internal");
	err_free(&err);
	mdb_txn_abort(txn);
	txn = NULL;
	store_close(s);

	/* reopen: data is durable, schema accepted */
	s = NULL;
	ok(store_open(&s, meta, 1 << 24, &err) == 0, "reopen");
	store_txn_begin(s, false, &txn, &err);
	ok(store_get(s, txn, BUCKET_NAMESPACES, NULL, "one", &got, &err) == 0, "survives reopen");
	json_decref(got);
	mdb_txn_abort(txn);

	/* a newer schema is refused */
	store_txn_begin(s, true, &txn, &err);
	store_put_raw(s, txn, BUCKET_META, NULL, "schema_version", "99", 2, &err);
	store_txn_commit(&txn, &err);
	store_close(s);
	s = NULL;
	ok(store_open(&s, meta, 1 << 24, &err) < 0 && err->kind == E_FAILED_PRECONDITION &&
		   strstr(err->msg, "schema version 99"),
	   "unknown schema version is refused");
	if (err)
		diag("%s", err->msg);
	err_free(&err);

	/* an unusable directory */
	ok(store_open(&s, "/proc/berth-no/meta", 1 << 24, &err) < 0 && err, "bad path fails");
	err_free(&err);

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
