/*
 * json: jansson helpers shared by every service: strict parsing of request
 * bodies into validated objects (unknown fields, wrong types and bad labels
 * are E_INVALID_ARGUMENT naming the field), and cleanup attributes.
 * JSON is never built with printf: use json_pack()/json_object_set_new().
 */
#ifndef BERTH_CORE_JSON_H
#define BERTH_CORE_JSON_H

#include <jansson.h>

#include "core/err.h"

static inline void cleanup_json_fn(json_t **j)
{
	if (*j)
		json_decref(*j);
}
#define cleanup_json __attribute__((cleanup(cleanup_json_fn)))

/* Field types for json_check_object() beyond jansson's json_type. */
enum json_field_type {
	JF_STRING,
	JF_OBJECT,
	JF_ARRAY,
	JF_BOOL,
	JF_INTEGER, /* any integer */
	JF_UINT,    /* integer >= 0 */
	JF_NUMBER,  /* integer or real */
	JF_LABELS,  /* object of string → string, checked by name_validate_label() */
	JF_LABELS_PATCH, /* as JF_LABELS, values may also be null (delete) */
	JF_ANY,
};

struct json_field {
	const char *name;
	enum json_field_type type;
	bool required;
};

/* Parse a request body: valid UTF-8 JSON whose top level is an object.
 * An empty body gives an empty object. Errors are E_INVALID_ARGUMENT. */
json_t *json_parse_body(const char *data, size_t len, err_t *err);

/* Check obj against fields (terminated by { NULL }): no unknown keys, every
 * present key has its type (null counts as absent unless the type is
 * JF_ANY), required keys present. `what` names the object in messages
 * ("request body", "`auth`"). */
int json_check_object(json_t *obj, const char *what, const struct json_field *fields,
		      err_t *err);

/* Check a labels object (JF_LABELS semantics); allow_null for patches. */
int json_check_labels(json_t *labels, const char *field, bool allow_null, err_t *err);

/* Apply a labels patch (RFC 7396 merge: null deletes a key) onto dst. */
void json_labels_merge(json_t *dst, json_t *patch);

/* Compact serialisation; the caller frees. */
char *json_dump_compact(const json_t *j, size_t *len);

/* A JSON string of s, valid UTF-8 or not: each byte that does not start a
 * valid UTF-8 sequence becomes U+FFFD. For text that may echo what a
 * client sent (error messages); json_string() gives NULL on such input. */
json_t *json_string_lossy(const char *s);

/* Object member as string, or NULL if absent or not a string. */
const char *json_get_string(const json_t *obj, const char *key);

#endif
