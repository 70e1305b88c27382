/*
 * tasks: the running side of containers (shim/PROTOCOL.md). A task's
 * directory is <state>/tasks/<ns>/<id>/; it exists from the task's creation
 * until its deletion.
 */
#ifndef BERTH_TASKS_TASKS_H
#define BERTH_TASKS_TASKS_H

#include <stdbool.h>

#include "core/daemon.h"

/* Does container id of namespace ns have a task (in any state)? */
bool tasks_exists(struct daemon *d, const char *ns, const char *id);

#endif
