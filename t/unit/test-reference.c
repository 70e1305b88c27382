/*
 * Unit tests for remotes/reference.c, ported from the distribution
 * `reference` package (reference_test.go, normalize_test.go, regexp_test.go)
 * through ParseNormalizedNamed + TagNameOnly, plus berth's edge cases.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "remotes/reference.h"
#include "tap.h"

#define F64 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define D256 "sha256:" F64
#define H64 "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
#define BUSYBOX_HEX "86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
#define F128 F64 F64
#define F96 F64 "ffffffffffffffffffffffffffffffff"

/* n copies of piece (the caller frees). */
static char *repeat(const char *piece, size_t n)
{
	size_t len = strlen(piece);
	char *s = xmalloc(len * n + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * len, piece, len);
	s[len * n] = '\0';
	return s;
}

struct valid {
	const char *input;
	const char *string; /* reference_string() */
	const char *domain;
	const char *path;
	const char *tag;
	const char *digest;
	const char *familiar; /* reference_familiar() */
};

static const struct valid valid_cases[] = {
	/* reference_test.go TestReferenceParse, normalised */
	{ "test_com", "docker.io/library/test_com:latest", "docker.io", "library/test_com",
	  "latest", NULL, "test_com:latest" },
	{ "test.com:tag", "docker.io/library/test.com:tag", "docker.io", "library/test.com", "tag",
	  NULL, "test.com:tag" },
	{ "test.com:5000", "docker.io/library/test.com:5000", "docker.io", "library/test.com",
	  "5000", NULL, "test.com:5000" },
	{ "test.com/repo:tag", "test.com/repo:tag", "test.com", "repo", "tag", NULL,
	  "test.com/repo:tag" },
	{ "test:5000/repo", "test:5000/repo:latest", "test:5000", "repo", "latest", NULL,
	  "test:5000/repo:latest" },
	{ "test:5000/repo@" D256, "test:5000/repo@" D256, "test:5000", "repo", NULL, D256,
	  "test:5000/repo@" D256 },
	{ "test:5000/repo:tag@" D256, "test:5000/repo:tag@" D256, "test:5000", "repo", "tag", D256,
	  "test:5000/repo:tag@" D256 },
	{ "lowercase:Uppercase", "docker.io/library/lowercase:Uppercase", "docker.io",
	  "library/lowercase", "Uppercase", NULL, "lowercase:Uppercase" },
	{ "sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com/bar/baz/quux:latest",
	  "sub-dom1.foo.com", "bar/baz/quux", "latest", NULL,
	  "sub-dom1.foo.com/bar/baz/quux:latest" },
	{ "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
	  "sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
	  "some-long-tag", NULL, "sub-dom1.foo.com/bar/baz/quux:some-long-tag" },
	{ "b.gcr.io/test.example.com/my-app:test.example.com",
	  "b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io",
	  "test.example.com/my-app", "test.example.com", NULL,
	  "b.gcr.io/test.example.com/my-app:test.example.com" },
	{ "xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com",
	  "myimage", "xn--n3h.com", NULL, "xn--n3h.com/myimage:xn--n3h.com" },
	{ "xn--7o8h.com/myimage:xn--7o8h.com@sha512:" F128,
	  "xn--7o8h.com/myimage:xn--7o8h.com@sha512:" F128, "xn--7o8h.com", "myimage",
	  "xn--7o8h.com", "sha512:" F128, "xn--7o8h.com/myimage:xn--7o8h.com@sha512:" F128 },
	{ "foo_bar.com:8080", "docker.io/library/foo_bar.com:8080", "docker.io",
	  "library/foo_bar.com", "8080", NULL, "foo_bar.com:8080" },
	{ "foo/foo_bar.com:8080", "docker.io/foo/foo_bar.com:8080", "docker.io",
	  "foo/foo_bar.com", "8080", NULL, "foo/foo_bar.com:8080" },
	{ "192.168.1.1", "docker.io/library/192.168.1.1:latest", "docker.io",
	  "library/192.168.1.1", "latest", NULL, "192.168.1.1:latest" },
	{ "192.168.1.1:tag", "docker.io/library/192.168.1.1:tag", "docker.io",
	  "library/192.168.1.1", "tag", NULL, "192.168.1.1:tag" },
	{ "192.168.1.1:5000", "docker.io/library/192.168.1.1:5000", "docker.io",
	  "library/192.168.1.1", "5000", NULL, "192.168.1.1:5000" },
	{ "192.168.1.1/repo", "192.168.1.1/repo:latest", "192.168.1.1", "repo", "latest", NULL,
	  "192.168.1.1/repo:latest" },
	{ "192.168.1.1:5000/repo", "192.168.1.1:5000/repo:latest", "192.168.1.1:5000", "repo",
	  "latest", NULL, "192.168.1.1:5000/repo:latest" },
	{ "192.168.1.1:5000/repo:5050", "192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo",
	  "5050", NULL, "192.168.1.1:5000/repo:5050" },
	{ "[2001:db8::1]/repo", "[2001:db8::1]/repo:latest", "[2001:db8::1]", "repo", "latest",
	  NULL, "[2001:db8::1]/repo:latest" },
	{ "[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]/repo:tag",
	  "[2001:db8:1:2:3:4:5:6]", "repo", "tag", NULL, "[2001:db8:1:2:3:4:5:6]/repo:tag" },
	{ "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000/repo:latest", "[2001:db8::1]:5000",
	  "repo", "latest", NULL, "[2001:db8::1]:5000/repo:latest" },
	{ "[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000",
	  "repo", "tag", NULL, "[2001:db8::1]:5000/repo:tag" },
	{ "[2001:db8::1]:5000/repo@" D256, "[2001:db8::1]:5000/repo@" D256, "[2001:db8::1]:5000",
	  "repo", NULL, D256, "[2001:db8::1]:5000/repo@" D256 },
	{ "[2001:db8::1]:5000/repo:tag@" D256, "[2001:db8::1]:5000/repo:tag@" D256,
	  "[2001:db8::1]:5000", "repo", "tag", D256, "[2001:db8::1]:5000/repo:tag@" D256 },
	{ "[2001:db8::]:5000/repo", "[2001:db8::]:5000/repo:latest", "[2001:db8::]:5000", "repo",
	  "latest", NULL, "[2001:db8::]:5000/repo:latest" },
	{ "[::1]:5000/repo", "[::1]:5000/repo:latest", "[::1]:5000", "repo", "latest", NULL,
	  "[::1]:5000/repo:latest" },

	/* normalize_test.go TestParseRepositoryInfo: familiar, full and ambiguous names */
	{ "fooo/bar", "docker.io/fooo/bar:latest", "docker.io", "fooo/bar", "latest", NULL,
	  "fooo/bar:latest" },
	{ "index.docker.io/fooo/bar", "docker.io/fooo/bar:latest", "docker.io", "fooo/bar",
	  "latest", NULL, "fooo/bar:latest" },
	{ "ubuntu", "docker.io/library/ubuntu:latest", "docker.io", "library/ubuntu", "latest",
	  NULL, "ubuntu:latest" },
	{ "library/ubuntu", "docker.io/library/ubuntu:latest", "docker.io", "library/ubuntu",
	  "latest", NULL, "ubuntu:latest" },
	{ "docker.io/library/ubuntu", "docker.io/library/ubuntu:latest", "docker.io",
	  "library/ubuntu", "latest", NULL, "ubuntu:latest" },
	{ "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu:latest", "docker.io",
	  "nonlibrary/ubuntu", "latest", NULL, "nonlibrary/ubuntu:latest" },
	{ "docker.io/other/library", "docker.io/other/library:latest", "docker.io",
	  "other/library", "latest", NULL, "other/library:latest" },
	{ "127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase:latest",
	  "127.0.0.1:8000", "private/moonbase", "latest", NULL,
	  "127.0.0.1:8000/private/moonbase:latest" },
	{ "127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase:latest", "127.0.0.1:8000",
	  "privatebase", "latest", NULL, "127.0.0.1:8000/privatebase:latest" },
	{ "example.com/private/moonbase", "example.com/private/moonbase:latest", "example.com",
	  "private/moonbase", "latest", NULL, "example.com/private/moonbase:latest" },
	{ "example.com:8000/privatebasee", "example.com:8000/privatebasee:latest",
	  "example.com:8000", "privatebasee", "latest", NULL,
	  "example.com:8000/privatebasee:latest" },
	{ "index.docker.io/library/ubuntu-12.04-base",
	  "docker.io/library/ubuntu-12.04-base:latest", "docker.io", "library/ubuntu-12.04-base",
	  "latest", NULL, "ubuntu-12.04-base:latest" },
	{ "docker.io/foo", "docker.io/library/foo:latest", "docker.io", "library/foo", "latest",
	  NULL, "foo:latest" },
	{ "library/foo/bar", "docker.io/library/foo/bar:latest", "docker.io", "library/foo/bar",
	  "latest", NULL, "library/foo/bar:latest" },
	{ "store/foo/bar", "docker.io/store/foo/bar:latest", "docker.io", "store/foo/bar",
	  "latest", NULL, "store/foo/bar:latest" },
	{ "Foo/bar", "Foo/bar:latest", "Foo", "bar", "latest", NULL, "Foo/bar:latest" },
	{ "FOO/bar", "FOO/bar:latest", "FOO", "bar", "latest", NULL, "FOO/bar:latest" },

	/* normalize_test.go TestParseReferenceWithTagAndDigest, TestParseAnyReference */
	{ "busybox:latest@sha256:" BUSYBOX_HEX,
	  "docker.io/library/busybox:latest@sha256:" BUSYBOX_HEX, "docker.io", "library/busybox",
	  "latest", "sha256:" BUSYBOX_HEX, "busybox:latest@sha256:" BUSYBOX_HEX },
	{ "redis", "docker.io/library/redis:latest", "docker.io", "library/redis", "latest", NULL,
	  "redis:latest" },
	{ "redis@sha256:" H64, "docker.io/library/redis@sha256:" H64, "docker.io",
	  "library/redis", NULL, "sha256:" H64, "redis@sha256:" H64 },
	{ "dmcgowan/myapp@sha256:" H64, "docker.io/dmcgowan/myapp@sha256:" H64, "docker.io",
	  "dmcgowan/myapp", NULL, "sha256:" H64, "dmcgowan/myapp@sha256:" H64 },
	{ "docker.io/mcgowan/myapp:latest", "docker.io/mcgowan/myapp:latest", "docker.io",
	  "mcgowan/myapp", "latest", NULL, "mcgowan/myapp:latest" },
	{ "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9",
	  "docker.io/library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9:latest",
	  "docker.io", "library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9",
	  "latest", NULL, "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9:latest" },
	{ "dbcc1", "docker.io/library/dbcc1:latest", "docker.io", "library/dbcc1", "latest", NULL,
	  "dbcc1:latest" },

	/* normalize_test.go TestValidateReferenceName, TestValidateRemoteName,
	 * TestNormalizedSplitHostname */
	{ "docker.io/" H64, "docker.io/library/" H64 ":latest", "docker.io", "library/" H64,
	  "latest", NULL, H64 ":latest" },
	{ "Docker/docker", "Docker/docker:latest", "Docker", "docker", "latest", NULL,
	  "Docker/docker:latest" },
	{ "192.168.0.1:8/debian", "192.168.0.1:8/debian:latest", "192.168.0.1:8", "debian",
	  "latest", NULL, "192.168.0.1:8/debian:latest" },
	{ "[fc00::1]:5000/docker/docker", "[fc00::1]:5000/docker/docker:latest", "[fc00::1]:5000",
	  "docker/docker", "latest", NULL, "[fc00::1]:5000/docker/docker:latest" },
	{ "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
	  "[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest", "[fc00:1:2:3:4:5:6:7]:5000",
	  "library/debian", "latest", NULL, "[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest" },
	{ "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
	  "docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest",
	  "docker.io", "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
	  "latest", NULL, "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest" },
	{ "docker---rules/docker", "docker.io/docker---rules/docker:latest", "docker.io",
	  "docker---rules/docker", "latest", NULL, "docker---rules/docker:latest" },
	{ "d/docker", "docker.io/d/docker:latest", "docker.io", "d/docker", "latest", NULL,
	  "d/docker:latest" },
	{ "jess/t", "docker.io/jess/t:latest", "docker.io", "jess/t", "latest", NULL,
	  "jess/t:latest" },
	{ "dock__er/docker", "docker.io/dock__er/docker:latest", "docker.io", "dock__er/docker",
	  "latest", NULL, "dock__er/docker:latest" },
	{ "test_com/foo", "docker.io/test_com/foo:latest", "docker.io", "test_com/foo", "latest",
	  NULL, "test_com/foo:latest" },
	{ "test-com:8080/foo", "test-com:8080/foo:latest", "test-com:8080", "foo", "latest", NULL,
	  "test-com:8080/foo:latest" },
	{ "xn--n3h.com:18080/foo", "xn--n3h.com:18080/foo:latest", "xn--n3h.com:18080", "foo",
	  "latest", NULL, "xn--n3h.com:18080/foo:latest" },

	/* regexp_test.go TestFullNameRegexp */
	{ "registry.io/foo/project--id.module--name.ver---sion--name",
	  "registry.io/foo/project--id.module--name.ver---sion--name:latest", "registry.io",
	  "foo/project--id.module--name.ver---sion--name", "latest", NULL,
	  "registry.io/foo/project--id.module--name.ver---sion--name:latest" },
	{ "example.com/some_separator__underscore/myimage",
	  "example.com/some_separator__underscore/myimage:latest", "example.com",
	  "some_separator__underscore/myimage", "latest", NULL,
	  "example.com/some_separator__underscore/myimage:latest" },
	{ "Asdf.com/foo/bar", "Asdf.com/foo/bar:latest", "Asdf.com", "foo/bar", "latest", NULL,
	  "Asdf.com/foo/bar:latest" },
	/* a '.' makes it a candidate host; not a valid one, so the package keeps no domain */
	{ "foo_bar.com/app", "foo_bar.com/app:latest", "", "foo_bar.com/app", "latest", NULL,
	  "foo_bar.com/app:latest" },

	/* berth: the header's examples and edge cases */
	{ "user/app:v1", "docker.io/user/app:v1", "docker.io", "user/app", "v1", NULL,
	  "user/app:v1" },
	{ "localhost:5000/app", "localhost:5000/app:latest", "localhost:5000", "app", "latest",
	  NULL, "localhost:5000/app:latest" },
	{ "ghcr.io/o/r@" D256, "ghcr.io/o/r@" D256, "ghcr.io", "o/r", NULL, D256,
	  "ghcr.io/o/r@" D256 },
	{ "docker.io/redis", "docker.io/library/redis:latest", "docker.io", "library/redis",
	  "latest", NULL, "redis:latest" },
	{ "index.docker.io/redis:7", "docker.io/library/redis:7", "docker.io", "library/redis",
	  "7", NULL, "redis:7" },
	{ "localhost/foo", "localhost/foo:latest", "localhost", "foo", "latest", NULL,
	  "localhost/foo:latest" },
	{ "localhost:5000/foo", "localhost:5000/foo:latest", "localhost:5000", "foo", "latest",
	  NULL, "localhost:5000/foo:latest" },
	/* bare `localhost` is a Hub name (the package's FIXME), `:5000` its tag */
	{ "localhost", "docker.io/library/localhost:latest", "docker.io", "library/localhost",
	  "latest", NULL, "localhost:latest" },
	{ "localhost:5000", "docker.io/library/localhost:5000", "docker.io", "library/localhost",
	  "5000", NULL, "localhost:5000" },
	{ "[::1]/foo:v2", "[::1]/foo:v2", "[::1]", "foo", "v2", NULL, "[::1]/foo:v2" },
	{ "redis:7@" D256, "docker.io/library/redis:7@" D256, "docker.io", "library/redis", "7",
	  D256, "redis:7@" D256 },
	{ "redis:_x.y-Z", "docker.io/library/redis:_x.y-Z", "docker.io", "library/redis",
	  "_x.y-Z", NULL, "redis:_x.y-Z" },
	{ "r@sha384:" F96, "docker.io/library/r@sha384:" F96, "docker.io", "library/r", NULL,
	  "sha384:" F96, "r@sha384:" F96 },
	{ "a.b-c__d/e", "a.b-c__d/e:latest", "", "a.b-c__d/e", "latest", NULL,
	  "a.b-c__d/e:latest" },
};

