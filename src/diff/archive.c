/*
 * berth-worker's `archive` mode: a directory as a pax tar on stdout (the
 * CRIU image of a checkpoint, src/tasks/checkpoint.c). A child of berthd,
 * exec'd: no loop, no LMDB.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "core/util.h"
#include "diff/internal.h"

__attribute__((noreturn)) static void archive_fail(struct archive *a, const char *what)
{
	const char *m = a ? archive_error_string(a) : NULL;
	dprintf(2, "%s: %s\n", what, m ? m : strerror(errno));
	_exit(1);
}

void archive_dir_main(const char *dir)
{
	if (chdir(dir) < 0)
		archive_fail(NULL, dir);
	struct archive *out = archive_write_new();
	if (archive_write_set_format_pax_restricted(out) != ARCHIVE_OK ||
	    archive_write_open_fd(out, 1) != ARCHIVE_OK)
		archive_fail(out, "tar");
	struct archive *disk = archive_read_disk_new();
	archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
	if (archive_read_disk_open(disk, ".") != ARCHIVE_OK)
		archive_fail(disk, dir);
	static char chunk[65536];
	for (;;) {
		struct archive_entry *e = archive_entry_new();
		int r = archive_read_next_header2(disk, e);
		if (r == ARCHIVE_EOF) {
			archive_entry_free(e);
			break;
		}
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			archive_fail(disk, dir);
		archive_read_disk_descend(disk);
		const char *name = archive_entry_pathname(e);
		if (name && strcmp(name, ".") != 0) {
			if (archive_write_header(out, e) != ARCHIVE_OK)
				archive_fail(out, name);
			if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
				ssize_t n;
				while ((n = archive_read_data(disk, chunk, sizeof(chunk))) > 0)
					if (archive_write_data(out, chunk, (size_t)n) != n)
						archive_fail(out, name);
				if (n < 0)
					archive_fail(disk, name);
			}
		}
		archive_entry_free(e);
	}
	archive_read_free(disk);
	if (archive_write_close(out) != ARCHIVE_OK)
		archive_fail(out, "tar");
	archive_write_free(out);
	if (chdir("/") == 0)
		rm_tree(dir);
	_exit(0);
}
