/*
 * fuzz: what the libFuzzer targets of t/fuzz share. Each target is one .c
 * defining LLVMFuzzerTestOneInput(); it is linked twice: with libFuzzer
 * (`make fuzz`, clang) and with replay.c (every build: a TAP test that runs
 * each file of its corpus once). A target checks its own invariants with
 * FUZZ_ASSERT, which aborts: a finding, as a sanitizer report is.
 */
#ifndef BERTH_T_FUZZ_H
#define BERTH_T_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: fuzz invariant `%s` broken: ", __FILE__, __LINE__, \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* data[0..size) as a NUL-terminated string (embedded NULs stay, so C
 * string functions see a prefix: as a parser reading a C string would). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Split off the next line of *data (without its '\n'): points into the
 * input; *len its length. Returns 0 when nothing is left. */
static inline int fuzz_next_line(const uint8_t **data, size_t *size, const char **line, size_t *len)
{
	if (!*size)
		return 0;
	const uint8_t *nl = memchr(*data, '\n', *size);
	size_t n = nl ? (size_t)(nl - *data) : *size;
	*line = (const char *)*data;
	*len = n;
	*data += nl ? n + 1 : n;
	*size -= nl ? n + 1 : n;
	return 1;
}

#endif
