#!/usr/bin/env bash
# The user's path, checked: Examples/HelloWorld's handler test, its zip (deterministic, run from an empty
# root), and `sam build` of the profile service (the same bootstrap bytes as scripts/build.sh's).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/test-example.sh [--help]

Checks, each counted as passed or failed and timed (wall-clock and CPU seconds):
  example test   `swift test --package-path Examples/HelloWorld`: the handler called without a server
                 (debug build in Examples/HelloWorld/.build)
  example zip    scripts/package.sh --package-path Examples/HelloWorld --product MyFunction (static,
                 in Examples/HelloWorld/.build-lambda, this repository's libcurl cache), twice (the
                 bootstrap's mtime changed in between): the same bytes, one entry `bootstrap`
  sam validate   `sam validate --lint` of template.yaml and of Examples/HelloWorld/template.yaml
  example sam    `sam build` in Examples/HelloWorld (its Makefile, in place): its bootstrap is the
                 one in the example's zip above
  sam build      a bare `sam build --build-dir .build/sam/build` of template.yaml (BuildMethod:
                 makefile; in place, as samconfig.toml's build_in_source says): the bootstrap it
                 builds for both functions is byte for byte the one in package.sh's
                 .build/lambda/function.zip (made first when missing), and the built template
                 points at those builds
  example verify package.sh --verify --event events/hello.json --expect events/hello.expected.json:
                 the zip from an otherwise empty root under lambda-local (.build); and a control: the
                 same verification with a wrong --expect must exit 3

Installs what it needs: Debian packages (make, zip, unzip) with apt-get; aws-sam-cli 1.170.0 in the
Python virtual environment .venv-sam (about 340 MB, a minute; installed beside the example's build).
sam runs offline: no telemetry, and its weekly version check is marked done in a private config
directory (.build/sam/app). Reuses .build/static-curl, .build-lambda (bootstrap) and .build
(lambda-local) when they are built; builds them otherwise.

The last line is "N passed, M failed". Exit status: 0 when nothing failed; 1 otherwise; 64 bad arguments.
USAGE
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) echo "test-example.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
esac

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh

example=Examples/HelloWorld
passed=0
failed=0
say() { printf 'test-example.sh: %s\n' "$*" >&2; }
pass() { passed=$((passed + 1)); say "PASS $*"; }
fail() { failed=$((failed + 1)); say "FAIL $*"; }
# Each step's wall-clock and CPU (user + sys, children included) seconds.
TIMEFORMAT='test-example.sh: took %R s, %U + %S s CPU'
step() { printf '\n==> %s\n' "$*" >&2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/test-example.XXXXXX")"
venv_pid=""
cleanup() {
  [ -z "$venv_pid" ] || kill "$venv_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ensure_debian_packages make:/usr/bin/make zip:/usr/bin/zip unzip:/usr/bin/unzip
# aws-sam-cli pins its own boto3 and cfn-lint, so it gets a virtual environment of its own; pip runs
# beside the example's build (mostly download and unpack).
ensure_test_venv .venv-sam aws-sam-cli==1.170.0 >"$work/venv.log" 2>&1 &
venv_pid=$!

step "example test: swift test --package-path $example"
time {
  if swift test --package-path "$example" >"$work/swift-test.log" 2>&1; then
    pass "the example's handler test ($(grep -oE 'Test run with [0-9]+ tests?' "$work/swift-test.log" | tail -1))"
  else
    cat "$work/swift-test.log" >&2
    fail "swift test --package-path $example"
  fi
}

step "example zip: package.sh --package-path $example --product MyFunction, twice"
zip1="$work/first.zip"
zip2="$work/second.zip"
package=(scripts/package.sh --package-path "$example" --product MyFunction)
time {
  if "${package[@]}" --output "$zip1" >"$work/package1.out" && touch "$example/.build/lambda/MyFunction/bootstrap" \
     && "${package[@]}" --no-build --output "$zip2" >"$work/package2.out"; then
    # (The staging and zip code is the repository's own; test-packaging.sh checks its modes.)
    if cmp -s "$zip1" "$zip2" && [ "$(unzip -Z1 "$zip1")" = bootstrap ]; then
      pass "two packagings of the example are byte-identical ($(stat -c %s "$zip1") bytes), one entry: bootstrap"
    else
      fail "two packagings of the example differ, or the zip holds more than bootstrap: $(unzip -Z1 "$zip1" | tr '\n' ' ')"
    fi
  else
    fail "scripts/package.sh --package-path $example --product MyFunction failed"
  fi
}

step "sam: aws-sam-cli in .venv-sam"
time {
  venv_status=0
  wait "$venv_pid" || venv_status=$?
  venv_pid=""
}
if [ "$venv_status" -ne 0 ]; then
  cat "$work/venv.log" >&2
  fail "installing aws-sam-cli into .venv-sam"
else
  # Offline and quiet: no telemetry, and the weekly PyPI version check marked as just done, in a
  # private config directory (SAM CLI's own override of ~/.aws-sam).
  export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
  export __SAM_CLI_APP_DIR="$PWD/.build/sam/app"
  mkdir -p "$__SAM_CLI_APP_DIR"
  printf '{"lastVersionCheck": %s, "telemetryEnabled": false}\n' "$(date +%s)" >"$__SAM_CLI_APP_DIR/metadata.json"
  export PATH="$PWD/.venv-sam/bin:$PATH"

  step "sam validate --lint: template.yaml and $example/template.yaml"
  time {
    for template in template.yaml "$example/template.yaml"; do
      if sam validate --lint --template-file "$template" >"$work/validate.log" 2>&1; then
        pass "sam validate --lint $template"
      else
        cat "$work/validate.log" >&2
        fail "sam validate --lint $template"
      fi
    done
  }

  # sam_build_matches DIR BUILD_DIR ZIP FUNCTION...: a bare `sam build` in DIR (its samconfig.toml: in
  # place) into BUILD_DIR; each FUNCTION's bootstrap must be byte for byte the one in ZIP, which
  # package.sh made before (not merely a fresh copy). Returns 1 when sam build itself failed.
  sam_build_matches() {
    local dir="$1" built="$2" zip="$3" function log="$work/sam-build-${1//\//-}.log"
    shift 3
    rm -rf "$built"
    unzip -p "$zip" bootstrap >"$work/expected-bootstrap" 2>/dev/null || : >"$work/expected-bootstrap"
    if ! (cd "$dir" && sam build --build-dir "$built") >"$log" 2>&1; then
      cat "$log" >&2
      fail "sam build in $dir"
      return 1
    fi
    for function in "$@"; do
      if cmp -s "$built/$function/bootstrap" "$work/expected-bootstrap" && [ -x "$built/$function/bootstrap" ] \
         && [ -s "$work/expected-bootstrap" ]; then
        pass "sam build's $function/bootstrap is byte-identical to the one in $zip"
      else
        fail "sam build's $function/bootstrap differs from the one in $zip (or one is missing)"
      fi
    done
  }

  step "sam build (samconfig.toml: in place): the bootstrap is scripts/build.sh's, byte for byte"
  time {
    built="$PWD/.build/sam/build"
    [ -f .build/lambda/function.zip ] || scripts/package.sh >/dev/null || true
    if sam_build_matches . "$built" .build/lambda/function.zip ProfileFunction PreTrafficHookFunction; then
      if grep -q 'CodeUri: ProfileFunction' "$built/template.yaml"; then
        pass "the built template (what sam deploy uploads) points ProfileFunction at that build"
      else
        fail "the built template's ProfileFunction CodeUri: $(grep -m1 'CodeUri' "$built/template.yaml")"
      fi
    fi
  }

  step "sam build of $example (its Makefile, in place): the bootstrap is package.sh's, byte for byte"
  time {
    sam_build_matches "$example" "$PWD/.build/sam/example-build" "$zip1" HelloWorldFunction || true
  }
fi

# Last: in test.sh its lambda-local build waits for the debug build of .build, which runs beside it.
step "example verify: the zip from an empty root, the event's exact answer; a wrong answer is caught"
time {
  if "${package[@]}" --zip "$zip1" --verify --event "$example/events/hello.json" \
       --expect "$example/events/hello.expected.json" >"$work/verify.out" 2>"$work/verify.err"; then
    pass "package.sh --verify --event hello.json --expect hello.expected.json (from /var/task alone)"
  else
    cat "$work/verify.err" >&2
    fail "package.sh --verify of the example's zip"
  fi
  printf '{"greeting":"Hello, Grace!"}' >"$work/wrong.json"
  status=0
  "${package[@]}" --zip "$zip1" --verify --event "$example/events/hello.json" --expect "$work/wrong.json" \
    >/dev/null 2>"$work/control.err" || status=$?
  if [ "$status" -eq 3 ]; then
    pass "a wrong --expect fails the verification (exit 3)"
  else
    cat "$work/control.err" >&2
    fail "a wrong --expect was not caught (exit $status)"
  fi
}

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
