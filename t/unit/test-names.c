/* Unit tests for core/names.c: namespace names, identifiers, topics, labels. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/names.h"
#include "tap.h"

/* A string of n copies of c (the caller frees). */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static bool ns_ok(const char *name)
{
	err_t err = NULL;
	int r = name_validate_namespace(name, &err);
	bool good = r == 0 && err == NULL;
	if (r < 0 && (!err || err->kind != E_INVALID_ARGUMENT))
		diag("namespace `%s`: failure without an invalid_argument error", name);
	err_free(&err);
	return good;
}

static bool id_ok(const char *name)
{
	err_t err = NULL;
	int r = name_validate_identifier("container id", name, &err);
	err_free(&err);
	return r == 0;
}

static bool topic_ok(const char *topic)
{
	err_t err = NULL;
	int r = name_validate_topic(topic, &err);
	err_free(&err);
	return r == 0;
}

static bool label_ok(const char *key, const char *value)
{
	err_t err = NULL;
	int r = name_validate_label(key, value, &err);
	err_free(&err);
	return r == 0;
}

static void test_namespaces(void)
{
	ok(ns_ok("default"), "default is valid");
	ok(ns_ok("k8s.io"), "dots inside are valid");
	ok(ns_ok("a"), "one character is valid");
	ok(ns_ok("a_b-c.d"), "_ - . inside are valid");
	ok(ns_ok("0abc9"), "digits at the edges are valid");
	ok(!ns_ok(""), "empty is invalid");
	ok(!ns_ok(NULL), "NULL is invalid");
	ok(!ns_ok("-abc"), "leading - is invalid");
	ok(!ns_ok("abc-"), "trailing - is invalid");
	ok(!ns_ok(".abc"), "leading . is invalid");
	ok(!ns_ok("abc_"), "trailing _ is invalid");
	ok(!ns_ok("Default"), "uppercase is invalid");
	ok(!ns_ok(".."), "`..` is invalid");
	ok(!ns_ok("."), "`.` is invalid");
	ok(!ns_ok("a/b"), "a slash is invalid");
	ok(!ns_ok("../etc"), "a path escape is invalid");
	ok(!ns_ok("a b"), "a space is invalid");
	ok(!ns_ok("caf\xc3\xa9"), "non-ASCII is invalid");

	char *s76 = repeat('a', 76), *s77 = repeat('a', 77);
	ok(ns_ok(s76), "76 characters are valid");
	ok(!ns_ok(s77), "77 characters are invalid");
	err_t err = NULL;
	name_validate_namespace(s77, &err);
	ok(err && strstr(err->msg, "longer than 76 characters"), "length message: %s",
	   err ? err->msg : "(none)");
	err_free(&err);
	free(s76);
	free(s77);

	name_validate_namespace("Bad", &err);
	ok(err && err->kind == E_INVALID_ARGUMENT && strstr(err->msg, "`Bad`"),
	   "the message names the value in backticks: %s", err ? err->msg : "(none)");
	err_free(&err);
}

static void test_identifiers(void)
{
	ok(id_ok("redis"), "lowercase identifier");
	ok(id_ok("Redis-1.2_x"), "uppercase and separators inside");
	ok(!id_ok(""), "empty identifier");
	ok(!id_ok(NULL), "NULL identifier");
	ok(!id_ok("_x"), "leading _");
	ok(!id_ok("x."), "trailing .");
	ok(!id_ok("a/b"), "slash in an identifier");
	ok(!id_ok(".."), "`..` as an identifier");
	char *s76 = repeat('Z', 76), *s77 = repeat('Z', 77);
	ok(id_ok(s76) && !id_ok(s77), "identifiers stop at 76 characters");
	free(s76);
	free(s77);

	err_t err = NULL;
	name_validate_identifier("lease id", "", &err);
	is_str(err ? err->msg : NULL, "lease id must not be empty", "the message names what");
	err_free(&err);
}

static void test_topics(void)
{
	ok(topic_ok("/tasks/create"), "two components");
	ok(topic_ok("/a"), "one component");
	ok(topic_ok("/images/update_2.x-y"), "allowed characters");
	ok(!topic_ok(""), "empty topic");
	ok(!topic_ok(NULL), "NULL topic");
	ok(!topic_ok("/"), "a lone slash");
	ok(!topic_ok("tasks/create"), "no leading slash");
	ok(!topic_ok("//tasks"), "empty first component");
	ok(!topic_ok("/tasks//create"), "empty middle component");
	ok(!topic_ok("/tasks/"), "trailing slash");
	ok(!topic_ok("/tasks create"), "a space");
	ok(!topic_ok("/tasks/*"), "a wildcard");
	char *t = repeat('a', 255);
	t[0] = '/';
	ok(topic_ok(t), "255 bytes are valid");
	free(t);
	t = repeat('a', 256);
	t[0] = '/';
	ok(!topic_ok(t), "256 bytes are invalid");
	free(t);
}

static void test_labels(void)
{
	ok(label_ok("com.example/key", "value"), "a plain label");
	ok(label_ok("k", ""), "an empty value");
	ok(label_ok("k", NULL), "a NULL value counts as empty");
	ok(label_ok("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3", "v"), "multi-byte UTF-8 key");
	ok(!label_ok("", "v"), "empty key");
	ok(!label_ok(NULL, "v"), "NULL key");
	ok(!label_ok("a\nb", "v"), "newline in the key");
	ok(!label_ok("a\x7f", "v"), "DEL in the key");
	ok(!label_ok("\xff", "v"), "a byte that is never UTF-8");
	ok(!label_ok("a\xc3", "v"), "a truncated sequence");
	ok(!label_ok("\xc0\xaf", "v"), "an overlong two-byte sequence");
	ok(!label_ok("\xe0\x80\xaf", "v"), "an overlong three-byte sequence");
	ok(!label_ok("\xed\xa0\x80", "v"), "a UTF-16 surrogate");
	ok(!label_ok("\xf4\x90\x80\x80", "v"), "a code point above U+10FFFF");
	ok(!label_ok("a\x80", "v"), "a stray continuation byte");

	char *k = repeat('k', 4000), *v96 = repeat('v', 96), *v97 = repeat('v', 97);
	ok(label_ok(k, v96), "key + value of exactly 4096 bytes");
	ok(!label_ok(k, v97), "key + value of 4097 bytes");
	free(k);
	k = repeat('k', 4097);
	ok(!label_ok(k, ""), "a 4097-byte key alone");
	err_t err = NULL;
	name_validate_label(k, "", &err);
	ok(err && strlen(err->msg) < 200 && strstr(err->msg, "4096"),
	   "the message does not echo the whole key: %.100s", err ? err->msg : "(none)");
	err_free(&err);
	free(k);
	free(v96);
	free(v97);
}

int main(void)
{
	plan_lazy();
	test_namespaces();
	test_identifiers();
	test_topics();
	test_labels();
	return done_testing();
}
