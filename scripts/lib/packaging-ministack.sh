# shellcheck shell=bash
# The ministack conformance checks of scripts/test-packaging.sh: our zip behind a Runtime API that
# nobody here wrote. Source it after scripts/lib/common.sh and scripts/lib/emulators.sh; it uses the
# caller's pass/fail/say functions and helper_pids array.
#
# How ministack runs a provided.* function (1.5.33, LAMBDA_EXECUTOR=local, the default): it unzips the
# code into $TMPDIR/ministack-provided-code-<port>/<sha256>/ and starts ./bootstrap there as a child
# process with AWS_LAMBDA_RUNTIME_API=127.0.0.1:<random port> and LAMBDA_TASK_ROOT set to that
# directory. Nothing is at /var/task, so a bootstrap whose PT_INTERP or RPATH points into /var/task
# could not start there; our static bootstrap does not care where it is unpacked.

PACKAGING_MINISTACK_VERSION=1.5.33
PACKAGING_AWSCLI_VERSION=1.45.11

# packaging_aws ARGS…: the real aws CLI against the running ministack, JSON output.
packaging_aws() {
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER="" \
    .venv-aws/bin/aws --endpoint-url "$EMULATOR_URL" --output json "$@"
}

# packaging_json FILE EXPRESSION: evaluates a Python expression over the JSON document `d` in FILE.
packaging_json() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# packaging_create NAME RUNTIME HANDLER ZIP [ENVIRONMENT]: create-function and wait until Active;
# the answer is in $work/create-NAME.json.
packaging_create() {
  local name="$1" runtime="$2" handler="$3" zip="$4" environment="${5:-}"
  local args=(lambda create-function --function-name "$name" --runtime "$runtime" --handler "$handler"
    --role arn:aws:iam::000000000000:role/packaging-test --architectures x86_64 --timeout 2
    --memory-size 128 --zip-file "fileb://$zip")
  [ -n "$environment" ] && args+=(--environment "$environment")
  packaging_aws "${args[@]}" >"$work/create-$name.json" 2>"$work/create-$name.err" \
    && packaging_aws lambda wait function-active --function-name "$name" 2>>"$work/create-$name.err"
}

# packaging_invoke NAME EVENT-FILE: invoke; metadata in $work/invoke.json, payload in $work/payload.json.
packaging_invoke() {
  rm -f "$work/invoke.json" "$work/payload.json"
  packaging_aws lambda invoke --function-name "$1" --payload "fileb://$2" "$work/payload.json" \
    >"$work/invoke.json" 2>"$work/invoke.err"
}

