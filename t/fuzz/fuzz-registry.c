/*
 * fuzz-registry: what a registry (or a credentials file) sends that berth
 * parses without libcurl's help. The first byte picks: a WWW-Authenticate
 * header value (remotes/auth.c; each line of the input one header line of
 * the same answer), a registry error body (remotes' "CODE: message"
 * extraction), a Docker config.json, or base64 (encoded back and forth).
 */
#include "config.h"

#include <ctype.h>

#include "fuzz.h"
#include "remotes/auth.h"
#include "remotes/internal.h"

static void challenges(const uint8_t *data, size_t size)
{
	struct www_challenge *list = NULL;
	size_t n = 0;
	const char *line;
	size_t len;
	while (fuzz_next_line(&data, &size, &line, &len)) {
		cleanup_free char *v = fuzz_cstr((const uint8_t *)line, len);
		err_t err = NULL;
		size_t before = n;
		if (www_auth_parse(v, &list, &n, &err) < 0) {
			FUZZ_ASSERT(err && err->kind == E_INVALID_ARGUMENT && *err->msg,
				    "a refusal is invalid_argument with a message");
			err_free(&err);
		}
		FUZZ_ASSERT(n >= before, "challenges were lost");
	}
	for (size_t i = 0; i < n; i++) {
		const struct www_challenge *c = &list[i];
		FUZZ_ASSERT(c->scheme && *c->scheme, "challenge %zu without a scheme", i);
		for (const char *p = c->scheme; *p; p++)
			FUZZ_ASSERT(!isupper((unsigned char)*p), "scheme `%s` not lowercased",
				    c->scheme);
		for (size_t k = 0; k < c->nparams; k++) {
			FUZZ_ASSERT(c->params[k].name && c->params[k].value, "param %zu", k);
			FUZZ_ASSERT(www_challenge_param(c, c->params[k].name),
				    "param `%s` not found", c->params[k].name);
		}
		(void)www_challenge_param(c, "realm");
	}
	www_challenges_free(list, n);
	free(list); /* the array is the caller's (auth.c) */
}

static void error_body(const char *data, size_t len)
{
	char *s = registry_error_text(data, len);
	if (s) {
		for (const char *p = s; *p; p++)
			FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f,
				    "a control character in `%s`", s);
		FUZZ_ASSERT(strlen(s) < 4096, "%zu bytes of error text", strlen(s));
	}
	free(s);
}

static void docker_config(const char *data, size_t len)
{
	struct docker_creds c;
	err_t err = NULL;
	memset(&c, 0, sizeof(c));
	if (docker_config_parse(data, len, &c, &err) < 0) {
		FUZZ_ASSERT(err && err->kind == E_INVALID_ARGUMENT && *err->msg,
			    "a refusal is invalid_argument with a message");
		err_free(&err);
	} else {
		static const char *const hosts[] = {"docker.io", "localhost:5000", "ghcr.io", ""};
		for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
			(void)docker_creds_find(&c, hosts[i]);
	}
	docker_creds_release(&c);
	cleanup_free char *s = fuzz_cstr((const uint8_t *)data, len);
	free(docker_config_host_key(s));
}

static void base64(const char *data, size_t len)
{
	cleanup_free char *enc = base64_encode(data, len);
	size_t n = 0;
	cleanup_free char *dec = base64_decode(enc, &n);
	FUZZ_ASSERT(dec && n == len && !memcmp(dec, data, len), "base64 round trip of %zu bytes",
		    len);
	cleanup_free char *s = fuzz_cstr((const uint8_t *)data, len);
	free(base64_decode(s, &n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *doc = (const char *)data + 1;
	size_t len = size - 1;
	switch (data[0] % 4) {
	case 0:
		challenges(data + 1, len);
		break;
	case 1:
		error_body(doc, len);
		break;
	case 2:
		docker_config(doc, len);
		break;
	case 3:
		base64(doc, len);
		break;
	}
	return 0;
}
