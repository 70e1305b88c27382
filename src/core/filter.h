/*
 * filter: containerd's filter syntax, shared by every list endpoint
 * (`?filter=` query parameters) and by the event stream.
 *
 *   name==redis,labels."com.example/tier"==db      both selectors must match (AND)
 *   name~=/^web-[0-9]+$/                           regular expression
 *   labels.gpu                                     the field is present
 *
 * Several expressions (one per `filter` parameter) are ORed. The grammar is
 * containerd's (filters/parser.go):
 *
 *   selectors := selector ("," selector)*
 *   selector  := fieldpath [operator value]
 *   fieldpath := field ("." field)*
 *   field     := [A-Za-z0-9_]+ | quoted
 *   operator  := "==" | "!=" | "~="
 *   value     := quoted | [^\s,]+        (after "~=" also /regex/ or |regex|)
 *   quoted    := a Go string literal in "...", or in /.../ or |...|
 *
 * Whitespace is allowed around every token. An empty expression matches
 * everything.
 *
 * Semantics, as containerd's selector.Match: a field is present when it
 * exists and is not null; its text is the string itself or the JSON text of
 * a number or boolean ("42", "1.5", "true"), and the empty string for
 * missing, null, objects and arrays. `==` needs a present scalar field with
 * that text; `!=` is its text differing from the value (so a missing field
 * matches `!=x`, not `!=""`); `~=` is an unanchored POSIX extended regular
 * expression search in the text, compiled once at parse time.
 *
 * The caller owns the struct filter from filter_parse() and frees it with
 * filter_free(); it keeps no pointer into the expressions or into matched
 * objects. Nothing here blocks or does I/O.
 */
#ifndef BERTH_CORE_FILTER_H
#define BERTH_CORE_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/err.h"

/* Longest accepted expression, and most selectors over all expressions. */
#define FILTER_MAX_EXPR_LEN 4096
#define FILTER_MAX_SELECTORS 64

/* An OR of AND-lists of selectors (opaque). */
struct filter;

/* Parse n filter expressions (each one `?filter=` query parameter); the
 * result matches an object when ANY of the expressions matches (OR); within
 * one expression, comma-separated selectors must ALL match (AND). n == 0
 * matches everything. Syntax errors, bad regular expressions and the limits
 * above are E_INVALID_ARGUMENT naming the expression and the position, e.g.
 * "filter `name==`: expected a value at position 6". On success *out is
 * never NULL. */
int filter_parse(struct filter **out, const char *const *exprs, size_t n, err_t *err);

/* Whether obj matches f; a field path `a.b."c.d"` walks obj["a"]["b"]["c.d"].
 * Where a component is missing, the rest of the path joined with "." is
 * tried as one key, as containerd's label adaptor: `labels.a.b` also finds
 * obj["labels"]["a.b"]. A NULL filter matches everything. */
bool filter_match_json(const struct filter *f, const json_t *obj);

/* Whether f matches everything (no expression, or an empty one): lets a
 * list endpoint skip building JSON for matching. */
bool filter_matches_all(const struct filter *f);

void filter_free(struct filter *f);

#endif