static void test_valid(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(valid_cases); i++) {
		const struct valid *c = &valid_cases[i];
		struct reference r;
		err_t err = NULL;

		if (!ok(reference_parse(c->input, &r, &err) == 0, "parse `%s`", c->input)) {
			diag("error: %s", err ? err->msg : "(none)");
			err_free(&err);
			continue;
		}
		char *s = reference_string(&r), *fam = reference_familiar(&r);
		is_str(s, c->string, "`%s` normalises", c->input);
		is_str(r.domain, c->domain, "`%s` domain", c->input);
		is_str(r.path, c->path, "`%s` path", c->input);
		is_str(r.tag, c->tag, "`%s` tag", c->input);
		is_str(r.digest, c->digest, "`%s` digest", c->input);
		is_str(fam, c->familiar, "`%s` familiar", c->input);
		free(s);
		free(fam);
		reference_release(&r);
	}
}

struct invalid {
	const char *input;
	const char *reason;
};

#define FORMAT "invalid reference format"
#define UPPER "invalid reference format: repository name must be lowercase"
#define EMPTY "repository name must have at least one component"
#define TOO_LONG "repository name must not be more than 255 characters"
#define IDENT "invalid repository name, cannot specify 64-byte hexadecimal strings"
#define DFORMAT "invalid checksum digest format"
#define DLENGTH "invalid checksum digest length"
#define DUNSUP "unsupported digest algorithm"

