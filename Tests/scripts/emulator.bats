#!/usr/bin/env bats
# publish.sh, release.sh and rollback.sh with the real aws CLI against an emulator on 127.0.0.1.
# scripts/test-release.sh runs this file twice: EMU_NAME=ministack (enforces --revision-id, runs the
# test bootstraps, so the smoke test runs there) and EMU_NAME=moto (a second opinion; it cannot run
# code, so release() passes --skip-smoke-test). EMU_URL is the emulator's endpoint. On ministack its
# tests run two at a time (bats --jobs): each test works on functions and alarms of its own ($FN).
# Every test runs with date, stat, sed, readlink, realpath and timeout that refuse GNU-only options
# (Tests/scripts/helpers/portable): the scripts must work on macOS too.

load helpers

setup_file() {
  : "${EMU_URL:?EMU_URL must point at the emulator}" "${EMU_NAME:?EMU_NAME must be ministack or moto}"
  emu iam create-role --role-name release-test --assume-role-policy-document \
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}' \
    >/dev/null 2>&1 || true
  ACCOUNT="$(emu sts get-caller-identity | jq -r .Account)"
  export ACCOUNT
}

setup() {
  FN="rel${BATS_TEST_NUMBER}-$RANDOM"
  E=(--endpoint-url "$EMU_URL" --function "$FN")
  portable_tools_only
}

teardown() { check_portable; }

# ministack_only: skips on moto (it cannot run code, keeps no composite alarms).
ministack_only() { [ "$EMU_NAME" = ministack ] || skip "needs ministack: $1"; }

# bats test_tags=moto
@test "publish.sh publishes two versions, creates the alias once, reports nothing new" {
  emu lambda create-function --function-name "$FN" --runtime provided.al2 --handler bootstrap \
    --role "arn:aws:iam::$ACCOUNT:role/release-test" --zip-file "fileb://$(make_zip "$BATS_TEST_TMPDIR" 1)" >/dev/null
  emu lambda wait function-active-v2 --function-name "$FN"
  zip2="$(make_zip "$BATS_TEST_TMPDIR" 2)"
  zip3="$(make_zip "$BATS_TEST_TMPDIR" 3)"

  run --separate-stderr "$REPO/scripts/publish.sh" "${E[@]}" --zip "$zip2"
  [ "$status" -eq 0 ] || { echo "$stderr"; false; }
  [ "${lines[-1]}" = 1 ]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
  [ "$(emu lambda get-function-configuration --function-name "$FN" --qualifier 1 | jq -r .CodeSha256)" \
    = "$(openssl dgst -sha256 -binary "$zip2" | openssl base64 -A)" ]

  # --zip relative to the caller's directory; the upload waits for function-updated-v2 first, and the
  # publish is guarded by the function's revision after the upload.
  use_spy
  cd "$BATS_TEST_TMPDIR"
  run --separate-stderr "$REPO/scripts/publish.sh" "${E[@]}" --zip "${zip3##*/}"
  [ "$status" -eq 0 ] || { echo "$stderr"; false; }
  [ "${lines[-1]}" = 2 ]
  [ "$(jq -r 'select(index("update-function-code") or index("function-updated-v2")) | if index("wait") then "wait" else "upload" end' "$SPY.calls" | paste -sd, -)" = wait,upload,wait ]
  if [ "$EMU_NAME" = ministack ]; then  # moto returns no RevisionId for a function
    [ "$(jq -c 'select(index("publish-version")) | select(index("--revision-id"))' "$SPY.calls" | wc -l)" -eq 1 ]
  fi
  # The existing alias is not moved by publish.sh.
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]

  run --separate-stderr "$REPO/scripts/publish.sh" "${E[@]}" --zip "$zip3"
  [ "$status" -eq 3 ]
  [ "${lines[-1]}" = 2 ]
  [[ "$stderr" == *"nothing new was published"* ]]
}

@test "publish.sh --dry-run prints the calls and changes nothing" {
  new_function "$FN"
  use_spy
  before="$(emu lambda list-versions-by-function --function-name "$FN" | jq -c '[.Versions[].Version]')"
  run --separate-stderr "$REPO/scripts/publish.sh" "${E[@]}" --dry-run --zip "$(make_zip "$BATS_TEST_TMPDIR" 2)"
  [ "$status" -eq 0 ] || { echo "$stderr"; false; }
  [[ "$output" == *"lambda update-function-code --function-name $FN --zip-file fileb://"*"--revision-id "* ]]
  [[ "$output" == *"lambda publish-version --function-name $FN --code-sha256 "* ]]
  [ "$(spy_count update-function-code)" -eq 0 ]
  [ "$(spy_count publish-version)" -eq 0 ]
  [ "$(emu lambda list-versions-by-function --function-name "$FN" | jq -c '[.Versions[].Version]')" = "$before" ]
}

