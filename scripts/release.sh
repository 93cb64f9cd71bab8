#!/usr/bin/env bash
# Moves a weighted Lambda alias to a new version step by step, watching what users see, rolling back on failure.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/release.sh [--version N] [--steps 10,50,100] [--interval SECONDS] [--bake SECONDS]
                          [--max-error-rate R] [--min-requests N] [--alarm NAME]... [options]

Smoke-tests version N, then shifts the alias from the version it points to now (the old version) to N:
  each step below 100:  primary = old version, AdditionalVersionWeights = {"N": step/100}
  the last step (100):  primary = N, AdditionalVersionWeights = {} (explicit empty map)
Every update-alias carries --revision-id and a JSON routing config (awscli v1 and v2 both take it)
and is checked with get-alias. The alias description records the release
("release.sh: previous=OLD target=N state=canary started=TIME"), which scripts/rollback.sh and a
re-run of release.sh use.

Smoke test, before the first weight: version N is invoked directly (lambda invoke --qualifier N) with
the API Gateway HTTP API event events/http-api-v2-get-health.json (GET /health) and with each
--smoke-event FILE. A function error, or a response whose statusCode is not 200-299, refuses the
release (exit 2) with the status and the start of the body; the alias is not touched.

Gates, checked every --poll seconds while a step is watched (--interval) and after the promotion
(--bake), all for version N, all over one window from the start of the release (not of the step:
metrics land late, timestamped when the request ran):
  - ServerErrors / Requests (Sum) in namespace --metrics-namespace with dimensions Service=--service,
    FunctionVersion=N (the handler's EMF metrics) must be at most --max-error-rate, judged once at
    least --min-requests requests were seen (before that: "not enough traffic yet", the gate passes)
  - AWS/Lambda Errors and Throttles (Sum) with dimensions FunctionName, Resource=FUNCTION:ALIAS and
    ExecutedVersion=N must each be at most --error-threshold (crashes, timeouts, init failures)
  - every --alarm must not be in ALARM (an --allow-alarm alarm only once it has left ALARM)
A failing gate rolls back: release.sh reads the alias first; if it is as release.sh last left it,
primary = old version, weights {} (guarded by --revision-id), verified, exit 4; if someone else
changed it, it is left as they left it (exit 5).

Refused before any change (exit 2): an --alarm that does not exist; an alarm (or a metric of a
metric-math alarm, or an alarm of a composite alarm's rule) with an ExecutedVersion or FunctionVersion
dimension naming another version than N (it would watch the wrong version); an --alarm already in
ALARM, unless it is also named by --allow-alarm: then the release starts, that alarm is ignored
while it stays in ALARM, and watched like any other once it has left ALARM (so a fix can ship,
knowingly, and still be stopped if the alarm fires again).

The alias rules are checked here before any call that changes something, because emulators do not
check them: both versions are published version numbers (never \$LATEST), at most one additional
version, weights within 0-1, new version != old version. Both versions must exist and share one role.

Re-running on an alias that is part-way (primary = old, {"N": w}) continues: the gates are watched
for a full --interval at the current weight (over the window since the recorded start) before the
steps above w; the smoke test is not repeated (N already serves traffic). An alias already on N with
no weights is left alone (exit 0). If someone else changes the alias while a release runs, release.sh
stops without touching it (exit 5).

Options:
  --version N             the version to release (default: the newest published version)
  --steps LIST            traffic percentages for N, increasing, ending in 100 (default: 10,50,100)
  --interval SECONDS      how long each step below 100 is watched before the next (default: 300)
  --bake SECONDS          how long version N is watched at 100% before release.sh reports success;
                          a failure rolls back to the old version (default: --interval)
  --poll SECONDS          how often the gates are checked while watching (default: 10); a watch
                          lasts at least its SECONDS and at most one --poll (and one check) more
  --max-error-rate R      most ServerErrors/Requests of version N tolerated, 0-1 (default: 0.01)
  --min-requests N        requests of version N needed before the rate is judged (default: 20)
  --metrics-namespace NS  the namespace of the handler's EMF metrics (default: ProfileService)
  --service NAME          their Service dimension (default: the function's name, also when
                          --function is an ARN)
  --error-threshold K     most AWS/Lambda Errors, and most Throttles, of version N (default: 0)
  --alarm NAME            a CloudWatch alarm to watch (repeatable); each must exist
  --alarm-types TYPES     the alarm types describe-alarms looks for (default:
                          "MetricAlarm CompositeAlarm")
  --allow-alarm NAME      watch NAME, and let it be in ALARM when the release starts (repeatable)
  --smoke-event FILE      one more API Gateway event for the smoke test (repeatable)
  --skip-smoke-test       no smoke test (warned on stderr): for functions that are not HTTP APIs,
                          or endpoints that cannot run code (moto)
$COMMON_OPTIONS_HELP

--function takes a name or an ARN; the metrics use the name (and an ARN's region, unless --region).
Needs lambda:GetAlias, UpdateAlias, ListVersionsByFunction, InvokeFunction (the smoke test, on
version N), cloudwatch:GetMetricData and DescribeAlarms.

Exit status:
  0   the alias points to N with no weights (released and baked, or already released)
  1   an AWS call failed, or get-alias did not show what was written (the alias is left as it is)
  2   refused before changing anything (alias rules, another canary in progress, the smoke test
      failed, a missing alarm, an alarm watching another version, an alarm already in ALARM)
  4   a gate failed: the alias was rolled back to the old version (report on stderr)
  5   the alias was changed by someone else during the release, or before a rollback: left as
      they left it
  64  bad command line
USAGE
}

SCRIPT_ROOT="$(cd -P "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib/aws.sh
source "$SCRIPT_ROOT/scripts/lib/aws.sh"
PROG=release.sh

target=""
steps_arg="10,50,100"
interval=300
bake=""
poll=10
error_threshold=0
max_error_rate=0.01
min_requests=20
metrics_namespace=ProfileService
service=""
alarm_types="MetricAlarm CompositeAlarm"
alarms=()
allowed_alarms=()
smoke_events=("$SCRIPT_ROOT/events/http-api-v2-get-health.json")
skip_smoke=0
while [ $# -gt 0 ]; do
  if parse_common_option "$@"; then shift "$COMMON_SHIFT"; continue; fi
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --version) need_value "$1" "${2:-}"; target="$2"; shift 2 ;;
    --steps) need_value "$1" "${2:-}"; steps_arg="$2"; shift 2 ;;
    --interval) need_value "$1" "${2:-}"; interval="$2"; shift 2 ;;
    --bake) need_value "$1" "${2:-}"; bake="$2"; shift 2 ;;
    --poll) need_value "$1" "${2:-}"; poll="$2"; shift 2 ;;
    --max-error-rate) need_value "$1" "${2:-}"; max_error_rate="$2"; shift 2 ;;
    --min-requests) need_value "$1" "${2:-}"; min_requests="$2"; shift 2 ;;
    --metrics-namespace) need_value "$1" "${2:-}"; metrics_namespace="$2"; shift 2 ;;
    --service) need_value "$1" "${2:-}"; service="$2"; shift 2 ;;
    --error-threshold) need_value "$1" "${2:-}"; error_threshold="$2"; shift 2 ;;
    --alarm) need_value "$1" "${2:-}"; alarms+=("$2"); shift 2 ;;
    --alarm-types) need_value "$1" "${2:-}"; alarm_types="$2"; shift 2 ;;
    --allow-alarm) need_value "$1" "${2:-}"; alarms+=("$2"); allowed_alarms+=("$2"); shift 2 ;;
    --smoke-event) need_value "$1" "${2:-}"; smoke_events+=("$2"); shift 2 ;;
    --skip-smoke-test) skip_smoke=1; shift ;;
    *) die "$EXIT_USAGE" "unknown argument '$1' (see --help)" ;;
  esac
