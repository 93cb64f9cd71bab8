#!/usr/bin/env bash
# Runs the service locally exactly as Lambda runs it: the real bootstrap under lambda-local.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/run-local.sh [--versions N] [--moto] [--watch] [--help] [-- LAMBDA_LOCAL_ARGS…]

Builds bootstrap and lambda-local (debug), then serves the function $FUNCTION_NAME (default
profile-service-dev) on http://127.0.0.1:$PORT:
  POST /2015-03-31/functions/NAME/invocations   the Lambda Invoke API (RIE-compatible; NAME may be "function")
  /2015-03-31/functions/NAME/aliases/…, …       Lambda's control plane for the release scripts (aws --endpoint-url)
  POST / with X-Amz-Target: GraniteService…     CloudWatch: the metrics the children produced, alarms
  any other path                                an API Gateway HTTP API (payload 2.0) request
  GET  /_local/stats                            invocations, errors, p50/p99 per version
Stop it with Ctrl-C.

Options:
  --versions N   serve published versions 1…N, all of the freshly built bootstrap, behind alias live
                 (primary 1): a release rehearsal (README "Rehearse a release locally"). Give a
                 version its own configuration with -- --version-env N:KEY=VALUE
  --moto         keep the profiles in DynamoDB on a moto server started here on a free 127.0.0.1 port
                 (table profiles; stopped with lambda-local), so that every version and instance sees
                 the same data; without it each child has its own in-memory store
  --watch        rebuild bootstrap when a file under Sources/ (or Package.swift) changes and serve the
                 new build from the next invocation on (in-flight ones finish on the old build; a
                 failed build keeps the old one serving and prints the compiler's errors), as
                 `cargo lambda watch` does. Not with --versions: published versions do not change

Environment (each wins over the default):
  PORT                    port on 127.0.0.1 (default 9000)
  HANDLER                 the built-in handler, _HANDLER (default: profile; echo returns the event)
  PROFILE_STORE           memory (default) or dynamodb (then PROFILE_TABLE and AWS settings)
  FLAGS_SOURCE, FLAGS_FILE  flags from a file by default: config/flags.local.json (edit it while running:
                          it is re-read every 2 s), or agent / appconfig (see README)
  FUNCTION_TIMEOUT        seconds (default 30)
  AWS_LAMBDA_LOG_FORMAT   Text or JSON (default Text)
  AWS_LAMBDA_LOG_LEVEL    TRACE … FATAL (default INFO)
  PROFILE_STORE, FLAGS_SOURCE, FLAGS_FILE, APPCONFIG_*, AWS_ENDPOINT_URL*, TABLE_NAME
                          passed to the function when set
Anything after -- goes to lambda-local (see `lambda-local --help`), for example
  scripts/run-local.sh -- --concurrency 2 --memory 256
  scripts/run-local.sh --versions 2 --moto -- --concurrency 4 \
      --version-env 2:AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:9    # version 2 cannot reach its store

Exit status: 0 after Ctrl-C; 64 for a usage error; non-zero when the build fails or the port is taken.
USAGE
}

extra=()
versions=0
use_moto=0
watch_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --versions)
      [[ "${2:-}" =~ ^[1-9]$ ]] || { echo "run-local.sh: --versions takes 1-9" >&2; exit 64; }
      versions="$2"; shift 2 ;;
    --moto) use_moto=1; shift ;;
    --watch) watch_args=(--watch); shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "run-local.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
done

if [ "${#watch_args[@]}" -gt 0 ] && [ "$versions" -gt 0 ]; then
  echo "run-local.sh: --watch rebuilds \$LATEST; it does not go with --versions (published versions do not change)" >&2
  exit 64
fi

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
ensure_debian_packages libcurl4-openssl-dev:/usr/include/x86_64-linux-gnu/curl/curl.h libssl-dev:/usr/include/openssl/sha.h

