#!/usr/bin/env bats
# template.yaml without any endpoint: cfn-lint, and the SAM expansion (aws-sam-translator, offline) in
# Scripted mode and in every CodeDeploy mode. ministack has no CodeDeploy, so the CodeDeploy-only parts
# (the PreTraffic hook, the new version's alarms, the CodeDeploy role) are checked here, on the expansion.
# Needs cfn-lint and the SAM translator on the PATH (.venv-aws, made by scripts/test-release.sh).

load helpers

CODEDEPLOY_TYPES=(Canary10Percent5Minutes Linear10PercentEvery1Minute AllAtOnce)
# What exists only when CodeDeploy owns the alias.
CODEDEPLOY_ONLY='["CodeDeployRole","NewVersionErrorsAlarm","NewVersionLatencyAlarm","NewVersionServerErrorRateAlarm",
  "NewVersionThrottlesAlarm","PreTrafficHookFunction","PreTrafficHookLogGroup","PreTrafficHookRole"]'

# render FILE AWK-PROGRAM: template.yaml rewritten by an awk program into FILE.
render() { awk "$2" "$REPO/template.yaml" >"$1"; }

# translate DEPLOYMENT_TYPE: template.yaml as `cloudformation package` leaves it, expanded by the SAM
# translator with DeploymentType=DEPLOYMENT_TYPE; the JSON is written to $BATS_TEST_TMPDIR/DEPLOYMENT_TYPE.json.
translate() {
  sed 's|^      CodeUri: \.$|      CodeUri: s3://artifacts/function.zip|' "$REPO/template.yaml" \
    >"$BATS_TEST_TMPDIR/packaged.yaml"
  python "$REPO/Tests/scripts/helpers/sam_translate.py" "$BATS_TEST_TMPDIR/packaged.yaml" --param "DeploymentType=$1" \
    >"$BATS_TEST_TMPDIR/$1.json" 2>"$BATS_TEST_TMPDIR/$1.err" || { cat "$BATS_TEST_TMPDIR/$1.err"; return 1; }
}

@test "template.yaml is what sam build builds; make release-template points both functions at package.sh's zip" {
  # As written: both functions are built by the Makefile from the repository (sam build, samconfig.toml).
  [ "$(grep -c '^      CodeUri: \.$' "$REPO/template.yaml")" -eq 2 ]
  [ "$(grep -c '^      BuildMethod: makefile$' "$REPO/template.yaml")" -eq 2 ]
  grep -qx 'build_in_source = true' "$REPO/samconfig.toml"
  # The release template, made in a copy of the repository's top level: without the zip, a clear refusal.
  dir="$BATS_TEST_TMPDIR/repo"
  mkdir -p "$dir"
  cp "$REPO/template.yaml" "$REPO/Makefile" "$dir/"
  run make -s -C "$dir" release-template
  [ "$status" -ne 0 ]
  [[ "$output" == *"run scripts/package.sh first"* ]]
  [ ! -e "$dir/.build/lambda/template.yaml" ]
  # With it: the template beside the zip, both CodeUris the zip's name, every other line unchanged.
  mkdir -p "$dir/.build/lambda"
  : >"$dir/.build/lambda/function.zip"
  run make -s -C "$dir" release-template
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = "$dir/.build/lambda/template.yaml" ]
  released="$dir/.build/lambda/template.yaml"
  [ "$(grep -c '^      CodeUri: function\.zip$' "$released")" -eq 2 ]
  ! grep -q '^      CodeUri: \.$' "$released"
  [ "$(diff "$REPO/template.yaml" "$released" | grep -c '^[<>]')" -eq 4 ]
  # A template whose CodeUri lines changed is refused, not half rewritten.
  sed -i '0,/^      CodeUri: \.$/s//      CodeUri: src/' "$dir/template.yaml"
  run make -s -C "$dir" release-template
  [ "$status" -ne 0 ]
  [[ "$output" == *"no longer has two 'CodeUri: .' lines"* ]]
}

