#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "remotes/reference.h"

/*
 * A hand-written scanner for the grammar of distribution/reference
 * (regexp.go), with ParseNormalizedNamed, Parse and TagNameOnly of
 * normalize.go and reference.go on top. Each matcher below names the
 * production it implements; where Go's leftmost-first submatch rules decide
 * a split, the comment says why the split here is the same.
 *
 * Where berth differs, on purpose:
 *  - "" is refused with Parse's "at least one component" (ParseNormalizedNamed
 *    itself would say "invalid reference format");
 *  - lowercase checks are ASCII: a non-ASCII letter is a format error, not an
 *    uppercase one (both refuse);
 *  - digests are checked as go-digest with sha256, sha384 and sha512 linked,
 *    as in containerd; what the content store accepts is digest_validate()'s
 *    business, where the digest is used.
 */

#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DEFAULT_DOMAIN "index.docker.io"
#define OFFICIAL_REPO_PREFIX "library/"
#define DEFAULT_TAG "latest"
#define NAME_TOTAL_LENGTH_MAX 255
#define TAG_LENGTH_MAX 128

/* The package's error strings; reference_parse() prefixes the input. */
enum reason {
	REF_OK = 0,
	REF_FORMAT,
	REF_UPPERCASE,
	REF_EMPTY,
	REF_TOO_LONG,
	REF_IDENTIFIER,
	REF_DIGEST_FORMAT,
	REF_DIGEST_LENGTH,
	REF_DIGEST_UNSUPPORTED,
};

static const char *const reasons[] = {
	[REF_OK] = "",
	[REF_FORMAT] = "invalid reference format",
	[REF_UPPERCASE] = "invalid reference format: repository name must be lowercase",
	[REF_EMPTY] = "repository name must have at least one component",
	[REF_TOO_LONG] = "repository name must not be more than 255 characters",
	[REF_IDENTIFIER] = "invalid repository name, cannot specify 64-byte hexadecimal strings",
	[REF_DIGEST_FORMAT] = "invalid checksum digest format",
	[REF_DIGEST_LENGTH] = "invalid checksum digest length",
	[REF_DIGEST_UNSUPPORTED] = "unsupported digest algorithm",
};

/* A piece of the string being parsed; n == 0 means absent. */
struct span {
	size_t off, n;
};

struct parsed {
	struct span domain, path, tag, digest;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_alpha(char c)
{
	return is_lower(c) || is_upper(c);
}

static bool is_alnum(char c)
{
	return is_alpha(c) || is_digit(c);
}

static bool is_lower_alnum(char c)
{
	return is_lower(c) || is_digit(c);
}

static bool is_xdigit(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Go's \w: ASCII letters, digits and underscore. */
static bool is_word(char c)
{
	return is_alnum(c) || c == '_';
}

static bool has_upper(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (is_upper(s[i]))
			return true;
	return false;
}

/* path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )* */
static bool path_component_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_lower_alnum(s[0]))
		return false;
	for (;;) {
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			return true;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		/* a separator is always followed by an alphanumeric run */
		if (i == n || !is_lower_alnum(s[i]))
			return false;
	}
}

/* remote-name := path-component ( "/" path-component )* */
static bool remote_name_ok(const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '/')
			continue;
		if (!path_component_ok(s + start, i - start))
			return false;
		start = i + 1;
	}
	return true;
}

/* domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool domain_component_ok(const char *s, size_t n)
{
	if (n == 0 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/*
 * domainAndPort := ( domain-component ( "." domain-component )*
 *                  | "[" [a-fA-F0-9:]+ "]" ) ( ":" [0-9]+ )?
 * A domain name holds no ':' and an IPv6 literal no ']', so the port
 * separator is the first ':' after the host.
 */
