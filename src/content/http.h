/* content/http: the REST surface of the content store
 * (/v1/namespaces/{ns}/content/...; see api-spec/openapi.yaml). */
#ifndef BERTH_CONTENT_HTTP_H
#define BERTH_CONTENT_HTTP_H

#include "api/router.h"

extern const struct route content_routes[];

/* Parse a Range header against a blob of size bytes: 1 with the inclusive
 * range [*start, *end], 0 when it is to be ignored (not bytes, several
 * ranges, malformed: the whole blob is served), -1 when unsatisfiable. */
int content_parse_range(const char *h, uint64_t size, uint64_t *start, uint64_t *end);

/* Parse Content-Range of an ingest write: "bytes START-END/TOTAL" (TOTAL
 * may be a star: unknown), or a star instead of START-END followed by
 * "/TOTAL" (no bytes: it only declares the total).
 * *total is 0 when unknown; *len is END-START+1, or 0 for the second form.
 * E_INVALID_ARGUMENT when malformed. */
int content_parse_content_range(const char *h, uint64_t *start, uint64_t *len, uint64_t *total,
				err_t *err);

#endif
