/*
 * fuzz-sse: GET /v1/events with a fuzzed Last-Event-ID header and a fuzzed
 * query (?since=, ?namespace=, ?topic=), on the real daemon of harness.h,
 * after publishing some events. The input: a first byte (how many events
 * to publish first, and on which namespaces and topics), then a line with
 * the Last-Event-ID value (none when the line is empty), then the query
 * string.
 *
 * The answer is checked against what the ring holds: a bad id or filter
 * is a 400 with an error body; otherwise the stream replays exactly the
 * held events after the id that match the filters, in order (none without
 * an id, or with one at or past the newest), announces a gap when the id
 * is older than the ring, and nothing else.
 */
#include "config.h"

#include <strings.h>

#include "api/router.h"
#include "events/events.h"
#include "fuzz.h"
#include "harness.h"

static const char *const nss[] = {"default", "other", "a.b-c"};
static const char *const topics[] = {"/images/create", "/images/delete", "/tasks/exit",
				     "/containers/create"};

/* What the handler reads, read the same way (api/request.c): the first
 * value of a key, decoded. */
static char *query_value(const char *q, const char *key, size_t nth, size_t *count)
{
	char *found = NULL;
	size_t seen = 0, klen = strlen(key);
	for (const char *p = q; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		if (n > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			if (seen++ == nth && !found) {
				err_t err = NULL;
				found = url_decode(p + klen + 1, n - klen - 1, true, &err);
				err_free(&err);
			}
		}
		p = amp ? amp + 1 : NULL;
	}
	if (count)
		*count = seen;
	return found;
}

static bool wants(const struct event_rec *r, const char *ns, char **tps, size_t ntps)
{
	if (ns && strcmp(ns, r->ns))
		return false;
	if (!ntps)
		return true;
	for (size_t i = 0; i < ntps; i++)
		if (tps[i] && !strncmp(r->topic, tps[i], strlen(tps[i])))
			return true;
	return false;
}

