#!/usr/bin/env bash
# Uploads a zip to $LATEST and publishes it as an immutable Lambda version.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/publish.sh [--zip PATH] [--description TEXT] [options]

Publishes the zip as a new immutable version of the function:
  1. aws lambda wait function-updated-v2 (an update in progress would refuse the upload), then
     update-function-code from the zip, guarded by the function's --revision-id
  2. aws lambda wait function-updated-v2
  3. publish-version --code-sha256 <base64 SHA-256 of the zip> --revision-id <the function's revision
     after the upload> (fails if \$LATEST is not our zip, or changed after our upload)
  4. aws lambda wait published-version-active
  5. creates the alias on the new version when it does not exist yet (an existing alias is left
     alone: scripts/release.sh moves it)
The new version number is the last line on stdout; everything else goes to stderr.

PublishVersion returns the existing version when neither code nor configuration changed since it;
publish.sh reports that as "nothing new was published" (exit 3) and prints that version. Emulators
that always publish (ministack) are caught by comparing the new version with the previous newest one.

Options:
  --zip PATH            the deployment package, relative to the current directory (default: the
                        repository's .build/lambda/function.zip, written by scripts/package.sh)
  --description TEXT    the version's description (default: "sha256:<first 12 hex digits>")
$COMMON_OPTIONS_HELP

Needs aws (CLI v1 or v2), jq and openssl; lambda:GetFunctionConfiguration, UpdateFunctionCode,
ListVersionsByFunction, PublishVersion, GetAlias and CreateAlias.

Exit status:
  0   a new version was published (and the alias created if it was missing)
  1   an AWS call failed, or the zip is missing or not a zip
  3   nothing new was published: the printed version already holds this code and configuration
  64  bad command line
USAGE
}

SCRIPT_ROOT="$(cd -P "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib/aws.sh
source "$SCRIPT_ROOT/scripts/lib/aws.sh"
PROG=publish.sh

zip_path="$SCRIPT_ROOT/.build/lambda/function.zip"
description=""
while [ $# -gt 0 ]; do
  if parse_common_option "$@"; then shift "$COMMON_SHIFT"; continue; fi
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --zip) need_value "$1" "${2:-}"; zip_path="$2"; shift 2 ;;
    --description) need_value "$1" "${2:-}"; description="$2"; shift 2 ;;
    *) die "$EXIT_USAGE" "unknown argument '$1' (see --help)" ;;
  esac
done

require_tools
command -v openssl >/dev/null 2>&1 || die "$EXIT_AWS_FAILED" "'openssl' is not on the PATH"
[ -f "$zip_path" ] || die "$EXIT_AWS_FAILED" "no zip at $zip_path (build it with scripts/package.sh, or pass --zip)"
# A zip starts with the local file header "PK\003\004".
[ "$(head -c 4 "$zip_path" | od -An -tx1 | tr -d ' \n')" = "504b0304" ] \
  || die "$EXIT_AWS_FAILED" "$zip_path is not a zip file"

# Lambda's CodeSha256 is the base64 of the binary SHA-256 of the zip.
code_sha256="$(openssl dgst -sha256 -binary "$zip_path" | openssl base64 -A)"
hex_sha="$(openssl dgst -sha256 -r "$zip_path" | cut -c1-12)"
[ -n "$description" ] || description="sha256:$hex_sha"
build_aws_global
say "function $FUNCTION, zip $zip_path ($(wc -c <"$zip_path" | tr -d ' ') bytes, CodeSha256 $code_sha256)"

# An update still in progress (a deploy, a configuration change) would make the upload fail.
aws_read lambda get-function-configuration --function-name "$FUNCTION" >/dev/null \
  || die "$EXIT_AWS_FAILED" "cannot read function $FUNCTION (does it exist? create it with template.yaml)"
aws_read lambda wait function-updated-v2 --function-name "$FUNCTION" \
  || die "$EXIT_AWS_FAILED" "the function is still being updated (lambda wait function-updated-v2 gave up); try again"
config="$(aws_read lambda get-function-configuration --function-name "$FUNCTION")" \
  || die "$EXIT_AWS_FAILED" "cannot read function $FUNCTION"
revision="$(jq -r '.RevisionId // empty' <<<"$config")"
previous_newest="$(newest_published_version)" || die "$EXIT_AWS_FAILED" "cannot list the versions of $FUNCTION"

# 1. Upload, guarded by the revision we just read: someone else's concurrent update fails it (412).
update_args=(lambda update-function-code --function-name "$FUNCTION" --zip-file "fileb://$zip_path")
[ -n "$revision" ] && update_args+=(--revision-id "$revision")
updated="$(aws_write "${update_args[@]}")" || die "$EXIT_AWS_FAILED" "update-function-code failed"
if [ "$DRY_RUN" -eq 0 ]; then
  uploaded_sha="$(jq -r '.CodeSha256 // empty' <<<"$updated")"
  [ "$uploaded_sha" = "$code_sha256" ] \
    || die "$EXIT_AWS_FAILED" "Lambda reports CodeSha256 $uploaded_sha after the upload, not our $code_sha256"
