/*
 * auth: the pure parts of registry authentication, private to src/remotes.
 *
 * - WWW-Authenticate challenges (RFC 7235): several challenges in one
 *   header value or across header lines, quoted strings with commas and
 *   backslash escapes, case-insensitive schemes and parameter names, token68.
 * - Docker-style credentials (config.json `auths`): keys normalised to a
 *   registry host ("https://index.docker.io/v1/" → "docker.io"), base64
 *   `auth` = "user:password", or `username`/`password`, `identitytoken`,
 *   `registrytoken`.
 * - base64, for the Basic header and `auth`.
 *
 * No I/O besides what the caller hands in. Secrets are wiped when freed and
 * never appear in error messages.
 */
#ifndef BERTH_REMOTES_AUTH_H
#define BERTH_REMOTES_AUTH_H

#include "core/err.h"

struct www_param {
	char *name; /* lowercased */
	char *value;
};

struct www_challenge {
	char *scheme;  /* lowercased: "bearer", "basic" */
	char *token68; /* or NULL */
	struct www_param *params;
	size_t nparams;
};

/* Parse one header value, appending its challenges to *list (*n of them).
 * On a malformed value, E_INVALID_ARGUMENT; *list keeps what was parsed
 * before the value. */
int www_auth_parse(const char *value, struct www_challenge **list, size_t *n, err_t *err);
/* A parameter's value (name case-insensitive), or NULL. */
const char *www_challenge_param(const struct www_challenge *c, const char *name);
void www_challenges_free(struct www_challenge *list, size_t n);

/* Standard base64 with padding. */
char *base64_encode(const void *data, size_t len);
/* Decode standard base64 (padding optional, no whitespace); NULL when
 * malformed. The result is NUL-terminated; *len its length. */
char *base64_decode(const char *s, size_t *len);

struct docker_cred {
	char *host;	/* normalised key: "docker.io", "localhost:5000" */
	char *username; /* NULL when only a token is known */
	char *password;
	char *identity_token; /* OAuth2 refresh token for the token server */
	char *registry_token; /* a bearer token for the registry itself */
};

struct docker_creds {
	struct docker_cred *v;
	size_t n;
};

/* Parse a config.json's text. `credsStore`/`credHelpers` are ignored (no
 * helpers are run by berthd). Errors are E_INVALID_ARGUMENT naming the entry
 * (never its secret). */
int docker_config_parse(const char *text, size_t len, struct docker_creds *out, err_t *err);
/* The credentials for a registry host (normalised the same way), or NULL. */
const struct docker_cred *docker_creds_find(const struct docker_creds *c, const char *host);
void docker_creds_release(struct docker_creds *c);
/* "https://index.docker.io/v1/" → "docker.io"; "http://Reg:5000/x" →
 * "reg:5000". Docker Hub's aliases all become "docker.io". */
char *docker_config_host_key(const char *key);

/* Wipe and free a secret string. */
void secret_free(char *s);

#endif