static bool domain_ok(const char *s, size_t n)
{
	size_t host_end;

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close || close == s + 1)
			return false;
		host_end = (size_t)(close - s);
		for (size_t i = 1; i < host_end; i++)
			if (!is_xdigit(s[i]) && s[i] != ':')
				return false;
		host_end++;
	} else {
		const char *colon = memchr(s, ':', n);
		size_t start = 0;
		host_end = colon ? (size_t)(colon - s) : n;
		for (size_t i = 0; i <= host_end; i++) {
			if (i < host_end && s[i] != '.')
				continue;
			if (!domain_component_ok(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	if (host_end == n)
		return true;
	if (s[host_end] != ':' || host_end + 1 == n)
		return false;
	for (size_t i = host_end + 1; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

/* tag := [\w][\w.-]{0,127} */
static bool tag_ok(const char *s, size_t n)
{
	if (n == 0 || n > TAG_LENGTH_MAX || !is_word(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_word(s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/*
 * The digest production of the reference grammar (digestPat):
 *   [A-Za-z][A-Za-z0-9]* ( [-_+.] [A-Za-z][A-Za-z0-9]* )* ":" [[:xdigit:]]{32,}
 */
static bool digest_pattern_ok(const char *s, size_t n)
{
	size_t i = 0;

	for (;;) {
		if (i == n || !is_alpha(s[i]))
			return false;
		while (i < n && is_alnum(s[i]))
			i++;
		if (i < n && (s[i] == '-' || s[i] == '_' || s[i] == '+' || s[i] == '.')) {
			i++;
			continue;
		}
		break;
	}
	if (i == n || s[i] != ':')
		return false;
	i++;
	if (n - i < 32)
		return false;
	for (; i < n; i++)
		if (!is_xdigit(s[i]))
			return false;
	return true;
}

/* go-digest's DigestRegexp: [a-z0-9]+([.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+ */
static bool go_digest_pattern_ok(const char *s, size_t n)
{
	size_t i = 0;

	for (;;) {
		size_t start = i;
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == start)
			return false;
		if (i < n && (s[i] == '.' || s[i] == '+' || s[i] == '_' || s[i] == '-')) {
			i++;
			continue;
		}
		break;
	}
	if (i == n || s[i] != ':' || i + 1 == n)
		return false;
	for (i++; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '=' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/*
 * go-digest's Digest.Validate with the algorithms containerd links in
 * (crypto/sha256 and crypto/sha512): the hex part must have exactly twice
 * the hash size in lowercase hex. Whether berth can store such content is
 * decided where digests are used (digest_validate), not here.
 */
static enum reason digest_check(const char *s, size_t n)
{
	static const struct {
		const char *name;
		size_t hex_len;
	} algorithms[] = {
		{ "sha256", 64 },
		{ "sha384", 96 },
		{ "sha512", 128 },
	};
	const char *colon = memchr(s, ':', n);
	size_t alg_len, hex_len;
	const char *hex;

	if (!colon || colon == s || colon + 1 == s + n)
		return REF_DIGEST_FORMAT;
	alg_len = (size_t)(colon - s);
	hex = colon + 1;
	hex_len = n - alg_len - 1;
	for (size_t a = 0; a < ARRAY_SIZE(algorithms); a++) {
		if (strlen(algorithms[a].name) != alg_len ||
		    memcmp(algorithms[a].name, s, alg_len) != 0)
			continue;
		if (hex_len != algorithms[a].hex_len)
			return REF_DIGEST_LENGTH;
		for (size_t i = 0; i < hex_len; i++)
			if (!is_digit(hex[i]) && !(hex[i] >= 'a' && hex[i] <= 'f'))
				return REF_DIGEST_FORMAT;
		return REF_OK;
	}
	return go_digest_pattern_ok(s, n) ? REF_DIGEST_UNSUPPORTED : REF_DIGEST_FORMAT;
}

/*
 * name := [ domainAndPort "/" ] remote-name
 * The domain holds no '/' and must be followed by one, so it can only be
 * the first component. Go's optional group is greedy: when the first
 * component is a valid domain and the rest a valid remote name, it is the
 * domain ("a/b" has domain "a"); otherwise the whole name is the path.
 */
static bool name_match(const char *s, size_t n, struct parsed *m)
{
	const char *slash = memchr(s, '/', n);

	if (slash) {
		size_t d = (size_t)(slash - s);
		if (domain_ok(s, d) && remote_name_ok(slash + 1, n - d - 1)) {
			m->domain = (struct span){ 0, d };
			m->path = (struct span){ d + 1, n - d - 1 };
			return true;
		}
	}
	if (!remote_name_ok(s, n))
		return false;
	m->domain = (struct span){ 0, 0 };
	m->path = (struct span){ 0, n };
	return true;
}

/*
 * reference := name [ ":" tag ] [ "@" digest ]
 * Neither name, tag nor digest holds '@', so the digest follows the first
 * '@'. The tag holds no '/' and the name's last component no ':', so the
 * tag follows the first ':' after the last '/' of what precedes the '@'.
 */
static bool reference_match(const char *s, size_t n, struct parsed *m)
{
	const char *at = memchr(s, '@', n);
	size_t left = at ? (size_t)(at - s) : n;
	size_t last_slash = 0, name_len;
	const char *colon;

	memset(m, 0, sizeof(*m));
	if (at) {
		size_t d = n - left - 1;
		if (!digest_pattern_ok(at + 1, d))
			return false;
		m->digest = (struct span){ left + 1, d };
	}
	for (size_t i = 0; i < left; i++)
		if (s[i] == '/')
			last_slash = i + 1;
	colon = memchr(s + last_slash, ':', left - last_slash);
	name_len = colon ? (size_t)(colon - s) : left;
	if (colon) {
		size_t t = left - name_len - 1;
		if (!tag_ok(colon + 1, t))
			return false;
		m->tag = (struct span){ name_len + 1, t };
	}
	return name_match(s, name_len, m);
}

/* The package's Parse: match, then the length and digest checks. */
static enum reason parse_plain(const char *s, struct parsed *m)
{
	size_t n = strlen(s);

	if (n == 0)
		return REF_EMPTY;
	if (!reference_match(s, n, m)) {
		enum reason r = REF_FORMAT;
		if (has_upper(s, n)) {
			cleanup_free char *lower = xstrdup(s);
			struct parsed unused;
			for (size_t i = 0; i < n; i++)
				if (is_upper(lower[i]))
					lower[i] = (char)(lower[i] - 'A' + 'a');
			if (reference_match(lower, n, &unused))
				r = REF_UPPERCASE;
		}
		return r;
	}
	if (m->path.n > NAME_TOTAL_LENGTH_MAX)
		return REF_TOO_LONG;
	if (m->digest.n)
		return digest_check(s + m->digest.off, m->digest.n);
	return REF_OK;
}

/* identifier := [a-f0-9]{64}, refused as a name to avoid confusion with image ids */
static bool is_identifier(const char *s)
{
	size_t n = strlen(s);

	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

/*
 * splitDockerDomain: the first component is a registry when it is
 * `localhost`, contains '.' or ':', or has an uppercase letter (namespaces
 * are lowercase); otherwise the reference lives on Docker Hub, where a
 * single-component path gets the "library/" prefix. Returns the canonical
 * string "domain/remainder" to hand to the plain parser, and in *remainder
 * the offset of the remainder within it.
 */
static char *split_docker_domain(const char *s, size_t *remainder)
{
	const char *slash = strchr(s, '/');
	const char *domain = s, *rest;
	bool hub = false;
	size_t n;

	if (!slash) {
		*remainder = strlen(DEFAULT_DOMAIN) + 1;
		return xasprintf("%s/%s%s", DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX, s);
	}
	n = (size_t)(slash - s);
	rest = slash + 1;
	if (n == strlen("localhost") && strncmp(s, "localhost", n) == 0) {
		/* always a registry */
	} else if (n == strlen(LEGACY_DEFAULT_DOMAIN) && strncmp(s, LEGACY_DEFAULT_DOMAIN, n) == 0) {
		hub = true;
	} else if (memchr(s, '.', n) || memchr(s, ':', n) || has_upper(s, n)) {
		/* a host name, an address or a port */
	} else {
		hub = true;
		rest = s;
	}
	if (hub) {
		domain = DEFAULT_DOMAIN;
		n = strlen(DEFAULT_DOMAIN);
	}
	*remainder = n + 1;
	if (n == strlen(DEFAULT_DOMAIN) && strncmp(domain, DEFAULT_DOMAIN, n) == 0 &&
	    !strchr(rest, '/'))
		return xasprintf("%.*s/%s%s", (int)n, domain, OFFICIAL_REPO_PREFIX, rest);
	return xasprintf("%.*s/%s", (int)n, domain, rest);
}

static char *span_dup(const char *s, struct span sp)
{
	return xstrndup(s + sp.off, sp.n);
}

/* ParseNormalizedNamed followed by TagNameOnly. */
static enum reason parse_normalized(const char *s, struct reference *out)
{
	cleanup_free char *full = NULL;
	struct parsed m;
	size_t rem, remote_len;
	const char *colon;
	enum reason r;

	if (*s == '\0')
		return REF_EMPTY;
	if (is_identifier(s))
		return REF_IDENTIFIER;
	full = split_docker_domain(s, &rem);
	/* the repository part of the remainder, before any ':' */
	colon = strchr(full + rem, ':');
	remote_len = colon ? (size_t)(colon - (full + rem)) : strlen(full + rem);
	if (has_upper(full + rem, remote_len))
		return REF_UPPERCASE;
	r = parse_plain(full, &m);
	if (r != REF_OK)
		return r;
	out->domain = span_dup(full, m.domain);
	out->path = span_dup(full, m.path);
	if (m.tag.n)
		out->tag = span_dup(full, m.tag);
	if (m.digest.n)
		out->digest = span_dup(full, m.digest);
	if (!out->tag && !out->digest)
		out->tag = xstrdup(DEFAULT_TAG);
	return REF_OK;
}

int reference_parse(const char *s, struct reference *out, err_t *err)
{
	enum reason r;

	memset(out, 0, sizeof(*out));
	if (!s)
		s = "";
	r = parse_normalized(s, out);
	if (r == REF_OK)
		return 0;
	reference_release(out);
	return make_error(err, E_INVALID_ARGUMENT, 0, "reference `%s`: %s", s, reasons[r]);
}

void reference_release(struct reference *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

/* domain/path, or path alone when the domain is empty (as the package's Name). */
static void add_name(struct buf *b, const char *domain, const char *path)
{
	if (domain && *domain)
		buf_addf(b, "%s/", domain);
	buf_adds(b, path);
}

static void add_suffix(struct buf *b, const struct reference *r)
{
	if (r->tag)
		buf_addf(b, ":%s", r->tag);
	if (r->digest)
		buf_addf(b, "@%s", r->digest);
}

char *reference_string(const struct reference *r)
{
	struct buf b = BUF_INIT;

	add_name(&b, r->domain, r->path);
	add_suffix(&b, r);
	return buf_detach(&b, NULL);
}

char *reference_name(const struct reference *r)
{
	struct buf b = BUF_INIT;

	add_name(&b, r->domain, r->path);
	return buf_detach(&b, NULL);
}

char *reference_familiar_name(const struct reference *r)
{
	struct buf b = BUF_INIT;
	const char *path = r->path;

	if (r->domain && strcmp(r->domain, DEFAULT_DOMAIN) == 0) {
		/* official images only: "library/foo/bar" keeps its prefix */
		size_t pre = strlen(OFFICIAL_REPO_PREFIX);
		if (strncmp(path, OFFICIAL_REPO_PREFIX, pre) == 0 && !strchr(path + pre, '/'))
			path += pre;
		/* a first component that reads as a host ("docker.io/loc.io/x")
		 * keeps the domain: without it the name means another registry
		 * (distribution's FamiliarString drops it; found by t/fuzz) */
		size_t first = strcspn(path, "/");
		if (path[first] == '/' && (memchr(path, '.', first) || memchr(path, ':', first) ||
					   (first == 9 && strncmp(path, "localhost", 9) == 0)))
			buf_addf(&b, "%s/", DEFAULT_DOMAIN);
		buf_adds(&b, path);
	} else {
		add_name(&b, r->domain, path);
	}
	return buf_detach(&b, NULL);
}

char *reference_familiar(const struct reference *r)
{
	struct buf b = BUF_INIT;
	cleanup_free char *name = reference_familiar_name(r);

	buf_adds(&b, name);
	add_suffix(&b, r);
	return buf_detach(&b, NULL);
}
