#!/usr/bin/env bats
# README.md's "From a fresh clone to a release, step by step", run on ministack with the real zip: the
# README's own command blocks (read from the README, so the text is what is tested), changed only where
# ministack needs it: the template's DeploymentType default (ministack's SAM transform sees only the
# defaults), EndpointOverride (the function's calls go to ministack), the /health route (ministack does
# not import the routes SAM writes into the API's OpenAPI body) and --interval 0 --poll 1. CodeDeploy has
# no local stand-in: template.bats checks that half on the SAM expansion.
# Needs .build/lambda/function.zip (scripts/package.sh) and a ministack with cloudformation, s3,
# apigateway, dynamodb, appconfig(data), lambda, logs, cloudwatch, iam and sts.

load helpers

# readme_block N: the Nth ```bash block of the step-by-step release section, unindented.
readme_block() {
  awk -v want="$1" '
    /^### From a fresh clone to a release/ { on = 1; next }
    /^### / && on { exit }
    on && /^ *```bash$/ { n++; indent = index($0, "`") - 1; inside = (n == want); next }
    on && /^ *```$/ { inside = 0; next }
    inside { print substr($0, indent + 1) }' "$REPO/README.md"
}

# The README's blocks, by number; a test fails loudly if the README moved them.
BLOCK_REGION=1 BLOCK_BUCKET=2 BLOCK_DEPLOY=3 BLOCK_OUTPUTS=4 BLOCK_RELEASE=5 BLOCK_FLAG=6 BLOCK_FLAG_CHECK=7
BLOCK_FLAG_ROLLBACK=8

# health: GET /health through the HTTP API (ministack routes by the Host header); prints body and status.
health() {
  curl -sS --max-time 60 -i -H "Host: $API_ID.execute-api.localhost:${EMU_URL##*:}" "$EMU_URL/$STAGE/health"
}

setup_file() {
  : "${EMU_URL:?EMU_URL must point at ministack}"
  zip="$REPO/.build/lambda/function.zip"
  [ -f "$zip" ] || return 0
  work="$BATS_FILE_TMPDIR/clone"
  mkdir -p "$work/.build/lambda"
  ln -s "$REPO/scripts" "$work/scripts"
  cp "$zip" "$work/.build/lambda/function.zip"
  awk '/^  DeploymentType:$/ { p = 1 } p && /^    Default:/ { sub(/Default: .*/, "Default: Scripted"); p = 0 } { print }' \
    "$REPO/template.yaml" >"$work/template.yaml"
  grep -q 'Default: Scripted' "$work/template.yaml"
  # Every aws call of the README's blocks and of the scripts goes to ministack.
  export AWS_ENDPOINT_URL="$EMU_URL"
  readme_block "$BLOCK_REGION" | grep -q 'export AWS_REGION='
  readme_block "$BLOCK_REGION" | grep -q 'STAGE=prod STACK=profile-service-prod'
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  STAGE="r$RANDOM" STACK="profile-r$RANDOM"   # read by the README's blocks
  cd "$work" || return 1
  # Steps 3 and 4: the artifact bucket, package and deploy (EndpointOverride added for ministack).
  eval "$(readme_block "$BLOCK_BUCKET")" >/dev/null
  # shellcheck disable=SC2016 # $EMU_URL is expanded by the eval
  eval "$(readme_block "$BLOCK_DEPLOY" | sed '$ s|$| EndpointOverride="$EMU_URL"|')" >"$BATS_FILE_TMPDIR/deploy.log" 2>&1 \
    || { cat "$BATS_FILE_TMPDIR/deploy.log" >&2; return 1; }
  # Step 5: the outputs (the README's `out`); its curl goes to the real API's host, done below instead.
  eval "$(readme_block "$BLOCK_OUTPUTS" | grep -v '^curl ')"
  API_ID="$(out ApiId)"
  # ministack does not create the routes of the API's OpenAPI body: add GET /health to the alias.
  integration="$(aws apigatewayv2 create-integration --api-id "$API_ID" --integration-type AWS_PROXY \
    --integration-uri "$(out AliasArn)" --payload-format-version 2.0 --query IntegrationId --output text)"
  aws apigatewayv2 create-route --api-id "$API_ID" --route-key 'GET /health' --target "integrations/$integration" >/dev/null
  # Step 6: publish new code (the same bootstrap plus a file, so the hash differs).
  cp "$zip" "$work/next.zip"
  echo "release test $STAGE" >"$work/RELEASE"
  (cd "$work" && zip -q next.zip RELEASE)
  V="$(scripts/publish.sh --function "$FUNCTION" --zip "$work/next.zip" | tail -1)"
  for name in STAGE STACK BUCKET FUNCTION API API_ID V work; do
    printf '%s=%q\n' "$name" "${!name}"
  done >"$BATS_FILE_TMPDIR/state"
}

setup() {
  [ -f "$REPO/.build/lambda/function.zip" ] || skip "no .build/lambda/function.zip yet (scripts/package.sh builds it)"
  # shellcheck disable=SC1091
  source "$BATS_FILE_TMPDIR/state"
  export AWS_ENDPOINT_URL="$EMU_URL" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  eval "$(readme_block "$BLOCK_OUTPUTS" | grep '^out()')"
  cd "$work" || return 1
}

@test "README steps 3-6: bucket, package, deploy (Scripted), outputs, GET /health through the API, publish" {
  [ "$(out ReleaseOwner)" = scripts/release.sh ]
  [ "$FUNCTION" = "profile-service-$STAGE" ] && [ "$(out AliasName)" = live ] && [ "$(out TableName)" = "profiles-$STAGE" ]
  [[ "$API" == "https://$API_ID.execute-api.us-east-1.amazonaws.com/$STAGE" ]]
  [ "$(out MetricsNamespace)" = ProfileService ] && [ "$(out MetricsService)" = "$FUNCTION" ]
  for key in FlagsApplicationId FlagsEnvironmentId FlagsProfileId FlagsDeploymentStrategyId; do
    [ -n "$(out "$key")" ] && [ "$(out "$key")" != None ] || { echo "no output $key"; false; }
  done
  # Scripted: no alarm on a version, no hook, no CodeDeploy outputs.
  [ "$(out ServerErrorRateAlarmName)" = None ] || [ -z "$(out ServerErrorRateAlarmName)" ]
  [ "$(aws cloudwatch describe-alarms --alarm-name-prefix "profile-service-$STAGE-" --query 'length(MetricAlarms)')" = 0 ]
  # The function writes the metrics the gates read.
  aws lambda get-function-configuration --function-name "$FUNCTION" --query Environment.Variables \
    | jq -e --arg f "$FUNCTION" '.METRICS_NAMESPACE == "ProfileService" and .METRICS_SERVICE == $f'
  run health
  echo "$output"
  [[ "$output" == *'"status":"ok"'* ]] && [[ "${lines[0]}" == *" 200"* ]]
  [ "$V" = 2 ]
  [ "$(aws lambda get-alias --function-name "$FUNCTION" --name live --query FunctionVersion --output text)" = 1 ]
}

@test "README step 7: a smoke test that fails refuses the release before the alias moves (exit 2)" {
  scripts/release.sh --help | grep -q -- '--smoke-event' || skip "release.sh has no --smoke-event yet"
  jq '.rawPath = "/no-such-route" | .requestContext.http.path = "/no-such-route" | .routeKey = "$default"' \
    "$REPO/events/http-api-v2-get-health.json" >"$BATS_TEST_TMPDIR/not-found.json"
  run --separate-stderr scripts/release.sh --function "$FUNCTION" --version "$V" --interval 0 \
    --smoke-event "$BATS_TEST_TMPDIR/not-found.json"
  echo "$stderr"
  [ "$status" -eq 2 ]
  [ "$(alias_state "$FUNCTION")" = '{"FunctionVersion":"1","Weights":{}}' ]
}

@test "README step 7: release (smoke test, gates, promotion); /health answers from the new version" {
  block="$(readme_block "$BLOCK_RELEASE")"
  [ "$block" = 'scripts/release.sh --function "$FUNCTION" --version "$V"' ]
  run --separate-stderr eval "$block --interval 0 --poll 1"
  echo "$stderr"
  [ "$status" -eq 0 ]
  [ "$(alias_state "$FUNCTION")" = "{\"FunctionVersion\":\"$V\",\"Weights\":{}}" ]
  run health
  echo "$output"
  [[ "${lines[0]}" == *" 200"* ]]
  [[ "$output" == *"x-function-version: $V"* ]]
}

@test "README step 8: the flag document, a hosted version, its deployment, and what AppConfig serves" {
  eval "$(readme_block "$BLOCK_FLAG")"
  [ "$FLAGS_VERSION" -ge 2 ]
  jq -e '.values.enableNewProfileSchema | .enabled and .rolloutPercentage == 10' flags.json
  run eval "$(readme_block "$BLOCK_FLAG_CHECK")"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = COMPLETE ]
  jq -e '.enableNewProfileSchema == {"enabled": true, "rolloutPercentage": 10, "salt": "enableNewProfileSchema-1"}' flags-served.json
  # The salt and definition match the stack's own first version (only the values changed).
  aws appconfig get-hosted-configuration-version --application-id "$APP" --configuration-profile-id "$PROFILE" \
    --version-number 1 "$BATS_TEST_TMPDIR/v1.json" >/dev/null
  jq -e --slurpfile new flags.json '.flags == $new[0].flags
    and .values.enableNewProfileSchema.salt == $new[0].values.enableNewProfileSchema.salt' "$BATS_TEST_TMPDIR/v1.json"
  run health
  [[ "${lines[0]}" == *" 200"* ]]
}

@test "README step 9: roll back the flag (version 1 again) and the code (rollback.sh)" {
  APP="$(out FlagsApplicationId)" ENV="$(out FlagsEnvironmentId)" PROFILE="$(out FlagsProfileId)"
  STRATEGY="$(out FlagsDeploymentStrategyId)"
  eval "$(readme_block "$BLOCK_FLAG_ROLLBACK")" >/dev/null
  TOKEN="$(aws appconfigdata start-configuration-session --application-identifier "$APP" --environment-identifier "$ENV" \
    --configuration-profile-identifier "$PROFILE" --query InitialConfigurationToken --output text)"
  aws appconfigdata get-latest-configuration --configuration-token "$TOKEN" "$BATS_TEST_TMPDIR/served.json" >/dev/null
  jq -e '.enableNewProfileSchema.enabled == false' "$BATS_TEST_TMPDIR/served.json"
  run --separate-stderr scripts/rollback.sh --function "$FUNCTION"
  echo "$stderr"
  [ "$status" -eq 0 ]
  [ "$(alias_state "$FUNCTION")" = '{"FunctionVersion":"1","Weights":{}}' ]
  run health
  [[ "${lines[0]}" == *" 200"* ]] && [[ "$output" == *"x-function-version: 1"* ]]
}
