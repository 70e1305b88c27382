/* Unit tests for core/util.c: struct buf, parse_u64, RFC 3339 time stamps,
 * mkdir_p, write_file_atomic, read_file and rm_small_tree. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "tap.h"

static void test_buf(void)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "hello");
	ok(b.len == 5 && strcmp(b.data, "hello") == 0 && b.alloc > b.len, "buf_adds");
	buf_add(&b, " world", 6);
	is_str(b.data, "hello world", "buf_add appends and terminates");

	/* growth past the first allocation, one byte at a time */
	buf_reset(&b);
	ok(b.len == 0 && b.data[0] == '\0', "buf_reset empties");
	for (int i = 0; i < 1000; i++)
		buf_add(&b, i % 2 ? "b" : "a", 1);
	ok(b.len == 1000 && b.alloc > 1000 && b.data[1000] == '\0' &&
	       strncmp(b.data + 996, "abab", 4) == 0,
	   "1000 single-byte appends");
	buf_release(&b);
	ok(b.data == NULL && b.len == 0 && b.alloc == 0, "buf_release resets");

	/* buf_addf: short, then longer than the room left (second vsnprintf pass) */
	buf_addf(&b, "%d-%s", 42, "x");
	is_str(b.data, "42-x", "buf_addf");
	char big[300];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_addf(&b, "[%s]", big);
	ok(b.len == 4 + 301 && b.data[4] == '[' && b.data[b.len - 1] == ']' &&
	       b.data[b.len] == '\0' && strspn(b.data + 5, "z") == 299,
	   "buf_addf that outgrows the buffer");
	buf_addf(&b, "%s", "");
	is_int(b.len, 305, "buf_addf of nothing");

	/* consume */
	buf_reset(&b);
	buf_adds(&b, "abcdef");
	buf_consume(&b, 2);
	ok(b.len == 4 && strcmp(b.data, "cdef") == 0, "buf_consume drops a prefix");
	buf_consume(&b, 0);
	is_str(b.data, "cdef", "buf_consume of 0");
	buf_consume(&b, 100);
	ok(b.len == 0 && b.data[0] == '\0', "buf_consume of more than len empties");

	/* detach */
	buf_adds(&b, "owned");
	size_t len = 0;
	char *s = buf_detach(&b, &len);
	ok(len == 5 && strcmp(s, "owned") == 0, "buf_detach hands out the contents");
	ok(b.data == NULL && b.len == 0 && b.alloc == 0, "buf_detach resets the buf");
	free(s);
	len = 99;
	s = buf_detach(&b, &len);
	ok(s != NULL && len == 0 && s[0] == '\0', "buf_detach of an empty buf is \"\"");
	free(s);

	/* a fresh buf grown explicitly reads as the empty string */
	buf_grow(&b, 10);
	ok(b.data && b.data[0] == '\0' && b.alloc >= 11, "buf_grow of a fresh buf");
	buf_release(&b);
}

static void test_parse_u64(void)
{
	uint64_t v = 7;
	ok(parse_u64("0", &v) && v == 0, "0");
	ok(parse_u64("12345", &v) && v == 12345, "12345");
	ok(parse_u64("007", &v) && v == 7, "leading zeros");
	ok(parse_u64("18446744073709551615", &v) && v == UINT64_MAX, "UINT64_MAX");
	v = 7;
	ok(!parse_u64("18446744073709551616", &v) && v == 7, "UINT64_MAX + 1 overflows, out kept");
	ok(!parse_u64("99999999999999999999", &v), "20 nines overflow");
	ok(!parse_u64("184467440737095516150", &v), "one digit too many");
	ok(!parse_u64("", &v), "empty");
	ok(!parse_u64(NULL, &v), "NULL");
	ok(!parse_u64("12a", &v), "trailing junk");
	ok(!parse_u64("a12", &v), "leading junk");
	ok(!parse_u64("-1", &v), "negative");
	ok(!parse_u64("+1", &v), "plus sign");
	ok(!parse_u64(" 1", &v), "leading space");
	ok(!parse_u64("1 ", &v), "trailing space");
	ok(!parse_u64("0x10", &v), "hex");
}

