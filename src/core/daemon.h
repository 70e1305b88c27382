/*
 * daemon: the one context of berthd, passed explicitly to every service and
 * handler. Owned by main() (src/berthd.c); every pointer here lives from
 * start-up to shutdown. Everything runs on `base`, in one thread.
 */
#ifndef BERTH_CORE_DAEMON_H
#define BERTH_CORE_DAEMON_H

#include <event2/event.h>
#include <sys/types.h>

#include "core/conf.h"
#include "core/err.h"

struct store;
struct events;
struct sse_hub;
struct http_server;
struct metrics;
struct child_table;
struct content_store;
struct curl_loop;
struct remotes;
struct pulls;
struct gc;
struct snapshots;
struct tasks;

struct daemon {
	struct config cfg;
	char *config_path;      /* re-read on SIGHUP */
	bool config_explicit;
	struct config_flags flags;
	struct event_base *base;
	struct store *store;    /* LMDB metadata */
	struct events *events;  /* pub/sub + replay ring */
	struct sse_hub *sse;    /* GET /v1/events subscribers */
	struct http_server *http;
	struct metrics *metrics;
	struct child_table *children; /* pid → exit handler (SIGCHLD) */
	struct content_store *content; /* blobs and ingests (src/content) */
	struct curl_loop *curl;        /* libcurl multi on the loop (src/core/curl.c) */
	struct remotes *remotes;       /* registry client (src/remotes) */
	struct pulls *pulls;           /* pulls in flight (src/images/pull.c) */
	struct gc *gc;                 /* garbage collector (src/gc) */
	struct snapshots *snapshots;   /* snapshotters and their metadata (src/snapshots) */
	struct tasks *tasks;           /* tasks and their shims (src/tasks) */
	char *worker_bin;              /* berth-worker (layers and checkpoint tars), or NULL */
	char uuid[37];
	pid_t pid;
	int64_t started_at_ns;
	int lock_fd;
	bool shutting_down;
	struct event *signals[4];  /* SIGTERM, SIGINT, SIGHUP, SIGCHLD */
	struct event *drain;       /* at shutdown: polls until requests are done */
	int64_t drain_deadline_ns;
	struct event *trim_timer;  /* pending malloc_trim (loop_trim_memory_soon) */
};

/* Open every service on a new event base and start the HTTP server, with
 * d->cfg loaded and its directories made (src/core/daemon.c; berthd's main
 * and the HTTP fuzzer). On failure berthd exits: what was opened is not
 * closed. Signals are the caller's. */
int daemon_open(struct daemon *d, err_t *err);
/* Stop the server and close what daemon_open() opened, in order. */
void daemon_close(struct daemon *d);

#endif
