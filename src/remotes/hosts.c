#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "core/json.h"
#include "remotes/hosts.h"

static void settings_release(struct host_settings *s)
{
	free(s->host);
	for (size_t i = 0; i < s->nmirrors; i++)
		free(s->mirrors[i]);
	free(s->mirrors);
	free(s->server);
	free(s->ca_file);
	free(s->client_cert);
	free(s->client_key);
	memset(s, 0, sizeof(*s));
}

void hosts_release(struct hosts *h)
{
	for (size_t i = 0; i < h->n; i++)
		settings_release(&h->v[i]);
	free(h->v);
	h->v = NULL;
	h->n = 0;
}

const struct host_settings *hosts_find(const struct hosts *h, const char *host)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcasecmp(h->v[i].host, host) == 0)
			return &h->v[i];
	return NULL;
}

/* A URL as the schema allows it: [http|https://]host[:port][/path]. */
struct url_parts {
	char *scheme, *host, *root;
};

static void url_parts_release(struct url_parts *u)
{
	free(u->scheme);
	free(u->host);
	free(u->root);
}

static bool valid_host(const char *h)
{
	if (!*h)
		return false;
	for (const char *p = h; *p; p++)
		if (!(isalnum((unsigned char)*p) || strchr(".-:[]_", *p)))
			return false;
	return true;
}

static int parse_url(const char *s, struct url_parts *u)
{
	memset(u, 0, sizeof(*u));
	const char *p = s;
	if (strncmp(p, "https://", 8) == 0) {
		u->scheme = xstrdup("https");
		p += 8;
	} else if (strncmp(p, "http://", 7) == 0) {
		u->scheme = xstrdup("http");
		p += 7;
	} else if (strstr(p, "://")) {
		return -1;
	} else {
		u->scheme = xstrdup("https");
	}
	size_t n = strcspn(p, "/");
	u->host = xstrndup(p, n);
	for (char *q = u->host; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	if (!valid_host(u->host)) {
		url_parts_release(u);
		return -1;
	}
	p += n;
	size_t plen = strlen(p);
	while (plen > 0 && p[plen - 1] == '/')
		plen--;
	u->root = plen ? xstrndup(p, plen) : xstrdup("/v2");
	return 0;
}

static int get_bool(json_t *e, const char *what, const char *host, const char *field, bool *out,
		    err_t *err)
{
	json_t *v = json_object_get(e, field);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "%s: `hosts.\"%s\".%s` must be a boolean", what, host, field);
	*out = json_is_true(v);
	return 0;
}

static int get_path(json_t *e, const char *what, const char *host, const char *field, char **out,
		    err_t *err)
{
	json_t *v = json_object_get(e, field);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_value(v)[0] != '/')
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "%s: `hosts.\"%s\".%s` must be an absolute path", what, host,
				  field);
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int parse_host(const char *what, const char *key, json_t *e, struct host_settings *s,
		      err_t *err)
{
	static const char *const known[] = {"mirrors", "server",      "plain_http", "skip_verify",
					    "ca_file", "client_cert", "client_key"};
	if (!json_is_object(e))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "%s: `hosts.\"%s\"` must be an object", what, key);
	const char *k;
	json_t *v;
	json_object_foreach(e, k, v) {
		bool ok = false;
		for (size_t i = 0; i < ARRAY_SIZE(known); i++)
			ok |= strcmp(k, known[i]) == 0;
		if (!ok)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "%s: `hosts.\"%s\"`: unknown field `%s`", what, key, k);
	}
	s->host = xstrdup(key);
	for (char *q = s->host; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	if (!valid_host(s->host) || strchr(key, '/'))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "%s: `%s` is not a registry host (host[:port], no scheme)", what,
				  key);
	json_t *m = json_object_get(e, "mirrors");
	if (m && !json_is_null(m)) {
		if (!json_is_array(m))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "%s: `hosts.\"%s\".mirrors` must be an array of URLs",
					  what, key);
		size_t i;
		json_t *u;
		s->mirrors = xcalloc(json_array_size(m) + 1, sizeof(char *));
		json_array_foreach(m, i, u) {
			struct url_parts up;
			if (!json_is_string(u) || parse_url(json_string_value(u), &up) < 0)
				return make_error(err, E_INVALID_ARGUMENT, 0,
						  "%s: `hosts.\"%s\".mirrors[%zu]` must be a URL "
						  "([http[s]://]host[:port][/path])",
						  what, key, i);
			url_parts_release(&up);
			s->mirrors[s->nmirrors++] = xstrdup(json_string_value(u));
		}
	}
	json_t *sv = json_object_get(e, "server");
	if (sv && !json_is_null(sv)) {
		struct url_parts up;
		if (!json_is_string(sv) || parse_url(json_string_value(sv), &up) < 0)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "%s: `hosts.\"%s\".server` must be a URL", what, key);
		url_parts_release(&up);
		s->server = xstrdup(json_string_value(sv));
	}
	if (get_bool(e, what, key, "plain_http", &s->plain_http, err) < 0 ||
	    get_bool(e, what, key, "skip_verify", &s->skip_verify, err) < 0 ||
	    get_path(e, what, key, "ca_file", &s->ca_file, err) < 0 ||
	    get_path(e, what, key, "client_cert", &s->client_cert, err) < 0 ||
	    get_path(e, what, key, "client_key", &s->client_key, err) < 0)
		return -1;
	if (!s->client_cert != !s->client_key)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "%s: `hosts.\"%s\"`: `client_cert` and `client_key` go together",
				  what, key);
	return 0;
}

