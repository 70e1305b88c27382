#include "config.h"

#include <string.h>
#include <sys/utsname.h>

#include "core/digest.h"
#include "images/oci.h"

bool media_type_is_index(const char *mt)
{
	return mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0);
}

bool media_type_is_manifest(const char *mt)
{
	return mt && (strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0);
}

bool media_type_is_layer(const char *mt)
{
	static const char *const known[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
		NULL,
	};
	for (const char *const *k = known; mt && *k; k++)
		if (strcmp(mt, *k) == 0)
			return true;
	return false;
}

/* Copy a short string field into a fixed buffer, refusing what does not fit. */
static int copy_field(char *dst, size_t size, const char *src, const char *what, const char *field,
		      err_t *err)
{
	size_t n = strlen(src);
	if (n == 0 || n >= size)
		return make_error(err, E_INVALID_ARGUMENT, 0, "%s: bad `%s` `%.40s`", what, field,
				  src);
	for (size_t i = 0; i < n; i++)
		if (!((src[i] >= 'a' && src[i] <= 'z') || (src[i] >= '0' && src[i] <= '9') ||
		      (src[i] >= 'A' && src[i] <= 'Z') || src[i] == '.' || src[i] == '_' ||
		      src[i] == '-'))
			return make_error(err, E_INVALID_ARGUMENT, 0, "%s: bad `%s` `%.40s`", what,
					  field, src);
	memcpy(dst, src, n + 1);
	return 0;
}

static void normalize(struct platform *p)
{
	for (char *c = p->os; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	for (char *c = p->arch; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	const char *a = p->arch, *v = p->variant;
	if (!strcmp(a, "x86_64") || !strcmp(a, "x86-64") || !strcmp(a, "amd64")) {
		strcpy(p->arch, "amd64");
		if (!strcmp(v, "v1"))
			p->variant[0] = '\0';
	} else if (!strcmp(a, "i386")) {
		strcpy(p->arch, "386");
		p->variant[0] = '\0';
	} else if (!strcmp(a, "aarch64") || !strcmp(a, "arm64")) {
		strcpy(p->arch, "arm64");
		if (!strcmp(v, "8") || !strcmp(v, "v8") || !strcmp(v, "v8.0"))
			p->variant[0] = '\0';
		else if (!strcmp(v, "9") || !strcmp(v, "9.0") || !strcmp(v, "v9.0"))
			strcpy(p->variant, "v9");
	} else if (!strcmp(a, "armhf")) {
		strcpy(p->arch, "arm");
		strcpy(p->variant, "v7");
	} else if (!strcmp(a, "armel")) {
		strcpy(p->arch, "arm");
		strcpy(p->variant, "v6");
	} else if (!strcmp(a, "arm")) {
		if (!*v || !strcmp(v, "7"))
			strcpy(p->variant, "v7");
		else if (!strcmp(v, "5") || !strcmp(v, "6") || !strcmp(v, "8")) {
			char t[4] = { 'v', v[0], '\0', '\0' };
			strcpy(p->variant, t);
		}
	}
}

int platform_parse(const char *s, struct platform *p, err_t *err)
{
	memset(p, 0, sizeof(*p));
	char parts[3][32];
	int n = 0;
	const char *c = s;
	while (n < 3) {
		size_t len = strcspn(c, "/");
		if (len == 0 || len >= sizeof(parts[0]))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "invalid platform `%.64s`: expected os/arch[/variant]", s);
		memcpy(parts[n], c, len);
		parts[n++][len] = '\0';
		c += len;
		if (*c != '/')
			break;
		c++;
	}
	if (*c)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "invalid platform `%.64s`: expected os/arch[/variant]", s);
	const char *what = "platform";
	if (n == 1) {
		/* "arm64" alone is an architecture on linux; "linux" alone an os */
		if (strcmp(parts[0], "linux") == 0 || strcmp(parts[0], "windows") == 0) {
			struct platform host;
			platform_host(&host);
			strcpy(p->os, parts[0]);
			strcpy(p->arch, host.arch);
			strcpy(p->variant, host.variant);
			return 0;
		}
		strcpy(p->os, "linux");
		if (copy_field(p->arch, sizeof(p->arch), parts[0], what, "architecture", err) < 0)
			return -1;
	} else {
		if (copy_field(p->os, sizeof(p->os), parts[0], what, "os", err) < 0 ||
		    copy_field(p->arch, sizeof(p->arch), parts[1], what, "architecture", err) < 0 ||
		    (n == 3 &&
		     copy_field(p->variant, sizeof(p->variant), parts[2], what, "variant", err) < 0))
			return -1;
	}
	normalize(p);
	return 0;
}

