#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "core/conf.h"

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->root = xstrdup(BERTH_DEFAULT_ROOT);
	c->state = xstrdup(BERTH_DEFAULT_STATE);
	c->log_level = LOG_INFO;
	c->max_json_body = 1 << 20;
	c->metadata_map_size = (uint64_t)1 << 30;
	c->event_ring_size = 4096;
	c->event_ring_bytes = 1 << 20;
	c->sse_heartbeat_interval = 15.0;
	c->sse_max_subscribers = 512;
	c->http_max_connections = 1024;
	c->http_idle_timeout = 120;
	c->shutdown_timeout = 1.5;
	c->max_blob_upload = (uint64_t)64 << 30;
	c->ingest_expiry = 24 * 3600;
	c->registries = xstrdup(SYSCONFDIR "/berth/registries.d");
	c->max_concurrent_downloads = 8;
	c->max_concurrent_downloads_per_pull = 4;
	c->registry_timeout = 30;
	c->registry_retries = 3;
	c->gc_interval = 3600;
	c->gc_delay = 1;
	c->snapshotter = xstrdup("overlayfs");
	c->default_runtime = xstrdup("runc");
}

void config_release(struct config *c)
{
	free(c->root);
	free(c->state);
	free(c->socket);
	free(c->socket_group);
	free(c->listen);
	free(c->token_file);
	free(c->registries);
	free(c->docker_config);
	free(c->snapshotter);
	free(c->default_runtime);
	memset(c, 0, sizeof(*c));
}

enum key_type { K_PATH, K_STRING, K_LOGLEVEL, K_SIZE, K_SECONDS };

/* The config file's keys. Keys are snake_case, as in the config example. */
static const struct key {
	const char *name;
	enum key_type type;
	size_t offset;
	uint64_t min, max; /* K_SIZE bounds; K_SECONDS bounds in milliseconds */
} keys[] = {
	{ "root", K_PATH, offsetof(struct config, root) },
	{ "state", K_PATH, offsetof(struct config, state) },
	{ "socket", K_PATH, offsetof(struct config, socket) },
	{ "socket_group", K_STRING, offsetof(struct config, socket_group) },
	{ "log_level", K_LOGLEVEL, offsetof(struct config, log_level) },
	{ "listen", K_STRING, offsetof(struct config, listen) },
	{ "token_file", K_PATH, offsetof(struct config, token_file) },
	{ "max_json_body", K_SIZE, offsetof(struct config, max_json_body), 1024, 1 << 30 },
	{ "metadata_map_size", K_SIZE, offsetof(struct config, metadata_map_size), 1 << 20,
	  (uint64_t)1 << 40 },
	{ "event_ring_size", K_SIZE, offsetof(struct config, event_ring_size), 16, 1 << 20 },
	{ "event_ring_bytes", K_SIZE, offsetof(struct config, event_ring_bytes), 64 << 10,
	  (uint64_t)1 << 32 },
	{ "sse_heartbeat_interval", K_SECONDS, offsetof(struct config, sse_heartbeat_interval), 10,
	  3600 * 1000 },
	{ "sse_max_subscribers", K_SIZE, offsetof(struct config, sse_max_subscribers), 1, 100000 },
	{ "http_max_connections", K_SIZE, offsetof(struct config, http_max_connections), 4,
	  1000000 },
	{ "http_idle_timeout", K_SIZE, offsetof(struct config, http_idle_timeout), 1, 86400 },
	{ "shutdown_timeout", K_SECONDS, offsetof(struct config, shutdown_timeout), 0, 60 * 1000 },
	{ "max_blob_upload", K_SIZE, offsetof(struct config, max_blob_upload), 1024,
	  (uint64_t)1 << 44 },
	{ "ingest_expiry", K_SECONDS, offsetof(struct config, ingest_expiry), 1000,
	  (uint64_t)365 * 86400 * 1000 },
	{ "registries", K_PATH, offsetof(struct config, registries) },
	{ "docker_config", K_PATH, offsetof(struct config, docker_config) },
	{ "max_concurrent_downloads", K_SIZE, offsetof(struct config, max_concurrent_downloads), 1,
	  1024 },
	{ "max_concurrent_downloads_per_pull", K_SIZE,
	  offsetof(struct config, max_concurrent_downloads_per_pull), 1, 1024 },
	{ "registry_timeout", K_SECONDS, offsetof(struct config, registry_timeout), 100,
	  3600 * 1000 },
	{ "registry_retries", K_SIZE, offsetof(struct config, registry_retries), 0, 20 },
	{ "gc_interval", K_SECONDS, offsetof(struct config, gc_interval), 1000,
	  (uint64_t)7 * 86400 * 1000 },
	{ "gc_delay", K_SECONDS, offsetof(struct config, gc_delay), 0, 3600 * 1000 },
	{ "snapshotter", K_STRING, offsetof(struct config, snapshotter) },
	{ "default_runtime", K_STRING, offsetof(struct config, default_runtime) },
};

