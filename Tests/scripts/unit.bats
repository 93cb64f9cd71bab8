#!/usr/bin/env bats
# The release scripts without any AWS endpoint: command lines, the alias rules checked before any
# call, the helpers in scripts/lib/aws.sh, shellcheck, and cfn-lint on template.yaml.

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
    scripts/lib/aws.sh scripts/lib/emulators.sh Tests/scripts/helpers/aws
}

# template.yaml with Runtime fixed to one value: cfn-lint does not evaluate a parameter's default, so
# linting only the parametrized template would hide the provided.al2 deprecation.
render_runtime() { sed "s|Runtime: !Ref Runtime|Runtime: $1|" "$REPO/template.yaml" >"$BATS_TEST_TMPDIR/template-$1.yaml"; }

@test "template.yaml: cfn-lint finds nothing, for either runtime, except provided.al2's deprecation" {
  run cfn-lint --format parseable -- "$REPO/template.yaml"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ -z "$output" ]
  render_runtime provided.al2023
  run cfn-lint --format parseable -- "$BATS_TEST_TMPDIR/template-provided.al2023.yaml"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ -z "$output" ]
  # provided.al2 is the issue's default and AWS has deprecated it: exactly that one warning, shown.
  render_runtime provided.al2
  run cfn-lint --format parseable -- "$BATS_TEST_TMPDIR/template-provided.al2.yaml"
  echo "$output"
  [ "$status" -eq 4 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "${lines[0]}" == *":W2531:"*"provided.al2"* ]]
}

# translate DEPLOYMENT_TYPE: template.yaml expanded by the SAM translator (offline), as JSON.
translate() {
  sed 's|CodeUri: .build/lambda/function.zip|CodeUri: s3://artifacts/function.zip|' "$REPO/template.yaml" >"$BATS_TEST_TMPDIR/packaged.yaml"
  python "$REPO/Tests/scripts/helpers/sam_translate.py" "$BATS_TEST_TMPDIR/packaged.yaml" --param "DeploymentType=$1" 2>/dev/null
}

@test "template.yaml: Scripted leaves the alias to release.sh (no CodeDeploy), the others use CodeDeploy with the alarms" {
  translate Scripted >"$BATS_TEST_TMPDIR/scripted.json"
  [ "$(jq '[.Resources[] | select(.Type | startswith("AWS::CodeDeploy::"))] | length' "$BATS_TEST_TMPDIR/scripted.json")" -eq 0 ]
  [ "$(jq -c '[.Resources[] | select(.Type == "AWS::Lambda::Alias") | .UpdatePolicy]' "$BATS_TEST_TMPDIR/scripted.json")" = '[null]' ]
  for type in Canary10Percent5Minutes Linear10PercentEvery1Minute AllAtOnce; do
    translate "$type" >"$BATS_TEST_TMPDIR/$type.json"
    jq -e --arg t "$type" '.Resources.ProfileFunctionDeploymentGroup.Properties
      | .DeploymentConfigName["Fn::Sub"] == ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": $t}]
        and .AlarmConfiguration.Enabled and (.AlarmConfiguration.Alarms | length) == 3' "$BATS_TEST_TMPDIR/$type.json"
  done
}

@test "template.yaml: routes, authorizer, table, flag, alarms and least-privilege IAM" {
  translate Scripted >"$BATS_TEST_TMPDIR/t.json"
  t="$BATS_TEST_TMPDIR/t.json"
  # Four authorized profile routes and an open /health, all to the alias.
  jq -e '.Resources.ProfileApi.Properties.Body.paths as $p
    | ($p["/profiles/{userId}"] | keys | sort) == ["delete", "get", "patch", "put"]
    and all($p["/profiles/{userId}"][]; .security == [{"JwtAuthorizer": []}])
    and $p["/health"].get.security == [{"NONE": []}]
    and all($p[][]; ."x-amazon-apigateway-integration".uri["Fn::Sub"] | test("ProfileFunction.Alias|ProfileFunctionAliaslive"))' "$t"
  jq -e '.Resources.ProfileApi.Properties.Body.components.securitySchemes.JwtAuthorizer."x-amazon-apigateway-authorizer".type == "jwt"' "$t"
  jq -e '.Resources.ProfilesTable.Properties | .BillingMode == "PAY_PER_REQUEST" and .DeletionProtectionEnabled
    and .PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled and .SSESpecification.SSEEnabled
    and .KeySchema == [{"AttributeName": "userId", "KeyType": "HASH"}]' "$t"
  jq -e '.Resources.FlagsVersion.Properties.Content | fromjson | .values.enableNewProfileSchema
    | .enabled == false and .rolloutPercentage == 0 and (.salt | length) > 0' "$t"
  jq -e '.Resources.FlagsProfile.Properties.Type == "AWS.AppConfig.FeatureFlags"' "$t"
  # Alarms scoped to the new version through the alias.
  jq -e '[.Resources[] | select(.Type == "AWS::CloudWatch::Alarm") | .Properties]
    | (map(.MetricName) | sort) == ["Duration", "Errors", "Throttles"]
    and all(.[]; (.Dimensions | map(.Name) | sort) == ["ExecutedVersion", "FunctionName", "Resource"])
    and (map(select(.MetricName == "Duration")) | .[0].ExtendedStatistic) == "p99"' "$t"
  # The role may do exactly these data-plane actions, on the table and the flag profile only.
  jq -e '[.Resources.ProfileFunctionRole.Properties.Policies[].PolicyDocument.Statement[]]
    | (map(.Action[]) | sort) == ["appconfig:GetLatestConfiguration", "appconfig:StartConfigurationSession",
                                  "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
    and all(.[]; .Resource != "*")' "$t"
  jq -e '.Resources.ProfileFunction.Properties | .Handler == "profile" and .LoggingConfig.LogFormat == {"Ref": "LogFormat"}
    and (.Environment.Variables | .PROFILE_STORE == "dynamodb" and .FLAGS_SOURCE == "appconfig"
         and has("PROFILE_TABLE") and has("APPCONFIG_APPLICATION") and has("APPCONFIG_ENVIRONMENT") and has("APPCONFIG_PROFILE"))' "$t"
}
