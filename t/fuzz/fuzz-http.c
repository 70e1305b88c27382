/*
 * fuzz-http: the HTTP request path of a real berthd in this process (see
 * harness.h): libmicrohttpd's parsing, the router, path parameters, query
 * strings, headers and JSON bodies, through the real handlers and their
 * LMDB store. An input is up to four requests, separated by `###` ending a line,
 * sent one after the other on connections of their own (so that one input
 * can create a namespace and then use it). Each request is
 *
 *   METHOD TARGET            (the request line: "PUT /v1/namespaces/x?a=b")
 *   Name: value              (header lines, up to an empty line)
 *
 *   body                     (the rest)
 *
 * framed by the harness (Content-Length, Connection: close). Every answer
 * must follow API.md's error model, and none may be a 500: the fuzzer's
 * requests are bad input, never an internal error.
 */
#include "config.h"

#include "fuzz.h"
#include "harness.h"

#define MAX_REQUESTS 4
#define MAX_HEADERS 16

/* The next "###" that ends a line (or the input). */
static const char *find_sep(const char *s, size_t len)
{
	for (const char *p = s; p + 3 <= s + len; p++) {
		p = memmem(p, (size_t)(s + len - p), "###", 3);
		if (!p)
			return NULL;
		if (p + 3 == s + len || p[3] == '\n')
			return p;
	}
	return NULL;
}

static void one(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t left = len;
	const char *line;
	size_t n;
	if (!fuzz_next_line(&p, &left, &line, &n) || n == 0)
		return;
	const char *sp = memchr(line, ' ', n);
	const char *method = sp ? line : "GET";
	size_t method_len = sp ? (size_t)(sp - line) : 3;
	const char *target = sp ? sp + 1 : line;
	size_t target_len = sp ? n - method_len - 1 : n;
	if (!method_len || !target_len)
		return;

	const char *headers[MAX_HEADERS];
	size_t lens[MAX_HEADERS], nh = 0;
	while (fuzz_next_line(&p, &left, &line, &n) && n > 0 && !(n == 1 && line[0] == '\r'))
		if (nh < MAX_HEADERS) {
			headers[nh] = line;
			lens[nh++] = n;
		}

	struct buf req = BUF_INIT, resp = BUF_INIT;
	harness_format(&req, method, method_len, target, target_len, headers, lens, nh,
		       (const char *)p, left);
	int status = harness_exchange(req.data, req.len, &resp, 30);
	if (status) {
		/* the method as sent (the harness drops NUL, CR, LF) */
		harness_check_answer(&resp, req.len > 5 && !memcmp(req.data, "HEAD ", 5));
		FUZZ_ASSERT(status != 500,
			    "an internal error for a request:\n%.*s\n--- answer:\n%.*s",
			    (int)(req.len > 2048 ? 2048 : req.len), req.data,
			    (int)(resp.len > 2048 ? 2048 : resp.len), resp.data);
	}
	buf_release(&req);
	buf_release(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	harness_daemon();
	const char *s = (const char *)data;
	size_t len = size;
	for (int i = 0; i < MAX_REQUESTS && len; i++) {
		const char *sep = find_sep(s, len);
		size_t n = sep ? (size_t)(sep - s) : len;
		one(s, n);
		if (!sep)
			break;
		size_t skip = n + 3 + (sep + 3 < s + len ? 1 : 0);
		s += skip;
		len -= skip;
	}
	return 0;
}
