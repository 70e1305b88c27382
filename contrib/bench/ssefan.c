/*
 * ssefan: SSE fan-out latency of berthd, measured from one client process.
 *
 * Opens N subscriber connections to GET /v1/events on berthd's Unix socket,
 * waits until every one of them has received the head of its stream, then
 * publishes E events one at a time with POST /v1/events on another
 * connection. Each event carries its send time (CLOCK_MONOTONIC, ns, taken
 * just before the request is written) and a sequence number; the next event
 * is published only once every subscriber has received the previous one and
 * the POST has been answered, so events never queue behind each other.
 *
 * For every event it records when each subscriber's read() returned the
 * bytes that completed the frame, and reports, over all events:
 *   all_*   time until the LAST of the N subscribers had it (fan-out latency)
 *   first_* time until the first subscriber had it
 *   each_*  every single delivery (N x E samples)
 *   post_*  round trip of the publishing POST
 * as key=value lines on stdout (milliseconds).
 *
 * One thread, one epoll set, non-blocking sockets, incremental HTTP/1.1
 * chunked + SSE parsing. Bounded: the whole run is killed by alarm() after
 * the overall timeout, and it fails loudly (exit 1, message on stderr) if a
 * subscriber gets nothing, loses its stream, or misses an event.
 *
 * Build: cc -O2 -o ssefan ssefan.c
 * Usage: ssefan -s SOCKET [-n SUBSCRIBERS] [-e EVENTS] [-g GAP_US]
 *               [-T TIMEOUT_S] [-E EVENT_TIMEOUT_MS]
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PUB_ID UINT32_MAX

enum body_state {
	B_HEADERS,    /* still reading the response head */
	B_CHUNK_SIZE, /* reading a chunk-size line */
	B_CHUNK_DATA, /* inside a chunk */
	B_CHUNK_CRLF, /* the CRLF after a chunk's data */
	B_IDENTITY,   /* not chunked: body runs until close */
};

struct sub {
	int fd;
	enum body_state st;
	char head[4096];
	size_t hlen;
	char szline[64];
	size_t szlen;
	uint64_t chunk_left;
	char line[8192]; /* current SSE line */
	size_t llen;
	bool line_overflow;
	long long frame_seq; /* -1: current frame is not one of ours */
	int64_t frame_t;
	uint64_t body_bytes;
};

struct pub {
	int fd;
	char buf[8192];
	size_t len;
	bool waiting;
	int status;
	int64_t sent, answered;
};

static const char *sock_path;
static struct sockaddr_un addr;
static int epfd = -1;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ssefan: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void alarm_handler(int sig)
{
	(void)sig;
	static const char msg[] = "ssefan: overall timeout reached, giving up\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);
	if (!p)
		die("out of memory");
	return p;
}

static void write_all(int fd, const char *p, size_t len, const char *what)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			/* tiny requests on a fresh socket: only a broken server gets here */
			struct timespec ts = {0, 100000};
			nanosleep(&ts, NULL);
			continue;
		}
		if (w < 0)
			die("write %s: %s", what, strerror(errno));
		p += w;
		len -= (size_t)w;
	}
}

/* Blocking connect (a full backlog just makes us wait; alarm() bounds it),
 * then non-blocking for the epoll loop. */
static int connect_unix(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (errno == EINTR)
			continue;
		die("connect %s: %s", sock_path, strerror(errno));
	}
	return fd;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die("fcntl: %s", strerror(errno));
}

static void ep_add(int fd, uint32_t id)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = id};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* ---- measurement state ---- */

static unsigned nsubs = 200, nevents = 200;
static struct sub *subs;
static int64_t *ev_t0;	   /* [event] send time */
static int64_t *deliv;	   /* [event * nsubs + sub] receive time, 0 = not yet */
static unsigned *ev_count; /* [event] subscribers that have it */
static unsigned nfirst;	   /* subscribers that received the stream head */

static bool json_int(const char *s, const char *key, long long *out)
{
	const char *p = strstr(s, key);
	if (!p)
		return false;
	p += strlen(key);
	while (*p == ' ')
		p++;
	char *end;
	errno = 0;
	long long v = strtoll(p, &end, 10);
	if (end == p || errno)
		return false;
	*out = v;
	return true;
}