done

# --- Checks that need no call ----------------------------------------------------------------------
is_seconds() { [[ "$1" =~ ^[0-9]+([.][0-9]+)?$ ]]; }
is_seconds "$interval" || die "$EXIT_USAGE" "--interval must be a number of seconds, not '$interval'"
[ -n "$bake" ] || bake="$interval"
is_seconds "$bake" || die "$EXIT_USAGE" "--bake must be a number of seconds, not '$bake'"
if ! is_seconds "$poll" || [ "$(awk -v p="$poll" 'BEGIN { print (p > 0) }')" != 1 ]; then
  die "$EXIT_USAGE" "--poll must be a positive number of seconds, not '$poll'"
fi
[[ "$error_threshold" =~ ^[0-9]+$ ]] || die "$EXIT_USAGE" "--error-threshold must be a whole number, not '$error_threshold'"
[[ "$min_requests" =~ ^[0-9]+$ ]] || die "$EXIT_USAGE" "--min-requests must be a whole number, not '$min_requests'"
if ! [[ "$max_error_rate" =~ ^[0-9]*([.][0-9]+)?$ ]] || [ -z "$max_error_rate" ] \
    || [ "$(awk -v r="$max_error_rate" 'BEGIN { print (r <= 1) }')" != 1 ]; then
  die "$EXIT_USAGE" "--max-error-rate must be a fraction within 0-1 (0.01 = 1%), not '$max_error_rate'"
