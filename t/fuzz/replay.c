/*
 * replay: the driver a fuzz target is linked with outside libFuzzer. It runs
 * every file of the target's corpus (FUZZ_CORPUS, or the files and
 * directories given as arguments) through LLVMFuzzerTestOneInput once, and
 * prints TAP: a crash, a sanitizer report or a broken invariant fails the
 * test. So every seed and every regression input is replayed by `make
 * check` in the plain and the sanitizer builds.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "core/util.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int nrun;

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_file(const char *path)
{
	size_t len;
	char *data = read_file(path, &len);
	if (!data) {
		printf("not ok %d - %s: %s\n", ++nrun, path, strerror(errno));
		return;
	}
	/* an exact copy: ASan then sees reads past the input's end */
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, data, len);
	free(data);
	fflush(stdout);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
	printf("ok %d - %s\n", ++nrun, path);
	fflush(stdout);
}

static void run_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		printf("not ok %d - %s: %s\n", ++nrun, path, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		run_file(path);
		return;
	}
	DIR *dir = opendir(path);
	if (!dir) {
		printf("not ok %d - %s: %s\n", ++nrun, path, strerror(errno));
		return;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = xasprintf("%s/%s", path, de->d_name);
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), cmp);
	for (size_t i = 0; i < n; i++) {
		run_file(names[i]);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1)
		for (int i = 1; i < argc; i++)
			run_path(argv[i]);
	else
		run_path(FUZZ_CORPUS);
	if (nrun == 0)
		printf("not ok 1 - the corpus holds no input\n"), nrun = 1;
	printf("1..%d\n", nrun);
	return 0;
}