/* The stream's text, without the chunked framing. */
static void dechunk(const char *s, size_t len, struct buf *out)
{
	const char *end = s + len;
	while (s < end) {
		char *e;
		unsigned long n = strtoul(s, &e, 16);
		const char *crlf = memmem(s, (size_t)(end - s), "\r\n", 2);
		if (!crlf || e == s || n == 0)
			return;
		s = crlf + 2;
		if ((size_t)(end - s) < n) {
			buf_add(out, s, (size_t)(end - s));
			return;
		}
		buf_add(out, s, n);
		s += n + 2;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct daemon *d = harness_daemon();
	if (size < 1)
		return 0;
	uint8_t nev = data[0] & 31;
	for (uint8_t i = 0; i < nev; i++) {
		uint8_t k = (uint8_t)(data[0] + i * 7);
		events_publish(d->events, nss[k % 3], topics[(k >> 2) % 4],
			       json_pack("{s:i}", "n", (int)i));
	}
	data++;
	size--;
	const char *line;
	size_t n = 0;
	const char *id = NULL;
	size_t idlen = 0;
	if (fuzz_next_line(&data, &size, &line, &n)) {
		id = line;
		idlen = n;
	}
	cleanup_free char *query = fuzz_cstr(data, size);
	for (char *p = query; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == ' ' || *p == '#' || *p == '\t')
			*p = '_';

	cleanup_free char *target = xasprintf("/v1/events%s%s", *query ? "?" : "", query);
	/* the header as the harness sends it: without CR, LF or NUL */
	struct buf idb = BUF_INIT;
	for (size_t i = 0; i < idlen; i++)
		if (id[i] != '\r' && id[i] != '\n' && id[i] != '\0')
			buf_add(&idb, &id[i], 1);
	cleanup_free char *hdr = idb.len ? xasprintf("Last-Event-ID: %s", idb.data) : NULL;
	buf_release(&idb);
	const char *headers[1] = {hdr};
	size_t lens[1] = {hdr ? strlen(hdr) : 0};

	uint64_t head = events_head(d->events), oldest = events_oldest(d->events);
	struct buf req = BUF_INIT, resp = BUF_INIT;
	harness_format(&req, "GET", 3, target, strlen(target), headers, lens, hdr ? 1 : 0, "", 0);
	int status = harness_exchange(req.data, req.len, &resp, 30);
	if (!status || status != 200) {
		if (status)
			harness_check_answer(&resp, false);
		FUZZ_ASSERT(status == 0 || status == 400 || status == 404,
			    "status %d for `%s` (Last-Event-ID `%s`)", status, target,
			    hdr ? hdr : "");
		goto out;
	}
	FUZZ_ASSERT(events_head(d->events) == head, "events were published meanwhile");

	/* what the handler should have read */
	char *hv = NULL;
	{
		/* MHD trims the header value's surrounding blanks */
		const char *v = hdr ? hdr + strlen("Last-Event-ID:") : NULL;
		while (v && (*v == ' ' || *v == '\t'))
			v++;
		if (v && *v) {
			hv = xstrdup(v);
			size_t l = strlen(hv);
			while (l && (hv[l - 1] == ' ' || hv[l - 1] == '\t'))
				hv[--l] = '\0';
		}
	}
	char *since_s = hv && *hv ? hv : query_value(query, "since", 0, NULL);
	uint64_t since = 0;
	bool have = since_s != NULL;
	FUZZ_ASSERT(!have || parse_u64(since_s, &since), "id `%s` accepted", since_s);
	char *ns = query_value(query, "namespace", 0, NULL);
	size_t ntps = 0;
	free(query_value(query, "topic", 0, &ntps));
	char **tps = xcalloc(ntps + 1, sizeof(*tps));
	for (size_t i = 0; i < ntps; i++)
		tps[i] = query_value(query, "topic", i, NULL);

	struct buf want = BUF_INIT, got = BUF_INIT;
	buf_adds(&want, ": berth events\nretry: 3000\n\n");
	uint64_t next = head + 1;
	if (have && since < head) {
		next = since + 1;
		if (next < oldest) {
			if (since != 0)
				buf_addf(&want, ": %llu earlier events are no longer held\n\n",
					 (unsigned long long)(oldest - next));
			next = oldest;
		}
	}
	for (; next <= head; next++) {
		const struct event_rec *r = events_get(d->events, next);
		if (r && wants(r, ns, tps, ntps))
			buf_add(&want, r->frame, r->frame_len);
	}
	const char *body = memmem(resp.data, resp.len, "\r\n\r\n", 4);
	FUZZ_ASSERT(body, "no end of headers");
	body += 4;
	dechunk(body, resp.len - (size_t)(body - resp.data), &got);
	/* a heartbeat may come between frames on a slow machine */
	struct buf clean = BUF_INIT;
	for (const char *p = got.data; p && p < got.data + got.len;) {
		const char *e = memmem(p, (size_t)(got.data + got.len - p), "\n\n", 2);
		size_t l = e ? (size_t)(e + 2 - p) : (size_t)(got.data + got.len - p);
		if (!(l == 13 && !memcmp(p, ": heartbeat\n\n", 13)))
			buf_add(&clean, p, l);
		p += l;
	}
	FUZZ_ASSERT(clean.len == want.len && !memcmp(clean.data, want.data, want.len),
		    "`%s` (Last-Event-ID `%s`, head %llu, oldest %llu): the stream\n%.*s\n--- "
		    "should be\n%.*s",
		    target, hdr ? hdr : "", (unsigned long long)head, (unsigned long long)oldest,
		    (int)(clean.len > 4096 ? 4096 : clean.len), clean.data ? clean.data : "",
		    (int)(want.len > 4096 ? 4096 : want.len), want.data);
	buf_release(&clean);
	buf_release(&want);
	buf_release(&got);
	for (size_t i = 0; i < ntps; i++)
		free(tps[i]);
	free(tps);
	free(ns);
	if (since_s != hv)
		free(since_s);
	free(hv);
out:
	buf_release(&req);
	buf_release(&resp);
	return 0;
}
