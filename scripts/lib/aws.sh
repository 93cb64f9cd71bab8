# shellcheck shell=bash
# The constants and globals below are used by the scripts that source this file (SC2034), and the
# help text shows variable names literally (SC2016).
# shellcheck disable=SC2034,SC2016
# Shared helpers for the release scripts (publish.sh, release.sh, rollback.sh). Source it; it defines
# functions only. Needs `aws` (CLI v1 or v2) and `jq`.
#
# The callers set these globals (parse_common_option fills them from the command line):
#   FUNCTION   function name (default $FUNCTION_NAME, else profile-service-dev)
#   ALIAS      alias name (default live)
#   REGION     --region for every call (empty: the CLI's own default)
#   ENDPOINT   --endpoint-url for every call (empty: the real service)
#   DRY_RUN    1: calls that change something are printed on stdout instead of run
#   PROG       the script's name, for messages

# Exit codes shared by the release scripts.
readonly EXIT_AWS_FAILED=1     # an AWS call failed, or get-alias did not show what was written
readonly EXIT_REFUSED=2        # refused before changing anything (alias rules, bad state, alarms, smoke test)
readonly EXIT_NOTHING_NEW=3    # publish.sh: PublishVersion returned an existing version
readonly EXIT_ROLLED_BACK=4    # release.sh: a gate failed and the alias was rolled back
readonly EXIT_CONFLICT=5       # release.sh: someone else changed the alias; left as they left it
readonly EXIT_USAGE=64         # bad command line

FUNCTION="${FUNCTION_NAME:-profile-service-dev}"
ALIAS="live"
REGION=""
ENDPOINT=""
DRY_RUN=0
PROG="${PROG:-${0##*/}}"

# The options every release script takes, for its --help.
readonly COMMON_OPTIONS_HELP='  --function NAME       the Lambda function (default: $FUNCTION_NAME, else profile-service-dev)
  --alias NAME          the alias (default: live)
  --region REGION       AWS region (default: the CLI'"'"'s, e.g. $AWS_REGION)
  --endpoint-url URL    send every call to URL (an emulator such as ministack or moto)
  --dry-run             run only read calls; print every call that would change something, in order
  -h, --help            this text'

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { local code="$1"; shift; say "$*"; exit "$code"; }

# need_value OPTION VALUE: exits with a usage error when an option has no value.
need_value() {
  if [ -z "${2:-}" ] || [[ "$2" == --* ]]; then
    die "$EXIT_USAGE" "$1 needs a value (see --help)"
  fi
}

# parse_common_option "$@": handles one of the common options and sets COMMON_SHIFT to the number
# of words it used; returns 1 when "$1" is not a common option. Callers:
#   if parse_common_option "$@"; then shift "$COMMON_SHIFT"; continue; fi
COMMON_SHIFT=0
parse_common_option() {
  COMMON_SHIFT=2
  case "$1" in
    --function) need_value "$1" "${2:-}"; FUNCTION="$2" ;;
    --alias) need_value "$1" "${2:-}"; ALIAS="$2" ;;
    --region) need_value "$1" "${2:-}"; REGION="$2" ;;
    --endpoint-url) need_value "$1" "${2:-}"; ENDPOINT="$2" ;;
    --dry-run) DRY_RUN=1; COMMON_SHIFT=1 ;;
    *) COMMON_SHIFT=0; return 1 ;;
  esac
  return 0
}

# require_tools: aws and jq must be on the PATH.
require_tools() {
  local tool
  for tool in aws jq; do
    command -v "$tool" >/dev/null 2>&1 || die "$EXIT_AWS_FAILED" "'$tool' is not on the PATH"
  done
}

# aws_args: the global arguments every call gets.
AWS_GLOBAL=()
build_aws_global() {
  AWS_GLOBAL=(--output json)
  [ -n "$REGION" ] && AWS_GLOBAL+=(--region "$REGION")
  [ -n "$ENDPOINT" ] && AWS_GLOBAL+=(--endpoint-url "$ENDPOINT")
  return 0
}

