/*
 * reference: Docker/OCI image references, parsed and normalised as the
 * distribution `reference` package does (ParseNormalizedNamed + TagNameOnly):
 *
 *   redis                     → docker.io/library/redis:latest
 *   user/app:v1               → docker.io/user/app:v1
 *   localhost:5000/app        → localhost:5000/app:latest
 *   ghcr.io/o/r@sha256:<hex>  → ghcr.io/o/r@sha256:<hex>   (no tag added)
 *
 * Pure functions on strings; no I/O.
 */
#ifndef BERTH_REMOTES_REFERENCE_H
#define BERTH_REMOTES_REFERENCE_H

#include "core/err.h"

struct reference {
	/* "docker.io", "localhost:5000", "[::1]:5000"; "" only where the package
	 * finds no host either: a first component with a '.' that is not a valid
	 * host but is a valid path ("foo_bar.com/app" → path "foo_bar.com/app") */
	char *domain;
	char *path;   /* "library/redis" */
	char *tag;    /* "latest"; NULL when only a digest was given */
	char *digest; /* "sha256:<hex>" or NULL */
};

/* Parse and normalise; errors are E_INVALID_ARGUMENT with the reason
 * ("invalid reference format: repository name must be lowercase", ...). */
int reference_parse(const char *s, struct reference *out, err_t *err);
void reference_release(struct reference *r);

/* domain/path[:tag][@digest] */
char *reference_string(const struct reference *r);
/* domain/path (the repository, without tag or digest) */
char *reference_name(const struct reference *r);
/* The short form Docker prints: "redis:latest", "user/app:v1". */
char *reference_familiar(const struct reference *r);
/* The familiar repository without tag or digest: "redis", "user/app". */
char *reference_familiar_name(const struct reference *r);

#endif
