/*
 * fuzz-filter: core/filter.c. Each line of the input is one `?filter=`
 * expression (OR); what parses is matched against a few objects shaped
 * like the API's (labels with dots, numbers, null, nesting). A parse
 * failure must be invalid_argument with a message.
 */
#include "config.h"

#include "core/filter.h"
#include "fuzz.h"

static const char *const objects[] = {
    "{}",
    "{\"name\":\"docker.io/library/redis:latest\",\"labels\":{\"a.b\":\"c\","
    "\"com.example/tier\":\"db\",\"gpu\":\"\"},\"size\":42,\"ok\":true,\"n\":null}",
    "{\"id\":\"web-1\",\"labels\":{\"a\":{\"b\":\"x\"}},\"ratio\":1.5,\"list\":[1,2],"
    "\"topic\":\"/images/create\",\"namespace\":\"default\"}",
};

#define MAX_EXPRS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *objs[sizeof(objects) / sizeof(objects[0])];
	if (!objs[0])
		for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
			objs[i] = json_loads(objects[i], 0, NULL);

	char *exprs[MAX_EXPRS];
	size_t n = 0;
	const char *line;
	size_t len;
	while (n < MAX_EXPRS && fuzz_next_line(&data, &size, &line, &len))
		exprs[n++] = fuzz_cstr((const uint8_t *)line, len);

	struct filter *f = NULL;
	err_t err = NULL;
	if (filter_parse(&f, (const char *const *)exprs, n, &err) < 0) {
		FUZZ_ASSERT(!f && err && err->kind == E_INVALID_ARGUMENT && *err->msg,
			    "a refusal is invalid_argument with a message");
		err_free(&err);
	} else {
		FUZZ_ASSERT(f, "a parsed filter is not NULL");
		bool all = filter_matches_all(f);
		for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
			bool m = filter_match_json(f, objs[i]);
			FUZZ_ASSERT(!all || m, "a match-all filter refused object %zu", i);
		}
		filter_free(f);
	}
	for (size_t i = 0; i < n; i++)
		free(exprs[i]);
	return 0;
}
