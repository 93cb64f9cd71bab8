#!/usr/bin/env bash
# Runs the release tests: publish.sh, release.sh, rollback.sh against local emulators, and template.yaml.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/test-release.sh [--help]

Tests the release scripts (publish.sh, release.sh, rollback.sh) and template.yaml, with the real aws
CLI against AWS emulators on 127.0.0.1 (no AWS account, no Docker):
  1. installs what is missing: Debian packages bats, parallel (GNU, for bats --jobs), jq, zip,
     shellcheck, curl, openssl (apt-get, as root or with sudo); Python virtual environments .venv-aws (awscli 1.x, moto
     server, cfn-lint, aws-sam-translator, awslambdaric, all pinned) and .venv-ministack (ministack and the SAM
     translator it uses for CloudFormation, pinned: ministack
     pins its own botocore, so it cannot share a venv with awscli)
  2. Tests/scripts/unit.bats: command lines, help texts against exit codes, the alias rules checked
     before any call, the gate arithmetic, shellcheck; and Tests/scripts/template.bats (cfn-lint and
     the SAM expansion of template.yaml) when it exists. They need no emulator and run while 3 and 4 do
  3. starts moto_server and ministack on free 127.0.0.1 ports and runs Tests/scripts/emulator.bats
     against both at once: every test on ministack (it enforces --revision-id and runs the test
     bootstraps, so the smoke test runs there), the tests tagged "moto" on moto (a second opinion),
     all with date, stat, sed, readlink that refuse GNU-only options; the emulators are stopped on exit.
     On ministack, RELEASE_TEST_JOBS tests run at once (each on its own function), and deploy.bats
     beside them
  4. Tests/scripts/deploy.bats on ministack, its tests in order: `cloudformation package/deploy` of template.yaml with
     DeploymentType=Scripted and the real .build/lambda/function.zip, GET /health through the HTTP API
     and the alias, then publish.sh + release.sh on the stack's function and /health again. Skipped
     (and reported) when scripts/package.sh has not written the zip yet
The last line is "N passed, M failed"; each test's time is in its TAP line ("# in N ms"). Logs of the
emulators and the suites' TAP output stay in .build-release/test-logs/.

Environment:
  RELEASE_TEST_FILTER   a regular expression: run only the tests whose name matches (bats --filter)
  RELEASE_TEST_JOBS     how many ministack tests run at once (bats --jobs; default 2, 1 for one at a time)

Exit status:
  0   every test passed
  1   a test failed
  2   the setup failed (packages, virtual environments, emulators)
  64  bad command line
  130 interrupted
USAGE
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) echo "test-release.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
esac

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
# shellcheck source=scripts/lib/emulators.sh
source scripts/lib/emulators.sh

step() { printf '\n==> %s\n' "$*" >&2; }
setup_failed() { echo "test-release.sh: setup failed: $*" >&2; exit 2; }
started=$SECONDS

step "Checking system packages"
ensure_debian_packages make:/usr/bin/make bats:/usr/bin/bats parallel:/usr/bin/parallel jq:/usr/bin/jq zip:/usr/bin/zip shellcheck:/usr/bin/shellcheck \
  curl:/usr/bin/curl openssl:/usr/bin/openssl || setup_failed "Debian packages"

step "Python virtual environments (.venv-aws, .venv-ministack)"
ensure_aws_venv || setup_failed ".venv-aws"
ensure_test_venv .venv-ministack ministack==1.5.33 aws-sam-translator==1.115.0 || setup_failed ".venv-ministack"
export PATH="$PWD/.venv-aws/bin:$PATH"
[ "$(command -v aws)" = "$PWD/.venv-aws/bin/aws" ] || setup_failed "aws is not the venv's"

logs=".build-release/test-logs"
mkdir -p "$logs"
suite_pids=()
cleanup() {
  local pid
  for pid in "${suite_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  stop_emulators
}
trap cleanup EXIT
trap 'exit 130' INT TERM

filter=()
[ -n "${RELEASE_TEST_FILTER:-}" ] && filter=(--filter "$RELEASE_TEST_FILTER")
jobs="${RELEASE_TEST_JOBS:-2}"
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "test-release.sh: RELEASE_TEST_JOBS must be a whole number ≥ 1, not '$jobs'" >&2; exit 64; }

step "Unit tests (no emulator), in the background"
unit_suites=(Tests/scripts/unit.bats)
[ ! -f Tests/scripts/template.bats ] || unit_suites+=(Tests/scripts/template.bats)
bats --tap --timing "${filter[@]}" "${unit_suites[@]}" >"$logs/unit.tap" 2>&1 &
suite_pids+=("$!")

step "Starting ministack and moto on 127.0.0.1"
MINISTACK_SERVICES=lambda,cloudwatch,iam,sts,logs,cloudformation,s3,apigateway,dynamodb,appconfig,appconfigdata \
  start_ministack "$PWD/.venv-ministack/bin/ministack" "$logs/ministack.log" || setup_failed "ministack"
ministack_url="$EMULATOR_URL"
start_moto "$PWD/.venv-aws/bin/moto_server" "$logs/moto.log" || setup_failed "moto"
moto_url="$EMULATOR_URL"
echo "ministack $ministack_url, moto $moto_url" >&2

step "Emulator tests: every test on ministack ($jobs at a time, deploy.bats beside them), the moto-tagged ones on moto (in parallel)"
EMU_URL="$ministack_url" EMU_NAME=ministack bats --tap --timing --jobs "$jobs" "${filter[@]}" Tests/scripts/emulator.bats \
  Tests/scripts/deploy.bats >"$logs/ministack.tap" 2>&1 &
suite_pids+=("$!")
EMU_URL="$moto_url" EMU_NAME=moto bats --tap --timing --filter-tags moto "${filter[@]}" Tests/scripts/emulator.bats \
  >"$logs/moto.tap" 2>&1 &
suite_pids+=("$!")
for pid in "${suite_pids[@]}"; do wait "$pid" || true; done
suite_pids=()

passed=0 failed=0 skipped=0
for suite in unit ministack moto; do
  tap="$logs/$suite.tap"
  printf '\n--- %s ---\n' "$suite" >&2
  sed "s/^/[$suite] /" "$tap" >&2
  planned="$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$tap" | head -1)"
  ok="$(grep -c '^ok ' "$tap" || true)"
  skip="$(grep -c '^ok .* # skip' "$tap" || true)"
  not_ok="$(grep -c '^not ok ' "$tap" || true)"
  # A suite that died before reporting every planned test counts the missing ones as failed.
  unreported=$(( ${planned:-0} - ok - not_ok ))
  [ -n "$planned" ] || unreported=1
  [ "$unreported" -gt 0 ] || unreported=0
  passed=$((passed + ok - skip))
  skipped=$((skipped + skip))
  failed=$((failed + not_ok + unreported))
done
echo >&2
[ "$skipped" -eq 0 ] || echo "($skipped skipped: see the '# skip' lines above)" >&2
echo "release tests took $((SECONDS - started))s" >&2
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || exit 1