fi
[ -n "$metrics_namespace" ] || die "$EXIT_USAGE" "--metrics-namespace is empty"
read -r -a alarm_type_list <<<"$alarm_types"
[ "${#alarm_type_list[@]}" -gt 0 ] || die "$EXIT_USAGE" "--alarm-types is empty"
for type in "${alarm_type_list[@]}"; do
  [ "$type" = MetricAlarm ] || [ "$type" = CompositeAlarm ] \
    || die "$EXIT_USAGE" "--alarm-types takes MetricAlarm and/or CompositeAlarm, not '$type'"
done
if [ "$skip_smoke" -eq 1 ] && [ "${#smoke_events[@]}" -gt 1 ]; then
  die "$EXIT_USAGE" "--smoke-event and --skip-smoke-test contradict each other"
fi
if [ "$skip_smoke" -eq 0 ]; then
  for event in "${smoke_events[@]}"; do
    [ -f "$event" ] || die "$EXIT_USAGE" "no smoke event at $event"
    jq -e 'type == "object"' "$event" >/dev/null 2>&1 || die "$EXIT_USAGE" "$event is not a JSON event object"
  done
fi
if [ -n "$target" ] && ! is_version_number "$target"; then
  die "$EXIT_REFUSED" "alias rule: --version must be a published version number, not '$target' (never \$LATEST)"
fi
IFS=',' read -r -a steps <<<"$steps_arg"
[ "${#steps[@]}" -gt 0 ] || die "$EXIT_USAGE" "--steps is empty"
previous_step=0
for step in "${steps[@]}"; do
  [[ "$step" =~ ^[0-9]+$ ]] || die "$EXIT_USAGE" "--steps takes whole percentages, not '$step'"
  if [ "$step" -lt 1 ] || [ "$step" -gt 100 ]; then
    die "$EXIT_REFUSED" "alias rule: weights are within 0-1, so a step must be 1-100%, not $step"
  fi
  [ "$step" -gt "$previous_step" ] || die "$EXIT_USAGE" "--steps must increase: $steps_arg"
  previous_step="$step"
done
[ "$previous_step" -eq 100 ] || die "$EXIT_USAGE" "--steps must end with 100 (the promotion): $steps_arg"

# --function may be an ARN: API calls take it as it is, metrics and messages need the name.
function_name="$(function_name_of "$FUNCTION")" \
  || die "$EXIT_USAGE" "--function takes a function name or an unqualified ARN, not '$FUNCTION' (the alias is --alias)"
arn_region="$(region_of_arn "$FUNCTION")"
if [ -n "$arn_region" ]; then
  [ -z "$REGION" ] || [ "$REGION" = "$arn_region" ] || die "$EXIT_USAGE" "--region $REGION contradicts the function ARN's region $arn_region"
  REGION="$arn_region"
fi
[ -n "$service" ] || service="$function_name"

require_tools
build_aws_global
work_dir="$(mktemp -d)"
clock_pid=""
trap 'rm -rf "$work_dir"; [ -z "$clock_pid" ] || kill "$clock_pid" 2>/dev/null || true' EXIT
err_file="$work_dir/stderr"

# --- Where the alias stands ------------------------------------------------------------------------
alias_json="$(get_alias)" || die "$EXIT_AWS_FAILED" "cannot read alias $FUNCTION:$ALIAS (create it with scripts/publish.sh)"
old="$(jq -r '.FunctionVersion' <<<"$alias_json")"
weights="$(jq -c '{AdditionalVersionWeights: .Weights}' <<<"$alias_json")"
revision="$(jq -r '.RevisionId' <<<"$alias_json")"
check_alias_rules "$old" "$weights" || die "$EXIT_REFUSED" "the alias breaks the rules as it stands ($(describe_alias "$alias_json")); fix it with scripts/rollback.sh"