static const struct invalid invalid_cases[] = {
	/* reference_test.go TestReferenceParse */
	{ "", EMPTY },
	{ ":justtag", FORMAT },
	{ "@" D256, FORMAT },
	{ "repo@sha256:ffffffffffffffffffffffffffffffffff", DLENGTH },
	{ "validname@invaliddigest:" F64, DUNSUP },
	{ "Uppercase:tag", UPPER },
	{ "test:5000/Uppercase/lowercase:tag", UPPER },
	{ "aa/asdf$$^/aa", FORMAT },
	{ "[2001:db8::1]", FORMAT },
	{ "[2001:db8::1]:5000", FORMAT },
	{ "[2001:db8::1]:tag", FORMAT },
	{ "[fe80::1%eth0]:5000/repo", FORMAT },
	{ "[fe80::1%@invalidzone]:5000/repo", FORMAT },
	/* normalize_test.go TestValidateReferenceName, TestValidateRemoteName */
	{ "https://github.com/docker/docker", FORMAT },
	{ "docker/Docker", UPPER },
	{ "-docker", FORMAT },
	{ "-docker/docker", FORMAT },
	{ "-docker.io/docker/docker", FORMAT },
	{ "docker///docker", FORMAT },
	{ "docker.io/docker/Docker", UPPER },
	{ "docker.io/docker///docker", FORMAT },
	{ "[fc00::1]", FORMAT },
	{ "[fc00::1]:5000", FORMAT },
	{ "fc00::1:5000/debian", FORMAT },
	{ "[fe80::1%eth0]:5000/debian", FORMAT },
	{ "[2001:db8:3:4::192.0.2.33]:5000/debian", FORMAT },
	{ H64, IDENT },
	{ "docker-/docker", FORMAT },
	{ "-docker-/docker", FORMAT },
	{ "____/____", FORMAT },
	{ "_docker/_docker", FORMAT },
	{ "dock..er/docker", FORMAT },
	{ "dock_.er/docker", FORMAT },
	{ "dock-.er/docker", FORMAT },
	{ "docker/", FORMAT },
	{ "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_"
	  "valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_"
	  "because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_"
	  "is_greater_than_255/docker",
	  TOO_LONG },
	/* regexp_test.go */
	{ "test.com:http/foo", FORMAT },
	{ "foo.com/", FORMAT },
	{ "a//a/a", FORMAT },
	{ "example.com/__underscore/myimage", FORMAT },
	{ "example.com/.dots/myimage", FORMAT },
	{ "docker./docker", FORMAT },
	{ "do__cker:8080/docker", FORMAT },
	{ "bad_hostname.com:8080/myapp:tag", FORMAT },
	{ "registry.com:8080/myapp:invalid~tag", FORMAT },
	{ "registry.com:8080/myapp@sha256:badbadbadbad", FORMAT },
	{ "registry.com:8080/myapp@bad", FORMAT },
	{ "registry.com:8080/myapp@2bad", FORMAT },
	{ "[fd00:1:2::3]75050/foo", FORMAT },
	{ "ab-.com/foo", FORMAT },
	/* berth edge cases */
	{ "redis:", FORMAT },
	{ "redis@", FORMAT },
	{ "redis:@" D256, FORMAT },
	{ "redis:7@", FORMAT },
	{ "redis@sha256:" "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", DFORMAT },
	{ "redis@sha256:" "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", DLENGTH },
	{ "redis@sha256:" "fffffffffffffffffffffffffffffff", FORMAT },
	{ "redis@sha256:" F64 "0", DLENGTH },
	{ "redis@sha256:" F64 "@" D256, FORMAT },
	{ "redis@md5:" F64, DUNSUP },
	{ "redis@sha256+b64:" F64, DUNSUP },
	{ "redis@a.b-c_d+e:" F64, DUNSUP },
	{ "redis@a..b:" F64, FORMAT },
	{ "redis@1sha:" F64, FORMAT },
	{ "redis@sha256:" F64 "g", FORMAT },
	{ "redis:t@Sha256x:" F64, DFORMAT },
	{ "redis@Sha256x:" F64, UPPER },
	{ "redis:-tag", FORMAT },
	{ "redis:.tag", FORMAT },
	{ "redis:t/ag", FORMAT },
	{ "foo//bar", FORMAT },
	{ "foo..bar", FORMAT },
	{ "foo___bar", FORMAT },
	{ "foo_-bar", FORMAT },
	{ "foo-", FORMAT },
	{ "foo/bar/", FORMAT },
	{ "/foo", FORMAT },
	{ "foo bar", FORMAT },
	{ "FOO", UPPER },
	{ "redis/Foo:tag", UPPER },
	/* the package checks the remote up to the first ':', which here is the digest's */
	{ "redis@SHA256:" F64, UPPER },
	/* not a host, and only valid as a path once lowercased */
	{ "Foo_bar.com/x", UPPER },
	{ "localhost:http/foo", FORMAT },
	{ "example.com:/foo", FORMAT },
	{ "[]:5000/foo", FORMAT },
	{ "[::1]:/foo", FORMAT },
	{ "[::g]/foo", FORMAT },
	{ "::1/foo", FORMAT },
	{ "localhost:5000:6000/foo", FORMAT },
	{ "ex ample.com/foo", FORMAT },
	{ "r\xc3\xa9" "dis", FORMAT },
};

