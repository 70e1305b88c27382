/*
 * table: the aligned, ctr-style tables the `berth` CLI prints.
 *
 *   struct table *t = table_new("NAME", "LABELS", NULL);
 *   table_add(t, "default", "");
 *   table_print(t, stdout);
 *   table_free(t);
 *
 * Every column but the last is padded to its widest cell (header included)
 * and followed by two spaces; the last column is never padded, and a row
 * ending in empty cells stops at its last non-empty one, so lines carry no
 * trailing blanks. Widths count UTF-8 code points, not bytes.
 * Cells are copied; NULL cells print as empty.
 */
#ifndef BERTH_CLI_TABLE_H
#define BERTH_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table;

/* The header cells, terminated by NULL; they fix the number of columns. */
struct table *table_new(const char *header, ...) __attribute__((sentinel));
/* Add a row of exactly as many cells as the header has. */
void table_add(struct table *t, ...);
/* Add a row from an array of cells (as many as the header has). */
void table_addv(struct table *t, const char *const *cells);
size_t table_rows(const struct table *t);
void table_print(const struct table *t, FILE *out);
void table_free(struct table *t);

#endif
