#include "config.h"

#include <string.h>

#include "diff/internal.h"

const char *diff_path_clean(char *path)
{
	if (path[0] == '\0')
		return "is empty";
	if (path[0] == '/')
		return "is an absolute path";
	char *out = path;
	const char *p = path;
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return "contains `..`";
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (out != path)
				*out++ = '/';
			memmove(out, p, len);
			out += len;
		}
		p = *end ? end + 1 : end;
	}
	*out = '\0';
	return NULL;
}

enum whiteout_kind diff_whiteout_parse(const char *clean, size_t *dirlen, const char **name)
{
	const char *slash = strrchr(clean, '/');
	const char *base = slash ? slash + 1 : clean;
	*dirlen = slash ? (size_t)(slash - clean) : 0;
	*name = NULL;
	if (strncmp(base, ".wh.", 4) != 0)
		return WHITEOUT_NONE;
	if (strcmp(base, ".wh..wh..opq") == 0)
		return WHITEOUT_OPAQUE;
	if (strncmp(base, ".wh..wh.", 8) == 0)
		return WHITEOUT_META;
	*name = base + 4;
	if (!**name || strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0)
		return WHITEOUT_BAD;
	return WHITEOUT_FILE;
}

static uint64_t hash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static size_t find(const struct pathset *s, const char *path, size_t len)
{
	size_t i = (size_t)hash(path, len) & (s->cap - 1);
	while (s->slots[i] && !(strncmp(s->slots[i], path, len) == 0 && s->slots[i][len] == '\0'))
		i = (i + 1) & (s->cap - 1);
	return i;
}

bool pathset_has(const struct pathset *s, const char *path, size_t len)
{
	return s->cap && s->slots[find(s, path, len)];
}

static bool add(struct pathset *s, const char *path, size_t len)
{
	if ((s->n + 1) * 2 > s->cap) {
		struct pathset bigger = { xcalloc(s->cap ? s->cap * 2 : 1024, sizeof(char *)), 0,
					  s->cap ? s->cap * 2 : 1024 };
		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i])
				bigger.slots[find(&bigger, s->slots[i], strlen(s->slots[i]))] =
				    s->slots[i];
		bigger.n = s->n;
		free(s->slots);
		*s = bigger;
	}
	size_t i = find(s, path, len);
	if (s->slots[i])
		return false;
	s->slots[i] = xstrndup(path, len);
	s->n++;
	return true;
}

void pathset_add_with_parents(struct pathset *s, const char *path)
{
	size_t len = strlen(path);
	/* the parents of a known path are known: stop at the first one */
	while (len > 0 && add(s, path, len)) {
		while (len > 0 && path[len - 1] != '/')
			len--;
		if (len > 0)
			len--;
	}
}

void pathset_release(struct pathset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slots[i]);
	free(s->slots);
	*s = (struct pathset){ NULL, 0, 0 };
}
