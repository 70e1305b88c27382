/* The content store's routes. Blob bytes stream both ways: reads are fd
 * responses (sendfile, never the whole blob in memory), uploads go into an
 * ingest piece by piece as they arrive (ROUTE_STREAM_BODY). */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/request.h"
#include "content/content.h"
#include "content/http.h"
#include "core/digest.h"
#include "core/filter.h"
#include "core/names.h"

static const char *const no_query[] = { NULL };
static const char *const list_query[] = { "filter", NULL };
static const char *const ingest_put_query[] = { "expected", NULL };

#define UPLOAD_REF_PREFIX "upload-"

/* ---- header parsing ------------------------------------------------------ */

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Decimal digits at *p, saturating at UINT64_MAX; false if there are none. */
static bool parse_digits(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*p = s;
	*out = v;
	return true;
}

int content_parse_range(const char *h, uint64_t size, uint64_t *start, uint64_t *end)
{
	const char *p = skip_ws(h);
	if (strncasecmp(p, "bytes", 5) != 0)
		return 0;
	p = skip_ws(p + 5);
	if (*p++ != '=')
		return 0;
	if (strchr(p, ','))
		return 0; /* several ranges: served whole, as RFC 9110 allows */
	p = skip_ws(p);
	uint64_t a, b;
	if (*p == '-') {
		p++;
		if (!parse_digits(&p, &b) || *skip_ws(p))
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*start = b >= size ? 0 : size - b;
		*end = size - 1;
		return 1;
	}
	if (!parse_digits(&p, &a) || *p++ != '-')
		return 0;
	bool has_b = parse_digits(&p, &b);
	if (*skip_ws(p) || (has_b && b < a))
		return 0;
	if (a >= size)
		return -1;
	*start = a;
	*end = !has_b || b >= size ? size - 1 : b;
	return 1;
}

int content_parse_content_range(const char *h, uint64_t *start, uint64_t *len, uint64_t *total,
				err_t *err)
{
	const char *p = skip_ws(h);
	uint64_t a = 0, b = 0;
	bool star = false;
	*start = *len = *total = 0;
	if (strncasecmp(p, "bytes", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
		goto bad;
	p = skip_ws(p + 5);
	if (*p == '*') {
		star = true;
		p++;
	} else if (!parse_digits(&p, &a) || *p++ != '-' || !parse_digits(&p, &b) || b < a ||
		   b == UINT64_MAX) {
		goto bad;
	}
	if (*p++ != '/')
		goto bad;
	if (*p == '*' && !star) {
		p++;
	} else if (!parse_digits(&p, total) || *total == UINT64_MAX || *total == 0 ||
		   (!star && *total <= b)) {
		goto bad;
	}
	if (*skip_ws(p))
		goto bad;
	*start = a;
	*len = star ? 0 : b - a + 1;
	return 0;
bad:
	return make_error(err, E_INVALID_ARGUMENT, 0,
			  "bad Content-Range `%.100s`: want `bytes START-END/TOTAL` (TOTAL may be "
			  "`*`) or `bytes */TOTAL`",
			  h);
}

/* ---- reads ---------------------------------------------------------------- */

static void content_list_h(struct request *r)
{
	err_t err = NULL;
	struct filter *f = NULL;
	if (request_check_query(r, list_query, &err) < 0 || request_filter(r, &f, &err) < 0)
		return reply_error(r, &err);
	json_t *list = content_list(r->d->content, request_param(r, "ns"), f, &err);
	filter_free(f);
	if (!list)
		return reply_error(r, &err);
	reply_json(r, 200, json_pack("{s:o}", "blobs", list));
}

static void content_get_h(struct request *r)
{
	err_t err = NULL;
	json_t *info = NULL;
	if (request_check_query(r, no_query, &err) < 0 ||
	    !(info = content_info(r->d->content, request_param(r, "ns"), request_param(r, "digest"),
				  &err)))
		return reply_error(r, &err);
	reply_json(r, 200, info);
}

/* 416 with the error model: Range cannot be served for this blob. */
static void reply_unsatisfiable(struct request *r, const char *range, uint64_t size)
{
	err_t err = NULL;
	make_error(&err, E_INVALID_ARGUMENT, 0,
		   "range `%.100s` is not satisfiable: the blob has %llu bytes", range,
		   (unsigned long long)size);
	struct MHD_Response *resp = response_error(err, 0);
	err_free(&err);
	char cr[64];
	snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	reply_response(r, 416, resp);
}

static void content_data_get_h(struct request *r)
{
	err_t err = NULL;
	uint64_t size = 0;
	const char *digest = request_param(r, "digest");
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	int fd = content_open(r->d->content, request_param(r, "ns"), digest, &size, &err);
	if (fd < 0)
		return reply_error(r, &err);
	const char *range = request_header(r, MHD_HTTP_HEADER_RANGE);
	uint64_t start = 0, end = 0;
	int rr = range ? content_parse_range(range, size, &start, &end) : 0;
	if (rr < 0) {
		close(fd);
		return reply_unsatisfiable(r, range, size);
	}
	uint64_t len = rr > 0 ? end - start + 1 : size;
	struct MHD_Response *resp;
	if (len) {
		resp = MHD_create_response_from_fd_at_offset64(len, fd, start);
	} else {
		close(fd);
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	}
	if (!resp) {
		close(fd);
		return reply_errorf(r, E_INTERNAL, "cannot serve blob `%s`", digest);
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	MHD_add_response_header(resp, "Docker-Content-Digest", digest);
	if (rr > 0) {
		char cr[96];
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)start,
			 (unsigned long long)end, (unsigned long long)size);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	}
	reply_response(r, rr > 0 ? 206 : 200, resp);
}

/* ---- labels, delete -------------------------------------------------------- */

static const struct json_field patch_fields[] = {
	{ "labels", JF_LABELS_PATCH, false },
	{ NULL },
};

static void content_patch_h(struct request *r)
{
	err_t err = NULL;
	cleanup_json json_t *body = NULL;
	json_t *info = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    json_check_object(body, "request body", patch_fields, &err) < 0)
		return reply_error(r, &err);
	json_t *labels = json_object_get(body, "labels");
	info = content_update_labels(r->d->content, request_param(r, "ns"),
				     request_param(r, "digest"),
				     json_is_object(labels) ? labels : NULL, &err);
	if (!info)
		return reply_error(r, &err);
	reply_json(r, 200, info);
}