@test "publish.sh refuses to publish when \$LATEST is not our zip (--code-sha256 guard)" {
  new_function "$FN"
  # Someone uploads other code right after our upload: the publish must fail, not publish theirs.
  fake_aws="$BATS_TEST_TMPDIR/bin"
  mkdir -p "$fake_aws"
  other="$(make_zip "$BATS_TEST_TMPDIR" 9)"
  real="$(command -v aws)"
  cat >"$fake_aws/aws" <<SH
#!/usr/bin/env bash
if [[ " \$* " == *" publish-version "* ]]; then
  "$real" --endpoint-url "$EMU_URL" lambda update-function-code --function-name "$FN" --zip-file "fileb://$other" >/dev/null
  "$real" --endpoint-url "$EMU_URL" lambda wait function-updated-v2 --function-name "$FN"
fi
exec "$real" "\$@"
SH
  chmod +x "$fake_aws/aws"
  PATH="$fake_aws:$PATH" run --separate-stderr "$REPO/scripts/publish.sh" "${E[@]}" --zip "$(make_zip "$BATS_TEST_TMPDIR" 2)"
  echo "$stderr"
  [ "$status" -eq 1 ]
  # AWS and moto refuse the publish (PreconditionFailed); ministack ignores --code-sha256 and publishes
  # their code, which publish.sh then refuses to report or put behind the alias.
  [[ "$stderr" == *PreconditionFailed* ]] || [[ "$stderr" == *"does not hold our zip"* ]]
  ! get_alias "$FN" >/dev/null 2>&1
}

# bats test_tags=moto
@test "release.sh moves the alias 10% -> 50% -> 100% to the newest version, get-alias checked after each step" {
  function_with_versions "$FN"
  use_spy
  export AWS_SPY_STATES=1
  run --separate-stderr release --steps 10,50,100 --interval 0.2 --poll 0.1
  [ "$status" -eq 0 ] || { echo "$stderr"; false; }
  [ "${lines[-1]}" = 2 ]
  # What an independent get-alias showed right after each update-alias:
  run cat "$SPY.states"
  [ "${#lines[@]}" -eq 3 ]
  [ "${lines[0]}" = '{"FunctionVersion":"1","Weights":{"2":0.1}}' ]
  [ "${lines[1]}" = '{"FunctionVersion":"1","Weights":{"2":0.5}}' ]
  [ "${lines[2]}" = '{"FunctionVersion":"2","Weights":{}}' ]
  # Every update-alias carried --revision-id and a JSON routing config; promotion sent the explicit empty map.
  [ "$(jq -c 'select(index("update-alias")) | select(index("--revision-id") and index("--routing-config"))' "$SPY.calls" | wc -l)" -eq 3 ]
  [ "$(jq -r 'select(index("update-alias")) | .[index("--routing-config") + 1]' "$SPY.calls" | tail -1)" = '{"AdditionalVersionWeights":{}}' ]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"2","Weights":{}}' ]
  [[ "$(get_alias "$FN" | jq -r .Description)" == *"previous=1"* ]]
}

