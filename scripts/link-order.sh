#!/usr/bin/env bash
# Writes scripts/lib/link-order.txt: the functions the bootstrap runs, and the variables it touches, from
# spawn to its first /next and on its first invocations, which scripts/build.sh has the linker put next
# to each other.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/link-order.sh [--output PATH] [--help]

Regenerates the link order of the shipped bootstrap (default output: scripts/lib/link-order.txt, which
scripts/build.sh passes to lld as --symbol-ordering-file).

Why: a cold start of the 11.8 MB static bootstrap used to take about 195 page faults, 79 of them in
.text, because what start-up runs (the Swift runtime, glibc, OpenSSL and libcurl initialisation, the
runtime loop) was spread over most of the 7.7 MB of code, and each read fault maps only a 64 KB window
(the kernel's fault-around) on Lambda's kernels. Linked with the functions listed here first, the code
start-up touches sits in a few hundred KB plus the few large sections no linker can split (the Swift
standard library's and Concurrency's local functions come as one section each). Variables the same:
every page of .bss or .data written costs a fault of its own (two for .bss read first), so those
start-up uses are packed too.

How: builds the bootstrap (scripts/build.sh) and runtime-bench, runs the unstripped executable through
runtime-bench's loopback Runtime API, for 3 invocations of each of
  - the `echo` handler (49-byte event): what bench.sh measures,
  - the profile handler's GET /profiles/{id} (memory store, flags from config/flags.local.json),
under callgrind (the functions that ran) and under lackey (the data addresses read or written, each
taken as the symbol at or below it), both valgrind tools, and lists them in the executable's address
order (so the link keeps neighbours from the same object together). About two minutes.

When to regenerate: after a change to start-up or the runtime loop (new code on those paths runs
from wherever the linker puts it, so faults creep back up), a Swift toolchain, libcurl or OpenSSL
update, or when the page faults from spawn to the first /next that `scripts/bench.sh --instructions`
reports grow (124 when this was written; 178 with no order). Commit the new list with the change
that needed it. Stale entries do no harm: lld ignores a name the link does not define (build.sh
passes --no-warn-symbol-ordering), and build.sh checks that the list was applied (the sections
holding listed functions come first in .text).

Options:
  --output PATH  where to write the list (default scripts/lib/link-order.txt)
  -h, --help     this text

Environment: as scripts/build.sh (LAMBDA_SCRATCH, STATIC_OPENSSL_DIR, STATIC_CURL_DIR).

Exit status: 0 written; 1 a build or a run failed; 64 bad arguments.
USAGE
}

output=scripts/lib/link-order.txt
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --output)
      if [ -z "${2-}" ] || [[ "$2" == --* ]]; then echo "link-order.sh: --output needs a path (see --help)" >&2; exit 64; fi
      output="$2"; shift ;;
    *) echo "link-order.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
  shift
