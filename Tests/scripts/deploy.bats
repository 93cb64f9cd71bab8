#!/usr/bin/env bats
# template.yaml deployed into ministack (cloudformation package + deploy, DeploymentType=Scripted) with
# the real zip, then one request through the HTTP API to the alias. Needs .build/lambda/function.zip
# (scripts/package.sh) and a ministack with cloudformation, s3, apigateway, dynamodb, appconfig(data).

load helpers

@test "template.yaml deploys into ministack (Scripted); GET /health answers through the HTTP API and the alias" {
  : "${EMU_URL:?EMU_URL must point at ministack}"
  zip="$REPO/.build/lambda/function.zip"
  [ -f "$zip" ] || skip "no $zip yet (scripts/package.sh builds it)"
  stage="r$RANDOM"
  work="$BATS_TEST_TMPDIR/stack"
  mkdir -p "$work/.build/lambda"
  # ministack runs the SAM transform with no parameter values (only the Defaults), so the
  # --parameter-overrides below would not reach DeploymentPreference: make Scripted the default here.
  awk '/^  DeploymentType:$/ { in_param = 1 } in_param && /^    Default:/ { sub(/Default: .*/, "Default: Scripted"); in_param = 0 } { print }' \
    "$REPO/template.yaml" >"$work/template.yaml"
  grep -q 'Default: Scripted' "$work/template.yaml"
  cp "$zip" "$work/.build/lambda/function.zip"
  # cloudformation package ignores --endpoint-url for its S3 upload; the environment variable works.
  export AWS_ENDPOINT_URL="$EMU_URL"
  aws s3 mb "s3://artifacts-$stage" >/dev/null
  aws cloudformation package --template-file "$work/template.yaml" --s3-bucket "artifacts-$stage" \
    --output-template-file "$work/packaged.yaml" >/dev/null 2>&1
  run aws cloudformation deploy --no-fail-on-empty-changeset --template-file "$work/packaged.yaml" --stack-name "profile-$stage" \
    --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
    --parameter-overrides "Stage=$stage" DeploymentType=Scripted Runtime=provided.al2023 "EndpointOverride=$EMU_URL"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  outputs="$(aws cloudformation describe-stacks --stack-name "profile-$stage" \
    | jq -c '.Stacks[0].Outputs | map({(.OutputKey): .OutputValue}) | add')"
  echo "outputs: $outputs"
  jq -e --arg s "$stage" '.TableName == "profiles-\($s)" and (.AliasArn | endswith(":function:profile-service-\($s):live"))
    and (.FunctionArn | endswith(":function:profile-service-\($s)")) and .ReleaseOwner == "scripts/release.sh"' <<<"$outputs"
  [ "$(aws lambda get-alias --function-name "profile-service-$stage" --name live | jq -r .FunctionVersion)" = 1 ]
  [ "$(aws dynamodb describe-table --table-name "profiles-$stage" | jq -r '.Table.KeySchema[0].AttributeName')" = userId ]

  api="$(jq -r .ApiUrl <<<"$outputs" | sed -E 's|^https://([^.]+)\..*|\1|')"
  # ministack does not import the routes SAM writes into the API's OpenAPI body: add the one we call.
  if [ "$(aws apigatewayv2 get-routes --api-id "$api" | jq '.Items | length')" -eq 0 ]; then
    integration="$(aws apigatewayv2 create-integration --api-id "$api" --integration-type AWS_PROXY \
      --integration-uri "$(jq -r .AliasArn <<<"$outputs")" --payload-format-version 2.0 | jq -r .IntegrationId)"
    aws apigatewayv2 create-route --api-id "$api" --route-key 'GET /health' --target "integrations/$integration" >/dev/null
  fi
  port="${EMU_URL##*:}"
  run curl -sS --max-time 60 -w '\n%{http_code}' -H "Host: $api.execute-api.localhost:$port" "$EMU_URL/$stage/health"
  echo "$output"
  [ "${lines[-1]}" = 200 ]
  [[ "$output" == *'"status":"ok"'* ]]

  # The Scripted flow on the stack's own function: publish new code, shift the alias, serve again.
  cp "$zip" "$work/next.zip"
  echo "release test $stage" >"$work/RELEASE"
  (cd "$work" && zip -q next.zip RELEASE)
  unset AWS_ENDPOINT_URL
  run --separate-stderr "$REPO/scripts/publish.sh" --endpoint-url "$EMU_URL" --function "profile-service-$stage" --zip "$work/next.zip"
  [ "$status" -eq 0 ] || { echo "$stderr"; false; }
  [ "${lines[-1]}" = 2 ]
  run --separate-stderr "$REPO/scripts/release.sh" --endpoint-url "$EMU_URL" --function "profile-service-$stage" \
    --interval 0 --alarm "profile-service-$stage-new-version-errors"
  [ "$status" -eq 0 ] || { echo "$stderr"; false; }
  [ "$(emu lambda get-alias --function-name "profile-service-$stage" --name live | jq -c '[.FunctionVersion, (.RoutingConfig.AdditionalVersionWeights // {})]')" = '["2",{}]' ]
  run curl -sS --max-time 60 -w '\n%{http_code}' -H "Host: $api.execute-api.localhost:$port" "$EMU_URL/$stage/health"
  echo "$output"
  [ "${lines[-1]}" = 200 ]
}
