#!/usr/bin/env bash
# Builds the bootstrap as it ships: one static, stripped executable with libcurl and OpenSSL inside;
# this repository's `bootstrap` by default, or any executable product of a package that uses the runtime.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/build.sh [--package-path DIR] [--product NAME] [--refresh-openssl] [--refresh-curl]
                        [--deps-only] [--help]

Builds one executable product only (default: this repository's `bootstrap`), for Lambda
(provided.al2 and provided.al2023, x86_64):
  1. a trimmed static OpenSSL (libcrypto and libssl: TLS 1.2 and 1.3 with what AWS endpoints use,
     certificate verification; no legacy algorithms, engines, CMS/OCSP/CMP, error strings…; see
     scripts/lib/static-openssl.sh) from Debian's openssl source package, compiled with one section
     per function so that the link keeps only what is called: the zip is about 550 KB smaller than
     with Debian's libcrypto.a. Cached in .build/static-openssl/ (about 2 CPU minutes the first time:
     some 70 s on 2 idle cores, 3 minutes on a busy machine; nothing afterwards).
  2. a minimal static libcurl (HTTP and HTTPS over that OpenSSL, nothing else) from Debian's curl
     source package. Both source packages are fetched with `apt-get source` through a private apt
     configuration whose deb-src entries are made from this machine's own Debian sources. Cached in
     .build/static-curl/ (about 80 s the first time, nothing afterwards).
  3. `swift build -c release --product NAME --static-swift-stdlib -static-executable` in its own
     scratch path DIR/.build-lambda/, linked against that libcurl and OpenSSL and Debian's glibc,
     by lld (the toolchain's), with the functions and variables of scripts/lib/link-order.txt first
     in their sections: what a cold start runs and touches sits together, so it maps fewer pages (a
     read fault maps a 64 KB window of code, a written variable costs a fault per page): the
     bootstrap's cold start takes about 130 page faults instead of 195, and 1.3 MB less RSS.
     scripts/link-order.sh regenerates the list (see its --help for when); names the link does not
     define are ignored, so any product can use it.
  4. a fast unwinder lookup (scripts/lib/static-exe.sh): an .eh_frame_hdr table instead of libgcc's
     frame registry, which would sort every FDE at start-up (Swift's async main ends the main thread
     with pthread_exit, a forced unwind): about 130 million instructions saved per cold start.
  5. strip, then check the result: a static executable with no program interpreter (PT_INTERP), no
     shared-library dependencies (DT_NEEDED), a PT_GNU_EH_FRAME table, our libcurl.a, libssl.a
     and libcrypto.a (no other) in the link map, and the functions of the link order first in .text
     (it was applied).

Why one static executable: it runs unchanged on glibc 2.26 (provided.al2), on provided.al2023, in an
empty root file system and wherever an emulator unpacks the zip (ministack: a temporary directory),
and it starts fastest (no dynamic loader, no libraries to map).

The stripped executable is written to DIR/.build/lambda/bootstrap (the product `bootstrap`) or
DIR/.build/lambda/NAME/bootstrap (any other product: Lambda runs the file named `bootstrap`); the
last line printed is its path. The OpenSSL and libcurl caches are this repository's, whichever
package is built. Build dependencies (gcc, make, perl, autoconf, automake, libtool, dpkg-dev, patch,
xz-utils) are installed with apt-get when missing (as root, or with sudo).

Options:
  --package-path DIR  the Swift package to build (default: this repository), for example
                      Examples/HelloWorld or your own package that depends on the LambdaRuntime library
  --product NAME      the executable product to build (default bootstrap), for example MyFunction
  --refresh-openssl   fetch Debian's newest openssl source again and rebuild OpenSSL (and libcurl,
                      when the version changed)
  --refresh-curl      fetch Debian's newest curl source again and rebuild libcurl
  --deps-only         build (or find cached) OpenSSL and libcurl only, then stop: CI can start this
                      in the background early, so that the later build finds both cached
  -h, --help          this text

Environment:
  LAMBDA_SCRATCH      SwiftPM scratch path (default DIR/.build-lambda)
  STATIC_OPENSSL_DIR  OpenSSL cache (default .build/static-openssl in this repository)
  STATIC_CURL_DIR     libcurl cache (default .build/static-curl in this repository)

