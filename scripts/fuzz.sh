#!/usr/bin/env bash
# Builds the libFuzzer targets with AddressSanitizer and runs each for a bounded time.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/fuzz.sh [--help] [--build-only] [TARGET...]

Builds the fuzz targets (Fuzz/, see Fuzz/README.md) with `-sanitize=fuzzer,address` in their own
scratch path (.build-fuzz, release mode, linked with lld) and, for each TARGET (default: all):
  1. replays every input kept in Fuzz/regressions/TARGET (each once),
  2. fuzzes for FUZZ_SECONDS seconds from the seed corpus (Fuzz/corpus/TARGET, and events/ for
     the event targets) into a working corpus in .build-fuzz/corpus/TARGET,
  3. for json: compares accept/reject and the accepted values with Python's json module over the
     seed corpus, the regressions and the working corpus (Fuzz/compare-json.py).
The targets run side by side, as many at a time as there are cores (libFuzzer uses one each): on
2 cores, three targets take 2 x FUZZ_SECONDS.

Regression inputs named known-* are findings reported but not fixed yet: they are replayed and
reported without failing the run (drop the prefix once they pass).

Targets:
  json      LeanJSON's parser and writer
  event     APIRequest(event:), the API Gateway event parser
  respond   the profile handler end to end (ProfileAPI.respond, in-memory store, static flags)

Options:
  --build-only   build the targets and stop

Environment:
  FUZZ_SECONDS   seconds of fuzzing per target (default 60)
  FUZZ_FLAGS     extra libFuzzer flags (for example `-jobs=2 -workers=2` or `-seed=1`)

A crash, a hang (>10 s per input), an AddressSanitizer report or a harness violation stops the
script with the input saved under .build-fuzz/artifacts/TARGET/ and the log in .build-fuzz/logs/.
Reproduce with `.build-fuzz/release/fuzz-TARGET FILE`; keep the input in Fuzz/regressions/TARGET.

Exit status: 0 when every target ran clean; 1 on a finding; 2 when a build failed; 64 on bad usage.
USAGE
}

build_only=0
targets=()
for argument in "$@"; do
  case "$argument" in
    -h|--help) usage; exit 0 ;;
    --build-only) build_only=1 ;;
    json|event|respond) targets+=("$argument") ;;
    *) echo "fuzz.sh: unknown argument '$argument' (see --help)" >&2; exit 64 ;;
  esac
done
[ "${#targets[@]}" -gt 0 ] || targets=(json event respond)

seconds="${FUZZ_SECONDS:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "fuzz.sh: FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" >&2
  exit 64
fi
read -r -a extra_flags <<<"${FUZZ_FLAGS:-}"

cd "$(dirname "$0")/.."
scratch=.build-fuzz
bin="$scratch/release"

build_started=$SECONDS
for target in "${targets[@]}"; do
  # -DFUZZING makes FuzzDriver hand main to libFuzzer; lld because gold fails on the sanitized objects
  # ("internal error in format_file_lineno").
  if ! swift build -c release --scratch-path "$scratch" --product "fuzz-$target" \
      -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld >&2; then
    echo "fuzz.sh: building fuzz-$target failed" >&2
    exit 2
  fi
done
echo "fuzz.sh: built ${targets[*]} in $((SECONDS - build_started)) s" >&2
[ "$build_only" -eq 0 ] || exit 0

# The Swift runtime's own backtracer would hold the process after a crash; libFuzzer and ASan report instead.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"

# fuzz_target TARGET: replays its regression inputs, fuzzes it for $seconds, and for json compares with
# Python's json; returns 1 on a finding. Everything it writes is per target (corpus, artifacts, log).
fuzz_target() {
  local target="$1" binary corpus artifacts log seeds dict max_len fixed known input started runs
  binary="$bin/fuzz-$target"
  corpus="$scratch/corpus/$target"
  artifacts="$scratch/artifacts/$target/"
  log="$scratch/logs/$target.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  case "$target" in
    json) seeds=(Fuzz/corpus/json); dict=Fuzz/dicts/json.dict; max_len=4096 ;;
    *) seeds=(Fuzz/corpus/event events); dict=Fuzz/dicts/event.dict; max_len=16384 ;;
  esac

  : >"$log"
  fixed=() known=()
  for input in Fuzz/regressions/"$target"/*; do
    [ -e "$input" ] || continue
    case "$(basename "$input")" in known-*) known+=("$input") ;; *) fixed+=("$input") ;; esac
  done
  if [ "${#fixed[@]}" -gt 0 ]; then
    if ! "$binary" "${fixed[@]}" >>"$log" 2>&1; then
      echo "fuzz.sh: fuzz-$target fails on a kept regression input; see $log" >&2
      grep -E 'harness violation|ERROR|Running:' "$log" >&2 || true
      return 1
    fi
    echo "fuzz.sh: fuzz-$target: ${#fixed[@]} regression input(s) pass" >&2
  fi
  # known-*: a reported finding not fixed yet; it is replayed and reported, and does not fail the run.
  for input in "${known[@]}"; do
    if "$binary" "$input" >>"$log" 2>&1; then
      echo "fuzz.sh: fuzz-$target: $input passes now: drop its known- prefix" >&2
    else
      echo "fuzz.sh: fuzz-$target: known issue still fails: $input" >&2
    fi
  done

  started=$SECONDS
  if ! "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
      -dict="$dict" -artifact_prefix="$artifacts" -print_final_stats=1 "${extra_flags[@]}" \
      "$corpus" "${seeds[@]}" >>"$log" 2>&1; then
    echo "fuzz.sh: fuzz-$target found a problem after $((SECONDS - started)) s; log: $log" >&2
    grep -E -A3 'harness violation|==ERROR|deadly signal|Test unit written|Base64:' "$log" | head -40 >&2 || true
    return 1
  fi
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  echo "fuzz.sh: fuzz-$target ran ${runs:-?} inputs in $((SECONDS - started)) s, no finding" \
    "(corpus $(find "$corpus" -type f | wc -l) files)" >&2

  if [ "$target" = json ]; then
    if ! python3 Fuzz/compare-json.py "$binary" Fuzz/corpus/json Fuzz/regressions/json "$corpus" >&2; then
      echo "fuzz.sh: LeanJSON and Python's json disagree (see DISAGREE lines above)" >&2
      return 1
    fi
  fi
}

# libFuzzer runs one process per target: the targets run side by side, as many at a time as there are
# cores, each on a core of its own for FUZZ_SECONDS (on 2 cores, 3 targets take 2 x FUZZ_SECONDS).
parallel_targets="$(nproc 2>/dev/null || echo 1)"
status=0
for ((first = 0; first < ${#targets[@]}; first += parallel_targets)); do
  pids=()
  for target in "${targets[@]:first:parallel_targets}"; do
    fuzz_target "$target" &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  [ "$status" -eq 0 ] || exit 1
done
