#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/digest.h"

struct hasher {
	EVP_MD_CTX *ctx;
};

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* The OCI grammar: algorithm := component (separator component)*,
 * component := [a-z0-9]+, separator := [+._-]. */
static bool algorithm_ok(const char *s, size_t len)
{
	if (len == 0)
		return false;
	bool need = true; /* a component character must come next */
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (is_lower_alnum(c)) {
			need = false;
			continue;
		}
		if (need || !strchr("+._-", c))
			return false;
		need = true;
	}
	return !need;
}

/* encoded := [a-zA-Z0-9=_-]+ */
static bool encoded_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_lower_alnum(*s) && !(*s >= 'A' && *s <= 'Z') && !strchr("=_-", *s))
			return false;
	return true;
}

int digest_validate(const char *digest, err_t *err)
{
	if (!digest || !*digest)
		return make_error(err, E_INVALID_ARGUMENT, 0, "digest must not be empty");
	const char *colon = strchr(digest, ':');
	if (!colon || !algorithm_ok(digest, (size_t)(colon - digest)) || !encoded_ok(colon + 1))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "invalid digest `%.100s`: must be `algorithm:encoded` "
				  "(sha256:<64 hex digits>)",
				  digest);
	if ((size_t)(colon - digest) != 6 || strncmp(digest, "sha256", 6) != 0)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "unsupported digest algorithm `%.*s` in `%.100s`: only sha256 is "
				  "supported",
				  (int)(colon - digest > 32 ? 32 : colon - digest), digest, digest);
	const char *hex = colon + 1;
	size_t n = strlen(hex);
	bool ok = n == 64;
	for (size_t i = 0; ok && i < n; i++)
		ok = (hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f');
	if (!ok)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "invalid digest `%.100s`: a sha256 digest is 64 lowercase hex "
				  "digits",
				  digest);
	return 0;
}

const char *digest_hex(const char *digest)
{
	const char *colon = strchr(digest, ':');
	return colon ? colon + 1 : digest;
}

static void format_digest(const unsigned char *md, char out[DIGEST_STRLEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	memcpy(out, DIGEST_SHA256_PREFIX, 7);
	for (int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[DIGEST_STRLEN] = '\0';
}

static void abort_openssl(const char *what)
{
	/* only on allocation failure inside OpenSSL: as xmalloc does */
	fprintf(stderr, "berth: OpenSSL %s failed\n", what);
	abort();
}

struct hasher *hasher_new(void)
{
	struct hasher *h = xzalloc(sizeof(*h));
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		abort_openssl("sha256 init");
	return h;
}

void hasher_update(struct hasher *h, const void *data, size_t len)
{
	if (len && EVP_DigestUpdate(h->ctx, data, len) != 1)
		abort_openssl("sha256 update");
}

void hasher_final(struct hasher *h, char out[DIGEST_STRLEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (EVP_DigestFinal_ex(h->ctx, md, &len) != 1 || len != 32)
		abort_openssl("sha256 final");
	format_digest(md, out);
}

void hasher_reset(struct hasher *h)
{
	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		abort_openssl("sha256 init");
}

void hasher_free(struct hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void digest_buffer(const void *data, size_t len, char out[DIGEST_STRLEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		abort_openssl("sha256 digest");
	format_digest(md, out);
}
