/* The content store's life: opening (with recovery from whatever a crash
 * left), orphan blobs verified in chunks from the loop, ingest expiry. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>

#include "content/internal.h"
#include "core/log.h"
#include "core/names.h"
#include "metadata/store.h"
#include "namespaces/namespaces.h"

/* ---- paths and small helpers ------------------------------------------ */

char *content_blob_path(const struct content_store *cs, const char *digest)
{
	return xasprintf("%s/%s", cs->blobs_dir, digest_hex(digest));
}

char *content_ingest_path(const struct content_store *cs, const char *key, const char *file)
{
	return file ? xasprintf("%s/%s/%s", cs->ingest_dir, key, file)
		    : xasprintf("%s/%s", cs->ingest_dir, key);
}

void content_ingest_key(const char *ns, const char *ref, char out[65])
{
	struct buf b = BUF_INIT;
	buf_adds(&b, ns);
	buf_add(&b, "", 1);
	buf_adds(&b, ref);
	char d[DIGEST_STRLEN + 1];
	digest_buffer(b.data, b.len, d);
	buf_release(&b);
	memcpy(out, digest_hex(d), 65);
}

void content_remove_ingest_dir(const struct content_store *cs, const char *key)
{
	cleanup_free char *dir = content_ingest_path(cs, key, NULL);
	DIR *dh = opendir(dir);
	if (!dh)
		return;
	struct dirent *de;
	while ((de = readdir(dh)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(dh), de->d_name, 0);
	closedir(dh);
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("cannot remove ingest directory", "path=%s err=%s", dir, strerror(errno));
}

void content_now(char out[40])
{
	time_format_rfc3339(time_now_ns(), out);
}

int64_t content_parse_time(const char *s)
{
	struct tm tm = { 0 };
	char frac[16] = "";
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%15[0-9]Z", &tm.tm_year, &tm.tm_mon,
			 &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, frac) < 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	int64_t ns = (int64_t)timegm(&tm) * 1000000000;
	int64_t scale = 100000000;
	for (const char *p = frac; *p && scale; p++, scale /= 10)
		ns += (*p - '0') * scale;
	return ns;
}

