/*
 * loop: the libevent glue every part of berthd shares: signals as
 * evsignals, and child processes (unpack workers, shims while they start)
 * reaped on SIGCHLD and dispatched to the handler registered for their pid.
 * Nothing here blocks: waitpid runs with WNOHANG.
 * Also: deferred malloc_trim after bursts of frees.
 */
#ifndef BERTH_CORE_LOOP_H
#define BERTH_CORE_LOOP_H

#include <sys/types.h>

#include "core/daemon.h"

/* Called once when the child exits; status as from waitpid(). */
typedef void (*child_exit_cb)(pid_t pid, int status, void *data);

struct child_table *child_table_new(void);
void child_table_free(struct child_table *t);
/* Register pid; cb runs from the loop when it has exited. */
void child_watch(struct daemon *d, pid_t pid, child_exit_cb cb, void *data);
/* Forget pid (its handler will not run). */
void child_unwatch(struct daemon *d, pid_t pid);
/* Reap every exited child and run their handlers (the SIGCHLD callback). */
void child_reap_all(struct daemon *d);
size_t child_count(struct daemon *d);

/* Return freed heap to the kernel soon (malloc_trim), once, after a burst of
 * frees such as many clients leaving; calls within a second coalesce. */
void loop_trim_memory_soon(struct daemon *d);

#endif
