#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what is missing, builds, tests.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/test.sh [--help]

Installs what the tests need when it is missing (Debian packages: libcurl4-openssl-dev,
shellcheck, curl; a Python virtual environment .venv-test with AWS's runtime client
awslambdaric for the lambda-local conformance tests), builds every target, checks that the release bootstrap links no SwiftNIO,
lints the shell scripts, runs a short benchmark (scripts/bench.sh --quick) so it
cannot rot, and runs `swift test`.

Environment:
  SWIFT_TEST_ARGS   extra arguments for `swift test` (for example `--filter RuntimeLoopTests`)

Exit status: 0 when everything passed; non-zero otherwise (the failing step says why on stderr).
USAGE
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) echo "test.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
esac

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh

step() { printf '\n==> %s\n' "$*" >&2; }

step "Checking system packages"
ensure_debian_packages libcurl4-openssl-dev:/usr/include/x86_64-linux-gnu/curl/curl.h shellcheck:/usr/bin/shellcheck \
  curl:/usr/bin/curl

step "Python virtual environment for conformance tests (.venv-test: awslambdaric)"
ensure_test_venv .venv-test awslambdaric==4.2.2
export RIC_PYTHON="$PWD/.venv-test/bin/python"

step "Linting shell scripts"
shellcheck -x scripts/*.sh scripts/lib/*.sh .ci/run

step "Building the release bootstrap (what ships)"
swift build -c release --product bootstrap
bootstrap_bin="$(swift build -c release --show-bin-path)/bootstrap"
if nm -C "$bootstrap_bin" 2>/dev/null | grep -qE '\bNIO(Core|Posix|HTTP1)?\.'; then
  echo "test.sh: the release bootstrap links SwiftNIO; it must not" >&2
  exit 1
fi
echo "release bootstrap: $(stat -c %s "$bootstrap_bin") bytes, no SwiftNIO" >&2

step "Building everything (debug)"
swift build --build-tests

step "Benchmark smoke run (bootstrap vs a plain C libcurl loop)"
scripts/bench.sh --quick

step "Running swift test"
# shellcheck disable=SC2086
swift test ${SWIFT_TEST_ARGS:-}
