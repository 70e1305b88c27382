/*
 * berthd: configuration, wiring, the loop and shutdown. One process, one
 * thread, one libevent loop; see ../shared/design/ARCHITECTURE.md.
 *
 * Exit codes: 0 clean shutdown; 1 could not start (root in use by another
 * berthd, socket busy, metadata unreadable); 2 bad usage, config or path.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/event.h>

#include "api/server.h"
#include "core/daemon.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/plugin.h"
#include "events/sse.h"
#include "images/pull.h"

static const char usage[] =
	"usage: berthd [options]\n"
	"\n"
	"  -c, --config FILE       JSON config file (default " BERTH_DEFAULT_CONFIG ")\n"
	"      --root DIR          persistent data (default " BERTH_DEFAULT_ROOT ")\n"
	"      --state DIR         runtime data (default " BERTH_DEFAULT_STATE ")\n"
	"      --socket PATH       API unix socket (default <state>/berthd.sock)\n"
	"  -l, --log-level LEVEL   error, warn, info, debug or trace (default info)\n"
	"      --listen HOST:PORT  also serve the API on TCP (needs --token-file)\n"
	"      --token-file FILE   bearer token required on the TCP listener\n"
	"      --print-routes      print the API route table and exit\n"
	"  -h, --help              this help\n"
	"  -v, --version           print the version and exit\n"
	"\n"
	"Flags win over the config file. SIGTERM/SIGINT stop berthd cleanly;\n"
	"SIGHUP re-reads the log level from the config file.\n"
	"Exit codes: 0 clean stop, 1 could not start, 2 bad usage, config or path.\n";

static int exit_code_for(const struct err *e)
{
	return e->kind == E_INVALID_ARGUMENT ? 2 : 1;
}

static void __attribute__((noreturn)) die_err(err_t *err)
{
	fprintf(stderr, "berthd: %s\n", (*err)->msg);
	exit(exit_code_for(*err));
}

/* sd_notify(3)'s datagram protocol, for Type=notify units. */
static void sd_notify_send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	if (len >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
}

/* One berthd per root: an flock held for the daemon's life. */
static int lock_root(struct daemon *d, err_t *err)
{
	cleanup_free char *path = xasprintf("%s/berthd.lock", d->cfg.root);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return make_error(err, E_INVALID_ARGUMENT, errno, "open lock file `%s`", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		if (n > 0)
			pid[n] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK)
			return make_error(err, E_FAILED_PRECONDITION, 0,
					  "root `%s` is in use by another berthd (pid %s)",
					  d->cfg.root, *pid ? pid : "unknown");
		return make_error(err, E_INTERNAL, e, "lock `%s`", path);
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) < 0) {
		int e = errno;
		close(fd);
		return make_error(err, E_INTERNAL, e, "write lock file `%s`", path);
	}
	d->lock_fd = fd;
	return 0;
}

static int prepare_dirs(struct daemon *d, err_t *err)
{
	if (mkdir_p(d->cfg.root, 0711) < 0)
		return make_error(err, E_INVALID_ARGUMENT, errno, "root directory `%s`",
				  d->cfg.root);
	if (mkdir_p(d->cfg.state, 0711) < 0)
		return make_error(err, E_INVALID_ARGUMENT, errno, "state directory `%s`",
				  d->cfg.state);
	if (access(d->cfg.root, W_OK) < 0)
		return make_error(err, E_INVALID_ARGUMENT, errno, "root directory `%s`",
				  d->cfg.root);
	if (access(d->cfg.state, W_OK) < 0)
		return make_error(err, E_INVALID_ARGUMENT, errno, "state directory `%s`",
				  d->cfg.state);
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void drain_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	size_t left = http_server_inflight(d);
	if (left == 0 || time_mono_ns() >= d->drain_deadline_ns) {
		if (left)
			log_warn("closing requests still in flight", "count=%zu", left);
		event_base_loopbreak(d->base);
	}
}

