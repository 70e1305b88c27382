/*
 * remotes-fetch: drive the registry client (src/remotes) on its own loop,
 * without the pull layer, for t/t4001-*.sh.
 *
 *   remotes-fetch [options] REF
 *
 *   -c FILE              berthd config (registries, docker_config, timeouts,
 *                        max_concurrent_downloads, registry_retries)
 *   --plain-http         per-request plain HTTP
 *   --user USER:PASS     per-request credentials
 *   --token TOKEN        per-request bearer token
 *   --resolve            resolve first (HEAD, then GET if needed)
 *   --platform OS/ARCH[/VARIANT]  from an index, fetch that child
 *   --blobs DIR          write the manifest to DIR/manifest.json and fetch
 *                        the manifest's config and layers into DIR/<hex>
 *   --blob DIGEST:SIZE   fetch this blob too (into DIR; repeatable)
 *   --only-blobs         fetch the --blob ones only (no manifest)
 *   --pause              backpressure: pause after every write, resume
 *                        from a timer 1 ms later
 *   --cancel-at BYTES    once BYTES were written (all blobs), cancel every
 *                        operation, from inside the sink's write, and stop
 *   --abandon-at BYTES   once BYTES were written, stop the loop and free the
 *                        client with transfers in flight
 *   -l LEVEL             log level (stderr)
 *
 * A blob file that exists already is resumed from its size. Prints, on
 * stdout: "resolved|manifest|child MEDIATYPE DIGEST SIZE", "resume DIGEST
 * OFFSET" (a transfer started past 0), "blob DIGEST SIZE" (written and
 * verified), "max_active N" (blob transfers at once), "error CODE MESSAGE".
 * Exits 0 when everything worked, 1 on an error, 2 on bad usage.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <jansson.h>

#include "core/curl.h"
#include "core/daemon.h"
#include "core/digest.h"
#include "core/log.h"
#include "remotes/reference.h"
#include "remotes/remotes.h"

struct blob {
	struct ctx *c;
	char digest[DIGEST_STRLEN + 1];
	uint64_t size;
	int fd;
	bool active;
	struct remote_op *op;
	struct event *resume_ev;
	struct blob *next;
};

struct ctx {
	struct daemon d;
	struct reference ref;
	struct remote_opts opts;
	const char *platform;
	const char *dir;
	bool resolve, pause, only_blobs;
	bool child_next; /* the next manifest is an index's child */
	int failed;
	size_t pending; /* operations not yet called back */
	size_t active, max_active;
	uint64_t written, cancel_at, abandon_at; /* 0: never */
	bool stopped;
	struct remote_op *mop; /* manifest/resolve op in flight */
	struct blob *blobs;
	struct blob *extra; /* --blob, before they start */
};

static void error_out(struct ctx *c, const err_t *err)
{
	printf("error %s %s\n", err_kind_code((*err)->kind), (*err)->msg);
	c->failed = 1;
}

static void maybe_stop(struct ctx *c)
{
	if (c->pending == 0)
		event_base_loopbreak(c->d.base);
}

/* ---- the sink: a file ---------------------------------------------------- */

static void cancel_all(struct ctx *c);
static void abandon(struct ctx *c);

static int sink_start(void *data, uint64_t offset, err_t *err)
{
	struct blob *b = data;
	if (offset > 0)
		printf("resume %s %" PRIu64 "\n", b->digest, offset);
	if (ftruncate(b->fd, (off_t)offset) < 0 || lseek(b->fd, (off_t)offset, SEEK_SET) < 0)
		return make_error(err, E_INTERNAL, errno, "truncate");
	if (!b->active) {
		b->active = true;
		b->c->active++;
		if (b->c->active > b->c->max_active)
			b->c->max_active = b->c->active;
	}
	return 0;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct blob *b = arg;
	remote_op_resume(b->op);
}

static int sink_write(void *data, const void *buf, size_t len, err_t *err)
{
	struct blob *b = data;
	const char *p = buf;
	while (len) {
		ssize_t n = write(b->fd, p, len);
		if (n < 0)
			return make_error(err, E_INTERNAL, errno, "write");
		p += n;
		len -= (size_t)n;
		b->c->written += (uint64_t)n;
	}
	struct ctx *c = b->c;
	if (!c->stopped && c->cancel_at && c->written >= c->cancel_at) {
		cancel_all(c); /* this very transfer too: remotes defers the free */
		return 0;
	}
	if (!c->stopped && c->abandon_at && c->written >= c->abandon_at) {
		abandon(c);
		return 1; /* paused: it stays in flight */
	}
	if (b->c->pause) {
		struct timeval tv = {0, 1000};
		evtimer_add(b->resume_ev, &tv);
		return 1;
	}
	return 0;
}