# run_ministack_conformance ZIP WORKDIR
run_ministack_conformance() {
  local zip="$1"
  work="$2"
  # The same virtual environments (and pins) as the release suite's, so that a fresh machine makes each once.
  ensure_test_venv .venv-ministack "ministack==$PACKAGING_MINISTACK_VERSION" || { fail "installing ministack"; return; }
  ensure_test_venv .venv-aws "awscli==$PACKAGING_AWSCLI_VERSION" || { fail "installing awscli"; return; }
  MINISTACK_SERVICES=lambda,iam,sts,logs start_ministack .venv-ministack/bin/ministack "$work/ministack.log" \
    || { fail "starting ministack"; return; }
  say "ministack on $EMULATOR_URL (log $work/ministack.log)"

  local size sha
  size="$(stat -c %s "$zip")"
  sha="$(openssl dgst -sha256 -binary "$zip" | base64 -w0)"
  printf '{"hello":"world","n":[1,2,3],"nested":{"ok":true}}' >"$work/event.json"

  # Faults need the real bootstrap to misbehave, which none of its handlers does on purpose: a
  # test-only zip wraps it in a two-line sh script that points it at another Runtime API.
  mkdir -p "$work/fault"
  unzip -q -o "$zip" -d "$work/fault"
  mv "$work/fault/bootstrap" "$work/fault/bootstrap.real"
  # shellcheck disable=SC2016 # expanded by the wrapper at run time, not here
  printf '#!/bin/sh\nAWS_LAMBDA_RUNTIME_API="$FAULT_RUNTIME_API" exec "$LAMBDA_TASK_ROOT/bootstrap.real"\n' \
    >"$work/fault/bootstrap"
  chmod 0755 "$work/fault/bootstrap"
  (cd "$work/fault" && zip -q -X "$work/fault.zip" bootstrap bootstrap.real)
  # A listener that accepts connections and never answers (the "hung" Runtime API), at most 10 min.
  python3 - >"$work/silent.port" <<'PY' &
import socket, sys, time
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(64)
server.settimeout(1)
print(server.getsockname()[1], flush=True)
held, end = [], time.time() + 600
while time.time() < end:
    try:
        held.append(server.accept()[0])
    except socket.timeout:
        pass
PY
  helper_pids+=("$!")
  local waited=0
  until [ -s "$work/silent.port" ] || [ "$waited" -ge 50 ]; do sleep 0.1; waited=$((waited + 1)); done
  local silent_port
  silent_port="$(cat "$work/silent.port")"

  local runtime tag name i ok started elapsed
  for runtime in provided.al2 provided.al2023; do
    tag="${runtime#provided.}"
    name="pack-$tag-echo"
    if packaging_create "$name" "$runtime" echo "$zip"; then
      if [ "$(packaging_json "$work/create-$name.json" 'd["CodeSha256"]')" = "$sha" ] \
         && [ "$(packaging_json "$work/create-$name.json" 'd["CodeSize"]')" = "$size" ]; then
        pass "$runtime: create-function reports our CodeSha256 $sha and CodeSize $size"
      else
        fail "$runtime: create-function reports $(packaging_json "$work/create-$name.json" '(d.get("CodeSha256"), d.get("CodeSize"))'), expected ($sha, $size)"
      fi
    else
      fail "$runtime: create-function: $(cat "$work/create-$name.err")"
      continue
    fi

    ok=0
    for i in 1 2 3; do
      # ministack re-serializes the event (AWS passes the bytes through), so compare as JSON.
      if packaging_invoke "$name" "$work/event.json" \
         && [ "$(packaging_json "$work/invoke.json" 'd.get("FunctionError", "")')" = "" ] \
         && python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' \
              "$work/event.json" "$work/payload.json"; then
        ok=$((ok + 1))
      else
        say "invocation $i: $(cat "$work/invoke.json" "$work/invoke.err" "$work/payload.json" 2>/dev/null | head -c 400)"
      fi
    done
    if [ "$ok" -eq 3 ]; then pass "$runtime: echo returns the event, 3 of 3 invocations"; else fail "$runtime: echo: $ok of 3 invocations"; fi

    name="pack-$tag-nohandler"
    if packaging_create "$name" "$runtime" no-such-handler "$zip" && packaging_invoke "$name" "$work/event.json" \
       && [ "$(packaging_json "$work/invoke.json" 'd.get("FunctionError", "")')" = Unhandled ] \
       && grep -q 'Runtime.HandlerNotFound' "$work/payload.json"; then
      # ministack wraps init errors as Runtime.Unknown with ours inside; AWS reports ours directly.
      pass "$runtime: unknown handler → FunctionError with our Runtime.HandlerNotFound ($(packaging_json "$work/payload.json" 'd["errorType"]') from ministack)"
    else
      fail "$runtime: unknown handler: $(cat "$work/invoke.json" "$work/payload.json" 2>/dev/null | head -c 400)"
    fi

    name="pack-$tag-timeout"
    started=$SECONDS
    if packaging_create "$name" "$runtime" echo "$work/fault.zip" "Variables={FAULT_RUNTIME_API=127.0.0.1:$silent_port}" \
       && packaging_invoke "$name" "$work/event.json" \
       && [ "$(packaging_json "$work/invoke.json" 'd.get("FunctionError", "")')" = Unhandled ] \
       && grep -Eq 'Sandbox.Timedout|did not reach the Runtime API within' "$work/payload.json"; then
      elapsed=$((SECONDS - started))
      pass "$runtime: timeout (bootstrap blocked on /next, Timeout 2 s) → FunctionError after ${elapsed}s: $(head -c 120 "$work/payload.json")"
    else
      fail "$runtime: timeout: $(cat "$work/invoke.json" "$work/payload.json" 2>/dev/null | head -c 400)"
    fi

    name="pack-$tag-crash"
    if packaging_create "$name" "$runtime" echo "$work/fault.zip" "Variables={FAULT_RUNTIME_API=127.0.0.1:1}" \
       && packaging_invoke "$name" "$work/event.json" \
       && [ "$(packaging_json "$work/invoke.json" 'd.get("FunctionError", "")')" = Unhandled ] \
       && grep -q 'exited during init with code 3' "$work/payload.json" \
       && grep -q 'FATAL' "$work/payload.json"; then
      pass "$runtime: crash (Runtime API unreachable → bootstrap exit 3) → FunctionError with our exit code and FATAL log line"
    else
      fail "$runtime: crash: $(cat "$work/invoke.json" "$work/payload.json" 2>/dev/null | head -c 400)"
    fi

    if packaging_invoke "pack-$tag-echo" "$work/event.json" \
       && [ "$(packaging_json "$work/invoke.json" 'd.get("FunctionError", "")')" = "" ]; then
      pass "$runtime: echo still works after the faults"
    else
      fail "$runtime: echo after the faults: $(cat "$work/invoke.json" "$work/payload.json" 2>/dev/null | head -c 400)"
    fi
  done
  stop_emulators
}