static void content_delete_h(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0 ||
	    content_delete(r->d->content, request_param(r, "ns"), request_param(r, "digest"),
			   &err) < 0)
		return reply_error(r, &err);
	reply_empty(r, 204);
}

/* ---- uploads ------------------------------------------------------------- */

/* One upload in flight: a whole blob (PUT .../{digest}/data), a piece of an
 * ingest (PUT .../ingests/{ref}) or a commit (POST .../commit). */
struct upload {
	struct request *r; /* NULL once the client has left */
	struct content_store *cs;
	struct content_writer *w; /* NULL once closed or handed to the commit */
	char *ns, *ref, *digest;
	bool whole;      /* a whole blob: aborted unless stored */
	bool created;    /* the ingest did not exist before this request */
	bool has_range;  /* Content-Range gave the length */
	uint64_t range_len;
	uint64_t received;
	bool committing;
};

static struct upload *upload_new(struct request *r, const char *ns, const char *ref,
				 const char *digest)
{
	struct upload *u = xzalloc(sizeof(*u));
	u->r = r;
	u->cs = r->d->content;
	u->ns = xstrdup(ns);
	u->ref = xstrdup(ref);
	u->digest = digest ? xstrdup(digest) : NULL;
	return u;
}

static void upload_free(struct upload *u)
{
	if (u->w)
		content_writer_close(u->w);
	free(u->ns);
	free(u->ref);
	free(u->digest);
	free(u);
}

/* The client left: keep what was written (the ingest can be resumed). A
 * commit in progress goes on and frees the upload when done. */
static void upload_abort_cb(struct request *r, void *data)
{
	struct upload *u = data;
	u->r = NULL;
	if (!u->committing)
		upload_free(u);
}

static void upload_commit_cb(void *data, json_t *info, err_t *err)
{
	struct upload *u = data;
	if (err && *err && (*err)->kind == E_INVALID_ARGUMENT && u->whole) {
		/* API.md: a whole-blob upload that does not verify stores nothing */
		err_t e = NULL;
		content_ingest_abort(u->cs, u->ns, u->ref, &e);
		err_free(&e);
	}
	if (u->r) {
		struct request *r = u->r;
		u->r = NULL;
		if (info)
			reply_json(r, 201, json_incref(info));
		else
			reply_error(r, err);
	}
	upload_free(u);
}

