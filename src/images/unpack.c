#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "content/content.h"
#include "core/log.h"
#include "core/util.h"
#include "diff/diff.h"
#include "images/unpack.h"
#include "metadata/store.h"
#include "namespaces/namespaces.h"
#include "snapshots/snapshots.h"

/* Extractions from stored blobs running at once per unpacker (streams are
 * bounded by the downloads instead). */
#define UNPACK_FILE_WORKERS 3
/* The prefix of active extraction snapshots (unpack_cleanup finds them). */
#define EXTRACT_PREFIX "extract-"

enum layer_state {
	L_SKIP = 0,   /* its chain is unpacked already */
	L_PENDING,    /* waiting for its blob, a worker slot, or (native) its parent */
	L_EXTRACTING, /* a worker runs */
	L_EXTRACTED,  /* extracted and verified, waiting for its turn to commit */
	L_COMMITTED,
};

struct layer {
	struct unpacker *u;
	size_t i;
	enum layer_state state;
	char digest[72];
	char *media_type;
	char diff_id[80];
	char chain[80];
	char key[160];  /* the active snapshot being extracted, "" when none */
	bool blob_ready;
	bool preparing; /* native: its snapshot is being copied from the parent */
	bool on_lower;  /* overlayfs: applied onto its mounted parents (see job_done) */
	char mnt[512];  /* where that mount is, "" when none */
	bool streaming; /* the worker reads what unpacker_stream_write gives it */
	struct diff_job *job;
	void (*space_cb)(void *);
	void *space_data;
};

struct unpacker {
	struct daemon *d;
	char *ns, *sn, *lease;
	bool parallel; /* overlayfs: layers extract independently */
	struct layer *layers;
	size_t n;
	size_t next_commit; /* the lowest layer not committed (or skipped) */
	size_t file_workers;
	unpack_event_cb ev;
	unpack_done_cb done;
	void *data;
	bool finished;
	unsigned nonce;
};

static void schedule(struct unpacker *u);

static void layer_drop_snapshot(struct layer *l)
{
	struct unpacker *u = l->u;
	if (!l->key[0])
		return;
	err_t err = NULL;
	if (snapshots_remove(u->d, u->ns, u->sn, l->key, &err) < 0) {
		if (err->kind != E_NOT_FOUND)
			log_warn("could not remove an extraction snapshot", "namespace=%s key=%s err=%s",
				 u->ns, l->key, err->msg);
		err_free(&err);
	}
	l->key[0] = '\0';
}

static void prepared_cb(void *data, json_t *mounts, err_t *err);

static void layer_unmount(struct layer *l)
{
	if (!l->mnt[0])
		return;
	if (umount2(l->mnt, 0) < 0 && umount2(l->mnt, MNT_DETACH) < 0 && errno != EINVAL &&
	    errno != ENOENT)
		log_warn("could not unmount an extraction mount", "path=%s err=%s", l->mnt,
			 strerror(errno));
	rmdir(l->mnt);
	l->mnt[0] = '\0';
}

static void layer_stop(struct layer *l)
{
	if (l->preparing) {
		snapshots_prepare_cancel(l->u->d, prepared_cb, l);
		l->preparing = false;
		l->key[0] = '\0'; /* a cancelled prepare creates nothing */
	}
	if (l->job) {
		diff_job_cancel(l->job);
		l->job = NULL;
	}
	l->streaming = false;
	l->space_cb = NULL;
	l->space_data = NULL;
	layer_unmount(l);
	if (l->state != L_COMMITTED)
		layer_drop_snapshot(l);
}

static void fail(struct unpacker *u, err_t *err)
{
	if (u->finished) {
		err_free(err);
		return;
	}
	u->finished = true;
	for (size_t i = 0; i < u->n; i++)
		layer_stop(&u->layers[i]);
	u->done(u->data, NULL, err);
	err_free(err);
}

static void finish_ok(struct unpacker *u)
{
	if (u->finished)
		return;
	u->finished = true;
	u->done(u->data, u->layers[u->n - 1].chain, NULL);
}

