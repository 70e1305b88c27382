/* Unit tests for api/router.c: matching, captures, percent-decoding, 404/405. */
#include "config.h"

#include "api/router.h"
#include "api/server.h"
#include "tap.h"

static void h(struct request *r)
{
	(void)r;
}

static const struct route table[] = {
	{ M_GET, "/v1/version", h },
	{ M_GET, "/v1/namespaces", h },
	{ M_GET, "/v1/namespaces/{ns}", h },
	{ M_PUT, "/v1/namespaces/{ns}", h },
	{ M_DELETE, "/v1/namespaces/{ns}", h },
	{ M_GET, "/v1/namespaces/{ns}/images/{name}", h },
	{ M_POST, "/v1/namespaces/{ns}/images/{name}/push", h },
	{ 0, NULL },
};

int main(void)
{
	plan_lazy();
	const struct route *const tables[] = { table, NULL };
	struct router *rt = router_new(tables);
	struct route_match m;
	err_t err = NULL;

	is_int(router_count(rt), 7, "router holds every route");
	ok(router_match(rt, M_GET, "/v1/version", &m, &err) == 0 && m.route == &table[0],
	   "literal route matches");
	is_int(m.index, 0, "index of the matched route");
	route_match_release(&m);

	ok(router_match(rt, M_GET, "/v1/namespaces/foo", &m, &err) == 0 && m.route == &table[2],
	   "capture route matches");
	is_int(m.nparams, 1, "one parameter");
	is_str(m.names[0], "ns", "parameter name");
	is_str(m.values[0], "foo", "parameter value");
	route_match_release(&m);

	ok(router_match(rt, M_HEAD, "/v1/namespaces/foo", &m, &err) == 0 && m.route == &table[2],
	   "HEAD uses the GET route");
	route_match_release(&m);

	ok(router_match(rt, M_GET, "/v1/namespaces/default/images/docker.io%2Flibrary%2Fredis%3Alatest",
			&m, &err) == 0 && m.route == &table[5],
	   "percent-encoded slash stays in one segment");
	is_str(m.values[1], "docker.io/library/redis:latest", "decoded image name");
	route_match_release(&m);

	ok(router_match(rt, M_POST, "/v1/namespaces/default/images/a%2Fb/push", &m, &err) == 0 &&
		   m.route == &table[6],
	   "suffix after an encoded capture");
	route_match_release(&m);

	ok(router_match(rt, M_POST, "/v1/namespaces/foo", &m, &err) < 0 && err &&
		   err->kind == E_METHOD_NOT_ALLOWED,
	   "wrong method is 405");
	ok((m.allowed & (1u << M_GET)) && (m.allowed & (1u << M_PUT)) &&
		   (m.allowed & (1u << M_DELETE)) && (m.allowed & (1u << M_HEAD)) &&
		   !(m.allowed & (1u << M_POST)),
	   "allowed methods collected");
	char allow[64];
	router_allow_header(m.allowed, allow, sizeof(allow));
	is_str(allow, "GET, HEAD, PUT, DELETE", "Allow header text");
	err_free(&err);

	ok(router_match(rt, M_GET, "/v1/nope", &m, &err) < 0 && err && err->kind == E_NOT_FOUND,
	   "unknown path is 404");
	err_free(&err);
	ok(router_match(rt, M_GET, "/v1/namespaces/", &m, &err) < 0 && err->kind == E_NOT_FOUND,
	   "empty capture does not match");
	err_free(&err);
	ok(router_match(rt, M_GET, "/v1/version/", &m, &err) < 0 && err->kind == E_NOT_FOUND,
	   "trailing slash is another path");
	err_free(&err);
	ok(router_match(rt, M_GET, "/v1/namespaces/%zz", &m, &err) < 0 &&
		   err->kind == E_INVALID_ARGUMENT,
	   "bad escape is invalid_argument");
	err_free(&err);
	ok(router_match(rt, M_GET, "/v1/namespaces/a%00b", &m, &err) < 0 &&
		   err->kind == E_INVALID_ARGUMENT,
	   "encoded NUL is refused");
	err_free(&err);
	ok(router_match(rt, M_GET, "/v1/namespaces/%4", &m, &err) < 0 &&
		   err->kind == E_INVALID_ARGUMENT,
	   "truncated escape is refused");
	err_free(&err);
	ok(router_match(rt, M_GET, "v1/version", &m, &err) < 0 && err->kind == E_INVALID_ARGUMENT,
	   "path without leading slash");
	err_free(&err);
	ok(router_match(rt, M_GET, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s", &m, &err) < 0 &&
		   err->kind == E_NOT_FOUND,
	   "very deep path is 404, not a crash");
	err_free(&err);

	char *s = url_decode("a+b%20c", 7, true, &err);
	is_str(s, "a b c", "query decoding turns + into space");
	free(s);
	s = url_decode("a+b", 3, false, &err);
	is_str(s, "a+b", "path decoding keeps +");
	free(s);
	router_free(rt);

	/* the daemon's real table: every route well-formed and unique */
	struct router *real = router_new(api_route_tables);
	size_t dup = 0;
	for (size_t i = 0; i < router_count(real); i++)
		for (size_t j = i + 1; j < router_count(real); j++)
			if (router_at(real, i)->method == router_at(real, j)->method &&
			    strcmp(router_at(real, i)->pattern, router_at(real, j)->pattern) == 0)
				dup++;
	is_int(dup, 0, "no route is registered twice");
	ok(router_count(real) >= 10, "the daemon registers its routes");
	router_free(real);
	return done_testing();
}
