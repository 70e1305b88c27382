#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "cli/table.h"
#include "core/util.h"

struct table {
	size_t ncols;
	size_t nrows; /* the header is row 0 */
	size_t alloc;
	char **cells; /* nrows * ncols */
};

/* Display width: UTF-8 code points (continuation bytes do not count). */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void add_row(struct table *t, const char *const *cells)
{
	ALLOC_GROW(t->cells, (t->nrows + 1) * t->ncols, t->alloc);
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = xstrdup(cells[i] ? cells[i] : "");
	t->nrows++;
}

struct table *table_new(const char *header, ...)
{
	struct table *t = xzalloc(sizeof(*t));
	va_list ap;
	va_start(ap, header);
	for (const char *h = header; h; h = va_arg(ap, const char *))
		t->ncols++;
	va_end(ap);

	const char **row = xcalloc(t->ncols, sizeof(*row));
	va_start(ap, header);
	for (size_t i = 0; i < t->ncols; i++)
		row[i] = i == 0 ? header : va_arg(ap, const char *);
	va_end(ap);
	add_row(t, row);
	free(row);
	return t;
}

void table_addv(struct table *t, const char *const *cells)
{
	add_row(t, cells);
}

void table_add(struct table *t, ...)
{
	const char **row = xcalloc(t->ncols, sizeof(*row));
	va_list ap;
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++)
		row[i] = va_arg(ap, const char *);
	va_end(ap);
	add_row(t, row);
	free(row);
}

size_t table_rows(const struct table *t)
{
	return t->nrows - 1;
}

void table_print(const struct table *t, FILE *out)
{
	size_t *w = xcalloc(t->ncols, sizeof(*w));
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t cw = width(t->cells[r * t->ncols + c]);
			if (cw > w[c])
				w[c] = cw;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		char **row = t->cells + r * t->ncols;
		/* stop at the last non-empty cell: no trailing blanks */
		size_t n = t->ncols;
		while (n > 1 && !*row[n - 1])
			n--;
		for (size_t c = 0; c < n; c++) {
			const char *cell = row[c];
			fputs(cell, out);
			if (c + 1 < n)
				fprintf(out, "%*s", (int)(w[c] - width(cell) + 2), "");
		}
		fputc('\n', out);
	}
	free(w);
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
