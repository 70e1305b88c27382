#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>

#include <openssl/evp.h>

#include "cli/util.h"

void human_size(uint64_t bytes, char out[HUMAN_SIZE_MAX])
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	if (bytes < 1024) {
		snprintf(out, HUMAN_SIZE_MAX, "%u B", (unsigned)bytes);
		return;
	}
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	/* 1023.95 KiB would print as "1024.0 KiB": round up a unit instead */
	if (v >= 1023.95 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(out, HUMAN_SIZE_MAX, "%.1f %s", v, units[u]);
}

void human_duration(int64_t s, char *out, size_t len)
{
	if (s < 0)
		s = 0;
	int64_t m = s / 60, h = m / 60, d = h / 24;
	if (s < 1)
		snprintf(out, len, "Less than a second");
	else if (s == 1)
		snprintf(out, len, "1 second");
	else if (s < 60)
		snprintf(out, len, "%lld seconds", (long long)s);
	else if (m == 1)
		snprintf(out, len, "About a minute");
	else if (m < 60)
		snprintf(out, len, "%lld minutes", (long long)m);
	else if (h == 1)
		snprintf(out, len, "About an hour");
	else if (h < 48)
		snprintf(out, len, "%lld hours", (long long)h);
	else if (h < 24 * 7 * 2)
		snprintf(out, len, "%lld days", (long long)d);
	else if (h < 24 * 30 * 2)
		snprintf(out, len, "%lld weeks", (long long)(d / 7));
	else if (h < 24 * 365 * 2)
		snprintf(out, len, "%lld months", (long long)(d / 30));
	else
		snprintf(out, len, "%lld years", (long long)(d / 365));
}

void human_elapsed(int64_t ns, char *out, size_t len)
{
	if (ns < 0)
		ns = 0;
	int64_t s = ns / 1000000000;
	if (s < 60)
		snprintf(out, len, "%.1fs", (double)ns / 1e9);
	else if (s < 3600)
		snprintf(out, len, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(out, len, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
}

bool parse_duration(const char *s, uint64_t *seconds)
{
	if (!s || !*s)
		return false;
	if (parse_u64(s, seconds))
		return true;
	uint64_t total = 0;
	const char *p = s;
	while (*p) {
		if (*p < '0' || *p > '9')
			return false;
		uint64_t n = 0;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (n > (UINT64_MAX - 9) / 10)
				return false;
			n = n * 10 + (uint64_t)(*p - '0');
		}
		uint64_t unit;
		switch (*p++) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		default:
			return false;
		}
		if (n > (UINT64_MAX - total) / unit)
			return false;
		total += n * unit;
	}
	*seconds = total;
	return true;
}

static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return false;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return true;
}

bool parse_rfc3339(const char *s, int64_t *ns)
{
	if (!s)
		return false;
	struct tm tm = {0};
	int y, mo, d, h, mi, se;
	const char *p = s;
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
	    !digits(&p, 2, &se))
		return false;
	int64_t frac = 0;
	if (*p == '.') {
		p++;
		int n = 0;
		for (; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 9)
				frac = frac * 10 + (*p - '0');
		if (n == 0)
			return false;
		for (; n < 9; n++)
			frac *= 10;
	}
	int64_t offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om))
			return false;
		offset = sign * (oh * 3600 + om * 60);
	} else {
		return false;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	time_t t = timegm(&tm);
	*ns = ((int64_t)t - offset) * 1000000000 + frac;
	return true;
}

void format_age(const char *s, char *out, size_t len)
{
	int64_t t;
	if (!parse_rfc3339(s, &t)) {
		snprintf(out, len, "-");
		return;
	}
	human_duration((time_now_ns() - t) / 1000000000, out, len);
}