static int set_string(char **dst, const char *key, const char *v, bool path, err_t *err)
{
	if (*v == '\0')
		return make_error(err, E_INVALID_ARGUMENT, 0, "`%s` must not be empty", key);
	if (path && v[0] != '/') {
		/* flags may be relative to the working directory; the file may not */
		char cwd[4096];
		if (key[0] != '-' || !getcwd(cwd, sizeof(cwd)))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`%s` must be an absolute path, got `%s`", key, v);
		free(*dst);
		*dst = xasprintf("%s/%s", cwd, v);
		return 0;
	}
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

static int set_log_level(enum log_level *dst, const char *key, const char *v, err_t *err)
{
	int l = log_level_parse(v);
	if (l < 0)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`%s`: unknown log level `%s` (error, warn, info, debug, trace)",
				  key, v);
	*dst = (enum log_level)l;
	return 0;
}

static int apply_key(struct config *c, const struct key *k, json_t *v, err_t *err)
{
	char *field = (char *)c + k->offset;
	switch (k->type) {
	case K_PATH:
	case K_STRING:
		if (!json_is_string(v))
			return make_error(err, E_INVALID_ARGUMENT, 0, "`%s` must be a string",
					  k->name);
		return set_string((char **)field, k->name, json_string_value(v),
				  k->type == K_PATH, err);
	case K_LOGLEVEL:
		if (!json_is_string(v))
			return make_error(err, E_INVALID_ARGUMENT, 0, "`%s` must be a string",
					  k->name);
		return set_log_level((enum log_level *)field, k->name, json_string_value(v),
				     err);
	case K_SIZE: {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`%s` must be a non-negative integer", k->name);
		uint64_t n = (uint64_t)json_integer_value(v);
		if (n < k->min || n > k->max)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`%s` must be between %llu and %llu", k->name,
					  (unsigned long long)k->min, (unsigned long long)k->max);
		*(uint64_t *)field = n;
		return 0;
	}
	case K_SECONDS: {
		if (!json_is_number(v))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`%s` must be a number of seconds", k->name);
		double s = json_number_value(v);
		if (!(s * 1000 >= (double)k->min && s * 1000 <= (double)k->max))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`%s` must be between %g and %g seconds", k->name,
					  (double)k->min / 1000, (double)k->max / 1000);
		*(double *)field = s;
		return 0;
	}
	}
	return make_error(err, E_INTERNAL, 0, "config key `%s` has no type", k->name);
}

int config_apply_json(struct config *c, json_t *obj, err_t *err)
{
	if (!json_is_object(obj))
		return make_error(err, E_INVALID_ARGUMENT, 0, "the top level must be a JSON object");
	const char *name;
	json_t *v;
	json_object_foreach (obj, name, v) {
		const struct key *k = NULL;
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
			if (strcmp(keys[i].name, name) == 0)
				k = &keys[i];
		if (!k)
			return make_error(err, E_INVALID_ARGUMENT, 0, "unknown key `%s`", name);
		if (apply_key(c, k, v, err) < 0)
			return -1;
	}
	return 0;
}

int config_validate(const struct config *c, err_t *err)
{
	if (c->listen && !c->token_file)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`listen` needs `token_file`: the TCP listener requires a bearer token");
	if (c->socket && strlen(c->socket) >= 108)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "socket path `%s` is longer than 107 bytes", c->socket);
	if (c->snapshotter && strcmp(c->snapshotter, "overlayfs") != 0 &&
	    strcmp(c->snapshotter, "native") != 0)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`snapshotter`: unknown snapshotter `%s` (overlayfs, native)",
				  c->snapshotter);
	if (c->default_runtime && strcmp(c->default_runtime, "runc") != 0 &&
	    strcmp(c->default_runtime, "crun") != 0 && c->default_runtime[0] != '/')
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "`default_runtime`: unknown runtime `%s` (runc, crun, or an "
				  "absolute path)",
				  c->default_runtime);
	return 0;
}

int config_load(struct config *c, const char *path, bool explicit_path,
		const struct config_flags *flags, err_t *err)
{
	if (path) {
		json_error_t jerr;
		json_t *obj = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
		if (!obj) {
			bool missing = access(path, F_OK) < 0 && errno == ENOENT;
			if (!(missing && !explicit_path)) {
				if (missing)
					return make_error(err, E_INVALID_ARGUMENT, ENOENT,
							  "config file `%s`", path);
				return make_error(err, E_INVALID_ARGUMENT, 0,
						  "config file `%s`: line %d column %d: %s", path,
						  jerr.line, jerr.column, jerr.text);
			}
		} else {
			int r = config_apply_json(c, obj, err);
			json_decref(obj);
			if (r < 0)
				return error_wrap(err, "config file `%s`", path);
		}
	}
	if (flags) {
		if ((flags->root && set_string(&c->root, "--root", flags->root, true, err) < 0) ||
		    (flags->state && set_string(&c->state, "--state", flags->state, true, err) < 0) ||
		    (flags->socket &&
		     set_string(&c->socket, "--socket", flags->socket, true, err) < 0) ||
		    (flags->listen &&
		     set_string(&c->listen, "--listen", flags->listen, false, err) < 0) ||
		    (flags->token_file &&
		     set_string(&c->token_file, "--token-file", flags->token_file, true, err) < 0) ||
		    (flags->log_level &&
		     set_log_level(&c->log_level, "--log-level", flags->log_level, err) < 0))
			return -1;
	}
	if (!c->socket)
		c->socket = xasprintf("%s/berthd.sock", c->state);
	return config_validate(c, err);
}