@test "template.yaml: cfn-lint is clean as written, as ministack sees it (Scripted by default), and on provided.al2023" {
  run cfn-lint --format parseable -- "$REPO/template.yaml"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ -z "$output" ]
  # ministack's SAM transform sees only the Defaults: the deploy test makes Scripted the default.
  render "$BATS_TEST_TMPDIR/scripted.yaml" \
    '/^  DeploymentType:$/ { p = 1 } p && /^    Default:/ { sub(/Default: .*/, "Default: Scripted"); p = 0 } { print }'
  grep -q 'Default: Scripted' "$BATS_TEST_TMPDIR/scripted.yaml"
  run cfn-lint --format parseable -- "$BATS_TEST_TMPDIR/scripted.yaml"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ -z "$output" ]
  render "$BATS_TEST_TMPDIR/al2023.yaml" '{ sub(/Runtime: !Ref Runtime/, "Runtime: provided.al2023"); print }'
  [ "$(grep -c 'Runtime: provided.al2023' "$BATS_TEST_TMPDIR/al2023.yaml")" -eq 2 ]
  run cfn-lint --format parseable -- "$BATS_TEST_TMPDIR/al2023.yaml"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ -z "$output" ]
  # provided.al2 draws AWS's deprecation warning, once per function (the service and its hook), and nothing else.
  render "$BATS_TEST_TMPDIR/al2.yaml" '{ sub(/Runtime: !Ref Runtime/, "Runtime: provided.al2"); print }'
  run cfn-lint --format parseable -- "$BATS_TEST_TMPDIR/al2.yaml"
  echo "$output"
  [ "$status" -eq 4 ]
  [ "${#lines[@]}" -eq 2 ]
  [[ "${lines[0]}" == *":W2531:"*"provided.al2"* && "${lines[1]}" == *":W2531:"*"provided.al2"* ]]
}

@test "template.yaml, Scripted: no CodeDeploy, and nothing version-bound outside the UseCodeDeploy condition" {
  translate Scripted
  t="$BATS_TEST_TMPDIR/Scripted.json"
  [ "$(jq '[.Resources[] | select(.Type | startswith("AWS::CodeDeploy::"))] | length' "$t")" -eq 0 ]
  [ "$(jq -c '.Resources.ProfileFunctionAliaslive.UpdatePolicy' "$t")" = null ]
  # Exactly the CodeDeploy-only resources carry the condition: every alarm, the hook and both roles of CodeDeploy.
  jq -e --argjson only "$CODEDEPLOY_ONLY" '
    [.Resources | to_entries[] | select(.value.Condition == "UseCodeDeploy") | .key] | sort == $only' "$t"
  jq -e '[.Resources[] | select(.Type == "AWS::CloudWatch::Alarm" and .Condition != "UseCodeDeploy")] == []' "$t"
  # Nothing that exists in Scripted mode names the stack's version, but the alias itself.
  version="$(jq -r '.Resources | to_entries[] | select(.value.Type == "AWS::Lambda::Version") | .key' "$t")"
  jq -e --arg v "$version" '[.Resources | to_entries[] | select(.value.Condition == null and .key != "ProfileFunctionAliaslive")
    | select(.value | tostring | contains("\"" + $v + "\"")) | .key] == []' "$t"
  # The alarm outputs exist only with the alarms.
  jq -e '[.Outputs | to_entries[] | select(.key | test("Alarm|Hook")) | .value.Condition] | length == 5 and all(. == "UseCodeDeploy")' "$t"
}

