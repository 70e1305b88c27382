#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

static const struct {
	const char *code;
	int status;
} kinds[E_KIND_MAX] = {
	[E_INTERNAL] = { "internal", 500 },
	[E_INVALID_ARGUMENT] = { "invalid_argument", 400 },
	[E_UNAUTHENTICATED] = { "unauthenticated", 401 },
	[E_PERMISSION_DENIED] = { "permission_denied", 403 },
	[E_NOT_FOUND] = { "not_found", 404 },
	[E_METHOD_NOT_ALLOWED] = { "method_not_allowed", 405 },
	[E_ALREADY_EXISTS] = { "already_exists", 409 },
	[E_FAILED_PRECONDITION] = { "failed_precondition", 412 },
	[E_PAYLOAD_TOO_LARGE] = { "payload_too_large", 413 },
	[E_NOT_IMPLEMENTED] = { "not_implemented", 501 },
	[E_UNAVAILABLE] = { "unavailable", 503 },
};

int make_error(err_t *err, enum err_kind kind, int errnum, const char *fmt, ...)
{
	if (!err)
		return -1;
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (errnum)
		buf_addf(&b, ": %s", strerror(errnum));
	if (*err) /* an error already pending is replaced by the newer one */
		err_free(err);
	struct err *e = xmalloc(sizeof(*e));
	e->kind = kind < E_KIND_MAX ? kind : E_INTERNAL;
	e->errnum = errnum;
	e->msg = buf_detach(&b, NULL);
	*err = e;
	return -1;
}

int error_wrap(err_t *err, const char *fmt, ...)
{
	if (!err || !*err)
		return -1;
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	buf_addf(&b, ": %s", (*err)->msg);
	free((*err)->msg);
	(*err)->msg = buf_detach(&b, NULL);
	return -1;
}

void err_free(err_t *err)
{
	if (!err || !*err)
		return;
	free((*err)->msg);
	free(*err);
	*err = NULL;
}

const char *err_kind_code(enum err_kind kind)
{
	return kind < E_KIND_MAX ? kinds[kind].code : "internal";
}

int err_kind_http_status(enum err_kind kind)
{
	return kind < E_KIND_MAX ? kinds[kind].status : 500;
}

enum err_kind err_kind_from_code(const char *code)
{
	for (int k = 0; k < E_KIND_MAX; k++)
		if (code && strcmp(kinds[k].code, code) == 0)
			return (enum err_kind)k;
	return E_INTERNAL;
}
