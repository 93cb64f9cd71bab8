#!/usr/bin/env bats
# The release scripts without any AWS endpoint: command lines, help texts against exit codes, the
# alias rules checked before any call, the helpers in scripts/lib/aws.sh (rate arithmetic, times
# without GNU tools, alarm dimensions, ARNs) and shellcheck. template.yaml has Tests/scripts/template.bats.

load helpers

setup() {
  # Every aws call goes to the spy, whose "real" CLI always fails: a test can see whether any call
  # was attempted at all.
  export AWS_SPY_REAL=/bin/false
  use_spy
}

@test "every release script has --help with its exit codes and the common options" {
  for script in publish release rollback; do
    run --separate-stderr "$REPO/scripts/$script.sh" --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Exit status:"* ]]
    for option in --function --alias --region --endpoint-url --dry-run; do
      [[ "$output" == *"$option"* ]] || { echo "$script.sh --help lacks $option"; false; }
    done
  done
}

@test "unknown arguments and missing values are usage errors (64), with no call" {
  run "$REPO/scripts/publish.sh" --bogus
  [ "$status" -eq 64 ]
  run "$REPO/scripts/release.sh" --interval
  [ "$status" -eq 64 ]
  run "$REPO/scripts/release.sh" --steps 50,10,100
  [ "$status" -eq 64 ]
  run "$REPO/scripts/release.sh" --steps 10,50
  [ "$status" -eq 64 ]
  run "$REPO/scripts/rollback.sh" --to
  [ "$status" -eq 64 ]
  [ ! -s "$SPY.calls" ]
}

@test "build, package, docs and load scripts: an option without its value (none, empty, another option) is a usage error (64)" {
  for args in "build.sh --package-path" "build.sh --product ''" "package.sh --output --verify" "package.sh --zip" \
    "docs.sh --target ''" "docs.sh --output" "load.sh --rate" "load.sh --port --users"; do
    eval "set -- $args"
    script="$1"
    shift
    run --separate-stderr "$REPO/scripts/$script" "$@"
    [ "$status" -eq 64 ] || { echo "$args: exit $status"; false; }
    [[ "$stderr" == "$script: $1 needs "*" (see --help)" ]] || { echo "$args: $stderr"; false; }
  done
}

@test "alias rule violations on the command line are refused (2) before any call" {
  run --separate-stderr "$REPO/scripts/release.sh" --version '$LATEST'
  [ "$status" -eq 2 ]
  [[ "$stderr" == *'never $LATEST'* ]]
  run --separate-stderr "$REPO/scripts/release.sh" --version 2 --steps 10,150,100
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"within 0-1"* ]]
  run --separate-stderr "$REPO/scripts/release.sh" --version 2 --steps 0,100
  [ "$status" -eq 2 ]
  run --separate-stderr "$REPO/scripts/rollback.sh" --to '$LATEST'
  [ "$status" -eq 2 ]
  [ ! -s "$SPY.calls" ]
}

@test "publish.sh refuses a missing or non-zip file before any call" {
  run --separate-stderr "$REPO/scripts/publish.sh" --zip "$BATS_TEST_TMPDIR/none.zip"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"no zip at"* ]]
  echo "not a zip" >"$BATS_TEST_TMPDIR/text.zip"
  run --separate-stderr "$REPO/scripts/publish.sh" --zip "$BATS_TEST_TMPDIR/text.zip"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"is not a zip file"* ]]
  [ ! -s "$SPY.calls" ]
}

@test "check_alias_rules accepts what Lambda accepts" {
  source "$REPO/scripts/lib/aws.sh"
  check_alias_rules 1 '{"AdditionalVersionWeights":{}}'
  check_alias_rules 1 '{"AdditionalVersionWeights":{"2":0.1}}'
  check_alias_rules 7 '{"AdditionalVersionWeights":{"12":1}}'
  check_alias_rules 3 '{"AdditionalVersionWeights":{"2":0}}'
}

