#!/usr/bin/env bash
# The packaging suite: the zip is deterministic, runs from /var/task alone, speaks HTTPS (TLS 1.2 and
# 1.3, its own trimmed OpenSSL) to DynamoDB and AppConfigData, and works behind a Runtime API nobody
# here wrote (ministack) as provided.al2 and provided.al2023.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/test-packaging.sh [--skip-ministack] [--help]

Checks, each counted as passed or failed:
  lint          shellcheck -x on the packaging scripts
  determinism   scripts/package.sh twice (the bootstrap's mtime changed in between) gives the same
                bytes and CodeSha256; the zip holds exactly `bootstrap`, mode 0755
  verify        scripts/package.sh --verify --health: echo (byte for byte, twice), an unknown
                _HANDLER (Runtime.HandlerNotFound) and GET /health (_HANDLER=profile) from a
                chroot holding only /var/task and a private /proc
  control       the same verification rejects a zip whose bootstrap needs the host (the plain C
                libcurl loop from bench/c-loop, dynamically linked): it must exit 3
  tls           the zip's own bootstrap (its trimmed static OpenSSL and libcurl) under lambda-local,
                handler profile with PROFILE_STORE=dynamodb and FLAGS_SOURCE=appconfig, against an
                HTTPS stand-in for DynamoDB and AppConfigData on https://localhost
                (scripts/lib/tls_stand_in.py; CAs and certificates made for the run with the openssl
                CLI, the CA given as SSL_CERT_FILE). Over TLS 1.2 and TLS 1.3 with an RSA and with an
                ECDSA P-256 certificate, and over TLS 1.2 with ECDHE-RSA-CHACHA20-POLY1305 and with
                ECDHE-ECDSA-AES128-GCM-SHA256: GET /profiles/user-123 (events/) answers 404 after at
                least 3 SigV4-signed requests (appconfig and dynamodb) reached the stand-in, all over
                that protocol and cipher. A server whose certificate comes from a CA the bootstrap
                does not trust gets no request (the handshake is refused: unknown CA) and the GET
                answers 503. One case at a time, each bounded (20 s per wait); about 10 s in all.
  ministack     for provided.al2 and provided.al2023, with the real `aws` CLI against ministack on
                127.0.0.1 (its own Runtime API, its own unpacking into a temporary directory):
                create-function reports our CodeSha256 and size; echo (three warm invocations);
                an unknown handler (our Runtime.HandlerNotFound reaches the caller); a timeout
                and a crash (a test-only zip whose `bootstrap` is a two-line sh wrapper that points
                the real bootstrap at a silent listener, or at a closed port so that it exits 3);
                echo works again afterwards.

Installs what it needs: Debian packages (shellcheck, gcc, libcurl4-openssl-dev, zip, unzip, curl,
openssl, python3-venv) with apt-get; ministack 1.5.33 in the Python virtual environment
.venv-ministack and awscli 1.45.11 in .venv-aws (the release suite's, same pins); builds in
.build-lambda (bootstrap), .build (lambda-local) and .build/static-openssl, .build/static-curl
(OpenSSL, libcurl). Starts ministack, a silent listener, the TLS stand-in and lambda-local on
127.0.0.1 and stops them on exit. About 8 minutes on a fresh 2-core machine (libcurl, lambda-local
and the release build), about 2 minutes afterwards.

Options:
  --skip-ministack   run everything but the ministack checks
  -h, --help         this text

The last line is "N passed, M failed". Exit status: 0 when nothing failed; 1 otherwise; 64 bad
arguments.
USAGE
}

ministack=1
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --skip-ministack) ministack=0 ;;
    *) echo "test-packaging.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
  shift
done

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
# shellcheck source=scripts/lib/emulators.sh
source scripts/lib/emulators.sh

passed=0
failed=0
say() { printf 'test-packaging.sh: %s\n' "$*" >&2; }
step() { printf '\n==> %s\n' "$*" >&2; }
pass() { passed=$((passed + 1)); say "PASS $*"; }
fail() { failed=$((failed + 1)); say "FAIL $*"; }

