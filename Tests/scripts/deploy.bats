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
  # The tests follow the README's steps on one stack, in order: never run two of them at once
  # (test-release.sh runs this file beside emulator.bats with bats --jobs).
  export BATS_NO_PARALLELIZE_WITHIN_FILE=true
  : "${EMU_URL:?EMU_URL must point at ministack}"
  zip="$REPO/.build/lambda/function.zip"
  [ -f "$zip" ] || return 0
  work="$BATS_FILE_TMPDIR/clone"
  mkdir -p "$work/.build/lambda"
  ln -s "$REPO/scripts" "$work/scripts"
  ln -s "$REPO/Makefile" "$work/Makefile"   # README step 4's `make release-template`, on $work's template
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
  [[ "${stderr,,}" == *smoke* ]]   # refused by the smoke test, not for another reason
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

# record_codedeploy FILE: a stand-in CodeDeploy endpoint on a free 127.0.0.1 port that appends each
# request body to FILE and answers as PutLifecycleEventHookExecutionStatus does; sets RECORDER_URL/_PID.
record_codedeploy() {
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  python3 - "$port" "$1" <<'PY' &
import http.server, json, sys
port, path = int(sys.argv[1]), sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(path, "a") as f:
            f.write(json.dumps({"target": self.headers.get("X-Amz-Target"), "body": json.loads(body)}) + "\n")
        answer = json.dumps({"lifecycleEventHookExecutionId": json.loads(body).get("lifecycleEventHookExecutionId")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
PY
  RECORDER_PID=$!
  RECORDER_URL="http://127.0.0.1:$port"
  for _ in $(seq 50); do curl -s -o /dev/null -X POST -d '{}' "$RECORDER_URL/ready" && break; sleep 0.1; done
  : >"$1"
}

teardown() {
  [ -z "${RECORDER_PID:-}" ] || kill "$RECORDER_PID" 2>/dev/null || true
}

@test "the PreTraffic hook as the template makes it (Handler pretraffic, PRETRAFFIC_TARGET = the version) passes it, and fails on a 404" {
  unzip -p "$REPO/.build/lambda/function.zip" bootstrap | grep -q 'PRETRAFFIC_TARGET' \
    || skip "the zip predates the pretraffic handler (run scripts/package.sh)"
  # The function the template's PreTrafficHookFunction describes (template.bats checks those properties);
  # ministack has no CodeDeploy, so a stand-in records the status the hook reports.
  record_codedeploy "$BATS_TEST_TMPDIR/codedeploy.calls"
  hook="CodeDeployHook_profile-service-$STAGE-pretraffic"
  target="$(aws lambda get-function --function-name "$FUNCTION" --qualifier "$V" --query Configuration.FunctionArn --output text)"
  [[ "$target" == *":function:$FUNCTION:$V" ]]
  env_json() { jq -nc --arg t "$target" --arg e "$EMU_URL" --arg c "$RECORDER_URL" --arg extra "${1:-}" \
    '{Variables: ({PRETRAFFIC_TARGET: $t, AWS_ENDPOINT_URL_LAMBDA: $e, AWS_ENDPOINT_URL_CODEDEPLOY: $c}
                  + (if $extra == "" then {} else {PRETRAFFIC_EVENT: $extra} end))}'; }
  aws lambda create-function --function-name "$hook" --runtime provided.al2023 --handler pretraffic \
    --role "arn:aws:iam::000000000000:role/pretraffic-hook" --timeout 60 --memory-size 128 \
    --zip-file "fileb://$REPO/.build/lambda/function.zip" --environment "$(env_json)" >/dev/null
  aws lambda wait function-active-v2 --function-name "$hook"
  aws lambda invoke --function-name "$hook" --payload "file://$REPO/events/codedeploy-pretraffic-hook.json" \
    "$BATS_TEST_TMPDIR/ok.out" >"$BATS_TEST_TMPDIR/ok.meta"
  cat "$BATS_TEST_TMPDIR/ok.meta" "$BATS_TEST_TMPDIR/codedeploy.calls"
  jq -e 'has("FunctionError") | not' "$BATS_TEST_TMPDIR/ok.meta"
  jq -se --slurpfile event "$REPO/events/codedeploy-pretraffic-hook.json" 'length == 1 and .[0].body == {
      "deploymentId": $event[0].DeploymentId, "lifecycleEventHookExecutionId": $event[0].LifecycleEventHookExecutionId,
      "status": "Succeeded"}
    and (.[0].target | endswith("PutLifecycleEventHookExecutionStatus"))' "$BATS_TEST_TMPDIR/codedeploy.calls"

  # PreTrafficEvent (the template parameter) that the new version answers with 404: Failed.
  not_found="$(jq -c '.rawPath = "/no-such-route" | .requestContext.http.path = "/no-such-route" | .routeKey = "$default"' \
    "$REPO/events/http-api-v2-get-health.json")"
  aws lambda update-function-configuration --function-name "$hook" --environment "$(env_json "$not_found")" >/dev/null
  aws lambda wait function-updated-v2 --function-name "$hook"
  : >"$BATS_TEST_TMPDIR/codedeploy.calls"
  aws lambda invoke --function-name "$hook" --payload "file://$REPO/events/codedeploy-pretraffic-hook.json" \
    "$BATS_TEST_TMPDIR/failed.out" >/dev/null || true
  cat "$BATS_TEST_TMPDIR/codedeploy.calls"
  jq -se 'length == 1 and .[0].body.status == "Failed"' "$BATS_TEST_TMPDIR/codedeploy.calls"
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