static void sse_dispatch(unsigned i, struct sub *s, int64_t t)
{
	if (s->frame_seq < 0)
		return;
	long long seq = s->frame_seq;
	s->frame_seq = -1;
	if (seq >= (long long)nevents || !ev_t0[seq])
		die("subscriber %u: event seq %lld was never published", i, seq);
	if (s->frame_t != ev_t0[seq])
		die("subscriber %u: event seq %lld carries a foreign timestamp", i, seq);
	int64_t *d = &deliv[(size_t)seq * nsubs + i];
	if (*d)
		die("subscriber %u: event seq %lld delivered twice", i, seq);
	*d = t;
	ev_count[seq]++;
}

static void sse_line(unsigned i, struct sub *s, int64_t t)
{
	if (s->line_overflow)
		die("subscriber %u: SSE line longer than %zu bytes", i, sizeof(s->line));
	if (s->llen && s->line[s->llen - 1] == '\r')
		s->llen--;
	s->line[s->llen] = 0;
	if (s->llen == 0) {
		sse_dispatch(i, s, t);
	} else if (strncmp(s->line, "data:", 5) == 0) {
		long long seq, ts;
		if (json_int(s->line, "\"bench_seq\":", &seq) &&
		    json_int(s->line, "\"bench_t\":", &ts)) {
			s->frame_seq = seq;
			s->frame_t = ts;
		}
	}
	s->llen = 0;
}

static void sse_bytes(unsigned i, struct sub *s, const char *p, size_t n, int64_t t)
{
	s->body_bytes += n;
	for (size_t k = 0; k < n; k++) {
		if (p[k] == '\n') {
			sse_line(i, s, t);
		} else if (s->llen + 1 < sizeof(s->line)) {
			s->line[s->llen++] = p[k];
		} else {
			s->line_overflow = true;
		}
	}
}

/* Feed raw bytes from the socket through the HTTP/1.1 body decoder. */
static void sub_bytes(unsigned i, struct sub *s, const char *p, size_t n, int64_t t)
{
	while (n) {
		switch (s->st) {
		case B_HEADERS: {
			size_t room = sizeof(s->head) - 1 - s->hlen;
			if (room == 0)
				die("subscriber %u: response head too long", i);
			size_t take = n < room ? n : room;
			memcpy(s->head + s->hlen, p, take);
			size_t old = s->hlen;
			s->hlen += take;
			s->head[s->hlen] = 0;
			char *end = strstr(s->head, "\r\n\r\n");
			if (!end) {
				p += take;
				n -= take;
				break;
			}
			size_t used = (size_t)(end + 4 - s->head) - old;
			*end = 0;
			if (strncmp(s->head, "HTTP/1.1 200", 12) &&
			    strncmp(s->head, "HTTP/1.0 200", 12))
				die("subscriber %u: GET /v1/events answered: %.80s", i, s->head);
			s->st = B_IDENTITY;
			for (char *h = strstr(s->head, "\r\n"); h; h = strstr(h + 2, "\r\n"))
				if (strncasecmp(h + 2, "transfer-encoding:", 18) == 0 &&
				    strcasestr(h + 2, "chunked"))
					s->st = B_CHUNK_SIZE;
			p += used;
			n -= used;
			break;
		}
		case B_CHUNK_SIZE:
			if (*p == '\n') {
				s->szline[s->szlen] = 0;
				char *end;
				errno = 0;
				unsigned long long sz = strtoull(s->szline, &end, 16);
				if (end == s->szline || errno)
					die("subscriber %u: bad chunk size line `%s`", i,
					    s->szline);
				if (sz == 0)
					die("subscriber %u: server ended the event stream", i);
				s->chunk_left = sz;
				s->szlen = 0;
				s->st = B_CHUNK_DATA;
			} else if (s->szlen + 1 < sizeof(s->szline)) {
				s->szline[s->szlen++] = *p;
			} else {
				die("subscriber %u: chunk size line too long", i);
			}
			p++;
			n--;
			break;
		case B_CHUNK_DATA: {
			size_t take = n < s->chunk_left ? n : (size_t)s->chunk_left;
			sse_bytes(i, s, p, take, t);
			s->chunk_left -= take;
			p += take;
			n -= take;
			if (!s->chunk_left)
				s->st = B_CHUNK_CRLF;
			break;
		}
		case B_CHUNK_CRLF:
			if (*p == '\n')
				s->st = B_CHUNK_SIZE;
			p++;
			n--;
			break;
		case B_IDENTITY:
			sse_bytes(i, s, p, n, t);
			n = 0;
			break;
		}
	}
}

