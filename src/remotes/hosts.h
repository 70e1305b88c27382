/*
 * hosts: per-registry settings and the endpoints a request tries, private to
 * src/remotes (containerd's config/hosts.go, in JSON).
 *
 * The `registries` config key names a JSON file, or a directory whose
 * `*.json` files are read in name order (a host in two files is an error).
 * A missing path means no settings. Schema (every field optional):
 *
 *   {
 *     "hosts": {
 *       "localhost:5000": {
 *         "mirrors": ["http://127.0.0.1:5001", "https://mirror.example/base"],
 *         "server": "https://registry.example:5000",
 *         "plain_http": false,
 *         "skip_verify": false,
 *         "ca_file": "/etc/berth/certs/ca.pem",
 *         "client_cert": "/etc/berth/certs/client.pem",
 *         "client_key": "/etc/berth/certs/client.key"
 *       }
 *     }
 *   }
 *
 * - Keys are registry hosts as they appear in references ("docker.io",
 *   "localhost:5000", "[::1]:5000"), lowercase.
 * - `mirrors` are tried in order before the registry itself, for pulls only.
 *   A mirror is a URL: its scheme decides HTTP or HTTPS (none: HTTPS), its
 *   path is the API root (none: "/v2"). A mirror's own TLS settings come
 *   from the entry of its host in the same table.
 * - `server` replaces the registry's own endpoint (default: https://<host>,
 *   and https://registry-1.docker.io for docker.io), with the same URL rules.
 * - `plain_http` talks HTTP to the registry; `skip_verify` does not verify
 *   its certificate; `ca_file` adds a CA bundle; `client_cert` and
 *   `client_key` (PEM, both or neither) authenticate us with TLS.
 *
 * Loopback registries (localhost, 127.0.0.0/8, [::1]) are tried over HTTPS
 * and fall back to plain HTTP when TLS fails, as Docker does.
 */
#ifndef BERTH_REMOTES_HOSTS_H
#define BERTH_REMOTES_HOSTS_H

#include "core/err.h"

struct host_settings {
	char *host;
	char **mirrors;
	size_t nmirrors;
	char *server;
	bool plain_http;
	bool skip_verify;
	char *ca_file;
	char *client_cert;
	char *client_key;
};

struct hosts {
	struct host_settings *v;
	size_t n;
};

/* Load a file or a directory of *.json files; a missing path is no settings.
 * Errors are E_INVALID_ARGUMENT naming the file and the field. */
int hosts_load(const char *path, struct hosts *out, err_t *err);
/* Parse one file's text into out (appending); `what` names it in errors. */
int hosts_parse(const char *text, size_t len, const char *what, struct hosts *out, err_t *err);
const struct host_settings *hosts_find(const struct hosts *h, const char *host);
void hosts_release(struct hosts *h);

/* One place a request can be sent. */
struct endpoint {
	char *host;   /* "127.0.0.1:5000": for credentials, tokens, settings */
	char *scheme; /* "https" or "http" */
	char *root;   /* API root path: "/v2" */
	bool mirror;
	bool loopback; /* HTTPS may fall back to HTTP */
	bool skip_verify;
	char *ca_file, *client_cert, *client_key;
};

/* The endpoints for a registry (the reference's domain), mirrors first when
 * `pull`, the registry itself last. plain_http forces HTTP on the registry
 * (not on mirrors, whose URL says). */
int hosts_endpoints(const struct hosts *h, const char *domain, bool plain_http, bool pull,
		    struct endpoint **out, size_t *n, err_t *err);
void endpoints_free(struct endpoint *v, size_t n);

/* localhost, 127.0.0.0/8 or ::1, with or without a port. */
bool host_is_loopback(const char *host);

#endif
