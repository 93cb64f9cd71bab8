#!/bin/sh
# Release test build @BUILD@: a sh + curl custom runtime standing in for the profile service in the
# release tests (made by make_zip in Tests/scripts/helpers.bash, which fills in the placeholders).
# GET /health answers @HEALTH@, every other API Gateway event @OTHER@. One EMF line per invocation,
# as the real handler writes; with METRICS_URL set, the same counts are also put there (PutMetricData),
# because no emulator extracts EMF from logs.
set -u
base="http://${AWS_LAMBDA_RUNTIME_API:?}/2018-06-01/runtime"
tmp="${TMPDIR:-/tmp}/release-test-bootstrap.$$"
mkdir -p "$tmp"
service="${AWS_LAMBDA_FUNCTION_NAME:-unknown}" version="${AWS_LAMBDA_FUNCTION_VERSION:-\$LATEST}"
while :; do
  curl -sS -D "$tmp/headers" -o "$tmp/event" "$base/invocation/next" || exit 1
  request_id="$(grep -i '^lambda-runtime-aws-request-id:' "$tmp/headers" | cut -d: -f2 | tr -d ' \r')"
  if grep -Eq '"rawPath": *"/health"' "$tmp/event"; then status=@HEALTH@; route="GET /health"; else status=@OTHER@; route=UNMATCHED; fi
  server_errors=0 client_errors=0
  [ "$status" -ge 500 ] && server_errors=1
  [ "$status" -ge 400 ] && [ "$status" -lt 500 ] && client_errors=1
  printf '{"_aws":{"Timestamp":%s000,"CloudWatchMetrics":[{"Namespace":"ProfileService","Dimensions":[["Service","FunctionVersion"],["Service","FunctionVersion","Route"]],"Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"ServerErrors","Unit":"Count"},{"Name":"ClientErrors","Unit":"Count"}]}]},"Service":"%s","FunctionVersion":"%s","Route":"%s","Requests":1,"ServerErrors":%s,"ClientErrors":%s,"requestId":"%s"}\n' \
    "$(date +%s)" "$service" "$version" "$route" "$server_errors" "$client_errors" "$request_id"
  if [ -n "${METRICS_URL:-}" ]; then
    set -- Action=PutMetricData Version=2010-08-01 Namespace=ProfileService
    n=0
    for metric in Requests:1 ServerErrors:$server_errors ClientErrors:$client_errors; do
      n=$((n + 1))
      set -- "$@" "MetricData.member.$n.MetricName=${metric%%:*}" "MetricData.member.$n.Value=${metric#*:}" \
        "MetricData.member.$n.Unit=Count" "MetricData.member.$n.Dimensions.member.1.Name=Service" \
        "MetricData.member.$n.Dimensions.member.1.Value=$service" "MetricData.member.$n.Dimensions.member.2.Name=FunctionVersion" \
        "MetricData.member.$n.Dimensions.member.2.Value=$version"
    done
    for pair in "$@"; do printf '%s\n' "--data-urlencode" "$pair"; done >"$tmp/form"
    # shellcheck disable=SC2046 # one word per line, none with spaces
    curl -sS -o /dev/null --aws-sigv4 "aws:amz:${AWS_REGION:-us-east-1}:monitoring" --user test:test \
      $(cat "$tmp/form") "$METRICS_URL/" || echo "release-test-bootstrap: PutMetricData failed" >&2
  fi
  printf '{"statusCode":%s,"headers":{"content-type":"application/json","x-function-version":"%s"},"body":"{\\"status\\":\\"%s\\",\\"build\\":@BUILD@}"}' \
    "$status" "$version" "$( [ "$status" -lt 400 ] && echo ok || echo failing)" >"$tmp/response"
  curl -sS -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @"$tmp/response" \
    "$base/invocation/$request_id/response"
done
