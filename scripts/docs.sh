#!/usr/bin/env bash
# Builds the DocC documentation of the public libraries and fails on any documentation warning.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/docs.sh [--target NAME]... [--output DIR] [--help]

Builds the documentation of each target with swift-docc-plugin (`swift package generate-documentation`:
the target's doc comments plus its catalog, Sources/<NAME>/<NAME>.docc) and fails when DocC reports
any warning: a broken symbol link, an ambiguous overload, an unknown article, a missing catalog page.
Only the targets and their dependencies are built (in .build, shared with `swift build`); nothing is
linked.

Each target is written to <DIR>/<NAME> transformed for static hosting. To read one:
  python3 -m http.server --directory .build/docs/LambdaRuntime 8000
and open http://127.0.0.1:8000/documentation/lambdaruntime/ (DIR/NAME/index.html needs a server).

Options:
  --target NAME  document this target (repeatable; default: every target with a catalog:
                 LambdaRuntime, the library functions link, and LambdaLocal, the development one)
  --output DIR   where to write the documentation (default .build/docs)
  -h, --help     this text

Environment:
  DOCS_SCRATCH   SwiftPM scratch path (default .build)

Exit status: 0 built without warnings; 1 the build failed or DocC warned; 64 bad arguments.
USAGE
}

targets=()
output=.build/docs
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --target) need_value docs.sh "$1" "a name" "${2-}"; targets+=("$2"); shift ;;
    --output) need_value docs.sh "$1" "a directory" "${2-}"; output="$2"; shift ;;
    *) echo "docs.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
  shift
done
cd "$(dirname "$0")/.."
if [ ${#targets[@]} -eq 0 ]; then
  for catalog in Sources/*/*.docc; do
    name="$(basename "$catalog" .docc)"
    [ "$catalog" = "Sources/$name/$name.docc" ] && targets+=("$name")
  done
fi
[ ${#targets[@]} -gt 0 ] || { echo "docs.sh: no Sources/<NAME>/<NAME>.docc catalog found" >&2; exit 1; }
scratch="${DOCS_SCRATCH:-.build}"
mkdir -p "$output"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

status=0
for target in "${targets[@]}"; do
  if [ ! -d "Sources/$target/$target.docc" ]; then
    echo "docs.sh: Sources/$target/$target.docc does not exist" >&2
    exit 64
  fi
  echo "docs.sh: documenting $target → $output/$target" >&2
  if ! swift package --scratch-path "$scratch" --disable-sandbox generate-documentation \
      --target "$target" --output-path "$output/$target" --transform-for-static-hosting \
      >"$log" 2>&1; then
    cat "$log" >&2
    echo "docs.sh: building the documentation of $target failed" >&2
    exit 1
  fi
  # DocC's part of the log starts at "Building documentation for"; each of its warnings is a line
  # starting with "warning:", followed by a source excerpt (compiler warnings before it do not count).
  new=0
  while IFS= read -r line; do
    echo "docs.sh: $target: $line" >&2
    new=$((new + 1))
  done < <(sed -n '/^Building documentation for/,$p' "$log" | grep -E '^(warning|error): ' || true)
  if [ "$new" -gt 0 ]; then
    # Show the excerpts too: they name the file and line.
    sed -n '/^Building documentation for/,$p' "$log" >&2
    echo "docs.sh: $target: $new documentation warning(s)" >&2
    status=1
  fi
done

if [ "$status" -eq 0 ]; then
  for target in "${targets[@]}"; do
    lower="$(printf '%s' "$target" | tr '[:upper:]' '[:lower:]')"
    echo "docs.sh: $target: python3 -m http.server --directory $output/$target 8000, then http://127.0.0.1:8000/documentation/$lower/" >&2
  done
fi
exit "$status"