int content_ensure_namespace(struct content_store *cs, const char *ns, err_t *err)
{
	int r = namespaces_exists(cs->d, ns, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	json_t *created = namespaces_create(cs->d, ns, NULL, err);
	if (created) {
		json_decref(created);
		return 0;
	}
	if ((*err)->kind == E_ALREADY_EXISTS) {
		err_free(err);
		return 0;
	}
	return -1;
}

/* ---- recovery of blobs ------------------------------------------------- */

struct digest_list {
	char **v;
	size_t n, alloc;
};

static void digest_list_add(struct digest_list *l, const char *s)
{
	ALLOC_GROW(l->v, l->n + 1, l->alloc);
	l->v[l->n++] = xstrdup(s);
}

static void digest_list_release(struct digest_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

struct check_ctx {
	struct content_store *cs;
	struct digest_list missing; /* records without their file (or with a wrong size) */
	struct digest_list corrupt; /* ...of which the file exists with a wrong size */
};

static int check_blob_cb(const char *key, json_t *val, void *data, err_t *err)
{
	struct check_ctx *c = data;
	cleanup_free char *path = NULL;
	if (digest_validate(key, NULL) < 0) {
		digest_list_add(&c->missing, key);
		return 0;
	}
	path = content_blob_path(c->cs, key);
	struct stat st;
	json_t *size = json_object_get(val, "size");
	if (stat(path, &st) < 0) {
		digest_list_add(&c->missing, key);
	} else if (!json_is_integer(size) ||
		   (uint64_t)json_integer_value(size) != (uint64_t)st.st_size) {
		digest_list_add(&c->missing, key);
		digest_list_add(&c->corrupt, key);
	}
	return 0;
}

struct drop_ctx {
	struct store *s;
	MDB_txn *txn;
	const char *digest;
};

static int drop_content_cb(const char *ns, json_t *val, void *data, err_t *err)
{
	struct drop_ctx *c = data;
	err_t e = NULL;
	if (store_del(c->s, c->txn, BUCKET_CONTENT, ns, c->digest, &e) < 0) {
		if (e->kind != E_NOT_FOUND) {
			*err = e;
			return -1;
		}
		err_free(&e);
	} else {
		log_warn("content record dropped: its blob is missing",
			 "namespace=%s digest=%s", ns, c->digest);
	}
	return 0;
}

/* Metadata never points at a missing blob: drop the records of blobs whose
 * file is gone (or has the wrong size, a file then removed too). */
static int check_blob_records(struct content_store *cs, err_t *err)
{
	struct store *s = cs->d->store;
	struct check_ctx c = { cs };
	cleanup_txn MDB_txn *txn = NULL;
	int r = -1;
	if (store_txn_begin(s, true, &txn, err) < 0 ||
	    store_foreach(s, txn, BUCKET_BLOBS, NULL, check_blob_cb, &c, err) < 0)
		goto out;
	for (size_t i = 0; i < c.missing.n; i++) {
		const char *dg = c.missing.v[i];
		log_warn("blob record dropped: its file is missing or has the wrong size",
			 "digest=%s", dg);
		struct drop_ctx dc = { s, txn, dg };
		if (store_del(s, txn, BUCKET_BLOBS, NULL, dg, err) < 0 ||
		    store_foreach(s, txn, BUCKET_NAMESPACES, NULL, drop_content_cb, &dc, err) < 0)
			goto out;
	}
	if (c.missing.n && store_txn_commit(&txn, err) < 0)
		goto out;
	for (size_t i = 0; i < c.corrupt.n; i++) {
		cleanup_free char *path = content_blob_path(cs, c.corrupt.v[i]);
		unlink(path);
	}
	r = 0;
out:
	digest_list_release(&c.missing);
	digest_list_release(&c.corrupt);
	return r;
}

/* Blob files without a record (a crash between the rename and the record,
 * or between a delete's record and its unlink) are hashed in chunks from
 * loop callbacks: adopted (recorded in `blobs`, visible in no namespace)
 * when the digest verifies, removed otherwise. */
struct verify_job {
	struct content_store *cs;
	struct digest_list todo;
	size_t next;
	int fd;
	char *digest; /* the one being hashed */
	struct hasher *h;
	struct event *ev;
};

static void verify_schedule(struct verify_job *j)
{
	static const struct timeval zero = { 0, 0 };
	evtimer_add(j->ev, &zero);
}

static void verify_finish_one(struct verify_job *j)
{
	struct content_store *cs = j->cs;
	char got[DIGEST_STRLEN + 1];
	hasher_final(j->h, got);
	cleanup_free char *path = content_blob_path(cs, j->digest);
	struct stat a, b;
	err_t err = NULL;
	/* a writer may have committed the same digest meanwhile */
	bool same = fstat(j->fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev;
	uint64_t size = 0;
	int on_disk = content_on_disk(cs, NULL, j->digest, &size, &err);
	if (on_disk < 0) {
		log_error("orphan blob check failed", "digest=%s err=%s", j->digest, err->msg);
		err_free(&err);
	} else if (!same || on_disk) {
		/* replaced or recorded since: nothing to do */
	} else if (strcmp(got, j->digest) == 0) {
		cleanup_txn MDB_txn *txn = NULL;
		char ts[40];
		content_now(ts);
		cleanup_json json_t *rec =
			json_pack("{s:I,s:s}", "size", (json_int_t)a.st_size, "created_at", ts);
		if (store_txn_begin(cs->d->store, true, &txn, &err) < 0 ||
		    store_put(cs->d->store, txn, BUCKET_BLOBS, NULL, j->digest, rec, 0, &err) < 0 ||
		    store_txn_commit(&txn, &err) < 0) {
			log_error("cannot adopt orphan blob", "digest=%s err=%s", j->digest,
				  err->msg);
			err_free(&err);
		} else {
			log_info("orphan blob verified and adopted", "digest=%s size=%lld",
				 j->digest, (long long)a.st_size);
		}
	} else {
		log_warn("orphan blob does not match its name: removed", "digest=%s actual=%s",
			 j->digest, got);
		unlink(path);
	}
	close(j->fd);
	j->fd = -1;
	free(j->digest);
	j->digest = NULL;
}

static void verify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct verify_job *j = arg;
	struct content_store *cs = j->cs;
	while (j->fd < 0) {
		if (j->next == j->todo.n) {
			log_info("orphan blob check done", "files=%zu", j->todo.n);
			cs->verify = NULL;
			event_free(j->ev);
			hasher_free(j->h);
			digest_list_release(&j->todo);
			free(j);
			return;
		}
		const char *dg = j->todo.v[j->next++];
		cleanup_free char *path = content_blob_path(cs, dg);
		j->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (j->fd < 0)
			continue;
		j->digest = xstrdup(dg);
		hasher_reset(j->h);
	}
	ssize_t n = read(j->fd, cs->chunk, CONTENT_CHUNK);
	if (n < 0 && errno == EINTR) {
		verify_schedule(j);
		return;
	}
	if (n > 0) {
		hasher_update(j->h, cs->chunk, (size_t)n);
	} else if (n == 0) {
		verify_finish_one(j);
	} else {
		log_warn("cannot read orphan blob", "digest=%s err=%s", j->digest, strerror(errno));
		close(j->fd);
		j->fd = -1;
		free(j->digest);
		j->digest = NULL;
	}
	verify_schedule(j);
}

static bool hex64(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

/* Files in the blobs directory without a record go to the verify job. */
static int scan_blob_files(struct content_store *cs, err_t *err)
{
	DIR *dh = opendir(cs->blobs_dir);
	if (!dh)
		return make_error(err, E_INTERNAL, errno, "read `%s`", cs->blobs_dir);
	struct digest_list orphans = { 0 };
	struct dirent *de;
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(cs->d->store, false, &txn, err) < 0) {
		closedir(dh);
		return -1;
	}
	while ((de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		if (!hex64(de->d_name)) {
			log_warn("stray file in the blob directory ignored", "dir=%s name=%s",
				 cs->blobs_dir, de->d_name);
			continue;
		}
		char dg[DIGEST_STRLEN + 1];
		memcpy(dg, DIGEST_SHA256_PREFIX, 7);
		memcpy(dg + 7, de->d_name, 65); /* hex64: 64 digits and the NUL */
		MDB_val v;
		err_t e = NULL;
		if (store_get_raw(cs->d->store, txn, BUCKET_BLOBS, NULL, dg, &v, &e) == 0)
			continue;
		if (e->kind != E_NOT_FOUND) {
			*err = e;
			closedir(dh);
			digest_list_release(&orphans);
			return -1;
		}
		err_free(&e);
		digest_list_add(&orphans, dg);
	}
	closedir(dh);
	if (orphans.n == 0)
		return 0;
	log_info("blob files without a record: verifying them", "files=%zu", orphans.n);
	struct verify_job *j = xzalloc(sizeof(*j));
	j->cs = cs;
	j->todo = orphans;
	j->fd = -1;
	j->h = hasher_new();
	j->ev = evtimer_new(cs->d->base, verify_cb, j);
	cs->verify = j;
	verify_schedule(j);
	return 0;
}

static void verify_free(struct verify_job *j)
{
	if (!j)
		return;
	event_free(j->ev);
	if (j->fd >= 0)
		close(j->fd);
	free(j->digest);
	hasher_free(j->h);
	digest_list_release(&j->todo);
	free(j);
}

/* ---- recovery of ingests ----------------------------------------------- */

/* Read <key>/ref: {"namespace","ref"}. */
static json_t *read_ingest_ref(struct content_store *cs, const char *key)
{
	cleanup_free char *path = content_ingest_path(cs, key, "ref");
	size_t len;
	cleanup_free char *text = read_file(path, &len);
	if (!text)
		return NULL;
	json_t *j = json_loadb(text, len, 0, NULL);
	if (!json_get_string(j, "namespace") || !json_get_string(j, "ref")) {
		json_decref(j);
		return NULL;
	}
	return j;
}

struct ingest_entry {
	char *ns, *ref, *key;
};

struct ingest_list {
	struct ingest_entry *v;
	size_t n, alloc;
};

static void ingest_list_add(struct ingest_list *l, const char *ns, const char *ref, const char *key)
{
	ALLOC_GROW(l->v, l->n + 1, l->alloc);
	l->v[l->n++] = (struct ingest_entry){ xstrdup(ns), xstrdup(ref), xstrdup(key) };
}

static void ingest_list_release(struct ingest_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].ns);
		free(l->v[i].ref);
		free(l->v[i].key);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Ingest directories without a matching record (a crash while opening one)
 * are removed. */
static int check_ingest_dirs(struct content_store *cs, err_t *err)
{
	DIR *dh = opendir(cs->ingest_dir);
	if (!dh)
		return make_error(err, E_INTERNAL, errno, "read `%s`", cs->ingest_dir);
	struct digest_list stale = { 0 };
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(cs->d->store, false, &txn, err) < 0) {
		closedir(dh);
		return -1;
	}
	struct dirent *de;
	int r = 0;
	while ((de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		cleanup_json json_t *id = NULL;
		cleanup_json json_t *rec = NULL;
		if (hex64(de->d_name))
			id = read_ingest_ref(cs, de->d_name);
		const char *ns = json_get_string(id, "namespace");
		const char *ref = json_get_string(id, "ref");
		if (id &&
		    store_get_opt(cs->d->store, txn, BUCKET_INGESTS, ns, ref, &rec, err) < 0) {
			r = -1;
			break;
		}
		const char *key = json_get_string(rec, "key");
		if (!key || strcmp(key, de->d_name) != 0)
			digest_list_add(&stale, de->d_name);
	}
	closedir(dh);
	for (size_t i = 0; r == 0 && i < stale.n; i++) {
		log_info("ingest directory without a record removed", "key=%s", stale.v[i]);
		content_remove_ingest_dir(cs, stale.v[i]);
	}
	digest_list_release(&stale);
	return r;
}

/* When an ingest last changed: its record or its data file, the later. */
static int64_t ingest_updated_ns(struct content_store *cs, json_t *rec, bool *has_data)
{
	int64_t t = content_parse_time(json_get_string(rec, "updated_at"));
	const char *key = json_get_string(rec, "key");
	*has_data = false;
	if (!key)
		return t;
	cleanup_free char *path = content_ingest_path(cs, key, "data");
	struct stat st;
	if (stat(path, &st) == 0) {
		*has_data = true;
		int64_t m = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		if (m > t)
			t = m;
	}
	return t;
}

/* Delete ingests (records and directories). */
static int drop_ingests(struct content_store *cs, struct ingest_list *l, err_t *err)
{
	if (l->n == 0)
		return 0;
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(cs->d->store, true, &txn, err) < 0)
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		err_t e = NULL;
		if (store_del(cs->d->store, txn, BUCKET_INGESTS, l->v[i].ns, l->v[i].ref, &e) < 0) {
			if (e->kind != E_NOT_FOUND) {
				*err = e;
				return -1;
			}
			err_free(&e);
		}
	}
	if (store_txn_commit(&txn, err) < 0)
		return -1;
	for (size_t i = 0; i < l->n; i++)
		if (*l->v[i].key)
			content_remove_ingest_dir(cs, l->v[i].key);
	return 0;
}

