/*
 * procstat: this process's figures from /proc/self (for /metrics and the
 * benchmarks): CPU time, memory, open fds, threads. Reads small procfs
 * files; never blocks on anything but procfs.
 */
#ifndef BERTH_INTROSPECTION_PROCSTAT_H
#define BERTH_INTROSPECTION_PROCSTAT_H

#include <stdint.h>

struct procstat {
	double cpu_seconds;
	uint64_t rss_bytes;
	uint64_t vsize_bytes;
	unsigned open_fds;
	uint64_t max_fds;
	unsigned threads;
};

int procstat_read(struct procstat *ps);

#endif