static void test_invalid(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(invalid_cases); i++) {
		const struct invalid *c = &invalid_cases[i];
		struct reference r;
		err_t err = NULL;
		char *want = xasprintf("reference `%s`: %s", c->input, c->reason);
		int rc = reference_parse(c->input, &r, &err);

		ok(rc < 0 && err && err->kind == E_INVALID_ARGUMENT && strcmp(err->msg, want) == 0 &&
			   !r.domain && !r.path && !r.tag && !r.digest,
		   "`%s` is refused: %s", c->input, c->reason);
		if (err && strcmp(err->msg, want) != 0)
			diag("got: %s", err->msg);
		if (rc == 0)
			reference_release(&r);
		err_free(&err);
		free(want);
	}
}

static int parse_reason(const char *input, const char **msg, err_t *err)
{
	struct reference r;
	int rc = reference_parse(input, &r, err);
	if (rc == 0)
		reference_release(&r);
	*msg = *err ? (*err)->msg : "";
	return rc;
}

/* Lengths at the 255-character path limit and the 128-character tag limit. */
static void test_lengths(void)
{
	const char *msg;
	err_t err = NULL;
	char *a, *s;
	struct reference r;

	/* "a/"*127 + "a" is a 255-character Hub path: at the limit (reference_test.go) */
	a = repeat("a/", 127);
	s = xasprintf("%sa:tag-puts-this-over-max", a);
	ok(reference_parse(s, &r, &err) == 0 && strlen(r.path) == 255 &&
		   strcmp(r.domain, "docker.io") == 0 && strcmp(r.tag, "tag-puts-this-over-max") == 0,
	   "255-character path with a long tag is valid");
	reference_release(&r);
	err_free(&err);
	free(s);
	free(a);

	/* "domain/" + 256 a: "domain" is a Hub namespace, the path is 263 long */
	a = repeat("a", 256);
	s = xasprintf("domain/%s:tag", a);
	ok(parse_reason(s, &msg, &err) < 0 && strstr(msg, TOO_LONG), "263-character path refused");
	err_free(&err);
	free(s);

	/* the limit is on the path; the domain does not count (reference_test.go) */
	s = xasprintf("example.com/%.255s:tag", a);
	ok(parse_reason(s, &msg, &err) == 0, "example.com/ + 255-character path is valid");
	err_free(&err);
	free(s);
	s = xasprintf("example.com/%s", a);
	ok(parse_reason(s, &msg, &err) < 0 && strstr(msg, TOO_LONG),
	   "example.com/ + 256-character path refused");
	err_free(&err);
	free(s);

	/* a bare name gets "library/": 247 characters make a 255-character path */
	s = xasprintf("%.247s", a);
	ok(parse_reason(s, &msg, &err) == 0, "247-character official name is valid");
	err_free(&err);
	free(s);
	s = xasprintf("%.248s", a);
	ok(parse_reason(s, &msg, &err) < 0 && strstr(msg, TOO_LONG),
	   "248-character official name refused (library/ makes 256)");
	err_free(&err);
	free(s);
	ok(parse_reason(a, &msg, &err) < 0 && strstr(msg, TOO_LONG), "256-character name refused");
	err_free(&err);

	/* tags: 128 characters at most */
	s = xasprintf("redis:%.128s", a);
	ok(reference_parse(s, &r, &err) == 0 && strlen(r.tag) == 128, "128-character tag is valid");
	reference_release(&r);
	err_free(&err);
	free(s);
	s = xasprintf("redis:%.129s", a);
	ok(parse_reason(s, &msg, &err) < 0 && strcmp(strrchr(msg, ':') + 2, FORMAT) == 0,
	   "129-character tag refused");
	err_free(&err);
	free(s);
	free(a);
}