done
case "$output" in /*) ;; *) output="$PWD/$output" ;; esac

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
ensure_debian_packages valgrind:/usr/bin/valgrind jq:/usr/bin/jq binutils:/usr/bin/nm
export LC_ALL=C   # sort and compare addresses (zero-padded hex) byte by byte

# build.sh links with the current list; a first one starts empty (the code is the same in any order).
[ -e scripts/lib/link-order.txt ] || echo "# Empty: scripts/link-order.sh fills it." >scripts/lib/link-order.txt
scripts/build.sh >&2 || exit 1
scratch="${LAMBDA_SCRATCH:-.build-lambda}"
bin="$(readlink -f "$scratch/release/bootstrap")"
[ -x "$bin" ] || { echo "link-order.sh: no unstripped bootstrap at $scratch/release/bootstrap" >&2; exit 1; }
swift build -c release --product runtime-bench >&2 || exit 1
driver="$(swift build -c release --show-bin-path)/runtime-bench"

work=.build/link-order
rm -rf "$work"
mkdir -p "$work"
jq 'del(.headers["if-match"])' events/http-api-v2-put-profile.json >"$work/put-profile.json"
# run NAME RUNTIME-BENCH-ARGS…: 3 invocations of one process under callgrind, to $work/NAME.out, and
# under lackey, to $work/NAME.lackey.
run() {
  local name=$1 tool
  shift
  for tool in "callgrind --demangle=no --callgrind-out-file=$PWD/$work/$name.out" \
    "lackey --trace-mem=yes --log-file=$PWD/$work/$name.lackey"; do
    printf '#!/bin/sh\nexec valgrind --tool=%s %s\n' "$tool" "$bin" >"$work/$name.sh"
    chmod +x "$work/$name.sh"
    "$driver" --soak 3 --checkpoint 3 --binary "$name=$work/$name.sh" "$@" >"$work/$name.log" 2>&1 \
      || { echo "link-order.sh: $name under valgrind --tool=${tool%% *} failed (see $work/$name.log)" >&2; exit 1; }
  done
}
echo "link-order.sh: running $bin under callgrind and lackey (echo, profile GET)…" >&2
run echo --event-bytes 49
run profile-get --handler profile --env PROFILE_STORE=memory --env FLAGS_SOURCE=file \
  --env "FLAGS_FILE=$PWD/config/flags.local.json" --event-file events/http-api-v2-get-profile.json \
  --setup-event-file "$work/put-profile.json" --expect '"statusCode":200'

# The functions callgrind saw run in the executable (not in valgrind's preloads). Its output names
# each object (ob=) and function (fn=, cfn=) in full once, then by number only; a name may first
# appear as a callee (cfn=). Recursion levels (name'2) are the same function.
awk -v exe="$bin" '
  /^c?ob=/ {
    line = $0; sub(/^c?ob=/, "", line); id = line; sub(/ .*/, "", id)
    name = substr(line, length(id) + 2); if (name != "") obj[id] = name
    if ($0 ~ /^ob=/) current = (obj[id] == exe)
    next
  }
  /^c?fn=/ {
    line = $0; sub(/^c?fn=/, "", line); id = line; sub(/ .*/, "", id)
    name = substr(line, length(id) + 2); if (name != "") fn[id] = name
    if ($0 ~ /^fn=/ && current) { n = fn[id]; sub(/\047[0-9]+$/, "", n); ran[n] = 1 }
    next
  }
  END { for (n in ran) print n }
' "$work"/echo.out "$work"/profile-get.out | sort -u >"$work/ran.txt"
# In address order, each name once (a local name defined twice is one entry: lld orders both).
nm -n --defined-only "$bin" | awk '$2 ~ /^[tTwWi]$/ { print $3 }' \
  | awk 'NR == FNR { ran[$0] = 1; next } ($0 in ran) && !seen[$0]++' "$work/ran.txt" - >"$work/order.txt"
count=$(wc -l <"$work/order.txt")
[ "$count" -gt 100 ] || { echo "link-order.sh: only $count functions found; callgrind's output changed?" >&2; exit 1; }

# The variables: each data address lackey saw (" L|S|M ADDRESS,SIZE") below the executable's end,
# as the data symbol at or below it. Addresses are zero-padded to 16 hex digits, as nm prints them,
# so that sorting them with the symbols as text sorts them by address (a symbol before an access at
# its own address).
zeros=0000000000000000
end="$(nm --defined-only "$bin" | awk '$3 == "_end" { print $1 }')"
[ -n "$end" ] || { echo "link-order.sh: no _end symbol in $bin" >&2; exit 1; }
{
  nm -n --defined-only "$bin" | awk '$2 ~ /^[bBdDrRvVgGsSu]$/ { print $1 " 0 " $3 }'
  awk -v z="$zeros" '/^ [LSM] / { split($2, a, ","); print substr(z, 1, 16 - length(a[1])) a[1] " 1" }' \
    "$work"/echo.lackey "$work"/profile-get.lackey | sort -u
} | sort | awk -v end="$end" '
  $2 == 0 { symbol = $3; next }
  ("" $1) < ("" end) && symbol != "" && !seen[symbol]++ { print symbol }
' >"$work/data.txt"
rm -f "$work"/*.lackey
data_count=$(wc -l <"$work/data.txt")
[ "$data_count" -gt 100 ] || { echo "link-order.sh: only $data_count variables found; lackey's output changed?" >&2; exit 1; }
{
  echo "# Generated by scripts/link-order.sh (see its --help: why, and when to regenerate); do not edit."
  echo "# The functions the bootstrap ran, then the variables it touched, from spawn to its first /next and"
  echo "# on 3 echo and 3 profile GET invocations, each in address order; scripts/build.sh links them first"
  echo "# in their sections (lld --symbol-ordering-file)."
  cat "$work/order.txt" "$work/data.txt"
} >"$output"
echo "link-order.sh: $count functions and $data_count variables written to $output" >&2
