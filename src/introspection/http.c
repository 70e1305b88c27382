#include "config.h"

#include "api/metrics.h"
#include "api/request.h"
#include "core/filter.h"
#include "core/plugin.h"
#include "introspection/http.h"

static const char *const no_query[] = { NULL };

static void version_get(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	reply_json(r, 200,
		   json_pack("{s:s,s:s,s:s}", "version", PACKAGE_VERSION, "revision",
			     BERTH_REVISION, "api", "v1"));
}

static void healthz_get(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	if (r->d->shutting_down)
		return reply_errorf(r, E_UNAVAILABLE, "berthd is shutting down");
	reply_json(r, 200, json_pack("{s:s}", "status", "serving"));
}

static void server_get(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	struct daemon *d = r->d;
	char ts[40];
	time_format_rfc3339(d->started_at_ns, ts);
	reply_json(r, 200,
		   json_pack("{s:s,s:i,s:s,s:s,s:s}", "uuid", d->uuid, "pid", (int)d->pid, "root",
			     d->cfg.root, "state", d->cfg.state, "started_at", ts));
}

static json_t *string_list(const char *const *v)
{
	json_t *a = json_array();
	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static void plugins_get(struct request *r)
{
	err_t err = NULL;
	struct filter *f = NULL;
	static const char *const allowed[] = { "filter", NULL };
	if (request_check_query(r, allowed, &err) < 0 || request_filter(r, &f, &err) < 0)
		return reply_error(r, &err);
	json_t *list = json_array();
	for (size_t i = 0; i < plugin_count(); i++) {
		const struct plugin *p = plugin_at(i);
		json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:s}", "type", p->type, "id", p->id,
				      "requires", string_list(p->requires), "capabilities",
				      string_list(p->capabilities), "status",
				      plugin_status_name(p->status));
		if (p->error)
			json_object_set_new(o, "error", json_string(p->error));
		if (!f || filter_match_json(f, o))
			json_array_append_new(list, o);
		else
			json_decref(o);
	}
	filter_free(f);
	reply_json(r, 200, json_pack("{s:o}", "plugins", list));
}

static void metrics_get(struct request *r)
{
	err_t err = NULL;
	if (request_check_query(r, no_query, &err) < 0)
		return reply_error(r, &err);
	struct buf b = BUF_INIT;
	metrics_render(r->d, &b);
	size_t len;
	char *text = buf_detach(&b, &len);
	reply_data(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

const struct route introspection_routes[] = {
	{ M_GET, "/v1/version", version_get },
	{ M_GET, "/healthz", healthz_get },
	{ M_GET, "/v1/server", server_get },
	{ M_GET, "/v1/plugins", plugins_get },
	{ M_GET, "/metrics", metrics_get },
	{ 0, NULL },
};
