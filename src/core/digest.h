/*
 * digest: OCI content digests ("sha256:<64 lowercase hex>") and a streaming
 * hasher over OpenSSL EVP. Only sha256 is stored; other algorithms of the
 * OCI grammar (sha512, ...) are rejected as invalid_argument with a clear
 * message. Hashing is incremental: callers feed bytes as they arrive and
 * never hash a large blob in one call on the loop.
 */
#ifndef BERTH_CORE_DIGEST_H
#define BERTH_CORE_DIGEST_H

#include "core/err.h"

#define DIGEST_SHA256_PREFIX "sha256:"
#define DIGEST_STRLEN (7 + 64) /* "sha256:" + hex */

/* Valid and supported digest? E_INVALID_ARGUMENT names what is wrong. */
int digest_validate(const char *digest, err_t *err);
/* The hex part of a validated digest. */
const char *digest_hex(const char *digest);

struct hasher;
struct hasher *hasher_new(void);
void hasher_update(struct hasher *h, const void *data, size_t len);
/* Finish into out ("sha256:<hex>", NUL-terminated); the hasher can be freed
 * or reset after. */
void hasher_final(struct hasher *h, char out[DIGEST_STRLEN + 1]);
void hasher_reset(struct hasher *h);
void hasher_free(struct hasher *h);
/* One-shot digest of a small buffer (manifests, configs). */
void digest_buffer(const void *data, size_t len, char out[DIGEST_STRLEN + 1]);

#endif
