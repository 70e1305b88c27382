/* berth content: the content store of a namespace through
 * /v1/namespaces/{ns}/content, as `ctr content`: list, read (verified
 * while it streams), upload, label and remove blobs, list ingests.
 *
 * Blobs are streamed both ways, never held whole in memory. A blob read to
 * a file goes to a temporary file beside it, renamed into place only once
 * its digest checked out. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "cli/util.h"
#include "core/json.h"

enum { OPT_FILTER = 256, OPT_LABEL, OPT_LEASE };

static volatile sig_atomic_t interrupted;

static void interrupt_cb(int sig)
{
	interrupted = 1;
}

static void catch_interrupts(void)
{
	struct sigaction sa = {.sa_handler = interrupt_cb}; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static char *blob_path(const struct cli *cli, const char *digest, const char *rest)
{
	cleanup_free char *e = client_escape(digest);
	return cli_ns_path(cli, "/content/%s%s", e, rest);
}

/* A digest from the command line; a usage error when it is not one berthd
 * stores (sha256:<64 lowercase hex>). */
static int check_digest(struct cli *cli, const char *d)
{
	if (digest_is_valid(d))
		return CLI_OK;
	return cli_usage_error(cli, "bad digest `%s`: want sha256: and 64 lowercase hex digits", d);
}

/* One row of `ls`. */
static void ls_row(struct table *t, json_t *b, void *data)
{
	json_t *size = json_object_get(b, "size");
	char sz[HUMAN_SIZE_MAX] = "-", age[32];
	if (json_is_integer(size) && json_integer_value(size) >= 0)
		human_size((uint64_t)json_integer_value(size), sz);
	format_age(json_get_string(b, "created_at"), age, sizeof(age));
	cleanup_free char *labels = cli_format_labels(json_object_get(b, "labels"));
	table_add(t, json_get_string(b, "digest"), sz, age, labels);
}

static int ls_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"filter", required_argument, NULL, OPT_FILTER},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	bool quiet = false;
	struct buf query = BUF_INIT;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "qh", longopts)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case OPT_FILTER:
			client_query_add(&query, "filter", optarg);
			break;
		default:
			buf_release(&query);
			return cli_getopt_other(cli, c);
		}
	}
	if (optind < argc) {
		buf_release(&query);
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind]);
	}
	cleanup_free char *path = cli_ns_path(cli, "/content%s", query.len ? query.data : "");
	buf_release(&query);
	cleanup_json json_t *reply = NULL;
	int st = cli_call(cli, "GET", path, NULL, &reply);
	if (st != CLI_OK)
		return st;
	return cli_print_list(cli, reply, "blobs", "digest", quiet,
			      table_new("DIGEST", "SIZE", "AGE", "LABELS", NULL), ls_row, NULL);
}

/* ---- get ------------------------------------------------------------------- */

struct sink {
	int fd;
	bool tty;	 /* stdout is a terminal: refuse binary */
	bool binary;	 /* stopped: binary bytes for a terminal */
	int write_errno; /* stopped: a write failed */
	struct sha256 *hash;
	uint64_t size;
};

/* Bytes a terminal should not be sent: NUL and control characters other
 * than tab, newline, carriage return and form feed (escape sequences). */
static bool looks_binary(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c < 0x20 && !strchr("\t\n\r\f", c)) || c == 0x7f)
			return true;
	}
	return false;
}

static bool sink_cb(const char *data, size_t len, void *arg)
{
	struct sink *s = arg;
	if (s->tty && looks_binary(data, len)) {
		s->binary = true;
		return false;
	}
	sha256_update(s->hash, data, len);
	s->size += len;
	while (len > 0) {
		ssize_t n = write(s->fd, data, len);
		if (n < 0 && errno == EINTR && !interrupted)
			continue;
		if (n < 0) {
			s->write_errno = errno;
			return false;
		}
		data += n;
		len -= (size_t)n;
	}
	return true;
}