work="$(mktemp -d "${TMPDIR:-/tmp}/test-packaging.XXXXXX")"
helper_pids=()
case_pids=()
cleanup() {
  local pid
  stop_emulators
  for pid in "${helper_pids[@]}" "${case_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${helper_pids[@]}" "${case_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

step "Installing what the suite needs"
ensure_debian_packages shellcheck:/usr/bin/shellcheck gcc:/usr/bin/gcc \
  libcurl4-openssl-dev:/usr/include/x86_64-linux-gnu/curl/curl.h zip:/usr/bin/zip unzip:/usr/bin/unzip \
  curl:/usr/bin/curl openssl:/usr/bin/openssl

step "Lint"
if shellcheck -x scripts/build.sh scripts/package.sh scripts/test-packaging.sh scripts/bench.sh \
     scripts/lib/static-curl.sh scripts/lib/static-openssl.sh scripts/lib/static-exe.sh scripts/lib/packaging-ministack.sh >&2; then
  pass "shellcheck -x on the packaging scripts"
else
  fail "shellcheck -x on the packaging scripts"
fi

step "Build and package twice: same bytes"
zip1="$work/first.zip"
zip2="$work/second.zip"
if scripts/package.sh --output "$zip1" >"$work/package1.out" && touch .build/lambda/bootstrap \
   && scripts/package.sh --no-build --output "$zip2" >"$work/package2.out"; then
  sha1="$(openssl dgst -sha256 -binary "$zip1" | base64 -w0)"
  sha2="$(openssl dgst -sha256 -binary "$zip2" | base64 -w0)"
  if cmp -s "$zip1" "$zip2"; then
    pass "two packagings are byte-identical (CodeSha256 $sha1, $(stat -c %s "$zip1") bytes)"
  else
    fail "two packagings differ: $sha1 vs $sha2"
  fi
  if [ "$(tail -1 "$work/package1.out")" = "$zip1" ]; then
    pass "package.sh prints the zip's path last"
  else
    fail "package.sh's last line is '$(tail -1 "$work/package1.out")', not $zip1"
  fi
  listing="$(unzip -Z "$zip1" | sed -n '2,$p' | grep -v 'files,' || true)"
  if [ "$(unzip -Z1 "$zip1")" = bootstrap ] && grep -q '^-rwxr-xr-x' <<<"$listing"; then
    pass "the zip holds exactly bootstrap, mode 0755"
  else
    fail "unexpected zip contents: $listing"
  fi
else
  fail "scripts/package.sh failed"
fi

step "Verify in an empty root file system"
if scripts/package.sh --no-build --output "$zip1" --verify --health >"$work/verify.out"; then
  pass "package.sh --verify --health (echo, Runtime.HandlerNotFound, GET /health from /var/task alone)"
else
  fail "package.sh --verify --health exited $?"
fi

step "Control: a bootstrap that needs the host must fail verification"
mkdir -p "$work/control"
gcc -O2 -o "$work/control/bootstrap" bench/c-loop/runtime_loop.c -lcurl
(cd "$work/control" && zip -q -X ../control.zip bootstrap)
status=0
scripts/package.sh --verify --zip "$work/control.zip" >/dev/null 2>"$work/control.err" || status=$?
if [ "$status" -eq 3 ]; then
  pass "a dynamically linked C bootstrap is rejected (exit 3: $(grep -m1 FAIL "$work/control.err" | cut -c1-100)…)"
else
  fail "a dynamically linked C bootstrap was not rejected (exit $status)"
  cat "$work/control.err" >&2
fi

step "TLS: the shipped bootstrap's HTTPS to DynamoDB and AppConfigData"
# The zip's own bootstrap (its trimmed static OpenSSL and libcurl) under lambda-local, handler profile,
# against scripts/lib/tls_stand_in.py on https://localhost:PORT. One stand-in and one lambda-local per
# case, one case at a time: the flags' first load during init has a budget of 1 s for two HTTPS calls,
# which parallel cases on a small machine can exhaust.
tls="$work/tls"
lambda_local="${LOCAL_SCRATCH:-.build}/debug/lambda-local"
tls_started=$SECONDS

# tls_certificates: an RSA and an ECDSA P-256 CA, each with a server certificate for localhost, and a
# rogue RSA CA with one too, in $tls; rsa+ecdsa-ca.pem trusts both good CAs.
tls_certificates() {
  local name key
  for name in rsa ecdsa rogue; do
    key=(-newkey rsa:2048)
    [ "$name" = ecdsa ] && key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
    openssl req -x509 -new -nodes "${key[@]}" -keyout "$tls/$name-ca.key" -out "$tls/$name-ca.pem" \
      -days 2 -subj "/CN=test-packaging $name CA" 2>>"$tls/openssl.err" || return 1
    openssl req -new -nodes "${key[@]}" -keyout "$tls/$name-server.key" -subj /CN=localhost 2>>"$tls/openssl.err" \
      | openssl x509 -req -CA "$tls/$name-ca.pem" -CAkey "$tls/$name-ca.key" -set_serial "0x$(openssl rand -hex 8)" \
          -days 2 -extfile "$tls/server.ext" -out "$tls/$name-server.pem" 2>>"$tls/openssl.err" || return 1
  done
  cat "$tls/rsa-ca.pem" "$tls/ecdsa-ca.pem" >"$tls/rsa+ecdsa-ca.pem"
}

# tls_stop_case: stops the current case's stand-in and lambda-local (which stops its bootstrap).
tls_stop_case() {
  local pid
  for pid in "${case_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${case_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  case_pids=()
}

# tls_case NAME SERVER TRUST TLS EXPECT [CIPHERS]: the stand-in presents SERVER's certificate (rsa, ecdsa,
# rogue) with TLS version TLS only (1.2, 1.3, or 1.2-1.3) and, for TLS 1.2, the OpenSSL cipher list
# CIPHERS; the bootstrap trusts $tls/TRUST-ca.pem (SSL_CERT_FILE). EXPECT is a pattern (grep -E) every
# request's cipher must match, or `refused`. One GET /profiles/user-123 through the Invoke API; the
# stand-in's log is polled (at most 5 s) for what must have reached it.
tls_case() {
  local name="$1" server="$2" trust="$3" version="$4" expect="$5" ciphers="${6:-}"
  local log="$tls/$name.jsonl" local_log="$tls/$name.lambda-local.log" stand_in_port local_port
  local summary status deadline requests signed services protocols used_ciphers alerts want_tls
  stand_in_port="$(free_port)"
  python3 scripts/lib/tls_stand_in.py serve --port "$stand_in_port" --cert "$tls/$server-server.pem" \
    --key "$tls/$server-server.key" --flags config/flags.local.json --log "$log" --min-tls "${version%-*}" \
    --max-tls "${version#*-}" ${ciphers:+--ciphers "$ciphers"} --max-seconds 120 2>"$tls/$name.stand-in.err" &
  case_pids+=("$!")
  if ! wait_for_port "$stand_in_port" 20 2>>"$tls/$name.stand-in.err"; then
    fail "TLS $name: the stand-in did not start: $(tail -c 300 "$tls/$name.stand-in.err")"
    tls_stop_case
    return
  fi
  local_port="$(free_port)"
  "$lambda_local" --bootstrap "$tls/task/bootstrap" --port "$local_port" --handler profile --timeout 10 \
    --init-timeout 10 --env PROFILE_STORE=dynamodb --env PROFILE_TABLE=profiles --env AWS_REGION=us-east-1 \
    --env AWS_ACCESS_KEY_ID=AKIDEXAMPLE --env AWS_SECRET_ACCESS_KEY=test-secret --env AWS_SESSION_TOKEN=test-session \
    --env "AWS_ENDPOINT_URL=https://localhost:$stand_in_port" --env "SSL_CERT_FILE=$tls/$trust-ca.pem" \
    --env FLAGS_SOURCE=appconfig --env APPCONFIG_APPLICATION=profile-service --env APPCONFIG_ENVIRONMENT=test \
    --env APPCONFIG_PROFILE=flags >"$local_log" 2>&1 &
  case_pids+=("$!")
  if ! wait_for_http "http://127.0.0.1:$local_port/_local/stats" 20; then
    fail "TLS $name: lambda-local did not start: $(tail -c 300 "$local_log")"
    tls_stop_case
    return
  fi
  curl -s --max-time 20 -o "$tls/$name.out" -X POST --data-binary @events/http-api-v2-get-profile.json \
    "http://127.0.0.1:$local_port/2015-03-31/functions/function/invocations" || true
  status="$(grep -o '"statusCode":[0-9]*' "$tls/$name.out" 2>/dev/null | head -1 | cut -d: -f2 || true)"
  # Every call the function made has been answered when the invocation returns; the poll covers the
  # stand-in's log write and is bounded in any case.
  deadline=$((SECONDS + 5))
  while :; do
    summary="$(python3 scripts/lib/tls_stand_in.py summary "$log" || printf '0\t0\t-\t-\t-\t-')"
    IFS=$'\t' read -r requests signed services protocols used_ciphers alerts <<<"$summary"
    if [ "$expect" = refused ]; then [ "$alerts" != - ] && break; else [ "$requests" -ge 3 ] && break; fi
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.1
  done
  tls_stop_case

  local why=()
  if [ "$expect" = refused ]; then
    [ "$requests" -eq 0 ] || why+=("$requests requests reached a server whose CA the bootstrap does not trust")
    [ "$alerts" != - ] || why+=("no handshake was refused with a TLS alert")
    [ "$status" = 503 ] || why+=("GET answered ${status:-nothing}, expected 503 (store unavailable)")
    if [ ${#why[@]} -eq 0 ]; then
      pass "TLS $name: the handshake is refused ($alerts), no request reached the stand-in; GET → 503"
      return
    fi
  else
    want_tls="TLSv$version"
    [ "$requests" -ge 3 ] || why+=("$requests requests reached the stand-in, expected at least 3")
    [ "$signed" -eq "$requests" ] || why+=("only $signed of $requests requests are SigV4-signed")
    [ "$services" = appconfig,dynamodb ] || why+=("signed for '$services', expected appconfig,dynamodb")
    [ "$protocols" = "$want_tls" ] || why+=("protocol $protocols, expected $want_tls")
    [ "$used_ciphers" != - ] && ! tr ',' '\n' <<<"$used_ciphers" | grep -Evq "^($expect)\$" \
      || why+=("cipher $used_ciphers, expected $expect")
    [ "$status" = 404 ] || why+=("GET answered ${status:-nothing}, expected 404 (no such profile)")
    if [ ${#why[@]} -eq 0 ]; then
      pass "TLS $name: $requests SigV4-signed requests (appconfig, dynamodb) over $protocols $used_ciphers; GET → 404"
      return
    fi
  fi
  printf -v summary '%s; ' "${why[@]}"
  fail "TLS $name: ${summary%; }"
  say "  the function's warnings: $(grep -E 'WARN|ERROR|FATAL' "$local_log" | cut -f3- | cut -c1-300 | head -3 | tr '\n' ' ')"
}

mkdir -p "$tls/task"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
  >"$tls/server.ext"
if [ ! -f "$zip1" ] || ! unzip -q -o "$zip1" bootstrap -d "$tls/task"; then
  fail "TLS: no packaged bootstrap to test"
elif [ ! -x "$lambda_local" ]; then
  fail "TLS: no $lambda_local (package.sh --verify builds it)"
elif ! tls_certificates; then
  fail "TLS: making the test certificates: $(tail -c 300 "$tls/openssl.err")"
else
  say "certificates made in $((SECONDS - tls_started))s"
  tls_case rsa-tls12 rsa rsa 1.2 'ECDHE-RSA-.*'
  tls_case rsa-tls13 rsa rsa 1.3 'TLS_.*'
  tls_case ecdsa-tls12 ecdsa ecdsa 1.2 'ECDHE-ECDSA-.*'
  tls_case ecdsa-tls13 ecdsa ecdsa 1.3 'TLS_.*'
  tls_case rsa-chacha20-tls12 rsa rsa 1.2 ECDHE-RSA-CHACHA20-POLY1305 ECDHE-RSA-CHACHA20-POLY1305
  tls_case ecdsa-aes128gcm-tls12 ecdsa ecdsa 1.2 ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES128-GCM-SHA256
  tls_case rogue-ca rogue rsa+ecdsa 1.2-1.3 refused
  say "TLS step: $((SECONDS - tls_started))s"
fi

if [ "$ministack" -eq 1 ] && [ -f "$zip1" ]; then
  # shellcheck source=scripts/lib/packaging-ministack.sh
  source scripts/lib/packaging-ministack.sh
  step "ministack: provided.al2 and provided.al2023 through the real aws CLI"
  run_ministack_conformance "$zip1" "$work"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
