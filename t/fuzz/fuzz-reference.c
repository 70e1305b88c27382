/*
 * fuzz-reference: remotes/reference.c on any string. What it accepts must
 * normalise to a fixed point: the canonical and the familiar forms parse
 * again, to the same reference.
 */
#include "config.h"

#include "fuzz.h"
#include "remotes/reference.h"

static void same(const struct reference *a, const struct reference *b, const char *what)
{
	cleanup_free char *sa = reference_string(a);
	cleanup_free char *sb = reference_string(b);
	FUZZ_ASSERT(strcmp(sa, sb) == 0, "%s: `%s` reparsed as `%s`", what, sa, sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup_free char *s = fuzz_cstr(data, size);
	struct reference r = {0};
	err_t err = NULL;
	if (reference_parse(s, &r, &err) < 0) {
		FUZZ_ASSERT(err && err->kind == E_INVALID_ARGUMENT && err->msg && *err->msg,
			    "a refusal is invalid_argument with a message");
		err_free(&err);
		reference_release(&r);
		return 0;
	}
	FUZZ_ASSERT(r.path && *r.path && r.domain, "a parsed reference has a path");
	FUZZ_ASSERT(r.tag || r.digest, "normalised: a tag or a digest");

	cleanup_free char *canon = reference_string(&r);
	cleanup_free char *name = reference_name(&r);
	cleanup_free char *fam = reference_familiar(&r);
	cleanup_free char *famname = reference_familiar_name(&r);
	FUZZ_ASSERT(strncmp(canon, name, strlen(name)) == 0, "`%s` starts with its name `%s`",
		    canon, name);
	FUZZ_ASSERT(strncmp(fam, famname, strlen(famname)) == 0, "`%s` starts with its name `%s`",
		    fam, famname);

	struct reference again = {0};
	FUZZ_ASSERT(reference_parse(canon, &again, &err) == 0, "canonical `%s` of `%s`: %s", canon,
		    s, err ? err->msg : "");
	same(&r, &again, "canonical form");
	reference_release(&again);

	FUZZ_ASSERT(reference_parse(fam, &again, &err) == 0, "familiar `%s` of `%s`: %s", fam, s,
		    err ? err->msg : "");
	same(&r, &again, "familiar form");
	reference_release(&again);
	reference_release(&r);
	return 0;
}