static int get_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "o:h", longopts)) != -1) {
		if (c == 'o')
			out = optarg;
		else
			return cli_getopt_other(cli, c);
	}
	if (optind >= argc)
		return cli_usage_error(cli, "missing the DIGEST");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 1]);
	const char *digest = argv[optind];
	int st = check_digest(cli, digest);
	if (st != CLI_OK)
		return st;
	if (out && (!*out || strcmp(out, "-") == 0))
		out = NULL;
	struct client *client = cli_client(cli, &st);
	if (!client)
		return st;

	struct sink s = {.fd = STDOUT_FILENO, .hash = sha256_new()};
	cleanup_free char *tmp = NULL;
	if (out) {
		/* beside the target, so that the rename is atomic */
		tmp = xasprintf("%s.berth-XXXXXX", out);
		s.fd = mkstemp(tmp);
		if (s.fd < 0) {
			fprintf(stderr, "berth: cannot create `%s`: %s\n", tmp, strerror(errno));
			sha256_free(s.hash);
			return CLI_ERROR;
		}
		mode_t mask = umask(0); /* the mode a plain create would give */
		umask(mask);
		fchmod(s.fd, 0666 & ~mask);
	} else {
		fflush(stdout);
		s.tty = isatty(STDOUT_FILENO);
	}
	catch_interrupts();
	cleanup_free char *path = blob_path(cli, digest, "/data");
	err_t err = NULL;
	enum client_status cs = client_stream(client, path, "application/octet-stream", sink_cb, &s,
					      &interrupted, &err);
	char got[DIGEST_MAX];
	sha256_final(s.hash, got);
	sha256_free(s.hash);
	if (cs != CLIENT_OK) {
		st = cli_fail(&err, (int)cs);
	} else if (interrupted) {
		fprintf(stderr, "berth: interrupted\n");
		st = CLI_ERROR;
	} else if (s.binary) {
		fprintf(stderr,
			"berth: `%s` is binary: refusing to write it to a terminal (use -o "
			"FILE, or a pipe)\n",
			digest);
		st = CLI_USAGE;
	} else if (s.write_errno) {
		if (s.write_errno != EPIPE)
			fprintf(stderr, "berth: cannot write %s: %s\n", out ? tmp : "the output",
				strerror(s.write_errno));
		st = CLI_ERROR;
	} else if (strcmp(got, digest) != 0) {
		fprintf(stderr,
			"berth: digest mismatch: berthd sent %llu bytes hashing to %s, not %s%s\n",
			(unsigned long long)s.size, got, digest,
			out ? "" : " (the bytes written are not the blob)");
		st = CLI_ERROR;
	} else if (out && (fsync(s.fd) < 0 || close(steal_fd(&s.fd)) < 0)) {
		fprintf(stderr, "berth: cannot write `%s`: %s\n", tmp, strerror(errno));
		st = CLI_ERROR;
	} else if (out && rename(tmp, out) < 0) {
		fprintf(stderr, "berth: cannot rename `%s` to `%s`: %s\n", tmp, out,
			strerror(errno));
		st = CLI_ERROR;
	} else {
		st = CLI_OK;
	}
	if (out) {
		if (s.fd >= 0)
			close(s.fd);
		if (st != CLI_OK)
			unlink(tmp);
	}
	err_free(&err);
	return st;
}

/* ---- rm, label ------------------------------------------------------------- */

static int rm_one(struct cli *cli, const char *digest, void *arg)
{
	cleanup_free char *path = blob_path(cli, digest, "");
	return cli_call(cli, "DELETE", path, NULL, NULL);
}

static int rm_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing the DIGEST");
	/* check every digest first: a typo removes nothing */
	for (int i = optind; i < argc; i++) {
		int st = check_digest(cli, argv[i]);
		if (st != CLI_OK)
			return st;
	}
	return cli_for_each(cli, argc - optind, argv + optind, rm_one, NULL);
}

static int label_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing the DIGEST");
	const char *digest = argv[optind];
	int st = check_digest(cli, digest);
	if (st != CLI_OK)
		return st;
	cleanup_json json_t *labels = NULL;
	if ((st = cli_parse_labels(cli, argc - optind - 1, argv + optind + 1, true, &labels)) !=
	    CLI_OK)
		return st;
	cleanup_json json_t *body = json_pack("{s:O}", "labels", labels);
	cleanup_json json_t *reply = NULL;
	cleanup_free char *path = blob_path(cli, digest, "");
	if ((st = cli_call(cli, "PATCH", path, body, &reply)) != CLI_OK)
		return st;
	if (cli->json && reply)
		cli_print_json(reply);
	return CLI_OK;
}

