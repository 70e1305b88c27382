/* Unit tests for src/diff/path.c: entry path cleaning, whiteout names and
 * the path set the worker tracks this layer's entries with; and the layer
 * media types diff accepts. */
#include "config.h"

#include "diff/internal.h"
#include "tap.h"

static void clean(const char *in, const char *want, const char *why)
{
	char *p = xstrdup(in);
	const char *got = diff_path_clean(p);
	if (why)
		is_str(got, why, "clean `%s` refused: %s", in, why);
	else
		ok(!got && strcmp(p, want) == 0, "clean `%s` -> `%s` (got `%s`)", in, want, p);
	free(p);
}

static void whiteout(const char *path, enum whiteout_kind want, size_t dirlen, const char *name)
{
	size_t dl;
	const char *n;
	enum whiteout_kind k = diff_whiteout_parse(path, &dl, &n);
	ok(k == want && dl == dirlen && ((!name && !n) || (name && n && !strcmp(name, n))),
	   "whiteout `%s`: kind %d dirlen %zu name %s", path, (int)k, dl, n ? n : "-");
}

int main(void)
{
	plan_lazy();
	clean("a/b/c", "a/b/c", NULL);
	clean("./a//b/./c/", "a/b/c", NULL);
	clean("./", "", NULL);
	clean(".", "", NULL);
	clean("a/.../b", "a/.../b", NULL);
	clean("..a/b..", "..a/b..", NULL);
	clean("", NULL, "is empty");
	clean("/etc/passwd", NULL, "is an absolute path");
	clean("../canary", NULL, "contains `..`");
	clean("a/../../b", NULL, "contains `..`");
	clean("a/..", NULL, "contains `..`");

	whiteout("a/b", WHITEOUT_NONE, 1, NULL);
	whiteout("file", WHITEOUT_NONE, 0, NULL);
	whiteout(".wh.file", WHITEOUT_FILE, 0, "file");
	whiteout("etc/.wh.passwd", WHITEOUT_FILE, 3, "passwd");
	whiteout("a/b/.wh..wh..opq", WHITEOUT_OPAQUE, 3, NULL);
	whiteout(".wh..wh..opq", WHITEOUT_OPAQUE, 0, NULL);
	whiteout("x/.wh..wh.plnk", WHITEOUT_META, 1, NULL);
	whiteout("x/.wh.", WHITEOUT_BAD, 1, "");
	whiteout(".wh..", WHITEOUT_BAD, 0, ".");
	whiteout(".wh...", WHITEOUT_BAD, 0, "..");
	whiteout("a.wh.b", WHITEOUT_NONE, 0, NULL);
	whiteout(".wh.x/y", WHITEOUT_NONE, 5, NULL);

	struct pathset s = { 0 };
	ok(!pathset_has(&s, "a", 1), "empty set has nothing");
	pathset_add_with_parents(&s, "usr/lib/x");
	ok(pathset_has(&s, "usr/lib/x", 9), "has the path");
	ok(pathset_has(&s, "usr/lib", 7) && pathset_has(&s, "usr", 3), "has its parents");
	ok(!pathset_has(&s, "us", 2) && !pathset_has(&s, "usr/li", 6), "no prefixes of names");
	ok(pathset_has(&s, "usr/lib/xyz", 9), "compares the given length only");
	char name[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "d%d/f%d", i % 50, i);
		pathset_add_with_parents(&s, name);
	}
	is_int((long long)s.n, 3 + 50 + 5000, "grows: %zu paths", s.n);
	ok(pathset_has(&s, "d7/f4007", 8) && !pathset_has(&s, "d7/f4008", 8), "finds after growth");
	pathset_release(&s);

	ok(diff_media_type_supported("application/vnd.oci.image.layer.v1.tar+zstd"), "oci zstd");
	ok(diff_media_type_supported("application/vnd.docker.image.rootfs.diff.tar.gzip"),
	   "docker gzip");
	ok(diff_media_type_supported("application/vnd.oci.image.layer.v1.tar"), "oci tar");
	ok(!diff_media_type_supported("application/vnd.oci.image.layer.v1.tar+bzip2"), "no bzip2");
	ok(!diff_media_type_supported("application/vnd.oci.image.config.v1+json"), "no config");
	return done_testing();
}