@test "template.yaml, CodeDeploy modes: the deployment group uses the four new-version alarms and the template's own role" {
  for type in "${CODEDEPLOY_TYPES[@]}"; do
    translate "$type"
    t="$BATS_TEST_TMPDIR/$type.json"
    jq -e --arg type "$type" '.Resources.ProfileFunctionDeploymentGroup.Properties
      | .DeploymentConfigName["Fn::Sub"] == ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": $type}]
      and .AlarmConfiguration["Fn::If"][0] == "UseCodeDeploy"
      and .AlarmConfiguration["Fn::If"][1] == {"Enabled": true, "Alarms": [
            {"Name": {"Ref": "NewVersionServerErrorRateAlarm"}}, {"Name": {"Ref": "NewVersionLatencyAlarm"}},
            {"Name": {"Ref": "NewVersionErrorsAlarm"}}, {"Name": {"Ref": "NewVersionThrottlesAlarm"}}]}
      and .ServiceRoleArn == {"Fn::If": ["UseCodeDeploy", {"Fn::GetAtt": ["CodeDeployRole", "Arn"]}, {"Ref": "AWS::NoValue"}]}
      and .AutoRollbackConfiguration.Enabled' "$t"
    # The PreTraffic hook runs before CodeDeploy moves any traffic.
    jq -e '.Resources.ProfileFunctionAliaslive.UpdatePolicy.CodeDeployLambdaAliasUpdate.BeforeAllowTrafficHook
      == {"Fn::If": ["UseCodeDeploy", {"Ref": "PreTrafficHookFunction"}, {"Ref": "AWS::NoValue"}]}' "$t"
    # No SAM-made CodeDeployServiceRole, no managed AWSCodeDeployRoleForLambda anywhere.
    jq -e '(.Resources | has("CodeDeployServiceRole") | not)
      and ([.. | strings | select(test("AWSCodeDeployRole"))] == [])' "$t"
  done
}

