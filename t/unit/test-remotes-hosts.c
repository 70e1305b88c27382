/* Unit tests: registry host settings, endpoints, loopback, backoff. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "remotes/hosts.h"
#include "remotes/internal.h"
#include "t/unit/tap.h"

static int parse(const char *text, struct hosts *h, err_t *err)
{
	return hosts_parse(text, strlen(text), "test.json", h, err);
}

static void test_parse(void)
{
	struct hosts h = {0};
	err_t err = NULL;
	const char *cfg =
	    "{\"hosts\":{"
	    "\"localhost:5000\":{\"mirrors\":[\"http://127.0.0.1:5001\","
	    "\"https://mirror.example/base/\",\"127.0.0.1:5002\"],\"plain_http\":true},"
	    "\"docker.io\":{\"mirrors\":[\"https://hub-mirror.example\"]},"
	    "\"mirror.example\":{\"ca_file\":\"/etc/ca.pem\",\"skip_verify\":true},"
	    "\"secure.example\":{\"client_cert\":\"/c.pem\",\"client_key\":\"/c.key\","
	    "\"server\":\"https://backend.example:8443\"}}}";
	is_int(parse(cfg, &h, &err), 0, "a full file parses");
	if (err)
		diag("%s", err->msg);
	is_int(h.n, 4, "four hosts");

	struct endpoint *e = NULL;
	size_t n = 0;
	is_int(hosts_endpoints(&h, "localhost:5000", false, true, &e, &n, &err), 0, "endpoints");
	is_int(n, 4, "three mirrors and the registry");
	is_str(e[0].scheme, "http", "mirror 1: http from its URL");
	is_str(e[0].host, "127.0.0.1:5001", "mirror 1: host");
	is_str(e[0].root, "/v2", "mirror 1: default root");
	ok(e[0].mirror && !e[0].loopback, "mirror 1: a mirror, no fallback (scheme given)");
	is_str(e[1].root, "/base", "mirror 2: its path is the API root, no trailing slash");
	ok(e[1].skip_verify && e[1].ca_file && strcmp(e[1].ca_file, "/etc/ca.pem") == 0,
	   "mirror 2: TLS settings from its own host entry");
	ok(e[2].loopback && strcmp(e[2].scheme, "https") == 0,
	   "mirror 3: no scheme on loopback: HTTPS with fallback");
	is_str(e[3].scheme, "http", "registry: plain_http from its entry");
	ok(!e[3].mirror && !e[3].loopback, "registry: not a mirror, no fallback needed");
	endpoints_free(e, n);

	is_int(hosts_endpoints(&h, "localhost:5000", false, false, &e, &n, &err), 0,
	       "endpoints, not a pull");
	is_int(n, 1, "no mirrors when not pulling");
	endpoints_free(e, n);

	is_int(hosts_endpoints(&h, "docker.io", false, true, &e, &n, &err), 0, "docker.io");
	is_int(n, 2, "mirror + hub");
	is_str(e[1].host, "registry-1.docker.io", "docker.io maps to registry-1.docker.io");
	is_str(e[1].scheme, "https", "over HTTPS");
	endpoints_free(e, n);

	is_int(hosts_endpoints(&h, "secure.example", false, true, &e, &n, &err), 0, "server");
	is_str(e[0].host, "backend.example:8443", "server replaces the endpoint");
	is_str(e[0].client_cert, "/c.pem", "client certificate of the registry's entry");
	endpoints_free(e, n);

	is_int(hosts_endpoints(&h, "ghcr.io", false, true, &e, &n, &err), 0, "unknown host");
	ok(n == 1 && strcmp(e[0].host, "ghcr.io") == 0 && strcmp(e[0].scheme, "https") == 0 &&
	       !e[0].loopback,
	   "unknown host: itself over HTTPS");
	endpoints_free(e, n);

	is_int(hosts_endpoints(&h, "127.0.0.1:9999", false, true, &e, &n, &err), 0, "loopback");
	ok(e[0].loopback && strcmp(e[0].scheme, "https") == 0, "loopback: HTTPS, may fall back");
	endpoints_free(e, n);
	is_int(hosts_endpoints(&h, "ghcr.io", true, true, &e, &n, &err), 0, "plain_http request");
	is_str(e[0].scheme, "http", "plain_http per request");
	endpoints_free(e, n);
	hosts_release(&h);

	const char *bad[] = {
	    "{\"hosts\":{\"h\":{\"mirror\":[]}}}",
	    "{\"hosts\":{\"h\":{\"mirrors\":\"http://x\"}}}",
	    "{\"hosts\":{\"h\":{\"mirrors\":[\"ftp://x\"]}}}",
	    "{\"hosts\":{\"h\":{\"mirrors\":[\"http://\"]}}}",
	    "{\"hosts\":{\"h\":{\"plain_http\":\"yes\"}}}",
	    "{\"hosts\":{\"h\":{\"ca_file\":\"relative.pem\"}}}",
	    "{\"hosts\":{\"h\":{\"client_cert\":\"/c.pem\"}}}",
	    "{\"hosts\":{\"https://h\":{}}}",
	    "{\"hosts\":[]}",
	    "{\"registries\":{}}",
	    "{\"hosts\":{\"h\":{\"server\":42}}}",
	    "not json",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct hosts b = {0};
		err = NULL;
		ok(parse(bad[i], &b, &err) < 0 && err && err->kind == E_INVALID_ARGUMENT &&
		       strstr(err->msg, "test.json"),
		   "bad settings %zu refused, naming the file", i);
		if (err)
			diag("%s", err->msg);
		err_free(&err);
		hosts_release(&b);
	}
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void test_load(void)
{
	char dir[] = "/tmp/berth-hosts-XXXXXX";
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	struct hosts h = {0};
	err_t err = NULL;
	char path[256];
	snprintf(path, sizeof(path), "%s/missing", dir);
	is_int(hosts_load(path, &h, &err), 0, "a missing path is no settings");
	is_int(h.n, 0, "none");

	snprintf(path, sizeof(path), "%s/10-a.json", dir);
	write_text(path, "{\"hosts\":{\"a.example\":{\"plain_http\":true}}}");
	snprintf(path, sizeof(path), "%s/20-b.json", dir);
	write_text(path, "{\"hosts\":{\"b.example\":{\"skip_verify\":true}}}");
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	write_text(path, "ignored");
	is_int(hosts_load(dir, &h, &err), 0, "a directory of files");
	is_int(h.n, 2, "both files read, other names ignored");
	ok(hosts_find(&h, "A.example") && hosts_find(&h, "a.example")->plain_http,
	   "find is case-insensitive");

	snprintf(path, sizeof(path), "%s/30-dup.json", dir);
	write_text(path, "{\"hosts\":{\"a.example\":{}}}");
	ok(hosts_load(dir, &h, &err) < 0 && strstr(err->msg, "configured twice"),
	   "a host in two files is an error");
	is_int(h.n, 2, "the previous settings are kept on error");
	err_free(&err);
	unlink(path);

	snprintf(path, sizeof(path), "%s/20-b.json", dir);
	is_int(hosts_load(path, &h, &err), 0, "one file");
	is_int(h.n, 1, "its hosts only");
	hosts_release(&h);

	snprintf(path, sizeof(path), "%s/10-a.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/20-b.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	unlink(path);
	rmdir(dir);
}

static void test_loopback(void)
{
	ok(host_is_loopback("localhost"), "localhost");
	ok(host_is_loopback("localhost:5000"), "localhost:5000");
	ok(host_is_loopback("127.0.0.1:5000"), "127.0.0.1:5000");
	ok(host_is_loopback("127.10.20.30"), "127.0.0.0/8");
	ok(host_is_loopback("[::1]:5000"), "[::1]:5000");
	ok(host_is_loopback("[::1]"), "[::1]");
	ok(!host_is_loopback("128.0.0.1"), "128.0.0.1 is not");
	ok(!host_is_loopback("localhost.example.com"), "a name that starts with localhost is not");
	ok(!host_is_loopback("[::2]:5000"), "::2 is not");
	ok(!host_is_loopback("docker.io"), "docker.io is not");
}

static void test_backoff(void)
{
	is_int(remotes_backoff_ms(1), 250, "first retry 250 ms");
	is_int(remotes_backoff_ms(2), 500, "then 500");
	is_int(remotes_backoff_ms(3), 1000, "then 1 s");
	is_int(remotes_backoff_ms(6), 8000, "then doubling up to 8 s");
	is_int(remotes_backoff_ms(7), 8000, "capped");
	is_int(remotes_backoff_ms(100), 8000, "capped, no overflow");
	is_int(remotes_retry_delay_ms(2, 0.0, -1), 375, "jitter: -25%");
	is_int(remotes_retry_delay_ms(2, 0.999999, -1), 624, "jitter: up to +25%");
	is_int(remotes_retry_delay_ms(1, 0.5, 3), 3000, "Retry-After wins");
	is_int(remotes_retry_delay_ms(1, 0.5, 3600), 10000, "Retry-After capped at 10 s");
	is_int(remotes_retry_delay_ms(1, 0.5, 0), 0, "Retry-After: 0");
}

static void test_error_text(void)
{
	const char *b =
	    "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\","
	    "\"detail\":{}}]}";
	char *t = registry_error_text(b, strlen(b));
	is_str(t, "MANIFEST_UNKNOWN: manifest unknown", "OCI error body");
	free(t);
	ok(registry_error_text("<html>", 6) == NULL, "not JSON: nothing");
	ok(registry_error_text("{\"errors\":[]}", 13) == NULL, "no error: nothing");
	const char *c = "{\"errors\":[{\"code\":\"X\",\"message\":\"a\\nb\"}]}";
	t = registry_error_text(c, strlen(c));
	is_str(t, "X: a?b", "control characters replaced");
	free(t);
}

int main(void)
{
	plan_lazy();
	test_parse();
	test_load();
	test_loopback();
	test_backoff();
	test_error_text();
	return done_testing();
}
