/* berth pull: POST /v1/namespaces/{ns}/images/pull and follow the progress
 * berthd streams back as newline-delimited JSON, as `ctr pull` does: one
 * progress bar per blob redrawn in place on a terminal, one line per state
 * change otherwise, the raw lines with --json.
 *
 * The stream is read as it arrives (no timeout on the transfer). The pull
 * belongs to berthd: a client that leaves (Ctrl-C) stops following it, not
 * pulling. Registry credentials go in the request body only; they are never
 * printed, and the copies here are wiped once sent. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/util.h"
#include "core/json.h"
#include "remotes/reference.h"

/* A progress line longer than this is not one berthd sends. */
#define MAX_LINE (1u << 20)
/* Redraw the bars at most this often. */
#define REDRAW_NS (100 * 1000000LL)

static volatile sig_atomic_t interrupted;

static void interrupt_cb(int sig)
{
	interrupted = 1;
}

enum mode {
	MODE_TTY,   /* bars redrawn in place */
	MODE_PLAIN, /* one line per state change */
	MODE_QUIET, /* only the final line */
	MODE_JSON,  /* the daemon's lines as they come */
};

/* One line of the terminal view: the reference, the index and manifest the
 * pull resolved, then every blob. */
struct row {
	char *label;
	char *digest; /* NULL for the reference's row */
	char status[16];
	bool blob;
	uint64_t offset, total;
	uint64_t start; /* offset of its first downloading/resuming line */
	bool started;	/* a downloading/resuming line was seen */
};

struct pull {
	struct cli *cli;
	enum mode mode;
	struct ndjson nd;
	struct row *rows;
	size_t nrows, alloc;
	int64_t started_ns;
	int64_t drawn_ns; /* last redraw */
	int drawn;	  /* lines drawn by the last redraw */
	bool dirty;
	json_t *last; /* the final "done" or "error" object */
	bool bad_line;
	bool write_failed;
	int write_errno;
};

static struct row *row_find(struct pull *p, const char *digest)
{
	for (size_t i = 0; i < p->nrows; i++)
		if (p->rows[i].digest && strcmp(p->rows[i].digest, digest) == 0)
			return &p->rows[i];
	return NULL;
}

static struct row *row_add(struct pull *p, const char *label, const char *digest, bool blob)
{
	ALLOC_GROW(p->rows, p->nrows + 1, p->alloc);
	struct row *r = &p->rows[p->nrows++];
	*r = (struct row){
	    .label = xstrdup(label), .digest = digest ? xstrdup(digest) : NULL, .blob = blob};
	return r;
}

static void set_status(struct row *r, const char *status)
{
	snprintf(r->status, sizeof(r->status), "%s", status);
}

/* "index-sha256:0123456789ab", "manifest-sha256:...", or the bare short
 * digest of a blob (the progress lines do not say config or layer). */
static char *row_label(const char *kind, const char *digest)
{
	char sd[7 + 12 + 1];
	digest_short(digest, sd);
	return kind ? xasprintf("%s-%s", kind, sd) : xstrdup(sd);
}

static const char *kind_of(const char *media_type)
{
	if (!media_type)
		return "manifest";
	return strstr(media_type, "index") || strstr(media_type, "manifest.list") ? "index"
										  : "manifest";
}

static uint64_t get_u64(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v)
							       : 0;
}

/* Bytes the daemon fetched for this pull so far (blobs already present do
 * not count; a resumed blob counts from where it resumed). */
static uint64_t fetched(const struct pull *p)
{
	uint64_t n = 0;
	for (size_t i = 0; i < p->nrows; i++) {
		const struct row *r = &p->rows[i];
		if (r->blob && strcmp(r->status, "exists") != 0 && r->offset > r->start)
			n += r->offset - r->start;
	}
	return n;
}