# bats test_tags=moto
@test "an alarm forced into ALARM mid-release rolls back to the old version with no weights" {
  function_with_versions "$FN"
  alarm="release-test-$FN"
  emu cloudwatch put-metric-alarm --alarm-name "$alarm" --namespace "ReleaseTest/$FN" --metric-name Errors \
    --statistic Sum --period 60 --evaluation-periods 1 --threshold 1 --comparison-operator GreaterThanOrEqualToThreshold \
    --treat-missing-data notBreaching
  emu cloudwatch set-alarm-state --alarm-name "$alarm" --state-value OK --state-reason "test start"
  use_spy
  export AWS_SPY_STATES=1
  export AWS_SPY_AFTER_UPDATE="1:\"\$AWS_SPY_REAL\" --endpoint-url $EMU_URL cloudwatch set-alarm-state --alarm-name $alarm --state-value ALARM --state-reason 'forced by the test'"
  run --separate-stderr release --version 2 --interval 3 --poll 0.5 --alarm "$alarm"
  [ "$status" -eq 4 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"alarm in ALARM: $alarm"* ]]
  [[ "$stderr" == *"is back on version 1"* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
  # The canary step happened, then the rollback; 50% and the promotion never did.
  run cat "$SPY.states"
  [ "${lines[0]}" = '{"FunctionVersion":"1","Weights":{"2":0.1}}' ]
  [ "${lines[1]}" = '{"FunctionVersion":"1","Weights":{}}' ]
  [ "${#lines[@]}" -eq 2 ]
}

@test "Errors of the new version (ExecutedVersion, alias Resource) over the threshold roll back" {
  function_with_versions "$FN"
  use_spy
  dims="FunctionName=$FN,Resource=$FN:live,ExecutedVersion=2"
  export AWS_SPY_AFTER_UPDATE="1:\"\$AWS_SPY_REAL\" --endpoint-url $EMU_URL cloudwatch put-metric-data --namespace AWS/Lambda --metric-name Errors --dimensions $dims --value 3 --unit Count"
  run --separate-stderr release --version 2 --interval 2 --poll 0.5 --error-threshold 2
  [ "$status" -eq 4 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"version 2 had 3 Errors"* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
}

@test "Errors within the threshold, or of another version, do not stop the release" {
  function_with_versions "$FN"
  use_spy
  export AWS_SPY_AFTER_UPDATE="1:\"\$AWS_SPY_REAL\" --endpoint-url $EMU_URL cloudwatch put-metric-data --namespace AWS/Lambda --metric-name Errors --dimensions FunctionName=$FN,Resource=$FN:live,ExecutedVersion=1 --value 5 --unit Count && \"\$AWS_SPY_REAL\" --endpoint-url $EMU_URL cloudwatch put-metric-data --namespace AWS/Lambda --metric-name Errors --dimensions FunctionName=$FN,Resource=$FN:live,ExecutedVersion=2 --value 1 --unit Count"
  run --separate-stderr release --version 2 --steps 50,100 --interval 1 --poll 0.5 --error-threshold 1
  [ "$status" -eq 0 ] || { echo "status $status: $stderr"; false; }
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"2","Weights":{}}' ]
}

# bats test_tags=moto
@test "rollback.sh in the middle of a canary returns to the primary; release.sh then stops (exit 5)" {
  function_with_versions "$FN"
  use_spy
  export AWS_SPY_AFTER_UPDATE="1:$REPO/scripts/rollback.sh --endpoint-url $EMU_URL --function $FN"
  run --separate-stderr release --version 2 --interval 0.5 --poll 0.5
  [ "$status" -eq 5 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *CONFLICT* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
  [[ "$(get_alias "$FN" | jq -r .Description)" == *"state=rolled-back"* ]]
}

# bats test_tags=moto
@test "an alias changed by someone else mid-release stops release.sh without clobbering the change" {
  function_with_versions "$FN"
  use_spy
  export AWS_SPY_AFTER_UPDATE="1:\"\$AWS_SPY_REAL\" --endpoint-url $EMU_URL lambda update-alias --function-name $FN --name live --function-version 1 --routing-config '{\"AdditionalVersionWeights\":{\"2\":0.3}}'"
  run --separate-stderr release --version 2 --interval 0.5 --poll 0.5
  [ "$status" -eq 5 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"changed by someone else"* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{"2":0.3}}' ]
  [ "$(spy_count update-alias)" -eq 1 ]
}

@test "a change just before our update-alias is refused by --revision-id (412), not clobbered" {
  [ "$EMU_NAME" = ministack ] || skip "moto does not enforce --revision-id (release.sh's own state check covers it there)"
  function_with_versions "$FN"
  use_spy
  export AWS_SPY_BEFORE_UPDATE="2:\"\$AWS_SPY_REAL\" --endpoint-url $EMU_URL lambda update-alias --function-name $FN --name live --function-version 1 --routing-config '{\"AdditionalVersionWeights\":{\"2\":0.2}}'"
  run --separate-stderr release --version 2 --interval 0 --poll 0.5
  [ "$status" -eq 5 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *PreconditionFailed* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{"2":0.2}}' ]
}

@test "re-running release.sh on an alias part-way continues from where it stands" {
  function_with_versions "$FN"
  set_alias "$FN" 1 '{"AdditionalVersionWeights":{"2":0.1}}'
  use_spy
  export AWS_SPY_STATES=1
  run --separate-stderr release --version 2 --steps 10,50,100 --interval 0 --poll 0.5
  [ "$status" -eq 0 ] || { echo "$stderr"; false; }
  [[ "$stderr" == *"step 10%: already at or past it"* ]]
  run cat "$SPY.states"
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = '{"FunctionVersion":"1","Weights":{"2":0.5}}' ]
  [ "${lines[1]}" = '{"FunctionVersion":"2","Weights":{}}' ]
  # Released already: a third run changes nothing.
  run --separate-stderr release --version 2 --interval 0
  [ "$status" -eq 0 ]
  [ "$(spy_count update-alias)" -eq 2 ]
}

# bats test_tags=moto
@test "rule violations that need the alias are refused before any change" {
  function_with_versions "$FN"
  use_spy
  # Another version is mid-canary.
  emu lambda wait function-updated-v2 --function-name "$FN"
  emu lambda update-function-code --function-name "$FN" --zip-file "fileb://$(make_zip "$BATS_TEST_TMPDIR" 3)" \
    --publish >/dev/null
  set_alias "$FN" 1 '{"AdditionalVersionWeights":{"2":0.1}}'
  run --separate-stderr release --version 3 --interval 0
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"part-way through a release of version 2"* ]]
  # A version that does not exist.
  run --separate-stderr release --version 99 --interval 0
  [ "$status" -eq 2 ]
  # A missing alarm.
  set_alias "$FN" 1 '{"AdditionalVersionWeights":{}}'
  run --separate-stderr release --version 2 --alarm "no-such-alarm-$FN" --interval 0
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"alarm 'no-such-alarm-$FN' does not exist"* ]]
  # The emulators accept an alias Lambda would refuse (two additional versions); release.sh does not
  # build on it, rollback.sh repairs it.
  set_alias "$FN" 1 '{"AdditionalVersionWeights":{"2":0.1,"3":0.1}}'
  run --separate-stderr release --version 3 --interval 0
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"at most one additional version"* ]]
  [ "$(spy_count update-alias)" -eq 0 ]
  run --separate-stderr "$REPO/scripts/rollback.sh" "${E[@]}"
  [ "$status" -eq 0 ]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
}

