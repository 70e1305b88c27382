/* Unit tests for images/oci.c: descriptors, manifests, indexes, platforms. */
#include "config.h"

#include <string.h>

#include "images/oci.h"
#include "tap.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static int parse_m(const char *text, const char *mt, struct manifest *m, err_t *err)
{
	return manifest_parse(text, strlen(text), mt, m, err);
}

static const char *plat(const char *s)
{
	static char out[80];
	struct platform p;
	err_t err = NULL;
	if (platform_parse(s, &p, &err) < 0) {
		err_free(&err);
		return "ERR";
	}
	platform_format(&p, out, sizeof(out));
	return out;
}

int main(void)
{
	plan_lazy();
	err_t err = NULL;
	struct manifest m;

	const char *oci = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
			  "\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"digest\":\"" D1
			  "\",\"size\":100},"
			  "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
			  "\"digest\":\"" D2 "\",\"size\":2000},"
			  "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" D3
			  "\",\"size\":3000,\"annotations\":{\"a\":\"b\"}}]}";
	ok(parse_m(oci, MT_OCI_MANIFEST, &m, &err) == 0, "OCI manifest parses");
	is_int(m.nlayers, 2, "two layers");
	is_str(m.config.digest, D1, "config digest");
	is_int(m.layers[1].size, 3000, "layer size");
	ok(media_type_is_layer(m.layers[0].media_type), "gzip layer media type known");
	json_t *dj = descriptor_json(&m.layers[1]);
	ok(json_object_get(json_object_get(dj, "annotations"), "a") != NULL,
	   "descriptor_json keeps annotations");
	json_decref(dj);
	manifest_release(&m);

	ok(parse_m(oci, NULL, &m, &err) == 0, "no media type given: fine");
	manifest_release(&m);
	ok(parse_m(oci, MT_DOCKER_MANIFEST, &m, &err) < 0 && err->kind == E_INVALID_ARGUMENT,
	   "document media type contradicting its descriptor");
	err_free(&err);

	ok(parse_m("{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}", MT_DOCKER_SCHEMA1, &m,
		   &err) < 0 &&
		   err->kind == E_NOT_IMPLEMENTED && strstr(err->msg, "schema1"),
	   "schema1 is not implemented, said clearly");
	err_free(&err);
	ok(parse_m("[]", NULL, &m, &err) < 0 && err->kind == E_INVALID_ARGUMENT, "not an object");
	err_free(&err);
	ok(parse_m("{\"schemaVersion\":2}", NULL, &m, &err) < 0, "no config, no layers");
	err_free(&err);
	ok(parse_m("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"md5:00\","
		   "\"size\":1},\"layers\":[]}",
		   NULL, &m, &err) < 0 &&
		   err->kind == E_INVALID_ARGUMENT,
	   "bad digest in config");
	err_free(&err);
	ok(parse_m("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
		   "\",\"size\":-1},\"layers\":[]}",
		   NULL, &m, &err) < 0,
	   "negative size");
	err_free(&err);
	ok(parse_m("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
		   "\",\"size\":1},\"layers\":[{\"mediaType\":\"x\",\"digest\":\"" D2
		   "\"}]}",
		   NULL, &m, &err) < 0 &&
		   strstr(err->msg, "layer 0"),
	   "layer without size names the layer");
	err_free(&err);
	ok(parse_m("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
		   "\",\"size\":1},\"layers\":[],\"config\":{}}",
		   NULL, &m, &err) < 0,
	   "duplicate keys refused");
	err_free(&err);

	/* index */
	struct image_index ix;
	const char *idx =
		"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
		"{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10,"
		"\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
		"{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":10,"
		"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
		"{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":10,"
		"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}}]}";
	ok(index_parse(idx, strlen(idx), MT_OCI_INDEX, &ix, &err) == 0 && ix.n == 3, "index parses");
	struct platform p;
	platform_parse("linux/amd64", &p, &err);
	is_int(platform_select(&ix, &p, &err), 0, "amd64 picked");
	platform_parse("linux/arm64", &p, &err);
	is_int(platform_select(&ix, &p, &err), 1, "arm64 matches arm64/v8");
	platform_parse("linux/arm64/v8", &p, &err);
	is_int(platform_select(&ix, &p, &err), 1, "arm64/v8 matches");
	platform_parse("linux/arm/v7", &p, &err);
	is_int(platform_select(&ix, &p, &err), 2, "arm/v7 falls back to v6");
	platform_parse("linux/arm/v5", &p, &err);
	ok(platform_select(&ix, &p, &err) < 0 && err->kind == E_NOT_FOUND &&
		   strstr(err->msg, "linux/arm/v5"),
	   "arm/v5 cannot run v6: not found, naming the platform");
	err_free(&err);
	platform_parse("windows/amd64", &p, &err);
	ok(platform_select(&ix, &p, &err) < 0, "other os: not found");
	err_free(&err);
	index_release(&ix);
	ok(index_parse("{\"schemaVersion\":2,\"manifests\":{}}", 34, NULL, &ix, &err) < 0,
	   "manifests must be an array");
	err_free(&err);

	/* platforms */
	is_str(plat("linux/amd64"), "linux/amd64", "plain");
	is_str(plat("linux/x86_64"), "linux/amd64", "x86_64 normalised");
	is_str(plat("linux/aarch64"), "linux/arm64", "aarch64 normalised");
	is_str(plat("linux/arm64/v8"), "linux/arm64", "arm64/v8 is arm64");
	is_str(plat("linux/armhf"), "linux/arm/v7", "armhf is arm/v7");
	is_str(plat("linux/arm"), "linux/arm/v7", "arm defaults to v7");
	is_str(plat("arm64"), "linux/arm64", "arch alone means linux");
	is_str(plat("linux/arm/7"), "linux/arm/v7", "variant without v");
	is_str(plat("LINUX/AMD64"), "linux/amd64", "case folded");
	is_str(plat(""), "ERR", "empty refused");
	is_str(plat("linux/"), "ERR", "missing arch refused");
	is_str(plat("a/b/c/d"), "ERR", "too many parts refused");
	is_str(plat("linux/am d64"), "ERR", "space refused");
	struct platform host;
	platform_host(&host);
	ok(strcmp(host.os, "linux") == 0 && host.arch[0], "host platform known");
	/* image config diff_ids and chain IDs */
	{
		const char *A = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
		const char *B = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
		const char *C = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
		char cfg[512];
		snprintf(cfg, sizeof(cfg),
			 "{\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\","
			 "\"diff_ids\":[\"%s\",\"%s\",\"%s\"]}}", A, B, C);
		char(*ids)[80] = NULL;
		err_t e = NULL;
		ok(image_config_diff_ids(cfg, strlen(cfg), 3, &ids, &e) == 0, "diff_ids parsed");
		if (ids) {
			char chain[3][80];
			chain_ids(ids, 3, chain);
			is_str(chain[0], A, "chain id of the base layer is its diff id");
			is_str(chain[1],
			       "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c",
			       "chain id of layer 1");
			is_str(chain[2],
			       "sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588",
			       "chain id of layer 2");
			free(ids);
		}
		ok(image_config_diff_ids(cfg, strlen(cfg), 2, &ids, &e) < 0 && e &&
			   strstr(e->msg, "3 diff_ids for a manifest of 2"),
		   "diff_ids count must match the layers");
		err_free(&e);
		const char *bad = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"md5:x\"]}}";
		ok(image_config_diff_ids(bad, strlen(bad), 1, &ids, &e) < 0 && e, "bad diff id refused");
		err_free(&e);
		const char *none = "{\"config\":{}}";
		ok(image_config_diff_ids(none, strlen(none), 0, &ids, &e) < 0 && e, "missing rootfs refused");
		err_free(&e);
	}
	return done_testing();
}