versions="$(list_versions)" || die "$EXIT_AWS_FAILED" "cannot list the versions of $FUNCTION"
if [ -z "$target" ]; then
  target="$(jq -r 'keys | map(tonumber) | max // empty' <<<"$versions")"
  [ -n "$target" ] || die "$EXIT_REFUSED" "$FUNCTION has no published version; run scripts/publish.sh"
fi
canary_version="$(jq -r '.Weights | keys | first // empty' <<<"$alias_json")"
if [ -z "$canary_version" ] && [ "$old" = "$target" ]; then
  say "$FUNCTION:$ALIAS already points to version $target with no weights; nothing to do"
  printf '%s\n' "$target"
  exit 0
fi
if [ -n "$canary_version" ] && [ "$canary_version" != "$target" ]; then
  die "$EXIT_REFUSED" "$FUNCTION:$ALIAS is part-way through a release of version $canary_version ($(describe_alias "$alias_json")); finish it or run scripts/rollback.sh first"
fi
[ "$old" != "$target" ] || die "$EXIT_REFUSED" "alias rule: the new version must differ from the old one ($old)"
current_weight="$(jq -r --arg v "$target" '.Weights[$v] // 0' <<<"$alias_json")"
resuming="$(awk -v w="$current_weight" 'BEGIN { print (w > 0) ? 1 : 0 }')"

# Both versions must exist, be Active and share one execution role (Lambda's rule for weighted aliases).
for version in "$old" "$target"; do
  jq -e --arg v "$version" 'has($v)' <<<"$versions" >/dev/null || die "$EXIT_REFUSED" "version $version of $FUNCTION does not exist"
done
new_state="$(jq -r --arg v "$target" '.[$v].State // "Active"' <<<"$versions")"
[ "$new_state" = "Active" ] || die "$EXIT_REFUSED" "version $target is $new_state, not Active"
[ "$(jq -r --arg a "$old" --arg b "$target" '.[$a].Role == .[$b].Role' <<<"$versions")" = true ] \
  || die "$EXIT_REFUSED" "alias rule: versions $old and $target must have the same execution role"

# The window of every gate starts when the release started: now, or, when resuming, the start that
# release.sh recorded in the alias description.
release_start="$(date +%s)"
if [ "$resuming" = 1 ]; then
  recorded="$(jq -r '.Description' <<<"$alias_json")"
  if [ "$(description_field "$recorded" target)" = "$target" ] && [ "$(description_field "$recorded" previous)" = "$old" ] \
      && started_at="$(epoch_of "$(description_field "$recorded" started)")" && [ "$started_at" -le "$release_start" ]; then
    release_start="$started_at"
  else
    say "no start recorded for this canary in the alias description; the gates count from now"
  fi
fi
release_started_iso="$(iso_time "$release_start")"

# --- Alarms ----------------------------------------------------------------------------------------
# describe_alarms NAME...: describe-alarms of these names and the alarm types asked for.
describe_alarms() {
  aws_read cloudwatch describe-alarms --alarm-names "$@" --alarm-types "${alarm_type_list[@]}"
}
alarm_states() { jq -c '[(.MetricAlarms // [])[], (.CompositeAlarms // [])[]]' <<<"$1"; }