@test "rollback.sh after a release returns to the previous version; --to N; a second run is harmless" {
  function_with_versions "$FN"
  # Where release.sh leaves a finished release.
  set_alias "$FN" 2 '{"AdditionalVersionWeights":{}}' "release.sh: previous=1 target=2 state=released"
  use_spy
  run --separate-stderr "$REPO/scripts/rollback.sh" "${E[@]}"
  [ "$status" -eq 0 ] || { echo "$stderr"; false; }
  [ "${lines[-1]}" = 1 ]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
  # No revision guard on a rollback; the empty map is explicit.
  [ "$(jq -c 'select(index("update-alias")) | select(index("--revision-id"))' "$SPY.calls" | wc -l)" -eq 0 ]
  [ "$(jq -r 'select(index("update-alias")) | .[index("--routing-config") + 1]' "$SPY.calls")" = '{"AdditionalVersionWeights":{}}' ]
  # A second rollback changes nothing, and says so.
  run --separate-stderr "$REPO/scripts/rollback.sh" "${E[@]}"
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"nothing changed: $FN:live already points to version 1 with no weights"* ]]
  [ "$(spy_count update-alias)" -eq 1 ]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
  run --separate-stderr "$REPO/scripts/rollback.sh" "${E[@]}" --to 2
  [ "$status" -eq 0 ]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"2","Weights":{}}' ]
}

@test "release.sh and rollback.sh --dry-run print the update-alias calls and change nothing" {
  function_with_versions "$FN"
  use_spy
  run --separate-stderr release --version 2 --dry-run --interval 0
  [ "$status" -eq 0 ] || { echo "$stderr"; false; }
  [[ "$output" == *"update-alias --function-name $FN --name live --function-version 1 --routing-config '{\"AdditionalVersionWeights\":{\"2\":0.1}}' --revision-id "* ]]
  [[ "$output" == *"--function-version 2 --routing-config '{\"AdditionalVersionWeights\":{}}'"* ]]
  [ "$EMU_NAME" = moto ] || [[ "$output" == *"# smoke test (invokes code, so not run in a dry run): "*"lambda invoke --function-name $FN --qualifier 2 --payload fileb://"*"http-api-v2-get-health.json"* ]]
  [ "$(spy_count invoke)" -eq 0 ]
  set_alias "$FN" 1 '{"AdditionalVersionWeights":{"2":0.5}}'
  run --separate-stderr "$REPO/scripts/rollback.sh" "${E[@]}" --dry-run
  [ "$status" -eq 0 ]
  [[ "$output" == *"update-alias --function-name $FN --name live --function-version 1 --routing-config '{\"AdditionalVersionWeights\":{}}'"* ]]
  [ "$(spy_count update-alias)" -eq 0 ]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{"2":0.5}}' ]
}

# --- Smoke test -------------------------------------------------------------------------------------

