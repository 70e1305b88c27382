/*
 * cli/util: small helpers the `berth` command files share and that have
 * nothing to do with HTTP: human sizes and ages, durations and RFC 3339
 * times, OCI digests (sha256 over OpenSSL EVP, as berthd stores them),
 * the terminal (width, password input without echo), and NDJSON framing.
 *
 * Nothing here prints an error: functions return false or < 0 and the
 * command says what went wrong.
 */
#ifndef BERTH_CLI_UTIL_H
#define BERTH_CLI_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/util.h"

/* "512 B", "1.0 KiB", "12.3 MiB", "2.0 GiB" (binary units, one decimal). */
#define HUMAN_SIZE_MAX 16
void human_size(uint64_t bytes, char out[HUMAN_SIZE_MAX]);

/* Docker's units.HumanDuration: "3 seconds", "About a minute", "5 minutes",
 * "About an hour", "3 hours", "2 days", "3 weeks", "4 months", "2 years". */
void human_duration(int64_t seconds, char *out, size_t len);
/* "1.2s", "45.0s", "3m05s", "1h02m": elapsed times of a transfer. */
void human_elapsed(int64_t ns, char *out, size_t len);

/* A duration: a whole number of seconds ("3600"), or one or more
 * number-and-unit pairs as Go writes them ("30m", "24h", "1h30m", "90s",
 * "2d"); units s, m, h, d. False on junk, zero-less overflow or an empty
 * string. */
bool parse_duration(const char *s, uint64_t *seconds);

/* RFC 3339 ("2026-11-23T13:00:00.123456789Z", or with a +hh:mm offset) to
 * nanoseconds since the epoch. */
bool parse_rfc3339(const char *s, int64_t *ns);
/* "5 minutes" since the RFC 3339 time s (a future time counts as 0);
 * "-" when s is NULL or not a time. */
void format_age(const char *s, char *out, size_t len);

/* OCI digests. berthd stores sha256 only: "sha256:" and 64 lowercase hex. */
#define DIGEST_MAX (7 + 64 + 1)
bool digest_is_valid(const char *s);
/* "sha256:0123456789ab": the algorithm and 12 hex digits, for narrow views. */
void digest_short(const char *digest, char out[7 + 12 + 1]);

/* A streaming sha256. */
struct sha256;
struct sha256 *sha256_new(void);
void sha256_update(struct sha256 *h, const void *data, size_t len);
/* Finish into out: "sha256:<hex>". */
void sha256_final(struct sha256 *h, char out[DIGEST_MAX]);
void sha256_free(struct sha256 *h);
/* The digest of a file read from fd to its end (the offset is left at the
 * end); -1 with errno on a read error. *size gets the bytes read. */
int sha256_fd(int fd, char out[DIGEST_MAX], uint64_t *size);

/* Columns of the terminal on fd, or fallback when it is not one. */
int term_width(int fd, int fallback);

/* Read a password: from the controlling terminal without echo (prompt on
 * stderr) when stdin is a terminal, else the first line of stdin. The line
 * ending is dropped. NULL with errno on failure; the caller wipes and
 * frees. */
char *read_password(const char *prompt);
/* All of stdin up to EOF (or its first line when first_line), the trailing
 * newline dropped; NULL with errno on failure. */
char *read_stdin_secret(bool first_line);
/* Overwrite and free a secret. */
void secret_free(char *s);

/* NDJSON framing: feed pieces of a stream as they arrive; cb gets each
 * complete line (without its LF or CR LF, NUL-terminated, len excluded)
 * and returns false to stop. ndjson_feed returns false when cb stopped or
 * a line grew over max; ndjson_finish hands over a last unterminated line. */
struct ndjson {
	struct buf line;
	size_t max;
	bool too_long;
	bool (*cb)(char *line, size_t len, void *arg);
	void *arg;
};
bool ndjson_feed(struct ndjson *n, const char *data, size_t len);
bool ndjson_finish(struct ndjson *n);
void ndjson_release(struct ndjson *n);

/* The client's end of a process's stdio, as containerd's cio: a private
 * directory (in $XDG_RUNTIME_DIR, else /tmp) holding FIFOs whose paths
 * berthd is given, our ends open before the process exists (a
 * non-blocking open of a read end needs no writer). stdin is opened
 * read-write, so that it reads as open until we close it: that close is the
 * process's end of input. */
enum { CIO_IN, CIO_OUT, CIO_ERR, CIO_N };
struct cio {
	char *dir;
	char *path[CIO_N]; /* NULL for a stream not made */
	int fd[CIO_N];     /* our ends, -1 when not made or closed */
};
#define CIO_INIT { .fd = { -1, -1, -1 } }
/* stdout always, stdin when in, stderr when err_stream; the directory's
 * name begins with prefix. -1 with *err set (what was made stays for
 * cio_release). */
int cio_make(struct cio *io, const char *prefix, bool in, bool err_stream, err_t *err);
/* Close our ends and, unless keep (the shim holds them for a later attach),
 * remove the FIFOs and the directory. */
void cio_release(struct cio *io, bool keep);

/* The signals a foreground command takes over (SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT, and SIGWINCH when winch), blocked and delivered on a
 * non-blocking signalfd instead; the previous mask goes to *old. -1 when
 * signalfd fails (said on stderr; the mask is back as it was). */
int cli_signalfd(bool winch, sigset_t *old);
/* Close it, drop those signals that came after (they are not delivered to
 * us once the mask is restored), and restore *old. */
void cli_signalfd_close(int fd, const sigset_t *old);

/* The exit status for a process that could not start, as docker reads the
 * runtime's message: 127 the command is not found, 126 it cannot be
 * invoked, else 125 (berth's or the runtime's own failure). */
int start_failure_status(const err_t err);

#endif
