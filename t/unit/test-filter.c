/* Unit tests for core/filter.c: containerd's filter tests (filters/filter_test.go)
 * ported to JSON objects, then berth's own cases: scalars, OR, limits, escapes. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/filter.h"
#include "tap.h"

static json_t *corpus;

/* containerd's test corpus (filter_test.go), as list endpoints would return it. */
static void build_corpus(void)
{
	corpus = json_pack(
	    "[{s:s, s:{s:s}}, {s:s}, {s:s, s:{s:s, s:s}}, {s:s, s:{s:s}},"
	    " {s:s, s:{s:s}}, {s:s, s:{s:s}}, {s:s, s:s}, {s:s, s:s}, {s:s, s:{s:s}}]",
	    "name", "foo", "labels", "foo", "true", "name", "bar", "name", "foo", "labels", "foo",
	    "present", "more complex label", "present", "name", "bar", "labels", "bar", "true",
	    "name", "fooer", "labels", "more complex label with \\ and \"", "present", "name",
	    "fooer", "labels", "more complex label with \\ and \".post", "present", "name", "baz",
	    "other", "too complex, yo", "name", "bazo", "other", "abc", "name", "compound",
	    "labels", "foo", "omg_asdf.asdf-qwer");
}

/* Indices of the corpus entries matched by the expressions, as "0 2 8",
 * or "error: <message>". */
static const char *run_n(const char *const *exprs, size_t n)
{
	static char out[1024];
	struct filter *f = NULL;
	err_t err = NULL;
	if (filter_parse(&f, exprs, n, &err) < 0) {
		snprintf(out, sizeof(out), "error: %s%s", err->msg,
			 err->kind == E_INVALID_ARGUMENT && !f ? "" : " (wrong kind or output)");
		err_free(&err);
		return out;
	}
	out[0] = '\0';
	size_t i;
	json_t *o;
	json_array_foreach(corpus, i, o) {
		if (filter_match_json(f, o))
			snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%zu",
				 out[0] ? " " : "", i);
	}
	filter_free(f);
	return out;
}

static const char *run(const char *expr)
{
	return run_n(&expr, 1);
}

/* Whether expr matches obj; parse errors count as no match. */
static bool matches(const char *expr, const json_t *obj)
{
	struct filter *f = NULL;
	err_t err = NULL;
	if (filter_parse(&f, &expr, 1, &err) < 0) {
		diag("unexpected parse error: %s", err->msg);
		err_free(&err);
		return false;
	}
	bool r = filter_match_json(f, obj);
	filter_free(f);
	return r;
}

static void test_containerd_corpus(void)
{
	const char *all = "0 1 2 3 4 5 6 7 8";
	is_str(run(""), all, "empty expression matches everything");
	is_str(run("name"), all, "presence of name");
	is_str(run("labels.foo"), "0 2 8", "label presence");
	is_str(run("labels.foo,name"), "0 2 8", "label and name presence");
	is_str(run("labels.foo==true"), "0", "label value");
	is_str(run("labels.foo==omg_asdf.asdf-qwer"), "8", "bare value with punctuation");
	is_str(run("name==bar"), "1 3", "name equality");
	is_str(run("name!=bar"), "0 2 4 5 6 7 8", "name inequality");
	is_str(run("name==bar,labels.bar"), "3", "equality and presence");
	is_str(run("other==\"too complex, yo\""), "6", "quoted value holding a comma");
	is_str(run("other~=[abc]+,name!=foo"), "6 7", "bare regular expression");
	is_str(run("other~=/[abc]+/,name!=foo"), "6 7", "regular expression in slashes");
	is_str(run("other~=/[abc]{1,2}/,name!=foo"), "6 7", "slashes protect a comma in a regex");
	is_str(run("other~=/[abc]{0,1}\"\\//,name!=foo"), "", "escaped slash, valid but no match");
	is_str(run("name==bar,labels.bar==true"), "3", "name and label value");
	is_str(run("name==bar,labels.bar==wrong"), "", "AND with one failing selector");
	is_str(run("name==foo,labels.\"more complex label\""), "2", "quoted label key");
	is_str(run("labels.\"more complex label with \\\\ and \\\"\"==present"), "4",
	       "quoted key with escaped backslash and quote");
	is_str(run("labels.\"more complex label with \\\\ and \\\"\".post==present"), "5",
	       "quoted key followed by a component joins with a dot");

	is_str(run("labels.|foo|==omg_asdf.asdf-qwer"),
	       "error: filter `labels.|foo|==omg_asdf.asdf-qwer`: a field may only be quoted "
	       "with `\"` at position 7",
	       "no alternative quotes in field paths");
	is_str(run("labels.?\"more complex label\".post==present"),
	       "error: filter `labels.?\"more complex label\".post==present`: expected a field "
	       "name or a quoted field at position 7",
	       "stray character where a field is expected");
	is_str(run("name==foo,"),
	       "error: filter `name==foo,`: expected a field name or a quoted field at position 10",
	       "trailing comma");
	is_str(run("labels."),
	       "error: filter `labels.`: expected a field name or a quoted field at position 7",
	       "trailing field separator");
	is_str(run("image~=,id?=?fbaq"),
	       "error: filter `image~=,id?=?fbaq`: expected a value at position 7",
	       "missing value");
	/* containerd says "quoted literal not terminated" here: its scanner takes the
	 * slash for a regex quote; the missing operator is the real problem */
	is_str(run("labels.ns/key==value"),
	       "error: filter `labels.ns/key==value`: expected an operator (`==`, `!=` or `~=`) "
	       "at position 9",
	       "a slash after a field path");
	is_str(run("labels./key==value"),
	       "error: filter `labels./key==value`: quoted literal not terminated at position 7",
	       "unterminated literal opened by a slash in a field path");
	is_str(run("labels.key==/value"),
	       "error: filter `labels.key==/value`: quoted literal not terminated at position 12",
	       "unterminated literal opened by a slash in a value");
}

