#include "config.h"

#include <sys/stat.h>

#include "tasks/tasks.h"

bool tasks_exists(struct daemon *d, const char *ns, const char *id)
{
	cleanup_free char *dir = xasprintf("%s/tasks/%s/%s", d->cfg.state, ns, id);
	struct stat st;
	return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}