@test "smoke test: a version whose /health answers 503 is refused before any weight (exit 2)" {
  ministack_only "the smoke test runs the bootstrap"
  function_with_versions "$FN" 503
  use_spy
  run --separate-stderr release --version 2 --interval 0
  [ "$status" -eq 2 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"SMOKE TEST FAILED, release refused: version 2 answered status 503 to "*"http-api-v2-get-health.json; body: {\"status\":\"failing\",\"build\":2}"* ]]
  [ "$(spy_count update-alias)" -eq 0 ]
  [ "$(jq -c 'select(index("invoke")) | .[index("--qualifier") + 1]' "$SPY.calls")" = '"2"' ]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
  # --skip-smoke-test lets it through, loudly.
  run --separate-stderr release --version 2 --interval 0 --skip-smoke-test
  [ "$status" -eq 0 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"WARNING: --skip-smoke-test"* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"2","Weights":{}}' ]
}

@test "smoke test: --smoke-event's event must answer 2xx too; a passing smoke test lets the release go on" {
  ministack_only "the smoke test runs the bootstrap"
  # Version 2: /health 200, anything else 404.
  function_with_versions "$FN" 200 404
  jq '.rawPath = "/profiles/u1" | .requestContext.http.path = "/profiles/u1" | .routeKey = "GET /profiles/{userId}"' \
    "$REPO/events/http-api-v2-get-health.json" >"$BATS_TEST_TMPDIR/get-profile.json"
  use_spy
  cd "$BATS_TEST_TMPDIR"
  run --separate-stderr release --version 2 --interval 0 --smoke-event get-profile.json
  [ "$status" -eq 2 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"smoke test: version 2 answered status 200 to "*"http-api-v2-get-health.json"* ]]
  [[ "$stderr" == *"version 2 answered status 404 to get-profile.json"* ]]
  [ "$(spy_count update-alias)" -eq 0 ]
  run --separate-stderr release --version 2 --interval 0
  [ "$status" -eq 0 ] || { echo "status $status: $stderr"; false; }
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"2","Weights":{}}' ]
}

# --- The error-rate gate ----------------------------------------------------------------------------

@test "rate gate: ServerErrors over --max-error-rate inside the first step roll back (exit 4)" {
  function_with_versions "$FN"
  use_spy
  export AWS_SPY_STATES=1
  # 3 of 30 requests failed, plus the smoke test's GET /health (the bootstrap counts it): 3/31 > 1%.
  export AWS_SPY_AFTER_UPDATE="1:$REPO/Tests/scripts/helpers/put-requests $FN 2 30 3"
  run --separate-stderr release --version 2 --interval 2 --poll 0.5
  [ "$status" -eq 4 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"version 2 answered 3 ServerErrors in 31 Requests (rate 0.0968, over --max-error-rate 0.01; ProfileService, Service=$FN, FunctionVersion=2)"* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
  run cat "$SPY.states"
  [ "${#lines[@]}" -eq 2 ] && [ "${lines[0]}" = '{"FunctionVersion":"1","Weights":{"2":0.1}}' ]
}

@test "rate gate: a version at or under the limit is promoted; below --min-requests it is not judged" {
  function_with_versions "$FN"
  use_spy
  # 1 failed of 99, plus the smoke test's request: exactly 1%, at the limit, passes.
  export AWS_SPY_AFTER_UPDATE="1:$REPO/Tests/scripts/helpers/put-requests $FN 2 99 1"
  run --separate-stderr release --version 2 --steps 50,100 --interval 1 --poll 0.5 --bake 0
  [ "$status" -eq 0 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"100 requests, 1 server errors (rate 0.0100, limit 0.01)"* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"2","Weights":{}}' ]
  # 10 requests, all failed (and the smoke test's), but fewer than --min-requests: not enough traffic
  # to judge a rate (the arithmetic itself is in unit.bats).
  FN="$FN-b"
  function_with_versions "$FN"
  export AWS_SPY_AFTER_UPDATE="1:$REPO/Tests/scripts/helpers/put-requests $FN 2 10 10"
  rm -f "$SPY.update-alias-count"
  run --separate-stderr release --version 2 --steps 50,100 --interval 1 --poll 0.5 --bake 0 --min-requests 12
  [ "$status" -eq 0 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"11 requests, 10 server errors: not enough traffic yet to judge the rate (--min-requests 12)"* ]]
}