static int upload_body_cb(struct request *r, const char *data, size_t len, void *arg, err_t *err)
{
	struct upload *u = arg;
	if (u->has_range && u->received + len > u->range_len)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "the body is longer than the %llu bytes of its Content-Range",
				  (unsigned long long)u->range_len);
	u->received += len;
	return content_writer_write(u->w, data, len, err);
}

/* Reply with an ingest's status and its offset in Upload-Offset. */
static void reply_ingest_status(struct request *r, int status, json_t *st)
{
	char off[32];
	json_int_t offset = json_integer_value(json_object_get(st, "offset"));
	snprintf(off, sizeof(off), "%lld", (long long)offset);
	struct MHD_Response *resp = response_json(st);
	json_decref(st);
	MHD_add_response_header(resp, "Upload-Offset", off);
	reply_response(r, status, resp);
}

static void upload_end_cb(struct request *r, void *arg, err_t *err)
{
	struct upload *u = arg;
	if (*err) {
		if (u->whole || (u->created && content_writer_offset(u->w) == 0)) {
			content_writer_abort(u->w);
			u->w = NULL;
		}
		upload_free(u);
		return reply_error(r, err);
	}
	if (u->whole) {
		struct content_writer *w = steal_ptr(&u->w);
		u->committing = true;
		/* may answer and free u before it returns */
		content_writer_commit(w, u->received, u->digest, NULL, upload_commit_cb, u);
		return;
	}
	uint64_t offset = content_writer_offset(u->w);
	content_writer_close(steal_ptr(&u->w));
	if (u->has_range && u->received != u->range_len) {
		make_error(err, E_INVALID_ARGUMENT, 0,
			   "the body has %llu bytes, its Content-Range %llu; the ingest is now at "
			   "offset %llu",
			   (unsigned long long)u->received, (unsigned long long)u->range_len,
			   (unsigned long long)offset);
		upload_free(u);
		return reply_error(r, err);
	}
	json_t *st = content_ingest_status(u->cs, u->ns, u->ref, err);
	int status = u->created ? 201 : 200;
	upload_free(u);
	if (!st)
		return reply_error(r, err);
	reply_ingest_status(r, status, st);
}

/* The declared body length; false when the body is chunked. */
static bool content_length(struct request *r, uint64_t *n)
{
	const char *cl = request_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	return cl && parse_u64(cl, n);
}

/* The body announces a size other than the blob's. */
static bool size_differs(struct request *r, uint64_t size, const char *digest)
{
	uint64_t cl;
	if (!content_length(r, &cl) || cl == size)
		return false;
	reply_errorf(r, E_INVALID_ARGUMENT, "blob `%s` has %llu bytes, the body %llu", digest,
		     (unsigned long long)size, (unsigned long long)cl);
	return true;
}

/* The blob is on disk: make it visible in ns, no bytes needed (unless the
 * body announces another size). 200 when it already was, 201 when it is
 * now. */
static bool reply_if_present(struct request *r, const char *ns, const char *digest)
{
	struct content_store *cs = r->d->content;
	err_t err = NULL;
	json_t *info = content_info(cs, ns, digest, &err);
	if (info) {
		if (!size_differs(r, (uint64_t)json_integer_value(json_object_get(info, "size")),
				  digest))
			reply_json(r, 200, info);
		else
			json_decref(info);
		return true;
	}
	if (err->kind != E_NOT_FOUND) {
		reply_error(r, &err);
		return true;
	}
	err_free(&err);
	uint64_t size;
	int on_disk = content_on_disk(cs, NULL, digest, &size, &err);
	if (on_disk == 0)
		return false;
	if (on_disk > 0 && size_differs(r, size, digest))
		return true;
	if (on_disk < 0 || content_add_to_namespace(cs, NULL, ns, digest, NULL, &err) < 0 ||
	    !(info = content_info(cs, ns, digest, &err))) {
		reply_error(r, &err);
		return true;
	}
	reply_json(r, 201, info);
	return true;
}