@test "check_alias_rules refuses what Lambda refuses (the emulators accept all of these)" {
  source "$REPO/scripts/lib/aws.sh"
  run check_alias_rules 1 '{"AdditionalVersionWeights":{"2":0.1,"3":0.9}}'
  [ "$status" -eq 1 ] && [[ "$output" == *"at most one additional version"* ]]
  run check_alias_rules 1 '{"AdditionalVersionWeights":{"2":1.5}}'
  [ "$status" -eq 1 ] && [[ "$output" == *"within 0-1"* ]]
  run check_alias_rules 1 '{"AdditionalVersionWeights":{"2":-0.1}}'
  [ "$status" -eq 1 ]
  run check_alias_rules 1 '{"AdditionalVersionWeights":{"$LATEST":0.1}}'
  [ "$status" -eq 1 ] && [[ "$output" == *"published version number"* ]]
  run check_alias_rules 2 '{"AdditionalVersionWeights":{"2":0.1}}'
  [ "$status" -eq 1 ] && [[ "$output" == *"is the primary version itself"* ]]
  run check_alias_rules '$LATEST' '{"AdditionalVersionWeights":{}}'
  [ "$status" -eq 1 ]
  run check_alias_rules 1 '{"AdditionalVersionWeights":{"2":"0.1"}}'
  [ "$status" -eq 1 ]
  run check_alias_rules 1 'AdditionalVersionWeights={2=0.1,1=0.9}'
  [ "$status" -eq 1 ]
}

@test "routing configs are JSON with one version, and an explicit empty map to promote" {
  source "$REPO/scripts/lib/aws.sh"
  [ "$(routing_json 2 0.1)" = '{"AdditionalVersionWeights":{"2":0.1}}' ]
  [ "$EMPTY_ROUTING" = '{"AdditionalVersionWeights":{}}' ]
  alias_matches '{"FunctionVersion":"1","Weights":{"2":0.1}}' 1 '{"AdditionalVersionWeights":{"2":0.1}}'
  ! alias_matches '{"FunctionVersion":"1","Weights":{"2":0.1}}' 1 "$EMPTY_ROUTING"
  ! alias_matches '{"FunctionVersion":"2","Weights":{}}' 1 "$EMPTY_ROUTING"
  alias_matches '{"FunctionVersion":"2","Weights":{}}' 2 "$EMPTY_ROUTING"
}

@test "dry-run command lines survive the shell: quote_command round-trips" {
  source "$REPO/scripts/lib/aws.sh"
  line="$(quote_command aws lambda update-alias --routing-config '{"AdditionalVersionWeights":{"2":0.1}}' --description "it's a test")"
  eval "set -- $line"
  [ "$5" = '{"AdditionalVersionWeights":{"2":0.1}}' ]
  [ "$7" = "it's a test" ]
  [ "$(description_field 'release.sh: previous=4 target=5 state=canary' previous)" = 4 ]
  [ -z "$(description_field 'made by hand' previous)" ]
}

@test "the release scripts are shellcheck clean" {
  cd "$REPO"
  shellcheck -x scripts/publish.sh scripts/release.sh scripts/rollback.sh scripts/test-release.sh \
    scripts/lib/aws.sh scripts/lib/common.sh scripts/lib/emulators.sh Tests/scripts/helpers/aws \
    Tests/scripts/helpers/put-requests Tests/scripts/helpers/invoke-version Tests/scripts/helpers/portable/gnu-only
  shellcheck -s sh Tests/scripts/helpers/bootstrap.sh
}

# exit_codes SCRIPT: every status SCRIPT can end with, as written in it (exit N, exit "$EXIT_…",
# die N/"$EXIT_…"), plus those of the scripts/lib/aws.sh functions every release script calls
# (need_value, require_tools), sorted and unique.
exit_codes() {
  source "$REPO/scripts/lib/aws.sh"
  {
    grep -oE '(exit|die) +("?\$\{?EXIT_[A-Z_]+\}?"?|[0-9]+)' "$1"
    [ "${1##*/}" = test-release.sh ] || grep -oE 'die +"?\$EXIT_[A-Z_]+' "$REPO/scripts/lib/aws.sh"
  } | grep -oE 'EXIT_[A-Z_]+|[0-9]+$' | while read -r code; do
    if [[ "$code" == EXIT_* ]]; then echo "${!code}"; else echo "$code"; fi
  done | sort -n -u | paste -sd' ' -
}

# documented_codes SCRIPT: the statuses listed under "Exit status:" in SCRIPT --help.
documented_codes() {
  "$1" --help | awk '/^Exit status:/ { on = 1; next } on && /^  [0-9]+ / { print $1 } on && /^$/ { exit }' \
    | sort -n -u | paste -sd' ' -
}

