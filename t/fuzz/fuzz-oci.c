/*
 * fuzz-oci: images/oci.c, the parsers of what a registry sends. The first
 * byte picks the parser (and the media type the descriptor claimed), the
 * rest is the document: an image manifest, an index, an image config's
 * diff_ids, a platform string, a lone descriptor. What parses is used as
 * pull uses it: descriptors re-encoded and parsed again, platforms picked
 * and formatted, chain IDs computed. With the first byte's top bit set the
 * document is an image config turned into a runtime spec (spec/generate.c),
 * which our own validator must accept, or a client's spec to validate.
 */
#include "config.h"

#include "fuzz.h"
#include "images/oci.h"
#include "spec/spec.h"

static const char *const media_types[] = {
    MT_OCI_MANIFEST,   MT_DOCKER_MANIFEST, MT_OCI_INDEX,  MT_DOCKER_LIST, NULL,
    MT_DOCKER_SCHEMA1, "application/json", MT_OCI_CONFIG,
};

static void check_refusal(err_t *err)
{
	FUZZ_ASSERT(*err &&
			((*err)->kind == E_INVALID_ARGUMENT || (*err)->kind == E_NOT_IMPLEMENTED ||
			 (*err)->kind == E_NOT_FOUND) &&
			*(*err)->msg,
		    "a refusal is invalid_argument (or not_implemented) with a message: %d",
		    *err ? (int)(*err)->kind : -1);
	err_free(err);
}

/* A parsed descriptor re-encodes to one that parses to the same thing. */
static void roundtrip(const struct descriptor *d)
{
	err_t err = NULL;
	cleanup_json json_t *j = descriptor_json(d);
	struct descriptor again;
	FUZZ_ASSERT(descriptor_parse(j, "again", &again, &err) == 0, "descriptor re-parse: %s",
		    err ? err->msg : "");
	FUZZ_ASSERT(strcmp(again.digest, d->digest) == 0 && again.size == d->size &&
			strcmp(again.media_type, d->media_type) == 0,
		    "descriptor `%s` changed on a round trip", d->digest);
	descriptor_release(&again);
}

static void manifest(const char *data, size_t len, const char *mt)
{
	struct manifest m;
	err_t err = NULL;
	if (manifest_parse(data, len, mt, &m, &err) < 0) {
		check_refusal(&err);
		return;
	}
	roundtrip(&m.config);
	for (size_t i = 0; i < m.nlayers; i++) {
		roundtrip(&m.layers[i]);
		(void)media_type_is_layer(m.layers[i].media_type);
	}
	manifest_release(&m);
}

static void index_(const char *data, size_t len, const char *mt)
{
	struct image_index ix;
	err_t err = NULL;
	if (index_parse(data, len, mt, &ix, &err) < 0) {
		check_refusal(&err);
		return;
	}
	static const char *const wants[] = {"linux/amd64", "linux/arm64", "linux/arm/v6",
					    "windows/amd64"};
	for (size_t i = 0; i < ix.n; i++)
		roundtrip(&ix.manifests[i]);
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		struct platform p;
		FUZZ_ASSERT(platform_parse(wants[i], &p, &err) == 0, "platform `%s`", wants[i]);
		int k = platform_select(&ix, &p, &err);
		if (k < 0)
			check_refusal(&err);
		else
			FUZZ_ASSERT((size_t)k < ix.n, "platform_select gave %d of %zu", k, ix.n);
	}
	index_release(&ix);
}

static void config(const char *data, size_t len, size_t nlayers)
{
	char(*ids)[80] = NULL;
	err_t err = NULL;
	if (image_config_diff_ids(data, len, nlayers, &ids, &err) < 0) {
		check_refusal(&err);
		return;
	}
	char(*chain)[80] = xcalloc(nlayers + 1, sizeof(*chain));
	chain_ids(ids, nlayers, chain);
	for (size_t i = 0; i < nlayers; i++)
		FUZZ_ASSERT(strncmp(chain[i], "sha256:", 7) == 0 && strlen(chain[i]) == 71,
			    "chain id %zu `%s`", i, chain[i]);
	free(chain);
	free(ids);
}

static void platform(const char *data, size_t len)
{
	cleanup_free char *s = fuzz_cstr((const uint8_t *)data, len);
	struct platform p;
	err_t err = NULL;
	if (platform_parse(s, &p, &err) < 0) {
		check_refusal(&err);
		return;
	}
	char out[96];
	platform_format(&p, out, sizeof(out));
	struct platform again;
	FUZZ_ASSERT(platform_parse(out, &again, &err) == 0, "formatted platform `%s` of `%s`: %s",
		    out, s, err ? err->msg : "");
	char out2[96];
	platform_format(&again, out2, sizeof(out2));
	FUZZ_ASSERT(strcmp(out, out2) == 0, "platform `%s` formats as `%s` then `%s`", s, out,
		    out2);
}

static void descriptor(const char *data, size_t len)
{
	cleanup_json json_t *j = json_loadb(data, len, 0, NULL);
	if (!j)
		return;
	struct descriptor d;
	err_t err = NULL;
	if (descriptor_parse(j, "descriptor", &d, &err) < 0) {
		check_refusal(&err);
		return;
	}
	roundtrip(&d);
	descriptor_release(&d);
}

/* A container from an image with this config, as POST /containers builds
 * it: what comes out passes spec_validate(). */
static void image_spec(const char *data, size_t len)
{
	cleanup_json json_t *cfg = json_loadb(data, len, 0, NULL);
	if (!cfg)
		return;
	struct spec_opts o = {.id = "c1", .ns = "default", .image_config = cfg};
	json_t *spec = NULL;
	err_t err = NULL;
	if (spec_generate(&o, &spec, &err) < 0) {
		check_refusal(&err);
		return;
	}
	FUZZ_ASSERT(spec_validate(spec, &err) == 0, "a generated spec is refused: %s",
		    err ? err->msg : "");
	json_decref(spec);
}

static void client_spec(const char *data, size_t len)
{
	cleanup_json json_t *spec = json_loadb(data, len, 0, NULL);
	err_t err = NULL;
	if (spec && spec_validate(spec, &err) < 0)
		check_refusal(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	const char *doc = (const char *)data + 1;
	size_t len = size - 1;
	const char *mt = media_types[(sel >> 3) % (sizeof(media_types) / sizeof(media_types[0]))];
	if (sel & 0x80) {
		if (sel & 1)
			client_spec(doc, len);
		else
			image_spec(doc, len);
		return 0;
	}
	switch (sel % 5) {
	case 0:
		manifest(doc, len, mt);
		break;
	case 1:
		index_(doc, len, mt);
		break;
	case 2:
		config(doc, len, (sel >> 3) % 9);
		break;
	case 3:
		platform(doc, len);
		break;
	case 4:
		descriptor(doc, len);
		break;
	}
	return 0;
}