static void shutdown_begin(struct daemon *d, const char *why)
{
	if (d->shutting_down)
		return;
	d->shutting_down = true;
	log_info("shutting down", "signal=%s inflight=%zu", why, http_server_inflight(d));
	sd_notify_send("STOPPING=1");
	http_server_quiesce(d);
	pulls_shutdown(d->pulls);
	sse_hub_close_all(d->sse);
	http_server_abort_pending(d);
	d->drain_deadline_ns = time_mono_ns() + (int64_t)(d->cfg.shutdown_timeout * 1e9);
	d->drain = event_new(d->base, -1, EV_PERSIST, drain_check_cb, d);
	struct timeval tv = { 0, 10 * 1000 };
	event_add(d->drain, &tv);
}

static void term_cb(evutil_socket_t sig, short what, void *arg)
{
	shutdown_begin(arg, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	err_t err = NULL;
	struct config c;
	config_init(&c);
	if (config_load(&c, d->config_path, d->config_explicit, &d->flags, &err) < 0) {
		log_error("reload failed, keeping the running configuration", "err=%s", err->msg);
		err_free(&err);
		config_release(&c);
		return;
	}
	d->cfg.log_level = c.log_level;
	log_set_level(c.log_level);
	log_info("configuration reloaded", "log_level=%s", log_level_name(c.log_level));
	config_release(&c);
}

static void chld_cb(evutil_socket_t sig, short what, void *arg)
{
	child_reap_all(arg);
}

static void print_routes(void)
{
	for (const struct route *const *t = api_route_tables; *t; t++)
		for (const struct route *r = *t; r->pattern; r++)
			printf("%s %s\n", http_method_name(r->method), r->pattern);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "root", required_argument, NULL, 'R' },
		{ "state", required_argument, NULL, 'S' },
		{ "socket", required_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "listen", required_argument, NULL, 'L' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "print-routes", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d = { .lock_fd = -1 };
	d.config_path = BERTH_DEFAULT_CONFIG;
	int c;
	while ((c = getopt_long(argc, argv, "c:l:hv", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d.config_path = optarg;
			d.config_explicit = true;
			break;
		case 'R':
			d.flags.root = optarg;
			break;
		case 'S':
			d.flags.state = optarg;
			break;
		case 's':
			d.flags.socket = optarg;
			break;
		case 'l':
			d.flags.log_level = optarg;
			break;
		case 'L':
			d.flags.listen = optarg;
			break;
		case 'T':
			d.flags.token_file = optarg;
			break;
		case 'P':
			print_routes();
			return 0;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'v':
			printf("berthd %s (revision %s)\n", PACKAGE_VERSION, BERTH_REVISION);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "berthd: unexpected argument `%s`\n", argv[optind]);
		return 2;
	}

	err_t err = NULL;
	config_init(&d.cfg);
	if (config_load(&d.cfg, d.config_path, d.config_explicit, &d.flags, &err) < 0)
		die_err(&err);
	log_set_level(d.cfg.log_level);
	if (prepare_dirs(&d, &err) < 0 || lock_root(&d, &err) < 0)
		die_err(&err);
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);

	if (daemon_open(&d, &err) < 0) {
		http_server_unbind(&d);
		die_err(&err);
	}

	d.signals[0] = evsignal_new(d.base, SIGTERM, term_cb, &d);
	d.signals[1] = evsignal_new(d.base, SIGINT, term_cb, &d);
	d.signals[2] = evsignal_new(d.base, SIGHUP, hup_cb, &d);
	d.signals[3] = evsignal_new(d.base, SIGCHLD, chld_cb, &d);
	for (size_t i = 0; i < ARRAY_SIZE(d.signals); i++)
		event_add(d.signals[i], NULL);

	log_info("berthd started", "version=%s pid=%d root=%s state=%s socket=%s listen=%s",
		 PACKAGE_VERSION, (int)d.pid, d.cfg.root, d.cfg.state, d.cfg.socket,
		 d.cfg.listen ? d.cfg.listen : "");
	sd_notify_send("READY=1");

	event_base_dispatch(d.base);

	for (size_t i = 0; i < ARRAY_SIZE(d.signals); i++)
		event_free(d.signals[i]);
	daemon_close(&d);
	plugin_reset();
	log_info("berthd stopped", "pid=%d", (int)d.pid);
	config_release(&d.cfg);
	if (d.lock_fd >= 0)
		close(d.lock_fd);
	return 0;
}