/* Commit every extracted layer whose parent chain is committed, in order. */
static void commit_ready(struct unpacker *u)
{
	while (!u->finished && u->next_commit < u->n) {
		struct layer *l = &u->layers[u->next_commit];
		if (l->state == L_SKIP || l->state == L_COMMITTED) {
			u->next_commit++;
			continue;
		}
		if (l->state != L_EXTRACTED)
			break;
		const char *parent = l->i > 0 ? u->layers[l->i - 1].chain : NULL;
		err_t err = NULL;
		int rc;
		if (snapshots_exists(u->d, u->ns, u->sn, l->chain)) {
			/* another pull committed this chain meanwhile: use it */
			layer_drop_snapshot(l);
			rc = 0;
		} else if (u->parallel && parent && !l->on_lower) {
			rc = snapshots_commit_reparent(u->d, u->ns, u->sn, l->chain, l->key, parent,
						       NULL, u->lease, &err);
		} else {
			rc = snapshots_commit(u->d, u->ns, u->sn, l->chain, l->key, NULL, u->lease,
					      &err);
		}
		if (rc < 0) {
			error_wrap(&err, "layer %zu (%s): commit of snapshot `%s`", l->i, l->digest,
				   l->chain);
			return fail(u, &err);
		}
		l->key[0] = '\0';
		l->state = L_COMMITTED;
		u->next_commit++;
		u->ev(u->data, "unpacked", l->i, l->digest, l->chain);
	}
	if (!u->finished && u->next_commit == u->n)
		return finish_ok(u);
	if (!u->finished)
		schedule(u); /* the next layer's parents are there now */
}

static void job_done(void *data, const struct diff_result *res, err_t *err)
{
	struct layer *l = data;
	struct unpacker *u = l->u;
	bool from_file = !l->streaming;
	l->job = NULL;
	l->streaming = false;
	if (from_file)
		u->file_workers--;
	if (!res) {
		if (u->parallel && l->i > 0 && !l->on_lower && *err &&
		    strstr((*err)->msg, "is not in this layer")) {
			/* a hardlink to a file of a lower layer: extracted alone, the
			 * layer cannot make it; apply it again onto its mounted parents
			 * once they are committed, as containerd applies every layer */
			log_info("layer links into its parents: applying it onto them", "digest=%s",
				 l->digest);
			layer_drop_snapshot(l);
			l->on_lower = true;
			l->state = L_PENDING;
			return schedule(u);
		}
		layer_unmount(l);
		err_t e = steal_ptr(err);
		error_wrap(&e, "layer %zu (%s)", l->i, l->digest);
		return fail(u, &e);
	}
	layer_unmount(l);
	if (strcmp(res->diff_id, l->diff_id) != 0) {
		err_t e = NULL;
		make_error(&e, E_INVALID_ARGUMENT, 0,
			   "layer %zu (%s): its content has diff ID `%s`, the image config says `%s`",
			   l->i, l->digest, res->diff_id, l->diff_id);
		return fail(u, &e);
	}
	log_debug("layer extracted", "namespace=%s digest=%s entries=%llu seconds=%.3f", u->ns,
		  l->digest, (unsigned long long)res->entries, res->seconds);
	l->state = L_EXTRACTED;
	u->ev(u->data, "extracted", l->i, l->digest, l->chain);
	commit_ready(u);
	if (!u->finished)
		schedule(u);
}

static void job_space(void *data)
{
	struct layer *l = data;
	void (*cb)(void *) = l->space_cb;
	void *cbdata = l->space_data;
	l->space_cb = NULL;
	l->space_data = NULL;
	if (cb)
		cb(cbdata);
}

/* Start layer l's worker on its prepared snapshot: from fd (a stored blob)
 * or, fd < 0, fed by the stream. */
