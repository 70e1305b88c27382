/* snapshots/internal: what snapshots.c and service.c share. */
#ifndef BERTH_SNAPSHOTS_INTERNAL_H
#define BERTH_SNAPSHOTS_INTERNAL_H

#include "snapshots/snapshots.h"
#include "snapshotters/snapshotter.h"

/* A prepare waiting for its copy (native) or for its deferred answer. */
struct pending {
	struct snapshots *ss;
	char *ns, *sn_name, *key, *parent;
	bool view;
	json_t *labels;
	uint64_t id;
	struct snapshotter *sn;
	struct sworker *w; /* the copy; NULL when only the answer is deferred */
	struct event *ev;  /* deferred answer */
	json_t *mounts;	   /* the answer when ready */
	err_t err;
	snapshots_prepare_cb cb;
	void *data;
};

/* A usage walk for a caller (or, cb NULL, to cache a committed snapshot's). */
struct usage_req {
	struct snapshots *ss;
	char *ns, *sn_name, *key;
	uint64_t id;
	struct sworker *w;
	snapshots_usage_cb cb;
	void *data;
};

struct snapshots {
	struct daemon *d;
	struct snapshotter sns[2];
	size_t nsns;
	struct pending **pending; /* prepares in flight */
	size_t npending, pending_alloc;
	struct usage_req **usages; /* usage walks in flight */
	size_t nusages, usages_alloc;
};

struct snapshotter *find_sn(struct daemon *d, const char *name, err_t *err);
enum snapshot_kind rec_kind(json_t *rec);
uint64_t rec_id(json_t *rec);
void pending_free(struct pending *p);
/* Run its callback (if any) with its result, and free it. */
void pending_answer(struct pending *p);
void usage_req_free(struct usage_req *u);

#endif
