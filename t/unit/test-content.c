/* Unit tests for the content store (src/content) on a temporary root, with
 * a real event loop: ingests, resumption, commit, namespaces, deletion,
 * recovery at start, expiry; and the HTTP header parsers. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "content/content.h"
#include "content/http.h"
#include "core/digest.h"
#include "core/filter.h"
#include "core/names.h"
#include "events/events.h"
#include "metadata/store.h"
#include "namespaces/namespaces.h"
#include "tap.h"

#define ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define ZERO "sha256:0000000000000000000000000000000000000000000000000000000000000000"

static struct daemon d;

struct commit_res {
	bool done;
	json_t *info;
	err_t err;
};

static void commit_cb(void *data, json_t *info, err_t *err)
{
	struct commit_res *res = data;
	res->done = true;
	res->info = info ? json_incref(info) : NULL;
	if (err && *err)
		res->err = steal_ptr(err);
}

/* Commit and run the loop until the callback ran. */
static void commit(struct content_writer *w, uint64_t size, const char *digest, json_t *labels,
		   struct commit_res *res)
{
	memset(res, 0, sizeof(*res));
	content_writer_commit(w, size, digest, labels, commit_cb, res);
	for (int i = 0; !res->done && i < 1000000; i++)
		event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

static void commit_res_release(struct commit_res *res)
{
	json_decref(res->info);
	err_free(&res->err);
}

static int deletes;
static void event_cb(const struct event_rec *rec, json_t *payload, void *data)
{
	if (strcmp(rec->topic, "/content/delete") == 0)
		deletes++;
}

static void open_store(void)
{
	err_t err = NULL;
	if (content_store_open(&d, &d.content, &err) < 0) {
		printf("Bail out! content_store_open: %s\n", err->msg);
		exit(1);
	}
}

/* Write a whole blob into ns under ref and commit it. */
static json_t *put_blob(const char *ns, const char *ref, const void *data, size_t len)
{
	struct content_writer *w = NULL;
	err_t err = NULL;
	if (content_writer_open(d.content, ns, ref, NULL, 0, &w, &err) < 0 ||
	    content_writer_write(w, data, len, &err) < 0) {
		diag("put_blob: %s", err->msg);
		err_free(&err);
		if (w)
			content_writer_abort(w);
		return NULL;
	}
	struct commit_res res;
	commit(w, 0, NULL, NULL, &res);
	json_t *info = steal_ptr(&res.info);
	commit_res_release(&res);
	return info;
}

static size_t count_ingests(const char *ns)
{
	err_t err = NULL;
	json_t *l = content_ingests(d.content, ns, &err);
	size_t n = l ? json_array_size(l) : (size_t)-1;
	json_decref(l);
	err_free(&err);
	return n;
}

static uint64_t ingest_offset(const char *ns, const char *ref)
{
	err_t err = NULL;
	json_t *st = content_ingest_status(d.content, ns, ref, &err);
	uint64_t off = st ? (uint64_t)json_integer_value(json_object_get(st, "offset")) : 999999;
	json_decref(st);
	err_free(&err);
	return off;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static char *blob_path(const char *digest)
{
	return xasprintf("%s/content/blobs/sha256/%s", d.cfg.root, digest_hex(digest));
}

static enum err_kind kind_of(err_t *err)
{
	enum err_kind k = *err ? (*err)->kind : E_KIND_MAX;
	err_free(err);
	return k;
}

static void test_write_resume_commit(void)
{
	err_t err = NULL;
	struct content_writer *w = NULL;
	const char *text = "hello, content store";
	size_t len = strlen(text);
	char dg[DIGEST_STRLEN + 1];
	digest_buffer(text, len, dg);

	ok(content_writer_open(d.content, "default", "layer-sha256:one", dg, len, &w, &err) == 0,
	   "open a new ingest with expected digest and total");
	is_int(content_writer_offset(w), 0, "a new ingest is at offset 0");
	is_str(content_writer_ref(w), "layer-sha256:one", "the writer knows its ref");
	ok(content_writer_write(w, text, 6, &err) == 0, "write the first 6 bytes");
	is_int(content_writer_offset(w), 6, "offset follows the writes");
	is_int(count_ingests("default"), 1, "the ingest is listed");
	is_int(ingest_offset("default", "layer-sha256:one"), 6, "with its offset");
	struct content_writer *w2 = NULL;
	ok(content_writer_open(d.content, "default", "layer-sha256:one", NULL, 0, &w2, &err) < 0 &&
		   kind_of(&err) == E_UNAVAILABLE,
	   "a second writer on the same ref: unavailable (ref locked)");
	ok(content_ingest_abort(d.content, "default", "layer-sha256:one", &err) < 0 &&
		   kind_of(&err) == E_UNAVAILABLE,
	   "aborting a ref held by a writer: unavailable");
	content_writer_close(w);

	ok(content_writer_open(d.content, "default", "layer-sha256:one", NULL, 0, &w, &err) == 0,
	   "reopen the ingest");
	is_int(content_writer_offset(w), 6, "resumed at offset 6");
	ok(content_writer_write(w, text + 6, len - 6, &err) == 0, "write the rest");
	ok(content_writer_write(w, "x", 1, &err) < 0 && kind_of(&err) == E_INVALID_ARGUMENT,
	   "writing past the total: invalid_argument");
	struct commit_res res;
	commit(w, 0, NULL, NULL, &res);
	ok(res.done && res.info && !res.err, "commit of a resumed ingest re-hashes and succeeds");
	is_str(json_get_string(res.info, "digest"), dg, "info: digest");
	is_int(json_integer_value(json_object_get(res.info, "size")), len, "info: size");
	ok(json_is_object(json_object_get(res.info, "labels")) &&
		   json_get_string(res.info, "created_at"),
	   "info: labels and timestamps");
	commit_res_release(&res);
	cleanup_free char *path = blob_path(dg);
	size_t flen = 0;
	cleanup_free char *back = read_file(path, &flen);
	ok(back && flen == len && memcmp(back, text, len) == 0, "the blob file holds the bytes");
	struct stat st;
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0444, "the blob file is read-only");
	is_int(count_ingests("default"), 0, "the ingest is gone after commit");
	char key[65];
	char kd[DIGEST_STRLEN + 1];
	static const char id[] = "default\0layer-sha256:one";
	digest_buffer(id, sizeof(id) - 1, kd);
	memcpy(key, kd + 7, 65);
	cleanup_free char *idir = xasprintf("%s/content/ingest/%s", d.cfg.root, key);
	ok(!file_exists(idir), "and its directory too");

	ok(content_writer_open(d.content, "default", "again", dg, 0, &w, &err) < 0 &&
		   kind_of(&err) == E_ALREADY_EXISTS,
	   "opening with an expected digest already on disk: already_exists");
	is_int(count_ingests("default"), 0, "no ingest is left by that");

	uint64_t size = 0;
	is_int(content_on_disk(d.content, NULL, dg, &size, &err), 1, "on disk");
	is_int(size, len, "with its size");
	int fd = content_open(d.content, "default", dg, &size, &err);
	ok(fd >= 0 && size == len, "open for reading");
	if (fd >= 0)
		close(fd);
}

static void test_mismatch_reset(void)
{
	err_t err = NULL;
	struct content_writer *w = NULL;
	struct commit_res res;

	ok(content_writer_open(d.content, "default", "bad", NULL, 0, &w, &err) == 0 &&
		   content_writer_write(w, "hello", 5, &err) == 0,
	   "write 5 bytes to a new ingest");
	commit(w, 0, ABC, NULL, &res);
	ok(res.done && !res.info && res.err && res.err->kind == E_INVALID_ARGUMENT &&
		   strstr(res.err->msg, "expected `" ABC "`"),
	   "commit with the wrong digest: invalid_argument naming it");
	commit_res_release(&res);
	is_int(ingest_offset("default", "bad"), 5, "the ingest is kept, at offset 5");

	ok(content_writer_open(d.content, "default", "bad", NULL, 0, &w, &err) == 0, "reopen it");
	commit(w, 4, NULL, NULL, &res);
	ok(res.err && res.err->kind == E_INVALID_ARGUMENT && strstr(res.err->msg, "holds 5 bytes"),
	   "commit with the wrong size: invalid_argument");
	commit_res_release(&res);

	ok(content_writer_open(d.content, "default", "bad", NULL, 0, &w, &err) == 0 &&
		   content_writer_reset(w, &err) == 0 && content_writer_offset(w) == 0,
	   "reset drops what was written");
	ok(content_writer_write(w, "abc", 3, &err) == 0, "write abc");
	commit(w, 3, ABC, NULL, &res);
	ok(res.info && !res.err, "commit after a reset verifies the new bytes");
	commit_res_release(&res);

	ok(content_writer_open(d.content, "default", "short", NULL, 10, &w, &err) == 0 &&
		   content_writer_write(w, "12345", 5, &err) == 0,
	   "an ingest with a total of 10 gets 5 bytes");
	commit(w, 0, NULL, NULL, &res);
	ok(res.err && res.err->kind == E_INVALID_ARGUMENT, "commit before the total: invalid");
	commit_res_release(&res);
	ok(content_writer_open(d.content, "default", "short", NULL, 11, &w, &err) < 0 &&
		   kind_of(&err) == E_INVALID_ARGUMENT,
	   "resuming with another total: invalid_argument");
	char ten[DIGEST_STRLEN + 1];
	digest_buffer("1234567890", 10, ten);
	ok(content_writer_open(d.content, "default", "short", ten, 0, &w, &err) == 0,
	   "resuming with an expected digest the ingest did not have");
	content_writer_close(w);
	ok(content_writer_open(d.content, "default", "short", ZERO, 0, &w, &err) < 0 &&
		   kind_of(&err) == E_INVALID_ARGUMENT,
	   "...which is then recorded: another one is refused");
	ok(content_ingest_abort(d.content, "default", "short", &err) == 0, "abort the ingest");
	ok(content_ingest_abort(d.content, "default", "short", &err) < 0 &&
		   kind_of(&err) == E_NOT_FOUND,
	   "aborting it again: not_found");
	ok(content_writer_open(d.content, "default", "gone", NULL, 0, &w, &err) == 0, "open");
	content_writer_abort(w);
	is_int(count_ingests("default"), 0, "content_writer_abort deletes the ingest");

	ok(content_writer_open(d.content, "default", "../x", NULL, 0, &w, &err) < 0 &&
		   kind_of(&err) == E_INVALID_ARGUMENT,
	   "a ref with a .. component is refused");
	ok(content_writer_open(d.content, "default", "x", "md5:abc", 0, &w, &err) < 0 &&
		   kind_of(&err) == E_INVALID_ARGUMENT,
	   "an expected digest of another algorithm is refused");
}

static void test_namespaces_labels_delete(void)
{
	err_t err = NULL;
	cleanup_json json_t *info = put_blob("default", "blob-x", "xxx", 3);
	ok(info != NULL, "a blob in default");
	const char *x = json_get_string(info, "digest");
	cleanup_free char *path = blob_path(x);

	json_t *j = content_info(d.content, "ns2", x, &err);
	ok(!j && kind_of(&err) == E_NOT_FOUND, "not visible in another namespace");
	j = content_list(d.content, "ns2", NULL, &err);
	ok(j && json_array_size(j) == 0, "nothing listed there");
	json_decref(j);
	uint64_t size;
	ok(content_open(d.content, "ns2", x, &size, &err) < 0 && kind_of(&err) == E_NOT_FOUND,
	   "cannot be read there");
	is_int(namespaces_exists(&d, "ns2", &err), 0, "reads do not create the namespace");

	struct stat before, after;
	stat(path, &before);
	ok(content_add_to_namespace(d.content, NULL, "ns2", x, NULL, &err) == 0,
	   "a blob on disk is added to another namespace");
	is_int(namespaces_exists(&d, "ns2", &err), 1, "which that creates");
	stat(path, &after);
	ok(before.st_ino == after.st_ino, "without a new file");
	j = content_info(d.content, "ns2", x, &err);
	ok(j != NULL, "now visible there");
	json_decref(j);
	ok(content_add_to_namespace(d.content, NULL, "ns2", ABC "0", NULL, &err) < 0 &&
		   kind_of(&err) == E_INVALID_ARGUMENT,
	   "a bad digest: invalid_argument");
	ok(content_add_to_namespace(d.content, NULL, "ns2",
				    ZERO, NULL, &err) < 0 &&
		   kind_of(&err) == E_NOT_FOUND,
	   "a digest not on disk: not_found");

	json_t *patch = json_pack("{s:s,s:s}", "a", "1", "b", "2");
	j = content_update_labels(d.content, "default", x, patch, &err);
	json_decref(patch);
	json_t *want = json_pack("{s:s,s:s}", "a", "1", "b", "2");
	ok(j && json_equal(json_object_get(j, "labels"), want), "labels set");
	json_decref(want);
	json_decref(j);
	patch = json_pack("{s:n,s:s}", "a", "c", "3");
	j = content_update_labels(d.content, "default", x, patch, &err);
	json_decref(patch);
	want = json_pack("{s:s,s:s}", "b", "2", "c", "3");
	ok(j && json_equal(json_object_get(j, "labels"), want),
	   "null removes a label (merge patch)");
	json_decref(want);
	json_decref(j);
	j = content_info(d.content, "ns2", x, &err);
	ok(j && json_object_size(json_object_get(j, "labels")) == 0,
	   "labels are per namespace");
	json_decref(j);

	struct filter *f = NULL;
	const char *e1[] = { "labels.b==2" };
	filter_parse(&f, e1, 1, &err);
	j = content_list(d.content, "default", f, &err);
	ok(j && json_array_size(j) == 1 &&
		   strcmp(json_get_string(json_array_get(j, 0), "digest"), x) == 0,
	   "filter labels.b==2 finds it");
	json_decref(j);
	filter_free(f);
	const char *e2[] = { "labels.b==3" };
	filter_parse(&f, e2, 1, &err);
	j = content_list(d.content, "default", f, &err);
	ok(j && json_array_size(j) == 0, "filter labels.b==3 does not");
	json_decref(j);
	filter_free(f);

	is_int(content_remove_unreferenced(d.content, x, &err), 0,
	       "the collector keeps a blob a namespace holds");
	int before_deletes = deletes;
	ok(content_delete(d.content, "default", x, &err) == 0, "delete in default");
	is_int(deletes, before_deletes + 1, "publishes /content/delete");
	ok(file_exists(path), "the file stays for ns2");
	j = content_info(d.content, "default", x, &err);
	ok(!j && kind_of(&err) == E_NOT_FOUND, "gone from default");
	ok(content_delete(d.content, "default", x, &err) < 0 && kind_of(&err) == E_NOT_FOUND,
	   "deleting again: not_found");
	ok(content_delete(d.content, "ns2", x, &err) == 0, "delete in ns2, the last holder");
	ok(!file_exists(path), "the file is removed");
	ok(content_on_disk(d.content, NULL, x, &size, &err) == 0, "and its blobs record");
	is_int(namespaces_delete(&d, "ns2", &err), 0, "an emptied namespace can be deleted");
}

static void test_concurrent_same_blob(void)
{
	err_t err = NULL;
	struct content_writer *a = NULL, *b = NULL;
	struct commit_res res;
	ok(content_writer_open(d.content, "default", "twin-a", NULL, 0, &a, &err) == 0 &&
		   content_writer_open(d.content, "default", "twin-b", NULL, 0, &b, &err) == 0 &&
		   content_writer_write(a, "twin", 4, &err) == 0 &&
		   content_writer_write(b, "twin", 4, &err) == 0,
	   "two ingests write the same bytes");
	commit(a, 4, NULL, NULL, &res);
	ok(res.info != NULL, "the first commit stores the blob");
	commit_res_release(&res);
	json_t *labels = json_pack("{s:s}", "k", "v");
	commit(b, 4, NULL, labels, &res);
	json_decref(labels);
	ok(res.info && strcmp(json_get_string(json_object_get(res.info, "labels"), "k"), "v") == 0,
	   "the second finds it on disk: success, labels merged");
	commit_res_release(&res);
	is_int(count_ingests("default"), 0, "both ingests are gone");
}

static void test_big_write(void)
{
	err_t err = NULL;
	struct content_writer *w = NULL;
	size_t chunk = 64 * 1024, n = 20 * 1024 * 1024;
	char *buf = xmalloc(chunk);
	struct hasher *h = hasher_new();
	ok(content_writer_open(d.content, "default", "big", NULL, n, &w, &err) == 0, "open big");
	bool good = true;
	for (size_t off = 0; off < n; off += chunk) {
		memset(buf, (int)(off / chunk), chunk);
		hasher_update(h, buf, chunk);
		if (off == n / 2) {
			/* half-way: close and resume, the rest hashed at commit */
			content_writer_close(w);
			good = good && content_writer_open(d.content, "default", "big", NULL, 0, &w,
							   &err) == 0 &&
			       content_writer_offset(w) == off;
		}
		good = good && content_writer_write(w, buf, chunk, &err) == 0;
	}
	ok(good, "write 20 MiB in 64 KiB pieces, resuming half-way");
	char want[DIGEST_STRLEN + 1];
	hasher_final(h, want);
	hasher_free(h);
	free(buf);
	struct commit_res res;
	commit(w, 0, want, NULL, &res);
	ok(res.info && strcmp(json_get_string(res.info, "digest"), want) == 0,
	   "commit verifies 20 MiB, half of it re-hashed from the file");
	commit_res_release(&res);
}

static void test_recovery(void)
{
	err_t err = NULL;
	struct content_writer *w = NULL;
	/* an ingest left open, a blob whose file vanishes, two orphan files,
	 * a stale ingest directory */
	ok(content_writer_open(d.content, "default", "survivor", NULL, 0, &w, &err) == 0 &&
		   content_writer_write(w, "ab", 2, &err) == 0,
	   "an ingest with 2 bytes");
	cleanup_json json_t *lost = put_blob("default", "lost", "lost bytes", 10);
	ok(lost != NULL, "a blob whose file will vanish");
	content_store_free(d.content); /* the open writer goes, its ingest stays */
	d.content = NULL;
	cleanup_free char *lost_path = blob_path(json_get_string(lost, "digest"));
	chmod(lost_path, 0644);
	ok(unlink(lost_path) == 0, "remove its file behind the store's back");

	char good[DIGEST_STRLEN + 1], bad[DIGEST_STRLEN + 1];
	digest_buffer("orphan", 6, good);
	digest_buffer("expected", 8, bad);
	cleanup_free char *gp = blob_path(good);
	cleanup_free char *bp = blob_path(bad);
	cleanup_free char *stale = xasprintf("%s/content/ingest/%064d", d.cfg.root, 7);
	cleanup_free char *stray = xasprintf("%s/content/blobs/sha256/notes.txt", d.cfg.root);
	ok(write_file_atomic(gp, "orphan", 6, 0444) == 0 &&
		   write_file_atomic(bp, "not what the name says", 22, 0444) == 0 &&
		   mkdir(stale, 0700) == 0 && write_file_atomic(stray, "x", 1, 0644) == 0,
	   "plant an orphan blob, a corrupt one, a stale ingest dir and a stray file");

	open_store();
	ok(true, "the store opens again");
	json_t *j = content_info(d.content, "default", json_get_string(lost, "digest"), &err);
	ok(!j && kind_of(&err) == E_NOT_FOUND, "the record of the vanished blob is dropped");
	uint64_t size;
	is_int(content_on_disk(d.content, NULL, json_get_string(lost, "digest"), &size, &err), 0,
	       "from blobs too");
	ok(!file_exists(stale), "the stale ingest directory is removed");
	ok(file_exists(stray), "a stray file is left alone");
	is_int(ingest_offset("default", "survivor"), 2, "the ingest survived, at offset 2");
	/* the orphans are verified from loop callbacks */
	for (int i = 0; i < 1000 && (file_exists(bp) ||
				     content_on_disk(d.content, NULL, good, &size, &err) != 1);
	     i++)
		event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	is_int(content_on_disk(d.content, NULL, good, &size, &err), 1,
	       "an orphan that verifies is adopted");
	j = content_list(d.content, "default", NULL, &err);
	bool listed = false;
	for (size_t i = 0; j && i < json_array_size(j); i++)
		listed = listed ||
			 strcmp(json_get_string(json_array_get(j, i), "digest"), good) == 0;
	json_decref(j);
	ok(!listed, "but visible in no namespace");
	ok(!file_exists(bp), "an orphan that does not verify is removed");
	is_int(content_remove_unreferenced(d.content, good, &err), 1,
	       "the collector removes the adopted, unreferenced blob");
	ok(!file_exists(gp), "its file is gone");

	ok(content_writer_open(d.content, "default", "survivor", NULL, 0, &w, &err) == 0 &&
		   content_writer_offset(w) == 2 && content_writer_write(w, "c", 1, &err) == 0,
	   "resume the survivor after the restart");
	struct commit_res res;
	commit(w, 3, ABC, NULL, &res);
	ok(res.info && !res.err, "and commit it (abc)");
	commit_res_release(&res);
}

static void test_expiry(void)
{
	err_t err = NULL;
	struct content_writer *w = NULL, *held = NULL;
	ok(content_writer_open(d.content, "default", "idle", NULL, 0, &w, &err) == 0 &&
		   content_writer_write(w, "z", 1, &err) == 0,
	   "an idle ingest");
	content_writer_close(w);
	ok(content_writer_open(d.content, "default", "held", NULL, 0, &held, &err) == 0,
	   "an ingest held by a writer");
	ok(content_writer_open(d.content, "ephemeral", "orphaned", NULL, 0, &w, &err) == 0 &&
		   content_writer_write(w, "y", 1, &err) == 0,
	   "an ingest in a namespace of its own");
	content_writer_close(w);
	ok(namespaces_delete(&d, "ephemeral", &err) == 0,
	   "ingests do not keep their namespace from being deleted");
	is_int(count_ingests("ephemeral"), 1, "the ingest is still there");
	double saved = d.cfg.ingest_expiry;
	content_expire_ingests(d.content);
	is_int(count_ingests("default"), 2, "nothing expires before its time");
	d.cfg.ingest_expiry = 0.05;
	usleep(120 * 1000);
	content_expire_ingests(d.content);
	is_int(count_ingests("default"), 1, "the idle ingest expired");
	is_int(count_ingests("ephemeral"), 0, "so did the one of the deleted namespace");
	is_int(ingest_offset("default", "held"), 0, "the held one did not");
	d.cfg.ingest_expiry = saved;
	content_writer_abort(held);
}

static void test_parsers(void)
{
	err_t err = NULL;
	uint64_t a, b, len, total;
	is_int(content_parse_range("bytes=0-0", 10, &a, &b), 1, "range: first byte");
	ok(a == 0 && b == 0, "range: [0,0]");
	is_int(content_parse_range("bytes=-3", 10, &a, &b), 1, "range: suffix");
	ok(a == 7 && b == 9, "range: last 3 bytes are [7,9]");
	is_int(content_parse_range("bytes=-30", 10, &a, &b), 1,
	       "range: suffix longer than the blob");
	ok(a == 0 && b == 9, "range: the whole blob");
	is_int(content_parse_range("bytes=4-", 10, &a, &b), 1, "range: open-ended");
	ok(a == 4 && b == 9, "range: [4,9]");
	is_int(content_parse_range("bytes=2-100", 10, &a, &b), 1, "range: end past the blob");
	ok(a == 2 && b == 9, "range: clamped to [2,9]");
	is_int(content_parse_range(" bytes = 3-5 ", 10, &a, &b), 1, "range: spaces");
	is_int(content_parse_range("bytes=10-", 10, &a, &b), -1, "range: start at size");
	is_int(content_parse_range("bytes=-0", 10, &a, &b), -1, "range: empty suffix");
	is_int(content_parse_range("bytes=0-", 0, &a, &b), -1, "range: anything of an empty blob");
	is_int(content_parse_range("bytes=99999999999999999999999-", 10, &a, &b), -1,
	       "range: a huge start");
	is_int(content_parse_range("bytes=5-2", 10, &a, &b), 0, "range: end before start: ignored");
	is_int(content_parse_range("bytes=0-1,3-4", 10, &a, &b), 0, "range: several: ignored");
	is_int(content_parse_range("items=0-1", 10, &a, &b), 0, "range: other unit: ignored");
	is_int(content_parse_range("bytes=a-b", 10, &a, &b), 0, "range: junk: ignored");

	ok(content_parse_content_range("bytes 0-9/20", &a, &len, &total, &err) == 0 && a == 0 &&
		   len == 10 && total == 20,
	   "content-range: START-END/TOTAL");
	ok(content_parse_content_range("bytes 10-19/*", &a, &len, &total, &err) == 0 && a == 10 &&
		   len == 10 && total == 0,
	   "content-range: unknown total");
	ok(content_parse_content_range("bytes */20", &a, &len, &total, &err) == 0 && len == 0 &&
		   total == 20,
	   "content-range: only the total");
	static const char *const bad[] = { "bytes 5-4/10", "bytes 0-9/9", "bytes 0-9",
					   "0-9/10", "bytes=0-9/10", "bytes */*", "bytes 0-9/10x",
					   "bytes -9/10", "bytes 0-9/0" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ok(content_parse_content_range(bad[i], &a, &len, &total, &err) < 0 &&
			   kind_of(&err) == E_INVALID_ARGUMENT,
		   "content-range: `%s` is invalid", bad[i]);

	static const char *const good_refs[] = { "layer-sha256:abc", "a", "upload-sha256:x",
						 "x/y@z:1", "a..b", "...", "a/.../b" };
	for (size_t i = 0; i < ARRAY_SIZE(good_refs); i++)
		ok(name_validate_ingest_ref(good_refs[i], &err) == 0, "ref `%s` is valid",
		   good_refs[i]);
	char long_ref[257];
	memset(long_ref, 'r', 256);
	long_ref[256] = '\0';
	static const char *const bad_refs[] = { "", "..", "../a", "a/..", "a/../b", "a b",
						"a%b", "tab\t", "é" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_refs); i++)
		ok(name_validate_ingest_ref(bad_refs[i], &err) < 0 &&
			   kind_of(&err) == E_INVALID_ARGUMENT,
		   "ref `%s` is invalid", bad_refs[i]);
	ok(name_validate_ingest_ref(long_ref, &err) < 0 && kind_of(&err) == E_INVALID_ARGUMENT,
	   "a ref of 256 characters is invalid");
	long_ref[255] = '\0';
	ok(name_validate_ingest_ref(long_ref, &err) == 0, "255 characters are fine");
}

int main(void)
{
	plan_lazy();
	char dir[] = "/tmp/berth-content-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	err_t err = NULL;
	config_init(&d.cfg);
	free(d.cfg.root);
	d.cfg.root = xstrdup(dir);
	d.base = event_base_new();
	cleanup_free char *meta = xasprintf("%s/meta", dir);
	if (store_open(&d.store, meta, 1 << 26, &err) < 0)
		return 1;
	d.events = events_new(64, 1);
	void *sub = events_subscribe(d.events, event_cb, NULL);
	if (namespaces_init(&d, &err) < 0)
		return 1;
	open_store();
	cleanup_free char *blobs = xasprintf("%s/content/blobs/sha256", dir);
	ok(file_exists(blobs), "open creates content/blobs/sha256");

	test_write_resume_commit();
	test_mismatch_reset();
	test_namespaces_labels_delete();
	test_concurrent_same_blob();
	test_big_write();
	test_recovery();
	test_expiry();
	test_parsers();

	content_store_free(d.content);
	events_unsubscribe(d.events, sub);
	events_free(d.events);
	store_close(d.store);
	event_base_free(d.base);
	config_release(&d.cfg);
	cleanup_free char *cmd = xasprintf("chmod -R u+w %s && rm -rf %s", dir, dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