fi

# 2. Wait until the update is done (LastUpdateStatus Successful).
if [ "$DRY_RUN" -eq 1 ]; then
  quote_command aws "${AWS_GLOBAL[@]}" lambda wait function-updated-v2 --function-name "$FUNCTION"
else
  aws_read lambda wait function-updated-v2 --function-name "$FUNCTION" \
    || die "$EXIT_AWS_FAILED" "the function did not finish updating (lambda wait function-updated-v2)"
fi

# 3. Publish exactly our zip: --code-sha256 makes Lambda refuse if $LATEST holds something else, and
# --revision-id if anything changed the function after our upload finished.
publish_args=(lambda publish-version --function-name "$FUNCTION" --code-sha256 "$code_sha256" --description "$description")
if [ "$DRY_RUN" -eq 1 ]; then
  publish_args+=(--revision-id '<RevisionId after the upload>')
else
  updated_config="$(aws_read lambda get-function-configuration --function-name "$FUNCTION")" \
    || die "$EXIT_AWS_FAILED" "cannot read function $FUNCTION after the upload"
  updated_revision="$(jq -r '.RevisionId // empty' <<<"$updated_config")"
  [ -n "$updated_revision" ] && publish_args+=(--revision-id "$updated_revision")
fi
published="$(aws_write "${publish_args[@]}")" || die "$EXIT_AWS_FAILED" "publish-version failed"
if [ "$DRY_RUN" -eq 1 ]; then
  quote_command aws "${AWS_GLOBAL[@]}" lambda wait published-version-active --function-name "$FUNCTION" --qualifier '<new version>'
  say "dry run: nothing was changed"
  exit 0
fi
version="$(jq -r '.Version // empty' <<<"$published")"
is_version_number "$version" || die "$EXIT_AWS_FAILED" "publish-version returned no version number: $published"
[ "$(jq -r '.CodeSha256 // empty' <<<"$published")" = "$code_sha256" ] \
  || die "$EXIT_AWS_FAILED" "version $version does not hold our zip (CodeSha256 differs)"

# 4. Wait until the version can be invoked.
aws_read lambda wait published-version-active --function-name "$FUNCTION" --qualifier "$version" \
  || die "$EXIT_AWS_FAILED" "version $version did not become Active"

# Nothing new? AWS returns the existing version when code and configuration are unchanged. Some
# emulators publish a duplicate instead, so also compare with the previous newest version.
nothing_new=""
if [ -n "$previous_newest" ]; then
  if [ "$version" -le "$previous_newest" ]; then
    nothing_new="$version"
  else
    fingerprint='{CodeSha256, Runtime, Handler, MemorySize, Timeout, Role, Architectures,
      Environment: (.Environment.Variables // {}), Layers: ([.Layers[]?.Arn]),
      EphemeralStorage: (.EphemeralStorage.Size // null), LoggingConfig, TracingConfig: (.TracingConfig.Mode // null)}'
    old_config="$(version_configuration "$previous_newest")" \
      || die "$EXIT_AWS_FAILED" "cannot read version $previous_newest"
    if [ "$(jq -cS "$fingerprint" <<<"$old_config")" = "$(jq -cS "$fingerprint" <<<"$published")" ]; then
      say "version $version duplicates version $previous_newest (this endpoint publishes even when nothing changed; AWS would not)"
      nothing_new="$previous_newest"
    fi
  fi
fi

# 5. Create the alias on the first publish; an existing alias is moved only by release.sh.
if ! aws_read lambda get-alias --function-name "$FUNCTION" --name "$ALIAS" >/dev/null 2>&1; then
  alias_version="${nothing_new:-$version}"
  aws_write lambda create-alias --function-name "$FUNCTION" --name "$ALIAS" --function-version "$alias_version" \
    --description "release.sh: previous=$alias_version target=$alias_version state=released" >/dev/null \
    || die "$EXIT_AWS_FAILED" "create-alias $ALIAS failed"
  verify_alias "$alias_version" "$EMPTY_ROUTING" >/dev/null || exit "$EXIT_AWS_FAILED"
  say "created alias $ALIAS on version $alias_version"
fi

if [ -n "$nothing_new" ]; then
  say "nothing new was published: version $nothing_new already holds this code and configuration"
  printf '%s\n' "$nothing_new"
  exit "$EXIT_NOTHING_NEW"
fi
say "published version $version; move $ALIAS to it with: scripts/release.sh --function $FUNCTION --version $version"
printf '%s\n' "$version"