/* ---- ingests --------------------------------------------------------------- */

/* One row of `ingests`. */
static void ingests_row(struct table *t, json_t *in, void *data)
{
	char off[HUMAN_SIZE_MAX] = "-", tot[HUMAN_SIZE_MAX] = "-", age[40];
	json_t *v = json_object_get(in, "offset");
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		human_size((uint64_t)json_integer_value(v), off);
	v = json_object_get(in, "total");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		human_size((uint64_t)json_integer_value(v), tot);
	const char *updated = json_get_string(in, "updated_at");
	format_age(updated, age, sizeof(age));
	cleanup_free char *ago =
	    strcmp(age, "-") == 0 ? xstrdup(age) : xasprintf("%s ago", age);
	const char *exp = json_get_string(in, "expected");
	table_add(t, json_get_string(in, "ref"), off, tot, exp && *exp ? exp : "-",
		  ago);
}

static int ingests_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	bool quiet = false;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "qh", longopts)) != -1) {
		if (c == 'q')
			quiet = true;
		else
			return cli_getopt_other(cli, c);
	}
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind]);
	cleanup_free char *path = cli_ns_path(cli, "/content/ingests");
	cleanup_json json_t *reply = NULL;
	int st = cli_call(cli, "GET", path, NULL, &reply);
	if (st != CLI_OK)
		return st;
	return cli_print_list(cli, reply, "ingests", "ref", quiet,
			      table_new("REF", "OFFSET", "TOTAL", "EXPECTED", "UPDATED", NULL), ingests_row, NULL);
}

/* ---- push-blob ------------------------------------------------------------- */

struct upload_view {
	char label[7 + 12 + 1];
	int64_t started_ns, drawn_ns;
	uint64_t drawn_sent;
	bool drawn;
};

/* One line on stderr, redrawn at most ten times a second. */
static void upload_progress_cb(uint64_t sent, uint64_t total, void *arg)
{
	struct upload_view *v = arg;
	int64_t now = time_mono_ns();
	/* the last bytes are drawn once, not again while berthd checks them */
	bool last = sent == total && v->drawn_sent != total;
	if (!last && (sent == v->drawn_sent || now - v->drawn_ns < 100 * 1000000LL))
		return;
	v->drawn_ns = now;
	v->drawn_sent = sent;
	v->drawn = true;
	int width = term_width(STDERR_FILENO, 80);
	int barw = width - 1 - (19 + 2 + 2 + 19 + 2 + 13);
	barw = barw < 10 ? 10 : barw > 40 ? 40 : barw;
	int fill = total ? (int)((double)barw * (double)sent / (double)total) : barw;
	char a[HUMAN_SIZE_MAX], b[HUMAN_SIZE_MAX], r[HUMAN_SIZE_MAX];
	human_size(sent, a);
	human_size(total, b);
	int64_t el = now - v->started_ns;
	human_size(el > 0 ? (uint64_t)((double)sent * 1e9 / (double)el) : 0, r);
	struct buf line = BUF_INIT;
	buf_addf(&line, "%s  |", v->label);
	for (int i = 0; i < barw; i++)
		buf_adds(&line, i < fill ? "+" : "-");
	buf_addf(&line, "|  %s/%s  %s/s", a, b, r);
	if (line.len > (size_t)width - 1)
		line.data[width - 1] = '\0';
	fprintf(stderr, "\r\033[K%s", line.data);
	buf_release(&line);
}

