#!/bin/sh
# A Lambda custom runtime in sh + curl whose behaviour each event chooses, for lambda-local's tests:
#   {"fail":true}   -> POST /error (Lambda-Runtime-Function-Error-Type: Function.AskedToFail)
#   {"sleep":N}     -> sleeps N seconds, then echoes (timeouts)
#   {"exit":N}      -> exits with status N mid-invocation (crashes)
#   {"probe":true}  -> posts for an unknown id, the real response, then a second response; the
#                      status codes go to $PROBE_FILE as "unknown=400 first=202 second=403"
#   {"headers":true} -> writes the /next response headers to $PROBE_FILE, answers {}
#   {"big":true}    -> posts a 6 MB + 1 byte response, then an error; statuses to $PROBE_FILE
#   {"log":N}       -> writes N numbered lines naming the request id (odd ones to stdout, even ones
#                      to stderr), then echoes
#   anything else   -> echoes the event
# _HANDLER=init-fail posts /init/error and exits 1; _HANDLER=init-hang never reaches /next.
set -u
BASE="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
TMP="${TMPDIR:-/tmp}/scripted-bootstrap.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
if [ "${_HANDLER:-}" = "init-fail" ]; then
  curl -sS -o /dev/null -X POST -H 'Lambda-Runtime-Function-Error-Type: Runtime.ConfigInvalid' \
    --data-binary '{"errorMessage":"missing TABLE_NAME","errorType":"Runtime.ConfigInvalid","stackTrace":[]}' \
    "$BASE/init/error"
  exit 1
fi
if [ "${_HANDLER:-}" = "init-hang" ]; then
  sleep 60
  exit 1
fi
status() { curl -sS -o /dev/null -w '%{http_code}' -X POST "$@"; }
while :; do
  : > "$TMP/h"
  curl -sS -D "$TMP/h" -o "$TMP/event" "$BASE/invocation/next" || exit 1
  REQ=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$TMP/h" | head -1 | cut -d: -f2- | tr -d '\r ')
  EVENT=$(cat "$TMP/event")
  case "$EVENT" in
    *'"exit":'*) exit "$(printf '%s' "$EVENT" | sed -n 's/.*"exit": *\([0-9]*\).*/\1/p')" ;;
    *'"sleep":'*) sleep "$(printf '%s' "$EVENT" | sed -n 's/.*"sleep": *\([0-9.]*\).*/\1/p')" ;;
    *'"log":'*)
      lines=$(printf '%s' "$EVENT" | sed -n 's/.*"log": *\([0-9]*\).*/\1/p')
      i=1
      # Odd lines on standard output, even ones on standard error: Lambda logs both.
      while [ "$i" -le "$lines" ]; do
        if [ $((i % 2)) -eq 1 ]; then echo "line $i of $lines for $REQ"; else echo "line $i of $lines for $REQ" >&2; fi
        i=$((i + 1))
      done ;;
  esac
  case "$EVENT" in
    *'"fail":true'*)
      status -H 'Lambda-Runtime-Function-Error-Type: Function.AskedToFail' \
        --data-binary '{"errorMessage":"asked to fail","errorType":"Function.AskedToFail","stackTrace":[]}' \
        "$BASE/invocation/$REQ/error" >/dev/null ;;
    *'"probe":true'*)
      unknown=$(status --data-binary '{}' "$BASE/invocation/not-a-request-id/response")
      first=$(status --data-binary '{"probed":true}' "$BASE/invocation/$REQ/response")
      second=$(status --data-binary '{"again":true}' "$BASE/invocation/$REQ/response")
      echo "unknown=$unknown first=$first second=$second" > "$PROBE_FILE" ;;
    *'"headers":true'*)
      tr -d '\r' < "$TMP/h" > "$PROBE_FILE"
      status --data-binary '{}' "$BASE/invocation/$REQ/response" >/dev/null ;;
    *'"big":true'*)
      head -c 6291457 /dev/zero | tr '\0' 'a' > "$TMP/big"
      big=$(status -H 'Expect:' --data-binary @"$TMP/big" "$BASE/invocation/$REQ/response")
      error=$(status -H 'Lambda-Runtime-Function-Error-Type: Function.ResponseSizeTooLarge' \
        --data-binary '{"errorMessage":"too large","errorType":"Function.ResponseSizeTooLarge","stackTrace":[]}' \
        "$BASE/invocation/$REQ/error")
      echo "big=$big error=$error" > "$PROBE_FILE" ;;
    *)
      status --data-binary @"$TMP/event" "$BASE/invocation/$REQ/response" >/dev/null ;;
  esac
done
