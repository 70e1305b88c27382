#include "config.h"

#include <string.h>

#include "core/plugin.h"
#include "core/util.h"

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE ((const char *const[]){ NULL })

/* Every compiled-in plugin, in initialisation order. */
static struct plugin plugins[] = {
	{ "io.berth.metadata.v1", "lmdb", NONE, LIST("durable", "schema-v1") },
	{ "io.berth.event.v1", "exchange", NONE, LIST("replay", "sse") },
	{ "io.berth.service.v1", "namespaces-service", LIST("io.berth.metadata.v1",
							     "io.berth.event.v1"),
	  NONE },
	{ "io.berth.service.v1", "events-service", LIST("io.berth.event.v1"), NONE },
	{ "io.berth.service.v1", "introspection-service", NONE, LIST("prometheus") },
	{ "io.berth.content.v1", "content", LIST("io.berth.metadata.v1"),
	  LIST("sha256", "resumable-ingests", "range-reads") },
	{ "io.berth.gc.v1", "scheduler", LIST("io.berth.metadata.v1"), LIST("mark-sweep") },
	{ "io.berth.service.v1", "images-service", LIST("io.berth.metadata.v1", "io.berth.gc.v1"),
	  LIST("pull") },
	{ "io.berth.service.v1", "leases-service", LIST("io.berth.metadata.v1", "io.berth.gc.v1"),
	  NONE },
	{ "io.berth.snapshotter.v1", "overlayfs", LIST("io.berth.metadata.v1"),
	  LIST("overlay", "short-ids", "reparent", "userxattr") },
	{ "io.berth.snapshotter.v1", "native", LIST("io.berth.metadata.v1"), LIST("copy") },
	{ "io.berth.service.v1", "snapshots-service",
	  LIST("io.berth.metadata.v1", "io.berth.snapshotter.v1", "io.berth.gc.v1"), NONE },
	{ "io.berth.service.v1", "containers-service",
	  LIST("io.berth.metadata.v1", "io.berth.snapshotter.v1", "io.berth.gc.v1"), NONE },
	{ "io.berth.diff.v1", "walking", NONE,
	  LIST("tar", "tar+gzip", "tar+zstd", "overlay-whiteouts", "delete-whiteouts",
	       "seccomp", "chroot") },
	{ "io.berth.remotes.v1", "registry", NONE,
	  LIST("oci-distribution", "docker-schema2", "token-auth", "basic-auth", "mirrors",
	       "range-resume") },
	{ "io.berth.runtime.v2", "task", LIST("io.berth.service.v1"),
	  LIST("berth-shim", "runc", "crun", "live-restore", "checkpoint-criu") },
	{ "io.berth.service.v1", "tasks-service", LIST("io.berth.runtime.v2"), NONE },
	{ "io.berth.server.v1", "http", LIST("io.berth.service.v1"), LIST("unix", "tcp+token") },
};

size_t plugin_count(void)
{
	return ARRAY_SIZE(plugins);
}

struct plugin *plugin_at(size_t i)
{
	return i < ARRAY_SIZE(plugins) ? &plugins[i] : NULL;
}

struct plugin *plugin_find(const char *type, const char *id)
{
	for (size_t i = 0; i < ARRAY_SIZE(plugins); i++)
		if (strcmp(plugins[i].type, type) == 0 && strcmp(plugins[i].id, id) == 0)
			return &plugins[i];
	return NULL;
}

void plugin_set_status(const char *type, const char *id, enum plugin_status st,
		       const char *reason)
{
	struct plugin *p = plugin_find(type, id);
	if (!p)
		return;
	p->status = st;
	free(p->error);
	p->error = reason ? xstrdup(reason) : NULL;
}

const char *plugin_status_name(enum plugin_status st)
{
	switch (st) {
	case PLUGIN_OK:
		return "ok";
	case PLUGIN_ERROR:
		return "error";
	case PLUGIN_SKIPPED:
		return "skipped";
	case PLUGIN_PENDING:
		break;
	}
	return "pending";
}

void plugin_reset(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(plugins); i++) {
		free(plugins[i].error);
		plugins[i].error = NULL;
		plugins[i].status = PLUGIN_PENDING;
	}
}
