/* Unit tests: WWW-Authenticate challenges, base64, Docker config.json. */
#include "config.h"

#include <string.h>

#include "remotes/auth.h"
#include "t/unit/tap.h"

struct parsed {
	struct www_challenge *v;
	size_t n;
	int rc;
};

static struct parsed parse(const char *s)
{
	struct parsed p = {0};
	err_t err = NULL;
	p.rc = www_auth_parse(s, &p.v, &p.n, &err);
	err_free(&err);
	return p;
}

static void parsed_free(struct parsed *p)
{
	www_challenges_free(p->v, p->n);
	free(p->v);
}

static void test_challenges(void)
{
	struct parsed p =
	    parse("Bearer realm=\"https://auth.docker.io/token\","
		  "service=\"registry.docker.io\",scope=\"repository:library/redis:pull\"");
	is_int(p.rc, 0, "docker hub challenge parses");
	is_int(p.n, 1, "one challenge");
	is_str(p.v[0].scheme, "bearer", "scheme lowercased");
	is_str(www_challenge_param(&p.v[0], "realm"), "https://auth.docker.io/token", "realm");
	is_str(www_challenge_param(&p.v[0], "service"), "registry.docker.io", "service");
	is_str(www_challenge_param(&p.v[0], "SCOPE"), "repository:library/redis:pull",
	       "scope, looked up case-insensitively");
	parsed_free(&p);

	p = parse("Basic realm=\"Registry Realm\", Bearer realm=\"http://127.0.0.1:1/token\","
		  " service=\"svc\", scope=\"repository:a/b:pull,push\"");
	is_int(p.rc, 0, "two challenges in one value");
	is_int(p.n, 2, "both seen");
	is_str(p.v[0].scheme, "basic", "first is basic");
	is_str(www_challenge_param(&p.v[0], "realm"), "Registry Realm", "quoted with a space");
	is_str(p.v[1].scheme, "bearer", "second is bearer");
	is_str(www_challenge_param(&p.v[1], "scope"), "repository:a/b:pull,push",
	       "a comma inside quotes stays in the value");
	parsed_free(&p);

	p = parse("BEARER Realm=\"x\\\"y\\\\z\" ,  Error=invalid_token");
	is_int(p.rc, 0, "escapes and odd spacing");
	is_str(p.v[0].scheme, "bearer", "upper-case scheme");
	is_str(www_challenge_param(&p.v[0], "realm"), "x\"y\\z", "backslash escapes");
	is_str(www_challenge_param(&p.v[0], "error"), "invalid_token", "unquoted token value");
	parsed_free(&p);

	p = parse("Basic");
	is_int(p.rc, 0, "a bare scheme");
	is_int(p.n, 1, "one challenge");
	is_int(p.v[0].nparams, 0, "without parameters");
	parsed_free(&p);

	p = parse("Negotiate abc+/==, Basic realm=r");
	is_int(p.rc, 0, "token68 then another challenge");
	is_int(p.n, 2, "two");
	is_str(p.v[0].token68, "abc+/==", "token68 kept");
	is_str(www_challenge_param(&p.v[1], "realm"), "r", "then basic");
	parsed_free(&p);

	p = parse("Bearer realm=\"unterminated");
	ok(p.rc < 0, "an unterminated quoted string is an error");
	is_int(p.n, 0, "and yields nothing");
	parsed_free(&p);

	p = parse("Bearer realm=\"a\" junk\"");
	ok(p.rc < 0, "garbage after a value is an error");
	parsed_free(&p);

	p = parse("=oops");
	ok(p.rc < 0, "no scheme is an error");
	parsed_free(&p);

	p = parse("");
	is_int(p.rc, 0, "an empty value is no challenge");
	is_int(p.n, 0, "none");
	parsed_free(&p);

	/* several header lines append */
	struct www_challenge *v = NULL;
	size_t n = 0;
	err_t err = NULL;
	ok(www_auth_parse("Basic realm=a", &v, &n, &err) == 0 &&
	       www_auth_parse("Bearer realm=b,service=c", &v, &n, &err) == 0,
	   "two header lines");
	is_int(n, 2, "append to one list");
	is_str(www_challenge_param(&v[1], "service"), "c", "second line's params");
	www_challenges_free(v, n);
	free(v);

	/* bad from the first byte, into an empty list (t/fuzz: NULL + 0 under UBSan) */
	v = NULL;
	n = 0;
	ok(www_auth_parse("\xb2\x9a\xfc\x8e" "e", &v, &n, &err) < 0 && !v && n == 0 && err &&
		   err->kind == E_INVALID_ARGUMENT,
	   "a value bad from its first byte leaves the list empty");
	err_free(&err);
}

