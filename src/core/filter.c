#include "config.h"

#include <ctype.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/filter.h"

enum op {
	OP_PRESENT,   /* no operator: the field exists and is not null */
	OP_EQUAL,     /* == */
	OP_NOT_EQUAL, /* != */
	OP_MATCHES,   /* ~= */
};

struct selector {
	char **path; /* field path components */
	size_t npath, alloc;
	enum op op;
	char *value; /* NULL for OP_PRESENT */
	bool has_re; /* re holds a compiled expression (OP_MATCHES) */
	regex_t re;
};

/* One expression: all selectors must match; none matches everything. */
struct term {
	struct selector *sels;
	size_t n, alloc;
};

struct filter {
	struct term *terms;
	size_t n;
};

struct parser {
	const char *in;
	size_t len;
	size_t pos;
	size_t *nsel; /* selectors so far over all expressions */
	err_t *err;
};

static void selector_release(struct selector *s)
{
	for (size_t i = 0; i < s->npath; i++)
		free(s->path[i]);
	free(s->path);
	free(s->value);
	if (s->has_re)
		regfree(&s->re);
	memset(s, 0, sizeof(*s));
}

static void term_release(struct term *t)
{
	for (size_t i = 0; i < t->n; i++)
		selector_release(&t->sels[i]);
	free(t->sels);
	memset(t, 0, sizeof(*t));
}

void filter_free(struct filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		term_release(&f->terms[i]);
	free(f->terms);
	free(f);
}

/* The expression as messages quote it: at most max bytes, cut on a
 * character boundary (the input was checked to be UTF-8 before). */
static char *excerpt(const char *s, size_t len, size_t max)
{
	size_t n = len;
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	return xasprintf("%.*s%s", (int)n, s, n < len ? "..." : "");
}

static int PRINTF_LIKE(3, 4) fail_at(struct parser *p, size_t pos, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	cleanup_free char *ex = excerpt(p->in, p->len, 200);
	make_error(p->err, E_INVALID_ARGUMENT, 0, "filter `%s`: %s at position %zu", ex, b.data,
		   pos);
	buf_release(&b);
	return -1;
}

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_field_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static bool is_control(int c)
{
	return c < 0x20 || c == 0x7f;
}

/* The current byte, or -1 at the end. */
static int peek(const struct parser *p)
{
	return p->pos < p->len ? (unsigned char)p->in[p->pos] : -1;
}

static void skip_space(struct parser *p)
{
	while (p->pos < p->len && is_space((unsigned char)p->in[p->pos]))
		p->pos++;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Offset of the first byte that is not valid UTF-8, len if none. */
static size_t invalid_utf8(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len((const unsigned char *)s + i, len - i);
		if (n == 0)
			return i;
		i += n;
	}
	return len;
}

static void add_utf8(struct buf *b, unsigned cp)
{
	unsigned char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_add(b, u, n);
}

/*
 * One escape sequence of a quoted literal, p->pos on the backslash; Go's
 * rules as containerd's unquote: \a \b \f \n \r \t \v \\, the quote that
 * opened the literal, \NNN octal (up to 255), \xHH (a byte), \uHHHH and
 * \UHHHHHHHH (a code point, encoded as UTF-8).
 */