@test "help texts and exit codes agree: each script's --help lists exactly the statuses it can exit with" {
  for script in publish release rollback test-release; do
    written="$(exit_codes "$REPO/scripts/$script.sh")"
    documented="$(documented_codes "$REPO/scripts/$script.sh")"
    echo "$script.sh: exits with [$written], --help lists [$documented]"
    [ -n "$written" ] && [ "$written" = "$documented" ]
  done
  # The EXIT_ constants' own comments, too.
  [ "$(exit_codes "$REPO/scripts/release.sh")" = "0 1 2 4 5 64" ]
  [ "$(exit_codes "$REPO/scripts/publish.sh")" = "0 1 3 64" ]
  [ "$(exit_codes "$REPO/scripts/rollback.sh")" = "0 1 2 64" ]
}

@test "release.sh: bad values of the gate options are usage errors (64), with no call" {
  for args in "--max-error-rate 1.5" "--max-error-rate x" "--min-requests -1" "--bake soon" "--alarm-types Alarm" \
      "--error-threshold 0.5" "--smoke-event $BATS_TEST_TMPDIR/none.json" "--function arn:aws:lambda:us-east-1:123456789012:function:f:live" \
      "--function arn:aws:lambda:eu-west-1:123456789012:function:f --region us-east-1"; do
    # shellcheck disable=SC2086 # split on purpose
    run --separate-stderr "$REPO/scripts/release.sh" $args
    echo "$args: $status $stderr"
    [ "$status" -eq 64 ]
  done
  echo '{"rawPath": "/health"}' >"$BATS_TEST_TMPDIR/event.json"
  run --separate-stderr "$REPO/scripts/release.sh" --smoke-event "$BATS_TEST_TMPDIR/event.json" --skip-smoke-test
  [ "$status" -eq 64 ] && [[ "$stderr" == *"contradict"* ]]
  echo 'not json' >"$BATS_TEST_TMPDIR/bad.json"
  run --separate-stderr "$REPO/scripts/release.sh" --smoke-event "$BATS_TEST_TMPDIR/bad.json"
  [ "$status" -eq 64 ] && [[ "$stderr" == *"is not a JSON event object"* ]]
  [ ! -s "$SPY.calls" ]
}

@test "rate arithmetic: ServerErrors/Requests against --max-error-rate, not judged below --min-requests, never divided by zero" {
  source "$REPO/scripts/lib/aws.sh"
  [ "$(error_rate_verdict 0 0 0.01 20)" = thin ]
  [ "$(error_rate_verdict 0 0 0.01 0)" = thin ]      # no requests at all: nothing to divide by
  [ "$(error_rate_verdict 0 3 0.01 0)" = thin ]      # errors that landed before their requests
  [ "$(error_rate_verdict 19 19 0.01 20)" = thin ]
  [ "$(error_rate_verdict 20 0 0.01 20)" = "ok 0.0000" ]
  [ "$(error_rate_verdict 100 1 0.01 20)" = "ok 0.0100" ]   # at the limit passes
  [ "$(error_rate_verdict 100 2 0.01 20)" = "fail 0.0200" ]
  [ "$(error_rate_verdict 30 3 0.01 20)" = "fail 0.1000" ]
  [ "$(error_rate_verdict 25 25 0 1)" = "fail 1.0000" ]
  [ "$(error_rate_verdict 5 1 0.5 1)" = "ok 0.2000" ]
  [ "$(error_rate_verdict 1000000 9999 0.01 20)" = "ok 0.0100" ]
}