static void summary(const struct pull *p, struct buf *out)
{
	int64_t el = time_mono_ns() - p->started_ns;
	uint64_t bytes = fetched(p);
	char e[32], b[HUMAN_SIZE_MAX], rate[HUMAN_SIZE_MAX];
	human_elapsed(el, e, sizeof(e));
	human_size(bytes, b);
	human_size(el > 0 ? (uint64_t)((double)bytes * 1e9 / (double)el) : 0, rate);
	buf_addf(out, "elapsed: %s  total: %s (%s/s)", e, b, rate);
}

static void check_write(struct pull *p)
{
	if (!p->write_failed && (fflush(stdout) != 0 || ferror(stdout))) {
		p->write_failed = true;
		p->write_errno = errno;
	}
}

/* ---- the terminal view ----------------------------------------------------- */

static bool is_unpack_status(const char *s)
{
	return strcmp(s, "extracting") == 0 || strcmp(s, "extracted") == 0 ||
	       strcmp(s, "unpacked") == 0;
}


static void bar(struct buf *out, int width, uint64_t done, uint64_t total)
{
	int fill =
	    total ? (int)((double)width * (double)(done > total ? total : done) / (double)total)
		  : 0;
	buf_adds(out, "|");
	for (int i = 0; i < width; i++)
		buf_adds(out, i < fill ? "+" : "-");
	buf_adds(out, "|");
}

/* Append s cut to at most max columns (everything here is ASCII). */
static void add_cut(struct buf *out, const char *s, size_t len, int max)
{
	buf_add(out, s, len > (size_t)max ? (size_t)max : len);
}

/* Redraw every row in place: cursor up over the last frame, rewrite each
 * line, a summary line last. Lines are cut to the terminal's width so that
 * none wraps (a wrapped line would break the count of lines to go up). */
static void redraw(struct pull *p, bool force)
{
	int64_t now = time_mono_ns();
	if (!force && (!p->dirty || now - p->drawn_ns < REDRAW_NS))
		return;
	p->drawn_ns = now;
	p->dirty = false;
	int width = term_width(STDOUT_FILENO, 80);
	/* the reference's row (the first) is as long as it is; the others align */
	int labelw = 0;
	for (size_t i = 1; i < p->nrows; i++)
		if ((int)strlen(p->rows[i].label) > labelw)
			labelw = (int)strlen(p->rows[i].label);
	/* label: status |bar| 12.3 MiB/120.5 MiB */
	int barw = width - 1 - (labelw + 1 + 2 + 11 + 2 + 2 + 2 + 19);
	barw = barw < 10 ? 10 : barw > 40 ? 40 : barw;

	struct buf frame = BUF_INIT, line = BUF_INIT;
	if (p->drawn > 0)
		buf_addf(&frame, "\033[%dA", p->drawn);
	for (size_t i = 0; i < p->nrows; i++) {
		const struct row *r = &p->rows[i];
		buf_reset(&line);
		int pad = labelw - (int)strlen(r->label);
		buf_addf(&line, "%s:%*s  %-11s", r->label, pad > 0 ? pad : 0, "", r->status);
		if (r->blob) {
			bool full = strcmp(r->status, "done") == 0 ||
				    strcmp(r->status, "exists") == 0 || is_unpack_status(r->status);
			buf_adds(&line, "  ");
			bar(&line, barw, full ? r->total : r->offset, r->total);
			char a[HUMAN_SIZE_MAX], b[HUMAN_SIZE_MAX];
			human_size(full ? r->total : r->offset, a);
			human_size(r->total, b);
			buf_addf(&line, "  %s/%s", a, b);
		} else if (r->total) {
			char b[HUMAN_SIZE_MAX];
			human_size(r->total, b);
			buf_addf(&line, "  %s", b);
		}
		buf_adds(&frame, "\r\033[K");
		add_cut(&frame, line.data, line.len, width - 1);
		buf_adds(&frame, "\n");
	}
	buf_reset(&line);
	summary(p, &line);
	buf_adds(&frame, "\r\033[K");
	add_cut(&frame, line.data, line.len, width - 1);
	buf_adds(&frame, "\n");
	p->drawn = (int)p->nrows + 1;
	fwrite(frame.data, 1, frame.len, stdout);
	buf_release(&frame);
	buf_release(&line);
	check_write(p);
}