exempt_alarms=()   # alarms in ALARM at the start and allowed (--allow-alarm), until they leave ALARM
blocking=()        # alarms in ALARM at the start and not allowed
if [ "${#alarms[@]}" -gt 0 ]; then
  found="$(describe_alarms "${alarms[@]}")" || die "$EXIT_AWS_FAILED" "describe-alarms failed"
  for name in "${alarms[@]}"; do
    jq -e --arg n "$name" 'any(.[]; .AlarmName == $n)' <<<"$(alarm_states "$found")" >/dev/null \
      || die "$EXIT_REFUSED" "alarm '$name' does not exist (describe-alarms --alarm-types $alarm_types)"
  done
  # Every alarm that decides, also through composite alarms' rules (a few levels deep).
  tree="$found"
  seen=" ${alarms[*]} "
  for _ in 1 2 3 4 5; do
    children=()
    while IFS= read -r child; do
      [ -n "$child" ] && [[ "$seen" != *" $child "* ]] && { children+=("$child"); seen+="$child "; }
    done < <(composite_children "$tree")
    [ "${#children[@]}" -gt 0 ] || break
    more="$(describe_alarms "${children[@]}")" || die "$EXIT_AWS_FAILED" "describe-alarms failed"
    tree="$(jq -c --argjson more "$more" '.MetricAlarms = ((.MetricAlarms // []) + ($more.MetricAlarms // []))
      | .CompositeAlarms = ((.CompositeAlarms // []) + ($more.CompositeAlarms // []))' <<<"$tree")"
  done
  conflicts="$(alarm_version_conflicts "$tree" "$target")"
  if [ -n "$conflicts" ]; then
    while IFS= read -r line; do say "alarm $line"; done <<<"$conflicts"
    die "$EXIT_REFUSED" "refused: these alarms (named by --alarm, or in a composite alarm's rule) watch another version than $target, so they cannot judge this release; give alarms for version $target (or without a version dimension)"
  fi
  firing="$(jq -r '.[] | select(.StateValue == "ALARM") | .AlarmName' <<<"$(alarm_states "$found")")"
  blocking=()
  while IFS= read -r name; do
    [ -n "$name" ] || continue
    if [[ " ${allowed_alarms[*]} " == *" $name "* ]]; then
      exempt_alarms+=("$name")
      say "WARNING: alarm '$name' is in ALARM and allowed (--allow-alarm): ignored until it leaves ALARM, watched from then on"
    else
      blocking+=("$name")
    fi
  done <<<"$firing"
  for name in "${allowed_alarms[@]}"; do
    [[ " ${exempt_alarms[*]} " == *" $name "* ]] || say "alarm '$name' is not in ALARM: --allow-alarm changes nothing, it is watched like --alarm"
  done
fi

# --- Gates -----------------------------------------------------------------------------------------
GATE_REPORT=""
last_summary=""
# metric_query ID NAMESPACE METRIC DIMENSIONS_JSON PERIOD: one MetricDataQuery (Sum).
metric_query() {
  jq -nc --arg id "$1" --arg ns "$2" --arg m "$3" --argjson d "$4" --argjson p "$5" \
    '{Id: $id, ReturnData: true, MetricStat: {Metric: {Namespace: $ns, MetricName: $m, Dimensions: $d}, Period: $p, Stat: "Sum"}}'
}
emf_dims="$(jq -nc --arg s "$service" --arg v "$target" '[{Name: "Service", Value: $s}, {Name: "FunctionVersion", Value: $v}]')"
lambda_dims="$(jq -nc --arg f "$function_name" --arg a "$ALIAS" --arg v "$target" \
  '[{Name: "FunctionName", Value: $f}, {Name: "Resource", Value: "\($f):\($a)"}, {Name: "ExecutedVersion", Value: $v}]')"

# gates_pass: true when no watched alarm is in ALARM (but the exempt ones), and version N's metrics
# since the release started are within the limits; otherwise false with the reason in GATE_REPORT.
gates_pass() {
  local raw firing name still=() start end period queries sums requests server_errors errors throttles verdict summary
  if [ "${#alarms[@]}" -gt 0 ]; then
    raw="$(describe_alarms "${alarms[@]}")" || { GATE_REPORT="describe-alarms failed"; return 1; }
    for name in "${exempt_alarms[@]}"; do
      if jq -e --arg n "$name" 'any(.[]; .AlarmName == $n and .StateValue == "ALARM")' <<<"$(alarm_states "$raw")" >/dev/null; then
        still+=("$name")
      else
        say "alarm '$name' has left ALARM: it is watched from now on"
      fi
    done
    exempt_alarms=("${still[@]}")
    # (gates_pass runs where `set -e` does not apply: every step that could fail is checked.)
    firing="$(jq -r --arg exempt " ${exempt_alarms[*]} " '[.[] | select(.StateValue == "ALARM") | .AlarmName as $n
      | select($exempt | contains(" \($n) ") | not) | "\($n) (\(.StateReason // "no reason"))"] | join("; ")' <<<"$(alarm_states "$raw")")" \
      || { GATE_REPORT="cannot read the alarms' states: $raw"; return 1; }
    if [ -n "$firing" ]; then GATE_REPORT="alarm in ALARM: $firing"; return 1; fi
  fi
  # One period over the whole window, whole minutes (CloudWatch rounds the start down to the minute).
  start=$((release_start - release_start % 60))
  end="$(date +%s)"
  end=$((end - end % 60 + 60))
  period=$((end - start))
  queries="[$(metric_query requests "$metrics_namespace" Requests "$emf_dims" "$period"),$(metric_query server_errors "$metrics_namespace" ServerErrors "$emf_dims" "$period"),$(metric_query errors AWS/Lambda Errors "$lambda_dims" "$period"),$(metric_query throttles AWS/Lambda Throttles "$lambda_dims" "$period")]"
  raw="$(aws_read cloudwatch get-metric-data --start-time "$(iso_time "$start")" --end-time "$(iso_time "$end")" \
    --metric-data-queries "$queries")" || { GATE_REPORT="get-metric-data failed"; return 1; }
  sums="$(jq -r '[.MetricDataResults[]? | {key: .Id, value: ([.Values[]?] | add // 0)}] | from_entries
    | [.requests, .server_errors, .errors, .throttles] | map(. // 0 | floor) | @tsv' <<<"$raw")" \
    || { GATE_REPORT="cannot read get-metric-data's answer: $raw"; return 1; }
  read -r requests server_errors errors throttles <<<"$sums"
  [[ "$requests$server_errors$errors$throttles" =~ ^[0-9]+$ ]] || { GATE_REPORT="cannot read get-metric-data's answer: $raw"; return 1; }
  if [ "$errors" -gt "$error_threshold" ]; then
    GATE_REPORT="version $target had $errors Errors (AWS/Lambda, FunctionName=$function_name, Resource=$function_name:$ALIAS, ExecutedVersion=$target) since $release_started_iso; threshold $error_threshold"
    return 1
  fi
  if [ "$throttles" -gt "$error_threshold" ]; then
    GATE_REPORT="version $target had $throttles Throttles (AWS/Lambda, ExecutedVersion=$target) since $release_started_iso; threshold $error_threshold"
    return 1
  fi
  verdict="$(error_rate_verdict "$requests" "$server_errors" "$max_error_rate" "$min_requests")" \
    || { GATE_REPORT="cannot compute the error rate"; return 1; }
  case "$verdict" in
    fail*)
      GATE_REPORT="version $target answered $server_errors ServerErrors in $requests Requests (rate ${verdict#fail }, over --max-error-rate $max_error_rate; $metrics_namespace, Service=$service, FunctionVersion=$target) since $release_started_iso"
      return 1 ;;
    thin) summary="$requests requests, $server_errors server errors: not enough traffic yet to judge the rate (--min-requests $min_requests)" ;;
    *) summary="$requests requests, $server_errors server errors (rate ${verdict#ok }, limit $max_error_rate)" ;;
  esac
  summary="gates pass for version $target since $release_started_iso: $summary; Errors $errors, Throttles $throttles"
  [ "$summary" = "$last_summary" ] || say "$summary"
  last_summary="$summary"
  return 0
}

