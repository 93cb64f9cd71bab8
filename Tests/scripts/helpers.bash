# shellcheck shell=bash
bats_require_minimum_version 1.5.0
# Shared setup for the release-script bats suites. Loaded with `load helpers`.

REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL

# use_spy: puts the aws spy (helpers/aws) first on the PATH; every call goes to $SPY.calls.
use_spy() {
  AWS_SPY_REAL="${AWS_SPY_REAL:-$(command -v aws)}"
  export AWS_SPY_REAL
  export AWS_SPY_LOG="$BATS_TEST_TMPDIR/spy"
  SPY="$AWS_SPY_LOG"
  : >"$SPY.calls"
  : >"$SPY.states"
  export PATH="$REPO/Tests/scripts/helpers:$PATH"
}

# spy_count OPERATION: how many recorded calls ran OPERATION (e.g. update-alias).
spy_count() { jq -c --arg op "$1" 'select(index($op) != null)' "$SPY.calls" | wc -l; }

# make_zip DIR N [HEALTH_STATUS [OTHER_STATUS]]: a small deployment zip (build N) whose bootstrap, a
# sh + curl custom runtime, answers API Gateway events: GET /health with HEALTH_STATUS (default 200),
# anything else with OTHER_STATUS (default 200). Like the real handler it writes one EMF line per
# invocation (Requests, ServerErrors, ClientErrors for Service = the function name, FunctionVersion =
# the executed version); no emulator extracts EMF from logs, so when the function has METRICS_URL in
# its environment it also puts the same counts there with PutMetricData. Prints the zip's path.
make_zip() {
  local dir="$1/src$2${3:+-$3}${4:+-$4}"
  mkdir -p "$dir"
  sed -e "s/@BUILD@/$2/" -e "s/@HEALTH@/${3:-200}/" -e "s/@OTHER@/${4:-200}/" \
    "$REPO/Tests/scripts/helpers/bootstrap.sh" >"$dir/bootstrap"
  chmod +x "$dir/bootstrap"
  (cd "$dir" && rm -f ../"${dir##*/}.zip" && zip -q -X ../"${dir##*/}.zip" bootstrap)
  printf '%s\n' "$1/${dir##*/}.zip"
}

# emu ARGS...: the real aws CLI against the emulator under test ($EMU_URL).
emu() { "${AWS_SPY_REAL:-aws}" --endpoint-url "$EMU_URL" --output json "$@"; }

# lambda_api METHOD PATH [JSON]: one Lambda REST-JSON call to the emulator under test with curl (signed
# with the test credentials), for setting up and reading fixtures. Each `aws` start-up costs about 0.7 s
# of CPU, which the suite spent several hundred times on fixtures alone; the scripts under test still
# make every one of their calls with the real aws CLI. Prints the answer; fails on an HTTP error.
lambda_api() {
  local body=()
  [ $# -lt 3 ] || body=(-H 'Content-Type: application/json' --data-binary "$3")
  curl -sS --fail-with-body --max-time 60 --aws-sigv4 aws:amz:us-east-1:lambda --user test:test \
    -X "$1" "${body[@]}" "$EMU_URL/2015-03-31/functions/$2"
}

# wait_active NAME QUALIFIER: polls until that version of NAME is Active (what `aws lambda wait
# function-active-v2` and `published-version-active` wait for), at most 60 s.
wait_active() {
  local state deadline=$((SECONDS + 60))
  while state="$(lambda_api GET "$1/configuration?Qualifier=$2" | jq -r '.State // "Active"')"; do
    case "$state" in
      Active) return 0 ;;
      Failed) echo "$1:$2 is in state Failed" >&2; return 1 ;;
    esac
    [ "$SECONDS" -lt "$deadline" ] || { echo "$1:$2 is still $state after 60 s" >&2; return 1; }
    sleep 0.1
  done
  return 1
}