static void content_data_put_h(struct request *r)
{
	err_t err = NULL;
	struct content_store *cs = r->d->content;
	const char *ns = request_param(r, "ns"), *digest = request_param(r, "digest");
	if (request_check_query(r, no_query, &err) < 0 || name_validate_namespace(ns, &err) < 0 ||
	    digest_validate(digest, &err) < 0)
		return reply_error(r, &err);
	if (reply_if_present(r, ns, digest))
		return;
	uint64_t total = 0;
	content_length(r, &total);
	cleanup_free char *ref = xasprintf(UPLOAD_REF_PREFIX "%s", digest);
	/* a whole upload starts over: drop what an earlier, broken one left */
	if (content_ingest_abort(cs, ns, ref, &err) < 0 && err->kind != E_NOT_FOUND)
		return reply_error(r, &err);
	err_free(&err);
	struct content_writer *w;
	if (content_writer_open(cs, ns, ref, digest, total, &w, &err) < 0)
		return reply_error(r, &err);
	struct upload *u = upload_new(r, ns, ref, digest);
	u->w = w;
	u->whole = true;
	u->created = true;
	request_defer(r, upload_abort_cb, u);
	request_stream_body(r, upload_body_cb, upload_end_cb, u);
}

static void content_ingest_put_h(struct request *r)
{
	err_t err = NULL;
	struct content_store *cs = r->d->content;
	const char *ns = request_param(r, "ns"), *ref = request_param(r, "ref");
	const char *expected = request_query(r, "expected");
	const char *cr = request_header(r, MHD_HTTP_HEADER_CONTENT_RANGE);
	uint64_t start = 0, len = 0, total = 0, cl = 0;
	bool has_cl = content_length(r, &cl);
	if (request_check_query(r, ingest_put_query, &err) < 0 ||
	    name_validate_namespace(ns, &err) < 0 || name_validate_ingest_ref(ref, &err) < 0 ||
	    (expected && digest_validate(expected, &err) < 0) ||
	    (cr && content_parse_content_range(cr, &start, &len, &total, &err) < 0))
		return reply_error(r, &err);
	if (cr && has_cl && cl != len)
		return reply_errorf(r, E_INVALID_ARGUMENT,
				    "Content-Length %llu differs from the %llu bytes of "
				    "Content-Range `%s`",
				    (unsigned long long)cl, (unsigned long long)len, cr);
	json_t *st = content_ingest_status(cs, ns, ref, &err);
	bool created = !st;
	json_decref(st);
	if (!st) {
		if (err->kind != E_NOT_FOUND)
			return reply_error(r, &err);
		err_free(&err);
	}
	struct content_writer *w;
	if (content_writer_open(cs, ns, ref, expected, total, &w, &err) < 0) {
		/* containerd: the content exists, so the namespace gets it at once */
		err_t e = NULL;
		if (err->kind == E_ALREADY_EXISTS &&
		    content_add_to_namespace(cs, NULL, ns, expected, NULL, &e) < 0) {
			err_free(&err);
			return reply_error(r, &e);
		}
		return reply_error(r, &err);
	}
	uint64_t offset = content_writer_offset(w);
	if (cr && start != offset) {
		if (created)
			content_writer_abort(w);
		else
			content_writer_close(w);
		make_error(&err, E_INVALID_ARGUMENT, 0,
			   "ingest `%s` is at offset %llu: a write must start there, not at %llu",
			   ref, (unsigned long long)offset, (unsigned long long)start);
		struct MHD_Response *resp = response_error(err, 0);
		err_free(&err);
		char off[32];
		snprintf(off, sizeof(off), "%llu", (unsigned long long)offset);
		MHD_add_response_header(resp, "Upload-Offset", off);
		return reply_response(r, 416, resp);
	}
	struct upload *u = upload_new(r, ns, ref, NULL);
	u->w = w;
	u->created = created;
	u->has_range = cr != NULL;
	u->range_len = len;
	request_defer(r, upload_abort_cb, u);
	request_stream_body(r, upload_body_cb, upload_end_cb, u);
}

static const struct json_field commit_fields[] = {
	{ "digest", JF_STRING, false },
	{ "size", JF_UINT, false },
	{ "labels", JF_LABELS, false },
	{ NULL },
};

