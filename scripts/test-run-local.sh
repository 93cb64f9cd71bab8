#!/usr/bin/env bash
# The README's first set-up command, scripts/run-local.sh, run as a user runs it: in a terminal of its
# own, tried with the curl lines it prints, stopped with Ctrl-C.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/test-run-local.sh [--help]

Runs scripts/run-local.sh three ways, each in a process group of its own on a free 127.0.0.1 port, and
stops each as Ctrl-C in a terminal does (SIGINT to the whole group):
  1. as the README shows it (no option): /health, the PUT and GET it prints with an unsigned JWT, a
     GET with another user's token (403), the RIE-compatible Invoke API with events/http-api-v2-get-profile.json,
     GET /_local/stats
  2. --versions 2 --moto: a profile written through the front door (alias live, version 1) is read by
     version 2 through the Invoke API (Qualifier=2): both versions share the moto table
  3. usage errors (--versions 0, --watch with --versions, an unknown option): exit 64 before building
After each Ctrl-C it checks exit status 0 and that nothing of the group is left running (lambda-local,
the bootstraps, moto). Needs a debug build (swift build) for speed; run-local.sh builds what is
missing. Logs stay in .build/run-local-test/.

Exit status: 0 when everything passed; 1 when a check failed; 2 when the setup failed.
USAGE
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) echo "test-run-local.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
esac

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh

say() { printf 'test-run-local.sh: %s\n' "$*" >&2; }
setup_failed() { say "setup failed: $*"; exit 2; }
failures=0
check() {  # check DESCRIPTION COMMAND...: runs COMMAND, counts a failure
  local what="$1"; shift
  if "$@"; then say "ok: $what"; else say "FAILED: $what"; failures=$((failures + 1)); fi
}

ensure_debian_packages jq:/usr/bin/jq curl:/usr/bin/curl || setup_failed "Debian packages"
logs=.build/run-local-test
rm -rf "$logs"
mkdir -p "$logs"

group=""   # the process group of the run-local.sh under test
cleanup() {
  [ -z "$group" ] || kill -KILL -- "-$group" 2>/dev/null || true
}
trap cleanup EXIT

# start_run_local NAME ARGS...: scripts/run-local.sh ARGS in a new process group (as a terminal runs a
# command), on a free port; sets PORT, URL, group and run_pid; waits until it serves.
start_run_local() {
  local name="$1"; shift
  PORT="$(free_port)"
  URL="http://127.0.0.1:$PORT"
  PORT="$PORT" setsid scripts/run-local.sh "$@" >"$logs/$name.log" 2>&1 &
  run_pid=$!
  group="$run_pid"   # setsid in a non-interactive shell execs in place: the pid leads the new group
  if ! wait_for_port "$PORT" 300; then
    tail -20 "$logs/$name.log" >&2
    setup_failed "run-local.sh $* did not serve on $PORT in 300 s; see $logs/$name.log"
  fi
}

