/*
 * pty-run: run a command on a new pseudo-terminal, drive it with scripted
 * steps, record everything it prints, and exit with its exit status (128+N
 * when signal N ended it). For the terminal tests (t6004).
 *
 *   pty-run [-o OUT] [-s COLSxROWS] [-t SECONDS] [STEP...] -- CMD [ARGS...]
 *
 * -o   write the command's output (raw bytes) to OUT, as it comes
 * -s   the terminal's size at start (default 80x24)
 * -t   give up after SECONDS in all (default 60): SIGKILL, exit 124
 * Steps, in order, each an argument:
 *   send:TEXT      type TEXT (escapes: \r \n \t \e \\ \xHH)
 *   expect:TEXT    wait until the output after the previous match holds TEXT
 *                  (same escapes); a timeout prints what came and exits 125
 *   resize:CxR     set the window size (the foreground group gets SIGWINCH)
 *   kill:N         send signal N to the command
 *   killpid:FILE:N send signal N to the pid written in FILE (waits for FILE)
 * After the last step the output is read until the command has exited.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int master = -1, out_fd = -1;
static char *seen;          /* all output */
static size_t seen_len, seen_cap, mark; /* mark: end of the last match */
static pid_t child;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t unescape(const char *in, char *out)
{
	size_t n = 0;
	while (*in) {
		if (*in != '\\' || !in[1]) {
			out[n++] = *in++;
			continue;
		}
		in++;
		switch (*in) {
		case 'r': out[n++] = '\r'; in++; break;
		case 'n': out[n++] = '\n'; in++; break;
		case 't': out[n++] = '\t'; in++; break;
		case 'e': out[n++] = 27; in++; break;
		case 'x': {
			char hex[3] = { in[1], in[1] ? in[2] : 0, 0 };
			out[n++] = (char)strtol(hex, NULL, 16);
			in += 1 + strlen(hex);
			break;
		}
		default: out[n++] = *in++; break;
		}
	}
	return n;
}

/* Read what the master has within timeout_ms; -1 at its end (EIO). */
static int pump(int timeout_ms)
{
	struct pollfd p = { .fd = master, .events = POLLIN };
	int r = poll(&p, 1, timeout_ms);
	if (r <= 0)
		return 0;
	char buf[4096];
	ssize_t n = read(master, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -1;
	if (out_fd >= 0 && write(out_fd, buf, (size_t)n) < 0)
		perror("pty-run: write");
	if (seen_len + (size_t)n + 1 > seen_cap) {
		seen_cap = (seen_len + (size_t)n + 1) * 2;
		seen = realloc(seen, seen_cap);
		if (!seen)
			abort();
	}
	memcpy(seen + seen_len, buf, (size_t)n);
	seen_len += (size_t)n;
	seen[seen_len] = '\0';
	return 1;
}

static int finish(int code)
{
	int status;
	if (code) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		return code;
	}
	if (waitpid(child, &status, 0) < 0)
		return 126;
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static void show_seen(void)
{
	fprintf(stderr, "pty-run: the output so far (after the last match):\n");
	for (size_t i = mark; i < seen_len; i++) {
		unsigned char c = (unsigned char)seen[i];
		if (c == '\n' || (c >= 32 && c < 127))
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fputc('\n', stderr);
}

static void set_size(const char *spec)
{
	unsigned cols, rows;
	if (sscanf(spec, "%ux%u", &cols, &rows) != 2) {
		fprintf(stderr, "pty-run: bad size `%s`\n", spec);
		exit(2);
	}
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	if (master >= 0 && ioctl(master, TIOCSWINSZ, &ws) < 0)
		perror("pty-run: TIOCSWINSZ");
}

int main(int argc, char **argv)
{
	const char *out = NULL, *size = "80x24";
	double limit = 60;
	int i = 1;
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			size = argv[++i];
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			limit = atof(argv[++i]);
		else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: pty-run [-o OUT] [-s CxR] [-t S] [STEP...] -- CMD...\n");
			return 2;
		}
	}
	int first_step = 1, n_end = i;
	if (i >= argc - 1) {
		fprintf(stderr, "pty-run: no command after --\n");
		return 2;
	}
	if (out && (out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		perror(out);
		return 2;
	}
	unsigned cols = 80, rows = 24;
	if (sscanf(size, "%ux%u", &cols, &rows) != 2) {
		fprintf(stderr, "pty-run: bad size `%s`\n", size);
		return 2;
	}
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	child = forkpty(&master, NULL, NULL, &ws);
	if (child < 0) {
		perror("pty-run: forkpty");
		return 2;
	}
	if (child == 0) {
		execvp(argv[n_end + 1], argv + n_end + 1);
		fprintf(stderr, "pty-run: exec %s: %s\n", argv[n_end + 1], strerror(errno));
		_exit(127);
	}
	double deadline = now() + limit;
	bool ended = false;
	for (int k = first_step; k < n_end; k++) {
		const char *step = argv[k];
		if (!strcmp(step, "-o") || !strcmp(step, "-s") || !strcmp(step, "-t")) {
			k++;
			continue;
		}
		char *text = malloc(strlen(step) + 1);
		const char *colon = strchr(step, ':');
		const char *arg = colon ? colon + 1 : "";
		size_t len = unescape(arg, text);
		text[len] = '\0';
		if (!strncmp(step, "send:", 5)) {
			if (write(master, text, len) != (ssize_t)len)
				perror("pty-run: write to the terminal");
		} else if (!strncmp(step, "expect:", 7)) {
			for (;;) {
				char *hit = seen ? memmem(seen + mark, seen_len - mark, text, len) : NULL;
				if (hit) {
					mark = (size_t)(hit - seen) + len;
					break;
				}
				if (ended || now() > deadline) {
					fprintf(stderr, "pty-run: did not see `%s`%s\n", arg,
						ended ? " (the command ended)" : "");
					show_seen();
					free(text);
					return finish(125);
				}
				if (pump(200) < 0)
					ended = true;
			}
		} else if (!strncmp(step, "resize:", 7)) {
			set_size(text);
		} else if (!strncmp(step, "kill:", 5)) {
			kill(child, atoi(text));
		} else if (!strncmp(step, "killpid:", 8)) {
			char *sig = strrchr(text, ':');
			long pid = 0;
			if (!sig) {
				fprintf(stderr, "pty-run: killpid:FILE:N\n");
				free(text);
				return finish(2);
			}
			*sig++ = '\0';
			while (pid <= 0 && now() < deadline) {
				FILE *f = fopen(text, "r");
				if (!f || fscanf(f, "%ld", &pid) != 1)
					pid = 0;
				if (f)
					fclose(f);
				if (pid <= 0 && pump(100) < 0)
					ended = true;
			}
			if (pid <= 0 || kill((pid_t)pid, atoi(sig)) < 0) {
				fprintf(stderr, "pty-run: cannot signal the pid in `%s`\n", text);
				free(text);
				return finish(125);
			}
		} else {
			fprintf(stderr, "pty-run: unknown step `%s`\n", step);
			free(text);
			return finish(2);
		}
		free(text);
	}
	while (!ended) {
		if (now() > deadline) {
			fprintf(stderr, "pty-run: timed out waiting for the command to end\n");
			show_seen();
			return finish(124);
		}
		if (pump(200) < 0)
			ended = true;
	}
	return finish(0);
}
