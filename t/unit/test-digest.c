/* Unit tests for core/digest.c: validation and sha256 hashing. */
#include "config.h"

#include <string.h>

#include "core/digest.h"
#include "tap.h"

#define EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/* FIPS 180-2's second message: 448 bits */
#define TWO_BLOCKS "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"

static void valid(const char *d, const char *title)
{
	err_t err = NULL;
	ok(digest_validate(d, &err) == 0 && !err, "valid: %s", title);
	err_free(&err);
}

/* Invalid, with E_INVALID_ARGUMENT and a message holding `want`. */
static void invalid(const char *d, const char *want, const char *title)
{
	err_t err = NULL;
	int r = digest_validate(d, &err);
	ok(r < 0 && err && err->kind == E_INVALID_ARGUMENT && strstr(err->msg, want),
	   "invalid: %s", title);
	if (err && !strstr(err->msg, want))
		diag("message: %s", err->msg);
	err_free(&err);
}

int main(void)
{
	plan_lazy();
	char out[DIGEST_STRLEN + 1];

	digest_buffer("", 0, out);
	is_str(out, EMPTY, "sha256 of the empty string");
	digest_buffer("abc", 3, out);
	is_str(out, ABC, "sha256 of abc");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	digest_buffer(two, strlen(two), out);
	is_str(out, TWO_BLOCKS, "sha256 of the two-block FIPS vector");

	struct hasher *h = hasher_new();
	hasher_final(h, out);
	is_str(out, EMPTY, "a hasher fed nothing gives the empty digest");
	hasher_reset(h);
	hasher_update(h, "a", 1);
	hasher_update(h, "", 0);
	hasher_update(h, "bc", 2);
	hasher_final(h, out);
	is_str(out, ABC, "abc fed in pieces");

	/* 1 MiB fed in odd-sized chunks equals the one-shot digest */
	size_t n = (size_t)1 << 20;
	unsigned char *big = xmalloc(n);
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		big[i] = (unsigned char)(x >> 16);
	}
	char once[DIGEST_STRLEN + 1];
	digest_buffer(big, n, once);
	hasher_reset(h);
	static const size_t sizes[] = { 1, 7, 63, 64, 65, 4093, 65537, 3 };
	size_t off = 0;
	for (size_t i = 0; off < n; i++) {
		size_t len = sizes[i % ARRAY_SIZE(sizes)];
		if (len > n - off)
			len = n - off;
		hasher_update(h, big + off, len);
		off += len;
	}
	hasher_final(h, out);
	is_str(out, once, "1 MiB in odd chunks equals one shot");
	ok(strcmp(once, EMPTY) != 0 && strlen(once) == DIGEST_STRLEN, "and is a real digest");
	big[n / 2] ^= 1;
	digest_buffer(big, n, out);
	ok(strcmp(out, once) != 0, "one flipped bit changes the digest");
	free(big);
	hasher_free(h);
	hasher_free(NULL);

	valid(EMPTY, "sha256 of the empty string");
	valid(ABC, "sha256 of abc");
	invalid(NULL, "must not be empty", "NULL");
	invalid("", "must not be empty", "empty string");
	invalid("sha256", "algorithm:encoded", "no colon");
	invalid(":abc", "algorithm:encoded", "no algorithm");
	invalid("sha256:", "algorithm:encoded", "no encoded part");
	invalid("SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"algorithm:encoded", "upper-case algorithm");
	invalid("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
		"64 lowercase hex", "upper-case hex");
	invalid("sha256:XYZ", "64 lowercase hex", "not hex");
	invalid("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
		"64 lowercase hex", "63 digits");
	invalid("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0",
		"64 lowercase hex", "65 digits");
	invalid("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a/",
		"algorithm:encoded", "a slash");
	invalid("md5:d41d8cd98f00b204e9800998ecf8427e", "only sha256", "md5");
	invalid("sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d8"
		"5f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
		"only sha256", "sha512");
	invalid("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", "only sha256",
		"a registered-looking algorithm with a separator");
	invalid("sha256..x:abc", "algorithm:encoded", "two separators in a row");
	invalid("sha256 :abc", "algorithm:encoded", "a space");

	is_str(digest_hex(ABC), ABC + 7, "digest_hex is the part after the colon");
	return done_testing();
}
