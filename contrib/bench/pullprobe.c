/*
 * pullprobe: time one command (a pull) and watch daemons while it runs.
 *
 * Runs CMD as a child and measures its wall time from just before fork()
 * to the moment its pidfd becomes readable (it exited), not to when a shell
 * got round to noticing. While the child runs, every INTERVAL:
 *
 *   -u SOCKET  one GET /v1/version on berthd's Unix socket (HTTP/1.1,
 *              keep-alive; a new connection only if the server closed the
 *              old one, or for every request with -r), timed from before
 *              connect/write to the last byte of the body. Requests are
 *              sequential: a slow answer delays the next one, it is never
 *              overlapped. A request still in flight when the child exits
 *              is finished and counted.
 *   -p PID     (up to 8 times) entries in /proc/PID/task and VmRSS from
 *              /proc/PID/status; VmHWM is read once more after the child
 *              exited.
 *
 * Prints key=value lines on stdout:
 *   wall_ms exit child_maxrss_kib child_cpu_ms
 *   sys_cpu_ms (user+nice+system time of the whole machine meanwhile)
 *   self_cpu_ms (pullprobe's own, so that it can be told apart)
 *   probes errors lat_p50_ms lat_p90_ms lat_p99_ms lat_max_ms
 *   pidN pidN_samples pidN_threads_min pidN_threads_max pidN_rss_max_kib pidN_hwm_kib
 *   pidN_cpu_ms pidN_gone
 * and, with -l FILE, appends every latency (microseconds) to FILE, one a
 * line, so that several runs can be pooled. exit is the child's exit status
 * (128+N if killed by signal N). pullprobe itself exits 1 on its own errors
 * and when the child outlives -T seconds (the child is then killed).
 *
 * One thread, poll(2), no libraries. Linux >= 5.3 (pidfd_open).
 *
 * Build: cc -O2 -o pullprobe pullprobe.c
 * Usage: pullprobe [-u SOCKET] [-r] [-p PID]... [-i INTERVAL_US] [-T TIMEOUT_S]
 *                  [-l LATFILE] [-O CHILD_STDOUT] -- CMD [ARG]...
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define MAX_PIDS 8
/* a version request that takes this long is counted as an error (and its
 * latency as this value) */
#define REQUEST_TIMEOUT_MS 10000

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pullprobe: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the child ---- */

static pid_t child = -1;
static int pidfd = -1;
static int64_t t_start, t_end; /* t_end = 0 while the child runs */
static int64_t deadline;       /* the child is killed past it */

/* Note the child's end if its pidfd says so; never blocks. */
static void check_child(short revents)
{
	if (t_end == 0 && (revents & (POLLIN | POLLHUP | POLLERR)))
		t_end = now_ns();
}

/* ---- the version prober ---- */

static struct sockaddr_un addr;
static bool probe_on, reconnect_each;
static int sfd = -1;
static uint32_t *lat_us;
static size_t nlat, caplat, nerrors;

static void record(int64_t ns)
{
	if (nlat == caplat) {
		caplat = caplat ? caplat * 2 : 4096;
		lat_us = realloc(lat_us, caplat * sizeof(*lat_us));
		if (!lat_us)
			die("out of memory");
	}
	int64_t us = ns / 1000;
	lat_us[nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void close_sock(void)
{
	if (sfd >= 0)
		close(sfd);
	sfd = -1;
}

/* poll the socket for EV and the child's pidfd until the request deadline;
 * false on timeout */
static bool wait_sock(short ev, int64_t until)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = sfd, .events = ev}, {.fd = pidfd, .events = POLLIN}};
		int n = t_end ? 1 : 2;
		int64_t left = until - now_ns();
		if (left <= 0)
			return false;
		int r = poll(p, n, (int)((left + 999999) / 1000000));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("poll: %s", strerror(errno));
		if (n == 2)
			check_child(p[1].revents);
		if (p[0].revents)
			return true;
	}
}