static void tick_cb(void *arg)
{
	struct pull *p = arg;
	if (p->mode == MODE_TTY)
		redraw(p, false);
}

/* ---- the lines ------------------------------------------------------------- */

static void plain(struct pull *p, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void plain(struct pull *p, const char *fmt, ...)
{
	if (p->mode != MODE_PLAIN)
		return;
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	check_write(p);
}

static bool is_blob_status(const char *s)
{
	static const char *const st[] = {"downloading", "resuming", "waiting", "exists", "done"};
	for (size_t i = 0; i < ARRAY_SIZE(st); i++)
		if (strcmp(s, st[i]) == 0)
			return true;
	return false;
}

static void blob_line(struct pull *p, json_t *o, const char *status)
{
	const char *digest = json_get_string(o, "digest");
	if (!digest)
		return;
	struct row *r = row_find(p, digest);
	if (!r) {
		cleanup_free char *label = row_label(NULL, digest);
		r = row_add(p, label, digest, true);
	}
	bool changed = strcmp(r->status, status) != 0;
	bool moving = strcmp(status, "downloading") == 0 || strcmp(status, "resuming") == 0;
	r->offset = get_u64(o, "offset");
	if (get_u64(o, "total"))
		r->total = get_u64(o, "total");
	if (moving && !r->started) {
		r->started = true;
		r->start = r->offset;
	}
	if (strcmp(status, "done") == 0 && r->total)
		r->offset = r->total;
	set_status(r, status);
	p->dirty = true;
	if (!changed)
		return;
	char a[HUMAN_SIZE_MAX], b[HUMAN_SIZE_MAX];
	human_size(r->offset, a);
	human_size(r->total, b);
	if (strcmp(status, "resuming") == 0)
		plain(p, "%s resuming at %s of %s", digest, a, b);
	else
		plain(p, "%s %s %s", digest, status, b);
}

/* A layer's unpack progress: its row shows it once the blob is stored (a
 * layer streamed into its worker keeps showing the download meanwhile). */
static void unpack_line(struct pull *p, json_t *o, const char *status)
{
	const char *digest = json_get_string(o, "digest");
	const char *chain = json_get_string(o, "chain_id");
	struct row *r = row_find(p, digest);
	if (!r) {
		cleanup_free char *label = row_label(NULL, digest);
		r = row_add(p, label, digest, true);
	}
	bool fetching = strcmp(r->status, "downloading") == 0 ||
			strcmp(r->status, "resuming") == 0 || strcmp(r->status, "waiting") == 0;
	if (!fetching) {
		set_status(r, status);
		r->offset = r->total;
		p->dirty = true;
	}
	if (strcmp(status, "unpacked") == 0)
		plain(p, "%s unpacked %s", digest, chain ? chain : "?");
	else
		plain(p, "%s %s", digest, status);
}

/* A "done" or "error" line: the end of the pull. */
static void final_line(struct pull *p, json_t *o, const char *status)
{
	p->last = json_incref(o);
	p->dirty = true;
	if (strcmp(status, "done") == 0 && p->nrows > 0)
		set_status(&p->rows[0], "done");
	else if (p->nrows > 0)
		set_status(&p->rows[0], "error");
}

static bool line_cb(char *text, size_t len, void *arg)
{
	struct pull *p = arg;
	if (len == 0)
		return true;
	if (p->mode == MODE_JSON) {
		fwrite(text, 1, len, stdout);
		putchar('\n');
		check_write(p);
	}
	cleanup_json json_t *o = json_loadb(text, len, 0, NULL);
	const char *status = json_get_string(o, "status");
	if (!status) {
		p->bad_line = true;
		return false;
	}
	const char *digest = json_get_string(o, "digest");
	if (strcmp(status, "resolving") == 0) {
		const char *ref = json_get_string(o, "ref");
		if (p->nrows == 0)
			row_add(p, ref ? ref : "?", NULL, false);
		set_status(&p->rows[0], "resolving");
		p->dirty = true;
		plain(p, "resolving %s", ref ? ref : "?");
	} else if (strcmp(status, "resolved") == 0 && digest) {
		const char *mt = json_get_string(o, "mediaType");
		if (p->nrows > 0)
			set_status(&p->rows[0], "resolved");
		cleanup_free char *label = row_label(kind_of(mt), digest);
		struct row *r = row_find(p, digest);
		if (!r)
			r = row_add(p, label, digest, false);
		r->total = get_u64(o, "size");
		set_status(r, "resolved");
		p->dirty = true;
		char sz[HUMAN_SIZE_MAX];
		human_size(r->total, sz);
		plain(p, "resolved %s: %s %s (%s)", p->nrows ? p->rows[0].label : "?", kind_of(mt),
		      digest, sz);
	} else if (strcmp(status, "platform") == 0 && digest) {
		const char *plat = json_get_string(o, "platform");
		/* the index is read: its row is done, the chosen manifest follows */
		for (size_t i = 1; i < p->nrows; i++)
			if (!p->rows[i].blob && strcmp(p->rows[i].status, "resolved") == 0)
				set_status(&p->rows[i], "done");
		cleanup_free char *label = row_label("manifest", digest);
		struct row *r = row_find(p, digest);
		if (!r)
			r = row_add(p, label, digest, false);
		set_status(r, plat ? plat : "platform");
		p->dirty = true;
		plain(p, "platform %s: manifest %s", plat ? plat : "?", digest);
	} else if (strcmp(status, "manifest") == 0 && digest) {
		struct row *r = row_find(p, digest);
		if (!r) {
			cleanup_free char *label = row_label("manifest", digest);
			r = row_add(p, label, digest, false);
		}
		set_status(r, "done");
		for (size_t i = 1; i < p->nrows; i++)
			if (!p->rows[i].blob && strcmp(p->rows[i].status, "resolved") == 0)
				set_status(&p->rows[i], "done");
		p->dirty = true;
		uint64_t layers = get_u64(o, "layers");
		plain(p, "manifest %s: %llu layer%s", digest, (unsigned long long)layers,
		      layers == 1 ? "" : "s");
	} else if (strcmp(status, "done") == 0 && json_is_object(json_object_get(o, "image"))) {
		final_line(p, o, status);
	} else if (strcmp(status, "error") == 0) {
		final_line(p, o, status);
	} else if (is_blob_status(status)) {
		blob_line(p, o, status);
	} else if (is_unpack_status(status) && digest) {
		unpack_line(p, o, status);
	} else if (strcmp(status, "unpacked") == 0) {
		const char *sn = json_get_string(o, "snapshotter");
		const char *chain = json_get_string(o, "chain_id");
		plain(p, "unpacked %s %s", sn ? sn : "?", chain ? chain : "?");
	} else if (strcmp(status, "unpacking") == 0) {
		const char *img = json_get_string(o, "image");
		if (p->nrows == 0)
			row_add(p, img ? img : "?", NULL, false);
		set_status(&p->rows[0], "unpacking");
		p->dirty = true;
		plain(p, "unpacking %s", img ? img : "?");
	} /* statuses this client does not know are for newer clients */
	if (p->mode == MODE_TTY)
		redraw(p, false);
	return !p->write_failed && !p->last;
}

static bool data_cb(const char *data, size_t len, void *arg)
{
	struct pull *p = arg;
	return ndjson_feed(&p->nd, data, len);
}

/* ---- the command ----------------------------------------------------------- */

/* OS/ARCH[/VARIANT], each part of [A-Za-z0-9_.-]. */
static bool platform_ok(const char *s)
{
	int parts = 1;
	size_t partlen = 0;
	for (const char *c = s; *c; c++) {
		if (*c == '/') {
			if (partlen == 0)
				return false;
			parts++;
			partlen = 0;
		} else if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			   (*c >= '0' && *c <= '9') || strchr("_.-", *c)) {
			partlen++;
		} else {
			return false;
		}
	}
	return partlen > 0 && parts >= 2 && parts <= 3;
}

