#!/usr/bin/env bash
# Moves a weighted Lambda alias to a new version step by step, watching gates, rolling back on failure.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/release.sh [--version N] [--steps 10,50,100] [--interval SECONDS]
                          [--alarm NAME]... [--error-threshold COUNT] [--poll SECONDS] [options]

Shifts the alias from the version it points to now (the old version) to version N:
  each step below 100:  primary = old version, AdditionalVersionWeights = {"N": step/100}
  the last step (100):  primary = N, AdditionalVersionWeights = {} (explicit empty map)
Every update-alias carries --revision-id and a JSON routing config (awscli v1 and v2 both take it)
and is checked with get-alias. The alias description records the old version
("release.sh: previous=OLD target=N state=canary"), which scripts/rollback.sh uses.

Between steps (for --interval seconds, checked every --poll seconds) the gates are:
  - every CloudWatch alarm named by --alarm must not be in ALARM
  - AWS/Lambda Errors (Sum) with dimensions FunctionName, Resource=FUNCTION:ALIAS and ExecutedVersion=N,
    since the step began (minute resolution), must not exceed --error-threshold
A failing gate rolls back at once (primary = old version, weights {}; no revision guard) and exits 4.

The alias rules are checked here before any call that changes something, because emulators do not
check them: both versions are published version numbers (never \$LATEST), at most one additional
version, weights within 0-1, new version != old version. Both versions must exist and share one role.

Re-running on an alias that is part-way (primary = old, {"N": w}) continues with the steps above w.
An alias already on N with no weights is left alone (exit 0). If someone else changes the alias while
a release runs, release.sh stops without touching it (exit 5).

Options:
  --version N           the version to release (default: the newest published version)
  --steps LIST          traffic percentages for N, increasing, ending in 100 (default: 10,50,100)
  --interval SECONDS    how long each step below 100 is watched before the next (default: 300)
  --poll SECONDS        how often the gates are checked during an interval (default: 10)
  --alarm NAME          a CloudWatch alarm to watch (repeatable); each must exist
  --error-threshold N   most Errors of version N tolerated per step (default: 0)
$COMMON_OPTIONS_HELP

Exit status:
  0   the alias points to N with no weights (released, or already released)
  1   an AWS call failed, or get-alias did not show what was written (the alias is left as it is)
  2   refused before changing anything (alias rules, another canary in progress, missing alarm,
      an alarm already in ALARM)
  4   a gate failed: the alias was rolled back to the old version (report on stderr)
  5   the alias was changed by someone else during the release: stopped without changing it
  64  bad command line
USAGE
}

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/aws.sh
source scripts/lib/aws.sh
PROG=release.sh

target=""
steps_arg="10,50,100"
interval=300
poll=10
error_threshold=0
alarms=()
while [ $# -gt 0 ]; do
  if parse_common_option "$@"; then shift "$COMMON_SHIFT"; continue; fi
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --version) need_value "$1" "${2:-}"; target="$2"; shift 2 ;;
    --steps) need_value "$1" "${2:-}"; steps_arg="$2"; shift 2 ;;
    --interval) need_value "$1" "${2:-}"; interval="$2"; shift 2 ;;
    --poll) need_value "$1" "${2:-}"; poll="$2"; shift 2 ;;
    --alarm) need_value "$1" "${2:-}"; alarms+=("$2"); shift 2 ;;
    --error-threshold) need_value "$1" "${2:-}"; error_threshold="$2"; shift 2 ;;
    *) die "$EXIT_USAGE" "unknown argument '$1' (see --help)" ;;
  esac
done