static int scan_escape(struct parser *p, int quote, struct buf *out)
{
	size_t start = p->pos++;
	int c = peek(p);
	unsigned v = 0;
	size_t digits = 0;
	static const char simple_from[] = "abfnrtv\\", simple_to[] = "\a\b\f\n\r\t\v\\";
	const char *simple = c > 0 ? strchr(simple_from, c) : NULL;
	if (simple) {
		buf_add(out, simple_to + (simple - simple_from), 1);
		p->pos++;
		return 0;
	}
	switch (c) {
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
		for (digits = 0; digits < 3; digits++, p->pos++) {
			c = peek(p);
			if (c < '0' || c > '7')
				return fail_at(p, start, "illegal numeric escape sequence");
			v = v * 8 + (unsigned)(c - '0');
		}
		if (v > 255)
			return fail_at(p, start, "illegal numeric escape sequence");
		break;
	case 'x':
	case 'u':
	case 'U': {
		size_t want = c == 'x' ? 2 : c == 'u' ? 4 : 8;
		p->pos++;
		for (digits = 0; digits < want; digits++, p->pos++) {
			int h = hex_digit_value(peek(p));
			if (h < 0)
				return fail_at(p, start, "illegal numeric escape sequence");
			v = v * 16 + (unsigned)h;
		}
		if (c != 'x') {
			if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
				return fail_at(p, start,
					       "escape sequence is not a valid code point");
			if (v == 0)
				return fail_at(p, start, "escape sequence yields a NUL byte");
			add_utf8(out, v);
			return 0;
		}
		break;
	}
	default:
		if (c == quote) {
			buf_add(out, p->in + p->pos, 1);
			p->pos++;
			return 0;
		}
		return fail_at(p, start, "illegal escape sequence");
	}
	/* octal and \x: one raw byte */
	if (v == 0)
		return fail_at(p, start, "escape sequence yields a NUL byte");
	unsigned char byte = (unsigned char)v;
	buf_add(out, &byte, 1);
	return 0;
}

/* A quoted literal opened by the quote character at p->pos; the unquoted
 * text goes to *out. A newline or the end before the closing quote is an
 * error at the opening quote, as containerd's scanner. */
static int scan_quoted(struct parser *p, char **out)
{
	size_t start = p->pos;
	int quote = peek(p);
	struct buf b = BUF_INIT;
	p->pos++;
	for (;;) {
		int c = peek(p);
		if (c < 0 || c == '\n') {
			buf_release(&b);
			return fail_at(p, start, "quoted literal not terminated");
		}
		if (c == quote) {
			p->pos++;
			break;
		}
		if (c == '\\') {
			if (scan_escape(p, quote, &b) < 0) {
				buf_release(&b);
				return -1;
			}
			continue;
		}
		buf_add(&b, p->in + p->pos, 1);
		p->pos++;
	}
	*out = buf_detach(&b, NULL);
	return 0;
}

static int parse_field(struct parser *p, struct selector *s)
{
	size_t start = p->pos;
	int c = peek(p);
	char *field = NULL;
	if (c == '"') {
		if (scan_quoted(p, &field) < 0)
			return -1;
	} else if (c == '/' || c == '|') {
		/* scanned as a literal first, so an unterminated one says so */
		if (scan_quoted(p, &field) < 0)
			return -1;
		free(field);
		return fail_at(p, start, "a field may only be quoted with `\"`");
	} else if (c >= 0 && is_field_char(c)) {
		while (p->pos < p->len && is_field_char((unsigned char)p->in[p->pos]))
			p->pos++;
		field = xstrndup(p->in + start, p->pos - start);
	} else {
		return fail_at(p, start, "expected a field name or a quoted field");
	}
	ALLOC_GROW(s->path, s->npath + 1, s->alloc);
	s->path[s->npath++] = field;
	return 0;
}

static int parse_fieldpath(struct parser *p, struct selector *s)
{
	for (;;) {
		skip_space(p);
		if (parse_field(p, s) < 0)
			return -1;
		skip_space(p);
		if (peek(p) != '.')
			return 0;
		p->pos++;
	}
}

static int parse_operator(struct parser *p, struct selector *s)
{
	size_t start = p->pos;
	while (p->pos < p->len && strchr("=!~", p->in[p->pos]))
		p->pos++;
	size_t n = p->pos - start;
	const char *o = p->in + start;
	if (n == 0)
		return fail_at(p, start, "expected an operator (`==`, `!=` or `~=`)");
	if (n == 2 && memcmp(o, "==", 2) == 0)
		s->op = OP_EQUAL;
	else if (n == 2 && memcmp(o, "!=", 2) == 0)
		s->op = OP_NOT_EQUAL;
	else if (n == 2 && memcmp(o, "~=", 2) == 0)
		s->op = OP_MATCHES;
	else
		return fail_at(p, start, "unsupported operator `%.*s`", (int)n, o);
	return 0;
}

