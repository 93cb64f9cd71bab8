#!/usr/bin/env bash
# Instant rollback of a Lambda alias: one update-alias with the weights cleared, then verified.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/rollback.sh [--to N] [options]

Points the alias at one version with no weights, at once:
  during a canary (the alias has AdditionalVersionWeights): its primary, the stable version
  otherwise: the version it pointed to before the last release (release.sh records it in the alias
             description as "previous=N")
  --to N: version N
It reads the alias first (get-alias: to find the version, and to see whether there is anything to
do): an alias already on V with no weights is left alone, and rollback.sh says that nothing changed.
Otherwise the call is update-alias --function-version V --routing-config
'{"AdditionalVersionWeights":{}}' (an explicit empty map) without --revision-id: nothing may block a
rollback. get-alias then has to show version V with no weights. The alias description keeps
"previous=" so that running rollback.sh again is harmless.

Needs lambda:GetAlias and lambda:UpdateAlias (GetAlias before and after the update).

Options:
  --to N                the version to roll back to (a published version number, never \$LATEST)
$COMMON_OPTIONS_HELP

Exit status:
  0   the alias points to the version with no weights (verified; or it already did: nothing changed)
  1   an AWS call failed, or get-alias did not show the rollback
  2   refused: no version to roll back to is known (pass --to), or --to is not a published version
  64  bad command line
USAGE
}

SCRIPT_ROOT="$(cd -P "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib/aws.sh
source "$SCRIPT_ROOT/scripts/lib/aws.sh"
PROG=rollback.sh

to=""
while [ $# -gt 0 ]; do
  if parse_common_option "$@"; then shift "$COMMON_SHIFT"; continue; fi
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --to) need_value "$1" "${2:-}"; to="$2"; shift 2 ;;
    *) die "$EXIT_USAGE" "unknown argument '$1' (see --help)" ;;
  esac
done
if [ -n "$to" ] && ! is_version_number "$to"; then
  die "$EXIT_REFUSED" "alias rule: --to must be a published version number, not '$to' (never \$LATEST)"
fi

require_tools
build_aws_global

alias_json="$(get_alias)" || die "$EXIT_AWS_FAILED" "cannot read alias $FUNCTION:$ALIAS"
primary="$(jq -r '.FunctionVersion' <<<"$alias_json")"
description="$(jq -r '.Description' <<<"$alias_json")"
previous="$(description_field "$description" previous)"
if [ -n "$to" ]; then
  reason="asked for (--to)"
elif [ "$(jq -r '.Weights | length' <<<"$alias_json")" -gt 0 ]; then
  to="$primary"
  reason="the primary (stable) version of the canary"
elif [ -n "$previous" ]; then
  to="$previous"
  reason="the version before the last release (alias description)"
else
  die "$EXIT_REFUSED" "$FUNCTION:$ALIAS has no weights and no recorded previous version; pass --to N"
fi
is_version_number "$to" || die "$EXIT_REFUSED" "cannot roll back to '$to': not a published version number"
check_alias_rules "$to" "$EMPTY_ROUTING" || die "$EXIT_REFUSED" "refusing to write this alias"
if alias_matches "$alias_json" "$to" "$EMPTY_ROUTING"; then
  say "nothing changed: $FUNCTION:$ALIAS already points to version $to with no weights ($reason)"
  printf '%s\n' "$to"
  exit 0
fi
say "$FUNCTION:$ALIAS: $(describe_alias "$alias_json"); rolling back to version $to, $reason"

# Keep previous= (and the rest of release.sh's record) so a second rollback goes nowhere new.
new_description="release.sh: previous=${previous:-$to} target=$(description_field "$description" target) state=rolled-back"
[ -n "$(description_field "$description" target)" ] || new_description="release.sh: previous=${previous:-$to} target=$primary state=rolled-back"
if ! aws_write lambda update-alias --function-name "$FUNCTION" --name "$ALIAS" --function-version "$to" \
    --routing-config "$EMPTY_ROUTING" --description "$new_description" >/dev/null; then
  die "$EXIT_AWS_FAILED" "update-alias failed; the alias was not rolled back"
fi
if [ "$DRY_RUN" -eq 1 ]; then
  say "dry run: nothing was changed"
  exit 0
fi
shown="$(verify_alias "$to" "$EMPTY_ROUTING")" || die "$EXIT_AWS_FAILED" "get-alias does not confirm the rollback"
say "rolled back: $FUNCTION:$ALIAS -> $(describe_alias "$shown") (verified with get-alias)"
printf '%s\n' "$to"