@test "template.yaml: the CodeDeploy role may read these alarms, shift this alias and invoke this hook, nothing else" {
  translate Canary10Percent5Minutes
  t="$BATS_TEST_TMPDIR/Canary10Percent5Minutes.json"
  jq -e '.Resources.CodeDeployRole.Properties
    | .AssumeRolePolicyDocument.Statement == [{"Effect": "Allow", "Principal": {"Service": "codedeploy.amazonaws.com"},
                                              "Action": "sts:AssumeRole"}]
    and (has("ManagedPolicyArns") | not) and (.Policies | length) == 1' "$t"
  statements="$(jq -c '[.Resources.CodeDeployRole.Properties.Policies[0].PolicyDocument.Statement[]
    | {Action: ([.Action] | flatten | sort), Resource: ([.Resource] | flatten), Effect}]' "$t")"
  echo "$statements" | jq .
  jq -e 'all(.[]; .Effect == "Allow") and ([.[].Resource[]] | all(. != "*"))' <<<"$statements"
  jq -e '(map(.Action[]) | sort) == ["cloudwatch:DescribeAlarms", "lambda:GetAlias", "lambda:GetProvisionedConcurrencyConfig",
                                     "lambda:InvokeFunction", "lambda:UpdateAlias"]' <<<"$statements"
  jq -e '.[] | select(.Action == ["cloudwatch:DescribeAlarms"]) | .Resource == [
      {"Fn::GetAtt": ["NewVersionServerErrorRateAlarm", "Arn"]}, {"Fn::GetAtt": ["NewVersionLatencyAlarm", "Arn"]},
      {"Fn::GetAtt": ["NewVersionErrorsAlarm", "Arn"]}, {"Fn::GetAtt": ["NewVersionThrottlesAlarm", "Arn"]}]' <<<"$statements"
  jq -e '.[] | select(.Action | index("lambda:UpdateAlias")) | .Resource == [
      {"Fn::GetAtt": ["ProfileFunction", "Arn"]}, {"Fn::Sub": "${ProfileFunction.Arn}:live"}]' <<<"$statements"
  # The hook it may invoke is the hook the template makes (same name).
  hook_name="$(jq -r '.Resources.PreTrafficHookFunction.Properties.FunctionName["Fn::Sub"]' "$t")"
  [ "$hook_name" = 'CodeDeployHook_profile-service-${Stage}-pretraffic' ]
  jq -e --arg name "$hook_name" '.[] | select(.Action == ["lambda:InvokeFunction"])
    | .Resource == [{"Fn::Sub": ("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + $name)}]' <<<"$statements"
}

@test "template.yaml: the PreTraffic hook is the same zip with Handler pretraffic, invoking only the new version" {
  translate Canary10Percent5Minutes
  t="$BATS_TEST_TMPDIR/Canary10Percent5Minutes.json"
  version="$(jq -r '.Resources | to_entries[] | select(.value.Type == "AWS::Lambda::Version") | .key' "$t")"
  jq -e --arg v "$version" '.Resources as $r | $r.PreTrafficHookFunction.Properties
    | .Handler == "pretraffic" and .Code == $r.ProfileFunction.Properties.Code and .Runtime == {"Ref": "Runtime"}
    and .Role == {"Fn::GetAtt": ["PreTrafficHookRole", "Arn"]}
    and .Environment.Variables.PRETRAFFIC_TARGET == {"Ref": $v}
    and .Environment.Variables.PRETRAFFIC_EVENT == {"Fn::If": ["HasPreTrafficEvent", {"Ref": "PreTrafficEvent"}, {"Ref": "AWS::NoValue"}]}
    and .LoggingConfig.LogGroup == {"Ref": "PreTrafficHookLogGroup"}
    and (has("AutoPublishAlias") | not)' "$t"
  # No alias, no version and no deployment group of its own: CodeDeploy invokes $LATEST by name.
  [ "$(jq '[.Resources | keys[] | select(startswith("PreTrafficHookFunction"))] | length' "$t")" -eq 1 ]
  jq -e '.Resources.PreTrafficHookLogGroup.Properties.LogGroupName["Fn::Sub"]
    == "/aws/lambda/CodeDeployHook_profile-service-${Stage}-pretraffic"' "$t"
  jq -e '.Resources.PreTrafficHookRole.Properties
    | .AssumeRolePolicyDocument.Statement == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                              "Action": "sts:AssumeRole"}]
    and (has("ManagedPolicyArns") | not) and (.Policies | length) == 1' "$t"
  # Exactly: invoke the one version under test, report to this stack's deployment group, write its own logs.
  jq -e --arg v "$version" '[.Resources.PreTrafficHookRole.Properties.Policies[0].PolicyDocument.Statement[]
      | {Action: ([.Action] | flatten | sort), Resource, Effect}]
    == [{"Action": ["lambda:InvokeFunction"], "Resource": {"Ref": $v}, "Effect": "Allow"},
        {"Action": ["codedeploy:PutLifecycleEventHookExecutionStatus"], "Effect": "Allow", "Resource": {"Fn::Sub":
          "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:${AWS::StackName}-ServerlessDeploymentApplication-*/${AWS::StackName}-ProfileFunctionDeploymentGroup-*"}},
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": {"Fn::GetAtt": ["PreTrafficHookLogGroup", "Arn"]},
         "Effect": "Allow"}]' "$t"
}