static int push_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"label", required_argument, NULL, OPT_LABEL},
	    {"lease", required_argument, NULL, OPT_LEASE},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	const char *lease = NULL;
	cleanup_free char **label_args = NULL;
	int nlabels = 0;
	size_t alloc = 0;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1) {
		if (c == OPT_LABEL) {
			ALLOC_GROW(label_args, (size_t)nlabels + 1, alloc);
			label_args[nlabels++] = optarg;
		} else if (c == OPT_LEASE) {
			if (!*optarg)
				return cli_usage_error(cli, "empty --lease");
			lease = optarg;
		} else {
			return cli_getopt_other(cli, c);
		}
	}
	if (optind >= argc)
		return cli_usage_error(cli, "missing the FILE");
	if (argc - optind > 2)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 2]);
	const char *file = argv[optind];
	const char *given = argc - optind == 2 ? argv[optind + 1] : NULL;
	int st;
	if (given && (st = check_digest(cli, given)) != CLI_OK)
		return st;
	cleanup_json json_t *labels = NULL;
	if ((st = cli_parse_labels(cli, nlabels, label_args, false, &labels)) != CLI_OK)
		return st;

	cleanup_close int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		fprintf(stderr, "berth: cannot open `%s`: %s\n", file, strerror(errno));
		return CLI_USAGE;
	}
	if (!S_ISREG(sb.st_mode)) {
		fprintf(stderr, "berth: `%s` is not a regular file\n", file);
		return CLI_USAGE;
	}
	char digest[DIGEST_MAX];
	uint64_t size = (uint64_t)sb.st_size;
	if (given) {
		snprintf(digest, sizeof(digest), "%s", given);
	} else {
		if (sha256_fd(fd, digest, &size) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
			fprintf(stderr, "berth: cannot read `%s`: %s\n", file, strerror(errno));
			return CLI_ERROR;
		}
	}
	struct client *client = cli_client(cli, &st);
	if (!client)
		return st;

	if (lease) {
		/* held before it exists: no collection can take it in between */
		cleanup_free char *id = client_escape(lease);
		cleanup_free char *lpath = cli_ns_path(cli, "/leases/%s/resources", id);
		cleanup_json json_t *res = json_pack("{s:s,s:s}", "type", "content", "id", digest);
		if ((st = cli_call(cli, "POST", lpath, res, NULL)) != CLI_OK)
			return st;
	}
	catch_interrupts();
	struct upload_view view = {.started_ns = time_mono_ns()};
	digest_short(digest, view.label);
	bool show = isatty(STDERR_FILENO) && !cli->json;
	cleanup_free char *path = blob_path(cli, digest, "/data");
	struct client_upload up = {
	    .method = "PUT",
	    .path = path,
	    .fd = fd,
	    .size = size,
	    .source = file,
	    .progress_cb = show ? upload_progress_cb : NULL,
	    .arg = &view,
	    .stop = &interrupted,
	};
	err_t err = NULL;
	cleanup_json json_t *reply = NULL;
	enum client_status cs = client_upload(client, &up, &reply, &err);
	if (view.drawn)
		fputc('\n', stderr);
	if (cs != CLIENT_OK)
		return cli_fail(&err, (int)cs);
	if (json_object_size(labels) > 0) {
		cleanup_json json_t *body = json_pack("{s:O}", "labels", labels);
		json_decref(steal_ptr(&reply));
		cleanup_free char *ipath = blob_path(cli, digest, "");
		if ((st = cli_call(cli, "PATCH", ipath, body, &reply)) != CLI_OK)
			return st;
	}
	if (cli->json && reply)
		cli_print_json(reply);
	else
		printf("%s\n", digest);
	return CLI_OK;
}

static const struct cli_command content_ls = {
    .name = "ls",
    .aliases = CLI_ALIASES("list"),
    .summary = "list blobs",
    .synopsis = "[-q] [--filter EXPR]...",
    .help = "List the blobs of the namespace (GET /v1/namespaces/NS/content) as a table of\n"
	    "DIGEST, SIZE, AGE (since it was written) and LABELS.\n"
	    "\n"
	    "Options:\n"
	    "  -q, --quiet        print only the digests, one a line\n"
	    "      --filter EXPR  containerd filter syntax: digest==sha256:...,\n"
	    "                     labels.\"k\"==v; a comma is AND, repeat --filter for OR\n"
	    "  -h, --help         show this help\n",
    .run = ls_run,
};