static void test_syntax_errors(void)
{
	is_str(run("name=="), "error: filter `name==`: expected a value at position 6",
	       "missing value at the end");
	is_str(run("name==\"abc"),
	       "error: filter `name==\"abc`: quoted literal not terminated at position 6",
	       "unterminated quote");
	is_str(run("labels.\"a\nb\"==x"),
	       "error: filter `labels.\"a\nb\"==x`: quoted literal not terminated at position 7",
	       "a newline ends a quoted literal");
	is_str(run("name=foo"), "error: filter `name=foo`: unsupported operator `=` at position 4",
	       "single = is not an operator");
	is_str(run("name===foo"),
	       "error: filter `name===foo`: unsupported operator `===` at position 4",
	       "=== is not an operator");
	is_str(run("name<foo"),
	       "error: filter `name<foo`: expected an operator (`==`, `!=` or `~=`) at position 4",
	       "unknown operator character");
	is_str(run("labels.foo-bar==x"),
	       "error: filter `labels.foo-bar==x`: expected an operator (`==`, `!=` or `~=`) at "
	       "position 10",
	       "a dash is not a field character (quote the key)");
	is_str(
	    run("name==foo bar"),
	    "error: filter `name==foo bar`: expected `,` or the end of the filter at position 10",
	    "two values");
	is_str(
	    run("name==/foo/"),
	    "error: filter `name==/foo/`: only a `~=` value may be quoted with `/` at position 6",
	    "slash quoting is for regular expressions");
	is_str(
	    run("name!=|foo|"),
	    "error: filter `name!=|foo|`: only a `~=` value may be quoted with `|` at position 6",
	    "pipe quoting is for regular expressions");
	is_str(run("   "),
	       "error: filter `   `: expected a field name or a quoted field at position 3",
	       "whitespace only is not the empty filter");
	is_str(run(",name"),
	       "error: filter `,name`: expected a field name or a quoted field at position 0",
	       "leading comma");
	is_str(
	    run("name==a,,name"),
	    "error: filter `name==a,,name`: expected a field name or a quoted field at position 8",
	    "empty selector between commas");
	is_str(run("labels.\"\\g\""),
	       "error: filter `labels.\"\\g\"`: illegal escape sequence at position 8",
	       "unknown escape");
	is_str(run("labels.\"\\xaz\""),
	       "error: filter `labels.\"\\xaz\"`: illegal numeric escape sequence at position 8",
	       "bad hex escape");
	is_str(run("labels.\"\\'\""),
	       "error: filter `labels.\"\\'\"`: illegal escape sequence at position 8",
	       "only the opening quote may be escaped");
	is_str(run("name==\"\\000\""),
	       "error: filter `name==\"\\000\"`: escape sequence yields a NUL byte at position 7",
	       "NUL from an escape");
	is_str(
	    run("name==\"\\U00110000\""),
	    "error: filter `name==\"\\U00110000\"`: escape sequence is not a valid code point at "
	    "position 7",
	    "code point beyond U+10FFFF");
	is_str(run("name==\"\\777\""),
	       "error: filter `name==\"\\777\"`: illegal numeric escape sequence at position 7",
	       "octal escape above 255");
	const char *bad_re = run("name~=[abc");
	ok(strncmp(bad_re, "error: filter `name~=[abc`: invalid regular expression: ", 56) == 0 &&
	       strstr(bad_re, " at position 6"),
	   "bad regular expression is a parse error at the value: %s", bad_re);
	ok(strncmp(run("name~=\"a(\""), "error: ", 7) == 0, "bad quoted regular expression");

	/* regcomp's cost grows with the product of repetitions: refused before
	 * it runs (t/fuzz found `x` and forty `+` taking gigabytes) */
	is_str(run("name~=x++++++++++++++++++++++++++++++"),
	       "error: filter `name~=x++++++++++++++++++++++++++++++`: invalid regular "
	       "expression: a repetition of a repetition at position 6",
	       "a repetition of a repetition");
	ok(strstr(run("name~=a**"), "a repetition of a repetition") != NULL, "`a**`");
	ok(strstr(run("name~=/(a+)?{2}/"), "a repetition of a repetition") != NULL, "`?{2}`");
	ok(strstr(run("name~=a{1001}"), "a repetition count is over 1000") != NULL, "count > 1000");
	ok(strstr(run("name~=/a{2,99999999999999999999}/"), "over 1000") != NULL, "huge count");
	ok(strstr(run("name~=/((a{100}){100}){2}/"), "too large once its repetitions") != NULL,
	   "nested counts multiply");
	ok(strncmp(run("name~=/(((((x+)+)+)+)+)+/"), "error", 5) != 0,
	   "nested groups each with one + compile (32 copies)");
	ok(strncmp(run("name~=/(a{100}){100}/"), "error", 5) != 0, "10000 copies are allowed");
	ok(strncmp(run("name~=/^[[:alpha:]]{1,1000}$/"), "error", 5) != 0,
	   "a bracket class with a count");
	ok(strstr(run("name~=/a{/"), "invalid regular expression: Unmatched"),
	   "a `{` that is no bound is left to regcomp");
	ok(strncmp(run("name~=/[]{]+/"), "error", 5) != 0, "`{` inside a bracket is no bound");

	/* invalid UTF-8: the message quotes only the valid part, so it stays valid JSON */
	const char *bad = "name==ab\xff";
	struct filter *f = (struct filter *)1;
	err_t err = NULL;
	ok(filter_parse(&f, &bad, 1, &err) < 0 && f == NULL, "invalid UTF-8 is rejected");
	is_str(err ? err->msg : NULL, "filter `name==ab`: invalid UTF-8 at position 8",
	       "invalid UTF-8 message");
	ok(err && err->kind == E_INVALID_ARGUMENT, "syntax errors are invalid_argument");
	err_free(&err);
	bad = "name==\xc0\xaf"; /* overlong '/' */
	ok(filter_parse(&f, &bad, 1, &err) < 0, "overlong UTF-8 is rejected");
	err_free(&err);
}

