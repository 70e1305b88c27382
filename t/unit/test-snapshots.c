/* Unit tests for the snapshots service's C interface (src/snapshots), the
 * part the unpacker uses and REST does not reach: commit_reparent,
 * active_dir, leases, sync refusal and async prepare (with cancel) for
 * native. A real loop, a temporary root, real overlay (needs root). */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/loop.h"
#include "events/events.h"
#include "leases/leases.h"
#include "metadata/store.h"
#include "namespaces/namespaces.h"
#include "snapshots/snapshots.h"
#include "tap.h"

static struct daemon d;

struct prep_res {
	bool done;
	json_t *mounts;
	err_t err;
};

static void prep_cb(void *data, json_t *mounts, err_t *err)
{
	struct prep_res *r = data;
	r->done = true;
	r->mounts = mounts ? json_incref(mounts) : NULL;
	if (err && *err)
		r->err = steal_ptr(err);
}

static void spin(bool *done)
{
	for (int i = 0; !*done && i < 2000000; i++)
		event_base_loop(d.base, EVLOOP_ONCE);
}

static void chld_cb(evutil_socket_t fd, short what, void *arg)
{
	child_reap_all(&d);
}

static bool write_file(const char *dir, const char *name, const char *text)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (!f)
		return false;
	fputs(text, f);
	return fclose(f) == 0;
}

static bool exists(const char *dir, const char *name)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	return lstat(p, &st) == 0;
}

static int kind_of(err_t e)
{
	return e ? (int)e->kind : -1;
}

static void test_overlay_reparent(void)
{
	err_t err = NULL;
	bool ow = false;
	json_t *m = snapshots_prepare(&d, "default", "overlayfs", "x1", NULL, NULL, NULL, &err);
	ok(m != NULL, "prepare x1");
	json_decref(m);
	cleanup_free char *dir1 = snapshots_active_dir(&d, "default", "overlayfs", "x1", &ow, &err);
	ok(dir1 && ow, "active_dir of overlay: a directory, with overlay whiteouts");
	ok(dir1 && write_file(dir1, "one", "1"), "write into layer 1");
	ok(snapshots_commit(&d, "default", "overlayfs", "L1", "x1", NULL, NULL, &err) == 0,
	   "commit L1");
	m = snapshots_prepare(&d, "default", "overlayfs", "x2", NULL, NULL, NULL, &err);
	json_decref(m);
	cleanup_free char *dir2 = snapshots_active_dir(&d, "default", "overlayfs", "x2", &ow, &err);
	ok(dir2 && write_file(dir2, "two", "2"), "write into layer 2, extracted on its own");
	ok(snapshots_active_dir(&d, "default", "overlayfs", "L1", &ow, &err) == NULL &&
	       kind_of(err) == E_FAILED_PRECONDITION,
	   "active_dir of a committed snapshot: failed_precondition");
	err_free(&err);
	ok(snapshots_commit_reparent(&d, "default", "overlayfs", "L2", "x2", "nope", NULL, NULL,
				     &err) < 0 &&
	       kind_of(err) == E_NOT_FOUND,
	   "reparent onto a missing parent: not_found");
	err_free(&err);
	ok(snapshots_commit_reparent(&d, "default", "overlayfs", "L2", "x2", "L1", NULL, NULL,
				     &err) == 0,
	   "commit x2 as L2 onto L1");
	json_t *st = snapshots_stat(&d, "default", "overlayfs", "L2", &err);
	is_str(json_get_string(st, "parent"), "L1", "L2's parent is L1");
	is_str(json_get_string(st, "kind"), "committed", "L2 is committed");
	json_decref(st);
	ok(!snapshots_exists(&d, "default", "overlayfs", "x2"), "the key x2 is gone");
	m = snapshots_prepare(&d, "default", "overlayfs", "x3", "L2", NULL, NULL, &err);
	const char *lower = NULL;
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(json_array_get(m, 0), "options"), i, o)
		if (strncmp(json_string_value(o), "lowerdir=", 9) == 0)
			lower = json_string_value(o) + 9;
	cleanup_free char *want = NULL;
	if (dir1 && dir2)
		want = xasprintf("%s:%s", dir2, dir1);
	is_str(lower, want, "lowerdir: L2's layer, then L1's");
	json_decref(m);
	/* x3 has a parent: it cannot be reparented */
	ok(snapshots_commit_reparent(&d, "default", "overlayfs", "L3", "x3", "L1", NULL, NULL,
				     &err) < 0 &&
	       kind_of(err) == E_FAILED_PRECONDITION,
	   "reparent of a snapshot with a parent: failed_precondition");
	err_free(&err);
}