/* The `auth` object from --user, --password-stdin, --registry-token-file;
 * NULL (no auth) or an object whose strings the caller wipes. */
static int build_auth(struct cli *cli, const char *user, bool password_stdin,
		      const char *token_file, json_t **auth)
{
	*auth = NULL;
	if (password_stdin && !user)
		return cli_usage_error(cli, "--password-stdin needs --user USER");
	if (token_file && user)
		return cli_usage_error(cli, "--user and --registry-token-file exclude each other");
	if (token_file) {
		size_t len;
		char *t = read_file(token_file, &len);
		if (!t)
			return cli_usage_error(cli, "cannot read token file `%s`: %s", token_file,
					       strerror(errno));
		while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' '))
			t[--len] = '\0';
		if (!*t || strlen(t) != len) {
			secret_free(t);
			return cli_usage_error(cli, "token file `%s` is empty or holds a NUL byte",
					       token_file);
		}
		*auth = json_pack("{s:s}", "token", t);
		secret_free(t);
		return CLI_OK;
	}
	if (!user)
		return CLI_OK;
	const char *colon = strchr(user, ':');
	if (colon == user || !*user)
		return cli_usage_error(cli, "--user needs a user name");
	if (colon && password_stdin)
		return cli_usage_error(
		    cli, "--password-stdin and a password in --user exclude each other");
	cleanup_free char *name = colon ? xstrndup(user, (size_t)(colon - user)) : xstrdup(user);
	char *password;
	if (colon) {
		password = xstrdup(colon + 1);
	} else {
		if (password_stdin) {
			password = read_stdin_secret(false);
		} else {
			cleanup_free char *prompt = xasprintf("Password for %s: ", name);
			password = read_password(prompt);
		}
		if (!password)
			return cli_usage_error(cli, "cannot read the password: %s",
					       strerror(errno));
		if (!*password) {
			secret_free(password);
			return cli_usage_error(cli, "empty password");
		}
	}
	*auth = json_pack("{s:s,s:s}", "username", name, "password", password);
	secret_free(password);
	return CLI_OK;
}