# quote_command WORD...: the words as one shell-safe line.
quote_command() {
  local out="" word
  for word in "$@"; do
    if [[ "$word" =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
      out+="$word "
    else
      out+="'${word//\'/\'\\\'\'}' "
    fi
  done
  printf '%s\n' "${out% }"
}

# aws_read SERVICE OPERATION ARGS...: a read-only call; runs even in --dry-run. JSON on stdout,
# the CLI's error on stderr, its exit status returned.
aws_read() {
  AWS_PAGER="" aws "${AWS_GLOBAL[@]}" "$@"
}

# The script's real stdout, kept on fd 4 so that --dry-run can print commands from inside $(…).
exec 4>&1

# aws_write SERVICE OPERATION ARGS...: a call that changes something; its JSON on stdout. In --dry-run
# it prints the command on the script's stdout (fd 4) instead, and outputs "{}".
aws_write() {
  if [ "$DRY_RUN" -eq 1 ]; then
    quote_command aws "${AWS_GLOBAL[@]}" "$@" >&4
    printf '{}\n'
    return 0
  fi
  AWS_PAGER="" aws "${AWS_GLOBAL[@]}" "$@"
}

# is_version_number S: a published version number (1, 2, …), never $LATEST.
is_version_number() { [[ "$1" =~ ^[1-9][0-9]{0,9}$ ]]; }

# The routing config that promotes or rolls back: an explicit empty map, never an omitted one.
readonly EMPTY_ROUTING='{"AdditionalVersionWeights":{}}'

# routing_json VERSION WEIGHT: {"AdditionalVersionWeights":{"VERSION":WEIGHT}} (JSON, which awscli v1
# and v2 both parse; v1's shorthand cannot take a quoted version key).
routing_json() {
  jq -nc --arg v "$1" --argjson w "$2" '{AdditionalVersionWeights: {($v): $w}}'
}

# check_alias_rules PRIMARY ROUTING_JSON: the Lambda alias rules, checked here because emulators do
# not: the primary is a published version number (not $LATEST); AdditionalVersionWeights has at most
# one entry, whose key is a published version number other than the primary and whose weight is a
# number within 0–1. Prints the broken rule on stderr and returns 1.
check_alias_rules() {
  local primary="$1" routing="$2" problem
  if ! is_version_number "$primary"; then
    say "alias rule: the primary version must be a published version number, not '$primary'"
    return 1
  fi
  problem="$(jq -r --arg p "$primary" '
    (.AdditionalVersionWeights // {}) as $w
    | if ($w | type) != "object" then "AdditionalVersionWeights must be a map"
      elif ($w | length) > 1 then "AdditionalVersionWeights takes at most one additional version, got \($w | length): \($w | keys | join(", "))"
      else ($w | to_entries | map(
        if (.key | test("^[1-9][0-9]{0,9}$") | not) then "the additional version must be a published version number, not \(.key | tojson)"
        elif .key == $p then "the additional version \(.key) is the primary version itself"
        elif (.value | type) != "number" then "the weight of version \(.key) must be a number"
        elif .value < 0 or .value > 1 then "the weight of version \(.key) must be within 0-1, not \(.value)"
        else empty end) | first // "")
      end' <<<"$routing" 2>/dev/null)" || problem="routing config is not valid JSON: $routing"
  if [ -n "$problem" ]; then
    say "alias rule: $problem"
    return 1
  fi
  return 0
}

# get_alias: the alias as compact JSON {FunctionVersion, Weights, RevisionId, Description} on stdout.
# Returns 1 (with the CLI's error on stderr) when the call fails.
get_alias() {
  local raw
  raw="$(aws_read lambda get-alias --function-name "$FUNCTION" --name "$ALIAS")" || return 1
  jq -c '{FunctionVersion, Weights: (.RoutingConfig.AdditionalVersionWeights // {}),
          RevisionId: (.RevisionId // ""), Description: (.Description // "")}' <<<"$raw"
}

# alias_matches ALIAS_JSON PRIMARY ROUTING_JSON: true when the alias shows exactly this primary and
# these weights (an absent RoutingConfig counts as the empty map, as AWS omits it).
alias_matches() {
  jq -e --arg p "$2" --argjson r "$3" '
    (.FunctionVersion == $p)
    and ((.Weights | keys) == ($r.AdditionalVersionWeights | keys))
    and all(.Weights | to_entries[]; (.value - $r.AdditionalVersionWeights[.key]) as $d | $d < 1e-9 and $d > -1e-9)' \
    <<<"$1" >/dev/null 2>&1
}

# verify_alias PRIMARY ROUTING_JSON [REVISION]: polls get-alias (at most 10 times, about 5 s) until it
# shows this primary and these weights; Lambda may show a transient routing config right after an
# update. With REVISION (what our update-alias returned), a different RevisionId ends the wait at once:
# someone else wrote the alias after us. Prints the alias JSON on stdout; returns 1 if it never matched.
verify_alias() {
  local primary="$1" routing="$2" revision="${3:-}" attempt current="" shown_revision
  [ "$DRY_RUN" -eq 1 ] && { printf '{}\n'; return 0; }
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if current="$(get_alias)"; then
      alias_matches "$current" "$primary" "$routing" && { printf '%s\n' "$current"; return 0; }
      shown_revision="$(jq -r '.RevisionId' <<<"$current")"
      if [ -n "$revision" ] && [ -n "$shown_revision" ] && [ "$shown_revision" != "$revision" ]; then
        break
      fi
    fi
    [ "$attempt" -lt 10 ] && sleep 0.5
  done
  say "get-alias does not show primary $primary with routing $routing; it shows: ${current:-nothing}"
  return 1
}

# describe_alias ALIAS_JSON: one human line, e.g. "primary 1, version 2 at 10%".
describe_alias() {
  jq -r '"primary \(.FunctionVersion)" + (if (.Weights | length) == 0 then ", no weights"
         else (.Weights | to_entries | map(", version \(.key) at \(.value * 100 | round)%") | join("")) end)' <<<"$1"
}

# description_field DESCRIPTION KEY: the value of "KEY=VALUE" in an alias description written by
# release.sh ("release.sh: previous=1 target=2 state=canary"); empty when absent.
description_field() {
  local word
  for word in $1; do
    if [[ "$word" == "$2="* ]]; then
      printf '%s\n' "${word#*=}"
      return 0
    fi
  done
  return 0
}

# newest_published_version: the highest published version number of $FUNCTION (empty when none).
newest_published_version() {
  local raw
  raw="$(aws_read lambda list-versions-by-function --function-name "$FUNCTION")" || return 1
  jq -r '[.Versions[].Version | select(test("^[0-9]+$")) | tonumber] | max // empty' <<<"$raw"
}

# version_configuration VERSION: get-function-configuration of one version (JSON); 1 when missing.
version_configuration() {
  aws_read lambda get-function-configuration --function-name "$FUNCTION" --qualifier "$1"
}

# list_versions: list-versions-by-function of $FUNCTION as {"VERSION": configuration, …}, published
# versions only (the CLI follows the pages).
list_versions() {
  local raw
  raw="$(aws_read lambda list-versions-by-function --function-name "$FUNCTION")" || return 1
  jq -c '[.Versions[] | select(.Version | test("^[0-9]+$")) | {key: .Version, value: .}] | from_entries' <<<"$raw"
}

# --- Time, without GNU-only tools ------------------------------------------------------------------
# `date -d`, `date -r`, `stat -c` and `sed -i` differ between GNU (Linux) and BSD (macOS); jq, which
# every release script needs anyway, converts times the same way on both. `date +%s` is in both.

# iso_time EPOCH: the UTC time as 2026-12-01T22:17:00Z.
iso_time() { jq -nr --argjson t "$1" '$t | floor | todate'; }

# epoch_of ISO_TIME: seconds since the epoch of a time written by iso_time; returns 1 when it is not one.
epoch_of() {
  [[ "$1" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] || return 1
  jq -nr --arg t "$1" '$t | fromdateiso8601'
}

# --- Functions named by ARN ------------------------------------------------------------------------

# function_name_of FUNCTION: the bare function name of a name, a full ARN
# (arn:aws:lambda:REGION:ACCOUNT:function:NAME) or a partial one (ACCOUNT:function:NAME), for metric
# dimensions and messages. Returns 1 for a qualified ARN (…:NAME:ALIAS; the alias is --alias).
function_name_of() {
  local rest="$1"
  [[ "$rest" == arn:* ]] && rest="${rest#arn:*:lambda:*:*:}"
  [[ "$rest" =~ ^[0-9]{12}:function: ]] && rest="${rest#*:function:}"
  [[ "$rest" == function:* ]] && rest="${rest#function:}"
  [[ "$rest" =~ ^[A-Za-z0-9_-]+$ ]] || return 1
  printf '%s\n' "$rest"
}

# region_of_arn FUNCTION: the region of a full function ARN; empty for a name.
region_of_arn() {
  local IFS=:
  # shellcheck disable=SC2086 # split on ':' on purpose
  set -- $1
  [ "${1:-}" = arn ] && [ "$#" -ge 7 ] && printf '%s\n' "$4"
  return 0
}

# --- Gates -----------------------------------------------------------------------------------------

# error_rate_verdict REQUESTS SERVER_ERRORS MAX_RATE MIN_REQUESTS: "ok RATE", "fail RATE", or "thin"
# when fewer than MIN_REQUESTS requests (or none at all) were seen: too few to judge a rate, and never
# a division by zero.
error_rate_verdict() {
  awk -v r="$1" -v e="$2" -v m="$3" -v n="$4" 'BEGIN {
    if (r + 0 <= 0 || r + 0 < n + 0) { print "thin"; exit }
    rate = e / r
    printf "%s %.4f\n", (rate > m + 0 ? "fail" : "ok"), rate
  }'
}

# alarm_version_conflicts DESCRIBE_ALARMS_JSON VERSION: one line "NAME: Dim=Value, …" for every metric
# alarm with an ExecutedVersion or FunctionVersion dimension (its own, or one of its metric-math
# metrics') naming a version other than VERSION: such an alarm watches another version than the one
# being released, so it can neither stop a bad release nor be trusted as a gate.
alarm_version_conflicts() {
  jq -r --arg v "$2" '
    (.MetricAlarms // [])[] | .AlarmName as $name
    | ([(.Dimensions // [])[]] + [(.Metrics // [])[] | (.MetricStat.Metric.Dimensions // [])[]])
    | map(select((.Name == "ExecutedVersion" or .Name == "FunctionVersion") and .Value != $v) | "\(.Name)=\(.Value)")
    | unique | select(length > 0) | "\($name): \(join(", "))"' <<<"$1"
}

# composite_children DESCRIBE_ALARMS_JSON: the names of the alarms the composite alarms' rules refer
# to (ALARM("name"), OK(name), INSUFFICIENT_DATA(arn:…:alarm:name)), one a line.
composite_children() {
  jq -r '(.CompositeAlarms // [])[] | .AlarmRule // ""
    | [scan("(?:ALARM|OK|INSUFFICIENT_DATA)\\(\\s*\"?([^\")]+?)\"?\\s*\\)")[0]] | .[]
    | sub("^arn:[^:]*:cloudwatch:[^:]*:[^:]*:alarm:"; "")' <<<"$1"
}
