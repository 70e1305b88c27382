/*
 * server: berthd's HTTP server. libmicrohttpd with no threads of its own
 * (MHD_USE_EPOLL, external loop): each listener's epoll fd is a persistent
 * libevent read event that calls MHD_run, and one timer per listener is
 * re-armed from MHD_get_timeout after every run. Listeners: the unix socket
 * (always, mode 0660) and an optional TCP socket that requires a bearer
 * token. Requests are dispatched through the router to the services'
 * handlers (api/routes.c).
 */
#ifndef BERTH_API_SERVER_H
#define BERTH_API_SERVER_H

#include "api/router.h"
#include "core/daemon.h"

/* Create the listening sockets (the Unix socket, and the TCP one when
 * configured) without serving them yet: daemon_open does it first, so that
 * clients of a restarting berthd wait in the backlog while it restores its
 * state instead of being refused. */
int http_server_bind(struct daemon *d, err_t *err);
/* Serve them (binding first if http_server_bind was not called). */
int http_server_start(struct daemon *d, err_t *err);
/* After a failed start: close what http_server_bind made and remove the
 * Unix socket (a refused start leaves no socket behind). */
void http_server_unbind(struct daemon *d);
/* Stop accepting new connections (shutdown, first step). */
void http_server_quiesce(struct daemon *d);
/* Requests received and not yet completed (streams included). */
size_t http_server_inflight(struct daemon *d);
/* Abort every deferred request with 503 (shutdown). */
void http_server_abort_pending(struct daemon *d);
/* Close every connection and free the server. */
void http_server_stop(struct daemon *d);
const struct router *http_server_router(struct daemon *d);
/* Make the server run MHD soon (after resuming a connection). */
void http_server_kick(struct daemon *d);

/* Route tables, api/routes.c. */
extern const struct route *const api_route_tables[];

#endif