@test "gate window: failures from 3 minutes before the release do not count; in a resumed release they do" {
  # A fresh release starts its window now: version 2's failures 3 minutes ago (say, a release attempt
  # rolled back earlier) are not this release's, and it is promoted.
  function_with_versions "$FN"
  put_requests "$FN" 2 50 50 180
  run --separate-stderr release --version 2 --steps 50,100 --interval 1 --poll 0.5 --bake 0
  [ "$status" -eq 0 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"gates pass for version 2 since "*": 1 requests, 0 server errors"* ]]  # the smoke test's
  # A canary started 5 minutes ago (release.sh recorded its start in the alias description), resumed
  # now: requests of 3 minutes ago that landed late are inside its window, and roll it back.
  FN="$FN-b"
  function_with_versions "$FN"
  started="$(jq -nr --argjson t "$(( $(date +%s) - 300 ))" '$t | todate')"
  set_alias "$FN" 1 '{"AdditionalVersionWeights":{"2":0.1}}' "release.sh: previous=1 target=2 state=canary started=$started"
  put_requests "$FN" 2 50 50 180
  run --separate-stderr release --version 2 --interval 1 --poll 0.5
  [ "$status" -eq 4 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"50 ServerErrors in 50 Requests"*"since $started"* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
}

@test "a version that answers 500 to every request never reaches 50%: refused by the smoke test, else rolled back at 10%" {
  ministack_only "the bootstrap runs and puts its own metrics"
  function_with_versions "$FN" 500 500
  use_spy
  export AWS_SPY_STATES=1
  run --separate-stderr release --version 2 --interval 2 --poll 0.5
  [ "$status" -eq 2 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"answered status 500"* ]]
  [ "$(spy_count update-alias)" -eq 0 ]
  # Without the smoke test: the 10% step's traffic (sent to version 2, as the alias would; ministack
  # does not route by weight) all fails; the bootstrap's metrics (its EMF counts, put with
  # PutMetricData: no emulator reads EMF from logs) roll it back before 50%.
  export AWS_SPY_AFTER_UPDATE="1:$REPO/Tests/scripts/helpers/invoke-version $FN 2 25 >$BATS_TEST_TMPDIR/statuses"
  run --separate-stderr release --version 2 --interval 3 --poll 0.5 --skip-smoke-test
  [ "$status" -eq 4 ] || { echo "status $status: $stderr"; false; }
  [ "$(sort -u "$BATS_TEST_TMPDIR/statuses")" = 500 ]
  [[ "$stderr" == *"ServerErrors in "*" Requests (rate 1.0000"* ]]
  run cat "$SPY.states"
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = '{"FunctionVersion":"1","Weights":{"2":0.1}}' ]
  [ "${lines[1]}" = '{"FunctionVersion":"1","Weights":{}}' ]
}

# --- Resume, bake, and rollbacks that re-read the alias --------------------------------------------------

@test "a resumed release watches the current step a full interval, and bakes a full interval after promotion" {
  function_with_versions "$FN"
  set_alias "$FN" 1 '{"AdditionalVersionWeights":{"2":0.5}}'
  use_spy
  export AWS_SPY_BEFORE_UPDATE="1:date +%s >$BATS_TEST_TMPDIR/promoted"
  started="$(date +%s)"
  run --separate-stderr release --version 2 --interval 3 --bake 3 --poll 0.5
  ended="$(date +%s)"
  [ "$status" -eq 0 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"resuming: version 2 already serves traffic"* ]]
  [[ "$stderr" == *"baking: watching version 2 at 100% for 3s"* ]]
  promoted="$(cat "$BATS_TEST_TMPDIR/promoted")"
  echo "started $started, promoted $promoted, ended $ended"
  [ $((promoted - started)) -ge 3 ]
  [ $((ended - promoted)) -ge 3 ]
  [ "$(spy_count update-alias)" -eq 1 ]
  # It read the gates during the resumed step and during the bake: get-metric-data on both sides of the
  # promotion (the times above show each lasted its full interval; how many polls fit in one depends on
  # how fast aws starts on a busy machine, so their number is not asserted).
  [[ "$(jq -rs 'map(if index("update-alias") then "U" elif index("get-metric-data") then "M" else empty end) | add' \
    "$SPY.calls")" =~ ^M+UM+$ ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"2","Weights":{}}' ]
}

# release_with_bake_event COMMAND: releases version 2 over 50,100 with an 8 s bake; COMMAND runs (bash -c)
# in the background 2 s after the promotion's update-alias (release.sh has verified it by then).
release_with_bake_event() {
  function_with_versions "$FN"
  use_spy
  export AWS_SPY_AFTER_UPDATE="2:(sleep 2; $1) >$BATS_TEST_TMPDIR/background.log 2>&1 &"
  run --separate-stderr release --version 2 --steps 50,100 --interval 0 --bake 8 --poll 0.5
}