/* Wipe the strings of an `auth` object, then drop the reference. */
static void auth_free(json_t **auth)
{
	const char *k;
	json_t *v;
	if (!*auth)
		return;
	json_object_foreach(*auth, k, v) {
		if (json_is_string(v)) {
			/* jansson's own copy of the string: overwrite it in place */
			char *s = (char *)json_string_value(v);
			explicit_bzero(s, json_string_length(v));
		}
	}
	json_decref(*auth);
	*auth = NULL;
}
#define cleanup_auth __attribute__((cleanup(auth_free)))

enum {
	OPT_PLAIN_HTTP = 256,
	OPT_PLATFORM,
	OPT_USER,
	OPT_PASSWORD_STDIN,
	OPT_TOKEN_FILE,
	OPT_NO_UNPACK,
	OPT_SNAPSHOTTER,
};

static int follow(struct cli *cli, struct client *client, const char *path, json_t *body,
		  bool quiet, const char *what);

static int pull_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"plain-http", no_argument, NULL, OPT_PLAIN_HTTP},
	    {"platform", required_argument, NULL, OPT_PLATFORM},
	    {"user", required_argument, NULL, 'u'},
	    {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
	    {"registry-token-file", required_argument, NULL, OPT_TOKEN_FILE},
	    {"quiet", no_argument, NULL, 'q'},
	    {"no-unpack", no_argument, NULL, OPT_NO_UNPACK},
	    {"snapshotter", required_argument, NULL, OPT_SNAPSHOTTER},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	bool plain_http = false, password_stdin = false, quiet = false, no_unpack = false;
	const char *platform = NULL, *user = NULL, *token_file = NULL, *snapshotter = NULL;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "u:qh", longopts)) != -1) {
		switch (c) {
		case OPT_PLAIN_HTTP:
			plain_http = true;
			break;
		case OPT_PLATFORM:
			if (!platform_ok(optarg))
				return cli_usage_error(
				    cli, "bad --platform `%s`: want OS/ARCH[/VARIANT]", optarg);
			platform = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case OPT_PASSWORD_STDIN:
			password_stdin = true;
			break;
		case OPT_TOKEN_FILE:
			token_file = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case OPT_NO_UNPACK:
			no_unpack = true;
			break;
		case OPT_SNAPSHOTTER:
			snapshotter = optarg;
			break;
		default:
			return cli_getopt_other(cli, c);
		}
	}
	if (no_unpack && snapshotter)
		return cli_usage_error(cli, "--no-unpack and --snapshotter exclude each other");
	if (optind >= argc)
		return cli_usage_error(cli, "missing the image REF");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 1]);
	const char *ref = argv[optind];
	err_t err = NULL;
	struct reference parsed = {0};
	if (reference_parse(ref, &parsed, &err) < 0) {
		int st = cli_usage_error(cli, "%s", err->msg);
		err_free(&err);
		return st;
	}
	reference_release(&parsed);

	cleanup_auth json_t *auth = NULL;
	int st = build_auth(cli, user, password_stdin, token_file, &auth);
	if (st != CLI_OK)
		return st;
	struct client *client = cli_client(cli, &st);
	if (!client)
		return st;
	cleanup_json json_t *body = json_pack("{s:s}", "ref", ref);
	if (platform)
		json_object_set_new(body, "platform", json_string(platform));
	if (plain_http)
		json_object_set_new(body, "plain_http", json_true());
	json_object_set_new(body, "unpack", json_boolean(!no_unpack));
	if (snapshotter)
		json_object_set_new(body, "snapshotter", json_string(snapshotter));
	if (auth)
		json_object_set(body, "auth", auth);
	cleanup_free char *path = cli_ns_path(cli, "/images/pull");
	return follow(cli, client, path, body, quiet, "pull");
}

