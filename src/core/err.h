/*
 * err: the one error type of berth (after crun's libcrun_error_t and
 * containerd's errdefs).
 *
 * A fallible function takes `err_t *err` last, returns < 0 (or NULL) on
 * failure and sets *err with make_error(); callers add context on the way up
 * with error_wrap(). The kind maps to one HTTP status and one API error code
 * (api/response.c); handlers never choose status codes themselves.
 * Messages are lowercase, without a trailing period, values in backticks.
 */
#ifndef BERTH_CORE_ERR_H
#define BERTH_CORE_ERR_H

#include "core/util.h"

enum err_kind {
	E_INTERNAL = 0,        /* a bug or an unexpected system failure (500) */
	E_INVALID_ARGUMENT,    /* the request is wrong and retrying will not help (400) */
	E_UNAUTHENTICATED,     /* missing or bad credentials (401) */
	E_PERMISSION_DENIED,   /* authenticated but not allowed (403) */
	E_NOT_FOUND,           /* the named object does not exist (404) */
	E_METHOD_NOT_ALLOWED,  /* the path exists, the method does not (405) */
	E_ALREADY_EXISTS,      /* create of a name that is taken (409) */
	E_FAILED_PRECONDITION, /* the object is not in a state that allows this (412) */
	E_PAYLOAD_TOO_LARGE,   /* request body over the limit (413) */
	E_NOT_IMPLEMENTED,     /* the operation is not available (501) */
	E_UNAVAILABLE,         /* try again later: shutting down, busy (503) */
	E_KIND_MAX,
};

struct err {
	enum err_kind kind;
	int errnum; /* errno at the failure, 0 if none */
	char *msg;
};
typedef struct err *err_t;

/* Set *err (which must be NULL) and return -1. errnum, when non-zero, is
 * appended as ": strerror(errnum)". */
int make_error(err_t *err, enum err_kind kind, int errnum, const char *fmt, ...)
	PRINTF_LIKE(4, 5);
/* Prefix the message of *err with context: "context: message". Returns -1. */
int error_wrap(err_t *err, const char *fmt, ...) PRINTF_LIKE(2, 3);
void err_free(err_t *err);

/* "not_found", "invalid_argument", ... as in API.md. */
const char *err_kind_code(enum err_kind kind);
int err_kind_http_status(enum err_kind kind);
/* The kind of an API error code; E_INTERNAL for codes it does not know. */
enum err_kind err_kind_from_code(const char *code);

static inline void cleanup_err_fn(err_t *e)
{
	err_free(e);
}
#define cleanup_err __attribute__((cleanup(cleanup_err_fn)))

#endif