bool digest_is_valid(const char *s)
{
	if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		return false;
	for (const char *p = s + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

void digest_short(const char *digest, char out[7 + 12 + 1])
{
	const char *colon = digest ? strchr(digest, ':') : NULL;
	if (!colon) {
		snprintf(out, 7 + 12 + 1, "%s", digest ? digest : "-");
		return;
	}
	int alg = (int)(colon - digest);
	if (alg > 6)
		alg = 6;
	snprintf(out, 7 + 12 + 1, "%.*s:%.12s", alg, digest, colon + 1);
}

struct sha256 {
	EVP_MD_CTX *ctx;
};

struct sha256 *sha256_new(void)
{
	struct sha256 *h = xzalloc(sizeof(*h));
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		abort(); /* out of memory: as xmalloc */
	return h;
}

void sha256_update(struct sha256 *h, const void *data, size_t len)
{
	if (EVP_DigestUpdate(h->ctx, data, len) != 1)
		abort();
}

void sha256_final(struct sha256 *h, char out[DIGEST_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != 32)
		abort();
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < n; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[7 + 64] = '\0';
}

void sha256_free(struct sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int sha256_fd(int fd, char out[DIGEST_MAX], uint64_t *size)
{
	struct sha256 *h = sha256_new();
	char *buf = xmalloc(1 << 16);
	uint64_t total = 0;
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 16);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		sha256_update(h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	int saved = errno;
	if (rc == 0)
		sha256_final(h, out);
	free(buf);
	sha256_free(h);
	*size = total;
	errno = saved;
	return rc;
}

int term_width(int fd, int fallback)
{
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return fallback;
}

void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Read from fd up to EOF or, with first_line, the first LF. */
static char *read_secret_fd(int fd, bool first_line)
{
	struct buf b = BUF_INIT;
	buf_grow(&b, 256); /* one allocation for a usual secret: fewer copies to wipe */
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			secret_free(buf_detach(&b, NULL));
			errno = saved;
			return NULL;
		}
		if (n == 0 || (first_line && c == '\n'))
			break;
		if (b.len + 1 >= b.alloc) {
			/* grow by hand so that the old copy is wiped */
			char *bigger = xmalloc(b.alloc * 2);
			memcpy(bigger, b.data, b.len + 1);
			explicit_bzero(b.data, b.alloc);
			free(b.data);
			b.data = bigger;
			b.alloc *= 2;
		}
		b.data[b.len++] = c;
		b.data[b.len] = '\0';
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	return buf_detach(&b, NULL);
}

char *read_stdin_secret(bool first_line)
{
	return read_secret_fd(STDIN_FILENO, first_line);
}

char *read_password(const char *prompt)
{
	if (!isatty(STDIN_FILENO))
		return read_secret_fd(STDIN_FILENO, true);
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct termios old, quiet;
	bool restore = tcgetattr(fd, &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	if (write(fd, prompt, strlen(prompt)) < 0) {
		/* the prompt is a courtesy; reading still works */
	}
	char *p = read_secret_fd(fd, true);
	int saved = errno;
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0) {
		/* as above */
	}
	close(fd);
	errno = saved;
	return p;
}

static bool ndjson_line(struct ndjson *n, char *line, size_t len)
{
	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	return n->cb(line, len, n->arg);
}

bool ndjson_feed(struct ndjson *n, const char *data, size_t len)
{
	while (len > 0) {
		const char *lf = memchr(data, '\n', len);
		size_t k = lf ? (size_t)(lf - data) : len;
		if (n->max && n->line.len + k > n->max) {
			n->too_long = true;
			return false;
		}
		buf_add(&n->line, data, k);
		if (!lf)
			break;
		bool go = ndjson_line(n, n->line.data, n->line.len);
		buf_reset(&n->line);
		if (!go)
			return false;
		data += k + 1;
		len -= k + 1;
	}
	return true;
}

bool ndjson_finish(struct ndjson *n)
{
	if (!n->line.len)
		return true;
	bool go = ndjson_line(n, n->line.data, n->line.len);
	buf_reset(&n->line);
	return go;
}

void ndjson_release(struct ndjson *n)
{
	buf_release(&n->line);
}

int cio_make(struct cio *io, const char *prefix, bool in, bool err_stream, err_t *err)
{
	const char *base = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	if (!base || !*base || stat(base, &st) < 0 || !S_ISDIR(st.st_mode))
		base = "/tmp";
	io->dir = xasprintf("%s/%s-XXXXXX", base, prefix);
	if (!mkdtemp(io->dir)) {
		int e = errno;
		free(io->dir);
		io->dir = NULL;
		return make_error(err, E_INTERNAL, e, "cannot make a FIFO directory in `%s`", base);
	}
	static const char *const names[CIO_N] = { "stdin", "stdout", "stderr" };
	for (int i = 0; i < CIO_N; i++) {
		if ((i == CIO_IN && !in) || (i == CIO_ERR && !err_stream))
			continue;
		io->path[i] = xasprintf("%s/%s", io->dir, names[i]);
		if (mkfifo(io->path[i], 0600) < 0)
			return make_error(err, E_INTERNAL, errno, "cannot make FIFO `%s`",
					  io->path[i]);
		io->fd[i] = open(io->path[i], (i == CIO_IN ? O_RDWR : O_RDONLY) | O_NONBLOCK |
						      O_CLOEXEC);
		if (io->fd[i] < 0)
			return make_error(err, E_INTERNAL, errno, "cannot open FIFO `%s`",
					  io->path[i]);
	}
	return 0;
}

void cio_release(struct cio *io, bool keep)
{
	for (int i = 0; i < CIO_N; i++) {
		if (io->fd[i] >= 0)
			close(io->fd[i]);
		io->fd[i] = -1;
		if (io->path[i] && !keep)
			unlink(io->path[i]);
		free(io->path[i]);
		io->path[i] = NULL;
	}
	if (io->dir && !keep)
		rmdir(io->dir);
	free(io->dir);
	io->dir = NULL;
}

int start_failure_status(const err_t err)
{
	const char *m = err ? err->msg : "";
	if (strstr(m, "executable file not found") || strstr(m, "no such file or directory"))
		return 127;
	if (strstr(m, "permission denied"))
		return 126;
	return 125;
}

static void foreground_signals(sigset_t *mask, bool winch)
{
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGQUIT);
	if (winch)
		sigaddset(mask, SIGWINCH);
}

int cli_signalfd(bool winch, sigset_t *old)
{
	sigset_t mask;
	foreground_signals(&mask, winch);
	sigprocmask(SIG_BLOCK, &mask, old);
	int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		perror("berth: signalfd");
		sigprocmask(SIG_SETMASK, old, NULL);
	}
	return fd;
}

void cli_signalfd_close(int fd, const sigset_t *old)
{
	sigset_t mask;
	foreground_signals(&mask, true);
	close(fd);
	struct timespec zero = {0, 0};
	while (sigtimedwait(&mask, NULL, &zero) > 0)
		;
	sigprocmask(SIG_SETMASK, old, NULL);
}
