/* berth images: list, inspect, remove and tag the image records of a
 * namespace through /v1/namespaces/{ns}/images, as `ctr images`.
 *
 * Image names are full references (`docker.io/library/busybox:latest`),
 * percent-encoded in paths. A name given in the short form Docker accepts
 * (`busybox`) is tried as given first, then, when there is no such image,
 * normalised (`docker.io/library/busybox:latest`), the name `berth pull`
 * records. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "cli/util.h"
#include "core/json.h"
#include "remotes/reference.h"

enum { OPT_FILTER = 256, OPT_SYNC, OPT_FORCE };

static char *image_path(const struct cli *cli, const char *name)
{
	cleanup_free char *e = client_escape(name);
	return cli_ns_path(cli, "/images/%s", e);
}

/* The normalised form of name, or NULL when it is not a reference or is
 * already normal. */
static char *normalised(const char *name)
{
	struct reference ref = {0};
	err_t err = NULL;
	if (reference_parse(name, &ref, &err) < 0) {
		err_free(&err);
		return NULL;
	}
	char *n = reference_string(&ref);
	reference_release(&ref);
	if (strcmp(n, name) == 0) {
		free(n);
		return NULL;
	}
	return n;
}

static enum client_status image_request(struct cli *cli, struct client *c, const char *method,
					const char *name, const char *query, const json_t *body,
					json_t **reply, err_t *err)
{
	cleanup_free char *path = image_path(cli, name);
	if (query) {
		char *p = xasprintf("%s%s", path, query);
		free(path);
		path = p;
	}
	return client_call(c, method, path, body, reply, err);
}

/* A request on the image `name` (query appended to its path), tried again
 * under the normalised name when there is no image of that name. Prints
 * any failure (the first one when both fail for want of the image). */
static int image_call(struct cli *cli, const char *method, const char *name, const char *query,
		      const json_t *body, json_t **reply)
{
	int st;
	struct client *c = cli_client(cli, &st);
	if (!c)
		return st;
	err_t err = NULL;
	enum client_status cs = image_request(cli, c, method, name, query, body, reply, &err);
	cleanup_free char *norm = NULL;
	if (cs == CLIENT_FAILED && err->kind == E_NOT_FOUND && (norm = normalised(name))) {
		err_t err2 = NULL;
		enum client_status cs2 =
		    image_request(cli, c, method, norm, query, body, reply, &err2);
		if (cs2 == CLIENT_FAILED && err2->kind == E_NOT_FOUND) {
			err_free(&err2);
		} else {
			err_free(&err);
			err = err2;
			cs = cs2;
		}
	}
	if (cs != CLIENT_OK)
		return cli_fail(&err, (int)cs);
	return CLI_OK;
}

/* "index" or "manifest" for the media types of OCI and Docker; any other
 * type as it is. */
static const char *short_type(const char *mt)
{
	static const struct {
		const char *type, *name;
	} known[] = {
	    {"application/vnd.oci.image.index.v1+json", "index"},
	    {"application/vnd.docker.distribution.manifest.list.v2+json", "index"},
	    {"application/vnd.oci.image.manifest.v1+json", "manifest"},
	    {"application/vnd.docker.distribution.manifest.v2+json", "manifest"},
	};
	if (!mt)
		return "-";
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (strcmp(known[i].type, mt) == 0)
			return known[i].name;
	return mt;
}

/* One row of `ls`. */
static void ls_row(struct table *t, json_t *img, void *data)
{
	json_t *target = json_object_get(img, "target");
	json_t *size = json_object_get(target, "size");
	char sz[HUMAN_SIZE_MAX] = "-";
	if (json_is_integer(size) && json_integer_value(size) >= 0)
		human_size((uint64_t)json_integer_value(size), sz);
	cleanup_free char *labels =
	    cli_format_labels(json_object_get(img, "labels"));
	const char *digest = json_get_string(target, "digest");
	table_add(t, json_get_string(img, "name"),
		  short_type(json_get_string(target, "mediaType")),
		  digest ? digest : "-", sz, labels);
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
	cleanup_free char *path = cli_ns_path(cli, "/images%s", query.len ? query.data : "");
	buf_release(&query);
	cleanup_json json_t *reply = NULL;
	int st = cli_call(cli, "GET", path, NULL, &reply);
	if (st != CLI_OK)
		return st;
	return cli_print_list(cli, reply, "images", "name", quiet,
			      table_new("NAME", "TYPE", "DIGEST", "SIZE", "LABELS", NULL), ls_row, NULL);
}

static int inspect_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_OPT_HELP, {NULL, 0, NULL, 0}};
	int c;
	if ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1)
		return cli_getopt_other(cli, c);
	if (optind >= argc)
		return cli_usage_error(cli, "missing the image NAME");
	if (optind + 1 < argc)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 1]);
	cleanup_json json_t *reply = NULL;
	int st = image_call(cli, "GET", argv[optind], NULL, NULL, &reply);
	if (st == CLI_OK)
		cli_print_json(reply);
	return st;
}

static int rm_one(struct cli *cli, const char *name, void *arg)
{
	const bool *sync = arg;
	return image_call(cli, "DELETE", name, *sync ? "?sync=true" : NULL, NULL, NULL);
}