static void test_leases(void)
{
	err_t err = NULL;
	json_t *l = leases_create(&d, "default", "lz", 0, NULL, &err);
	ok(l != NULL, "lease");
	json_decref(l);
	json_t *m = snapshots_prepare(&d, "default", "overlayfs", "lk", NULL, NULL, "lz", &err);
	json_decref(m);
	ok(snapshots_commit(&d, "default", "overlayfs", "lname", "lk", NULL, "lz", &err) == 0,
	   "commit under the lease");
	json_t *res = leases_resources(&d, "default", "lz", &err);
	cleanup_free char *s = json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS);
	is_str(s,
	       "[{\"id\":\"lk\",\"type\":\"snapshots/overlayfs\"},{\"id\":\"lname\","
	       "\"type\":\"snapshots/overlayfs\"}]",
	       "the key and the name are lease resources");
	json_decref(res);
	ok(snapshots_prepare(&d, "default", "overlayfs", "lk2", NULL, NULL, "ghost", &err) ==
		   NULL &&
	       kind_of(err) == E_NOT_FOUND,
	   "an unknown lease: not_found, nothing created");
	err_free(&err);
	ok(!snapshots_exists(&d, "default", "overlayfs", "lk2"), "lk2 does not exist");
}

static void test_native(void)
{
	err_t err = NULL;
	bool ow = true;
	json_t *m = snapshots_prepare(&d, "default", "native", "n1", NULL, NULL, NULL, &err);
	ok(m != NULL, "native prepare without parent is synchronous");
	json_decref(m);
	cleanup_free char *dir = snapshots_active_dir(&d, "default", "native", "n1", &ow, &err);
	ok(dir && !ow, "native: whiteouts are deletions");
	ok(dir && write_file(dir, "f", "x"), "write into n1");
	ok(snapshots_commit(&d, "default", "native", "N1", "n1", NULL, NULL, &err) == 0,
	   "commit N1");
	ok(snapshots_commit_reparent(&d, "default", "native", "N2", "n1", "N1", NULL, NULL, &err) <
		   0 &&
	       kind_of(err) == E_FAILED_PRECONDITION,
	   "native cannot reparent");
	err_free(&err);
	ok(snapshots_prepare(&d, "default", "native", "n2", "N1", NULL, NULL, &err) == NULL &&
	       kind_of(err) == E_FAILED_PRECONDITION,
	   "sync prepare with a native parent is refused");
	err_free(&err);
	ok(!snapshots_exists(&d, "default", "native", "n2"), "and creates nothing");

	struct prep_res r = {0};
	ok(snapshots_prepare_async(&d, "default", "native", "n2", "N1", false, NULL, NULL, prep_cb,
				   &r, &err) == 0,
	   "async prepare starts");
	ok(!r.done, "its callback has not run yet");
	struct prep_res dup = {0};
	ok(snapshots_prepare_async(&d, "default", "native", "n2", "N1", false, NULL, NULL, prep_cb,
				   &dup, &err) < 0 &&
	       kind_of(err) == E_ALREADY_EXISTS,
	   "the same key while the copy runs: already_exists");
	err_free(&err);
	ok(snapshots_remove(&d, "default", "native", "N1", &err) < 0 &&
	       kind_of(err) == E_FAILED_PRECONDITION,
	   "the parent of a copy in flight cannot be removed");
	err_free(&err);
	spin(&r.done);
	ok(r.done && r.mounts && !r.err, "async prepare done");
	cleanup_free char *d2 = snapshots_active_dir(&d, "default", "native", "n2", &ow, &err);
	ok(d2 && exists(d2, "f"), "the child holds a copy of the parent's tree");
	json_decref(r.mounts);

	struct prep_res c = {0};
	ok(snapshots_prepare_async(&d, "default", "native", "n3", "N1", true, NULL, NULL, prep_cb,
				   &c, &err) == 0,
	   "async view starts");
	snapshots_prepare_cancel(&d, prep_cb, &c);
	for (int i = 0; i < 100; i++)
		event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ok(!c.done, "a cancelled prepare never calls back");
	ok(!snapshots_exists(&d, "default", "native", "n3"), "and creates nothing");
	ok(snapshots_remove(&d, "default", "native", "N1", &err) < 0, "N1 still has a child (n2)");
	err_free(&err);
	ok(snapshots_remove(&d, "default", "native", "n2", &err) == 0 &&
	       snapshots_remove(&d, "default", "native", "N1", &err) == 0,
	   "then both go");
}

int main(void)
{
	plan_lazy();
	if (geteuid() != 0) {
		printf("1..0 # SKIP overlay mounts need root\n");
		return 0;
	}
	char dir[] = "/tmp/berth-snapshots-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	err_t err = NULL;
	config_init(&d.cfg);
	free(d.cfg.root);
	d.cfg.root = xstrdup(dir);
	d.base = event_base_new();
	d.children = child_table_new();
	struct event *chld = evsignal_new(d.base, SIGCHLD, chld_cb, NULL);
	event_add(chld, NULL);
	cleanup_free char *meta = xasprintf("%s/meta", dir);
	if (store_open(&d.store, meta, 1 << 26, &err) < 0)
		return 1;
	d.events = events_new(64, 1);
	if (namespaces_init(&d, &err) < 0 || snapshots_open(&d, &err) < 0) {
		printf("Bail out! %s\n", err->msg);
		return 1;
	}
	is_str(snapshots_default(&d), "overlayfs", "the default snapshotter");

	test_overlay_reparent();
	test_leases();
	test_native();

	snapshots_free(&d);
	events_free(d.events);
	store_close(d.store);
	event_free(chld);
	child_table_free(d.children);
	event_base_free(d.base);
	config_release(&d.cfg);
	cleanup_free char *cmd = xasprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