@test "--bake: a failure after the promotion rolls back to the old version (exit 4)" {
  release_with_bake_event "$REPO/Tests/scripts/helpers/put-requests $FN 2 40 40"
  [ "$status" -eq 4 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"baking: watching version 2 at 100%"* ]]
  [[ "$stderr" == *"40 ServerErrors in 41 Requests"* ]]  # and the smoke test's request
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
}

# bats test_tags=moto
@test "a foreign change during the bake is not clobbered by the automatic rollback (exit 5)" {
  # During the bake, another operator moves the alias back to a 30% canary, and version 2 fails.
  release_with_bake_event "\"\$AWS_SPY_REAL\" --endpoint-url $EMU_URL lambda update-alias --function-name $FN --name live --function-version 1 --routing-config '{\"AdditionalVersionWeights\":{\"2\":0.3}}' >/dev/null && $REPO/Tests/scripts/helpers/put-requests $FN 2 40 40"
  [ "$status" -eq 5 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"GATE FAILED"* ]]
  [[ "$stderr" == *"changed by someone else before the rollback; NOT rolled back: it shows primary 1, version 2 at 30%"* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{"2":0.3}}' ]
  # Two update-alias calls: 50% and the promotion; no rollback.
  [ "$(spy_count update-alias)" -eq 2 ]
}

# --- Alarms and --function as an ARN --------------------------------------------------------------

# bats test_tags=moto
@test "an --alarm watching another version (ExecutedVersion, metric math, composite) is refused (exit 2)" {
  function_with_versions "$FN"
  use_spy
  emu cloudwatch put-metric-alarm --alarm-name "old-$FN" --namespace AWS/Lambda --metric-name Errors --statistic Sum \
    --period 60 --evaluation-periods 1 --threshold 1 --comparison-operator GreaterThanOrEqualToThreshold \
    --dimensions "Name=FunctionName,Value=$FN" "Name=Resource,Value=$FN:live" Name=ExecutedVersion,Value=1
  run --separate-stderr release --version 2 --interval 0 --alarm "old-$FN"
  [ "$status" -eq 2 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"alarm old-$FN: ExecutedVersion=1"* ]]
  [[ "$stderr" == *"watch another version than 2"* ]]
  if [ "$EMU_NAME" = moto ]; then
    # A metric-math rate alarm on the EMF metrics of version 1 (ministack does not keep Metrics).
    emu cloudwatch put-metric-alarm --alarm-name "rate-$FN" --evaluation-periods 1 --threshold 0.01 \
      --comparison-operator GreaterThanThreshold --metrics "$(jq -nc --arg f "$FN" '
        [{Name: "Service", Value: $f}, {Name: "FunctionVersion", Value: "1"}] as $d
        | [{Id: "e", ReturnData: false, MetricStat: {Metric: {Namespace: "ProfileService", MetricName: "ServerErrors", Dimensions: $d}, Period: 60, Stat: "Sum"}},
           {Id: "r", ReturnData: false, MetricStat: {Metric: {Namespace: "ProfileService", MetricName: "Requests", Dimensions: $d}, Period: 60, Stat: "Sum"}},
           {Id: "rate", Expression: "e / r", ReturnData: true}]')"
    run --separate-stderr release --version 2 --interval 0 --alarm "rate-$FN"
    [ "$status" -eq 2 ] || { echo "status $status: $stderr"; false; }
    [[ "$stderr" == *"alarm rate-$FN: FunctionVersion=1"* ]]
  else
    # A composite alarm whose rule includes it (moto has no composite alarms).
    emu cloudwatch put-composite-alarm --alarm-name "any-$FN" --alarm-rule "ALARM(\"old-$FN\") OR ALARM(\"old-$FN\")"
    run --separate-stderr release --version 2 --interval 0 --alarm "any-$FN"
    [ "$status" -eq 2 ] || { echo "status $status: $stderr"; false; }
    [[ "$stderr" == *"alarm old-$FN: ExecutedVersion=1"* ]]
  fi
  [ "$(spy_count update-alias)" -eq 0 ]
  [ "$(spy_count invoke)" -eq 0 ]
}

