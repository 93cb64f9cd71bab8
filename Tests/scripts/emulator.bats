#!/usr/bin/env bats
# publish.sh, release.sh and rollback.sh with the real aws CLI against an emulator on 127.0.0.1.
# scripts/test-release.sh runs this file twice: EMU_NAME=ministack (enforces --revision-id) and
# EMU_NAME=moto (a second opinion). EMU_URL is the emulator's endpoint.

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
}

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

  run --separate-stderr "$REPO/scripts/publish.sh" "${E[@]}" --zip "$zip3"
  [ "$status" -eq 0 ] || { echo "$stderr"; false; }
  [ "${lines[-1]}" = 2 ]
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
  ! emu lambda get-alias --function-name "$FN" --name live >/dev/null 2>&1
}

# bats test_tags=moto
@test "release.sh moves the alias 10% -> 50% -> 100% to the newest version, get-alias checked after each step" {
  function_with_versions "$FN"
  use_spy
  export AWS_SPY_STATES=1
  run --separate-stderr "$REPO/scripts/release.sh" "${E[@]}" --steps 10,50,100 --interval 0.2 --poll 0.1
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
  [[ "$(emu lambda get-alias --function-name "$FN" --name live | jq -r .Description)" == *"previous=1"* ]]
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
  run --separate-stderr "$REPO/scripts/release.sh" "${E[@]}" --version 2 --interval 3 --poll 0.5 --alarm "$alarm"
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
  run --separate-stderr "$REPO/scripts/release.sh" "${E[@]}" --version 2 --interval 2 --poll 0.5 --error-threshold 2
  [ "$status" -eq 4 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *"version 2 had 3 Errors"* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
}

@test "Errors within the threshold, or of another version, do not stop the release" {
  function_with_versions "$FN"
  use_spy
  export AWS_SPY_AFTER_UPDATE="1:\"\$AWS_SPY_REAL\" --endpoint-url $EMU_URL cloudwatch put-metric-data --namespace AWS/Lambda --metric-name Errors --dimensions FunctionName=$FN,Resource=$FN:live,ExecutedVersion=1 --value 5 --unit Count && \"\$AWS_SPY_REAL\" --endpoint-url $EMU_URL cloudwatch put-metric-data --namespace AWS/Lambda --metric-name Errors --dimensions FunctionName=$FN,Resource=$FN:live,ExecutedVersion=2 --value 1 --unit Count"
  run --separate-stderr "$REPO/scripts/release.sh" "${E[@]}" --version 2 --steps 50,100 --interval 1 --poll 0.5 --error-threshold 1
  [ "$status" -eq 0 ] || { echo "status $status: $stderr"; false; }
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"2","Weights":{}}' ]
}

# bats test_tags=moto
@test "rollback.sh in the middle of a canary returns to the primary; release.sh then stops (exit 5)" {
  function_with_versions "$FN"
  use_spy
  export AWS_SPY_AFTER_UPDATE="1:$REPO/scripts/rollback.sh --endpoint-url $EMU_URL --function $FN"
  run --separate-stderr "$REPO/scripts/release.sh" "${E[@]}" --version 2 --interval 0.5 --poll 0.5
  [ "$status" -eq 5 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *CONFLICT* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
  [[ "$(emu lambda get-alias --function-name "$FN" --name live | jq -r .Description)" == *"state=rolled-back"* ]]
}

# bats test_tags=moto
@test "an alias changed by someone else mid-release stops release.sh without clobbering the change" {
  function_with_versions "$FN"
  use_spy
  export AWS_SPY_AFTER_UPDATE="1:\"\$AWS_SPY_REAL\" --endpoint-url $EMU_URL lambda update-alias --function-name $FN --name live --function-version 1 --routing-config '{\"AdditionalVersionWeights\":{\"2\":0.3}}'"
  run --separate-stderr "$REPO/scripts/release.sh" "${E[@]}" --version 2 --interval 0.5 --poll 0.5
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
  run --separate-stderr "$REPO/scripts/release.sh" "${E[@]}" --version 2 --interval 0 --poll 0.5
  [ "$status" -eq 5 ] || { echo "status $status: $stderr"; false; }
  [[ "$stderr" == *PreconditionFailed* ]]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{"2":0.2}}' ]
}

