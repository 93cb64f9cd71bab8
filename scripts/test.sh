#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what is missing, builds, tests.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/test.sh [--help]

Installs what the tests need when it is missing (Debian packages: libcurl4-openssl-dev, shellcheck,
curl; a Python virtual environment .venv-aws with AWS's runtime client awslambdaric for the
lambda-local conformance tests, the AWS CLI, cfn-lint, the SAM translator and moto for the DynamoDB store, which runs on 127.0.0.1 with signature
checking for the duration of the tests, and microburst in front of it for the DynamoDB fault tests),
lints the shell scripts, packages the static bootstrap that ships (scripts/package.sh; its trimmed
OpenSSL and minimal libcurl are built from Debian's sources in the background from the start), then runs the
release-tooling suite (scripts/test-release.sh) in the background while it builds every other target
(debug with the tests, the fuzz targets, the benchmark driver), checks that the shipped bootstrap links
no SwiftNIO, builds the DocC documentation without a warning (scripts/docs.sh), starts the
user's-function suite in the background (scripts/test-example.sh: Examples/HelloWorld's test, its
static zip run from an empty root, `sam build` and `sam validate --lint`), fuzzes three
targets for 20 s each (scripts/fuzz.sh), runs a short benchmark (scripts/bench.sh --quick) so it cannot
rot, a bounded memory soak of the packaged bootstrap (scripts/bench.sh --soak-check: RSS may not grow by
more than 1 MB from 20,000 to 100,000 invocations), the packaging suite (scripts/test-packaging.sh), the
README's run command as a user runs it (scripts/test-run-local.sh), the release rehearsal against lambda-local under load (scripts/test-rehearsal.sh), and `swift test` (the
timing-sensitive suites apart, one at a time).
Each step ends with its wall-clock and CPU seconds; a table of them closes the run.

Environment:
  SWIFT_TEST_ARGS   extra arguments for `swift test` (for example `--filter RuntimeLoopTests`)
  FUZZ_SECONDS      seconds of fuzzing per fuzz target (default 20 here; scripts/fuzz.sh alone: 60)
  TEST_TSAN=0       skip ThreadSanitizer. By default the tests that serve N invocations at once (Lambda
                    Managed Instances, streaming included) also run under ThreadSanitizer, in .build-tsan:
                    about 4 minutes of CPU to build from scratch (beside the release suite, with the other
                    builds) and 50 s to run on 2 cores; any report fails the run

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

# step NAME: ends the step before it (prints its wall-clock and CPU seconds) and starts NAME. At exit,
# a table of every step's seconds (CPU: user + sys of the processes the step waited for).
step_names=() step_walls=() step_cpus=()
step_name="" step_started=0 step_cpu_started=0
cpu_seconds() {  # user + sys of this shell and of the children it waited for, in whole seconds
  # Fields 14-17 of /proc/PID/stat, after the command name (which may hold spaces), in clock ticks.
  local stat
  stat="$(cat "/proc/$$/stat")"
  stat="${stat##*) }"
  awk -v hz="$(getconf CLK_TCK)" '{ print int(($12 + $13 + $14 + $15) / hz) }' <<<"$stat"
}
end_step() {
  [ -n "$step_name" ] || return 0
  local wall=$((SECONDS - step_started)) cpu=$(($(cpu_seconds) - step_cpu_started))
  printf '==> %s (took %d s, %d s CPU)\n' "$step_name" "$wall" "$cpu" >&2
  step_names+=("$step_name") step_walls+=("$wall") step_cpus+=("$cpu")
  step_name=""
}
step() {
  end_step
  step_name="$*" step_started=$SECONDS step_cpu_started="$(cpu_seconds)"
  printf '\n==> %s\n' "$*" >&2
}
step_summary() {
  local i
  end_step
  printf '\n%6s %6s  %s\n' "wall s" "CPU s" "step" >&2
  for i in "${!step_names[@]}"; do
    printf '%6d %6d  %s\n' "${step_walls[$i]}" "${step_cpus[$i]}" "${step_names[$i]:0:90}" >&2
  done
  printf '%6d %6d  total\n' "$SECONDS" "$(cpu_seconds)" >&2
}

# Servers the tests use, and suites running in the background by script (start_suite, suite_result):
# what still runs at exit is stopped.
service_pids=()
declare -A suite_pids=()
finish() {
  local status=$? pid
  for pid in "${service_pids[@]}" "${suite_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  step_summary
  exit "$status"
}
trap finish EXIT