/* A value: a quoted literal, or a bare run of characters up to a comma,
 * whitespace or a control character. /.../ and |...| quote regular
 * expressions only. */
static int parse_value(struct parser *p, struct selector *s)
{
	size_t start = p->pos;
	int c = peek(p);
	if (c < 0 || c == ',')
		return fail_at(p, start, "expected a value");
	if (c == '"' || c == '/' || c == '|') {
		if (scan_quoted(p, &s->value) < 0)
			return -1;
		if (c != '"' && s->op != OP_MATCHES)
			return fail_at(p, start, "only a `~=` value may be quoted with `%c`", c);
		return 0;
	}
	while (p->pos < p->len) {
		c = (unsigned char)p->in[p->pos];
		if (c == ',' || is_space(c) || is_control(c))
			break;
		p->pos++;
	}
	if (p->pos == start)
		return fail_at(p, start, "expected a value");
	s->value = xstrndup(p->in + start, p->pos - start);
	return 0;
}

/* glibc's regcomp expands `+` and counted repetitions into copies of their
 * operand, so its time and memory grow with their product: `x` then thirty
 * `+` take gigabytes, on the loop (found by t/fuzz). Refuse what Go's
 * regexp (containerd's) refuses — a repetition of a repetition, a count
 * over 1000 — and patterns that would expand past REGEX_MAX_SIZE atoms. */
#define REGEX_MAX_REPEAT 1000
#define REGEX_MAX_SIZE 10000
#define REGEX_MAX_DEPTH 64

/* Skip a bracket expression at p ('['); the ']' that ends it, or NULL
 * when it does not end (regcomp says why). */
static const char *skip_bracket(const char *p)
{
	const char *q = p + 1;
	if (*q == '^')
		q++;
	if (*q == ']')
		q++;
	while (*q && *q != ']') {
		if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
			char t = q[1];
			const char *e = q + 2;
			while (*e && !(e[0] == t && e[1] == ']'))
				e++;
			if (!*e)
				return NULL;
			q = e + 2;
		} else {
			q++;
		}
	}
	return *q ? q : NULL;
}

/* A bound "{n}", "{n,}", "{n,m}" at p: its end ('}') and the copies it
 * makes, or NULL when it is not one (a literal '{'). */
static const char *parse_bound(const char *p, uint64_t *copies, bool *too_big)
{
	const char *q = p + 1;
	uint64_t n = 0, m = 0;
	bool has_m = false, comma = false;
	if (!isdigit((unsigned char)*q))
		return NULL;
	/* past the limit, the digits are only skipped */
	for (; isdigit((unsigned char)*q); q++)
		if (n <= REGEX_MAX_REPEAT)
			n = n * 10 + (uint64_t)(*q - '0');
	if (*q == ',') {
		comma = true;
		for (q++; isdigit((unsigned char)*q); q++) {
			if (m <= REGEX_MAX_REPEAT)
				m = m * 10 + (uint64_t)(*q - '0');
			has_m = true;
		}
	}
	if (*q != '}')
		return NULL;
	*too_big = n > REGEX_MAX_REPEAT || m > REGEX_MAX_REPEAT;
	*copies = has_m ? m : comma ? n + 1 : n;
	if (*copies == 0)
		*copies = 1;
	return q;
}

