# t/lib/runtime.sh: for scripts that run containers. Sourced after
# t/lib/registry.sh; skips the whole script unless the registry fixtures
# (the busybox test image) and runc are there. runc lives in /usr/sbin,
# which a user's PATH may lack.
# shellcheck shell=sh

test_have_prereq REGISTRY || {
	skip_all='needs docker-registry, skopeo, umoci, busybox-static (see t/lib/registry.sh)'
	test_done
}
command -v runc >/dev/null || PATH=$PATH:/usr/sbin
command -v runc >/dev/null || {
	skip_all='needs runc (contrib/install-deps.sh installs it)'
	test_done
}