Exit status: 0 built; 1 a build step failed; 2 the result is not self-contained (or the link order
was not applied); 64 bad arguments.
USAGE
}

# shellcheck source=scripts/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
refresh=""
refresh_openssl=""
deps_only=0
package_path=""
product=bootstrap
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --refresh-curl) refresh="--refresh" ;;
    --refresh-openssl) refresh_openssl="--refresh" ;;
    --deps-only) deps_only=1 ;;
    --package-path) need_value build.sh "$1" "a directory" "${2-}"; package_path="$2"; shift ;;
    --product) need_value build.sh "$1" "a name" "${2-}"; product="$2"; shift ;;
    *) echo "build.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
  shift
done

# The package, as an absolute path (it is given relative to the caller's directory); empty when it is
# this repository, so that the default paths stay relative.
if [ -n "$package_path" ]; then
  [ -f "$package_path/Package.swift" ] || { echo "build.sh: no Package.swift in '$package_path'" >&2; exit 64; }
  package_path="$(cd "$package_path" && pwd)"
fi
cd "$(dirname "$0")/.."
[ "$package_path" != "$PWD" ] || package_path=""
# shellcheck source=scripts/lib/static-curl.sh
source scripts/lib/static-curl.sh
# shellcheck source=scripts/lib/static-openssl.sh
source scripts/lib/static-openssl.sh
# shellcheck source=scripts/lib/static-exe.sh
source scripts/lib/static-exe.sh

if [ -n "$package_path" ]; then
  scratch="${LAMBDA_SCRATCH:-$package_path/.build-lambda}"
else
  scratch="${LAMBDA_SCRATCH:-.build-lambda}"
fi
openssl_cache="${STATIC_OPENSSL_DIR:-.build/static-openssl}"
curl_cache="${STATIC_CURL_DIR:-.build/static-curl}"
out_dir="${package_path:+$package_path/}.build/lambda"
[ "$product" = bootstrap ] || out_dir="$out_dir/$product"
mkdir -p "$openssl_cache" "$curl_cache" "$out_dir"

# glibc's and libstdc++'s static archives, binutils for strip/readelf (all usually present with Swift).
ensure_debian_packages libc6-dev:/usr/lib/x86_64-linux-gnu/libc.a binutils:/usr/bin/readelf \
  "libstdc++-12-dev:$(gcc -print-file-name=libstdc++.a 2>/dev/null || echo /nonexistent)"

# One builder at a time per cache (a second build.sh waits), OpenSSL's first.
exec 8>"$openssl_cache/.lock"
flock 8
exec 9>"$curl_cache/.lock"
flock 9
build_static_openssl "$openssl_cache" "$refresh_openssl" || exit 1
openssl_prefix="$(cd "$openssl_cache/prefix" && pwd)"
# A rebuilt OpenSSL changes libcurl's recipe (static_curl_flags_id), so libcurl is rebuilt too.
build_static_curl "$curl_cache" "$refresh" "$openssl_prefix" || exit 1
prefix="$(cd "$curl_cache/prefix" && pwd)"
if [ "$deps_only" -eq 1 ]; then
  echo "build.sh: OpenSSL in $openssl_prefix and libcurl in $prefix are ready" >&2
  exit 0
fi