static int layer_start_worker(struct layer *l, int fd, err_t *err)
{
	struct unpacker *u = l->u;
	bool overlay_whiteouts = false;
	cleanup_free char *dir = snapshots_active_dir(u->d, u->ns, u->sn, l->key,
						      &overlay_whiteouts, err);
	if (!dir) {
		layer_drop_snapshot(l);
		return -1;
	}
	struct diff_apply_opts o = {
		.dir = dir,
		.whiteouts = overlay_whiteouts ? DIFF_WHITEOUTS_OVERLAY : DIFF_WHITEOUTS_DELETE,
		.expected_diff_id = l->diff_id,
		.media_type = l->media_type,
		.src_fd = fd,
	};
	l->job = diff_apply_start(u->d, &o, job_done, job_space, l, err);
	if (!l->job) {
		layer_drop_snapshot(l);
		return error_wrap(err, "layer %zu (%s)", l->i, l->digest);
	}
	l->streaming = fd < 0;
	return 0;
}

static int open_blob(struct layer *l, err_t *err)
{
	uint64_t size = 0;
	int fd = content_open(l->u->d->content, l->u->ns, l->digest, &size, err);
	if (fd < 0)
		error_wrap(err, "layer %zu", l->i);
	return fd;
}

/* native: the copy of the parent is ready; extract the blob onto it. */
static void prepared_cb(void *data, json_t *mounts, err_t *err)
{
	struct layer *l = data;
	struct unpacker *u = l->u;
	l->preparing = false;
	if (!mounts) {
		l->key[0] = '\0';
		err_t e = steal_ptr(err);
		error_wrap(&e, "layer %zu: snapshot for extraction", l->i);
		return fail(u, &e);
	}
	err_t e = NULL;
	int fd = open_blob(l, &e);
	if (fd < 0)
		return fail(u, &e);
	int rc = layer_start_worker(l, fd, &e);
	close(fd);
	if (rc < 0)
		return fail(u, &e);
}

static const char *parent_of(const struct layer *l)
{
	return l->i > 0 ? l->u->layers[l->i - 1].chain : NULL;
}

/* Mount the active snapshot key of layer l (an overlay over its parents) at
 * <state>/unpack/<key's tail>. */
static int layer_mount(struct layer *l, json_t *mounts, err_t *err)
{
	struct unpacker *u = l->u;
	json_t *m = json_array_get(mounts, 0);
	const char *type = json_get_string(m, "type");
	const char *source = json_get_string(m, "source");
	if (json_array_size(mounts) != 1 || !type || !source)
		return make_error(err, E_INTERNAL, 0, "unexpected mounts for `%s`", l->key);
	struct buf opts = BUF_INIT;
	size_t i;
	json_t *o;
	bool bind = strcmp(type, "bind") == 0;
	json_array_foreach (json_object_get(m, "options"), i, o) {
		const char *v = json_string_value(o);
		if (!v || (bind && (strcmp(v, "rbind") == 0 || strcmp(v, "bind") == 0 ||
				    strcmp(v, "rw") == 0)))
			continue;
		if (opts.len)
			buf_adds(&opts, ",");
		buf_adds(&opts, v);
	}
	char dir[400];
	snprintf(dir, sizeof(dir), "%s/unpack", u->d->cfg.state);
	mkdir(dir, 0700);
	snprintf(l->mnt, sizeof(l->mnt), "%s/%u-%zu", dir, u->nonce, l->i);
	if (mkdir(l->mnt, 0700) < 0 && errno != EEXIST) {
		buf_release(&opts);
		int e = errno;
		l->mnt[0] = '\0';
		return make_error(err, E_INTERNAL, e, "create a mount point under `%s`", dir);
	}
	int rc = mount(source, l->mnt, bind ? NULL : type, bind ? MS_BIND : 0,
		       opts.len ? opts.data : NULL);
	buf_release(&opts);
	if (rc < 0) {
		int e = errno;
		rmdir(l->mnt);
		l->mnt[0] = '\0';
		return make_error(err, E_INTERNAL, e, "mount the snapshot `%s`", l->key);
	}
	return 0;
}

/* overlayfs, a layer that links into its parents: prepare it over them, mount
 * that, extract the stored blob into the mount (whiteouts as deletions: the
 * overlay makes its own), commit it as a plain child. */
