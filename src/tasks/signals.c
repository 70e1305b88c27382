/* tasks/signals: signal names as kill(1) and containerd accept them. */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "tasks/tasks.h"

int signal_parse(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {
		{ "HUP", SIGHUP },   { "INT", SIGINT },	    { "QUIT", SIGQUIT }, { "ILL", SIGILL },
		{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT },   { "IOT", SIGIOT },	 { "BUS", SIGBUS },
		{ "FPE", SIGFPE },   { "KILL", SIGKILL },   { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
		{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE },   { "ALRM", SIGALRM }, { "TERM", SIGTERM },
		{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },
		{ "STOP", SIGSTOP }, { "TSTP", SIGTSTP },   { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },
		{ "URG", SIGURG },   { "XCPU", SIGXCPU },   { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM },
		{ "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },	 { "POLL", SIGPOLL },
		{ "PWR", SIGPWR },   { "SYS", SIGSYS },
	};
	if (!s || !*s)
		return -1;
	uint64_t n;
	if (parse_u64(s, &n))
		return n >= 1 && n <= (uint64_t)SIGRTMAX ? (int)n : -1;
	const char *name = !strncasecmp(s, "SIG", 3) ? s + 3 : s;
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		if (!strcasecmp(name, sigs[i].name))
			return sigs[i].sig;
	if (!strncasecmp(name, "RTMIN", 5) || !strncasecmp(name, "RTMAX", 5)) {
		bool min = !strncasecmp(name, "RTMIN", 5);
		const char *rest = name + 5;
		long off = 0;
		if (*rest) {
			char *end;
			off = strtol(rest, &end, 10);
			if (*end || (min && off < 0) || (!min && off > 0))
				return -1;
		}
		int sig = (min ? SIGRTMIN : SIGRTMAX) + (int)off;
		return sig >= SIGRTMIN && sig <= SIGRTMAX ? sig : -1;
	}
	return -1;
}