static int rm_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"sync", no_argument, NULL, OPT_SYNC},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	bool sync = false;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "h", longopts)) != -1) {
		if (c == OPT_SYNC)
			sync = true;
		else
			return cli_getopt_other(cli, c);
	}
	if (optind >= argc)
		return cli_usage_error(cli, "missing the image NAME");
	return cli_for_each(cli, argc - optind, argv + optind, rm_one, &sync);
}

static int tag_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"force", no_argument, NULL, OPT_FORCE},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	bool force = false;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "fh", longopts)) != -1) {
		if (c == OPT_FORCE || c == 'f')
			force = true;
		else
			return cli_getopt_other(cli, c);
	}
	if (argc - optind < 2)
		return cli_usage_error(cli, "want SOURCE and TARGET");
	if (argc - optind > 2)
		return cli_usage_error(cli, "unexpected argument `%s`", argv[optind + 2]);
	const char *target = argv[optind + 1];
	if (!*target)
		return cli_usage_error(cli, "empty TARGET name");
	/* a TARGET that is a reference is recorded normalised, as pull does */
	cleanup_free char *norm = normalised(target);
	if (norm)
		target = norm;

	cleanup_json json_t *src = NULL;
	int st = image_call(cli, "GET", argv[optind], NULL, NULL, &src);
	if (st != CLI_OK)
		return st;
	cleanup_free char *path = image_path(cli, target);
	if (!force) {
		struct client *client = cli_client(cli, &st);
		err_t err = NULL;
		enum client_status cs = client_call(client, "GET", path, NULL, NULL, &err);
		if (cs == CLIENT_OK) {
			fflush(stdout);
			fprintf(stderr, "berth: image `%s` already exists (--force replaces it)\n",
				target);
			return CLI_ERROR;
		}
		if (cs == CLIENT_UNREACHABLE || err->kind != E_NOT_FOUND)
			return cli_fail(&err, (int)cs);
		err_free(&err);
	}
	json_t *labels = json_object_get(src, "labels");
	cleanup_json json_t *body = json_pack("{s:O}", "target", json_object_get(src, "target"));
	json_object_set_new(body, "labels",
			    json_is_object(labels) ? json_incref(labels) : json_object());
	cleanup_json json_t *reply = NULL;
	if ((st = cli_call(cli, "PUT", path, body, &reply)) != CLI_OK)
		return st;
	if (cli->json && reply)
		cli_print_json(reply);
	else
		printf("%s\n", target);
	return CLI_OK;
}

static const struct cli_command images_ls = {
    .name = "ls",
    .aliases = CLI_ALIASES("list"),
    .summary = "list images",
    .synopsis = "[-q] [--filter EXPR]...",
    .help = "List the images of the namespace (GET /v1/namespaces/NS/images) as a table of\n"
	    "NAME, TYPE (index or manifest, else the target's media type), DIGEST and SIZE\n"
	    "of the target (the index or manifest itself, not its layers), and LABELS.\n"
	    "\n"
	    "Options:\n"
	    "  -q, --quiet        print only the names, one a line\n"
	    "      --filter EXPR  containerd filter syntax: name==x, labels.\"k\"==v,\n"
	    "                     target.digest==sha256:..., name~=\"regex\"; a comma is\n"
	    "                     AND, repeat --filter for OR\n"
	    "  -h, --help         show this help\n",
    .run = ls_run,
};

static const struct cli_command images_inspect = {
    .name = "inspect",
    .summary = "show an image record as JSON",
    .synopsis = "NAME",
    .help = "Print the image record NAME (GET /v1/namespaces/NS/images/NAME) as pretty\n"
	    "JSON: name, target descriptor, labels, created_at, updated_at.\n"
	    "\n"
	    "Options:\n"
	    "  -h, --help  show this help\n",
    .run = inspect_run,
};

static const struct cli_command images_rm = {
    .name = "rm",
    .aliases = CLI_ALIASES("remove"),
    .summary = "remove images",
    .synopsis = "[--sync] NAME...",
    .help = "Remove each image NAME (DELETE /v1/namespaces/NS/images/NAME), printing each\n"
	    "name removed and one error line for each that could not be; exits 1 if\n"
	    "any failed. The content they referenced is collected by the garbage\n"
	    "collector afterwards, once nothing else references it.\n"
	    "\n"
	    "Options:\n"
	    "      --sync  answer only after a garbage collection has run\n"
	    "  -h, --help  show this help\n",
    .run = rm_run,
};

static const struct cli_command images_tag = {
    .name = "tag",
    .summary = "give an image another name",
    .synopsis = "[--force] SOURCE TARGET",
    .help = "Record the image TARGET with the target descriptor and labels of SOURCE\n"
	    "(GET SOURCE, then PUT TARGET), and print TARGET. A TARGET that is an image\n"
	    "reference is normalised as `berth pull` does (`app:v1` is\n"
	    "docker.io/library/app:v1). Fails if TARGET exists, unless --force.\n"
	    "\n"
	    "Options:\n"
	    "  -f, --force  replace TARGET if it exists\n"
	    "  -h, --help   show this help\n",
    .run = tag_run,
};

const struct cli_command cmd_images = {
    .name = "images",
    .aliases = CLI_ALIASES("image", "i"),
    .summary = "manage images",
    .help = "Manage the image records of a namespace: names pointing at an index or\n"
	    "manifest in the content store (`berth pull` creates them).",
    .subcommands = CLI_COMMANDS(&images_ls, &images_inspect, &images_rm, &images_tag,
				    &cmd_images_unpack),
    .fallback = &images_ls,
};
