#!/bin/sh
test_description='names from the API never leave their directories: ids, keys, refs and digests that try ../, slashes, NUL, odd bytes or length are refused with 400 and nothing appears outside the root'
. "$(dirname "$0")/lib/test-lib.sh"

NS=/v1/namespaces/default

# every hostile form of a path component, URL-encoded as a client would
HOSTILE='.. ..%2F..%2Fetc %2E%2E%2Fx a%2Fb %2Fabs x%00y .hidden -dash %0Anl sp%20ace'
long=$(printf "%0300d" 0)

# Ingest refs may hold slashes, dots and dashes (containerd's refs do);
# only `..` components, control bytes and length are refused there, and
# their directory is a hash of the ref anyway.
# refused NAME-TEMPLATE...: each method+path (with @ replaced by every hostile
# name) answers 400 or 404, never 2xx
refused () {
	method=$1 path=$2 body=${3:-}
	for h in ${HOSTILE_SET:-$HOSTILE} $long
	do
		p=$(echo "$path" | sed "s|@|$h|") &&
		if test -n "$body"
		then
			b=$(echo "$body" | sed "s|@|$(printf %b "$(echo "$h" | sed 's/%/\\x/g')" | sed 's/[\\"]/\\\\&/g;s/\x00//g')|")
			api "$method" "$p" -d "$b"
		else
			api "$method" "$p"
		fi &&
		case "$(cat status)" in
		400|404|405) ;;
		*) echo "$method $p ${b:-} -> $(cat status): $(cat out)"; return 1 ;;
		esac || return 1
	done
}

test_expect_success 'start berthd; a marker file older than anything the test makes' '
	start_berthd &&
	touch marker
'

test_expect_success 'namespaces' '
	refused PUT "/v1/namespaces/@" &&
	refused GET "/v1/namespaces/@/containers"
'

test_expect_success 'containers and tasks (ids in the path and in the body)' '
	refused POST "$NS/containers" "{\"id\":\"@\",\"spec\":{}}" &&
	refused GET "$NS/containers/@" &&
	refused POST "$NS/containers/@/task" &&
	refused GET "$NS/containers/@/task/logs" &&
	refused POST "$NS/containers/@/task/exec" "{\"exec_id\":\"x\",\"process\":{\"args\":[\"true\"]}}"
'

test_expect_success 'leases, snapshots, ingests, content digests, images' '
	refused POST "$NS/leases" "{\"id\":\"@\"}" &&
	refused DELETE "$NS/leases/@" &&
	refused POST "$NS/snapshots/overlayfs/snapshots" "{\"key\":\"@\"}" &&
	refused GET "$NS/snapshots/overlayfs/snapshots/@" &&
	refused GET "$NS/snapshots/@/snapshots" &&
	refused GET "$NS/content/sha256:@" &&
	refused GET "$NS/content/@/data" &&
	HOSTILE_SET=".. ..%2F..%2Fetc %2E%2E%2Fx a%2F..%2F..%2Fb x%00y %0Anl" &&
	refused PUT "$NS/content/ingests/@" "x" &&
	HOSTILE_SET= &&
	refused GET "$NS/images/@%2F..%2F..%2Fx"
'

test_expect_success 'nothing where the names point: no x, b, abs or etc made above the root' '
	for d in / /etc /tmp "$TRASH/.." "$TRASH" "$TRASH/root" "$TRASH/state"
	do
		for n in x b abs etc y
		do
			if test "$d/$n" -nt marker
			then
				echo "made: $d/$n" && return 1
			fi
		done || return 1
	done
'

test_done
