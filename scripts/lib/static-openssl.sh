# shellcheck shell=bash
# Builds a trimmed static OpenSSL (libcrypto and libssl with what libcurl's HTTPS to AWS needs) from
# Debian's own openssl source package, for scripts/build.sh. Source it after static-curl.sh (it uses
# that file's fetch_debian_source); it defines functions only.
#
# Why: Debian's static libcrypto.a is built for everything (every algorithm, engines, CMS, CMP, OCSP,
# error strings…) without -ffunction-sections, so a link pulls in whole objects: about 2.9 MB of the
# stripped bootstrap. Trimmed and built with function sections, --gc-sections keeps about 1.8 MB, and
# the zip shrinks by about 550 KB (issue #16: the zip must stay under 5,000,000 bytes).
#
# Layout of the cache directory (default .build/static-openssl):
#   apt/        the private apt configuration (see static-curl.sh)
#   src/        the downloaded source package (.dsc, .orig.tar.gz, .debian.tar.xz)
#   prefix/     the result: include/openssl/*.h, lib/libcrypto.a, lib/libssl.a, BUILD-INFO
#   work/       the unpacked tree while building (removed afterwards)

# What stays: TLS 1.2 and 1.3 (ECDHE and DHE; RSA and ECDSA certificates; AES-GCM, AES-CBC,
# ChaCha20-Poly1305; SHA-1/SHA-2; X25519, P-256, P-384), certificate verification against a CA bundle,
# PSK for session resumption, and the one-shot SHA1() that CCrypto uses. What goes: everything no
# AWS endpoint needs (SSL 3, TLS 1.0/1.1, DTLS, legacy ciphers and digests, DSA, GOST/SM, binary
# curves, engines, loadable modules, CMS/CMP/OCSP/TS/CT, SRP, deprecated APIs), plus the error
# strings and source file names (the runtime never loads the strings: error codes are unchanged) and
# the automatic loading of openssl.cnf (the runtime declines it too). Debian's own configure target
# (debian-ARCH) keeps Debian's defaults, among them security level 2.
STATIC_OPENSSL_CONFIGURE_FLAGS=(
  no-shared no-module no-dso no-engine no-legacy no-deprecated no-tests
  no-ssl3 no-tls1 no-tls1_1 no-dtls no-dgram no-srp no-srtp no-nextprotoneg no-ssl-trace
  no-weak-ssl-ciphers no-comp no-zlib no-async no-ui-console no-autoload-config
  no-ocsp no-cms no-cmp no-ts no-ct no-rfc3779
  no-idea no-mdc2 no-rc2 no-rc4 no-rc5 no-bf no-cast no-camellia no-aria no-seed no-des
  no-sm2 no-sm3 no-sm4 no-gost no-whirlpool no-md4 no-rmd160 no-blake2 no-siphash
  no-siv no-ocb no-scrypt no-dsa no-ec2m no-multiblock
  no-err no-filenames
)

# The Debian packages needed to fetch and build it (package:marker file); the source package also
# needs static-curl.sh's apt tools (dpkg-dev).
STATIC_OPENSSL_BUILD_DEPS=(
  gcc:/usr/bin/gcc make:/usr/bin/make perl:/usr/bin/cpan xz-utils:/usr/bin/xz
  dpkg-dev:/usr/bin/dpkg-source
)

# static_openssl_flags_id: one line that names the build recipe; a cached build with another is rebuilt.
static_openssl_flags_id() {
  printf 'recipe=2 cflags=%s flags=%s cpuid=at-init\n' "$(static_openssl_cflags)" "${STATIC_OPENSSL_CONFIGURE_FLAGS[*]}"
}

# Debian's hardening flags (as dpkg-buildflags gives them to its own build), without debug information,
# and one section per function and per datum, so that --gc-sections drops what nothing calls.
static_openssl_cflags() {
  printf '%s' "-O2 -g0 -fstack-protector-strong -D_FORTIFY_SOURCE=2 -ffunction-sections -fdata-sections"
}

# build_static_openssl CACHE_DIR [--refresh]: makes CACHE_DIR/prefix (see above) unless a build with
# the same recipe is cached. --refresh fetches the newest Debian source again and rebuilds.
# Progress goes to stderr; the full logs go to CACHE_DIR/*.log.
build_static_openssl() {
  build_from_debian_source "$1" openssl "static OpenSSL" "${2:-}" "$(static_openssl_flags_id)" \
    "${STATIC_OPENSSL_BUILD_DEPS[*]}" static_openssl_compile lib/libcrypto.a lib/libssl.a
}

# static_openssl_compile PREFIX: in the unpacked openssl source, builds libcrypto and libssl and
# installs them with their headers into PREFIX. SOURCE_DATE_EPOCH: the "built on" date OpenSSL bakes
# in is the changelog's, not the build's, so that two clean builds give the same bytes.
#
# One change to the source: x86_64cpuid.pl no longer puts a call of OPENSSL_cpuid_setup into the
# .init section, which ran it in every process at start-up: about 20 CPUID instructions, each a trap
# to the hypervisor in a VM (4-5 us here, so about 90 us of every cold start), for a process that may
# never use OpenSSL. OPENSSL_init_crypto still runs it (ossl_init_base) before anything that reads the
# CPU capabilities: libcurl initializes OpenSSL at its first TLS use (curl-openssl-lazy-init.patch),
# and SHA1() is an EVP fetch, which initializes libcrypto.
static_openssl_compile() {
  SOURCE_DATE_EPOCH="$(dpkg-parsechangelog -STimestamp)" &&
    export SOURCE_DATE_EPOCH &&
    sed -i '/^\.section[[:space:]]*\.init$/{N;/call[[:space:]]*OPENSSL_cpuid_setup/d}' crypto/x86_64cpuid.pl &&
    if grep -n 'section[[:space:]]*\.init' crypto/x86_64cpuid.pl; then
      echo "x86_64cpuid.pl still calls OPENSSL_cpuid_setup from .init" >&2
      false
    fi &&
    CFLAGS="$(static_openssl_cflags) -ffile-prefix-map=$PWD=openssl" \
      ./Configure "debian-$(dpkg --print-architecture)" --prefix="$1" --libdir=lib \
      --openssldir=/usr/lib/ssl "${STATIC_OPENSSL_CONFIGURE_FLAGS[@]}" &&
    make -j"$(nproc)" build_libs &&
    make install_dev
}