# start_suite SCRIPT: starts a test suite in the background, its output in .build/<its name>.log.
start_suite() {
  "$1" >".build/$(basename "$1" .sh).log" 2>&1 &
  suite_pids[$1]=$!
}

# suite_result SCRIPT: waits for a suite start_suite started, shows its output, and ends the run when
# it failed.
suite_result() {
  local status=0
  wait "${suite_pids[$1]}" || status=$?
  unset "suite_pids[$1]"
  cat ".build/$(basename "$1" .sh).log" >&2
  if [ "$status" -ne 0 ]; then
    echo "test.sh: $1 failed (exit $status; its output is above)" >&2
    exit 1
  fi
}

step "Checking system packages"
ensure_debian_packages libcurl4-openssl-dev:/usr/include/x86_64-linux-gnu/curl/curl.h libssl-dev:/usr/include/openssl/sha.h shellcheck:/usr/bin/shellcheck \
  curl:/usr/bin/curl

step "Static OpenSSL and libcurl for the shipped build, started in the background (scripts/build.sh --deps-only)"
# About 2.5 minutes of CPU from a clean clone, mostly one core (configure, then make -j2 of a trimmed
# OpenSSL): it runs beside the venv and emulator steps, which mostly wait; the zip step below waits for it.
mkdir -p .build
scripts/build.sh --deps-only >.build/static-deps.log 2>&1 &
deps_pid=$!
service_pids+=("$deps_pid")   # stopped if the run ends before it does

step "Python virtual environment for AWS's tools (.venv-aws: awslambdaric, awscli, moto, cfn-lint, SAM translator)"
ensure_aws_venv
export RIC_PYTHON="$PWD/.venv-aws/bin/python"

step "moto on 127.0.0.1 with SigV4 checking, for the DynamoDB store tests"
mkdir -p .build
moto_port="$(free_port)"
# One request at a time: threaded moto applies concurrent conditional updates without a lock
# (see scripts/lib/moto_serial.py); DynamoDB itself is atomic per item.
INITIAL_NO_AUTH_ACTION_COUNT=6 .venv-aws/bin/python scripts/lib/moto_serial.py 127.0.0.1 "$moto_port" >.build/moto.log 2>&1 &
service_pids+=("$!")
wait_for_port "$moto_port" 30
eval "$(.venv-aws/bin/python scripts/lib/moto_dynamodb.py "http://127.0.0.1:$moto_port" profiles-test)"
step "ministack (AppConfig, AppConfigData) and microburst in front of it, on 127.0.0.1, for the flag tests"
# ministack pins its own botocore, so it gets a virtual environment of its own.
ensure_test_venv .venv-ministack ministack==1.5.33 microburst==0.10.0
ministack_port="$(free_port)"
BIND_HOST=127.0.0.1 GATEWAY_PORT="$ministack_port" IOT_MTLS_ENABLED=0 SFTP_ENABLED=0 SERVICES=appconfig,appconfigdata \
  .venv-ministack/bin/ministack >.build/ministack.log 2>&1 &
service_pids+=("$!")
fault_port="$(free_port)"
.venv-ministack/bin/microburst --upstream "http://127.0.0.1:$ministack_port" --host 127.0.0.1 --port "$fault_port" \
  >.build/microburst.log 2>&1 &
service_pids+=("$!")
wait_for_port "$ministack_port" 60
wait_for_port "$fault_port" 30
export FLAGS_TEST_APPCONFIG_ENDPOINT="http://127.0.0.1:$ministack_port"
export FLAGS_TEST_FAULT_PROXY="http://127.0.0.1:$fault_port"
export FLAGS_TEST_AWS_CLI="$PWD/.venv-aws/bin/aws"

step "microburst in front of moto, for the DynamoDB fault tests (StoreFaultTests)"
# microburst rewrites Host, which breaks the client's signature, so it re-signs with the same session
# credentials the tests use (the signing itself is checked by DynamoDBSigningTests, straight to moto).
moto_fault_port="$(free_port)"
AWS_ACCESS_KEY_ID="$PROFILE_TEST_SESSION_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$PROFILE_TEST_SESSION_SECRET_ACCESS_KEY" \
  AWS_SESSION_TOKEN="$PROFILE_TEST_SESSION_TOKEN" AWS_DEFAULT_REGION=us-east-1 \
  .venv-ministack/bin/microburst --upstream "http://127.0.0.1:$moto_port" --host 127.0.0.1 --port "$moto_fault_port" \
  --resign >.build/microburst-moto.log 2>&1 &
