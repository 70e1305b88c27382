#include "config.h"

#include <string.h>

#include "core/names.h"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

int name_validate_namespace(const char *name, err_t *err)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0)
		return make_error(err, E_INVALID_ARGUMENT, 0, "namespace name must not be empty");
	if (n > 76)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "namespace name `%.80s...` is longer than 76 characters", name);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool edge = i == 0 || i == n - 1;
		if (is_lower_alnum(c) || (!edge && (c == '.' || c == '_' || c == '-')))
			continue;
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "invalid namespace name `%s`: must match "
				  "[a-z0-9]([a-z0-9._-]{0,74}[a-z0-9])?",
				  name);
	}
	return 0;
}

int name_validate_identifier(const char *what, const char *name, err_t *err)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0)
		return make_error(err, E_INVALID_ARGUMENT, 0, "%s must not be empty", what);
	if (n > 76)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "%s `%.80s...` is longer than 76 characters", what, name);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool edge = i == 0 || i == n - 1;
		if (is_alnum(c) || (!edge && (c == '.' || c == '_' || c == '-')))
			continue;
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "invalid %s `%s`: must match "
				  "[A-Za-z0-9]([A-Za-z0-9_.-]{0,74}[A-Za-z0-9])?",
				  what, name);
	}
	return 0;
}

int name_validate_ingest_ref(const char *ref, err_t *err)
{
	size_t n = ref ? strlen(ref) : 0;
	if (n == 0)
		return make_error(err, E_INVALID_ARGUMENT, 0, "ingest ref must not be empty");
	if (n > 255)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "ingest ref `%.64s...` is longer than 255 characters", ref);
	for (size_t i = 0; i < n; i++) {
		char c = ref[i];
		if (is_alnum(c) || strchr("_.:@/-", c))
			continue;
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "invalid ingest ref `%s`: must be characters of [A-Za-z0-9_.:@/-]",
				  ref);
	}
	for (const char *p = ref; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (strncmp(p, "..", 2) == 0 && (p[2] == '\0' || p[2] == '/'))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "invalid ingest ref `%s`: `..` is not allowed as a path "
					  "component",
					  ref);
	}
	return 0;
}

int name_validate_topic(const char *topic, err_t *err)
{
	size_t n = topic ? strlen(topic) : 0;
	if (n < 2 || topic[0] != '/')
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "invalid topic `%s`: must start with `/` and name a component",
				  topic ? topic : "");
	if (n > 255)
		return make_error(err, E_INVALID_ARGUMENT, 0, "topic is longer than 255 bytes");
	for (size_t i = 1; i < n; i++) {
		char c = topic[i];
		if (is_alnum(c) || c == '_' || c == '.' || c == '-')
			continue;
		if (c == '/' && topic[i - 1] != '/' && i != n - 1)
			continue;
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "invalid topic `%s`: components are [A-Za-z0-9_.-]+ "
				  "separated by `/`",
				  topic);
	}
	return 0;
}

/* Checks s is valid UTF-8 without control characters. */
static bool printable_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p;
		size_t len;
		if (c < 0x20 || c == 0x7f)
			return false;
		/* the range of the second byte rules out overlong forms,
		 * surrogates and code points above U+10FFFF (RFC 3629) */
		unsigned lo = 0x80, hi = 0xbf;
		if (c < 0x80)
			len = 1;
		else if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4;
		else
			return false;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (len > 1 && (p[1] < lo || p[1] > hi))
			return false;
		for (size_t i = 2; i < len; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += len;
	}
	return true;
}

int name_validate_label(const char *key, const char *value, err_t *err)
{
	size_t kl = key ? strlen(key) : 0;
	if (kl == 0)
		return make_error(err, E_INVALID_ARGUMENT, 0, "label key must not be empty");
	if (kl + (value ? strlen(value) : 0) > 4096)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "label `%.64s`: key and value are longer than 4096 bytes", key);
	if (!printable_utf8(key))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "label key `%.64s` holds control characters or invalid UTF-8", key);
	return 0;
}