struct missing_scan {
	struct content_store *cs;
	MDB_txn *txn;
	const char *ns;
	struct ingest_list *out;
};

static int missing_ingest_cb(const char *ref, json_t *rec, void *data, err_t *err)
{
	struct missing_scan *c = data;
	const char *key = json_get_string(rec, "key");
	bool has_data;
	ingest_updated_ns(c->cs, rec, &has_data);
	if (!has_data && !content_writer_find(c->cs, c->ns, ref))
		ingest_list_add(c->out, c->ns, ref, key ? key : "");
	return 0;
}

static int missing_ns_cb(const char *ns, json_t *val, void *data, err_t *err)
{
	struct missing_scan *c = data;
	c->ns = ns;
	return store_foreach(c->cs->d->store, c->txn, BUCKET_INGESTS, ns, missing_ingest_cb, c,
			     err);
}

/* Records whose data file is gone (a crash while removing an ingest) are
 * dropped. */
static int check_ingest_records(struct content_store *cs, err_t *err)
{
	struct ingest_list l = { 0 };
	cleanup_txn MDB_txn *txn = NULL;
	int r = store_txn_begin(cs->d->store, false, &txn, err);
	struct missing_scan c = { cs, txn, NULL, &l };
	if (r == 0)
		r = store_foreach(cs->d->store, txn, BUCKET_NAMESPACES, NULL, missing_ns_cb, &c,
				  err);
	if (txn) {
		mdb_txn_abort(txn);
		txn = NULL;
	}
	for (size_t i = 0; r == 0 && i < l.n; i++)
		log_warn("ingest record without data dropped", "namespace=%s ref=%s", l.v[i].ns,
			 l.v[i].ref);
	if (r == 0)
		r = drop_ingests(cs, &l, err);
	ingest_list_release(&l);
	return r;
}

