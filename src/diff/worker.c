#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "core/digest.h"
#include "core/json.h"
#include "diff/internal.h"

#define READ_BLOCK (1024 * 1024)

struct decompress {
	const struct worker_opts *o;
	char *inbuf;
	off_t in_off;
	struct hasher *hash;
	uint64_t tar_size;
	bool extractor_gone; /* it stopped reading: its result says why */
};

static la_ssize_t input_read_cb(struct archive *a, void *data, const void **buf)
{
	struct decompress *z = data;
	for (;;) {
		ssize_t n = z->o->input_is_file
				? pread(WORKER_FD_INPUT, z->inbuf, READ_BLOCK, z->in_off)
				: read(WORKER_FD_INPUT, z->inbuf, READ_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			archive_set_error(a, errno, "read the layer");
			return -1;
		}
		z->in_off += n;
		*buf = z->inbuf;
		return n;
	}
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Decompress fd 0 (gzip, zstd or none, detected), hash it (the diffID) and
 * pass it to the extractor on out. */
static int decompress(struct decompress *z, int out, err_t *err)
{
	struct archive *raw = archive_read_new();
	struct archive_entry *e;
	int rc = 0;
	/* gzip and zstd in-library (a filter needing an external program
	 * could not run under seccomp); no filter: a plain tar */
	if (!raw || archive_read_support_filter_gzip(raw) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(raw) != ARCHIVE_OK ||
	    archive_read_support_format_raw(raw) != ARCHIVE_OK) {
		rc = make_error(err, E_INTERNAL, 0, "libarchive: no gzip or zstd support");
		goto out;
	}
	if (archive_read_open2(raw, z, NULL, input_read_cb, NULL, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(raw, &e) != ARCHIVE_OK) {
		rc = make_error(err, E_INVALID_ARGUMENT, 0, "read the layer: %s", archive_msg(raw));
		goto out;
	}
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int r = archive_read_data_block(raw, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			rc = make_error(err, E_INVALID_ARGUMENT, 0, "decompress the layer: %s",
					archive_msg(raw));
			break;
		}
		hasher_update(z->hash, buf, size);
		z->tar_size += size;
		if (write_all(out, buf, size) < 0) {
			z->extractor_gone = true;
			break;
		}
	}
out:
	if (raw)
		archive_read_free(raw);
	return rc;
}

void worker_report(json_t *j)
{
	size_t len;
	char *s = json_dump_compact(j, &len);
	char *line = xmalloc(len + 1);
	memcpy(line, s, len);
	line[len] = '\n';
	write_all(WORKER_FD_STATUS, line, len + 1);
	free(line);
	free(s);
	json_decref(j);
}

void worker_report_error(err_t err)
{
	worker_report(json_pack("{s:s,s:s}", "error", err->msg, "kind", err_kind_code(err->kind)));
	_exit(1);
}

/* In the extractor, never returns. */
static void extractor(const struct worker_opts *o, pid_t parent, int in, int out)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(125);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(in, WORKER_FD_INPUT) < 0 || dup2(out, WORKER_FD_STATUS) < 0)
		_exit(125);
	if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0)
		for (int fd = 4; fd < 65536; fd++)
			close(fd);
	extractor_main(o);
}

/* The extractor's result: entries, or its error; true if a signal killed it. */
static bool read_result(int fd, pid_t pid, uint64_t *entries, err_t *err)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && b.len < 65536)
			buf_add(&b, chunk, (size_t)n);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	cleanup_json json_t *j = b.len ? json_loadb(b.data, b.len, 0, NULL) : NULL;
	buf_release(&b);
	const char *msg = json_string_value(json_object_get(j, "error"));
	if (msg) {
		const char *code = json_string_value(json_object_get(j, "kind"));
		enum err_kind kind = E_INTERNAL;
		for (int k = 0; k < E_KIND_MAX; k++)
			if (code && strcmp(code, err_kind_code((enum err_kind)k)) == 0)
				kind = (enum err_kind)k;
		make_error(err, kind, 0, "%s", msg);
	} else if (json_is_integer(json_object_get(j, "entries")) && WIFEXITED(st) &&
		   WEXITSTATUS(st) == 0) {
		*entries = (uint64_t)json_integer_value(json_object_get(j, "entries"));
	} else if (WIFSIGNALED(st)) {
		make_error(err, E_INTERNAL, 0, "layer extractor killed by signal %d (%s)",
			   WTERMSIG(st), strsignal(WTERMSIG(st)));
	} else {
		make_error(err, E_INTERNAL, 0,
			   "layer extractor exited with status %d without a result",
			   WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	return WIFSIGNALED(st);
}

void worker_main(const struct worker_opts *o)
{
	err_t err = NULL;
	/* bulk work: the daemon's loop (the API) comes first on a busy machine;
	 * the extractor inherits it */
	if (setpriority(PRIO_PROCESS, 0, WORKER_NICE) < 0)
		(void)0; /* best effort */
	umask(022);
	signal(SIGPIPE, SIG_IGN); /* an extractor that stops reading: EPIPE */
	int data[2], res[2];
	if (pipe2(data, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0) {
		make_error(&err, E_INTERNAL, errno, "create a pipe");
		worker_report_error(err);
	}
	fcntl(data[1], F_SETPIPE_SZ, READ_BLOCK); /* best effort */
	pid_t self = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		make_error(&err, E_INTERNAL, errno, "start the layer extractor");
		worker_report_error(err);
	}
	if (pid == 0)
		extractor(o, self, data[0], res[1]);
	close(data[0]);
	close(res[1]);

	struct decompress z = { .o = o, .inbuf = xmalloc(READ_BLOCK), .hash = hasher_new() };
	if (confine_worker(&err) < 0)
		worker_report_error(err); /* the extractor dies with us (PDEATHSIG) */
	err_t derr = NULL, xerr = NULL;
	decompress(&z, data[1], &derr);
	close(data[1]); /* end of stream for the extractor */
	uint64_t entries = 0;
	bool killed = read_result(res[0], pid, &entries, &xerr);
	/* a cut or corrupt stream explains the extractor's truncated tar, not
	 * its death by a signal */
	if (derr && !killed)
		worker_report_error(derr);
	if (xerr)
		worker_report_error(xerr);
	char diff_id[DIGEST_STRLEN + 1];
	hasher_final(z.hash, diff_id);
	if (o->expected_diff_id && strcmp(diff_id, o->expected_diff_id) != 0) {
		make_error(&err, E_INVALID_ARGUMENT, 0,
			   "diffID mismatch: the layer's uncompressed stream is `%s`, the image "
			   "config says `%s`",
			   diff_id, o->expected_diff_id);
		worker_report_error(err);
	}
	worker_report(json_pack("{s:s,s:I,s:I}", "diff_id", diff_id, "tar_size",
				(json_int_t)z.tar_size, "entries", (json_int_t)entries));
	_exit(0);
}