void platform_host(struct platform *p)
{
	memset(p, 0, sizeof(*p));
	strcpy(p->os, "linux");
	struct utsname u;
	if (uname(&u) < 0) {
		strcpy(p->arch, "amd64");
		return;
	}
	if (strncmp(u.machine, "armv", 4) == 0) {
		strcpy(p->arch, "arm");
		snprintf(p->variant, sizeof(p->variant), "v%c", u.machine[4]);
	} else {
		snprintf(p->arch, sizeof(p->arch), "%.31s", u.machine);
	}
	normalize(p);
}

void platform_format(const struct platform *p, char *out, size_t size)
{
	snprintf(out, size, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
}

int descriptor_parse(json_t *j, const char *what, struct descriptor *d, err_t *err)
{
	static const struct json_field fields[] = {
		{ "mediaType", JF_STRING, true },
		{ "digest", JF_STRING, true },
		{ "size", JF_UINT, true },
		{ "annotations", JF_LABELS, false },
		{ "platform", JF_OBJECT, false },
		{ "urls", JF_ARRAY, false },
		{ "data", JF_STRING, false },
		{ "artifactType", JF_STRING, false },
		{ NULL },
	};
	if (json_check_object(j, what, fields, err) < 0)
		return -1;
	const char *mt = json_get_string(j, "mediaType");
	const char *dg = json_get_string(j, "digest");
	if (strlen(mt) > 255)
		return make_error(err, E_INVALID_ARGUMENT, 0, "%s: `mediaType` is too long", what);
	if (digest_validate(dg, err) < 0)
		return error_wrap(err, "%s", what);
	struct platform plat = { 0 };
	json_t *pj = json_object_get(j, "platform");
	bool has_platform = pj && json_is_object(pj);
	if (has_platform) {
		const char *os = json_get_string(pj, "os");
		const char *arch = json_get_string(pj, "architecture");
		const char *variant = json_get_string(pj, "variant");
		if (!os || !arch)
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "%s: platform needs `os` and `architecture`", what);
		if (copy_field(plat.os, sizeof(plat.os), os, what, "os", err) < 0 ||
		    copy_field(plat.arch, sizeof(plat.arch), arch, what, "architecture", err) < 0 ||
		    (variant && *variant &&
		     copy_field(plat.variant, sizeof(plat.variant), variant, what, "variant", err) <
			     0))
			return -1;
		normalize(&plat);
	}
	if (!d)
		return 0;
	memset(d, 0, sizeof(*d));
	d->media_type = xstrdup(mt);
	snprintf(d->digest, sizeof(d->digest), "%s", dg);
	d->size = (uint64_t)json_integer_value(json_object_get(j, "size"));
	d->has_platform = has_platform;
	d->platform = plat;
	d->json = json_incref(j);
	return 0;
}

void descriptor_release(struct descriptor *d)
{
	if (!d)
		return;
	free(d->media_type);
	json_decref(d->json);
	memset(d, 0, sizeof(*d));
}

json_t *descriptor_json(const struct descriptor *d)
{
	json_t *o = json_pack("{s:s,s:s,s:I}", "mediaType", d->media_type, "digest", d->digest,
			      "size", (json_int_t)d->size);
	json_t *a = d->json ? json_object_get(d->json, "annotations") : NULL;
	if (a && json_is_object(a))
		json_object_set(o, "annotations", a);
	json_t *p = d->json ? json_object_get(d->json, "platform") : NULL;
	if (p && json_is_object(p))
		json_object_set(o, "platform", p);
	return o;
}