static void content_ingest_commit_h(struct request *r)
{
	err_t err = NULL;
	struct content_store *cs = r->d->content;
	const char *ns = request_param(r, "ns"), *ref = request_param(r, "ref");
	cleanup_json json_t *body = NULL;
	if (request_check_query(r, no_query, &err) < 0 || !(body = request_json(r, &err)) ||
	    json_check_object(body, "request body", commit_fields, &err) < 0)
		return reply_error(r, &err);
	const char *digest = json_get_string(body, "digest");
	json_t *size = json_object_get(body, "size");
	json_t *labels = json_object_get(body, "labels");
	if (digest && digest_validate(digest, &err) < 0)
		return reply_error(r, &err);
	json_t *st = content_ingest_status(cs, ns, ref, &err);
	if (!st)
		return reply_error(r, &err);
	json_decref(st);
	struct content_writer *w;
	if (content_writer_open(cs, ns, ref, NULL, 0, &w, &err) < 0)
		return reply_error(r, &err);
	struct upload *u = upload_new(r, ns, ref, digest);
	u->committing = true;
	request_defer(r, upload_abort_cb, u);
	/* may answer and free u before it returns */
	content_writer_commit(w, json_is_integer(size) ? (uint64_t)json_integer_value(size) : 0,
			      digest, json_is_object(labels) ? labels : NULL, upload_commit_cb, u);
}

/* ---- ingests --------------------------------------------------------------- */

static void content_ingests_h(struct request *r)
{
	err_t err = NULL;
	struct filter *f = NULL;
	if (request_check_query(r, list_query, &err) < 0 || request_filter(r, &f, &err) < 0)
		return reply_error(r, &err);
	json_t *list = content_ingests(r->d->content, request_param(r, "ns"), &err);
	if (!list) {
		filter_free(f);
		return reply_error(r, &err);
	}
	if (f) {
		json_t *keep = json_array();
		size_t i;
		json_t *v;
		json_array_foreach(list, i, v)
			if (filter_match_json(f, v))
				json_array_append(keep, v);
		json_decref(list);
		list = keep;
		filter_free(f);
	}
	reply_json(r, 200, json_pack("{s:o}", "ingests", list));
}

static void content_ingest_get_h(struct request *r)
{
	err_t err = NULL;
	json_t *st = NULL;
	if (request_check_query(r, no_query, &err) < 0 ||
	    !(st = content_ingest_status(r->d->content, request_param(r, "ns"),
					 request_param(r, "ref"), &err)))
		return reply_error(r, &err);
	reply_ingest_status(r, 200, st);
}

static void content_ingest_delete_h(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0 ||
	    content_ingest_abort(r->d->content, request_param(r, "ns"), request_param(r, "ref"),
				 &err) < 0)
		return reply_error(r, &err);
	reply_empty(r, 204);
}

/* Literal "ingests" routes come before the {digest} ones: the router takes
 * the first pattern that matches. */
const struct route content_routes[] = {
	{ M_GET, "/v1/namespaces/{ns}/content", content_list_h },
	{ M_GET, "/v1/namespaces/{ns}/content/ingests", content_ingests_h },
	{ M_GET, "/v1/namespaces/{ns}/content/ingests/{ref}", content_ingest_get_h },
	{ M_PUT, "/v1/namespaces/{ns}/content/ingests/{ref}", content_ingest_put_h,
	  ROUTE_STREAM_BODY },
	{ M_DELETE, "/v1/namespaces/{ns}/content/ingests/{ref}", content_ingest_delete_h },
	{ M_POST, "/v1/namespaces/{ns}/content/ingests/{ref}/commit", content_ingest_commit_h },
	{ M_GET, "/v1/namespaces/{ns}/content/{digest}", content_get_h },
	{ M_PATCH, "/v1/namespaces/{ns}/content/{digest}", content_patch_h },
	{ M_DELETE, "/v1/namespaces/{ns}/content/{digest}", content_delete_h },
	{ M_GET, "/v1/namespaces/{ns}/content/{digest}/data", content_data_get_h },
	{ M_PUT, "/v1/namespaces/{ns}/content/{digest}/data", content_data_put_h,
	  ROUTE_STREAM_BODY },
	{ 0, NULL },
};
