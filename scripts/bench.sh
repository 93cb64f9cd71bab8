#!/usr/bin/env bash
# Measures the shipped bootstrap against a plain C libcurl Runtime API loop, cold and warm.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/bench.sh [--quick] [--help] [-- RUNTIME_BENCH_ARGS…]

Builds the bootstrap as it ships (release, static Swift standard library, in .build-static), the
C baseline (bench/c-loop/runtime_loop.c, gcc -O2, the aws-lambda-cpp design) and the benchmark
driver, then runs both binaries against the same loopback Runtime API (FakeRuntimeAPI), echoing a
512-byte event. Runs are interleaved and reported as medians and ratios against C, because this
machine is shared and noisy.

Measured:
  spawn→/next      cold start: process spawn to its first GET /next (the init phase)
  spawn→result     cold start to the first accepted response
  warm µs/invoke   wall time per invocation over many invocations on one connection
  RSS / peak       resident memory after the warm run
  instructions     with valgrind: start-up and per-invocation instruction counts (exact, repeatable)

Options:
  --quick   a short run for CI (fewer cold starts and invocations)
  --help    this text
Anything after -- goes to runtime-bench (see `runtime-bench --help`).

Exit status: 0 when the benchmark ran; non-zero when a build or a run failed.
USAGE
}

quick=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --quick) quick=1 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
  shift
done

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
ensure_debian_packages libcurl4-openssl-dev:/usr/include/x86_64-linux-gnu/curl/curl.h gcc:/usr/bin/gcc valgrind:/usr/bin/valgrind

echo "building the shipped bootstrap (release, static Swift stdlib)…" >&2
swift build -c release --product bootstrap --static-swift-stdlib --scratch-path .build-static >&2
bootstrap="$(swift build -c release --static-swift-stdlib --scratch-path .build-static --show-bin-path)/bootstrap"

echo "building the C baseline and the benchmark driver…" >&2
c_loop=.build-static/c-loop
gcc -O2 -o "$c_loop" bench/c-loop/runtime_loop.c -lcurl
swift build -c release --product runtime-bench >&2
driver="$(swift build -c release --show-bin-path)/runtime-bench"

if [ "$quick" -eq 1 ]; then
  settings=(--cold 5 --warm 2000 --rounds 1 --callgrind 300)
else
  settings=(--cold 30 --warm 20000 --rounds 3 --callgrind 2000)
fi
stripped=.build-static/bootstrap.stripped
strip -o "$stripped" "$bootstrap"
echo "bootstrap: $(stat -c %s "$bootstrap") bytes, $(stat -c %s "$stripped") stripped; c-loop: $(stat -c %s "$c_loop") bytes"
"$driver" --binary "swift=$bootstrap" --binary "c=$c_loop" "${settings[@]}" "${extra[@]}"
