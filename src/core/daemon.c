#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <event2/event.h>

#include "api/metrics.h"
#include "api/server.h"
#include "content/content.h"
#include "core/curl.h"
#include "core/daemon.h"
#include "core/loop.h"
#include "core/plugin.h"
#include "events/events.h"
#include "events/sse.h"
#include "gc/gc.h"
#include "images/pull.h"
#include "metadata/store.h"
#include "namespaces/namespaces.h"
#include "remotes/remotes.h"
#include "snapshots/snapshots.h"
#include "tasks/tasks.h"

/* The server's uuid is stable for a root, as containerd's. */
static int load_uuid(struct daemon *d, err_t *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	if (store_txn_begin(d->store, true, &txn, err) < 0)
		return -1;
	MDB_val v;
	err_t e = NULL;
	if (store_get_raw(d->store, txn, BUCKET_META, NULL, "uuid", &v, &e) == 0 &&
	    v.mv_size == 36) {
		memcpy(d->uuid, v.mv_data, 36);
		d->uuid[36] = '\0';
		return 0;
	}
	err_free(&e);
	/* getrandom, not RAND_bytes: an idle berthd never initialises OpenSSL,
	 * which costs megabytes of resident memory */
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return make_error(err, E_INTERNAL, errno, "no random bytes for the server uuid");
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(d->uuid, sizeof(d->uuid),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
	if (store_put_raw(d->store, txn, BUCKET_META, NULL, "uuid", d->uuid, 36, err) < 0)
		return -1;
	return store_txn_commit(&txn, err);
}

int daemon_open(struct daemon *d, err_t *err)
{
	d->pid = getpid();
	d->started_at_ns = time_now_ns();
	struct event_config *ecfg = event_config_new();
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_NOLOCK);
	d->base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	if (!d->base)
		return make_error(err, E_INTERNAL, 0, "cannot create the event loop");
	d->children = child_table_new();
	/* listening before the slow part (LMDB, live restore of the tasks):
	 * clients queue instead of being refused; served once all is open */
	if (http_server_bind(d, err) < 0)
		return -1;
	d->metrics = metrics_new();
	d->curl = curl_loop_new(d, err);
	if (!d->curl)
		return -1;

	cleanup_free char *meta = xasprintf("%s/meta", d->cfg.root);
	if (store_open(&d->store, meta, d->cfg.metadata_map_size, err) < 0)
		return -1;
	plugin_set_status("io.berth.metadata.v1", "lmdb", PLUGIN_OK, NULL);
	uint64_t first_seq;
	if (load_uuid(d, err) < 0 || events_seq_start(d, &first_seq, err) < 0)
		return -1;
	d->events = events_new(d->cfg.event_ring_size, first_seq);
	events_set_max_bytes(d->events, d->cfg.event_ring_bytes);
	d->sse = sse_hub_new(d);
	plugin_set_status("io.berth.event.v1", "exchange", PLUGIN_OK, NULL);
	plugin_set_status("io.berth.service.v1", "events-service", PLUGIN_OK, NULL);
	if (namespaces_init(d, err) < 0)
		return -1;
	plugin_set_status("io.berth.service.v1", "namespaces-service", PLUGIN_OK, NULL);
	if (content_store_open(d, &d->content, err) < 0) {
		plugin_set_status("io.berth.content.v1", "content", PLUGIN_ERROR, (*err)->msg);
		return -1;
	}
	plugin_set_status("io.berth.content.v1", "content", PLUGIN_OK, NULL);
	if (remotes_new(d, &d->remotes, err) < 0) {
		plugin_set_status("io.berth.remotes.v1", "registry", PLUGIN_ERROR, (*err)->msg);
		return -1;
	}
	plugin_set_status("io.berth.remotes.v1", "registry", PLUGIN_OK, NULL);
	if (snapshots_open(d, err) < 0)
		return -1;
	plugin_set_status("io.berth.service.v1", "snapshots-service", PLUGIN_OK, NULL);
	d->worker_bin = find_helper("berth-worker");
	plugin_set_status("io.berth.diff.v1", "walking", d->worker_bin ? PLUGIN_OK : PLUGIN_ERROR,
			  d->worker_bin ? NULL : "berth-worker not found");
	d->gc = gc_new(d);
	gc_schedule(d->gc); /* collect what a crash may have left */
	plugin_set_status("io.berth.gc.v1", "scheduler", PLUGIN_OK, NULL);
	if (tasks_open(d, err) < 0) {
		plugin_set_status("io.berth.runtime.v2", "task", PLUGIN_ERROR, (*err)->msg);
		return -1;
	}
	plugin_set_status("io.berth.runtime.v2", "task",
			  tasks_shim_path(d) ? PLUGIN_OK : PLUGIN_ERROR,
			  tasks_shim_path(d) ? NULL : "berth-shim not found");
	plugin_set_status("io.berth.service.v1", "tasks-service", PLUGIN_OK, NULL);
	d->pulls = pulls_new(d);
	plugin_set_status("io.berth.service.v1", "images-service", PLUGIN_OK, NULL);
	plugin_set_status("io.berth.service.v1", "leases-service", PLUGIN_OK, NULL);
	plugin_set_status("io.berth.service.v1", "containers-service", PLUGIN_OK, NULL);
	plugin_set_status("io.berth.service.v1", "introspection-service", PLUGIN_OK, NULL);
	if (http_server_start(d, err) < 0)
		return -1;
	plugin_set_status("io.berth.server.v1", "http", PLUGIN_OK, NULL);
	return 0;
}

void daemon_close(struct daemon *d)
{
	http_server_stop(d);
	pulls_free(d->pulls);
	remotes_free(d->remotes); /* after the pulls that own its operations */
	gc_free(d->gc);
	tasks_free(d);
	snapshots_free(d);		/* its workers' SIGCHLD handlers are in d->children */
	content_store_free(d->content); /* after the writers' owners */
	sse_hub_free(d->sse);
	events_free(d->events);
	store_close(d->store);
	if (d->drain)
		event_free(d->drain);
	if (d->trim_timer)
		event_free(d->trim_timer);
	metrics_free(d->metrics);
	curl_loop_free(d->curl);
	free(d->worker_bin);
	d->worker_bin = NULL;
	child_table_free(d->children);
	event_base_free(d->base);
}