@test "template.yaml: the alarms read the EMF metrics the function writes, for the version being released" {
  translate Canary10Percent5Minutes
  t="$BATS_TEST_TMPDIR/Canary10Percent5Minutes.json"
  version="$(jq -r '.Resources | to_entries[] | select(.value.Type == "AWS::Lambda::Version") | .key' "$t")"
  # The function states its namespace and Service; the Service is the function's own name.
  jq -e '.Resources.ProfileFunction.Properties | .Environment.Variables.METRICS_NAMESPACE == {"Ref": "MetricsNamespace"}
    and .Environment.Variables.METRICS_SERVICE == .FunctionName and (.Environment.Variables | has("METRICS") | not)' "$t"
  service="$(jq -c '.Resources.ProfileFunction.Properties.Environment.Variables.METRICS_SERVICE' "$t")"
  dims="$(jq -nc --argjson s "$service" --arg v "$version" \
    '[{"Name": "Service", "Value": $s}, {"Name": "FunctionVersion", "Value": {"Fn::GetAtt": [$v, "Version"]}}]')"
  # 5xx rate: ServerErrors / Requests per minute, 0 below MinRequests (no division by zero, no alarm on 1 of 1).
  jq -e --argjson dims "$dims" '.Resources.NewVersionServerErrorRateAlarm.Properties
    | (.Metrics | map({(.Id): .}) | add) as $m
    | $m.requests.MetricStat == {"Metric": {"Namespace": {"Ref": "MetricsNamespace"}, "MetricName": "Requests",
                                             "Dimensions": $dims}, "Period": 60, "Stat": "Sum"}
    and $m.errors.MetricStat == {"Metric": {"Namespace": {"Ref": "MetricsNamespace"}, "MetricName": "ServerErrors",
                                           "Dimensions": $dims}, "Period": 60, "Stat": "Sum"}
    and ($m.requests.ReturnData | not) and ($m.errors.ReturnData | not) and $m.rate.ReturnData
    and $m.rate.Expression == {"Fn::Sub": "IF(requests >= ${MinRequests}, errors / requests, 0)"}
    and .Threshold == {"Ref": "MaxErrorRate"} and .ComparisonOperator == "GreaterThanThreshold"
    and .TreatMissingData == "notBreaching"' "$t"
  jq -e --argjson dims "$dims" '.Resources.NewVersionLatencyAlarm.Properties
    | .Namespace == {"Ref": "MetricsNamespace"} and .MetricName == "Latency" and .Dimensions == $dims
    and .ExtendedStatistic == "p99" and .Threshold == {"Ref": "LatencyP99ThresholdMs"}' "$t"
  # What the function cannot count itself (crashes, timeouts, throttles): Lambda's metrics for the same version.
  for alarm in NewVersionErrorsAlarm NewVersionThrottlesAlarm; do
    jq -e --arg a "$alarm" --arg v "$version" '.Resources[$a].Properties
      | .Namespace == "AWS/Lambda" and (.MetricName == "Errors" or .MetricName == "Throttles") and .Threshold == 0
      and (.Dimensions | map({(.Name): .Value}) | add) == {"FunctionName": {"Ref": "ProfileFunction"},
          "Resource": {"Fn::Sub": "${ProfileFunction}:live"}, "ExecutedVersion": {"Fn::GetAtt": [$v, "Version"]}}' "$t"
  done
  # The defaults agree with release.sh's.
  jq -e '.Parameters | .MetricsNamespace.Default == "ProfileService" and .MaxErrorRate.Default == 0.01
    and .MinRequests.Default == 20' "$t"
}

@test "template.yaml: the outputs name everything the README's release steps use" {
  translate Scripted
  for key in FunctionName FunctionArn AliasName AliasArn ApiId ApiUrl TableName FlagsApplicationId FlagsEnvironmentId \
    FlagsProfileId FlagsDeploymentStrategyId MetricsNamespace MetricsService ReleaseOwner ServerErrorRateAlarmName \
    LatencyAlarmName ErrorsAlarmName ThrottlesAlarmName PreTrafficHookFunctionName; do
    jq -e --arg k "$key" '.Outputs | has($k)' "$BATS_TEST_TMPDIR/Scripted.json" >/dev/null || { echo "no output $key"; false; }
  done
  # Every output the README reads exists.
  readme_keys="$(sed -n '/^## Releasing/,/^## Performance/p' "$REPO/README.md" | grep -o '$(out [A-Za-z]*)' | tr -d '$()' | awk '{print $2}' | sort -u)"
  [ -n "$readme_keys" ]
  for key in $readme_keys; do
    jq -e --arg k "$key" '.Outputs | has($k)' "$BATS_TEST_TMPDIR/Scripted.json" >/dev/null || { echo "README reads $key"; false; }
  done
}