static void test_escapes_and_whitespace(void)
{
	json_t *o = json_pack("{s:s, s:{s:s, s:s, s:s, s:s}}", "name", "caf\xc3\xa9", "labels",
			      "a\tb", "tab", "com.example.k", "v", "A", "letter", "0", "zero");
	ok(matches("labels.\"a\\tb\"==tab", o), "\\t escape in a quoted key");
	ok(matches("name==\"caf\\u00e9\"", o), "\\u escape encodes UTF-8");
	ok(matches("name==\"caf\\xc3\\xa9\"", o), "\\x escapes are raw bytes");
	ok(matches("name==caf\xc3\xa9", o), "UTF-8 in a bare value");
	ok(matches("labels.\"\\101\"==letter", o), "octal escape");
	ok(matches("labels.\"com.example.k\"==v", o), "quoted key holding dots");
	ok(matches("labels.com.example.k==v", o), "unquoted dotted key joins as containerd's");
	ok(matches("labels.0==zero", o), "a field may start with a digit as in containerd");
	ok(matches("  labels . \"com.example.k\"  ==  v  ,  name  ", o),
	   "whitespace around every token");
	ok(!matches("labels.com.example==v", o), "a prefix of a dotted key is not the key");
	json_decref(o);
}

static void test_json_values(void)
{
	json_t *o = json_pack("{s:s, s:I, s:f, s:b, s:b, s:n, s:{s:s}, s:[i], s:s}", "name", "foo",
			      "size", (json_int_t)42, "ratio", 1.5, "ok", 1, "off", 0, "nothing",
			      "obj", "k", "v", "arr", 1, "empty", "");
	ok(matches("size==42", o), "integer compares by its JSON text");
	ok(!matches("size==042", o), "integer text is canonical");
	ok(matches("ratio==1.5", o), "real compares by its JSON text");
	ok(matches("ok==true", o) && matches("off==false", o), "booleans compare as true/false");
	ok(matches("ok==\"true\"", o), "a quoted value compares the same text");
	ok(matches("size~=^4[0-9]$", o), "regex over an integer's text");
	ok(!matches("nothing", o), "null is not present");
	ok(!matches("nothing==null", o), "null never equals a value");
	ok(matches("obj", o) && matches("arr", o), "objects and arrays are present");
	ok(!matches("obj==v", o) && !matches("arr==1", o), "objects and arrays never equal");
	ok(matches("obj.k==v", o), "nested field path");
	ok(!matches("name.k", o), "path through a string is missing");
	ok(matches("empty", o), "an empty string is present");
	ok(matches("empty==\"\"", o), "empty string equals \"\"");
	ok(!matches("missing", o), "missing is not present");
	ok(!matches("missing==x", o), "missing never equals");
	ok(matches("missing!=x", o), "!= matches a missing field");
	ok(!matches("missing!=\"\"", o), "but not != \"\" (containerd compares the empty text)");
	ok(!matches("name!=foo", o), "!= on an equal value");
	ok(matches("missing~=^$", o), "~= searches the empty text of a missing field");
	ok(matches("name~=o", o) && !matches("name~=^o", o), "~= is an unanchored search");
	ok(matches("name~=.*o$", o), "a bare regex may start with a dot");
	ok(matches("name~=|f.o|", o), "regex in pipes");
	json_decref(o);
}