static uint64_t sink_offset(void *data)
{
	struct blob *b = data;
	struct stat st;
	return fstat(b->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static const struct remote_blob_sink file_sink = {sink_start, sink_write, sink_offset};

static void blob_done(void *data, err_t *err)
{
	struct blob *b = data;
	struct ctx *c = b->c;
	b->op = NULL;
	if (b->active) {
		b->active = false;
		c->active--;
	}
	c->pending--;
	if (*err) {
		error_out(c, err);
	} else {
		cleanup_free char *path = xasprintf("%s/%s", c->dir, digest_hex(b->digest));
		size_t len;
		cleanup_free char *bytes = read_file(path, &len);
		char got[DIGEST_STRLEN + 1];
		digest_buffer(bytes ? bytes : "", bytes ? len : 0, got);
		if (!bytes || len != b->size || strcmp(got, b->digest) != 0) {
			printf("error invalid_argument blob %s: wrote %zu bytes of digest %s\n",
			       b->digest, bytes ? len : 0, got);
			c->failed = 1;
		} else {
			printf("blob %s %" PRIu64 "\n", b->digest, b->size);
		}
	}
	maybe_stop(c);
}

static void fetch_blob(struct ctx *c, const char *digest, uint64_t size)
{
	for (struct blob *b = c->blobs; b; b = b->next)
		if (strcmp(b->digest, digest) == 0)
			return;
	struct blob *b = xzalloc(sizeof(*b));
	b->c = c;
	snprintf(b->digest, sizeof(b->digest), "%s", digest);
	b->size = size;
	const char *hex = strchr(digest, ':') ? strchr(digest, ':') + 1 : digest;
	cleanup_free char *path = xasprintf("%s/%s", c->dir, hex);
	b->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (b->fd < 0) {
		printf("error internal open %s: %s\n", path, strerror(errno));
		c->failed = 1;
		free(b);
		return;
	}
	b->resume_ev = evtimer_new(c->d.base, resume_cb, b);
	b->next = c->blobs;
	c->blobs = b;
	c->pending++;
	b->op = remotes_fetch_blob(c->d.remotes, &c->ref, b->digest, size, &c->opts, &file_sink, b,
				   blob_done, b);
}

/* ---- manifests ---------------------------------------------------------------- */

static void fetch_manifest(struct ctx *c, const char *digest);

static bool platform_matches(json_t *p, const char *want)
{
	char os[64] = "", arch[64] = "", variant[64] = "";
	sscanf(want, "%63[^/]/%63[^/]/%63s", os, arch, variant);
	const char *pos = json_get_string(p, "os"), *parch = json_get_string(p, "architecture");
	const char *pvar = json_get_string(p, "variant");
	if (!pos || !parch || strcmp(pos, os) != 0 || strcmp(parch, arch) != 0)
		return false;
	return !*variant || (pvar && strcmp(pvar, variant) == 0);
}

static void save_manifest(struct ctx *c, const struct remote_manifest *m)
{
	if (!c->dir)
		return;
	cleanup_free char *path = xasprintf("%s/manifest.json", c->dir);
	write_file_atomic(path, m->data, m->len, 0644);
}

static void manifest_cb(void *data, struct remote_manifest *m, err_t *err)
{
	struct ctx *c = data;
	c->mop = NULL;
	c->pending--;
	if (*err) {
		error_out(c, err);
		maybe_stop(c);
		return;
	}
	cleanup_json json_t *j = json_loadb(m->data, m->len, 0, NULL);
	json_t *list = json_object_get(j, "manifests");
	bool is_index = json_is_array(list);
	printf("%s %s %s %zu\n", c->child_next ? "child" : "manifest", m->media_type, m->digest,
	       m->len);
	if (is_index && c->platform) {
		size_t i;
		json_t *e;
		const char *pick = NULL;
		json_array_foreach(list, i, e) {
			if (platform_matches(json_object_get(e, "platform"), c->platform)) {
				pick = json_get_string(e, "digest");
				break;
			}
		}
		if (!pick) {
			printf("error not_found no manifest for platform %s\n", c->platform);
			c->failed = 1;
		} else {
			c->child_next = true;
			fetch_manifest(c, pick);
		}
	} else if (!is_index && c->dir) {
		save_manifest(c, m);
		json_t *cfg = json_object_get(j, "config");
		if (json_is_object(cfg))
			fetch_blob(c, json_get_string(cfg, "digest"),
				   (uint64_t)json_integer_value(json_object_get(cfg, "size")));
		size_t i;
		json_t *l;
		json_array_foreach(json_object_get(j, "layers"), i, l) {
			fetch_blob(c, json_get_string(l, "digest"),
				   (uint64_t)json_integer_value(json_object_get(l, "size")));
		}
	}
	remote_manifest_free(m);
	maybe_stop(c);
}

static void fetch_manifest(struct ctx *c, const char *digest)
{
	c->pending++;
	c->mop = remotes_get_manifest(c->d.remotes, &c->ref, digest, &c->opts, manifest_cb, c);
}

static void resolve_cb(void *data, struct remote_descriptor *desc, err_t *err)
{
	struct ctx *c = data;
	c->mop = NULL;
	c->pending--;
	if (*err) {
		error_out(c, err);
	} else {
		printf("resolved %s %s %" PRIu64 "\n", desc->media_type, desc->digest, desc->size);
		/* fetch what it resolved to, by digest, as the pull does */
		fetch_manifest(c, desc->digest);
	}
	remote_descriptor_free(desc);
	maybe_stop(c);
}

/* ---- main ------------------------------------------------------------------------ */

static void cancel_all(struct ctx *c)
{
	c->stopped = true;
	if (c->mop) {
		remote_op_cancel(c->mop);
		c->mop = NULL;
	}
	for (struct blob *b = c->blobs; b; b = b->next) {
		if (b->op) {
			remote_op_cancel(b->op);
			b->op = NULL;
		}
	}
	printf("cancelled\n");
	event_base_loopbreak(c->d.base);
}

static void abandon(struct ctx *c)
{
	c->stopped = true;
	printf("abandoned active=%zu queued=%zu\n", remotes_blobs_active(c->d.remotes),
	       remotes_blobs_queued(c->d.remotes));
	event_base_loopbreak(c->d.base);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"plain-http", no_argument, NULL, 'P'},
	    {"user", required_argument, NULL, 'u'},
	    {"token", required_argument, NULL, 't'},
	    {"resolve", no_argument, NULL, 'r'},
	    {"platform", required_argument, NULL, 'p'},
	    {"blobs", required_argument, NULL, 'b'},
	    {"blob", required_argument, NULL, 'B'},
	    {"only-blobs", no_argument, NULL, 'O'},
	    {"pause", no_argument, NULL, 'z'},
	    {"cancel-at", required_argument, NULL, 'C'},
	    {"abandon-at", required_argument, NULL, 'A'},
	    {NULL, 0, NULL, 0},
	};
	struct ctx c = {0};
	const char *config = NULL, *level = "warn";
	char *user = NULL;
	char **extra = NULL;
	size_t nextra = 0;
	int o;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((o = getopt_long(argc, argv, "c:l:", lopts, NULL)) != -1) {
		switch (o) {
		case 'c':
			config = optarg;
			break;
		case 'l':
			level = optarg;
			break;
		case 'P':
			c.opts.plain_http = true;
			break;
		case 'u':
			user = xstrdup(optarg);
			break;
		case 't':
			c.opts.token = optarg;
			break;
		case 'r':
			c.resolve = true;
			break;
		case 'p':
			c.platform = optarg;
			break;
		case 'b':
			c.dir = optarg;
			break;
		case 'B':
			extra = xrealloc(extra, (nextra + 1) * sizeof(*extra));
			extra[nextra++] = optarg;
			break;
		case 'O':
			c.only_blobs = true;
			break;
		case 'z':
			c.pause = true;
			break;
		case 'C':
			c.cancel_at = strtoull(optarg, NULL, 10);
			break;
		case 'A':
			c.abandon_at = strtoull(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (optind + 1 != argc || (nextra && !c.dir)) {
		fprintf(stderr, "usage: remotes-fetch [options] REF (see the source)\n");
		return 2;
	}
	if (user) {
		char *colon = strchr(user, ':');
		if (!colon) {
			fprintf(stderr, "remotes-fetch: --user USER:PASS\n");
			return 2;
		}
		*colon = '\0';
		c.opts.username = user;
		c.opts.password = colon + 1;
	}
	err_t err = NULL;
	log_set_level((enum log_level)log_level_parse(level));
	config_init(&c.d.cfg);
	signal(SIGPIPE, SIG_IGN);
	c.d.base = event_base_new();
	if (config) {
		json_error_t je;
		cleanup_json json_t *j = json_load_file(config, 0, &je);
		if (!j || config_apply_json(&c.d.cfg, j, &err) < 0) {
			fprintf(stderr, "remotes-fetch: config: %s\n", err ? err->msg : je.text);
			err_free(&err);
			c.failed = 2;
			goto out;
		}
	}
	if (reference_parse(argv[optind], &c.ref, &err) < 0 ||
	    !(c.d.curl = curl_loop_new(&c.d, &err)) || remotes_new(&c.d, &c.d.remotes, &err) < 0) {
		error_out(&c, &err);
		err_free(&err);
		goto out;
	}
	if (c.only_blobs) {
		/* nothing else */
	} else if (c.resolve) {
		c.pending++;
		c.mop = remotes_resolve(c.d.remotes, &c.ref, &c.opts, resolve_cb, &c);
	} else {
		fetch_manifest(&c, NULL);
	}
	for (size_t i = 0; i < nextra; i++) {
		char *colon = strrchr(extra[i], ':');
		uint64_t size;
		if (!colon || !parse_u64(colon + 1, &size)) {
			fprintf(stderr, "remotes-fetch: --blob DIGEST:SIZE\n");
			c.failed = 2;
			goto out;
		}
		*colon = '\0';
		fetch_blob(&c, extra[i], size);
	}
	if (c.pending)
		event_base_dispatch(c.d.base);
	printf("max_active %zu\n", c.max_active);
out:
	remotes_free(c.d.remotes); /* transfers still in flight are dropped */
	curl_loop_free(c.d.curl);
	while (c.blobs) {
		struct blob *b = c.blobs;
		c.blobs = b->next;
		close(b->fd);
		event_free(b->resume_ev);
		free(b);
	}
	event_base_free(c.d.base);
	reference_release(&c.ref);
	config_release(&c.d.cfg);
	free(extra);
	free(user);
	return c.failed;
}