@test "times without GNU tools: iso_time and epoch_of use jq, and work with a date that refuses -d" {
  portable_tools_only
  source "$REPO/scripts/lib/aws.sh"
  # The stand-ins refuse what GNU alone has.
  run date -u -d @0 +%s
  [ "$status" -eq 64 ]
  run stat -c %s "$REPO/scripts/release.sh"
  [ "$status" -eq 64 ]
  : >"$PORTABILITY_LOG"
  [ "$(iso_time 0)" = 1970-01-01T00:00:00Z ]
  [ "$(iso_time 1796163840)" = 2026-12-01T22:24:00Z ]
  [ "$(iso_time 1796163840.7)" = 2026-12-01T22:24:00Z ]
  [ "$(epoch_of 2026-12-01T22:24:00Z)" = 1796163840 ]
  [ "$(epoch_of "$(iso_time 1234567890)")" = 1234567890 ]
  run epoch_of "yesterday"
  [ "$status" -eq 1 ]
  check_portable
  # No GNU-only forms in the release scripts (the emulator suite also runs them with these stand-ins).
  cd "$REPO"
  found="$(grep -nE 'date +(-[a-zA-Z]*[dr]|--date)|stat +-c|sed +-i|readlink +-f|realpath|timeout +[0-9]' \
    scripts/publish.sh scripts/release.sh scripts/rollback.sh scripts/lib/aws.sh | grep -vE '^[^:]+:[0-9]+: *#' || true)"
  [ -z "$found" ] || { echo "$found"; false; }
}

@test "function names and ARNs: metrics use the name, a full ARN also gives the region" {
  source "$REPO/scripts/lib/aws.sh"
  [ "$(function_name_of profile-service-prod)" = profile-service-prod ]
  [ "$(function_name_of arn:aws:lambda:eu-west-1:123456789012:function:profile-service-prod)" = profile-service-prod ]
  [ "$(function_name_of arn:aws-cn:lambda:cn-north-1:123456789012:function:f_1)" = f_1 ]
  [ "$(function_name_of 123456789012:function:profile)" = profile ]
  run function_name_of arn:aws:lambda:eu-west-1:123456789012:function:profile:live
  [ "$status" -eq 1 ]
  [ "$(region_of_arn arn:aws:lambda:eu-west-1:123456789012:function:profile)" = eu-west-1 ]
  [ -z "$(region_of_arn profile)" ]
  [ -z "$(region_of_arn 123456789012:function:profile)" ]
}

@test "alarms that watch another version: own dimensions, metric-math metrics, FunctionVersion; composite rules name their alarms" {
  source "$REPO/scripts/lib/aws.sh"
  alarms='{"MetricAlarms": [
    {"AlarmName": "errors-v1", "Dimensions": [{"Name": "FunctionName", "Value": "f"}, {"Name": "ExecutedVersion", "Value": "1"}]},
    {"AlarmName": "errors-v2", "Dimensions": [{"Name": "ExecutedVersion", "Value": "2"}]},
    {"AlarmName": "service-wide", "Dimensions": [{"Name": "FunctionName", "Value": "f"}]},
    {"AlarmName": "rate-v1", "Dimensions": [], "Metrics": [
      {"Id": "e", "MetricStat": {"Metric": {"Namespace": "ProfileService", "MetricName": "ServerErrors",
        "Dimensions": [{"Name": "Service", "Value": "f"}, {"Name": "FunctionVersion", "Value": "1"}]}}},
      {"Id": "r", "MetricStat": {"Metric": {"Namespace": "ProfileService", "MetricName": "Requests",
        "Dimensions": [{"Name": "Service", "Value": "f"}, {"Name": "FunctionVersion", "Value": "1"}]}}},
      {"Id": "rate", "Expression": "e / r"}]},
    {"AlarmName": "rate-v2", "Metrics": [{"Id": "e", "MetricStat": {"Metric": {"Dimensions": [{"Name": "FunctionVersion", "Value": "2"}]}}},
      {"Id": "x", "Expression": "e"}]}],
    "CompositeAlarms": [{"AlarmName": "any", "AlarmRule": "ALARM(\"errors-v1\") OR (ALARM(rate-v2) AND NOT OK( arn:aws:cloudwatch:us-east-1:1:alarm:deep ))"}]}'
  run alarm_version_conflicts "$alarms" 2
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = "errors-v1: ExecutedVersion=1" ]
  [ "${lines[1]}" = "rate-v1: FunctionVersion=1" ]
  [ -z "$(alarm_version_conflicts "$alarms" 1 | grep -v -e '^errors-v2' -e '^rate-v2')" ]
  [ "$(composite_children "$alarms" | paste -sd' ' -)" = "errors-v1 rate-v2 deep" ]
  [ -z "$(alarm_version_conflicts '{"MetricAlarms": [], "CompositeAlarms": []}' 2)" ]
}
