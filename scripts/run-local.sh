#!/usr/bin/env bash
# Runs the service locally exactly as Lambda runs it: the real bootstrap under lambda-local.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/run-local.sh [--help] [-- LAMBDA_LOCAL_ARGS…]

Builds bootstrap and lambda-local (debug), then serves the function on http://127.0.0.1:$PORT:
  POST /2015-03-31/functions/function/invocations   the Lambda Invoke API (RIE-compatible)
  any other path                                    an API Gateway HTTP API (payload 2.0) request
  GET  /_local/stats                                invocations, errors, p50/p99 per version
Stop it with Ctrl-C.

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

Exit status: 0 after Ctrl-C; non-zero when the build fails or the port is taken.
USAGE
}

extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "run-local.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
done

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

run-local.sh: serving _HANDLER=$handler (store $PROFILE_STORE, flags $FLAGS_SOURCE) on http://127.0.0.1:$port.
Ctrl-C stops it. Try (the JWT is unsigned: lambda-local passes its claims without checking):
  TOKEN="e30.\$(printf '{"sub":"user-123"}' | base64 | tr -d '=').x"
  curl -s http://127.0.0.1:$port/health
  curl -s -X PUT http://127.0.0.1:$port/profiles/user-123 -H "Authorization: Bearer \$TOKEN" \\
       -H 'Content-Type: application/json' -d '{"name":"Ada Lovelace","email":"ada@example.com"}'
  curl -s -i http://127.0.0.1:$port/profiles/user-123 -H "Authorization: Bearer \$TOKEN"
  curl -s http://127.0.0.1:$port/_local/stats

EXAMPLES

exec "$bin/lambda-local" --bootstrap "$bin/bootstrap" --port "$port" --handler "$handler" \
  --timeout "${FUNCTION_TIMEOUT:-30}" "${env_args[@]}" "${extra[@]}"