static const char *rfc3339(int64_t ns)
{
	static char out[40];
	time_format_rfc3339(ns, out);
	return out;
}

static void test_time(void)
{
	is_str(rfc3339(0), "1970-01-01T00:00:00.000000000Z", "the epoch");
	is_str(rfc3339(1), "1970-01-01T00:00:00.000000001Z", "one nanosecond");
	is_str(rfc3339(1700000000123456789LL), "2023-11-14T22:13:20.123456789Z", "a known instant");
	is_str(rfc3339(-1), "1969-12-31T23:59:59.999999999Z", "one nanosecond before the epoch");
	is_str(rfc3339(-1000000000LL), "1969-12-31T23:59:59.000000000Z", "one second before");
	is_str(rfc3339(-1500000000LL), "1969-12-31T23:59:58.500000000Z", "negative fraction");
	is_str(rfc3339(951782400000000000LL), "2000-02-29T00:00:00.000000000Z", "a leap day");
	int64_t a = time_now_ns(), m1 = time_mono_ns(), m2 = time_mono_ns();
	ok(a > 1600000000LL * 1000000000LL, "time_now_ns is after 2020");
	ok(m2 >= m1, "the monotonic clock does not go back");
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_files(void)
{
	char tmpl[] = "/tmp/berth-test-util.XXXXXX";
	char *dir = mkdtemp(tmpl);
	if (!ok(dir != NULL, "mkdtemp")) {
		return;
	}
	struct stat st;
	char *deep = xasprintf("%s/a/b/c", dir);
	ok(mkdir_p(deep, 0755) == 0 && stat(deep, &st) == 0 && S_ISDIR(st.st_mode),
	   "mkdir_p creates nested directories");
	ok(mkdir_p(deep, 0755) == 0, "mkdir_p of an existing directory");
	char *slash = xasprintf("%s/x/y/", dir);
	ok(mkdir_p(slash, 0755) == 0, "mkdir_p with a trailing slash");

	char *file = xasprintf("%s/a/state.json", dir);
	ok(write_file_atomic(file, "hello", 5, 0600) == 0, "write_file_atomic");
	ok(stat(file, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 5,
	   "the file has its mode and size");
	size_t len = 0;
	char *data = read_file(file, &len);
	ok(data && len == 5 && strcmp(data, "hello") == 0, "read_file reads it back");
	free(data);
	ok(write_file_atomic(file, "hi", 2, 0600) == 0, "overwrite with shorter content");
	data = read_file(file, &len);
	ok(data && len == 2 && strcmp(data, "hi") == 0, "the file was replaced, not rewritten");
	free(data);
	char *adir = xasprintf("%s/a", dir);
	is_int(count_entries(adir), 2, "no temporary file is left (b/ and state.json)");

	ok(write_file_atomic(file, "", 0, 0600) == 0, "write an empty file");
	len = 99;
	data = read_file(file, &len);
	ok(data && len == 0 && data[0] == '\0', "read_file of an empty file is \"\"");
	free(data);

	/* a large file crosses read_file's chunk size */
	size_t big_len = 100000;
	char *big = malloc(big_len);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)('a' + i % 26);
	ok(write_file_atomic(file, big, big_len, 0644) == 0, "write 100000 bytes");
	data = read_file(file, &len);
	ok(data && len == big_len && memcmp(data, big, big_len) == 0 && data[len] == '\0',
	   "read 100000 bytes back, terminated");
	free(data);
	free(big);

	char *missing = xasprintf("%s/nope/file", dir);
	errno = 0;
	ok(read_file(missing, &len) == NULL && errno == ENOENT, "read_file of a missing file");
	ok(write_file_atomic(missing, "x", 1, 0600) < 0, "write into a missing directory fails");
	ok(mkdir_p(file, 0755) < 0 && errno == ENOTDIR, "mkdir_p over a file is ENOTDIR");
	char *under = xasprintf("%s/sub", file);
	ok(mkdir_p(under, 0755) < 0, "mkdir_p under a file fails");

	char *cmd = xasprintf("rm -rf '%s'", dir);
	ok(system(cmd) == 0, "clean up");
	free(cmd);
	free(under);
	free(missing);
	free(adir);
	free(file);
	free(slash);
	free(deep);
}

/* mk: create a file of size bytes (written, so its blocks are allocated) */
static void mk(const char *dir, const char *name, size_t size)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	for (size_t i = 0; f && i < size; i++)
		fputc('x', f);
	if (f)
		fclose(f);
	free(p);
}