@test "a composite --alarm going to ALARM mid-release rolls back" {
  ministack_only "moto has no composite alarms"
  function_with_versions "$FN"
  emu cloudwatch put-metric-alarm --alarm-name "part-$FN" --namespace "ReleaseTest/$FN" --metric-name Errors \
    --statistic Sum --period 60 --evaluation-periods 1 --threshold 1 --comparison-operator GreaterThanOrEqualToThreshold
  emu cloudwatch put-composite-alarm --alarm-name "all-$FN" --alarm-rule "ALARM(\"part-$FN\")"
  emu cloudwatch set-alarm-state --alarm-name "all-$FN" --state-value OK --state-reason "test start"
  use_spy
  export AWS_SPY_AFTER_UPDATE="1:\"\$AWS_SPY_REAL\" --endpoint-url $EMU_URL cloudwatch set-alarm-state --alarm-name all-$FN --state-value ALARM --state-reason 'forced by the test'"
  run --separate-stderr release --version 2 --interval 3 --poll 0.5 --alarm "all-$FN"
  [ "$status" -eq 4 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"alarm in ALARM: all-$FN (forced by the test)"* ]]
  [ "$(jq -c 'select(index("describe-alarms")) | .[index("--alarm-types") + 1:] ' "$SPY.calls" | head -1)" = '["MetricAlarm","CompositeAlarm"]' ]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
}

# bats test_tags=moto
@test "an alarm already in ALARM blocks the release, unless --allow-alarm; an allowed alarm that clears and fires again rolls back" {
  function_with_versions "$FN"
  alarm="firing-$FN"
  emu cloudwatch put-metric-alarm --alarm-name "$alarm" --namespace "ReleaseTest/$FN" --metric-name Errors \
    --statistic Sum --period 60 --evaluation-periods 1 --threshold 1 --comparison-operator GreaterThanOrEqualToThreshold
  emu cloudwatch set-alarm-state --alarm-name "$alarm" --state-value ALARM --state-reason "the bug being fixed"
  use_spy
  run --separate-stderr release --version 2 --interval 0 --alarm "$alarm"
  [ "$status" -eq 2 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"alarm in ALARM before the release starts: $alarm (--allow-alarm NAME releases anyway, knowingly)"* ]]
  [ "$(spy_count update-alias)" -eq 0 ]
  # Allowed: the release goes on while the alarm stays in ALARM.
  run --separate-stderr release --version 2 --steps 50,100 --interval 1 --poll 0.5 --allow-alarm "$alarm"
  [ "$status" -eq 0 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"WARNING: alarm '$alarm' is in ALARM and allowed (--allow-alarm)"* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"2","Weights":{}}' ]
  # Released version 2, now version 3: the fix clears the alarm at 10%, then it fires again at 50%.
  emu lambda update-function-code --function-name "$FN" --zip-file "fileb://$(make_zip "$BATS_TEST_TMPDIR" 3)" --publish >/dev/null
  emu lambda wait published-version-active --function-name "$FN" --qualifier 3
  rm -f "$SPY.update-alias-count"
  export AWS_SPY_AFTER_UPDATE="1:\"\$AWS_SPY_REAL\" --endpoint-url $EMU_URL cloudwatch set-alarm-state --alarm-name $alarm --state-value OK --state-reason cleared"
  export AWS_SPY_BEFORE_UPDATE="2:\"\$AWS_SPY_REAL\" --endpoint-url $EMU_URL cloudwatch set-alarm-state --alarm-name $alarm --state-value ALARM --state-reason 'fired again'"
  run --separate-stderr release --version 3 --interval 1.5 --poll 0.5 --allow-alarm "$alarm"
  [ "$status" -eq 4 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"alarm '$alarm' has left ALARM: it is watched from now on"* ]]
  [[ "$stderr" == *"alarm in ALARM: $alarm (fired again)"* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"2","Weights":{}}' ]
}

@test "--function as an ARN: the calls take the ARN, the gates use the function's name" {
  function_with_versions "$FN"
  arn="$(emu lambda get-function-configuration --function-name "$FN" | jq -r .FunctionArn)"
  use_spy
  export AWS_SPY_AFTER_UPDATE="1:$REPO/Tests/scripts/helpers/put-requests $FN 2 30 30"
  run --separate-stderr "$REPO/scripts/release.sh" --endpoint-url "$EMU_URL" --function "$arn" --version 2 --interval 2 --poll 0.5
  [ "$status" -eq 4 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"Service=$FN, FunctionVersion=2"* ]]
  [ "$(jq -r 'select(index("update-alias")) | .[index("--function-name") + 1]' "$SPY.calls" | sort -u)" = "$arn" ]
  [ "$(jq -r 'select(index("get-metric-data")) | .[index("--metric-data-queries") + 1] | fromjson | .[] | .MetricStat.Metric.Dimensions[]
    | select(.Name == "Service" or .Name == "FunctionName") | .Value' "$SPY.calls" | sort -u)" = "$FN" ]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
}