static void test_base64(void)
{
	char *e = base64_encode("user:pass", 9);
	is_str(e, "dXNlcjpwYXNz", "encode");
	free(e);
	e = base64_encode("ab", 2);
	is_str(e, "YWI=", "one pad");
	free(e);
	e = base64_encode("a", 1);
	is_str(e, "YQ==", "two pads");
	free(e);
	size_t len;
	char *d = base64_decode("dXNlcjpwYXNz", &len);
	is_str(d, "user:pass", "decode");
	is_int(len, 9, "length");
	free(d);
	d = base64_decode("YWI", &len);
	is_str(d, "ab", "padding optional");
	free(d);
	ok(base64_decode("YW*=", &len) == NULL, "bad character");
	ok(base64_decode("Y", &len) == NULL, "impossible length");
	ok(base64_decode("YQ===", &len) == NULL, "three pads");
}

static void test_docker_config(void)
{
	struct docker_creds c = {0};
	err_t err = NULL;
	const char *cfg = "{\"auths\":{"
			  "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOnNlY3JldDpjb2xvbg==\"},"
			  "\"localhost:5000\":{\"username\":\"u\",\"password\":\"p\"},"
			  "\"http://Reg.Example:5001/v2/\":{\"identitytoken\":\"idt\"},"
			  "\"tok.example\":{\"registrytoken\":\"rt\"}},"
			  "\"credsStore\":\"desktop\"}";
	is_int(docker_config_parse(cfg, strlen(cfg), &c, &err), 0, "config.json parses");
	is_int(c.n, 4, "four entries");
	const struct docker_cred *d = docker_creds_find(&c, "docker.io");
	ok(d != NULL, "docker.io found through index.docker.io/v1/");
	if (d) {
		is_str(d->username, "hub", "base64 auth: user");
		is_str(d->password, "secret:colon", "password may hold a colon");
	}
	ok(docker_creds_find(&c, "registry-1.docker.io") == d, "registry-1.docker.io is docker.io");
	d = docker_creds_find(&c, "localhost:5000");
	ok(d && strcmp(d->username, "u") == 0 && strcmp(d->password, "p") == 0,
	   "username/password fields");
	d = docker_creds_find(&c, "reg.example:5001");
	ok(d && d->identity_token && strcmp(d->identity_token, "idt") == 0 && !d->username,
	   "identity token, key normalised (scheme, path, case)");
	d = docker_creds_find(&c, "tok.example");
	ok(d && d->registry_token && strcmp(d->registry_token, "rt") == 0, "registry token");
	ok(docker_creds_find(&c, "localhost:5001") == NULL, "another port is another host");
	docker_creds_release(&c);

	const char *bad[] = {
	    "{\"auths\":{\"h\":{\"auth\":\"not base64!\"}}}",
	    "{\"auths\":{\"h\":{\"auth\":\"bm9jb2xvbg==\"}}}", /* "nocolon" */
	    "{\"auths\":{\"h\":{\"auth\":42}}}",
	    "{\"auths\":[]}",
	    "{\"auths\":{\"h\":\"x\"}}",
	    "[1]",
	    "{\"auths\":",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err = NULL;
		ok(docker_config_parse(bad[i], strlen(bad[i]), &c, &err) < 0 && err &&
		       err->kind == E_INVALID_ARGUMENT,
		   "malformed config %zu refused", i);
		if (err)
			diag("%s", err->msg);
		err_free(&err);
	}
	err = NULL;
	const char *secret = "{\"auths\":{\"h\":{\"auth\":\"c2VjcmV0LXdpdGhvdXQtY29sb24=\"}}}";
	docker_config_parse(secret, strlen(secret), &c, &err);
	ok(err && !strstr(err->msg, "secret") && !strstr(err->msg, "c2VjcmV0"),
	   "the error does not quote the secret");
	err_free(&err);
	is_int(docker_config_parse("{}", 2, &c, &err), 0, "no auths is fine");
	is_int(c.n, 0, "and empty");

	char *k = docker_config_host_key("https://registry.hub.docker.com/v2/");
	is_str(k, "docker.io", "hub alias");
	free(k);
	k = docker_config_host_key("[::1]:5000");
	is_str(k, "[::1]:5000", "IPv6 literal kept");
	free(k);
}

int main(void)
{
	plan_lazy();
	test_challenges();
	test_base64();
	test_docker_config();
	return done_testing();
}