static void test_rm_small_tree(void)
{
	char tmpl[] = "/tmp/berth-test-rmsmall.XXXXXX";
	char *dir = mkdtemp(tmpl);
	if (!ok(dir != NULL, "mkdtemp"))
		return;
	struct stat st;
	char *t = xasprintf("%s/small", dir);
	char *sub = xasprintf("%s/small/work/work", dir);
	mkdir_p(sub, 0);
	mk(t, "f", 100);
	char *link = xasprintf("%s/small/l", dir);
	ok(symlink("f", link) == 0, "a small tree: a file, a symlink, a mode-0 directory");
	is_int(rm_small_tree(t, 8, 4096), 0, "rm_small_tree removes it");
	ok(lstat(t, &st) < 0 && errno == ENOENT, "it is gone");

	mkdir_p(t, 0755);
	for (int i = 0; i < 10; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		mk(t, name, 1);
	}
	is_int(rm_small_tree(t, 8, 4096), 1, "more entries than allowed: not small");
	is_int(count_entries(t), 10, "nothing was removed");
	is_int(rm_small_tree(t, 64, 4096), 0, "with a higher limit it goes");

	mkdir_p(t, 0755);
	mk(t, "big", 64 << 10);
	is_int(rm_small_tree(t, 64, 4096), 1, "a file bigger than allowed: not small");
	is_int(count_entries(t), 1, "the file is still there");
	is_int(rm_small_tree(t, 64, 1 << 20), 0, "with a higher limit it goes");

	char *mnt = xasprintf("%s/small/mnt", dir);
	mkdir_p(mnt, 0755);
	mk(t, "f", 1);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") == 0) {
		mk(mnt, "inside", 1);
		is_int(rm_small_tree(t, 64, 4096), 1, "a mount inside: not removed");
		ok(stat(mnt, &st) == 0, "the mount point is still there");
		char *inside = xasprintf("%s/inside", mnt);
		ok(stat(inside, &st) == 0, "nothing on the other filesystem was touched");
		free(inside);
		umount(mnt);
	} else {
		ok(1, "# SKIP cannot mount a tmpfs: %s", strerror(errno));
	}
	is_int(rm_small_tree(t, 64, 4096), 0, "without the mount it goes");
	char *missing = xasprintf("%s/missing", dir);
	is_int(rm_small_tree(missing, 64, 4096), 1, "a missing path: 1");

	rmdir(dir);
	ok(stat(dir, &st) < 0, "clean up");
	free(missing);
	free(mnt);
	free(link);
	free(sub);
	free(t);
}

int main(void)
{
	plan_lazy();
	test_buf();
	test_parse_u64();
	test_time();
	test_files();
	test_rm_small_tree();
	/* secret_equal: the TCP token comparison */
	ok(secret_equal("abc", 3, "abc", 3), "secret_equal: same bytes");
	ok(!secret_equal("abd", 3, "abc", 3), "secret_equal: last byte differs");
	ok(!secret_equal("ab", 2, "abc", 3), "secret_equal: a prefix of the secret");
	ok(!secret_equal("abcd", 4, "abc", 3), "secret_equal: the secret is a prefix");
	ok(!secret_equal("", 0, "abc", 3), "secret_equal: empty input");
	ok(secret_equal("", 0, "", 0), "secret_equal: both empty");
	ok(!secret_equal("a\0c", 3, "abc", 3), "secret_equal: NUL inside");
	return done_testing();
}
