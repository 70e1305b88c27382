/* Unit tests for core/json.c: request body parsing, field checks, label patches. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "tap.h"

static const struct json_field fields[] = {
    {"name", JF_STRING, true},
    {"size", JF_UINT},
    {"offset", JF_INTEGER},
    {"ratio", JF_NUMBER},
    {"enabled", JF_BOOL},
    {"args", JF_ARRAY},
    {"options", JF_OBJECT},
    {"labels", JF_LABELS},
    {"patch", JF_LABELS_PATCH},
    {"extra", JF_ANY},
    {NULL},
};

/* Parse text and check it against fields; returns the error message or
 * "ok" (a static copy). */
static const char *check(const char *text)
{
	static char out[512];
	err_t err = NULL;
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j) {
		snprintf(out, sizeof(out), "bad test JSON: %s", je.text);
		return out;
	}
	if (json_check_object(j, "request body", fields, &err) == 0)
		snprintf(out, sizeof(out), "%s", err ? "ok but err set" : "ok");
	else
		snprintf(out, sizeof(out), "%s%s", err ? err->msg : "(no error set)",
			 err && err->kind != E_INVALID_ARGUMENT ? " (wrong kind)" : "");
	err_free(&err);
	json_decref(j);
	return out;
}

static void test_parse_body(void)
{
	err_t err = NULL;
	json_t *j = json_parse_body("", 0, &err);
	ok(json_is_object(j) && json_object_size(j) == 0 && !err, "empty body is {}");
	json_decref(j);

	const char *body = "{\"a\":1}";
	j = json_parse_body(body, strlen(body), &err);
	ok(json_is_object(j) && json_integer_value(json_object_get(j, "a")) == 1, "an object");
	json_decref(j);

	body = "{\"a\":1} trailing";
	j = json_parse_body(body, 7, &err);
	ok(j != NULL, "only len bytes are read");
	json_decref(j);

	const char *bad[] = {"{", "{\"a\":}", "{\"a\":1} x", "nul", "{'a':1}", "{\"a\":\"\xff\"}"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		j = json_parse_body(bad[i], strlen(bad[i]), &err);
		ok(!j && err && err->kind == E_INVALID_ARGUMENT &&
		       strncmp(err->msg, "malformed JSON body at line 1", 29) == 0,
		   "malformed body `%s`: %s", bad[i], err ? err->msg : "(none)");
		err_free(&err);
	}

	const char *notobj[] = {"[1,2]", "[]"};
	for (size_t i = 0; i < ARRAY_SIZE(notobj); i++) {
		j = json_parse_body(notobj[i], strlen(notobj[i]), &err);
		ok(!j && err && strcmp(err->msg, "request body must be a JSON object") == 0,
		   "top level `%s` is not an object", notobj[i]);
		err_free(&err);
	}
	const char *scalars[] = {"\"s\"", "42", "null", "true"};
	for (size_t i = 0; i < ARRAY_SIZE(scalars); i++) {
		j = json_parse_body(scalars[i], strlen(scalars[i]), &err);
		ok(!j && err && err->kind == E_INVALID_ARGUMENT,
		   "top level scalar `%s` is rejected", scalars[i]);
		err_free(&err);
	}

	body = "{\"a\":1,\"a\":2}";
	j = json_parse_body(body, strlen(body), &err);
	ok(!j && err && strstr(err->msg, "duplicate"), "duplicate keys are rejected: %s",
	   err ? err->msg : "(none)");
	err_free(&err);

	body = "{\"a\":{\"b\":1,\"b\":1}}";
	j = json_parse_body(body, strlen(body), &err);
	ok(!j && err, "duplicate keys in a nested object are rejected");
	err_free(&err);
}