static const char *regex_too_costly(const char *re)
{
	uint64_t sum[REGEX_MAX_DEPTH + 1] = {0}, last[REGEX_MAX_DEPTH + 1] = {0};
	int depth = 0;
	bool repeated = false; /* the last token was a repetition */
	for (const char *p = re; *p; p++) {
		uint64_t k;
		switch (*p) {
		case '\\':
			if (p[1])
				p++;
			goto atom;
		case '[':
			p = skip_bracket(p);
			if (!p)
				return NULL;
			goto atom;
		case '(':
			if (depth == REGEX_MAX_DEPTH)
				return "groups nest too deeply";
			depth++;
			sum[depth] = last[depth] = 0;
			repeated = false;
			continue;
		case ')':
			if (depth == 0)
				goto atom;
			k = sum[depth] + last[depth];
			depth--;
			sum[depth] += last[depth];
			last[depth] = k;
			repeated = false;
			goto check;
		case '|':
			sum[depth] += last[depth];
			last[depth] = 0;
			repeated = false;
			continue;
		case '*':
		case '?':
			k = 1;
			break;
		case '+':
			k = 2;
			break;
		case '{': {
			bool too_big = false;
			const char *end = parse_bound(p, &k, &too_big);
			if (!end)
				goto atom;
			if (too_big)
				return "a repetition count is over 1000";
			p = end;
			break;
		}
		default:
			goto atom;
		}
		if (repeated)
			return "a repetition of a repetition";
		repeated = true;
		last[depth] *= k;
		goto check;
	atom:
		sum[depth] += last[depth];
		last[depth] = 1;
		repeated = false;
	check:
		if (sum[depth] + last[depth] > REGEX_MAX_SIZE)
			return "it is too large once its repetitions are expanded";
	}
	return NULL;
}

static int compile_regex(struct parser *p, struct selector *s, size_t pos)
{
	const char *why = regex_too_costly(s->value);
	if (why)
		return fail_at(p, pos, "invalid regular expression: %s", why);
	int rc = regcomp(&s->re, s->value, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[256];
		regerror(rc, &s->re, msg, sizeof(msg));
		return fail_at(p, pos, "invalid regular expression: %s", msg);
	}
	s->has_re = true;
	return 0;
}

static int parse_selector(struct parser *p, struct selector *s)
{
	skip_space(p);
	if (++*p->nsel > FILTER_MAX_SELECTORS)
		return fail_at(p, p->pos, "more than %d selectors", FILTER_MAX_SELECTORS);
	if (parse_fieldpath(p, s) < 0)
		return -1;
	skip_space(p);
	int c = peek(p);
	if (c < 0 || c == ',') {
		s->op = OP_PRESENT;
		return 0;
	}
	if (parse_operator(p, s) < 0)
		return -1;
	skip_space(p);
	size_t vpos = p->pos;
	if (parse_value(p, s) < 0)
		return -1;
	if (s->op == OP_MATCHES)
		return compile_regex(p, s, vpos);
	return 0;
}

/* One expression into t: selectors separated by commas. */
static int parse_term(struct parser *p, struct term *t)
{
	if (p->len == 0)
		return 0; /* containerd: the empty filter matches everything */
	for (;;) {
		struct selector s = {0};
		if (parse_selector(p, &s) < 0) {
			selector_release(&s);
			return -1;
		}
		ALLOC_GROW(t->sels, t->n + 1, t->alloc);
		t->sels[t->n++] = s;
		skip_space(p);
		int c = peek(p);
		if (c < 0)
			return 0;
		if (c != ',') {
			if (is_control(c))
				return fail_at(p, p->pos, "unexpected control character");
			return fail_at(p, p->pos, "expected `,` or the end of the filter");
		}
		p->pos++;
	}
}