static int layer_extract_on_parents(struct layer *l, const char *parent, json_t *labels,
				    err_t *err)
{
	struct unpacker *u = l->u;
	json_t *mounts = snapshots_prepare(u->d, u->ns, u->sn, l->key, parent, labels, u->lease,
					   err);
	if (!mounts) {
		l->key[0] = '\0';
		return error_wrap(err, "layer %zu: snapshot for extraction", l->i);
	}
	int rc = layer_mount(l, mounts, err);
	json_decref(mounts);
	if (rc < 0) {
		layer_drop_snapshot(l);
		return -1;
	}
	int fd = open_blob(l, err);
	if (fd < 0) {
		layer_unmount(l);
		layer_drop_snapshot(l);
		return -1;
	}
	struct diff_apply_opts o = {
		.dir = l->mnt,
		.whiteouts = DIFF_WHITEOUTS_DELETE,
		.expected_diff_id = l->diff_id,
		.media_type = l->media_type,
		.src_fd = fd,
	};
	l->job = diff_apply_start(u->d, &o, job_done, job_space, l, err);
	close(fd);
	if (!l->job) {
		layer_unmount(l);
		layer_drop_snapshot(l);
		return error_wrap(err, "layer %zu (%s)", l->i, l->digest);
	}
	l->streaming = false;
	return 0;
}

/* Prepare layer l's extraction snapshot and start its worker: from its
 * stored blob (stream false) or fed by the stream. overlayfs prepares an
 * empty snapshot at once; native copies the parent chain first (in a
 * worker), then starts. */
static int layer_extract(struct layer *l, bool stream, err_t *err)
{
	struct unpacker *u = l->u;
	snprintf(l->key, sizeof(l->key), EXTRACT_PREFIX "%u-%zu-%s", u->nonce, l->i, l->chain);
	const char *parent = !u->parallel && l->i > 0 ? u->layers[l->i - 1].chain : NULL;
	cleanup_json json_t *labels = json_pack("{s:s}", "containerd.io/snapshot.ref", l->chain);
	l->state = L_EXTRACTING;
	if (!stream)
		u->file_workers++;
	u->ev(u->data, "extracting", l->i, l->digest, l->chain);
	if (l->on_lower)
		return layer_extract_on_parents(l, parent_of(l), labels, err);
	if (!u->parallel) {
		if (snapshots_prepare_async(u->d, u->ns, u->sn, l->key, parent, false, labels,
					    u->lease, prepared_cb, l, err) < 0) {
			l->key[0] = '\0';
			return error_wrap(err, "layer %zu: snapshot for extraction", l->i);
		}
		l->preparing = true;
		return 0;
	}
	json_t *mounts = snapshots_prepare(u->d, u->ns, u->sn, l->key, NULL, labels, u->lease,
					   err);
	if (!mounts) {
		l->key[0] = '\0';
		return error_wrap(err, "layer %zu: snapshot for extraction", l->i);
	}
	json_decref(mounts);
	if (stream)
		return layer_start_worker(l, -1, err);
	int fd = open_blob(l, err);
	if (fd < 0) {
		layer_drop_snapshot(l);
		return -1;
	}
	int rc = layer_start_worker(l, fd, err);
	close(fd);
	return rc;
}

/* Start extractions from stored blobs where they may start. */
static void schedule(struct unpacker *u)
{
	for (size_t i = 0; i < u->n && !u->finished; i++) {
		struct layer *l = &u->layers[i];
		if (l->state != L_PENDING || !l->blob_ready)
			continue;
		if (u->file_workers >= UNPACK_FILE_WORKERS)
			return;
		if (!u->parallel && i != u->next_commit)
			return; /* native: strictly one after the other */
		if (l->on_lower && i != u->next_commit)
			continue; /* its parents first */
		err_t err = NULL;
		if (layer_extract(l, false, &err) < 0)
			return fail(u, &err);
	}
}