description() { printf 'release.sh: previous=%s target=%s state=%s started=%s' "$old" "$target" "$1" "$release_started_iso"; }

# alias_is_ours ALIAS_JSON: the alias is as release.sh last left it (revision and state).
expected_primary="$old"
expected_routing="$weights"
alias_is_ours() {
  [ "$(jq -r '.RevisionId' <<<"$1")" = "$revision" ] && alias_matches "$1" "$expected_primary" "$expected_routing"
}
# conflict ALIAS_JSON WHEN: says what someone else left and exits 5.
conflict() {
  say "CONFLICT: $FUNCTION:$ALIAS was changed by someone else $2: it shows $(describe_alias "$1") (revision $(jq -r '.RevisionId' <<<"$1")), we left $(describe_alias "$(jq -nc --arg p "$expected_primary" --argjson r "$expected_routing" '{FunctionVersion: $p, Weights: $r.AdditionalVersionWeights}')") (revision $revision)"
  die "$EXIT_CONFLICT" "stopped without changing the alias; decide, then re-run release.sh or rollback.sh"
}

# roll_back REASON: reads the alias; if it is still as we left it, the rollback (primary = old, weights
# {}, guarded by the revision we read), verified, exit 4; if someone else changed it, exit 5.
roll_back() {
  local now_json shown error
  say "GATE FAILED: $1"
  if now_json="$(get_alias)"; then
    alias_is_ours "$now_json" || conflict "$now_json" "before the rollback; NOT rolled back"
  else
    say "cannot read the alias before rolling back; the rollback is guarded by revision $revision"
  fi
  say "rolling back: $FUNCTION:$ALIAS -> primary $old, weights {}"
  if ! aws_write lambda update-alias --function-name "$FUNCTION" --name "$ALIAS" --function-version "$old" \
      --routing-config "$EMPTY_ROUTING" --revision-id "$revision" --description "$(description rolled-back)" >/dev/null 2>"$err_file"; then
    error="$(cat "$err_file")"
    printf '%s\n' "$error" >&2
    if [[ "$error" == *PreconditionFailed* ]]; then
      die "$EXIT_CONFLICT" "CONFLICT: the alias changed since revision $revision (someone else moved it just now); NOT rolled back, left as they left it"
    fi
    die "$EXIT_AWS_FAILED" "ROLLBACK FAILED: update-alias was refused; run scripts/rollback.sh --function $FUNCTION --alias $ALIAS --to $old"
  fi
  shown="$(verify_alias "$old" "$EMPTY_ROUTING")" || die "$EXIT_AWS_FAILED" "ROLLBACK NOT VERIFIED; run scripts/rollback.sh --to $old"
  say "report: release of version $target stopped; gate: $1"
  say "report: $FUNCTION:$ALIAS is back on version $old ($(describe_alias "$shown"))"
  exit "$EXIT_ROLLED_BACK"
}