/* Parse data as a JSON object and check its media type against mt. */
static json_t *load(const char *data, size_t len, const char *mt, const char *what, err_t *err)
{
	json_error_t je;
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_object(j)) {
		make_error(err, E_INVALID_ARGUMENT, 0, "%s is not a JSON object%s%s", what,
			   j ? "" : ": ", j ? "" : je.text);
		json_decref(j);
		return NULL;
	}
	json_t *sv = json_object_get(j, "schemaVersion");
	if (sv && json_is_integer(sv) && json_integer_value(sv) == 1) {
		json_decref(j);
		make_error(err, E_NOT_IMPLEMENTED, 0,
			   "Docker schema1 manifests are not supported: push the image again "
			   "with a current client");
		return NULL;
	}
	if (!sv || !json_is_integer(sv) || json_integer_value(sv) != 2) {
		json_decref(j);
		make_error(err, E_INVALID_ARGUMENT, 0, "%s: `schemaVersion` must be 2", what);
		return NULL;
	}
	const char *inner = json_get_string(j, "mediaType");
	if (inner && mt && strcmp(inner, mt) != 0) {
		make_error(err, E_INVALID_ARGUMENT, 0,
			   "%s: media type `%s` in the document, `%s` in its descriptor", what,
			   inner, mt);
		json_decref(j);
		return NULL;
	}
	return j;
}

int manifest_parse(const char *data, size_t len, const char *mt, struct manifest *m,
		   err_t *err)
{
	memset(m, 0, sizeof(*m));
	cleanup_json json_t *j = load(data, len, mt, "manifest", err);
	if (!j)
		return -1;
	json_t *cfg = json_object_get(j, "config");
	json_t *layers = json_object_get(j, "layers");
	if (!cfg || !json_is_array(layers))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "manifest needs a `config` object and a `layers` array");
	if (json_array_size(layers) > 1024)
		return make_error(err, E_INVALID_ARGUMENT, 0, "manifest has more than 1024 layers");
	if (descriptor_parse(cfg, "manifest config", &m->config, err) < 0)
		return -1;
	m->layers = xcalloc(json_array_size(layers) + 1, sizeof(*m->layers));
	size_t i;
	json_t *l;
	json_array_foreach (layers, i, l) {
		char what[48];
		snprintf(what, sizeof(what), "manifest layer %zu", i);
		if (descriptor_parse(l, what, &m->layers[i], err) < 0) {
			manifest_release(m);
			return -1;
		}
		m->nlayers++;
	}
	return 0;
}

void manifest_release(struct manifest *m)
{
	descriptor_release(&m->config);
	for (size_t i = 0; i < m->nlayers; i++)
		descriptor_release(&m->layers[i]);
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

int index_parse(const char *data, size_t len, const char *mt, struct image_index *ix,
		err_t *err)
{
	memset(ix, 0, sizeof(*ix));
	cleanup_json json_t *j = load(data, len, mt, "index", err);
	if (!j)
		return -1;
	json_t *ms = json_object_get(j, "manifests");
	if (!json_is_array(ms))
		return make_error(err, E_INVALID_ARGUMENT, 0, "index needs a `manifests` array");
	if (json_array_size(ms) > 4096)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "index has more than 4096 manifests");
	ix->manifests = xcalloc(json_array_size(ms) + 1, sizeof(*ix->manifests));
	size_t i;
	json_t *e;
	json_array_foreach (ms, i, e) {
		char what[48];
		snprintf(what, sizeof(what), "index manifest %zu", i);
		if (descriptor_parse(e, what, &ix->manifests[i], err) < 0) {
			index_release(ix);
			return -1;
		}
		ix->n++;
	}
	return 0;
}

void index_release(struct image_index *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		descriptor_release(&ix->manifests[i]);
	free(ix->manifests);
	memset(ix, 0, sizeof(*ix));
}

