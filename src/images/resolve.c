#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "content/content.h"
#include "images/resolve.h"

char *image_read_blob(struct daemon *d, const char *ns, const char *digest, size_t max, size_t *len,
		      err_t *err)
{
	uint64_t size = 0;
	if (!d->content) {
		make_error(err, E_UNAVAILABLE, 0, "the content store is not available");
		return NULL;
	}
	int fd = content_open(d->content, ns, digest, &size, err);
	if (fd < 0)
		return NULL;
	if (size > max) {
		close(fd);
		make_error(err, E_INVALID_ARGUMENT, 0,
			   "`%s` is %llu bytes, over the %zu of a config", digest,
			   (unsigned long long)size, max);
		return NULL;
	}
	char *data = xmalloc(size + 1);
	size_t got = 0;
	while (got < size) {
		ssize_t n = pread(fd, data + got, size - got, (off_t)got);
		if (n <= 0) {
			make_error(err, E_INTERNAL, n < 0 ? errno : 0, "reading `%s`", digest);
			close(fd);
			free(data);
			return NULL;
		}
		got += (size_t)n;
	}
	close(fd);
	data[got] = '\0';
	*len = got;
	return data;
}

static int missing(err_t *err, const char *what)
{
	if ((*err)->kind == E_NOT_FOUND) {
		err_free(err);
		return make_error(
		    err, E_FAILED_PRECONDITION, 0,
		    "the image's %s is not in the content store: pull the image again", what);
	}
	return -1;
}

int image_resolve_manifest(struct daemon *d, const char *ns, const json_t *target,
			   const struct platform *p, struct manifest *man, err_t *err)
{
	const char *mt = json_get_string(target, "mediaType");
	const char *digest = json_get_string(target, "digest");
	if (!mt || !digest)
		return make_error(err, E_INTERNAL, 0, "image target without mediaType or digest");
	size_t len = 0;
	cleanup_free char *data = image_read_blob(d, ns, digest, IMAGE_BLOB_MAX, &len, err);
	if (!data)
		return missing(err, "manifest");
	if (media_type_is_index(mt)) {
		struct image_index ix;
		if (index_parse(data, len, mt, &ix, err) < 0)
			return -1;
		int pick = platform_select(&ix, p, err);
		if (pick < 0) {
			index_release(&ix);
			return -1;
		}
		char child[72];
		snprintf(child, sizeof(child), "%s", ix.manifests[pick].digest);
		cleanup_free char *cmt = xstrdup(ix.manifests[pick].media_type);
		index_release(&ix);
		free(data);
		data = image_read_blob(d, ns, child, IMAGE_BLOB_MAX, &len, err);
		if (!data)
			return missing(err, "manifest");
		return manifest_parse(data, len, cmt, man, err);
	}
	if (!media_type_is_manifest(mt))
		return make_error(err, E_FAILED_PRECONDITION, 0,
				  "the image's target is a `%s`, not a manifest or an index", mt);
	return manifest_parse(data, len, mt, man, err);
}

int image_resolve(struct daemon *d, const char *ns, const json_t *image, struct image_resolved *out,
		  err_t *err)
{
	memset(out, 0, sizeof(*out));
	struct platform host;
	platform_host(&host);
	const char *name = json_get_string(image, "name");
	if (image_resolve_manifest(d, ns, json_object_get(image, "target"), &host, &out->manifest,
				   err) < 0) {
		memset(&out->manifest, 0, sizeof(out->manifest));
		return error_wrap(err, "image `%s`", name ? name : "?");
	}
	size_t len = 0;
	cleanup_free char *cfg =
	    image_read_blob(d, ns, out->manifest.config.digest, IMAGE_BLOB_MAX, &len, err);
	if (!cfg) {
		missing(err, "config");
		return error_wrap(err, "image `%s`", name ? name : "?");
	}
	json_error_t jerr;
	out->config = json_loadb(cfg, len, 0, &jerr);
	if (!json_is_object(out->config))
		return make_error(err, E_INVALID_ARGUMENT, 0, "image `%s`: config `%s`: %s",
				  name ? name : "?", out->manifest.config.digest,
				  out->config ? "not an object" : jerr.text);
	size_t n = out->manifest.nlayers;
	if (n == 0)
		return 0;
	char(*diff)[80] = NULL;
	if (image_config_diff_ids(cfg, len, n, &diff, err) < 0)
		return error_wrap(err, "image `%s`", name ? name : "?");
	char(*chain)[80] = xcalloc(n, sizeof(*chain));
	chain_ids(diff, n, chain);
	snprintf(out->chain_id, sizeof(out->chain_id), "%s", chain[n - 1]);
	free(chain);
	free(diff);
	return 0;
}

void image_resolved_release(struct image_resolved *r)
{
	manifest_release(&r->manifest);
	json_decref(r->config);
	memset(r, 0, sizeof(*r));
}