@test "re-running release.sh on an alias part-way continues from where it stands" {
  function_with_versions "$FN"
  set_alias "$FN" 1 '{"AdditionalVersionWeights":{"2":0.1}}'
  use_spy
  export AWS_SPY_STATES=1
  run --separate-stderr "$REPO/scripts/release.sh" "${E[@]}" --version 2 --steps 10,50,100 --interval 0 --poll 0.5
  [ "$status" -eq 0 ] || { echo "$stderr"; false; }
  [[ "$stderr" == *"step 10%: already at or past it"* ]]
  run cat "$SPY.states"
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = '{"FunctionVersion":"1","Weights":{"2":0.5}}' ]
  [ "${lines[1]}" = '{"FunctionVersion":"2","Weights":{}}' ]
  # Released already: a third run changes nothing.
  run --separate-stderr "$REPO/scripts/release.sh" "${E[@]}" --version 2 --interval 0
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
  run --separate-stderr "$REPO/scripts/release.sh" "${E[@]}" --version 3 --interval 0
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"part-way through a release of version 2"* ]]
  # A version that does not exist.
  run --separate-stderr "$REPO/scripts/release.sh" "${E[@]}" --version 99 --interval 0
  [ "$status" -eq 2 ]
  # A missing alarm.
  set_alias "$FN" 1 '{"AdditionalVersionWeights":{}}'
  run --separate-stderr "$REPO/scripts/release.sh" "${E[@]}" --version 2 --alarm "no-such-alarm-$FN" --interval 0
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"alarm 'no-such-alarm-$FN' does not exist"* ]]
  # The emulators accept an alias Lambda would refuse (two additional versions); release.sh does not
  # build on it, rollback.sh repairs it.
  set_alias "$FN" 1 '{"AdditionalVersionWeights":{"2":0.1,"3":0.1}}'
  run --separate-stderr "$REPO/scripts/release.sh" "${E[@]}" --version 3 --interval 0
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
  run --separate-stderr "$REPO/scripts/rollback.sh" "${E[@]}"
  [ "$status" -eq 0 ]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{}}' ]
  run --separate-stderr "$REPO/scripts/rollback.sh" "${E[@]}" --to 2
  [ "$status" -eq 0 ]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"2","Weights":{}}' ]
}

@test "release.sh and rollback.sh --dry-run print the update-alias calls and change nothing" {
  function_with_versions "$FN"
  use_spy
  run --separate-stderr "$REPO/scripts/release.sh" "${E[@]}" --version 2 --dry-run --interval 0
  [ "$status" -eq 0 ] || { echo "$stderr"; false; }
  [[ "$output" == *"update-alias --function-name $FN --name live --function-version 1 --routing-config '{\"AdditionalVersionWeights\":{\"2\":0.1}}' --revision-id "* ]]
  [[ "$output" == *"--function-version 2 --routing-config '{\"AdditionalVersionWeights\":{}}'"* ]]
  set_alias "$FN" 1 '{"AdditionalVersionWeights":{"2":0.5}}'
  run --separate-stderr "$REPO/scripts/rollback.sh" "${E[@]}" --dry-run
  [ "$status" -eq 0 ]
  [[ "$output" == *"update-alias --function-name $FN --name live --function-version 1 --routing-config '{\"AdditionalVersionWeights\":{}}'"* ]]
  [ "$(spy_count update-alias)" -eq 0 ]
  [ "$(alias_state "$FN")" = '{"FunctionVersion":"1","Weights":{"2":0.5}}' ]
}
