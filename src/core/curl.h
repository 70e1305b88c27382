/*
 * curl: libcurl's multi-socket API on berthd's libevent loop (curl's
 * hiperfifo, STYLE.md "The loop"). One multi handle; sock_cb keeps one event
 * per socket, timer_cb arms one timer, and finished transfers are reaped
 * from curl_multi_info_read and handed to their owner's callback through
 * CURLINFO_PRIVATE. Nothing here blocks.
 */
#ifndef BERTH_CORE_CURL_H
#define BERTH_CORE_CURL_H

#include <curl/curl.h>

#include "core/daemon.h"

struct curl_loop *curl_loop_new(struct daemon *d, err_t *err);
/* Free the loop; owners must have removed their transfers (remotes_free)
 * before. */
void curl_loop_free(struct curl_loop *cl);

/* A new easy handle (libcurl's global set-up runs at the first one). */
CURL *curl_loop_easy_new(err_t *err);

/* Called once when the transfer ends (result CURLE_OK or an error); the easy
 * handle is removed from the multi before, and belongs to the caller again. */
typedef void (*curl_done_cb)(CURL *easy, CURLcode result, void *data);

/* Start a configured easy handle (it stays the caller's; CURLOPT_PRIVATE is
 * the loop's). May be called from inside a libcurl callback: the handle is
 * then added from the loop at once. */
int curl_loop_add(struct curl_loop *cl, CURL *easy, curl_done_cb cb, void *data, err_t *err);
/* Stop a transfer early; its callback does not run; the handle is the
 * caller's again. Not from inside a libcurl callback (write, header, ...):
 * libcurl forbids it; see curl_loop_in_callback. */
void curl_loop_remove(struct curl_loop *cl, CURL *easy);
/* Transfers running now. */
size_t curl_loop_running(const struct curl_loop *cl);
/* True while libcurl runs a callback of one of our transfers: defer
 * curl_loop_remove to the loop then. */
bool curl_loop_in_callback(const struct curl_loop *cl);

#endif