/* Variants a platform can run, best first: arm/v7 runs v7, v6, v5. */
static int variant_rank(const struct platform *want, const struct platform *have)
{
	if (strcmp(want->os, have->os) != 0 || strcmp(want->arch, have->arch) != 0)
		return -1;
	if (strcmp(want->variant, have->variant) == 0)
		return 0;
	/* lower versions of the same family: v7 → v6 → v5; amd64 v3 → v2 → v1("") */
	int w = want->variant[0] == 'v' ? atoi(want->variant + 1) : 0;
	int h = have->variant[0] == 'v' ? atoi(have->variant + 1) : 0;
	if (!strcmp(want->arch, "amd64") && !want->variant[0])
		w = 1;
	if (!strcmp(have->arch, "amd64") && !have->variant[0])
		h = 1;
	if (!strcmp(want->arch, "arm64") && !want->variant[0])
		w = 8;
	if (!strcmp(have->arch, "arm64") && !have->variant[0])
		h = 8;
	if (w > 0 && h > 0 && h < w)
		return w - h;
	return -1;
}

int platform_select(const struct image_index *ix, const struct platform *want, err_t *err)
{
	int best = -1, best_rank = 1 << 30;
	for (size_t i = 0; i < ix->n; i++) {
		const struct descriptor *d = &ix->manifests[i];
		if (!d->has_platform || !media_type_is_manifest(d->media_type))
			continue;
		int r = variant_rank(want, &d->platform);
		if (r >= 0 && r < best_rank) {
			best = (int)i;
			best_rank = r;
		}
	}
	if (best < 0) {
		char p[80];
		platform_format(want, p, sizeof(p));
		make_error(err, E_NOT_FOUND, 0, "no manifest for platform `%s` in the index", p);
	}
	return best;
}

/* ---- image config ------------------------------------------------------- */

int image_config_diff_ids(const char *data, size_t len, size_t nlayers, char (**ids)[80],
			  err_t *err)
{
	*ids = NULL;
	json_error_t je;
	cleanup_json json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_object(j))
		return make_error(err, E_INVALID_ARGUMENT, 0, "image config is not a JSON object%s%s",
				  j ? "" : ": ", j ? "" : je.text);
	json_t *rootfs = json_object_get(j, "rootfs");
	json_t *diff_ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_object(rootfs) || !json_is_array(diff_ids))
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "image config needs `rootfs.diff_ids`, an array");
	const char *type = json_get_string(rootfs, "type");
	if (type && strcmp(type, "layers") != 0)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "image config: `rootfs.type` is `%.32s`, not `layers`", type);
	if (json_array_size(diff_ids) != nlayers)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "image config lists %zu diff_ids for a manifest of %zu layers",
				  json_array_size(diff_ids), nlayers);
	char(*out)[80] = xcalloc(nlayers + 1, sizeof(*out));
	size_t i;
	json_t *v;
	json_array_foreach (diff_ids, i, v) {
		err_t e = NULL;
		if (!json_is_string(v) || digest_validate(json_string_value(v), &e) < 0) {
			free(out);
			make_error(err, E_INVALID_ARGUMENT, 0, "image config: diff_ids[%zu]: %s", i,
				   e ? e->msg : "not a string");
			err_free(&e);
			return -1;
		}
		snprintf(out[i], sizeof(out[i]), "%s", json_string_value(v));
	}
	*ids = out;
	return 0;
}

void chain_ids(char (*diff_ids)[80], size_t n, char (*out)[80])
{
	for (size_t i = 0; i < n; i++) {
		if (i == 0) {
			snprintf(out[0], sizeof(out[0]), "%s", diff_ids[0]);
			continue;
		}
		char buf[2 * 80 + 2];
		int len = snprintf(buf, sizeof(buf), "%s %s", out[i - 1], diff_ids[i]);
		char d[DIGEST_STRLEN + 1];
		digest_buffer(buf, (size_t)len, d);
		snprintf(out[i], sizeof(out[i]), "%s", d);
	}
}
