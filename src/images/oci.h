/*
 * oci: the OCI image-spec objects berth reads — descriptors, image
 * manifests and indexes (and their Docker schema2 twins), platforms — parsed
 * from untrusted bytes into validated structs. Pure functions, no I/O.
 *
 * Every failure is E_INVALID_ARGUMENT naming the field ("manifest: layer 2:
 * `digest` ..."); schema1 is E_NOT_IMPLEMENTED.
 */
#ifndef BERTH_IMAGES_OCI_H
#define BERTH_IMAGES_OCI_H

#include "core/json.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

struct platform {
	char os[32];
	char arch[32];
	char variant[16]; /* "" when none */
};

struct descriptor {
	char *media_type;
	char digest[72];
	uint64_t size;
	bool has_platform;
	struct platform platform;
	json_t *json; /* the descriptor object as received (annotations, urls, ...) */
};

/* Validate a descriptor object (mediaType, digest, size; platform if
 * present) and fill d (may be NULL to only validate). */
int descriptor_parse(json_t *j, const char *what, struct descriptor *d, err_t *err);
void descriptor_release(struct descriptor *d);
/* {"mediaType","digest","size"} plus annotations/platform from d->json. */
json_t *descriptor_json(const struct descriptor *d);

bool media_type_is_index(const char *mt);
bool media_type_is_manifest(const char *mt);
bool media_type_is_layer(const char *mt);

struct manifest {
	struct descriptor config;
	struct descriptor *layers;
	size_t nlayers;
};
/* Parse an image manifest (OCI or Docker schema2) of media type mt. */
int manifest_parse(const char *data, size_t len, const char *mt, struct manifest *m,
		   err_t *err);
void manifest_release(struct manifest *m);

struct image_index {
	struct descriptor *manifests;
	size_t n;
};
int index_parse(const char *data, size_t len, const char *mt, struct image_index *ix,
		err_t *err);
void index_release(struct image_index *ix);

/* "linux/arm64/v8", "linux/amd64", "arm64" (os defaults to linux). */
int platform_parse(const char *s, struct platform *p, err_t *err);
/* The host's platform (uname), normalised as containerd does. */
void platform_host(struct platform *p);
void platform_format(const struct platform *p, char *out, size_t size);
/* Pick the best manifest of ix for want (containerd's platforms.Only: exact
 * match first, then compatible variants, e.g. arm/v7 also runs v6 and v5;
 * arm64 with no variant is v8). Returns its index or -1 (E_NOT_FOUND). */
int platform_select(const struct image_index *ix, const struct platform *want, err_t *err);

/* The `rootfs.diff_ids` of an image config, which must list nlayers
 * digests (one per manifest layer): *ids is an array of nlayers strings the
 * caller frees. */
int image_config_diff_ids(const char *data, size_t len, size_t nlayers, char (**ids)[80],
			  err_t *err);
/* The chain IDs of a stack of layers (OCI image-spec config.md):
 * chain[0] = diff[0]; chain[i] = sha256(chain[i-1] + " " + diff[i]). */
void chain_ids(char (*diff_ids)[80], size_t n, char (*out)[80]);

#endif