static void test_check_object(void)
{
	is_str(check("{\"name\":\"x\"}"), "ok", "required field only");
	is_str(check("{\"name\":\"x\",\"size\":0,\"offset\":-5,\"ratio\":1.5,\"enabled\":true,"
		     "\"args\":[],\"options\":{},\"labels\":{\"a\":\"b\"},\"extra\":[1]}"),
	       "ok", "every type accepted");
	is_str(check("{\"name\":\"x\",\"bogus\":1}"), "request body: unknown field `bogus`",
	       "unknown field");
	is_str(check("{\"name\":5}"), "request body: field `name` must be a string",
	       "wrong type: number for string");
	is_str(check("{\"name\":\"x\",\"enabled\":\"yes\"}"),
	       "request body: field `enabled` must be a boolean", "wrong type: string for bool");
	is_str(check("{\"name\":\"x\",\"args\":{}}"), "request body: field `args` must be an array",
	       "wrong type: object for array");
	is_str(check("{\"name\":\"x\",\"offset\":1.5}"),
	       "request body: field `offset` must be an integer", "real for integer");
	is_str(check("{\"name\":\"x\",\"ratio\":3}"), "ok", "an integer is a number");
	is_str(check("{}"), "request body: missing required field `name`", "required missing");
	is_str(check("{\"name\":null}"), "request body: missing required field `name`",
	       "null required field is missing");
	is_str(check("{\"name\":\"x\",\"size\":null,\"labels\":null,\"options\":null}"), "ok",
	       "null is treated as absent");
	is_str(check("{\"name\":\"x\",\"size\":-1}"),
	       "request body: field `size` must be a non-negative integer", "JF_UINT negative");
	is_str(check("{\"name\":\"x\",\"size\":1.0}"),
	       "request body: field `size` must be a non-negative integer", "JF_UINT real");
	is_str(check("{\"name\":\"x\",\"labels\":{\"a\":1}}"),
	       "request body: field `labels`: label `a` must have a string value",
	       "JF_LABELS with a non-string value");
	is_str(check("{\"name\":\"x\",\"labels\":{\"a\":null}}"),
	       "request body: field `labels`: label `a` must have a string value",
	       "JF_LABELS does not take null values");
	is_str(check("{\"name\":\"x\",\"labels\":[\"a\"]}"),
	       "request body: field `labels` must be an object of strings", "JF_LABELS array");
	is_str(check("{\"name\":\"x\",\"labels\":{\"\":\"v\"}}"),
	       "request body: field `labels`: label key must not be empty", "empty label key");
	is_str(check("{\"name\":\"x\",\"patch\":{\"a\":null,\"b\":\"c\"}}"), "ok",
	       "JF_LABELS_PATCH takes null values");
	is_str(check("{\"name\":\"x\",\"patch\":{\"a\":true}}"),
	       "request body: field `patch`: label `a` must have a string value",
	       "JF_LABELS_PATCH rejects other values");
	is_str(check("{\"name\":\"x\",\"extra\":null}"), "ok", "JF_ANY takes null");

	/* a label over the 4096-byte limit */
	json_t *j = json_pack("{s:s, s:{s:s}}", "name", "x", "labels", "k", "v");
	char *big = malloc(4097);
	memset(big, 'v', 4096);
	big[4096] = '\0';
	json_object_set_new(json_object_get(j, "labels"), "k", json_string(big));
	err_t err = NULL;
	ok(json_check_object(j, "request body", fields, &err) < 0 && err &&
	       strstr(err->msg, "longer than 4096 bytes"),
	   "a label over 4096 bytes is rejected: %s", err ? err->msg : "(none)");
	err_free(&err);
	free(big);
	json_decref(j);

	j = json_array();
	ok(json_check_object(j, "`auth`", fields, &err) < 0 && err &&
	       strcmp(err->msg, "`auth` must be a JSON object") == 0,
	   "a non-object is rejected with its name");
	err_free(&err);
	json_decref(j);

	static const struct json_field any_required[] = {{"v", JF_ANY, true}, {NULL}};
	j = json_pack("{s:n}", "v");
	ok(json_check_object(j, "body", any_required, &err) == 0,
	   "a null JF_ANY counts as present for required: %s", err ? err->msg : "ok");
	err_free(&err);
	json_decref(j);
}

static void test_labels_merge(void)
{
	json_t *dst = json_pack("{s:s, s:s, s:s}", "a", "1", "b", "2", "keep", "k");
	json_t *patch = json_pack("{s:n, s:s, s:s, s:n}", "a", "b", "x", "c", "3", "nope");
	json_labels_merge(dst, patch);
	char *s = json_dumps(dst, JSON_COMPACT | JSON_SORT_KEYS);
	is_str(s, "{\"b\":\"x\",\"c\":\"3\",\"keep\":\"k\"}",
	       "null deletes, strings set, absent keys kept, deleting a missing key is a no-op");
	free(s);
	is_int(json_object_size(patch), 4, "the patch is left alone");
	json_decref(dst);
	json_decref(patch);
}

static void test_helpers(void)
{
	json_t *j = json_pack("{s:s, s:i}", "a", "x", "n", 5);
	size_t len = 0;
	char *s = json_dump_compact(j, &len);
	ok(strlen(s) == len && strchr(s, ' ') == NULL, "compact dump has no spaces: %s", s);
	free(s);
	is_str(json_get_string(j, "a"), "x", "json_get_string of a string");
	ok(json_get_string(j, "n") == NULL, "json_get_string of a number is NULL");
	ok(json_get_string(j, "missing") == NULL, "json_get_string of a missing key is NULL");
	json_decref(j);
	json_t *str = json_string("s");
	s = json_dump_compact(str, NULL);
	is_str(s, "\"s\"", "compact dump of a scalar");
	free(s);
	json_decref(str);
}

/* Error messages quote what clients sent: a bad byte must not make the body
 * `null` (t/fuzz: a path with bytes that are not UTF-8 gave a 404 `null`). */
static void test_string_lossy(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "plain" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "a\xb0\x91" "b", "a\xef\xbf\xbd\xef\xbf\xbd" "b" },
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },     /* overlong '/' */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* a surrogate */
		{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "end\xe2\x82", "end\xef\xbf\xbd\xef\xbf\xbd" }, /* cut short */
		{ "\xf0\x9f\x90\xb3", "\xf0\x9f\x90\xb3" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *j = json_string_lossy(cases[i].in);
		is_str(j ? json_string_value(j) : NULL, cases[i].out, "lossy string %zu", i);
		json_decref(j);
	}
}

int main(void)
{
	plan_lazy();
	test_string_lossy();
	test_parse_body();
	test_check_object();
	test_labels_merge();
	test_helpers();
	return done_testing();
}
