/*
 * harness: berthd itself — every service and the libmicrohttpd server,
 * opened by daemon_open() as berthd's main does — in the fuzzer's process,
 * on a root, state and socket in a temporary directory. Requests go in as
 * bytes on a real connection to its unix socket and the loop runs until
 * the answer is complete, so a fuzzed request takes the daemon's whole
 * path: MHD's parsing, the router, the parameters, the headers, the body
 * and the real handlers, with their LMDB store.
 *
 * The daemon is started on first use and kept for the life of the process
 * (its state carries over between inputs, as a real daemon's does). It can
 * reach nothing outside: PATH holds no berth-shim and no runtime (a task
 * cannot start), every registry transfer goes to a proxy on a closed port
 * (a pull fails at once), and the default runtime is a path that does not
 * exist.
 */
#ifndef BERTH_T_FUZZ_HARNESS_H
#define BERTH_T_FUZZ_HARNESS_H

#include "core/daemon.h"
#include "core/util.h"

struct daemon *harness_daemon(void);

/* Send req on a new connection, collect what comes back in out, until the
 * server closes the connection or nothing arrived for idle_ms. Then the
 * connection is closed and the loop runs until the server has let the
 * request go. Returns the HTTP status of the answer, or 0 when none came. */
int harness_exchange(const char *req, size_t len, struct buf *out, int idle_ms);

/* One request: "METHOD TARGET HTTP/1.1", Host, the given header lines
 * ("Name: value" each, without CR LF), Content-Length of the body and
 * Connection: close, then the body. Header lines with CR, LF or NUL are
 * cleaned; Content-Length, Transfer-Encoding, Connection and Host given by
 * the caller are dropped (the harness frames the request). */
void harness_format(struct buf *out, const char *method, size_t method_len, const char *target,
		    size_t target_len, const char *const *headers, const size_t *header_lens,
		    size_t nheaders, const char *body, size_t body_len);

/* Check an answer against the API's error model (API.md): a status line; a
 * non-2xx JSON answer is {"error":{"code","message"}} with the code of its
 * status (head_request: the answer to a HEAD, without a body). Aborts otherwise.
 * Returns the status. */
int harness_check_answer(const struct buf *resp, bool head_request);

#endif