int filter_parse(struct filter **out, const char *const *exprs, size_t n, err_t *err)
{
	*out = NULL;
	struct filter *f = xzalloc(sizeof(*f));
	size_t nsel = 0;
	if (n > 0)
		f->terms = xcalloc(n, sizeof(*f->terms));
	for (size_t i = 0; i < n; i++) {
		const char *e = exprs[i] ? exprs[i] : "";
		struct parser p = {.in = e, .len = strlen(e), .nsel = &nsel, .err = err};
		size_t bad = invalid_utf8(e, p.len);
		if (bad < p.len) {
			p.len = bad; /* quote only the valid part */
			fail_at(&p, bad, "invalid UTF-8");
			goto fail;
		}
		if (p.len > FILTER_MAX_EXPR_LEN) {
			cleanup_free char *ex = excerpt(e, p.len, 32);
			make_error(err, E_INVALID_ARGUMENT, 0, "filter `%s`: longer than %d bytes",
				   ex, FILTER_MAX_EXPR_LEN);
			goto fail;
		}
		f->n++;
		if (parse_term(&p, &f->terms[i]) < 0)
			goto fail;
	}
	*out = f;
	return 0;
fail:
	filter_free(f);
	return -1;
}

/*
 * Walk v along path[i..n). Where a component is missing (or what it names
 * cannot be walked further), the rest of the path joined with '.' is tried
 * as one key, as containerd's label adaptor does: `labels.a.b` finds the
 * label "a.b" (containerd's labels.foo.post test).
 */
static const json_t *walk(const json_t *v, char *const *path, size_t i, size_t n)
{
	if (i == n)
		return v;
	if (!json_is_object(v))
		return NULL;
	const json_t *c = json_object_get(v, path[i]);
	if (c) {
		const json_t *r = walk(c, path, i + 1, n);
		if (r)
			return r;
	}
	if (n - i < 2)
		return NULL;
	struct buf key = BUF_INIT;
	for (size_t j = i; j < n; j++) {
		if (j > i)
			buf_add(&key, ".", 1);
		buf_adds(&key, path[j]);
	}
	c = json_object_get(v, key.data);
	buf_release(&key);
	return c;
}

/*
 * The text a selector compares against: a string as-is, numbers and
 * booleans as their JSON text, "" for anything else. *scalar tells whether
 * the field had a text at all. *tofree is set when the text was allocated.
 */
static const char *field_text(const json_t *v, char num[32], char **tofree, size_t *len,
			      bool *scalar)
{
	*tofree = NULL;
	*scalar = true;
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		*len = json_string_length(v);
		return json_string_value(v);
	case JSON_INTEGER:
		*len = (size_t)snprintf(num, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return num;
	case JSON_REAL:
		*tofree = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		if (*tofree) {
			*len = strlen(*tofree);
			return *tofree;
		}
		break;
	case JSON_TRUE:
		*len = 4;
		return "true";
	case JSON_FALSE:
		*len = 5;
		return "false";
	default:
		break;
	}
	*scalar = false;
	*len = 0;
	return "";
}

static bool selector_match(const struct selector *s, const json_t *obj)
{
	const json_t *v = walk(obj, s->path, 0, s->npath);
	if (s->op == OP_PRESENT)
		return v && !json_is_null(v);
	char num[32];
	cleanup_free char *tofree = NULL;
	size_t len;
	bool scalar;
	const char *text = field_text(v, num, &tofree, &len, &scalar);
	bool equal = len == strlen(s->value) && memcmp(text, s->value, len) == 0;
	switch (s->op) {
	case OP_EQUAL:
		return scalar && equal;
	case OP_NOT_EQUAL:
		return !equal;
	case OP_MATCHES:
		return regexec(&s->re, text, 0, NULL, 0) == 0;
	case OP_PRESENT:
		break;
	}
	return false;
}

bool filter_match_json(const struct filter *f, const json_t *obj)
{
	if (!f || f->n == 0)
		return true;
	for (size_t i = 0; i < f->n; i++) {
		const struct term *t = &f->terms[i];
		size_t j = 0;
		while (j < t->n && selector_match(&t->sels[j], obj))
			j++;
		if (j == t->n)
			return true;
	}
	return false;
}

bool filter_matches_all(const struct filter *f)
{
	if (!f || f->n == 0)
		return true;
	for (size_t i = 0; i < f->n; i++)
		if (f->terms[i].n == 0)
			return true;
	return false;
}