/* ---- expiry -------------------------------------------------------------- */

/* Ingests idle since before cutoff, found from their directories (so that
 * those of a namespace deleted meanwhile expire too). */
static int find_idle_ingests(struct content_store *cs, int64_t cutoff, struct ingest_list *out,
			     err_t *err)
{
	DIR *dh = opendir(cs->ingest_dir);
	if (!dh)
		return make_error(err, E_INTERNAL, errno, "read `%s`", cs->ingest_dir);
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(cs->d->store, false, &txn, err) < 0) {
		closedir(dh);
		return -1;
	}
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(dh))) {
		if (!hex64(de->d_name))
			continue;
		cleanup_json json_t *id = read_ingest_ref(cs, de->d_name);
		const char *ns = json_get_string(id, "namespace");
		const char *ref = json_get_string(id, "ref");
		cleanup_json json_t *rec = NULL;
		if (!id || content_writer_find(cs, ns, ref))
			continue;
		r = store_get_opt(cs->d->store, txn, BUCKET_INGESTS, ns, ref, &rec, err);
		const char *key = json_get_string(rec, "key");
		bool has_data;
		if (r == 0 && key && strcmp(key, de->d_name) == 0 &&
		    ingest_updated_ns(cs, rec, &has_data) < cutoff)
			ingest_list_add(out, ns, ref, key);
	}
	closedir(dh);
	return r;
}