static const struct cli_command content_get = {
    .name = "get",
    .aliases = CLI_ALIASES("cat"),
    .summary = "read a blob",
    .synopsis = "[-o FILE] DIGEST",
    .help = "Write the bytes of the blob DIGEST (GET /v1/namespaces/NS/content/DIGEST/data)\n"
	    "to stdout or to FILE, checking their sha256 as they stream; a mismatch fails\n"
	    "(exit 1) and leaves FILE untouched. FILE is written beside itself and renamed\n"
	    "into place once verified. A blob that is not text is not written to a\n"
	    "terminal: use -o or a pipe.\n"
	    "\n"
	    "Options:\n"
	    "  -o, --output FILE  write to FILE instead of stdout (`-`: stdout)\n"
	    "  -h, --help         show this help\n",
    .run = get_run,
};

static const struct cli_command content_rm = {
    .name = "rm",
    .aliases = CLI_ALIASES("remove", "delete"),
    .summary = "remove blobs",
    .synopsis = "DIGEST...",
    .help = "Remove each blob DIGEST from the namespace (DELETE\n"
	    "/v1/namespaces/NS/content/DIGEST), printing each digest removed and one error\n"
	    "line for each that could not be; exits 1 if any failed.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = rm_run,
};

static const struct cli_command content_label = {
    .name = "label",
    .summary = "set or remove labels of a blob",
    .synopsis = "DIGEST [LABEL=VALUE|LABEL=]...",
    .help = "Set the labels of the blob DIGEST (PATCH /v1/namespaces/NS/content/DIGEST);\n"
	    "LABEL= with an empty value removes that label; labels not named are kept.\n"
	    "Garbage collection follows containerd's `containerd.io/gc.ref.*` labels.\n"
	    "With --json, prints the blob's info as updated.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = label_run,
};

static const struct cli_command content_ingests = {
    .name = "ingests",
    .aliases = CLI_ALIASES("active"),
    .summary = "list writes in progress",
    .synopsis = "[-q]",
    .help = "List the ingests of the namespace: writes in progress or interrupted, which a\n"
	    "pull resumes (GET /v1/namespaces/NS/content/ingests), as a table of REF,\n"
	    "OFFSET (bytes written), TOTAL, EXPECTED (digest) and UPDATED.\n"
	    "\n"
	    "Options:\n"
	    "  -q, --quiet  print only the refs, one a line\n"
	    "  -h, --help   show this help\n",
    .run = ingests_run,
};

static const struct cli_command content_push = {
    .name = "push-blob",
    .summary = "upload a file as a blob",
    .synopsis = "[--lease ID] [--label LABEL=VALUE]... FILE [DIGEST]",
    .help = "Upload FILE into the content store (PUT /v1/namespaces/NS/content/DIGEST/data),\n"
	    "streamed from disk, and print its digest. Without DIGEST, the file's sha256\n"
	    "is computed first; berthd checks the bytes against the digest and stores\n"
	    "nothing on a mismatch (exit 1); a blob it already holds is not sent again.\n"
	    "On a terminal, a progress bar is shown on stderr. With --json, prints the\n"
	    "blob's info.\n"
	    "\n"
	    "As in containerd, a blob nothing holds (no image, no lease, no\n"
	    "`containerd.io/gc.root` label, no gc.ref label of a held blob) is removed by\n"
	    "the next garbage collection: hold it with --lease (see `berth leases\n"
	    "create`), or label it as a root.\n"
	    "\n"
	    "Options:\n"
	    "      --lease ID           add the blob to the lease ID before uploading it\n"
	    "      --label LABEL=VALUE  set a label on the blob; repeat for several\n"
	    "  -h, --help               show this help\n",
    .run = push_run,
};

const struct cli_command cmd_content = {
    .name = "content",
    .summary = "manage the content store",
    .help = "Manage the blobs of a namespace's content store: the manifests, configs and\n"
	    "layers images are made of, addressed by digest.",
    .subcommands = CLI_COMMANDS(&content_ls, &content_get, &content_rm, &content_label,
				&content_ingests, &content_push),
    .fallback = &content_ls,
};
