/*
 * plugin: the static table of compiled-in plugins (containerd's builtins,
 * crun's handler table). Each service, snapshotter, runtime and store has a
 * row with its type, id, what it requires and what it can do; start-up marks
 * each row ok or failed (with the reason) as it initialises, and
 * GET /v1/plugins reports the table. Rows are added here, in one place.
 */
#ifndef BERTH_CORE_PLUGIN_H
#define BERTH_CORE_PLUGIN_H

#include <stddef.h>

enum plugin_status {
	PLUGIN_PENDING = 0, /* not initialised (yet) */
	PLUGIN_OK,          /* initialised and serving */
	PLUGIN_ERROR,       /* initialisation failed; see the error text */
	PLUGIN_SKIPPED,     /* not usable on this host or disabled by config */
};

struct plugin {
	const char *type; /* "io.berth.service.v1" */
	const char *id;   /* "namespaces" */
	const char *const *requires;     /* NULL-terminated plugin types */
	const char *const *capabilities; /* NULL-terminated */
	enum plugin_status status;
	char *error; /* why it failed or was skipped */
};

size_t plugin_count(void);
struct plugin *plugin_at(size_t i);
struct plugin *plugin_find(const char *type, const char *id);
/* Record the outcome of initialising a plugin; reason may be NULL. */
void plugin_set_status(const char *type, const char *id, enum plugin_status st,
		       const char *reason);
const char *plugin_status_name(enum plugin_status st);
void plugin_reset(void);

#endif
