#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/util.h"
#include "introspection/procstat.h"

int procstat_read(struct procstat *ps)
{
	memset(ps, 0, sizeof(*ps));
	size_t len;
	cleanup_free char *stat = read_file("/proc/self/stat", &len);
	if (!stat)
		return -1;
	/* fields after the command name, which is in parentheses and may hold spaces */
	char *p = strrchr(stat, ')');
	if (!p)
		return -1;
	unsigned long utime = 0, stime = 0, vsize = 0;
	long rss = 0, threads = 0;
	/* state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime(14) stime cutime cstime priority nice num_threads(20) itreal
	 * starttime vsize(23) rss(24) */
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %ld %*d "
		   "%*u %lu %ld",
		   &utime, &stime, &threads, &vsize, &rss) != 5)
		return -1;
	long hz = sysconf(_SC_CLK_TCK);
	ps->cpu_seconds = (double)(utime + stime) / (double)(hz > 0 ? hz : 100);
	ps->vsize_bytes = vsize;
	ps->rss_bytes = (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
	ps->threads = (unsigned)threads;
	DIR *dir = opendir("/proc/self/fd");
	if (dir) {
		struct dirent *de;
		while ((de = readdir(dir)))
			if (de->d_name[0] != '.')
				ps->open_fds++;
		closedir(dir);
		ps->open_fds--; /* the one opendir holds */
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		ps->max_fds = rl.rlim_cur;
	return 0;
}
