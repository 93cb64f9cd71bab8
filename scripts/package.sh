#!/usr/bin/env bash
# Packages the bootstrap (this repository's, or any executable product of a package that uses the
# runtime) as the one deployable Lambda zip, deterministically; optionally verifies it in an empty
# root file system.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/package.sh [--package-path DIR] [--product NAME] [--output PATH] [--no-build]
                          [--verify [--health] [--event FILE [--expect FILE]] [--handler NAME]]
                          [--zip PATH] [--help]

Builds the executable (scripts/build.sh: one static executable; by default this repository's
`bootstrap`, or NAME of the package in DIR) and writes the zip Lambda runs on provided.al2 and
provided.al2023: `bootstrap` at its root and nothing else, whatever the product is called (Lambda's
custom runtime starts the file named bootstrap; it needs no libraries, no loader and no certificate
file; CA certificates are found at run time). The zip is deterministic: the same bootstrap bytes give
the same zip bytes (one entry, mode 0755, a fixed timestamp, no extra attributes: `zip -X -D`).
Prints the size and the CodeSha256 Lambda will report (base64 of the SHA-256 of the zip); the last
line printed is the zip's path.

Options:
  --package-path DIR
                 the Swift package of the function (default: this repository), for example
                 Examples/HelloWorld or your own package that depends on the LambdaRuntime library
  --product NAME the executable product to ship as `bootstrap` (default bootstrap), e.g. MyFunction
  --output PATH  where to write the zip (default DIR/.build/lambda/function.zip for the product
                 bootstrap, DIR/.build/lambda/NAME/function.zip for any other)
  --no-build     package the existing DIR/.build/lambda[/NAME]/bootstrap instead of running
                 scripts/build.sh
  --verify       then run the zip in an otherwise empty root file system: unpack it to
                 <root>/var/task, run <root>/var/task/bootstrap chrooted into <root> (a private mount
                 and PID namespace with its own /proc, which Lambda also provides and libdispatch
                 needs; nothing from the host) under lambda-local (built with
                 `swift build --product lambda-local`, in .build), and check through
                 the Invoke API that `echo` returns the event byte for byte, twice on one instance,
                 and that an unknown _HANDLER comes back as the init error Runtime.HandlerNotFound.
                 For any other package or product (your function), in the same root under the
                 same lambda-local: the event (--event, default `{}`) is invoked twice on one
                 instance, and each answer must be a success (no X-Amz-Function-Error: no init
                 error, no thrown error, no crash, no timeout), and byte for byte the --expect file
                 when one is given.
  --event FILE   with --verify: the event to invoke your function with (default `{}`); for this
                 repository's bootstrap, checked in addition to echo (_HANDLER from --handler)
  --expect FILE  with --event: the exact response bytes the event must produce
  --handler NAME with --verify: _HANDLER for the --event check (default: the product's name; for
                 this repository's bootstrap, echo)
  --health       with --verify: also run _HANDLER=profile (PROFILE_STORE=memory) and check that
                 `GET /health` through lambda-local's API Gateway front door answers 200 with
                 "status":"ok". This is the hook for the profile service's packaging check.
  --zip PATH     with --verify: verify this existing zip instead of packaging (nothing is built)
  -h, --help     this text

Relative paths are taken from the directory package.sh is called from.

Environment:
  LAMBDA_SCRATCH, STATIC_CURL_DIR, STATIC_OPENSSL_DIR  passed to scripts/build.sh (see its --help)
  LOCAL_SCRATCH  SwiftPM scratch path for lambda-local, in this repository (default .build, shared
                 with the tests)

Exit status: 0 done (and verified); 1 the build or packaging failed; 3 the verification failed;
64 bad arguments.
USAGE
}

