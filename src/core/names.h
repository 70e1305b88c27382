/*
 * names: validation of the names that come from the API and become LMDB keys
 * or path components. A name that passes can never escape a directory
 * (no '/', no "..", no NUL, bounded length).
 */
#ifndef BERTH_CORE_NAMES_H
#define BERTH_CORE_NAMES_H

#include "core/err.h"

/* Namespace names: [a-z0-9]([a-z0-9._-]{0,74}[a-z0-9])? (API.md). */
int name_validate_namespace(const char *name, err_t *err);

/* Object identifiers (container ids, lease ids, snapshot keys, ingest refs):
 * [A-Za-z0-9]([A-Za-z0-9_.-]{0,74}[A-Za-z0-9])?, as containerd's identifiers. */
int name_validate_identifier(const char *what, const char *name, err_t *err);

/* Ingest refs (containerd's content writer refs, e.g. `layer-sha256:<hex>`):
 * 1..255 characters of [A-Za-z0-9_.:@/-], no `..` path component. They are
 * LMDB keys, never path components (the ingest directory is their hash). */
int name_validate_ingest_ref(const char *ref, err_t *err);

/* Event topics: "/" followed by components of [A-Za-z0-9_.-]+ separated by
 * single '/'; at most 255 bytes (containerd's topic rules). */
int name_validate_topic(const char *topic, err_t *err);

/* Label keys and values: key 1..4096 bytes of printable UTF-8 without
 * control characters; key + value at most 4096 bytes (containerd's limit). */
int name_validate_label(const char *key, const char *value, err_t *err);

#endif