static void test_or_and_all(void)
{
	const char *two[] = {"name==bar", "labels.foo==true"};
	is_str(run_n(two, 2), "0 1 3", "several expressions are ORed");
	const char *with_empty[] = {"name==bar", ""};
	is_str(run_n(with_empty, 2), "0 1 2 3 4 5 6 7 8", "an empty expression in an OR");
	const char *one_bad[] = {"name==bar", "name=="};
	ok(strncmp(run_n(one_bad, 2), "error: filter `name==`", 22) == 0,
	   "one bad expression fails the whole parse and names it");
	is_str(run_n(NULL, 0), "0 1 2 3 4 5 6 7 8", "no expression matches everything");

	struct filter *f = NULL;
	err_t err = NULL;
	ok(filter_parse(&f, NULL, 0, &err) == 0 && f && filter_matches_all(f),
	   "no expression: a filter that matches all");
	filter_free(f);
	ok(filter_parse(&f, two, 2, &err) == 0 && !filter_matches_all(f),
	   "real selectors do not match all");
	filter_free(f);
	ok(filter_match_json(NULL, corpus), "a NULL filter matches");
	filter_free(NULL);
}

static void test_limits(void)
{
	char *e = malloc(FILTER_MAX_EXPR_LEN + 2);
	memcpy(e, "name==", 6);
	memset(e + 6, 'a', FILTER_MAX_EXPR_LEN - 6);
	e[FILTER_MAX_EXPR_LEN] = '\0';
	is_str(run(e), "", "an expression of exactly 4096 bytes parses");
	e[FILTER_MAX_EXPR_LEN] = 'a';
	e[FILTER_MAX_EXPR_LEN + 1] = '\0';
	is_str(run(e),
	       "error: filter `name==aaaaaaaaaaaaaaaaaaaaaaaaaa...`: longer than 4096 bytes",
	       "a 4097-byte expression is rejected");
	free(e);

	struct buf b = BUF_INIT;
	for (int i = 0; i < FILTER_MAX_SELECTORS; i++)
		buf_addf(&b, "%sname", i ? "," : "");
	is_str(run(b.data), "0 1 2 3 4 5 6 7 8", "64 selectors parse");
	buf_adds(&b, ",name");
	ok(strstr(run(b.data), "more than 64 selectors at position 320") != NULL,
	   "the 65th selector is rejected where it starts");
	buf_reset(&b);
	for (int i = 0; i < 40; i++)
		buf_addf(&b, "%sname", i ? "," : "");
	const char *split[] = {b.data, b.data};
	ok(strstr(run_n(split, 2), "more than 64 selectors") != NULL,
	   "the limit counts selectors over all expressions");
	buf_release(&b);
}

int main(void)
{
	plan_lazy();
	build_corpus();
	test_containerd_corpus();
	test_syntax_errors();
	test_escapes_and_whitespace();
	test_json_values();
	test_or_and_all();
	test_limits();
	json_decref(corpus);
	return done_testing();
}
