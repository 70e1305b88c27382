#include "config.h"

#include <string.h>

#include "api/metrics.h"
#include "api/server.h"
#include "events/events.h"
#include "events/sse.h"
#include "introspection/procstat.h"
#include "tasks/metrics.h"

static const double bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				 0.1,    0.25,  0.5,    1,     2.5,  5,    10 };
#define NBOUNDS ARRAY_SIZE(bounds)

struct code_count {
	int code;
	uint64_t count;
};

struct route_stats {
	struct code_count *codes[M_MAX];
	size_t ncodes[M_MAX], alloc[M_MAX];
	uint64_t buckets[NBOUNDS]; /* non-cumulative; summed when rendered */
	uint64_t count;
	double sum;
};

struct metrics {
	struct route_stats *routes; /* index 0 is "unmatched", i + 1 is route i */
	size_t nroutes;
};

struct metrics *metrics_new(void)
{
	return xzalloc(sizeof(struct metrics));
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nroutes; i++)
		for (int k = 0; k < M_MAX; k++)
			free(m->routes[i].codes[k]);
	free(m->routes);
	free(m);
}

void metrics_http_observe(struct metrics *m, int route_index, enum http_method method,
			  int status, double seconds)
{
	size_t idx = route_index < 0 ? 0 : (size_t)route_index + 1;
	if (idx >= m->nroutes) {
		size_t n = idx + 1;
		m->routes = xrealloc(m->routes, n * sizeof(*m->routes));
		memset(m->routes + m->nroutes, 0, (n - m->nroutes) * sizeof(*m->routes));
		m->nroutes = n;
	}
	struct route_stats *rs = &m->routes[idx];
	if (method >= M_MAX)
		method = M_OTHER;
	struct code_count *c = rs->codes[method];
	size_t i;
	for (i = 0; i < rs->ncodes[method]; i++)
		if (c[i].code == status)
			break;
	if (i == rs->ncodes[method]) {
		ALLOC_GROW(rs->codes[method], i + 1, rs->alloc[method]);
		rs->codes[method][i] = (struct code_count){ status, 0 };
		rs->ncodes[method]++;
	}
	rs->codes[method][i].count++;
	size_t b = 0;
	while (b < NBOUNDS && seconds > bounds[b])
		b++;
	if (b < NBOUNDS)
		rs->buckets[b]++;
	rs->count++;
	rs->sum += seconds;
}

static const char *route_label(struct daemon *d, size_t idx)
{
	if (idx == 0)
		return "unmatched";
	const struct route *r = router_at(http_server_router(d), idx - 1);
	return r ? r->pattern : "unknown";
}

void metrics_render(struct daemon *d, struct buf *out)
{
	struct metrics *m = d->metrics;
	struct procstat ps;
	if (procstat_read(&ps) == 0) {
		buf_addf(out,
			 "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
			 "# TYPE process_cpu_seconds_total counter\n"
			 "process_cpu_seconds_total %.2f\n"
			 "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
			 "# TYPE process_resident_memory_bytes gauge\n"
			 "process_resident_memory_bytes %llu\n"
			 "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
			 "# TYPE process_virtual_memory_bytes gauge\n"
			 "process_virtual_memory_bytes %llu\n"
			 "# HELP process_open_fds Number of open file descriptors.\n"
			 "# TYPE process_open_fds gauge\n"
			 "process_open_fds %u\n"
			 "# HELP process_max_fds Maximum number of open file descriptors.\n"
			 "# TYPE process_max_fds gauge\n"
			 "process_max_fds %llu\n"
			 "# HELP process_threads Number of OS threads in the process.\n"
			 "# TYPE process_threads gauge\n"
			 "process_threads %u\n"
			 "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
			 "# TYPE process_start_time_seconds gauge\n"
			 "process_start_time_seconds %.3f\n",
			 ps.cpu_seconds, (unsigned long long)ps.rss_bytes,
			 (unsigned long long)ps.vsize_bytes, ps.open_fds,
			 (unsigned long long)ps.max_fds, ps.threads,
			 (double)d->started_at_ns / 1e9);
	}
	buf_addf(out, "# HELP berth_http_requests_total HTTP requests answered, by route, method "
		      "and status code.\n# TYPE berth_http_requests_total counter\n");
	for (size_t i = 0; i < m->nroutes; i++)
		for (int k = 0; k < M_MAX; k++)
			for (size_t c = 0; c < m->routes[i].ncodes[k]; c++)
				buf_addf(out,
					 "berth_http_requests_total{route=\"%s\",method=\"%s\","
					 "code=\"%d\"} %llu\n",
					 route_label(d, i), http_method_name((enum http_method)k),
					 m->routes[i].codes[k][c].code,
					 (unsigned long long)m->routes[i].codes[k][c].count);
	buf_addf(out, "# HELP berth_http_request_duration_seconds Time from request line to "
		      "response completion, by route and method.\n"
		      "# TYPE berth_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i < m->nroutes; i++) {
		struct route_stats *rs = &m->routes[i];
		if (!rs->count)
			continue;
		/* each route entry has one method: route and method make the series unique */
		struct buf lb = BUF_INIT;
		buf_addf(&lb, "route=\"%s\",method=\"%s\"", route_label(d, i),
			 i ? http_method_name(router_at(http_server_router(d), i - 1)->method) : "any");
		const char *label = lb.data;
		uint64_t cum = 0;
		for (size_t b = 0; b < NBOUNDS; b++) {
			cum += rs->buckets[b];
			buf_addf(out,
				 "berth_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n",
				 label, bounds[b], (unsigned long long)cum);
		}
		buf_addf(out,
			 "berth_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n"
			 "berth_http_request_duration_seconds_sum{%s} %.6f\n"
			 "berth_http_request_duration_seconds_count{%s} %llu\n",
			 label, (unsigned long long)rs->count, label, rs->sum, label,
			 (unsigned long long)rs->count);
		buf_release(&lb);
	}
	buf_addf(out,
		 "# HELP berth_http_requests_in_flight Requests received and not yet completed "
		 "(streams included).\n# TYPE berth_http_requests_in_flight gauge\n"
		 "berth_http_requests_in_flight %zu\n",
		 http_server_inflight(d));
	buf_addf(out,
		 "# HELP berth_sse_subscribers Clients following GET /v1/events.\n"
		 "# TYPE berth_sse_subscribers gauge\nberth_sse_subscribers %zu\n"
		 "# HELP berth_events_published_total Events published on the exchange.\n"
		 "# TYPE berth_events_published_total counter\nberth_events_published_total %llu\n"
		 "# HELP berth_sse_subscribers_dropped_total SSE subscribers dropped for "
		 "falling behind.\n# TYPE berth_sse_subscribers_dropped_total counter\n"
		 "berth_sse_subscribers_dropped_total %llu\n",
		 sse_subscriber_count(d->sse),
		 (unsigned long long)events_published_total(d->events),
		 (unsigned long long)sse_dropped_total(d->sse));
	tasks_metrics_render(d, out);
}
