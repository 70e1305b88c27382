/*
 * unpack: turn an image's layers into committed snapshots named by their
 * chain IDs (containerd's unpacker), for pull and for POST .../unpack.
 *
 * The caller (pull) owns the blobs: it tells the unpacker when a layer's blob
 * is in the content store (unpacker_blob_ready), and may instead stream a
 * layer's bytes as they arrive from the registry (unpacker_stream_*), so that
 * download and extraction overlap. Each layer is extracted by a diff worker
 * (src/diff/) into a snapshot of its own:
 *
 *  - overlayfs: every layer into an empty active snapshot with no parent, in
 *    parallel; committed in chain order under its chain ID with the previous
 *    chain as parent (snapshots_commit_reparent);
 *  - native: in order, each into an active snapshot prepared from the
 *    previous chain (a copy), then committed.
 *
 * Chains already unpacked are skipped; a chain that appears meanwhile (another
 * pull) is used as it is. Active extraction snapshots are keyed
 * "extract-<nonce>-<chain id>"; they are removed on failure, by
 * unpacker_free, and (after a kill) at start-up by unpack_cleanup.
 */
#ifndef BERTH_IMAGES_UNPACK_H
#define BERTH_IMAGES_UNPACK_H

#include "core/daemon.h"
#include "images/oci.h"

struct unpacker;

/* Progress: status is "extracting", "extracted" or "unpacked" (committed)
 * for layer i (its blob digest), chain its chain ID. */
typedef void (*unpack_event_cb)(void *data, const char *status, size_t i, const char *digest,
				const char *chain);
/* Once, at the end: the top chain ID, or err. Not called after
 * unpacker_free. */
typedef void (*unpack_done_cb)(void *data, const char *chain, err_t *err);

/* layers: the manifest's layers; config: the image config's bytes (its
 * diff_ids). lease may be NULL. */
struct unpacker *unpacker_new(struct daemon *d, const char *ns, const char *snapshotter,
			      const char *lease, const struct descriptor *layers, size_t nlayers,
			      const char *config, size_t config_len, unpack_event_cb ev,
			      unpack_done_cb done, void *data, err_t *err);
/* Look for chains already unpacked and start what can start; done may run
 * before this returns (everything was unpacked already). */
void unpacker_start(struct unpacker *u);
/* Stop: workers killed, unfinished extraction snapshots removed; no callback
 * runs after this. Safe from the unpacker's own callbacks (unlike free). */
void unpacker_cancel(struct unpacker *u);
void unpacker_free(struct unpacker *u);

/* Whether layer i still needs its bytes (false: its chain exists). */
bool unpacker_layer_needed(struct unpacker *u, size_t i);
/* The chain ID of the top layer. */
const char *unpacker_top_chain(struct unpacker *u);

/* Streaming: begin feeding layer i from byte 0. Returns 0 when the unpacker
 * takes the stream, 1 when it does not (extract from the blob later), -1 on
 * error. */
int unpacker_stream_begin(struct unpacker *u, size_t i, err_t *err);
/* Whether layer i still takes its stream (false once its worker ended). */
bool unpacker_stream_alive(struct unpacker *u, size_t i);
/* Bytes layer i's stream accepts now. */
size_t unpacker_stream_space(struct unpacker *u, size_t i);
/* Call cb once when layer i's stream has room again (NULL cb: forget it). */
void unpacker_stream_on_space(struct unpacker *u, size_t i, void (*cb)(void *), void *data);
int unpacker_stream_write(struct unpacker *u, size_t i, const void *buf, size_t len, err_t *err);
/* The stream cannot go on (the transfer restarted from 0, or stopped): drop
 * it; layer i is extracted from its blob once unpacker_blob_ready says so. */
void unpacker_stream_abandon(struct unpacker *u, size_t i);

/* Layer i's blob is in the content store (verified) and visible in the
 * namespace: a stream ends here, else extraction from the blob may start. */
void unpacker_blob_ready(struct unpacker *u, size_t i);

/* Start-up: remove active extraction snapshots left by a killed berthd. */
void unpack_cleanup(struct daemon *d);

#endif