static void test_api(void)
{
	struct reference r;
	err_t err = NULL;
	char *s;

	ok(reference_parse(NULL, &r, &err) < 0 && err && err->kind == E_INVALID_ARGUMENT,
	   "NULL is refused like the empty string");
	err_free(&err);

	ok(reference_parse("ghcr.io/o/r:v1@" D256, &r, &err) == 0, "parse a tagged digest");
	s = reference_name(&r);
	is_str(s, "ghcr.io/o/r", "reference_name drops tag and digest");
	free(s);
	s = reference_familiar_name(&r);
	is_str(s, "ghcr.io/o/r", "familiar name keeps a foreign domain");
	free(s);
	reference_release(&r);
	ok(!r.domain && !r.path && !r.tag && !r.digest, "release clears the struct");
	reference_release(&r);
	ok(1, "release twice is harmless");

	ok(reference_parse("docker.io/library/foo/bar:1", &r, &err) == 0, "parse nested library");
	s = reference_familiar_name(&r);
	is_str(s, "library/foo/bar", "nested library/ path keeps its prefix");
	free(s);
	s = reference_name(&r);
	is_str(s, "docker.io/library/foo/bar", "reference_name of a Hub image");
	free(s);
	reference_release(&r);

	ok(reference_parse("foo_bar.com/app", &r, &err) == 0, "parse a name without a host");
	s = reference_name(&r);
	is_str(s, "foo_bar.com/app", "an empty domain leaves no leading '/'");
	free(s);
	reference_release(&r);

	ok(reference_parse("Foo", &r, &err) < 0 && strstr(err->msg, "`Foo`"),
	   "the message names the input in backticks");
	err_free(&err);

	/* a Hub path whose first component reads as a host keeps docker.io/ in
	 * its familiar form, which must parse back to the same image (t/fuzz) */
	static const char *const hosty[][2] = {
		{ "docker.io/loc.io/lock", "docker.io/loc.io/lock:latest" },
		{ "docker.io/a:1/b", NULL }, /* not a valid path: a tag in the middle */
		{ "docker.io/localhost/x:v", "docker.io/localhost/x:v" },
		{ "docker.io/local/x", "local/x:latest" },
		{ "docker.io/library/foo.bar", "foo.bar:latest" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(hosty); i++) {
		if (reference_parse(hosty[i][0], &r, &err) < 0) {
			ok(!hosty[i][1], "`%s` is refused", hosty[i][0]);
			err_free(&err);
			continue;
		}
		s = reference_familiar(&r);
		is_str(s, hosty[i][1], "familiar form of `%s`", hosty[i][0]);
		struct reference r2;
		cleanup_free char *canon = reference_string(&r);
		cleanup_free char *again = NULL;
		if (reference_parse(s, &r2, &err) == 0) {
			again = reference_string(&r2);
			reference_release(&r2);
		}
		err_free(&err);
		is_str(again, canon, "`%s` parses back to `%s`", s, canon);
		free(s);
		reference_release(&r);
	}
}

/* reference_string() output parses back to itself (ParseNamed's canonical form). */
static void test_round_trip(void)
{
	size_t bad = 0;

	for (size_t i = 0; i < ARRAY_SIZE(valid_cases); i++) {
		struct reference r, r2;
		err_t err = NULL;
		char *s, *s2 = NULL;

		if (reference_parse(valid_cases[i].input, &r, &err) < 0) {
			err_free(&err);
			bad++;
			continue;
		}
		s = reference_string(&r);
		if (reference_parse(s, &r2, &err) == 0) {
			s2 = reference_string(&r2);
			reference_release(&r2);
		}
		if (!s2 || strcmp(s, s2) != 0) {
			diag("`%s` → `%s` → `%s`", valid_cases[i].input, s, s2 ? s2 : "(error)");
			bad++;
		}
		err_free(&err);
		free(s);
		free(s2);
		reference_release(&r);
	}
	is_int(bad, 0, "every normalised string parses back to itself");
}

/*
 * Random strings over the grammar's alphabet (fixed seed): a refusal leaves
 * the struct empty, an acceptance prints a string that parses back to itself.
 */
static void test_random(void)
{
	static const char alphabet[] = "aAf0:/@._-[]%";
	unsigned long long seed = 0x9e3779b97f4a7c15ULL;
	size_t accepted = 0, bad = 0;
	char in[48];

	for (int iter = 0; iter < 50000; iter++) {
		struct reference r, r2;
		err_t err = NULL;
		size_t n;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		n = (size_t)(seed >> 58) % sizeof(in);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			in[i] = alphabet[(seed >> 33) % (sizeof(alphabet) - 1)];
		}
		in[n] = '\0';
		if (reference_parse(in, &r, &err) < 0) {
			if (r.domain || r.path || r.tag || r.digest || !err)
				bad++;
			err_free(&err);
			continue;
		}
		accepted++;
		char *s = reference_string(&r), *s2 = NULL;
		if (reference_parse(s, &r2, &err) == 0) {
			s2 = reference_string(&r2);
			reference_release(&r2);
		}
		if (!s2 || strcmp(s, s2) != 0) {
			diag("`%s` → `%s` → `%s`", in, s, s2 ? s2 : "(error)");
			bad++;
		}
		err_free(&err);
		free(s);
		free(s2);
		reference_release(&r);
	}
	diag("%zu of 50000 random strings accepted", accepted);
	ok(accepted > 0 && bad == 0, "random strings: clean refusals and stable acceptances");
}

int main(void)
{
	plan_lazy();
	test_valid();
	test_invalid();
	test_lengths();
	test_api();
	test_round_trip();
	test_random();
	return done_testing();
}
