/*
 * berth-worker: the short-lived helper processes of berthd that need
 * libarchive, exec'd by berthd after it has set their descriptors up, so
 * that the daemon itself never loads libarchive and what it drags in
 * (libxml2, ICU, libstdc++: ~2.5 MiB of resident pages and ~2 ms of every
 * berthd start).
 *
 *   berth-worker apply [--whiteouts overlay|delete] [--diff-id DIGEST] [--input-file]
 *       apply one layer, descriptors as WORKER_FD_* (src/diff/internal.h):
 *       the unpack worker of src/diff/job.c, which confines itself
 *   berth-worker archive DIR
 *       DIR as a pax tar on stdout, then DIR removed (checkpoints)
 *
 * Not a user command: berthd passes what its parent-side code expects.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "diff/internal.h"

static void usage(void)
{
	fputs("usage: berth-worker apply [--whiteouts overlay|delete] [--diff-id DIGEST] "
	      "[--input-file]\n"
	      "       berth-worker archive DIR\n"
	      "(berthd's helper: it starts it with the descriptors it expects)\n",
	      stderr);
	_exit(2);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "archive") == 0)
		archive_dir_main(argv[2]);
	if (argc < 2 || strcmp(argv[1], "apply") != 0)
		usage();
	struct worker_opts o = { .whiteouts = DIFF_WHITEOUTS_OVERLAY };
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--input-file") == 0)
			o.input_is_file = true;
		else if (strcmp(argv[i], "--whiteouts") == 0 && i + 1 < argc &&
			 (strcmp(argv[i + 1], "overlay") == 0 || strcmp(argv[i + 1], "delete") == 0))
			o.whiteouts = strcmp(argv[++i], "delete") == 0 ? DIFF_WHITEOUTS_DELETE
								       : DIFF_WHITEOUTS_OVERLAY;
		else if (strcmp(argv[i], "--diff-id") == 0 && i + 1 < argc)
			o.expected_diff_id = argv[++i];
		else
			usage();
	}
	worker_main(&o);
}