# shellcheck source=scripts/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
output=""
build=1
verify=0
health=0
given_zip=""
package_path=""
product=bootstrap
event_file=""
expect_file=""
handler=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --package-path) need_value package.sh "$1" "a directory" "${2-}"; package_path="$2"; shift ;;
    --product) need_value package.sh "$1" "a name" "${2-}"; product="$2"; shift ;;
    --event) need_value package.sh "$1" "a file" "${2-}"; event_file="$2"; shift ;;
    --expect) need_value package.sh "$1" "a file" "${2-}"; expect_file="$2"; shift ;;
    --handler) need_value package.sh "$1" "a name" "${2-}"; handler="$2"; shift ;;
    --output) need_value package.sh "$1" "a path" "${2-}"; output="$2"; shift ;;
    --no-build) build=0 ;;
    --verify) verify=1 ;;
    --health) health=1 ;;
    --zip) need_value package.sh "$1" "a path" "${2-}"; given_zip="$2"; shift ;;
    *) echo "package.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
  shift
done
if [ "$health" -eq 1 ] && [ "$verify" -eq 0 ]; then
  echo "package.sh: --health needs --verify" >&2; exit 64
fi
if [ -n "$given_zip" ] && [ "$verify" -eq 0 ]; then
  echo "package.sh: --zip needs --verify" >&2; exit 64
fi
if { [ -n "$event_file" ] || [ -n "$handler" ]; } && [ "$verify" -eq 0 ]; then
  echo "package.sh: --event and --handler need --verify" >&2; exit 64
fi
if [ -n "$expect_file" ] && [ -z "$event_file" ]; then
  echo "package.sh: --expect needs --event" >&2; exit 64
fi
for file in "$event_file" "$expect_file"; do
  [ -z "$file" ] || [ -f "$file" ] || { echo "package.sh: no such file: $file" >&2; exit 64; }
done
if [ -n "$package_path" ]; then
  [ -f "$package_path/Package.swift" ] || { echo "package.sh: no Package.swift in '$package_path'" >&2; exit 64; }
fi

# absolute PATH: PATH from the caller's directory (package.sh works from the repository's root).
absolute() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
[ -z "$package_path" ] || package_path="$(cd "$package_path" && pwd)"
[ -z "$output" ] || output="$(absolute "$output")"
[ -z "$given_zip" ] || given_zip="$(absolute "$given_zip")"
[ -z "$event_file" ] || event_file="$(absolute "$event_file")"
[ -z "$expect_file" ] || expect_file="$(absolute "$expect_file")"

cd "$(dirname "$0")/.."
[ "$package_path" != "$PWD" ] || package_path=""
# This repository's bootstrap (echo, HandlerNotFound and /health checks), or a user's function.
builtin=0
[ -n "$package_path" ] || [ "$product" != bootstrap ] || builtin=1
if [ "$health" -eq 1 ] && [ "$builtin" -eq 0 ]; then
  echo "package.sh: --health checks this repository's bootstrap (_HANDLER=profile) only" >&2; exit 64
fi
# Where build.sh writes the executable (see its --help), and the zip beside it.
out_dir="${package_path:+$package_path/}.build/lambda"
[ "$product" = bootstrap ] || out_dir="$out_dir/$product"
output="${output:-$out_dir/function.zip}"
build_args=()
[ -z "$package_path" ] || build_args+=(--package-path "$package_path")
[ "$product" = bootstrap ] || build_args+=(--product "$product")
ensure_debian_packages zip:/usr/bin/zip unzip:/usr/bin/unzip openssl:/usr/bin/openssl curl:/usr/bin/curl