# new_function NAME: creates NAME from make_zip 1 (provided.al2) as version 1, waits until it is Active.
# The role release-test is made once per suite (setup_file), which also exports ACCOUNT. The function's
# METRICS_URL is the emulator: its bootstraps put their request counts there.
new_function() {
  local zip
  zip="$(make_zip "$BATS_TEST_TMPDIR" 1)"
  lambda_api POST "" "$(jq -nc --arg name "$1" --arg role "arn:aws:iam::${ACCOUNT:?}:role/release-test" \
    --arg zip "$(base64 <"$zip" | tr -d '\n')" --arg metrics "$EMU_URL" \
    '{FunctionName: $name, Runtime: "provided.al2", Handler: "bootstrap", Role: $role, Publish: true,
      Code: {ZipFile: $zip}, Environment: {Variables: {METRICS_URL: $metrics}}}')" >/dev/null
  wait_active "$1" %24LATEST
}

# function_with_versions NAME [HEALTH_STATUS [OTHER_STATUS]]: NAME with published versions 1 and 2
# (version 2 answering as make_zip says) and alias live on version 1, made with plain API calls
# (publish.sh has its own tests).
function_with_versions() {
  local zip
  new_function "$1"
  zip="$(make_zip "$BATS_TEST_TMPDIR" 2 "${2:-}" "${3:-}")"
  lambda_api PUT "$1/code" "$(jq -nc --arg zip "$(base64 <"$zip" | tr -d '\n')" '{ZipFile: $zip, Publish: true}')" >/dev/null
  wait_active "$1" 2
  lambda_api POST "$1/aliases" '{"Name":"live","FunctionVersion":"1"}' >/dev/null
}

# release ARGS...: scripts/release.sh against the emulator under test, for function $FN. moto cannot
# run code, so there the smoke test is skipped (--skip-smoke-test); ministack runs the bootstraps.
release() {
  local skip=()
  [ "${EMU_NAME:-}" != moto ] || skip=(--skip-smoke-test)
  "$REPO/scripts/release.sh" --endpoint-url "$EMU_URL" --function "$FN" "${skip[@]}" "$@"
}

# put_requests FN VERSION REQUESTS SERVER_ERRORS [SECONDS_AGO]: helpers/put-requests (EMF metrics of
# VERSION put with put-metric-data). invoke_version FN VERSION COUNT [PATH]: helpers/invoke-version.
put_requests() { "$REPO/Tests/scripts/helpers/put-requests" "$@" >/dev/null; }
invoke_version() { "$REPO/Tests/scripts/helpers/invoke-version" "$@"; }

# portable_tools_only: puts Tests/scripts/helpers/portable first on the PATH: date, stat, sed, readlink,
# realpath and timeout that refuse GNU-only options (date -d, stat -c, sed -i, readlink -f, …) and
# log each refusal to $PORTABILITY_LOG; check_portable fails when anything was refused.
portable_tools_only() {
  export PATH="$REPO/Tests/scripts/helpers/portable:$PATH"
  export PORTABILITY_LOG="${BATS_FILE_TMPDIR:-$BATS_TEST_TMPDIR}/gnu-only.log"
  : >>"$PORTABILITY_LOG"
}
check_portable() {
  if [ -s "$PORTABILITY_LOG" ]; then
    echo "GNU-only tools were used:" >&2
    cat "$PORTABILITY_LOG" >&2
    return 1
  fi
}

# get_alias NAME: the alias live of NAME as the API returns it (JSON).
get_alias() { lambda_api GET "$1/aliases/live"; }

# alias_state NAME: the alias as {FunctionVersion, Weights} (compact JSON; absent weights = {}).
alias_state() {
  get_alias "$1" | jq -c '{FunctionVersion, Weights: (.RoutingConfig.AdditionalVersionWeights // {})}'
}

# set_alias NAME PRIMARY ROUTING_JSON [DESCRIPTION]: moves the alias directly (as another operator would).
set_alias() {
  lambda_api PUT "$1/aliases/live" "$(jq -nc --arg v "$2" --argjson routing "$3" --arg description "${4:-}" \
    '{FunctionVersion: $v, RoutingConfig: $routing} + (if $description == "" then {} else {Description: $description} end)')" \
    >/dev/null
}