service_pids+=("$!")
wait_for_port "$moto_fault_port" 30
export PROFILE_TEST_DYNAMODB_FAULT_PROXY="http://127.0.0.1:$moto_fault_port"

export PROFILE_TEST_DYNAMODB_ENDPOINT PROFILE_TEST_DYNAMODB_TABLE PROFILE_TEST_ACCESS_KEY_ID \
  PROFILE_TEST_SECRET_ACCESS_KEY PROFILE_TEST_SESSION_ACCESS_KEY_ID PROFILE_TEST_SESSION_SECRET_ACCESS_KEY \
  PROFILE_TEST_SESSION_TOKEN

step "Linting shell scripts"
shellcheck -x scripts/*.sh scripts/lib/*.sh .ci/run

step "The zip the release suite deploys (.build/lambda/function.zip: scripts/package.sh, the static bootstrap that ships)"
deps_status=0
wait "$deps_pid" || deps_status=$?
[ "$deps_status" -eq 0 ] || { cat .build/static-deps.log >&2; echo "test.sh: scripts/build.sh --deps-only failed" >&2; exit 1; }
scripts/package.sh

step "Release tooling, started in the background: publish, canary/linear alias shifts with gates, rollback, template.yaml (moto, ministack)"
# Much of the release suite's time is spent waiting (release intervals, polls, emulators, a stack
# deploy), so the builds the later steps need run beside it and take the CPU it leaves idle. They run
# at normal priority: `nice swift build` would not help, SwiftPM starts its compiler jobs at priority 0.
# The suite's tests pass on a far busier machine (load 12 on 2 cores). Its output is shown when it ends.
start_suite scripts/test-release.sh

step "Building beside the release suite: everything (debug), the fuzz targets (.build-fuzz), the benchmark driver (release), the ThreadSanitizer tests (.build-tsan)"
swift build --build-tests
scripts/fuzz.sh --build-only
swift build -c release --product runtime-bench
if [ "${TEST_TSAN:-1}" = 1 ]; then
  swift build --build-tests --sanitize=thread --scratch-path .build-tsan
fi

step "Release tooling: the suite's result (scripts/test-release.sh)"
suite_result scripts/test-release.sh

step "The shipped bootstrap links no SwiftNIO (the static build's link map and symbols, .build-lambda)"
# What ships is the static executable scripts/build.sh made for the zip above: no object of a SwiftNIO
# module may be in its link map, and no symbol of one in the unstripped executable. The symbol check is
# shown to work on lambda-local (debug), which does link SwiftNIO, so that it cannot pass vacuously.
shipped_map=.build-lambda/bootstrap.map
shipped_bin=.build-lambda/release/bootstrap
nio_symbol='[0-9]_?C?NIO[A-Z]'   # a mangled module name: $s7NIOCore…, $s8NIOPosix…, $s17_NIODataStructures…
nio_symbols() { nm "$1" 2>/dev/null | grep -cE "$nio_symbol" || true; }
grep -q '/bootstrap\.build/' "$shipped_map" || { echo "test.sh: $shipped_map does not list bootstrap's objects" >&2; exit 1; }
if grep -qE '/_?C?NIO[A-Za-z0-9]*\.build/' "$shipped_map"; then
  echo "test.sh: the shipped bootstrap links SwiftNIO; it must not:" >&2
  grep -oE '[^ (]*/_?C?NIO[A-Za-z0-9]*\.build/[^ )]*' "$shipped_map" | sort -u | head -5 >&2
  exit 1
fi
[ "$(nio_symbols "$(swift build --show-bin-path)/lambda-local")" -gt 0 ] \
  || { echo "test.sh: the SwiftNIO symbol check finds nothing in lambda-local either: it checks nothing" >&2; exit 1; }
[ "$(nio_symbols "$shipped_bin")" -eq 0 ] || { echo "test.sh: $shipped_bin has SwiftNIO symbols; it must not" >&2; exit 1; }
echo "shipped bootstrap: $(stat -c %s .build/lambda/bootstrap) bytes stripped, no SwiftNIO" >&2