/* One GET /v1/version; true if answered 200 with the whole body. */
static bool probe_once(void)
{
	static const char req[] = "GET /v1/version HTTP/1.1\r\nHost: berth\r\n\r\n";
	int64_t t0 = now_ns(), until = t0 + (int64_t)REQUEST_TIMEOUT_MS * 1000000;
	char buf[8192];
	size_t len = 0;

	if (sfd < 0) {
		sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (sfd < 0)
			die("socket: %s", strerror(errno));
		if (connect(sfd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
			if (errno != EAGAIN && errno != EINPROGRESS)
				goto fail;
			/* a full backlog: wait until the server accepts */
			if (!wait_sock(POLLOUT, until))
				goto timeout;
			int e = 0;
			socklen_t el = sizeof(e);
			if (getsockopt(sfd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e)
				goto fail;
		}
	}
	for (size_t off = 0; off < sizeof(req) - 1;) {
		ssize_t w = send(sfd, req + off, sizeof(req) - 1 - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			if (!wait_sock(POLLOUT, until))
				goto timeout;
			continue;
		}
		if (w < 0)
			goto fail;
		off += (size_t)w;
	}

	/* the head, then Content-Length bytes of body */
	size_t head = 0, want = 0;
	bool close_after = false;
	for (;;) {
		if (head && len >= head + want)
			break;
		if (len == sizeof(buf))
			goto fail; /* a version answer is small */
		ssize_t r = recv(sfd, buf + len, sizeof(buf) - len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			if (!wait_sock(POLLIN, until))
				goto timeout;
			continue;
		}
		if (r <= 0)
			goto fail;
		len += (size_t)r;
		if (!head) {
			char *e = memmem(buf, len, "\r\n\r\n", 4);
			if (!e)
				continue;
			head = (size_t)(e - buf) + 4;
			if (len < 12 || memcmp(buf, "HTTP/1.1 200", 12) != 0)
				goto fail;
			bool have_len = false;
			for (char *l = strstr(buf, "\r\n"); l && l < e; l = strstr(l + 2, "\r\n")) {
				char *h = l + 2;
				if (!strncasecmp(h, "content-length:", 15)) {
					want = strtoul(h + 15, NULL, 10);
					have_len = true;
				} else if (!strncasecmp(h, "connection:", 11)) {
					char *v = h + 11;
					while (*v == ' ')
						v++;
					close_after = !strncasecmp(v, "close", 5);
				}
			}
			if (!have_len)
				goto fail; /* chunked version answers are not expected */
		}
	}
	record(now_ns() - t0);
	if (close_after || reconnect_each)
		close_sock();
	return true;

timeout:
	record(now_ns() - t0);
fail:
	nerrors++;
	close_sock();
	return false;
}

/* ---- /proc sampling ---- */

struct watched {
	pid_t pid;
	unsigned long samples;
	long threads_min, threads_max;
	long rss_max, hwm;
	long long ticks0, ticks1; /* utime+stime at the start and at the end */
	bool gone;
};
static struct watched pids[MAX_PIDS];
static int npids;

static long status_kib(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static bool read_status(pid_t pid, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* utime + stime of a process, in clock ticks; -1 if it is gone */
static long long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: fields count from
	 * the last ')' */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	unsigned long long ut, st;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/* user + nice + system jiffies of the whole machine (irq and softirq left
 * out: loopback traffic itself is softirq work) */
static long long machine_ticks(void)
{
	char buf[512];
	int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	unsigned long long u, ni, sy;
	if (sscanf(buf, "cpu %llu %llu %llu", &u, &ni, &sy) != 3)
		return -1;
	return (long long)(u + ni + sy);
}

static void sample(struct watched *w)
{
	char path[64], status[4096];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)w->pid);
	DIR *d = opendir(path);
	if (!d) {
		w->gone = true;
		return;
	}
	long n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	if (!read_status(w->pid, status, sizeof(status))) {
		w->gone = true;
		return;
	}
	long rss = status_kib(status, "VmRSS:");
	if (w->samples == 0 || n < w->threads_min)
		w->threads_min = n;
	if (n > w->threads_max)
		w->threads_max = n;
	if (rss > w->rss_max)
		w->rss_max = rss;
	w->samples++;
}

/* ---- main ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(double p)
{
	if (!nlat)
		return 0;
	size_t i = (size_t)(p * (double)nlat + 0.999999);
	if (i < 1)
		i = 1;
	if (i > nlat)
		i = nlat;
	return lat_us[i - 1] / 1000.0;
}

static void usage(void)
{
	fputs("usage: pullprobe [-u SOCKET] [-r] [-p PID]... [-i INTERVAL_US] [-T TIMEOUT_S]\n"
	      "                 [-l LATFILE] [-O CHILD_STDOUT] -- CMD [ARG]...\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *latfile = NULL, *child_out = NULL;
	long interval_us = 5000, timeout_s = 300;
	int c;

	while ((c = getopt(argc, argv, "+u:rp:i:T:l:O:h")) != -1) {
		switch (c) {
		case 'u':
			sock = optarg;
			break;
		case 'r':
			reconnect_each = true;
			break;
		case 'p':
			if (npids == MAX_PIDS)
				die("at most %d -p", MAX_PIDS);
			pids[npids++].pid = (pid_t)strtol(optarg, NULL, 10);
			if (pids[npids - 1].pid <= 0)
				die("bad pid `%s`", optarg);
			break;
		case 'i':
			interval_us = strtol(optarg, NULL, 10);
			break;
		case 'T':
			timeout_s = strtol(optarg, NULL, 10);
			break;
		case 'l':
			latfile = optarg;
			break;
		case 'O':
			child_out = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || interval_us < 100 || timeout_s < 1)
		usage();
	if (sock) {
		if (strlen(sock) >= sizeof(addr.sun_path))
			die("socket path too long: %s", sock);
		addr.sun_family = AF_UNIX;
		strcpy(addr.sun_path, sock);
		probe_on = true;
	}
	signal(SIGPIPE, SIG_IGN);

	int out_fd = -1;
	if (child_out) {
		out_fd = open(child_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out_fd < 0)
			die("open %s: %s", child_out, strerror(errno));
	}
	/* a first connection before the clock starts, so that the first sample
	 * is not a connect; the daemon must already answer */
	if (probe_on && !probe_once())
		die("no answer from GET /v1/version on %s", sock);
	nlat = 0;

	for (int i = 0; i < npids; i++)
		pids[i].ticks0 = cpu_ticks(pids[i].pid);
	long long sys0 = machine_ticks();
	t_start = now_ns();
	deadline = t_start + (int64_t)timeout_s * 1000000000;
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (child == 0) {
		if (out_fd >= 0 && dup2(out_fd, 1) < 0)
			_exit(127);
		if (sfd >= 0)
			close(sfd);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "pullprobe: exec %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	if (out_fd >= 0)
		close(out_fd);
	pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	if (pidfd < 0)
		die("pidfd_open: %s (Linux >= 5.3 needed)", strerror(errno));

	bool timed_out = false;
	int64_t next = t_start;
	while (!t_end) {
		if (probe_on)
			probe_once();
		for (int i = 0; i < npids; i++)
			if (!pids[i].gone)
				sample(&pids[i]);
		next += (int64_t)interval_us * 1000;
		int64_t now = now_ns();
		if (next < now)
			next = now;
		while (!t_end) {
			now = now_ns();
			if (now >= deadline) {
				timed_out = true;
				kill(child, SIGKILL);
				break;
			}
			if (now >= next)
				break;
			struct pollfd p = {.fd = pidfd, .events = POLLIN};
			int64_t wait = (next < deadline ? next : deadline) - now;
			int r = ppoll(&p, 1,
				      &(struct timespec){.tv_sec = wait / 1000000000,
							 .tv_nsec = wait % 1000000000},
				      NULL);
			if (r < 0 && errno != EINTR)
				die("poll: %s", strerror(errno));
			if (r > 0)
				check_child(p.revents);
		}
		if (timed_out)
			break;
	}

	int st = 0;
	struct rusage ru = {0};
	while (wait4(child, &st, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4: %s", strerror(errno));
	if (!t_end)
		t_end = now_ns();
	long long sys1 = machine_ticks();
	for (int i = 0; i < npids; i++) {
		char status[4096];
		pids[i].ticks1 = cpu_ticks(pids[i].pid);
		if (read_status(pids[i].pid, status, sizeof(status)))
			pids[i].hwm = status_kib(status, "VmHWM:");
		else
			pids[i].gone = true;
	}
	close_sock();

	if (latfile && nlat) {
		FILE *f = fopen(latfile, "a");
		if (!f)
			die("open %s: %s", latfile, strerror(errno));
		for (size_t i = 0; i < nlat; i++)
			fprintf(f, "%" PRIu32 "\n", lat_us[i]);
		if (fclose(f) != 0)
			die("write %s: %s", latfile, strerror(errno));
	}
	qsort(lat_us, nlat, sizeof(*lat_us), cmp_u32);

	int ex = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	printf("wall_ms=%.3f\n", (double)(t_end - t_start) / 1e6);
	printf("exit=%d\n", ex);
	printf("child_maxrss_kib=%ld\n", ru.ru_maxrss);
	printf("child_cpu_ms=%.0f\n", (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
					       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
	struct rusage self;
	if (getrusage(RUSAGE_SELF, &self) == 0)
		printf("self_cpu_ms=%.0f\n", (self.ru_utime.tv_sec + self.ru_stime.tv_sec) * 1e3 +
						      (self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e3);
	if (sys0 >= 0 && sys1 >= 0)
		printf("sys_cpu_ms=%.0f\n", (double)(sys1 - sys0) * 1e3 / (double)sysconf(_SC_CLK_TCK));
	if (probe_on) {
		printf("probes=%zu\nerrors=%zu\n", nlat, nerrors);
		printf("lat_p50_ms=%.3f\nlat_p90_ms=%.3f\nlat_p99_ms=%.3f\nlat_max_ms=%.3f\n",
		       pct_ms(0.50), pct_ms(0.90), pct_ms(0.99), nlat ? lat_us[nlat - 1] / 1000.0 : 0);
	}
	for (int i = 0; i < npids; i++) {
		struct watched *w = &pids[i];
		printf("pid%d=%d\npid%d_samples=%lu\npid%d_threads_min=%ld\npid%d_threads_max=%ld\n", i,
		       (int)w->pid, i, w->samples, i, w->threads_min, i, w->threads_max);
		printf("pid%d_rss_max_kib=%ld\npid%d_hwm_kib=%ld\n", i, w->rss_max, i, w->hwm);
		if (w->ticks0 >= 0 && w->ticks1 >= 0)
			printf("pid%d_cpu_ms=%.0f\n", i,
			       (double)(w->ticks1 - w->ticks0) * 1e3 / (double)sysconf(_SC_CLK_TCK));
		printf("pid%d_gone=%d\n", i, w->gone ? 1 : 0);
	}
	if (fflush(stdout) != 0)
		die("write: %s", strerror(errno));
	if (timed_out) {
		fprintf(stderr, "pullprobe: %s still running after %ld s: killed\n", argv[optind],
			timeout_s);
		return 1;
	}
	return 0;
}