struct unpacker *unpacker_new(struct daemon *d, const char *ns, const char *snapshotter,
			      const char *lease, const struct descriptor *layers, size_t nlayers,
			      const char *config, size_t config_len, unpack_event_cb ev,
			      unpack_done_cb done, void *data, err_t *err)
{
	if (nlayers == 0) {
		make_error(err, E_INVALID_ARGUMENT, 0, "the image has no layers to unpack");
		return NULL;
	}
	for (size_t i = 0; i < nlayers; i++) {
		if (!media_type_is_layer(layers[i].media_type)) {
			make_error(err, E_INVALID_ARGUMENT, 0,
				   "layer %zu has media type `%s`, which cannot be unpacked", i,
				   layers[i].media_type);
			return NULL;
		}
	}
	char(*diff_ids)[80] = NULL;
	if (image_config_diff_ids(config, config_len, nlayers, &diff_ids, err) < 0)
		return NULL;
	const char *sn = snapshotter ? snapshotter : snapshots_default(d);
	if (snapshots_check_snapshotter(d, sn, err) < 0) {
		free(diff_ids);
		return NULL;
	}
	/* overlayfs layers are independent directories; native ones are copies */
	bool parallel = strcmp(sn, "overlayfs") == 0;
	struct unpacker *u = xzalloc(sizeof(*u));
	u->d = d;
	u->ns = xstrdup(ns);
	u->sn = xstrdup(sn);
	u->lease = lease ? xstrdup(lease) : NULL;
	u->parallel = parallel;
	u->n = nlayers;
	u->layers = xcalloc(nlayers, sizeof(*u->layers));
	u->ev = ev;
	u->done = done;
	u->data = data;
	if (getrandom(&u->nonce, sizeof(u->nonce), GRND_NONBLOCK) != (ssize_t)sizeof(u->nonce))
		u->nonce = (unsigned)getpid() ^ (unsigned)time_mono_ns();
	char(*chains)[80] = xcalloc(nlayers, sizeof(*chains));
	chain_ids(diff_ids, nlayers, chains);
	for (size_t i = 0; i < nlayers; i++) {
		struct layer *l = &u->layers[i];
		l->u = u;
		l->i = i;
		l->state = L_PENDING;
		snprintf(l->digest, sizeof(l->digest), "%s", layers[i].digest);
		l->media_type = xstrdup(layers[i].media_type);
		snprintf(l->diff_id, sizeof(l->diff_id), "%s", diff_ids[i]);
		snprintf(l->chain, sizeof(l->chain), "%s", chains[i]);
	}
	free(chains);
	free(diff_ids);
	/* the highest chain already unpacked: everything below it is too */
	for (size_t i = nlayers; i-- > 0;) {
		if (snapshots_exists(d, ns, sn, u->layers[i].chain)) {
			for (size_t j = 0; j <= i; j++)
				u->layers[j].state = L_SKIP;
			u->next_commit = i + 1;
			break;
		}
	}
	return u;
}

void unpacker_start(struct unpacker *u)
{
	if (u->next_commit == u->n)
		return finish_ok(u);
	schedule(u);
}

void unpacker_cancel(struct unpacker *u)
{
	if (!u)
		return;
	u->finished = true;
	for (size_t i = 0; i < u->n; i++)
		layer_stop(&u->layers[i]);
}

void unpacker_free(struct unpacker *u)
{
	if (!u)
		return;
	unpacker_cancel(u);
	for (size_t i = 0; i < u->n; i++)
		free(u->layers[i].media_type);
	free(u->layers);
	free(u->ns);
	free(u->sn);
	free(u->lease);
	free(u);
}

bool unpacker_layer_needed(struct unpacker *u, size_t i)
{
	return i < u->n && u->layers[i].state != L_SKIP;
}

const char *unpacker_top_chain(struct unpacker *u)
{
	return u->layers[u->n - 1].chain;
}

int unpacker_stream_begin(struct unpacker *u, size_t i, err_t *err)
{
	if (u->finished || i >= u->n)
		return 1;
	struct layer *l = &u->layers[i];
	if (l->state != L_PENDING || l->blob_ready)
		return 1;
	/* native extracts onto a copy of its parent, made first: no stream */
	if (!u->parallel)
		return 1;
	if (layer_extract(l, true, err) < 0) {
		err_t e = steal_ptr(err);
		fail(u, &e);
		return make_error(err, E_INTERNAL, 0, "the unpack failed");
	}
	return 0;
}

bool unpacker_stream_alive(struct unpacker *u, size_t i)
{
	return !u->finished && u->layers[i].streaming && u->layers[i].job;
}

