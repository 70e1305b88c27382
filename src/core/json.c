#include "config.h"

#include <string.h>

#include "core/json.h"
#include "core/names.h"

json_t *json_parse_body(const char *data, size_t len, err_t *err)
{
	if (len == 0)
		return json_object();
	json_error_t jerr;
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		make_error(err, E_INVALID_ARGUMENT, 0,
			   "malformed JSON body at line %d column %d: %s", jerr.line,
			   jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		make_error(err, E_INVALID_ARGUMENT, 0, "request body must be a JSON object");
		return NULL;
	}
	return j;
}

static const char *type_name(enum json_field_type t)
{
	switch (t) {
	case JF_STRING:
		return "a string";
	case JF_OBJECT:
		return "an object";
	case JF_ARRAY:
		return "an array";
	case JF_BOOL:
		return "a boolean";
	case JF_INTEGER:
		return "an integer";
	case JF_UINT:
		return "a non-negative integer";
	case JF_NUMBER:
		return "a number";
	case JF_LABELS:
	case JF_LABELS_PATCH:
		return "an object of strings";
	case JF_ANY:
		break;
	}
	return "any value";
}

static bool type_ok(const json_t *v, enum json_field_type t)
{
	switch (t) {
	case JF_STRING:
		return json_is_string(v);
	case JF_OBJECT:
	case JF_LABELS:
	case JF_LABELS_PATCH:
		return json_is_object(v);
	case JF_ARRAY:
		return json_is_array(v);
	case JF_BOOL:
		return json_is_boolean(v);
	case JF_INTEGER:
		return json_is_integer(v);
	case JF_UINT:
		return json_is_integer(v) && json_integer_value(v) >= 0;
	case JF_NUMBER:
		return json_is_number(v);
	case JF_ANY:
		return true;
	}
	return false;
}

int json_check_object(json_t *obj, const char *what, const struct json_field *fields,
		      err_t *err)
{
	if (!json_is_object(obj))
		return make_error(err, E_INVALID_ARGUMENT, 0, "%s must be a JSON object", what);
	const char *key;
	json_t *v;
	json_object_foreach (obj, key, v) {
		const struct json_field *f = fields;
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		if (!f->name)
			return make_error(err, E_INVALID_ARGUMENT, 0, "%s: unknown field `%s`",
					  what, key);
		if (json_is_null(v) && f->type != JF_ANY)
			continue;
		if (!type_ok(v, f->type))
			return make_error(err, E_INVALID_ARGUMENT, 0, "%s: field `%s` must be %s",
					  what, key, type_name(f->type));
		if ((f->type == JF_LABELS || f->type == JF_LABELS_PATCH) &&
		    json_check_labels(v, key, f->type == JF_LABELS_PATCH, err) < 0)
			return error_wrap(err, "%s", what);
	}
	for (const struct json_field *f = fields; f->name; f++) {
		if (!f->required)
			continue;
		v = json_object_get(obj, f->name);
		if (!v || (json_is_null(v) && f->type != JF_ANY))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "%s: missing required field `%s`", what, f->name);
	}
	return 0;
}

int json_check_labels(json_t *labels, const char *field, bool allow_null, err_t *err)
{
	if (!json_is_object(labels))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "field `%s` must be an object of strings", field);
	const char *key;
	json_t *v;
	json_object_foreach (labels, key, v) {
		if (allow_null && json_is_null(v))
			continue;
		if (!json_is_string(v))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "field `%s`: label `%s` must have a string value", field,
					  key);
		if (name_validate_label(key, json_string_value(v), err) < 0)
			return error_wrap(err, "field `%s`", field);
	}
	return 0;
}

void json_labels_merge(json_t *dst, json_t *patch)
{
	const char *key;
	json_t *v;
	json_object_foreach (patch, key, v) {
		if (json_is_null(v))
			json_object_del(dst, key);
		else
			json_object_set(dst, key, v);
	}
}

char *json_dump_compact(const json_t *j, size_t *len)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		s = xstrdup("null");
	if (len)
		*len = strlen(s);
	return s;
}

const char *json_get_string(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if there is
 * none: no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	if (s[0] < 0x80)
		return 1;
	size_t len;
	unsigned cp;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1fu;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0fu;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07u;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

json_t *json_string_lossy(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	struct buf b = BUF_INIT;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq((const unsigned char *)s + i, n - i);
		if (l) {
			buf_add(&b, s + i, l);
			i += l;
		} else {
			buf_adds(&b, "\xef\xbf\xbd");
			i++;
		}
	}
	j = json_stringn(b.data ? b.data : "", b.len);
	buf_release(&b);
	return j;
}
