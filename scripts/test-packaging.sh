#!/usr/bin/env bash
# The packaging suite: the zip is deterministic, runs from /var/task alone, and works behind a
# Runtime API nobody here wrote (ministack) as provided.al2 and provided.al2023.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/test-packaging.sh [--skip-ministack] [--help]

Checks, each counted as passed or failed:
  lint          shellcheck -x on the packaging scripts
  determinism   scripts/package.sh twice (the bootstrap's mtime changed in between) gives the same
                bytes and CodeSha256; the zip holds exactly `bootstrap`, mode 0755
  verify        scripts/package.sh --verify --health: echo (byte for byte, twice), an unknown
                _HANDLER (Runtime.HandlerNotFound) and GET /health (_HANDLER=profile) from a
                chroot holding only /var/task and a private /proc
  control       the same verification rejects a zip whose bootstrap needs the host (the plain C
                libcurl loop from bench/c-loop, dynamically linked): it must exit 3
  ministack     for provided.al2 and provided.al2023, with the real `aws` CLI against ministack on
                127.0.0.1 (its own Runtime API, its own unpacking into a temporary directory):
                create-function reports our CodeSha256 and size; echo (three warm invocations);
                an unknown handler (our Runtime.HandlerNotFound reaches the caller); a timeout
                and a crash (a test-only zip whose `bootstrap` is a two-line sh wrapper that points
                the real bootstrap at a silent listener, or at a closed port so that it exits 3);
                echo works again afterwards.

Installs what it needs: Debian packages (shellcheck, gcc, libcurl4-openssl-dev, zip, unzip, curl,
python3-venv) with apt-get; ministack 1.5.33 in the Python virtual environment .venv-ministack and
awscli 1.45.11 in .venv-release (the release suite's, same pins); builds in .build-lambda (bootstrap), .build (lambda-local)
and .build/static-openssl, .build/static-curl (OpenSSL, libcurl). Starts ministack and a silent listener on 127.0.0.1 and stops
them on exit. About 8 minutes on a fresh 2-core machine (libcurl, lambda-local and the release
build), about 2 minutes afterwards.

Options:
  --skip-ministack   run everything but the ministack checks
  -h, --help         this text

The last line is "N passed, M failed". Exit status: 0 when nothing failed; 1 otherwise; 64 bad
arguments.
USAGE
}

ministack=1
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --skip-ministack) ministack=0 ;;
    *) echo "test-packaging.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
  shift
done

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
# shellcheck source=scripts/lib/emulators.sh
source scripts/lib/emulators.sh

passed=0
failed=0
say() { printf 'test-packaging.sh: %s\n' "$*" >&2; }
step() { printf '\n==> %s\n' "$*" >&2; }
pass() { passed=$((passed + 1)); say "PASS $*"; }
fail() { failed=$((failed + 1)); say "FAIL $*"; }

work="$(mktemp -d "${TMPDIR:-/tmp}/test-packaging.XXXXXX")"
helper_pids=()
cleanup() {
  local pid
  stop_emulators
  for pid in "${helper_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${helper_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

step "Installing what the suite needs"
ensure_debian_packages shellcheck:/usr/bin/shellcheck gcc:/usr/bin/gcc \
  libcurl4-openssl-dev:/usr/include/x86_64-linux-gnu/curl/curl.h zip:/usr/bin/zip unzip:/usr/bin/unzip \
  curl:/usr/bin/curl

step "Lint"
if shellcheck -x scripts/build.sh scripts/package.sh scripts/test-packaging.sh scripts/bench.sh \
     scripts/lib/static-curl.sh scripts/lib/static-openssl.sh scripts/lib/static-exe.sh scripts/lib/packaging-ministack.sh >&2; then
  pass "shellcheck -x on the packaging scripts"
else
  fail "shellcheck -x on the packaging scripts"
fi

step "Build and package twice: same bytes"
zip1="$work/first.zip"
zip2="$work/second.zip"
if scripts/package.sh --output "$zip1" >"$work/package1.out" && touch .build/lambda/bootstrap \
   && scripts/package.sh --no-build --output "$zip2" >"$work/package2.out"; then
  sha1="$(openssl dgst -sha256 -binary "$zip1" | base64 -w0)"
  sha2="$(openssl dgst -sha256 -binary "$zip2" | base64 -w0)"
  if cmp -s "$zip1" "$zip2"; then
    pass "two packagings are byte-identical (CodeSha256 $sha1, $(stat -c %s "$zip1") bytes)"
  else
    fail "two packagings differ: $sha1 vs $sha2"
  fi
  if [ "$(tail -1 "$work/package1.out")" = "$zip1" ]; then
    pass "package.sh prints the zip's path last"
  else
    fail "package.sh's last line is '$(tail -1 "$work/package1.out")', not $zip1"
  fi
  listing="$(unzip -Z "$zip1" | sed -n '2,$p' | grep -v 'files,' || true)"
  if [ "$(unzip -Z1 "$zip1")" = bootstrap ] && grep -q '^-rwxr-xr-x' <<<"$listing"; then
    pass "the zip holds exactly bootstrap, mode 0755"
  else
    fail "unexpected zip contents: $listing"
  fi
else
  fail "scripts/package.sh failed"
fi

step "Verify in an empty root file system"
if scripts/package.sh --no-build --output "$zip1" --verify --health >"$work/verify.out"; then
  pass "package.sh --verify --health (echo, Runtime.HandlerNotFound, GET /health from /var/task alone)"
else
  fail "package.sh --verify --health exited $?"
fi

step "Control: a bootstrap that needs the host must fail verification"
mkdir -p "$work/control"
gcc -O2 -o "$work/control/bootstrap" bench/c-loop/runtime_loop.c -lcurl
(cd "$work/control" && zip -q -X ../control.zip bootstrap)
status=0
scripts/package.sh --verify --zip "$work/control.zip" >/dev/null 2>"$work/control.err" || status=$?
if [ "$status" -eq 3 ]; then
  pass "a dynamically linked C bootstrap is rejected (exit 3: $(grep -m1 FAIL "$work/control.err" | cut -c1-100)…)"
else
  fail "a dynamically linked C bootstrap was not rejected (exit $status)"
  cat "$work/control.err" >&2
fi

if [ "$ministack" -eq 1 ] && [ -f "$zip1" ]; then
  # shellcheck source=scripts/lib/packaging-ministack.sh
  source scripts/lib/packaging-ministack.sh
  step "ministack: provided.al2 and provided.al2023 through the real aws CLI"
  run_ministack_conformance "$zip1" "$work"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