/* POST path with body and follow the progress berthd streams back. */
static int follow(struct cli *cli, struct client *client, const char *path, json_t *body,
		  bool quiet, const char *what)
{
	err_t err = NULL;
	int st;
	struct sigaction sa = {.sa_handler = interrupt_cb}; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct pull p = {.cli = cli, .started_ns = time_mono_ns()};
	p.mode = cli->json ? MODE_JSON
		 : quiet   ? MODE_QUIET
		 : isatty(STDOUT_FILENO) && !(getenv("TERM") && strcmp(getenv("TERM"), "dumb") == 0)
		     ? MODE_TTY
		     : MODE_PLAIN;
	p.nd = (struct ndjson){.line = BUF_INIT, .max = MAX_LINE, .cb = line_cb, .arg = &p};
	struct client_request rq = {
	    .method = "POST",
	    .path = path,
	    .accept = "application/x-ndjson",
	    .body = body,
	    .data_cb = data_cb,
	    .tick_cb = tick_cb,
	    .arg = &p,
	    .stop = &interrupted,
	};
	enum client_status cs = client_request_stream(client, &rq, &err);
	if (cs == CLIENT_OK && !p.last && !p.bad_line && !p.nd.too_long && !interrupted &&
	    !p.write_failed)
		ndjson_finish(&p.nd);
	if (p.mode == MODE_TTY && p.nrows)
		redraw(&p, true);

	const char *status = json_get_string(p.last, "status");
	json_t *image = json_object_get(p.last, "image");
	if (cs != CLIENT_OK) {
		st = cli_fail(&err, (int)cs);
	} else if (p.write_failed) {
		if (p.write_errno != EPIPE)
			fprintf(stderr, "berth: cannot write the output: %s\n",
				strerror(p.write_errno));
		st = CLI_ERROR;
	} else if (interrupted && !p.last) {
		fprintf(stderr, "berth: interrupted: the %s goes on in berthd (`berth images ls` "
				"shows the image once it is done)\n",
			what);
		st = CLI_ERROR;
	} else if (p.bad_line) {
		fprintf(stderr, "berth: malformed progress line from berthd\n");
		st = CLI_ERROR;
	} else if (p.nd.too_long) {
		fprintf(stderr, "berth: progress line from berthd longer than %u KiB\n",
			MAX_LINE >> 10);
		st = CLI_ERROR;
	} else if (!status) {
		fprintf(stderr, "berth: berthd ended the %s's progress before it finished\n", what);
		st = CLI_ERROR;
	} else if (strcmp(status, "error") == 0) {
		json_t *e = json_object_get(p.last, "error");
		const char *msg = json_get_string(e, "message");
		cleanup_free char *m = xstrdup(msg && *msg ? msg : "it failed");
		for (char *q = m; *q; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				*q = ' ';
		fflush(stdout);
		fprintf(stderr, "berth: %s\n", m);
		st = CLI_ERROR;
	} else {
		if (p.mode == MODE_PLAIN) {
			struct buf s = BUF_INIT;
			summary(&p, &s);
			printf("%s\n", s.data);
			buf_release(&s);
		}
		if (p.mode != MODE_JSON) {
			const char *name = json_get_string(image, "name");
			const char *digest =
			    json_get_string(json_object_get(image, "target"), "digest");
			printf("%s %s\n", name ? name : "?", digest ? digest : "?");
		}
		st = CLI_OK;
	}
	for (size_t i = 0; i < p.nrows; i++) {
		free(p.rows[i].label);
		free(p.rows[i].digest);
	}
	free(p.rows);
	json_decref(p.last);
	ndjson_release(&p.nd);
	err_free(&err);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	return st;
}

const struct cli_command cmd_pull = {
    .name = "pull",
    .summary = "pull an image from a registry",
    .synopsis = "[OPTIONS] REF",
    .help = "Pull the image REF from its registry into berthd's content store, unpack its\n"
	    "layers into snapshots (as `ctr pull` does; --no-unpack skips it) and record it\n"
	    "as an image (POST /v1/namespaces/NS/images/pull). Layers are unpacked while\n"
	    "they download.\n"
	    "Short references are normalised as Docker does: `busybox` is\n"
	    "docker.io/library/busybox:latest.\n"
	    "\n"
	    "On a terminal, one progress bar per blob is redrawn in place, with the elapsed\n"
	    "time and the bytes fetched; otherwise one line per state change:\n"
	    "\n"
	    "  resolving REF\n"
	    "  resolved REF: index|manifest DIGEST (SIZE)\n"
	    "  platform OS/ARCH: manifest DIGEST\n"
	    "  manifest DIGEST: N layers\n"
	    "  DIGEST waiting|downloading|exists|done SIZE\n"
	    "  DIGEST resuming at OFFSET of SIZE\n"
	    "  DIGEST extracting|extracted\n"
	    "  DIGEST unpacked CHAIN_ID\n"
	    "  unpacked SNAPSHOTTER CHAIN_ID\n"
	    "  elapsed: 1.2s  total: 12.3 MiB (10.1 MiB/s)\n"
	    "\n"
	    "Both end with the line `NAME DIGEST` (the image's name and target digest);\n"
	    "--quiet prints only that line. With --json, each progress object from berthd\n"
	    "is printed as it comes, one per line. A failed pull prints `berth: <reason>`\n"
	    "and exits 1.\n"
	    "\n"
	    "The pull runs in berthd: Ctrl-C stops this command (exit 1), not the pull,\n"
	    "which goes on and records the image when it is done; pulling again follows\n"
	    "it (blobs already fetched are not fetched twice).\n"
	    "\n"
	    "Options:\n"
	    "      --platform OS/ARCH[/VARIANT]  the platform to pick from a multi-platform\n"
	    "                                    image (default: berthd's own)\n"
	    "      --plain-http                  talk HTTP, not HTTPS, to the registry\n"
	    "                                    (loopback registries fall back by themselves)\n"
	    "  -u, --user USER[:PASSWORD]        basic auth to the registry; without\n"
	    "                                    `:PASSWORD`, the password is asked on the\n"
	    "                                    terminal (no echo), or read from the first\n"
	    "                                    line of stdin when it is not a terminal\n"
	    "      --password-stdin              read the password of --user USER from stdin\n"
	    "                                    (all of it, trailing newline dropped)\n"
	    "      --registry-token-file FILE    send the bearer token in FILE to the registry\n"
	    "                                    (not the global --token-file, which is\n"
	    "                                    berthd's)\n"
	    "      --no-unpack                   only fetch the content (`ctr content fetch`)\n"
	    "      --snapshotter NAME            unpack with this snapshotter (overlayfs,\n"
	    "                                    native; default: berthd's)\n"
	    "  -q, --quiet                       print only `NAME DIGEST` at the end\n"
	    "  -h, --help                        show this help\n"
	    "\n"
	    "Credentials go to berthd in the request only; berth never prints them.\n",
    .run = pull_run,
};

static int unpack_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"snapshotter", required_argument, NULL, OPT_SNAPSHOTTER},
	    {"platform", required_argument, NULL, OPT_PLATFORM},
	    {"quiet", no_argument, NULL, 'q'},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	const char *snapshotter = NULL, *platform = NULL;
	bool quiet = false;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "qh", longopts)) != -1) {
		switch (c) {
		case OPT_SNAPSHOTTER:
			snapshotter = optarg;
			break;
		case OPT_PLATFORM:
			if (!platform_ok(optarg))
				return cli_usage_error(
				    cli, "bad --platform `%s`: want OS/ARCH[/VARIANT]", optarg);
			platform = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return cli_getopt_other(cli, c);
		}
	}
	if (optind >= argc)
		return cli_usage_error(cli, "missing the image NAME");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 1]);
	int st;
	struct client *client = cli_client(cli, &st);
	if (!client)
		return st;
	cleanup_json json_t *body = json_object();
	if (snapshotter)
		json_object_set_new(body, "snapshotter", json_string(snapshotter));
	if (platform)
		json_object_set_new(body, "platform", json_string(platform));
	cleanup_free char *name = client_escape(argv[optind]);
	cleanup_free char *path = cli_ns_path(cli, "/images/%s/unpack", name);
	return follow(cli, client, path, body, quiet, "unpack");
}

const struct cli_command cmd_images_unpack = {
    .name = "unpack",
    .summary = "unpack an image already in the content store",
    .synopsis = "[OPTIONS] NAME",
    .help = "Unpack the layers of image NAME, whose content berthd holds, into committed\n"
	    "snapshots named by their chain IDs (POST /v1/namespaces/NS/images/NAME/unpack),\n"
	    "as `ctr images unpack`. Layers whose chain is unpacked already are skipped.\n"
	    "Progress is shown as for `berth pull`; the last line is `NAME DIGEST`.\n"
	    "\n"
	    "Options:\n"
	    "      --snapshotter NAME            overlayfs or native (default: berthd's)\n"
	    "      --platform OS/ARCH[/VARIANT]  the platform's manifest of a multi-platform\n"
	    "                                    image (default: berthd's own)\n"
	    "  -q, --quiet                       print only `NAME DIGEST` at the end\n"
	    "  -h, --help                        show this help\n",
    .run = unpack_run,
};