# --- Checks that need no call ----------------------------------------------------------------------
[[ "$interval" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "$EXIT_USAGE" "--interval must be a number of seconds, not '$interval'"
if ! [[ "$poll" =~ ^[0-9]+([.][0-9]+)?$ ]] || [ "$(awk -v p="$poll" 'BEGIN { print (p > 0) }')" != 1 ]; then
  die "$EXIT_USAGE" "--poll must be a positive number of seconds, not '$poll'"
fi
[[ "$error_threshold" =~ ^[0-9]+$ ]] || die "$EXIT_USAGE" "--error-threshold must be a whole number, not '$error_threshold'"
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

require_tools
build_aws_global
err_file="$(mktemp)"
trap 'rm -f "$err_file"' EXIT

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

# Both versions must exist, be Active and share one execution role (Lambda's rule for weighted aliases).
for version in "$old" "$target"; do
  jq -e --arg v "$version" 'has($v)' <<<"$versions" >/dev/null || die "$EXIT_REFUSED" "version $version of $FUNCTION does not exist"
done
new_state="$(jq -r --arg v "$target" '.[$v].State // "Active"' <<<"$versions")"
[ "$new_state" = "Active" ] || die "$EXIT_REFUSED" "version $target is $new_state, not Active"
[ "$(jq -r --arg a "$old" --arg b "$target" '.[$a].Role == .[$b].Role' <<<"$versions")" = true ] \
  || die "$EXIT_REFUSED" "alias rule: versions $old and $target must have the same execution role"

# --- Gates -----------------------------------------------------------------------------------------
alarms_firing=""
if [ "${#alarms[@]}" -gt 0 ]; then
  found="$(aws_read cloudwatch describe-alarms --alarm-names "${alarms[@]}")" || die "$EXIT_AWS_FAILED" "describe-alarms failed"
  for name in "${alarms[@]}"; do
    jq -e --arg n "$name" '[(.MetricAlarms // [])[], (.CompositeAlarms // [])[]] | any(.AlarmName == $n)' <<<"$found" >/dev/null \
      || die "$EXIT_REFUSED" "alarm '$name' does not exist"
  done
  alarms_firing="$(jq -r '[(.MetricAlarms // [])[], (.CompositeAlarms // [])[]] | map(select(.StateValue == "ALARM") | .AlarmName) | join(", ")' <<<"$found")"
fi

GATE_REPORT=""
# gates_pass SINCE_EPOCH: true when no watched alarm is in ALARM and version N's Errors since then are
# within the threshold; otherwise false with the reason in GATE_REPORT.
gates_pass() {
  local since="$1" raw firing dims errors
  if [ "${#alarms[@]}" -gt 0 ]; then
    raw="$(aws_read cloudwatch describe-alarms --alarm-names "${alarms[@]}")" || { GATE_REPORT="describe-alarms failed"; return 1; }
    firing="$(jq -r '[(.MetricAlarms // [])[], (.CompositeAlarms // [])[]] | map(select(.StateValue == "ALARM"))
      | map("\(.AlarmName) (\(.StateReason // "no reason"))") | join("; ")' <<<"$raw")"
    if [ -n "$firing" ]; then GATE_REPORT="alarm in ALARM: $firing"; return 1; fi
  fi
  dims="$(jq -nc --arg f "$FUNCTION" --arg a "$ALIAS" --arg v "$target" \
    '[{Name: "FunctionName", Value: $f}, {Name: "Resource", Value: "\($f):\($a)"}, {Name: "ExecutedVersion", Value: $v}]')"
  raw="$(aws_read cloudwatch get-metric-statistics --namespace AWS/Lambda --metric-name Errors --dimensions "$dims" \
    --start-time "$(date -u -d "@$((since - since % 60))" +%FT%TZ)" --end-time "$(date -u -d "@$(($(date +%s) + 60))" +%FT%TZ)" \
    --period 60 --statistics Sum)" || { GATE_REPORT="get-metric-statistics failed"; return 1; }
  errors="$(jq -r '[.Datapoints[]?.Sum] | add // 0 | floor' <<<"$raw")"
  if [ "$errors" -gt "$error_threshold" ]; then
    GATE_REPORT="version $target had $errors Errors (FunctionName=$FUNCTION, Resource=$FUNCTION:$ALIAS, ExecutedVersion=$target) since $(date -u -d "@$since" +%TZ); threshold $error_threshold"
    return 1
  fi
  return 0
}

description() { printf 'release.sh: previous=%s target=%s state=%s' "$old" "$target" "$1"; }

# roll_back REASON: the instant rollback (no revision guard: nothing may block it), verified; exits 4.
roll_back() {
  say "GATE FAILED: $1"
  say "rolling back: $FUNCTION:$ALIAS -> primary $old, weights {}"
  if ! aws_write lambda update-alias --function-name "$FUNCTION" --name "$ALIAS" --function-version "$old" \
    --routing-config "$EMPTY_ROUTING" --description "$(description rolled-back)" >/dev/null; then
    die "$EXIT_AWS_FAILED" "ROLLBACK FAILED: update-alias was refused; run scripts/rollback.sh --function $FUNCTION --alias $ALIAS --to $old"
  fi
  local shown
  shown="$(verify_alias "$old" "$EMPTY_ROUTING")" || die "$EXIT_AWS_FAILED" "ROLLBACK NOT VERIFIED; run scripts/rollback.sh --to $old"
  say "report: release of version $target stopped; gate: $1"
  say "report: $FUNCTION:$ALIAS is back on version $old ($(describe_alias "$shown"))"
  exit "$EXIT_ROLLED_BACK"
}

# watch_gates SECONDS: checks the gates every --poll seconds until SECONDS have passed (at least once,
# at most SECONDS/poll + 2 times), rolling back on a failure.
watch_gates() {
  local started now end checks=0 max_checks
  started="$(date +%s)"
  end="$(awk -v s="$started" -v i="$1" 'BEGIN { printf "%d", s + i + 0.999 }')"
  max_checks="$(awk -v i="$1" -v p="$poll" 'BEGIN { printf "%d", i / p + 2 }')"
  while :; do
    now="$(date +%s)"
    if [ "$now" -lt "$end" ]; then
      sleep "$(awk -v p="$poll" -v r="$((end - now))" 'BEGIN { print (p < r ? p : r) }')"
    fi
    checks=$((checks + 1))
    gates_pass "$started" || roll_back "$GATE_REPORT"
    now="$(date +%s)"
    if [ "$now" -ge "$end" ] || [ "$checks" -ge "$max_checks" ]; then break; fi
  done
}

# --- The release -----------------------------------------------------------------------------------
say "$FUNCTION:$ALIAS: $(describe_alias "$alias_json"); releasing version $target over steps $steps_arg"
# Before the first change: a firing alarm refuses a new release; when resuming a canary, every gate
# counts, and a failure rolls back.
if [ "$DRY_RUN" -eq 0 ]; then
  if [ "$(awk -v w="$current_weight" 'BEGIN { print (w > 0) }')" = 1 ]; then
    gates_pass "$(date +%s)" || roll_back "$GATE_REPORT"
  elif [ -n "$alarms_firing" ]; then
    die "$EXIT_REFUSED" "alarm in ALARM before the release starts: $alarms_firing"
  fi
fi

expected_primary="$old"
expected_routing="$weights"
first=1
for step in "${steps[@]}"; do
  weight="$(awk -v s="$step" 'BEGIN { printf "%g", s / 100 }')"
  if [ "$step" -lt 100 ] && [ "$(awk -v w="$weight" -v c="$current_weight" 'BEGIN { print (w <= c + 1e-9) }')" = 1 ]; then
    say "step $step%: already at or past it (version $target at $(awk -v c="$current_weight" 'BEGIN { printf "%g", c * 100 }')%), skipping"
    continue
  fi
  # Someone else may have moved the alias since we last looked (the --revision-id guard catches the
  # rest; moto does not enforce it, so compare the state too).
  if [ "$first" -eq 0 ] && [ "$DRY_RUN" -eq 0 ]; then
    now_json="$(get_alias)" || die "$EXIT_AWS_FAILED" "cannot read alias $FUNCTION:$ALIAS"
    if [ "$(jq -r '.RevisionId' <<<"$now_json")" != "$revision" ] || ! alias_matches "$now_json" "$expected_primary" "$expected_routing"; then
      say "CONFLICT: $FUNCTION:$ALIAS was changed by someone else: it shows $(describe_alias "$now_json") (revision $(jq -r '.RevisionId' <<<"$now_json")), we left $(describe_alias "$(jq -nc --arg p "$expected_primary" --argjson r "$expected_routing" '{FunctionVersion: $p, Weights: $r.AdditionalVersionWeights}')") (revision $revision)"
      die "$EXIT_CONFLICT" "stopped without changing the alias; decide, then re-run release.sh or rollback.sh"
    fi
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
    if [ "$step" -lt 100 ]; then
      printf '# then watch for %ss: alarms [%s] not in ALARM, Errors of version %s <= %s\n' \
        "$interval" "${alarms[*]:-}" "$target" "$error_threshold" >&4
    fi
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
say "released version $target on $FUNCTION:$ALIAS (previous version $old; scripts/rollback.sh returns to it)"
printf '%s\n' "$target"
