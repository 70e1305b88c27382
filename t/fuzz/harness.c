#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/event.h>

#include "api/server.h"
#include "core/log.h"
#include "fuzz.h"
#include "harness.h"
#include "tasks/tasks.h"

static struct daemon d = {.lock_fd = -1};
static bool started;
static char tmp[64];

static void fail(const char *what, err_t *err)
{
	fprintf(stderr, "fuzz harness: %s: %s\n", what,
		err && *err ? (*err)->msg : strerror(errno));
	abort();
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(flag == FTW_DP ? rmdir : unlink)(path);
	return 0;
}

/* At exit: berthd's own shutdown, then its files go. */
static void stop(void)
{
	daemon_close(&d);
	config_release(&d.cfg);
	nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void start(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/berth-fuzz-http.XXXXXX");
	if (!mkdtemp(tmp))
		fail("mkdtemp", NULL);
	/* nothing to start containers with, no registry within reach */
	cleanup_free char *bin = xasprintf("%s/bin", tmp);
	if (mkdir(bin, 0755) < 0)
		fail(bin, NULL);
	setenv("PATH", bin, 1);
	setenv("HOME", tmp, 1);
	unsetenv("DOCKER_CONFIG");
	static const char *const proxies[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
					      "ALL_PROXY", "all_proxy"};
	for (size_t i = 0; i < ARRAY_SIZE(proxies); i++)
		setenv(proxies[i], "http://127.0.0.1:9", 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");

	cleanup_free char *cfg = xasprintf("%s/config.json", tmp);
	cleanup_free char *root = xasprintf("%s/root", tmp);
	cleanup_free char *state = xasprintf("%s/state", tmp);
	cleanup_free char *sock = xasprintf("%s/state/berthd.sock", tmp);
	static const char config[] =
	    "{\"log_level\":\"error\",\"registry_retries\":0,\"registry_timeout\":1,"
	    "\"metadata_map_size\":67108864,\"max_blob_upload\":1048576,"
	    "\"default_runtime\":\"/nonexistent/runc\",\"gc_delay\":0}";
	if (write_file_atomic(cfg, config, sizeof(config) - 1, 0644) < 0)
		fail(cfg, NULL);
	struct config_flags flags = {.root = root, .state = state, .socket = sock};
	err_t err = NULL;
	config_init(&d.cfg);
	if (config_load(&d.cfg, cfg, true, &flags, &err) < 0)
		fail("config", &err);
	log_set_level(d.cfg.log_level);
	if (mkdir_p(root, 0711) < 0 || mkdir_p(state, 0711) < 0)
		fail("mkdir", NULL);
	signal(SIGPIPE, SIG_IGN);
	if (daemon_open(&d, &err) < 0)
		fail("daemon_open", &err);
	FUZZ_ASSERT(!tasks_shim_path(&d), "berth-shim found in `%s`: tasks could start", bin);
	started = true;
	atexit(stop);
}

struct daemon *harness_daemon(void)
{
	if (!started)
		start();
	return &d;
}

struct conn {
	int fd;
	struct buf *out;
	bool closed;
	bool progress;
};

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char buf[16384];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			buf_add(c->out, buf, (size_t)n);
			c->progress = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			c->closed = true;
			event_base_loopbreak(d.base);
		}
		return;
	}
}

static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	if (!c->progress)
		event_base_loopbreak(d.base);
	c->progress = false;
}

int harness_exchange(const char *req, size_t len, struct buf *out, int idle_ms)
{
	harness_daemon();
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d.cfg.socket);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail("connect", NULL);
	struct conn c = {.fd = fd, .out = out};
	struct event *rd = event_new(d.base, fd, EV_READ | EV_PERSIST, read_cb, &c);
	struct event *idle = event_new(d.base, -1, EV_PERSIST, idle_cb, &c);
	struct timeval tv = {idle_ms / 1000, (idle_ms % 1000) * 1000};
	event_add(rd, NULL);
	event_add(idle, &tv);

	/* the request, as fast as the server takes it */
	size_t off = 0;
	while (off < len && !c.closed) {
		ssize_t n = write(fd, req + off, len - off);
		if (n > 0) {
			off += (size_t)n;
			c.progress = true;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			event_base_loop(d.base, EVLOOP_ONCE);
		} else {
			break; /* the server closed early (an error answer) */
		}
	}
	/* the answer */
	while (!c.closed) {
		c.progress = false;
		event_base_loop(d.base, 0);
		if (!c.closed && !c.progress)
			break;
	}
	event_free(rd);
	close(fd);
	/* let the server see the close and let the request go */
	c.progress = true;
	for (int i = 0; i < 100 && http_server_inflight(&d) > 0; i++) {
		struct timeval t = {0, 2000};
		event_base_loopexit(d.base, &t);
		event_base_loop(d.base, 0);
	}
	event_free(idle);

	/* an interim 100 Continue, then the answer */
	if (out->len > 12 && !strncmp(out->data, "HTTP/1.1 100", 12)) {
		const char *e = memmem(out->data, out->len, "\r\n\r\n", 4);
		if (e)
			buf_consume(out, (size_t)(e + 4 - out->data));
	}
	int status = 0;
	if (out->len > 12 && !strncmp(out->data, "HTTP/1.", 7))
		status = atoi(out->data + 9);
	if (getenv("BERTH_FUZZ_VERBOSE")) {
		const char *body = memmem(out->data ? out->data : "", out->len, "\r\n\r\n", 4);
		fprintf(stderr, "fuzz: %.*s -> %d %.*s\n", (int)strcspn(req, "\r\n"), req, status,
			body ? (int)(out->len - (size_t)(body + 4 - out->data) > 300
					 ? 300
					 : out->len - (size_t)(body + 4 - out->data))
			     : 0,
			body ? body + 4 : "");
	}
	return status;
}

