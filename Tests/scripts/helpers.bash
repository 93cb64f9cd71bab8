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

# make_zip DIR N: a small deployment zip whose bootstrap prints N; prints its path.
make_zip() {
  mkdir -p "$1/src$2"
  printf '#!/bin/sh\n# release test build %s\necho %s\n' "$2" "$2" >"$1/src$2/bootstrap"
  chmod +x "$1/src$2/bootstrap"
  (cd "$1/src$2" && zip -q -X "../fn$2.zip" bootstrap)
  printf '%s\n' "$1/fn$2.zip"
}

# emu ARGS...: the real aws CLI against the emulator under test ($EMU_URL).
emu() { "${AWS_SPY_REAL:-aws}" --endpoint-url "$EMU_URL" --output json "$@"; }

# new_function NAME: creates NAME from make_zip 1 (provided.al2) as version 1, waits until it is Active.
# The role release-test is made once per suite (setup_file), which also exports ACCOUNT.
new_function() {
  emu lambda create-function --function-name "$1" --runtime provided.al2 --handler bootstrap --publish \
    --role "arn:aws:iam::${ACCOUNT:?}:role/release-test" --zip-file "fileb://$(make_zip "$BATS_TEST_TMPDIR" 1)" >/dev/null
  emu lambda wait function-active-v2 --function-name "$1"
}

# function_with_versions NAME: NAME with published versions 1 and 2 and alias live on version 1,
# made with plain CLI calls (publish.sh has its own tests).
function_with_versions() {
  new_function "$1"
  emu lambda update-function-code --function-name "$1" --zip-file "fileb://$(make_zip "$BATS_TEST_TMPDIR" 2)" \
    --publish >/dev/null
  emu lambda create-alias --function-name "$1" --name live --function-version 1 >/dev/null
}

# alias_state NAME: the alias as {FunctionVersion, Weights} (compact JSON; absent weights = {}).
alias_state() {
  emu lambda get-alias --function-name "$1" --name live \
    | jq -c '{FunctionVersion, Weights: (.RoutingConfig.AdditionalVersionWeights // {})}'
}

# set_alias NAME PRIMARY ROUTING_JSON [DESCRIPTION]: moves the alias directly (as another operator would).
set_alias() {
  emu lambda update-alias --function-name "$1" --name live --function-version "$2" --routing-config "$3" \
    ${4:+--description "$4"} >/dev/null
}