int hosts_parse(const char *text, size_t len, const char *what, struct hosts *out, err_t *err)
{
	json_error_t je;
	cleanup_json json_t *root = json_loadb(text, len, 0, &je);
	if (!root)
		return make_error(err, E_INVALID_ARGUMENT, 0, "%s: invalid JSON at line %d: %s",
				  what, je.line, je.text);
	if (!json_is_object(root))
		return make_error(err, E_INVALID_ARGUMENT, 0, "%s: the top level must be an object",
				  what);
	const char *k;
	json_t *v;
	json_object_foreach(root, k, v) {
		if (strcmp(k, "hosts") != 0)
			return make_error(err, E_INVALID_ARGUMENT, 0, "%s: unknown field `%s`",
					  what, k);
	}
	json_t *hosts = json_object_get(root, "hosts");
	if (!hosts)
		return 0;
	if (!json_is_object(hosts))
		return make_error(err, E_INVALID_ARGUMENT, 0, "%s: `hosts` must be an object",
				  what);
	json_object_foreach(hosts, k, v) {
		if (hosts_find(out, k))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "%s: host `%s` is configured twice", what, k);
		out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
		struct host_settings *s = &out->v[out->n++];
		memset(s, 0, sizeof(*s));
		if (parse_host(what, k, v, s, err) < 0) {
			settings_release(s);
			out->n--;
			return -1;
		}
	}
	return 0;
}

static int load_file(const char *path, struct hosts *out, err_t *err)
{
	size_t len;
	cleanup_free char *text = read_file(path, &len);
	if (!text)
		return make_error(err, E_INVALID_ARGUMENT, errno, "read `%s`", path);
	return hosts_parse(text, len, path, out, err);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int hosts_load(const char *path, struct hosts *out, err_t *err)
{
	struct stat st;
	struct hosts tmp = {0};
	if (!path || stat(path, &st) < 0) {
		if (path && errno != ENOENT)
			return make_error(err, E_INVALID_ARGUMENT, errno, "registries `%s`", path);
		hosts_release(out);
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (load_file(path, &tmp, err) < 0) {
			hosts_release(&tmp);
			return -1;
		}
	} else {
		DIR *dir = opendir(path);
		if (!dir)
			return make_error(err, E_INVALID_ARGUMENT, errno, "registries `%s`", path);
		char **names = NULL;
		size_t n = 0, alloc = 0;
		struct dirent *de;
		while ((de = readdir(dir))) {
			size_t l = strlen(de->d_name);
			if (de->d_name[0] == '.' || l < 6 ||
			    strcmp(de->d_name + l - 5, ".json") != 0)
				continue;
			ALLOC_GROW(names, n + 1, alloc);
			names[n++] = xasprintf("%s/%s", path, de->d_name);
		}
		closedir(dir);
		if (n)
			qsort(names, n, sizeof(*names), name_cmp);
		int rc = 0;
		for (size_t i = 0; i < n; i++) {
			if (rc == 0 && load_file(names[i], &tmp, err) < 0)
				rc = -1;
			free(names[i]);
		}
		free(names);
		if (rc < 0) {
			hosts_release(&tmp);
			return -1;
		}
	}
	hosts_release(out);
	*out = tmp;
	return 0;
}

bool host_is_loopback(const char *host)
{
	char h[256];
	if (host[0] == '[') {
		size_t n = strcspn(host + 1, "]");
		if (n >= sizeof(h))
			return false;
		memcpy(h, host + 1, n);
		h[n] = '\0';
	} else {
		size_t n = strcspn(host, ":");
		if (n >= sizeof(h))
			return false;
		memcpy(h, host, n);
		h[n] = '\0';
	}
	if (strcasecmp(h, "localhost") == 0)
		return true;
	struct in_addr a4;
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	struct in6_addr a6;
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

void endpoints_free(struct endpoint *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].host);
		free(v[i].scheme);
		free(v[i].root);
		free(v[i].ca_file);
		free(v[i].client_cert);
		free(v[i].client_key);
	}
	free(v);
}