say() { printf 'package.sh: %s\n' "$*" >&2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/package.XXXXXX")"
local_pids=()
cleanup() {
  local pid
  for pid in "${local_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${local_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# code_sha256 FILE: what Lambda reports as CodeSha256.
code_sha256() { openssl dgst -sha256 -binary "$1" | base64 -w0; }

if [ -n "$given_zip" ]; then
  [ -f "$given_zip" ] || { say "no such zip: $given_zip"; exit 1; }
  zip_path="$given_zip"
else
  if [ "$build" -eq 1 ]; then
    scripts/build.sh ${build_args[@]+"${build_args[@]}"} >/dev/null || { say "scripts/build.sh failed"; exit 1; }
  fi
  bootstrap="$out_dir/bootstrap"
  [ -x "$bootstrap" ] || { say "$bootstrap is missing; run scripts/build.sh"; exit 1; }

  # Stage exactly what ships, with fixed modes and times, then zip the sorted entries.
  stage="$work/stage"
  mkdir -p "$stage"
  cp "$bootstrap" "$stage/bootstrap"
  chmod 0755 "$stage/bootstrap"
  find "$stage" -exec env TZ=UTC touch -h -t 200001010000.00 {} +
  mkdir -p "$(dirname "$output")"
  zip_path="$(cd "$(dirname "$output")" && pwd)/$(basename "$output")"
  rm -f "$zip_path"
  (cd "$stage" && find . -type f | sed 's|^\./||' | LC_ALL=C sort \
    | TZ=UTC zip -X -D -9 -q "$zip_path" -@) || { say "zip failed"; exit 1; }
  size="$(stat -c %s "$zip_path")"
  # Lambda's limit for a zip uploaded directly.
  if [ "$size" -gt 52428800 ]; then
    say "$zip_path is $size bytes, over Lambda's 50 MB direct-upload limit"; exit 1
  fi
  say "$zip_path: $size bytes ($(awk -v b="$size" 'BEGIN { printf "%.2f", b / 1048576 }') MiB), unpacked $(stat -c %s "$bootstrap") bytes"
  say "entries: $(unzip -Z1 "$zip_path" | tr '\n' ' ')"
  say "CodeSha256: $(code_sha256 "$zip_path")"
fi

if [ "$verify" -eq 1 ]; then
  say "verifying $zip_path in an empty root file system…"
  root="$work/root"
  mkdir -p "$root/var/task" "$root/proc"
  unzip -q "$zip_path" -d "$root/var/task" || { say "cannot unpack $zip_path"; exit 3; }
  [ -f "$root/var/task/bootstrap" ] || { say "the zip has no bootstrap at its root"; exit 3; }
  [ -x "$root/var/task/bootstrap" ] || { say "bootstrap in the zip is not executable"; exit 3; }

  # The function process: the same environment lambda-local gives it, chrooted into the root, in a
  # private mount and PID namespace whose only mount is a fresh /proc. Without root, a user namespace
  # grants the chroot.
  userns=()
  [ "$(id -u)" -eq 0 ] || userns=(--user --map-root-user)
  wrapper="$work/chroot-bootstrap"
  {
    echo '#!/bin/sh'
    printf 'exec %q %s --mount --pid --fork --kill-child --mount-proc=%q %q %q /var/task/bootstrap\n' \
      "$(command -v unshare)" "${userns[*]}" "$root/proc" "$(command -v chroot)" "$root"
  } >"$wrapper"
  chmod +x "$wrapper"

  local_scratch="${LOCAL_SCRATCH:-.build}"
  say "building lambda-local (scratch path $local_scratch)…"
  swift build --product lambda-local --scratch-path "$local_scratch" >&2 || { say "building lambda-local failed"; exit 1; }
  lambda_local="$(swift build --scratch-path "$local_scratch" --show-bin-path)/lambda-local"

  failures=0
  check() { # check NAME CONDITION-RESULT(0/1) DETAIL
    if [ "$2" -eq 0 ]; then say "ok   $1"; else say "FAIL $1: $3"; failures=$((failures + 1)); fi
  }

  # serve HANDLER [--env K=V…]: starts lambda-local for the chrooted bootstrap; sets PORT.
  serve() {
    local handler="$1"; shift
    PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    "$lambda_local" --bootstrap "$wrapper" --port "$PORT" --handler "$handler" --timeout 10 \
      --init-timeout 10 "$@" >"$work/lambda-local-$handler.log" 2>&1 &
    local_pids+=("$!")
    local deadline=$((SECONDS + 30))
    until curl -s -o /dev/null "http://127.0.0.1:$PORT/_local/stats"; do
      [ "$SECONDS" -lt "$deadline" ] || { say "lambda-local did not start; see its log:"; cat "$work/lambda-local-$handler.log" >&2; exit 3; }
      sleep 0.2
    done
  }
  # stop_serving: stops the newest lambda-local; shows its log when a check failed meanwhile.
  reported=0
  stop_serving() {
    local pid="${local_pids[-1]}"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset 'local_pids[-1]'
    if [ "$failures" -gt "$reported" ]; then
      say "lambda-local's log (function output included):"
      cat "$work"/lambda-local-*.log >&2
      rm -f "$work"/lambda-local-*.log
      reported="$failures"
    fi
  }
  invoke() { # invoke BODY-FILE OUT-FILE HEADERS-FILE
    curl -s --max-time 20 -D "$3" -o "$2" -X POST --data-binary "@$1" \
      "http://127.0.0.1:$PORT/2015-03-31/functions/function/invocations"
  }

  # check_invocations WHAT EVENT-FILE [EXPECTED-FILE]: invokes the served function twice (one instance,
  # warm the second time); each answer must be a success and, when EXPECTED-FILE is given, its bytes.
  check_invocations() {
    local what="$1" event="$2" expected="${3:-}" round status result
    for round in 1 2; do
      status=0
      invoke "$event" "$work/out.json" "$work/headers.txt" || status=$?
      if [ "$status" -ne 0 ]; then
        check "$what invocation $round" 1 "curl failed ($status)"
      elif grep -qi '^X-Amz-Function-Error' "$work/headers.txt"; then
        check "$what invocation $round" 1 "function error: $(head -c 300 "$work/out.json")"
      elif [ -n "$expected" ]; then
        result=0; cmp -s "$expected" "$work/out.json" || result=1
        check "$what invocation $round returns $(basename "$expected") byte for byte" "$result" \
          "got: $(head -c 300 "$work/out.json")"
      else
        check "$what invocation $round succeeds ($(stat -c %s "$work/out.json") bytes)" 0 ""
      fi
    done
  }

  if [ "$builtin" -eq 1 ]; then
    printf '{"hello":"world","from":"package.sh --verify"}' >"$work/event.json"
    serve echo
    check_invocations echo "$work/event.json" "$work/event.json"
    stop_serving

    serve does-not-exist
    invoke "$work/event.json" "$work/out.json" "$work/headers.txt" || true
    result=1
    if grep -qi '^X-Amz-Function-Error' "$work/headers.txt" \
       && grep -q '"errorType":"Runtime.HandlerNotFound"' "$work/out.json"; then result=0; fi
    check "unknown _HANDLER reaches the caller as Runtime.HandlerNotFound" "$result" "got: $(head -c 300 "$work/out.json")"
    stop_serving
  fi

  # A user's function: its own event (or {}), and its expected answer when given.
  if [ "$builtin" -eq 0 ] || [ -n "$event_file" ]; then
    if [ -z "$event_file" ]; then
      event_file="$work/empty-event.json"
      printf '{}' >"$event_file"
    fi
    if [ -z "$handler" ]; then
      handler="$product"
      [ "$builtin" -eq 0 ] || handler="echo"
    fi
    serve "$handler"
    check_invocations "$(basename "$event_file") (_HANDLER=$handler)" "$event_file" "$expect_file"
    stop_serving
  fi

  if [ "$health" -eq 1 ]; then
    serve profile --env PROFILE_STORE=memory
    code="$(curl -s --max-time 20 -o "$work/health.json" -w '%{http_code}' "http://127.0.0.1:$PORT/health" || true)"
    result=1
    if [ "$code" = 200 ] && grep -q '"status":"ok"' "$work/health.json"; then result=0; fi
    check "GET /health with _HANDLER=profile answers 200 {\"status\":\"ok\"…}" "$result" "HTTP $code: $(head -c 300 "$work/health.json")"
    stop_serving
  fi

  leftovers="$(cd "$root" && find . -mindepth 1 -not -path './var' -not -path './var/task' -not -path './var/task/*' -not -path './proc' | head -5)"
  result=0; [ -z "$leftovers" ] || result=1
  check "the run left nothing in the root outside /var/task" "$result" "$leftovers"
  if [ "$failures" -gt 0 ]; then
    say "verification FAILED ($failures check(s)); the bootstrap needs something outside /var/task or misbehaves"
    exit 3
  fi
  say "verified: the zip runs from /var/task alone"
fi
echo "$zip_path"