echo "build.sh: swift build of $product (release, static executable) in $scratch…" >&2
map="$scratch/$product.map"
mkdir -p "$scratch"
mapfile -t unwind_args < <(build_unwind_lookup_support "$scratch/static-exe")
[ ${#unwind_args[@]} -gt 0 ] || { echo "build.sh: could not compile the unwind lookup support" >&2; exit 1; }
# Our OpenSSL's headers and archives come before the system's (libssl-dev's, if installed): CCrypto
# includes <openssl/sha.h> and links libcrypto without pkg-config. lld rather than gold (swiftc's
# default) because gold orders input sections by section name only: it cannot pick the hot ones out of
# the many sections named plain .text (glibc's, our modules'), lld orders them by symbol. Its map keeps
# the symbols mangled (--no-demangle), as the list has them, for the check below.
link_order="$PWD/scripts/lib/link-order.txt"
[ -s "$link_order" ] || { echo "build.sh: $link_order is missing (scripts/link-order.sh writes it)" >&2; exit 1; }
swift_args=(-c release ${package_path:+--package-path "$package_path"} --product "$product" --static-swift-stdlib --scratch-path "$scratch"
  -Xswiftc -static-executable -Xswiftc -use-ld=lld -Xcc -I"$openssl_prefix/include" -Xlinker -L"$prefix/lib"
  -Xlinker -L"$openssl_prefix/lib" -Xlinker -Map="$map" -Xlinker --symbol-ordering-file="$link_order"
  -Xlinker --no-warn-symbol-ordering -Xlinker --no-demangle "${unwind_args[@]}")
bin="$(swift build "${swift_args[@]}" --show-bin-path)/$product"
archives=("$prefix/lib/libcurl.a" "$openssl_prefix/lib/libssl.a" "$openssl_prefix/lib/libcrypto.a")
# SwiftPM does not count these archives (nor the link order) as inputs of the link: after a rebuilt
# libcurl or OpenSSL, or a new link order, it would keep the old executable.
for archive in "${archives[@]}" "$link_order"; do
  if [ "$archive" -nt "$bin" ]; then rm -f "$bin"; fi
done
if ! PKG_CONFIG_PATH="$prefix/lib/pkgconfig" swift build "${swift_args[@]}" >&2; then
  echo "build.sh: swift build failed" >&2
  exit 1
fi
[ -x "$bin" ] || { echo "build.sh: swift build made no executable $bin (is $product an executable product?)" >&2; exit 1; }
flock -u 9
flock -u 8

out="$out_dir/bootstrap"
strip --strip-all -o "$out.tmp" "$bin"
mv "$out.tmp" "$out"

problems=()
if readelf -lW "$out" | grep -q 'INTERP'; then problems+=("it has a program interpreter (PT_INTERP)"); fi
if readelf -dW "$out" 2>/dev/null | grep -q '(NEEDED)'; then problems+=("it needs shared libraries (DT_NEEDED)"); fi
if ! readelf -lW "$out" | grep -q 'GNU_EH_FRAME'; then problems+=("it has no PT_GNU_EH_FRAME (slow first unwind)"); fi
for archive in "${archives[@]}"; do
  if ! grep -qF "$archive(" "$map"; then problems+=("it was not linked against $archive"); fi
done
# lld's map lists .text's input sections in link order, each followed by its symbols (deeper indented):
# with the order applied, the sections that hold a listed function are the first ones, none after an
# unlisted one. Prints how many hold one, and where the last of them is.
read -r listed_sections last_listed < <(awk '
  NR == FNR { if ($0 !~ /^#/ && $0 != "") listed[$0] = 1; next }
  { rest = $0; sub(/^ *[0-9a-f]+ +[0-9a-f]+ +[0-9a-f]+ +[0-9]+ /, "", rest) }
  rest ~ /^[^ ]/ { if (in_text) exit; in_text = (rest == ".text"); next }
  in_text && rest ~ /^        [^ ]/ { n++; next }
  in_text && rest ~ /^                [^ ]/ { sub(/^ +/, "", rest); if ((rest in listed) && !hit[n]++) { count++; last = n } }
  END { print count + 0, last + 0 }
' "$link_order" "$map")
if grep -qv '^#' "$link_order" && { [ "$listed_sections" -eq 0 ] || [ "$last_listed" -ne "$listed_sections" ]; }; then
  problems+=("the functions of $link_order are not first in .text (was the link order applied?)")
fi
other_openssl="$(grep -oE '[^ ()]*/lib(ssl|crypto)\.a\(' "$map" | grep -vF "$openssl_prefix/lib/" | sort -u | tr -d '(' | tr '\n' ' ' || true)"
if [ -n "$other_openssl" ]; then problems+=("it links another OpenSSL too: $other_openssl"); fi
if [ ${#problems[@]} -gt 0 ]; then
  printf 'build.sh: %s failed its checks: %s\n' "$out" "${problems[*]}" >&2
  exit 2
fi
echo "build.sh: $out: $(stat -c %s "$out") bytes, static, stripped; $(head -1 "$prefix/BUILD-INFO"), $(head -1 "$openssl_prefix/BUILD-INFO")" >&2
echo "$out"
