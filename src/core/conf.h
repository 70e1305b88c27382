/*
 * conf: berthd's settings, from defaults, then the JSON config file, then
 * command-line flags (flags win). Loading validates everything: an unknown
 * key, a wrong type or an unusable value is one error naming the key.
 * The struct is owned by the daemon; strings are heap copies.
 */
#ifndef BERTH_CORE_CONF_H
#define BERTH_CORE_CONF_H

#include <stdint.h>

#include "core/err.h"
#include "core/json.h"
#include "core/log.h"

#define BERTH_DEFAULT_CONFIG SYSCONFDIR "/berth/config.json"
#define BERTH_DEFAULT_ROOT "/var/lib/berth"
#define BERTH_DEFAULT_STATE "/run/berth"

struct config {
	char *root;          /* persistent data: meta/, content/, snapshots/ */
	char *state;         /* runtime data: socket, tasks/ */
	char *socket;        /* unix socket path (default <state>/berthd.sock) */
	char *socket_group;  /* group owning the socket, NULL: root's */
	enum log_level log_level;
	char *listen;        /* optional TCP listener "HOST:PORT" */
	char *token_file;    /* bearer token for the TCP listener */
	uint64_t max_json_body;       /* bytes; larger JSON bodies get 413 */
	uint64_t metadata_map_size;   /* LMDB map size in bytes */
	uint64_t event_ring_size;     /* events kept for replay */
	uint64_t event_ring_bytes;    /* and at most this much memory of them */
	double sse_heartbeat_interval; /* seconds between SSE heartbeat comments */
	uint64_t sse_max_subscribers; /* concurrent SSE streams */
	uint64_t http_max_connections;
	uint64_t http_idle_timeout;   /* seconds an idle connection is kept */
	double shutdown_timeout;      /* seconds in-flight requests get at SIGTERM */
	uint64_t max_blob_upload;     /* bytes of one PUT .../content/.../data or ingest chunk */
	double ingest_expiry;         /* seconds an idle ingest is kept */
	char *registries;             /* registry host settings: a JSON file or a directory */
	char *docker_config;          /* Docker-style credentials file (config.json) */
	uint64_t max_concurrent_downloads;          /* blob transfers at once, all pulls */
	uint64_t max_concurrent_downloads_per_pull; /* blob transfers at once, one pull */
	double registry_timeout;      /* seconds a registry transfer may stall */
	uint64_t registry_retries;    /* retries of a failed registry request */
	double gc_interval;           /* seconds between timed collections */
	double gc_delay;              /* seconds after a deletion before collecting */
	char *snapshotter;            /* default snapshotter: "overlayfs" or "native" */
	char *default_runtime;        /* containers' runtime: "runc", "crun" or an absolute path */
};

/* Which fields were set on the command line (they win over the file). */
struct config_flags {
	const char *root, *state, *socket, *log_level, *listen, *token_file;
};

void config_init(struct config *c);
void config_release(struct config *c);

/* Load: defaults, then the file at path (a missing file is an error only if
 * `explicit`), then flags. */
int config_load(struct config *c, const char *path, bool explicit_path,
		const struct config_flags *flags, err_t *err);

/* Apply a JSON object (the file's contents) onto c. */
int config_apply_json(struct config *c, json_t *obj, err_t *err);

/* Check cross-field rules (listen needs a token file, ...). */
int config_validate(const struct config *c, err_t *err);

#endif