# stop_run_local NAME: SIGINT to the group, as Ctrl-C; checks exit status 0 within 20 s and that no
# process of the group is left, nor any function instance /_local/stats named (lambda-local may give
# its children groups of their own; it must stop them itself).
stop_run_local() {
  local name="$1" status waited=0 instances
  instances="$(curl -s "$URL/_local/stats" | jq -r '[.instances[].pid // empty] | join(" ")')"
  kill -INT -- "-$group" 2>/dev/null || true
  while kill -0 "$run_pid" 2>/dev/null && [ "$waited" -lt 200 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$run_pid" 2>/dev/null; then
    check "$name: run-local.sh ends within 20 s of Ctrl-C" false
    kill -KILL -- "-$group" 2>/dev/null || true
  fi
  set +e; wait "$run_pid"; status=$?; set -e
  check "$name: exit status 0 after Ctrl-C (was $status)" [ "$status" -eq 0 ]
  sleep 0.5
  local left
  left="$(pgrep -g "$group" -a 2>/dev/null || true)"
  for pid in $instances; do
    if kill -0 "$pid" 2>/dev/null; then left+="${left:+; }instance $pid"; fi
  done
  check "$name: nothing of it left running after Ctrl-C${left:+ (left: $left)}" [ -z "$left" ]
  kill -KILL -- "-$group" 2>/dev/null || true
  group=""
}

# token SUB: an unsigned JWT for SUB, made as run-local.sh's banner shows.
token() { printf 'e30.%s.x' "$(printf '{"sub":"%s"}' "$1" | base64 | tr -d '=')"; }

# status_of CURL_ARGS...: the HTTP status; the body goes to $logs/body.
status_of() { curl -s -o "$logs/body" -w '%{http_code}' "$@"; }

# invoke QUALIFIER EVENT_FILE: the Invoke API's answer (the function's payload) in $logs/invoke.json.
invoke() {
  local query=""
  [ -z "$1" ] || query="?Qualifier=$1"
  curl -s -o "$logs/invoke.json" -w '%{http_code}' -X POST --data-binary "@$2" \
    "$URL/2015-03-31/functions/function/invocations$query"
}

# payload_field JQ: a field of the invoked API Gateway response, its body parsed as JSON.
payload_field() { jq -r "$1" "$logs/invoke.json"; }
body_field() { jq -r '.body' "$logs/invoke.json" | jq -r "$1"; }

ada='{"name":"Ada Lovelace","email":"ada@example.com"}'

say "1. scripts/run-local.sh, as the README shows it"
start_run_local default
check "GET /health answers 200" [ "$(status_of "$URL/health")" = 200 ]
put_status="$(status_of -X PUT "$URL/profiles/user-123" -H "Authorization: Bearer $(token user-123)" \
  -H 'Content-Type: application/json' -d "$ada")"
check "the printed PUT stores the profile (status $put_status)" [ "${put_status:0:1}" = 2 ]
check "the printed GET answers 200" [ "$(status_of "$URL/profiles/user-123" -H "Authorization: Bearer $(token user-123)")" = 200 ]
check "…with the profile that was PUT" [ "$(jq -r .name "$logs/body")" = "Ada Lovelace" ]
check "another user's token gets 403" \
  [ "$(status_of "$URL/profiles/user-123" -H "Authorization: Bearer $(token user-456)")" = 403 ]
check "the Invoke API answers 200 to events/http-api-v2-get-profile.json" \
  [ "$(invoke "" events/http-api-v2-get-profile.json)" = 200 ]
check "…with the function's 200 and the stored profile" \
  [ "$(payload_field .statusCode)/$(body_field .name)" = "200/Ada Lovelace" ]
curl -s "$URL/_local/stats" >"$logs/stats.json"
check "GET /_local/stats counts the 5 invocations" [ "$(jq '[.versions[].invocations] | add' "$logs/stats.json")" = 5 ]
stop_run_local default

say "2. scripts/run-local.sh --versions 2 --moto"
start_run_local versions-moto --versions 2 --moto
put_status="$(status_of -X PUT "$URL/profiles/user-123" -H "Authorization: Bearer $(token user-123)" \
  -H 'Content-Type: application/json' -d "$ada")"
check "a PUT through the front door stores the profile (status $put_status)" [ "${put_status:0:1}" = 2 ]
check "…served by version 1, the alias's primary" [ "$(grep -i '^x-function-version' <(curl -s -D - -o /dev/null \
  "$URL/profiles/user-123" -H "Authorization: Bearer $(token user-123)") | tr -d '\r' | cut -d' ' -f2)" = 1 ]
check "version 2 answers the Invoke API (Qualifier=2)" [ "$(invoke 2 events/http-api-v2-get-profile.json)" = 200 ]
check "…with version 1's write, from the moto table both share" \
  [ "$(payload_field .statusCode)/$(payload_field '.headers["x-function-version"]')/$(body_field .name)" = "200/2/Ada Lovelace" ]
curl -s "$URL/_local/stats" >"$logs/stats.json"
check "GET /_local/stats shows alias live on version 1" [ "$(jq -r '.alias.name + "/" + .alias.functionVersion' "$logs/stats.json")" = live/1 ]
stop_run_local versions-moto

say "3. usage errors"
for args in "--versions 0" "--watch --versions 2" "--no-such-option"; do
  set +e
  # shellcheck disable=SC2086
  scripts/run-local.sh $args >"$logs/usage.log" 2>&1
  status=$?
  set -e
  message="$(head -1 "$logs/usage.log")"
  check "run-local.sh $args: exit 64 with a message (exit $status: $message)" [ "$status/${message:+said}" = 64/said ]
done

if [ "$failures" -gt 0 ]; then
  say "$failures check(s) failed; logs in $logs"
  exit 1
fi
say "all passed"