step "Your own function, started in the background: Examples/HelloWorld's test and zip (empty root), sam build and sam validate --lint"
# About 150 s of CPU the first time (the example's debug and static release builds compile the runtime's
# targets again in its own scratch paths; pip installs aws-sam-cli into .venv-sam), spent beside the
# steps below, which leave a core idle (the benchmark and the soak use one, the packaging suite mostly
# waits for ministack); the builds above would only slow down by as much. It reuses the libcurl cache and
# the bootstrap of the zip step (build.sh runs one at a time), and lambda-local in .build. Its result is
# taken before the release rehearsal, whose traffic is timed. Its output is shown when it ends.
start_suite scripts/test-example.sh

step "Documentation, started in the background: DocC for LambdaRuntime and LambdaLocal, without a warning (scripts/docs.sh)"
# Beside the fuzzing below, which runs one libFuzzer process for a fixed time per target: DocC takes
# the other core. It builds in .build, as the benchmark's driver does (SwiftPM serializes the two).
start_suite scripts/docs.sh

step "Fuzzing: LeanJSON, the API Gateway event parser, the profile handler (libFuzzer + ASan, FUZZ_SECONDS each)"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}" scripts/fuzz.sh

step "Documentation: the result (scripts/docs.sh)"
suite_result scripts/docs.sh

step "Benchmark smoke run (the packaged bootstrap vs a plain C libcurl loop)"
scripts/bench.sh --quick

step "Memory soak: the packaged bootstrap's RSS stays flat over 100,000 echo invocations (about 25 s)"
scripts/bench.sh --soak-check --reuse

step "Packaging: deterministic zip, run from an empty root, deployed to ministack as provided.al2 and al2023"
scripts/test-packaging.sh

step "Your own function: the suite's result (scripts/test-example.sh; its steps' own times are in its output)"
suite_result scripts/test-example.sh

step "The README's run command: scripts/run-local.sh as shipped and with --versions 2 --moto, stopped by Ctrl-C (scripts/test-run-local.sh)"
scripts/test-run-local.sh

step "Release rehearsal: release.sh and rollback.sh against lambda-local under load.sh traffic (scripts/test-rehearsal.sh)"
scripts/test-rehearsal.sh
if [ "${TEST_TSAN:-1}" = 1 ]; then
  step "ThreadSanitizer: the tests that run N concurrent loops (runtime, profile service, flag cache; .build-tsan)"
  # Its own scratch path (a TSan build shares nothing with the debug one); any report fails the step.
  # One test at a time. The throughput test and the one that counts 8 invocations in flight at one moment
  # are skipped (they run in the serial step): under TSan the work is no longer waiting but computing,
  # and a clean CI run saw only 4 of 8 overlap in time. Types whose
  # state is in a Synchronization.Mutex are suppressed (TSan cannot see that lock on Linux; see the file).
  TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/scripts/tsan-suppressions.txt ${TSAN_OPTIONS:-}" timeout 1500 \
    swift test --no-parallel --sanitize=thread --scratch-path .build-tsan \
    --filter 'ConcurrentLoopTests|ConcurrentTraceTests|ConcurrentProfileTests' \
    --skip 'throughputGrows|invocationsOverlapWhenTheHandlerWaits'
fi

# Tests that measure time or need threads of their own run apart, one at a time: in the parallel run,
# tests that block the 2-thread cooperative pool (libcurl calls, process waits) can starve them. The
# lambda-local streaming and Managed Instances suites move 25 MiB streams and 2,000 concurrent writes
# against 30 s invocation timeouts, which a loaded parallel run can exceed. The side-by-side concurrency
# test polls /_local/stats for a 2 s window in which two invocations run and a third waits; in the
# parallel run its own task waited 13 s for a cooperative thread between two polls (three runs of three).
serial_tests='ConcurrentLoopTests|ConcurrentTraceTests|ConcurrentProfileTests|BootstrapShutdownTests|PreTrafficHookTests'
serial_tests+='|FrontDoorStreamingTests|InvokeWithResponseStreamTests|ManagedInstancesTests|concurrencyRunsInstancesSideBySide'
step "Running swift test"
# shellcheck disable=SC2086
swift test --skip "$serial_tests" ${SWIFT_TEST_ARGS:-}

step "Running the timing-sensitive tests one at a time (N loops, SIGTERM, the pre-traffic hook, lambda-local streams)"
swift test --no-parallel --filter "$serial_tests"