void content_expire_ingests(struct content_store *cs)
{
	int64_t t0 = time_mono_ns();
	int64_t cutoff = time_now_ns() - (int64_t)(cs->d->cfg.ingest_expiry * 1e9);
	struct ingest_list l = { 0 };
	err_t err = NULL;
	if (find_idle_ingests(cs, cutoff, &l, &err) < 0 || drop_ingests(cs, &l, &err) < 0) {
		log_error("ingest expiry failed", "err=%s", err->msg);
		err_free(&err);
	} else if (l.n) {
		for (size_t i = 0; i < l.n; i++)
			log_info("ingest expired", "namespace=%s ref=%s", l.v[i].ns, l.v[i].ref);
		log_info("ingest expiry done", "removed=%zu duration_ms=%.3f", l.n,
			 (double)(time_mono_ns() - t0) / 1e6);
	}
	ingest_list_release(&l);
}

static void expire_cb(evutil_socket_t fd, short what, void *arg)
{
	content_expire_ingests(arg);
}

/* ---- open and free --------------------------------------------------------- */

int content_store_open(struct daemon *d, struct content_store **out, err_t *err)
{
	struct content_store *cs = xzalloc(sizeof(*cs));
	cs->d = d;
	cs->blobs_dirfd = -1;
	cs->blobs_dir = xasprintf("%s/content/blobs/sha256", d->cfg.root);
	cs->ingest_dir = xasprintf("%s/content/ingest", d->cfg.root);
	cs->chunk = xmalloc(CONTENT_CHUNK);
	if (mkdir_p(cs->blobs_dir, 0700) < 0 || mkdir_p(cs->ingest_dir, 0700) < 0) {
		make_error(err, E_INVALID_ARGUMENT, errno, "create content directories under `%s`",
			   d->cfg.root);
		goto fail;
	}
	cs->blobs_dirfd = open(cs->blobs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cs->blobs_dirfd < 0) {
		make_error(err, E_INTERNAL, errno, "open `%s`", cs->blobs_dir);
		goto fail;
	}
	if (check_blob_records(cs, err) < 0 || scan_blob_files(cs, err) < 0 ||
	    check_ingest_dirs(cs, err) < 0 || check_ingest_records(cs, err) < 0) {
		error_wrap(err, "content store recovery");
		goto fail;
	}
	content_expire_ingests(cs);
	double every = d->cfg.ingest_expiry / 2;
	if (every < 1)
		every = 1;
	if (every > 600)
		every = 600;
	struct timeval tv = { (time_t)every, (suseconds_t)((every - (time_t)every) * 1e6) };
	cs->expire_timer = event_new(d->base, -1, EV_PERSIST, expire_cb, cs);
	event_add(cs->expire_timer, &tv);
	*out = cs;
	return 0;
fail:
	content_store_free(cs);
	return -1;
}

void content_store_free(struct content_store *cs)
{
	if (!cs)
		return;
	content_writers_free_all(cs);
	verify_free(cs->verify);
	if (cs->expire_timer)
		event_free(cs->expire_timer);
	if (cs->blobs_dirfd >= 0)
		close(cs->blobs_dirfd);
	free(cs->chunk);
	free(cs->blobs_dir);
	free(cs->ingest_dir);
	free(cs);
}