size_t unpacker_stream_space(struct unpacker *u, size_t i)
{
	struct layer *l = &u->layers[i];
	return l->streaming && l->job ? diff_job_space(l->job) : 0;
}

void unpacker_stream_on_space(struct unpacker *u, size_t i, void (*cb)(void *), void *data)
{
	struct layer *l = &u->layers[i];
	l->space_cb = cb;
	l->space_data = data;
}

int unpacker_stream_write(struct unpacker *u, size_t i, const void *buf, size_t len,
			  err_t *err)
{
	struct layer *l = &u->layers[i];
	if (!l->streaming || !l->job)
		return make_error(err, E_INTERNAL, 0, "layer %zu is not being streamed", i);
	return diff_job_write(l->job, buf, len, err);
}

void unpacker_stream_abandon(struct unpacker *u, size_t i)
{
	struct layer *l = &u->layers[i];
	if (!l->streaming)
		return;
	layer_stop(l);
	l->state = L_PENDING;
	if (!u->finished)
		schedule(u);
}

void unpacker_blob_ready(struct unpacker *u, size_t i)
{
	if (u->finished || i >= u->n)
		return;
	struct layer *l = &u->layers[i];
	l->blob_ready = true;
	if (l->streaming && l->job) {
		diff_job_close_input(l->job);
		return;
	}
	schedule(u);
}

/* ---- start-up ------------------------------------------------------------ */

/* Mounts of layers applied onto their parents that a killed berthd left. */
static void unmount_leftovers(struct daemon *d)
{
	char dir[400];
	snprintf(dir, sizeof(dir), "%s/unpack/", d->cfg.state);
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	char line[4096];
	char **found = NULL;
	size_t n = 0;
	while (fgets(line, sizeof(line), f)) {
		/* id parent major:minor root mount-point ... */
		char mp[2048];
		if (sscanf(line, "%*s %*s %*s %*s %2047s", mp) == 1 &&
		    strncmp(mp, dir, strlen(dir)) == 0) {
			found = xrealloc(found, (n + 1) * sizeof(*found));
			found[n++] = xstrdup(mp);
		}
	}
	fclose(f);
	for (size_t i = n; i-- > 0;) {
		if (umount2(found[i], MNT_DETACH) < 0)
			log_warn("could not unmount an interrupted extraction", "path=%s err=%s",
				 found[i], strerror(errno));
		else
			log_info("unmounted an interrupted extraction", "path=%s", found[i]);
		rmdir(found[i]);
		free(found[i]);
	}
	free(found);
}

void unpack_cleanup(struct daemon *d)
{
	static const char *const sns[] = { "overlayfs", "native" };
	err_t err = NULL;
	unmount_leftovers(d);
	cleanup_json json_t *nss = namespaces_list(d, NULL, &err);
	if (!nss) {
		log_warn("could not list namespaces", "err=%s", err->msg);
		err_free(&err);
		return;
	}
	size_t i;
	json_t *n;
	json_array_foreach (nss, i, n) {
		const char *ns = json_get_string(n, "name");
		for (size_t k = 0; ns && k < ARRAY_SIZE(sns); k++) {
			if (snapshots_check_snapshotter(d, sns[k], &err) < 0) {
				err_free(&err);
				continue;
			}
			cleanup_json json_t *list = snapshots_list(d, ns, sns[k], NULL, &err);
			if (!list) {
				err_free(&err);
				continue;
			}
			size_t j;
			json_t *s;
			json_array_foreach (list, j, s) {
				const char *key = json_get_string(s, "name");
				const char *kind = json_get_string(s, "kind");
				if (!key || !kind || strcmp(kind, "active") != 0 ||
				    strncmp(key, EXTRACT_PREFIX, strlen(EXTRACT_PREFIX)) != 0)
					continue;
				if (snapshots_remove(d, ns, sns[k], key, &err) < 0) {
					log_warn("could not remove an extraction snapshot",
						 "namespace=%s key=%s err=%s", ns, key, err->msg);
					err_free(&err);
					continue;
				}
				log_info("removed an interrupted extraction",
					 "namespace=%s snapshotter=%s key=%s", ns, sns[k], key);
			}
		}
	}
}