static void fill_tls(const struct hosts *h, struct endpoint *e)
{
	const struct host_settings *s = hosts_find(h, e->host);
	if (!s)
		return;
	e->skip_verify = s->skip_verify;
	e->ca_file = s->ca_file ? xstrdup(s->ca_file) : NULL;
	e->client_cert = s->client_cert ? xstrdup(s->client_cert) : NULL;
	e->client_key = s->client_key ? xstrdup(s->client_key) : NULL;
}

int hosts_endpoints(const struct hosts *h, const char *domain, bool plain_http, bool pull,
		    struct endpoint **out, size_t *n, err_t *err)
{
	const struct host_settings *s = hosts_find(h, domain);
	size_t nm = pull && s ? s->nmirrors : 0;
	struct endpoint *v = xcalloc(nm + 1, sizeof(*v));
	for (size_t i = 0; i < nm; i++) {
		struct url_parts u;
		if (parse_url(s->mirrors[i], &u) < 0) {
			endpoints_free(v, i);
			return make_error(err, E_INVALID_ARGUMENT, 0, "mirror `%s`", s->mirrors[i]);
		}
		v[i] = (struct endpoint){
		    .host = u.host, .scheme = u.scheme, .root = u.root, .mirror = true};
		/* a mirror written without a scheme gets the loopback fallback */
		v[i].loopback = strstr(s->mirrors[i], "://") == NULL && host_is_loopback(u.host);
		fill_tls(h, &v[i]);
	}
	struct endpoint *e = &v[nm];
	const char *server = s && s->server ? s->server : NULL;
	if (server) {
		struct url_parts u;
		if (parse_url(server, &u) < 0) {
			endpoints_free(v, nm);
			return make_error(err, E_INVALID_ARGUMENT, 0, "server `%s`", server);
		}
		*e = (struct endpoint){.host = u.host, .scheme = u.scheme, .root = u.root};
	} else {
		bool hub = strcmp(domain, "docker.io") == 0;
		*e = (struct endpoint){.host = xstrdup(hub ? "registry-1.docker.io" : domain),
				       .scheme = xstrdup("https"),
				       .root = xstrdup("/v2")};
		e->loopback = host_is_loopback(domain);
	}
	if (plain_http || (s && s->plain_http)) {
		free(e->scheme);
		e->scheme = xstrdup("http");
		e->loopback = false;
	}
	if (s) {
		/* the registry's own entry, even when its endpoint has another
		 * host (docker.io, `server`) */
		e->skip_verify = s->skip_verify;
		e->ca_file = s->ca_file ? xstrdup(s->ca_file) : NULL;
		e->client_cert = s->client_cert ? xstrdup(s->client_cert) : NULL;
		e->client_key = s->client_key ? xstrdup(s->client_key) : NULL;
	} else {
		fill_tls(h, e);
	}
	*out = v;
	*n = nm + 1;
	return 0;
}