static void add_clean(struct buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != '\r' && s[i] != '\n' && s[i] != '\0')
			buf_add(b, &s[i], 1);
}

static bool framing_header(const char *h, size_t len)
{
	static const char *const names[] = {"content-length", "transfer-encoding", "connection",
					    "host"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		size_t n = strlen(names[i]);
		if (len >= n && !strncasecmp(h, names[i], n) &&
		    (len == n || h[n] == ':' || h[n] == ' ' || h[n] == '\t'))
			return true;
	}
	return false;
}

void harness_format(struct buf *out, const char *method, size_t method_len, const char *target,
		    size_t target_len, const char *const *headers, const size_t *header_lens,
		    size_t nheaders, const char *body, size_t body_len)
{
	add_clean(out, method, method_len);
	buf_adds(out, " ");
	add_clean(out, target, target_len);
	buf_adds(out, " HTTP/1.1\r\nHost: berth\r\n");
	for (size_t i = 0; i < nheaders; i++) {
		if (framing_header(headers[i], header_lens[i]))
			continue;
		add_clean(out, headers[i], header_lens[i]);
		buf_adds(out, "\r\n");
	}
	buf_addf(out, "Content-Length: %zu\r\nConnection: close\r\n\r\n", body_len);
	buf_add(out, body, body_len);
}

/* core/err.c's kinds, as API.md lists them */
static const struct {
	const char *code;
	int status;
} codes[] = {
    {"internal", 500},		{"invalid_argument", 400},    {"unauthenticated", 401},
    {"permission_denied", 403}, {"not_found", 404},	      {"method_not_allowed", 405},
    {"already_exists", 409},	{"failed_precondition", 412}, {"payload_too_large", 413},
    {"not_implemented", 501},	{"unavailable", 503},
};

int harness_check_answer(const struct buf *resp, bool head_request)
{
	FUZZ_ASSERT(resp->len > 12 && !strncmp(resp->data, "HTTP/1.1 ", 9),
		    "no HTTP answer (%zu bytes)", resp->len);
	int status = atoi(resp->data + 9);
	FUZZ_ASSERT(status >= 100 && status < 600, "status %d", status);
	const char *end = memmem(resp->data, resp->len, "\r\n\r\n", 4);
	if (!end || status < 400)
		return status;
	/* the body is JSON when the headers say so: then it is an error object */
	cleanup_free char *head = xstrndup(resp->data, (size_t)(end - resp->data));
	for (char *p = head; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!strstr(head, "\r\ncontent-type: application/json") || strstr(head, "chunked"))
		return status;
	const char *body = end + 4;
	size_t blen = resp->len - (size_t)(body - resp->data);
	if (head_request)
		return status; /* a HEAD answer has the headers of a GET, no body */
	/* only this answer: MHD may answer what it read as a next request */
	const char *cl = strstr(head, "\r\ncontent-length:");
	if (cl) {
		size_t n = strtoul(cl + 17, NULL, 10);
		FUZZ_ASSERT(n <= blen, "status %d: Content-Length %zu, %zu bytes came", status, n,
			    blen);
		blen = n;
	}
	json_error_t je;
	cleanup_json json_t *j = json_loadb(body, blen, 0, &je);
	FUZZ_ASSERT(j, "status %d: the body is not JSON: %s", status, je.text);
	json_t *e = json_object_get(j, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	FUZZ_ASSERT(code && msg && *msg, "status %d: no error.code and error.message: %.*s", status,
		    (int)blen, body);
	size_t i = 0;
	while (i < ARRAY_SIZE(codes) && strcmp(code, codes[i].code))
		i++;
	FUZZ_ASSERT(i < ARRAY_SIZE(codes), "status %d: unknown error code `%s`", status, code);
	/* openapi.yaml: a Range or Content-Range that cannot be served is a 416
	 * with an invalid_argument body */
	FUZZ_ASSERT(codes[i].status == status || (status == 416 && i == 1),
		    "code `%s` with status %d", code, status);
	return status;
}