# watch_gates SECONDS: checks the gates every --poll seconds until SECONDS have passed, at least once
# and once more after the end, rolling back on a failure. A background sleep is the clock: `date +%s`
# counts whole seconds, and bash has no portable finer clock.
watch_gates() {
  sleep "$1" >/dev/null 2>&1 &
  clock_pid=$!
  while :; do
    kill -0 "$clock_pid" 2>/dev/null && sleep "$poll"
    gates_pass || roll_back "$GATE_REPORT"
    kill -0 "$clock_pid" 2>/dev/null || break
  done
  wait "$clock_pid" 2>/dev/null || true
  clock_pid=""
}

# smoke_test EVENT_FILE: invokes version N with the event; refuses the release (exit 2) unless it
# answers an API Gateway response with a 2xx statusCode and no function error.
smoke_test() {
  local event="$1" out="$work_dir/smoke-response" meta function_error status body
  if ! meta="$(aws_read lambda invoke --function-name "$FUNCTION" --qualifier "$target" --payload "fileb://$event" "$out")"; then
    die "$EXIT_AWS_FAILED" "smoke test: lambda invoke of version $target failed (it needs lambda:InvokeFunction; --skip-smoke-test skips it)"
  fi
  function_error="$(jq -r '.FunctionError // empty' <<<"$meta")"
  body="$(head -c 300 "$out" 2>/dev/null || true)"
  if [ -n "$function_error" ]; then
    die "$EXIT_REFUSED" "SMOKE TEST FAILED, release refused: version $target raised a function error ($function_error) on $event: $body"
  fi
  status="$(jq -r 'if type == "object" and (.statusCode | type) == "number" then .statusCode else empty end' "$out" 2>/dev/null || true)"
  if [ -z "$status" ]; then
    die "$EXIT_REFUSED" "SMOKE TEST FAILED, release refused: version $target did not answer an API Gateway response (no statusCode) to $event: $body"
  fi
  body="$(jq -r 'if .isBase64Encoded == true then (.body // "" | @base64d) else (.body // "" | tostring) end | .[0:300]' "$out" 2>/dev/null || true)"
  if [ "$status" -lt 200 ] || [ "$status" -gt 299 ]; then
    die "$EXIT_REFUSED" "SMOKE TEST FAILED, release refused: version $target answered status $status to $event; body: $body"
  fi
  say "smoke test: version $target answered status $status to $event"
}

# --- The release -----------------------------------------------------------------------------------
say "$FUNCTION:$ALIAS: $(describe_alias "$alias_json"); releasing version $target over steps $steps_arg (gates from $release_started_iso)"
if [ "$resuming" = 1 ]; then
  say "resuming: version $target already serves traffic, so no smoke test; watching it for a full interval (${interval}s) at the current weight first"
elif [ "$skip_smoke" -eq 1 ]; then
  say "WARNING: --skip-smoke-test: version $target gets traffic without being invoked once first"
else
  for event in "${smoke_events[@]}"; do
    if [ "$DRY_RUN" -eq 1 ]; then
      printf '# smoke test (invokes code, so not run in a dry run): %s\n' \
        "$(quote_command aws "${AWS_GLOBAL[@]}" lambda invoke --function-name "$FUNCTION" --qualifier "$target" --payload "fileb://$event" response.json)" >&4
    else
      smoke_test "$event"
    fi
  done