port="${PORT:-9000}"
handler="${HANDLER:-profile}"
export PROFILE_STORE="${PROFILE_STORE:-memory}"
export FLAGS_SOURCE="${FLAGS_SOURCE:-file}"
if [ "$FLAGS_SOURCE" = file ]; then
  export FLAGS_FILE="${FLAGS_FILE:-$PWD/config/flags.local.json}"
fi

function_name="${FUNCTION_NAME:-profile-service-dev}"
moto_pid=""
if [ "$use_moto" -eq 1 ]; then
  echo "run-local.sh: starting moto (DynamoDB) for a store every version shares…" >&2
  ensure_aws_venv
  moto_port="$(free_port)"
  mkdir -p .build
  # One request at a time: threaded moto applies concurrent conditional updates without a lock.
  .venv-aws/bin/python scripts/lib/moto_serial.py 127.0.0.1 "$moto_port" >.build/run-local-moto.log 2>&1 &
  moto_pid=$!
  # Stopped and waited for, so that when run-local.sh returns its moto is gone, not a zombie.
  trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
  wait_for_port "$moto_port" 30
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test .venv-aws/bin/aws --region us-east-1 \
    --endpoint-url "http://127.0.0.1:$moto_port" dynamodb create-table --table-name profiles \
    --attribute-definitions AttributeName=userId,AttributeType=S --key-schema AttributeName=userId,KeyType=HASH \
    --billing-mode PAY_PER_REQUEST >/dev/null
  export PROFILE_STORE=dynamodb PROFILE_TABLE=profiles AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$moto_port"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
fi

echo "run-local.sh: building bootstrap and lambda-local…" >&2
swift build --product bootstrap >&2
swift build --product lambda-local >&2
bin="$(swift build --show-bin-path)"

env_args=()
for name in AWS_LAMBDA_LOG_FORMAT AWS_LAMBDA_LOG_LEVEL PROFILE_STORE FLAGS_SOURCE FLAGS_FILE \
            APPCONFIG_APPLICATION APPCONFIG_ENVIRONMENT APPCONFIG_PROFILE PROFILE_TABLE \
            AWS_ENDPOINT_URL AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_APPCONFIGDATA; do
  if [ -n "${!name:-}" ]; then
    env_args+=(--env "$name=${!name}")
  fi
done

cat >&2 <<EXAMPLES

run-local.sh: serving $function_name, _HANDLER=$handler (store $PROFILE_STORE, flags $FLAGS_SOURCE) on http://127.0.0.1:$port.
Ctrl-C stops it. Try (the JWT is unsigned: lambda-local passes its claims without checking):
  TOKEN="e30.\$(printf '{"sub":"user-123"}' | base64 | tr -d '=').x"
  curl -s http://127.0.0.1:$port/health
  curl -s -X PUT http://127.0.0.1:$port/profiles/user-123 -H "Authorization: Bearer \$TOKEN" \\
       -H 'Content-Type: application/json' -d '{"name":"Ada Lovelace","email":"ada@example.com"}'
  curl -s -i http://127.0.0.1:$port/profiles/user-123 -H "Authorization: Bearer \$TOKEN"
  curl -s http://127.0.0.1:$port/_local/stats

EXAMPLES

version_args=()
for ((n = 1; n <= versions; n++)); do
  version_args+=(--function-version "$n=$bin/bootstrap")
done
if [ "$versions" -gt 0 ]; then
  echo "run-local.sh: versions 1-$versions behind alias live (primary 1); release with scripts/release.sh --endpoint-url http://127.0.0.1:$port" >&2
fi

command=("$bin/lambda-local" --bootstrap "$bin/bootstrap" --port "$port" --handler "$handler" --function-name "$function_name"
  --timeout "${FUNCTION_TIMEOUT:-30}" "${env_args[@]}" "${version_args[@]}" "${watch_args[@]}" "${extra[@]}")
if [ -z "$moto_pid" ]; then
  exec "${command[@]}"
fi
"${command[@]}"
