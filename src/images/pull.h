/*
 * pull: POST /v1/namespaces/{ns}/images/pull — reference → resolve → (index
 * → the platform's manifest) → config and layers fetched concurrently into
 * the content store → image record → events (ARCHITECTURE.md "Pull, end to
 * end").
 *
 * Each pull runs under a lease (so garbage collection never removes its
 * content mid-flight) and streams its progress to the client as NDJSON (SSE
 * with Accept: text/event-stream): {"status","digest","offset","total"}
 * lines, the last one {"status":"done","image":{...}} or
 * {"status":"error","error":{"code","message"}}. A client that leaves does
 * not stop the pull; its end is published as /images/pull (and
 * /images/create or /images/update). Blobs already present are not fetched;
 * two pulls needing the same blob at once fetch it once. Manifests and
 * indexes get containerd's gc.ref labels (index → manifest, manifest →
 * config and layers).
 */
#ifndef BERTH_IMAGES_PULL_H
#define BERTH_IMAGES_PULL_H

#include "api/request.h"
#include "core/daemon.h"

struct pulls *pulls_new(struct daemon *d);
/* Shutdown: fail every running pull ("berthd is shutting down"); their
 * ingests stay and a new pull resumes them. */
void pulls_shutdown(struct pulls *p);
void pulls_free(struct pulls *p);
size_t pulls_running(const struct pulls *p);

void pull_http_start(struct request *r);
/* POST .../images/{name}/unpack {"snapshotter"?,"platform"?}: unpack an
 * image whose content is in the store; progress and end as for pull (the end
 * published as /images/unpack). */
void unpack_http_start(struct request *r);

#endif