fi
if [ "$DRY_RUN" -eq 0 ]; then
  if [ "$resuming" = 1 ]; then
    # The version already has traffic: every gate counts, a failure rolls back.
    watch_gates "$interval"
  elif [ "${#blocking[@]}" -gt 0 ]; then
    die "$EXIT_REFUSED" "alarm in ALARM before the release starts: ${blocking[*]} (--allow-alarm NAME releases anyway, knowingly)"
  fi
fi

first=1
for step in "${steps[@]}"; do
  weight="$(awk -v s="$step" 'BEGIN { printf "%g", s / 100 }')"
  if [ "$step" -lt 100 ] && [ "$(awk -v w="$weight" -v c="$current_weight" 'BEGIN { print (w <= c + 1e-9) }')" = 1 ]; then
    say "step $step%: already at or past it (version $target at $(awk -v c="$current_weight" 'BEGIN { printf "%g", c * 100 }')%), skipping"
    continue
  fi
  # Someone else may have moved the alias since we last looked (the --revision-id guard catches the
  # rest; moto does not enforce it, so compare the state too).
  if { [ "$first" -eq 0 ] || [ "$resuming" = 1 ]; } && [ "$DRY_RUN" -eq 0 ]; then
    now_json="$(get_alias)" || die "$EXIT_AWS_FAILED" "cannot read alias $FUNCTION:$ALIAS"
    alias_is_ours "$now_json" || conflict "$now_json" "during the release"
  fi
  first=0
  if [ "$step" -lt 100 ]; then
    primary="$old"; routing="$(routing_json "$target" "$weight")"; state=canary
  else
    primary="$target"; routing="$EMPTY_ROUTING"; state=released
  fi
  check_alias_rules "$primary" "$routing" || die "$EXIT_REFUSED" "refusing to write this alias"

  if ! result="$(aws_write lambda update-alias --function-name "$FUNCTION" --name "$ALIAS" --function-version "$primary" \
      --routing-config "$routing" --revision-id "$revision" --description "$(description "$state")" 2>"$err_file")"; then
    error="$(cat "$err_file")"
    printf '%s\n' "$error" >&2
    if [[ "$error" == *PreconditionFailed* ]]; then
      die "$EXIT_CONFLICT" "CONFLICT: the alias changed since revision $revision (someone else moved it); stopped without changing it"
    fi
    die "$EXIT_AWS_FAILED" "update-alias failed at step $step%; the alias is left as it was (re-run to continue, or scripts/rollback.sh)"
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    revision="<RevisionId returned by the previous update-alias>"
    printf '# then watch for %ss: ServerErrors/Requests of version %s <= %s (from %s requests), Errors and Throttles <= %s, alarms [%s] not in ALARM\n' \
      "$([ "$step" -lt 100 ] && echo "$interval" || echo "$bake")" "$target" "$max_error_rate" "$min_requests" "$error_threshold" "${alarms[*]:-}" >&4
    continue
  fi
  returned_revision="$(jq -r '.RevisionId // empty' <<<"$result")"
  # Our update succeeded; if get-alias then shows something else, someone wrote after us.
  shown="$(verify_alias "$primary" "$routing" "$returned_revision")" \
    || die "$EXIT_CONFLICT" "CONFLICT: the alias was changed by someone else right after our update at step $step%; stopped without changing it"
  revision="$(jq -r '.RevisionId' <<<"$shown")"
  if [ -n "$returned_revision" ] && [ "$returned_revision" != "$revision" ]; then
    die "$EXIT_CONFLICT" "CONFLICT: get-alias shows revision $revision right after our update returned $returned_revision; someone else changed the alias"
  fi
  expected_primary="$primary"; expected_routing="$routing"
  say "step $step%: $(describe_alias "$shown") (verified with get-alias)"
  if [ "$step" -lt 100 ]; then
    watch_gates "$interval"
  fi
done

if [ "$DRY_RUN" -eq 1 ]; then
  say "dry run: nothing was changed"
  exit 0
fi
# The bake: version N takes all the traffic; keep watching, and roll back if it fails.
if [ "$(awk -v b="$bake" 'BEGIN { print (b > 0) }')" = 1 ]; then
  say "baking: watching version $target at 100% for ${bake}s"
  watch_gates "$bake"
  now_json="$(get_alias)" || die "$EXIT_AWS_FAILED" "cannot read alias $FUNCTION:$ALIAS after the bake"
  alias_is_ours "$now_json" || conflict "$now_json" "during the bake"
fi
say "released version $target on $FUNCTION:$ALIAS (previous version $old; scripts/rollback.sh returns to it)"
printf '%s\n' "$target"