static void sub_readable(unsigned i)
{
	struct sub *s = &subs[i];
	char buf[65536];
	for (;;) {
		ssize_t r = read(s->fd, buf, sizeof(buf));
		int64_t t = now_ns();
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r < 0)
			die("subscriber %u: read: %s", i, strerror(errno));
		if (r == 0)
			die("subscriber %u: berthd closed the event stream", i);
		bool had = s->body_bytes > 0;
		sub_bytes(i, s, buf, (size_t)r, t);
		if (!had && s->body_bytes > 0)
			nfirst++;
	}
}

/* ---- publisher ---- */

static struct pub pub = {.fd = -1};

static void pub_connect(void)
{
	pub.fd = connect_unix();
	set_nonblock(pub.fd);
	ep_add(pub.fd, PUB_ID);
}

static void pub_close(void)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, pub.fd, NULL);
	close(pub.fd);
	pub.fd = -1;
}

static void pub_send(unsigned seq)
{
	if (pub.fd < 0)
		pub_connect();
	char body[256], req[512];
	pub.len = 0;
	pub.waiting = true;
	pub.status = 0;
	int64_t t0 = now_ns();
	int bl = snprintf(body, sizeof(body),
			  "{\"namespace\":\"default\",\"topic\":\"/bench/ping\","
			  "\"event\":{\"bench_seq\":%u,\"bench_t\":%" PRId64 "}}",
			  seq, t0);
	int rl = snprintf(req, sizeof(req),
			  "POST /v1/events HTTP/1.1\r\nHost: berth\r\n"
			  "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			  bl, body);
	ev_t0[seq] = t0;
	pub.sent = t0;
	write_all(pub.fd, req, (size_t)rl, "POST /v1/events");
}

static void pub_readable(void)
{
	for (;;) {
		if (pub.len >= sizeof(pub.buf) - 1)
			die("POST /v1/events: response too long");
		ssize_t r = read(pub.fd, pub.buf + pub.len, sizeof(pub.buf) - 1 - pub.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r < 0)
			die("POST /v1/events: read: %s", strerror(errno));
		if (r == 0) {
			if (pub.waiting)
				die("POST /v1/events: connection closed before the answer");
			pub_close(); /* idle keep-alive closed by the server: reconnect later */
			return;
		}
		pub.len += (size_t)r;
	}
	pub.buf[pub.len] = 0;
	if (!pub.waiting) {
		if (pub.len)
			die("POST /v1/events: unexpected bytes from berthd");
		return;
	}
	char *end = strstr(pub.buf, "\r\n\r\n");
	if (!end)
		return;
	long long clen = 0;
	bool close_after = false;
	for (char *h = strstr(pub.buf, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n")) {
		if (strncasecmp(h + 2, "content-length:", 15) == 0)
			clen = strtoll(h + 17, NULL, 10);
		if (strncasecmp(h + 2, "connection:", 11) == 0 && strcasestr(h + 2, "close") &&
		    strcasestr(h + 2, "close") < strstr(h + 2, "\r\n"))
			close_after = true;
	}
	size_t have = pub.len - (size_t)(end + 4 - pub.buf);
	if ((long long)have < clen)
		return;
	if (sscanf(pub.buf, "HTTP/1.%*d %d", &pub.status) != 1)
		die("POST /v1/events: bad status line");
	if (pub.status < 200 || pub.status > 299)
		die("POST /v1/events answered %d: %.200s", pub.status, end + 4);
	pub.answered = now_ns();
	pub.waiting = false;
	pub.len = 0;
	if (close_after)
		pub_close();
}

/* ---- main loop ---- */

static void pump(int timeout_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(epfd, evs, 256, timeout_ms);
	if (n < 0 && errno != EINTR)
		die("epoll_wait: %s", strerror(errno));
	for (int k = 0; k < n; k++) {
		uint32_t id = evs[k].data.u32;
		if (id == PUB_ID)
			pub_readable();
		else
			sub_readable(id);
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* nearest-rank percentile of a sorted array */
static double pct_ms(const int64_t *v, size_t n, double q)
{
	size_t r = (size_t)(q * (double)n + 0.999999999);
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return (double)v[r - 1] / 1e6;
}

static void report(const char *name, int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	printf("%s_p50_ms=%.3f\n%s_p90_ms=%.3f\n%s_p99_ms=%.3f\n%s_max_ms=%.3f\n", name,
	       pct_ms(v, n, 0.50), name, pct_ms(v, n, 0.90), name, pct_ms(v, n, 0.99), name,
	       (double)v[n - 1] / 1e6);
}

static void usage(void)
{
	fprintf(stderr, "usage: ssefan -s SOCKET [-n SUBSCRIBERS] [-e EVENTS] [-g GAP_US]\n"
			"              [-T TIMEOUT_S] [-E EVENT_TIMEOUT_MS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned gap_us = 1000, timeout_s = 60, ev_timeout_ms = 5000;
	int c;
	while ((c = getopt(argc, argv, "s:n:e:g:T:E:h")) != -1) {
		switch (c) {
		case 's':
			sock_path = optarg;
			break;
		case 'n':
			nsubs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'e':
			nevents = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'g':
			gap_us = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'T':
			timeout_s = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'E':
			ev_timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (!sock_path || !nsubs || !nevents || !timeout_s || optind != argc)
		usage();
	if (strlen(sock_path) >= sizeof(addr.sun_path))
		die("socket path too long: %s", sock_path);
	addr.sun_family = AF_UNIX;
	strcpy(addr.sun_path, sock_path);

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, alarm_handler);
	alarm(timeout_s);

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < nsubs + 16)
		die("RLIMIT_NOFILE %llu is too low for %u subscribers",
		    (unsigned long long)rl.rlim_cur, nsubs);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1: %s", strerror(errno));
	subs = xcalloc(nsubs, sizeof(*subs));
	ev_t0 = xcalloc(nevents, sizeof(*ev_t0));
	ev_count = xcalloc(nevents, sizeof(*ev_count));
	deliv = xcalloc((size_t)nevents * nsubs, sizeof(*deliv));
	int64_t *post = xcalloc(nevents, sizeof(int64_t));

	static const char get[] = "GET /v1/events HTTP/1.1\r\nHost: berth\r\n"
				  "Accept: text/event-stream\r\n\r\n";
	for (unsigned i = 0; i < nsubs; i++) {
		struct sub *s = &subs[i];
		s->fd = connect_unix();
		s->frame_seq = -1;
		write_all(s->fd, get, sizeof(get) - 1, "GET /v1/events");
		set_nonblock(s->fd);
		ep_add(s->fd, i);
	}

	/* every subscriber must have its stream open before the first event */
	int64_t deadline = now_ns() + 10 * 1000000000LL;
	while (nfirst < nsubs) {
		if (now_ns() > deadline) {
			unsigned none = 0;
			for (unsigned i = 0; i < nsubs; i++)
				none += subs[i].body_bytes == 0;
			die("%u of %u subscribers got nothing within 10 s", none, nsubs);
		}
		pump(100);
	}
	pub_connect();

	for (unsigned e = 0; e < nevents; e++) {
		pub_send(e);
		int64_t limit = pub.sent + (int64_t)ev_timeout_ms * 1000000;
		while (ev_count[e] < nsubs || pub.waiting) {
			int64_t left = limit - now_ns();
			if (left <= 0)
				die("event %u: %u of %u subscribers received it within %u ms%s", e,
				    ev_count[e], nsubs, ev_timeout_ms,
				    pub.waiting ? " (POST not answered)" : "");
			pump((int)(left / 1000000) + 1);
		}
		post[e] = pub.answered - pub.sent;
		if (gap_us) {
			/* keep reading during the gap: nothing must arrive */
			int64_t until = now_ns() + (int64_t)gap_us * 1000;
			while (now_ns() < until)
				pump((int)((until - now_ns()) / 1000000));
		}
	}

	/* per event: first and last delivery; every delivery */
	int64_t *all = xcalloc(nevents, sizeof(int64_t));
	int64_t *first = xcalloc(nevents, sizeof(int64_t));
	int64_t *each = xcalloc((size_t)nevents * nsubs, sizeof(int64_t));
	for (unsigned e = 0; e < nevents; e++) {
		int64_t lo = INT64_MAX, hi = 0;
		for (unsigned i = 0; i < nsubs; i++) {
			int64_t d = deliv[(size_t)e * nsubs + i] - ev_t0[e];
			each[(size_t)e * nsubs + i] = d;
			if (d < lo)
				lo = d;
			if (d > hi)
				hi = d;
		}
		all[e] = hi;
		first[e] = lo;
	}
	printf("subscribers=%u\nevents=%u\ngap_us=%u\n", nsubs, nevents, gap_us);
	report("all", all, nevents);
	report("first", first, nevents);
	report("each", each, (size_t)nevents * nsubs);
	report("post", post, nevents);
	return 0;
}
