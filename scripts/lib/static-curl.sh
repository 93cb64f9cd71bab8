# shellcheck shell=bash
# Builds a minimal static libcurl (HTTP and HTTPS over OpenSSL, nothing else) from Debian's own curl
# source package, against the trimmed static OpenSSL of static-openssl.sh, for scripts/build.sh.
# Source it; it defines functions only.
#
# Layout of the cache directory (default .build/static-curl):
#   apt/        a private apt configuration: deb-src entries made from this machine's Debian
#               sources, its own package lists and archive cache. The system's apt is not touched.
#   src/        the downloaded source package (.dsc, .orig.tar.gz, .debian.tar.xz)
#   prefix/     the result: include/curl/*.h, lib/libcurl.a, lib/pkgconfig/libcurl.pc, BUILD-INFO
#   work/       the unpacked tree while building (removed afterwards)

# The libcurl features: HTTP/1.1 and HTTPS (OpenSSL), proxies, auth incl. AWS SigV4, threaded resolver,
# IPv6. No CA bundle or CA path is baked in (the runtime finds certificates at run time), and OpenSSL
# does not auto-load a host openssl.cnf.
STATIC_CURL_CONFIGURE_FLAGS=(
  --disable-shared --enable-static --with-pic --disable-dependency-tracking
  --with-openssl --without-ca-bundle --without-ca-path --without-ca-fallback
  --disable-openssl-auto-load-config
  --without-zlib --without-brotli --without-zstd --without-libpsl --without-libidn2
  --without-nghttp2 --without-ngtcp2 --without-nghttp3 --without-libssh2 --without-libssh
  --without-librtmp --without-gssapi --disable-ares
  --disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp --disable-dict
  --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp
  --disable-gopher --disable-mqtt --disable-websockets --disable-unix-sockets
  --disable-manual --disable-libcurl-option --disable-ntlm --disable-ntlm-wb --disable-tls-srp
  --disable-cookies --disable-doh --disable-mime --disable-netrc --disable-alt-svc --disable-hsts
  --disable-get-easy-options --disable-headers-api --disable-progress-meter --disable-dateparse
)

# The Debian packages needed to fetch and build it (package:marker file).
STATIC_CURL_BUILD_DEPS=(
  gcc:/usr/bin/gcc make:/usr/bin/make patch:/usr/bin/patch xz-utils:/usr/bin/xz
  dpkg-dev:/usr/bin/dpkg-source autoconf:/usr/bin/autoreconf automake:/usr/bin/automake
  libtool:/usr/bin/libtoolize
)

# static_curl_flags_id OPENSSL_PREFIX: one line that names the build recipe, the OpenSSL it is built
# against included; a cached build with another is rebuilt.
static_curl_flags_id() {
  printf 'recipe=5 cflags=%s flags=%s openssl=%s patch=%s\n' "$(static_curl_cflags)" "${STATIC_CURL_CONFIGURE_FLAGS[*]}" \
    "$1 $(sha256sum <"$1/BUILD-INFO" | cut -c1-16)" "$(sha256sum <"$STATIC_CURL_PATCH" | cut -c1-16)"
}

# Our one change to libcurl: OpenSSL initialized at the first TLS use, not in curl_global_init (see
# the patch's comment, and CCurl's shim.h, which the patched curlver.h tells with CURL_OPENSSL_INIT_IS_LAZY).
STATIC_CURL_PATCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/curl-openssl-lazy-init.patch"

static_curl_cflags() {
  printf '%s' "-O2 -g0 -fPIC -ffunction-sections -fdata-sections"
}

# static_curl_private_apt DIR: writes DIR/apt.conf, an apt configuration whose only sources are
# deb-src twins of this machine's Debian entries (sources.list, sources.list.d/*.list and *.sources),
# with package lists and caches under DIR. Returns 1 when the machine has no Debian source entry.
static_curl_private_apt() {
  local dir="$1" file name found=0
  rm -rf "$dir/sources.list.d"
  mkdir -p "$dir/sources.list.d" "$dir/lists/partial" "$dir/cache/archives/partial"
  : >"$dir/sources.list"
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    name="$(basename "$file" .list)"
    # One-line format: every enabled "deb" line of a Debian archive becomes "deb-src".
    grep -E '^[[:space:]]*deb[[:space:]]' "$file" | grep -i 'debian' \
      | sed -E 's/^[[:space:]]*deb[[:space:]]/deb-src /' >"$dir/sources.list.d/$name.list" || true
    [ -s "$dir/sources.list.d/$name.list" ] && found=1
  done
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    name="$(basename "$file")"
    # deb822 format: keep the stanzas of Debian archives, with Types: deb-src.
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
         /(^|\n)URIs:[^\n]*debian/ { gsub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' \
      "$file" >"$dir/sources.list.d/$name"
    [ -s "$dir/sources.list.d/$name" ] && found=1
  done
  cat >"$dir/apt.conf" <<CONF
Dir::Etc::SourceList "$dir/sources.list";
Dir::Etc::SourceParts "$dir/sources.list.d";
Dir::State::Lists "$dir/lists";
Dir::Cache "$dir/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Sandbox::User "root";
CONF
  [ "$found" -eq 1 ]
}

# static_cache_is_current PREFIX RECIPE FILE...: whether PREFIX holds a build of RECIPE (the line
# in PREFIX/BUILD-INFO) with every FILE (relative to PREFIX).
static_cache_is_current() {
  local prefix="$1" recipe="$2" file
  shift 2
  for file in "$@"; do [ -f "$prefix/$file" ] || return 1; done
  [ -f "$prefix/BUILD-INFO" ] && grep -qxF "$recipe" "$prefix/BUILD-INFO"
}

# fetch_debian_source CACHE_DIR PACKAGE WHO: downloads Debian's newest source package PACKAGE that the
# archive can deliver into CACHE_DIR/src, through the private apt configuration CACHE_DIR/apt, and
# prints its .dsc's path. A mirror may list a (security) update whose files it does not carry: then
# the next newest, with a warning. WHO begins the messages; logs go to CACHE_DIR/apt-*.log.
fetch_debian_source() {
  local cache="$1" package="$2" who="$3" version newest="" dsc=""
  echo "$who: fetching Debian's $package source package (private apt configuration in $cache/apt)…" >&2
  if ! static_curl_private_apt "$cache/apt"; then
    echo "$who: no Debian entry in /etc/apt/sources.list{,.d}; cannot fetch $package's source" >&2
    return 1
  fi
  export APT_CONFIG="$cache/apt/apt.conf"
  if ! apt-get update -qq >"$cache/apt-update.log" 2>&1; then
    echo "$who: apt-get update with the deb-src sources failed; see $cache/apt-update.log" >&2
    unset APT_CONFIG
    return 1
  fi
  : >"$cache/apt-source.log"
  while read -r version; do
    [ -n "$newest" ] || newest="$version"
    rm -rf "$cache/src"
    mkdir -p "$cache/src"
    if (cd "$cache/src" && apt-get source --download-only "$package=$version") >>"$cache/apt-source.log" 2>&1; then
      dsc="$(find "$cache/src" -maxdepth 1 -name "${package}_*.dsc" | head -1)"
      break
    fi
  done < <(apt-cache showsrc "$package" 2>>"$cache/apt-source.log" | sed -n 's/^Version: //p' | sort -u -V -r)
  unset APT_CONFIG
  if [ -z "$dsc" ]; then
    echo "$who: apt-get source $package failed; see $cache/apt-source.log" >&2
    return 1
  fi
  if [ "$version" != "$newest" ]; then
    echo "$who: WARNING: Debian $package $newest is listed but its source package cannot be fetched" \
      "(see $cache/apt-source.log); building $version, the newest that can be" >&2
  fi
  printf '%s\n' "$dsc"
}

# build_from_debian_source CACHE_DIR PACKAGE WHO REFRESH RECIPE DEPS COMPILE FILE...: makes
# CACHE_DIR/prefix from Debian's source package PACKAGE unless a build of RECIPE (one line) with
# every FILE (relative to the prefix) is cached; REFRESH --refresh fetches the newest source again
# and rebuilds. DEPS: the Debian packages needed (package:marker file, space-separated). COMPILE
# PREFIX: the command that builds and installs into PREFIX (absolute), run in the unpacked tree
# with its output in CACHE_DIR/build.log. The first line of PREFIX/BUILD-INFO names the version.
build_from_debian_source() {
  local cache="$1" package="$2" who="$3" refresh="$4" recipe="$5" deps="$6" compile="$7"
  shift 7
  local prefix="$cache/prefix" file dep_list=()
  if [ "$refresh" != "--refresh" ] && static_cache_is_current "$prefix" "$recipe" "$@"; then
    echo "$who: cached ($(head -1 "$prefix/BUILD-INFO")) in $prefix" >&2
    return 0
  fi
  read -ra dep_list <<<"$deps"
  ensure_debian_packages "${dep_list[@]}" || return 1
  mkdir -p "$cache"
  cache="$(cd "$cache" && pwd)"
  prefix="$cache/prefix"
  local dsc version work="$cache/work/$package" log="$cache/build.log"
  dsc="$(fetch_debian_source "$cache" "$package" "$who")" || return 1
  version="$(sed -n 's/^Version: //p' "$dsc" | head -1)"
  echo "$who: building Debian $package $version…" >&2
  rm -rf "$cache/work" "$prefix"
  mkdir -p "$cache/work"
  : >"$log"
  if ! (dpkg-source --no-copy -x "$dsc" "$work" && cd "$work" && "$compile" "$prefix") >>"$log" 2>&1; then
    echo "$who: the build failed; see $log" >&2
    return 1
  fi
  rm -rf "$cache/work"
  printf 'Debian %s %s\n%s\n' "$package" "$version" "$recipe" >"$prefix/BUILD-INFO"
  for file in "$@"; do echo "$who: $(stat -c %s "$prefix/$file") bytes in $prefix/$file" >&2; done
}

# build_static_curl CACHE_DIR REFRESH OPENSSL_PREFIX: makes CACHE_DIR/prefix (see above) against the
# static OpenSSL in OPENSSL_PREFIX (absolute; build_static_openssl) unless a build with the same recipe
# is cached. REFRESH --refresh fetches the newest Debian source again and rebuilds.
# Progress goes to stderr; the full logs go to CACHE_DIR/*.log.
build_static_curl() {
  local cache="$1" refresh="$2"
  STATIC_CURL_OPENSSL="$3"
  build_from_debian_source "$cache" curl "static libcurl" "$refresh" "$(static_curl_flags_id "$STATIC_CURL_OPENSSL")" \
    "${STATIC_CURL_BUILD_DEPS[*]}" static_curl_compile lib/libcurl.a
}

# static_curl_compile PREFIX: in the unpacked curl source, builds libcurl against $STATIC_CURL_OPENSSL
# and installs it into PREFIX, with our own pkg-config file (SwiftPM reads it, PKG_CONFIG_PATH, for
# CCurl's headers and link line). Every step is chained with && (errexit does not apply inside a
# function called with ||).
static_curl_compile() {
  local prefix="$1" openssl="$STATIC_CURL_OPENSSL" version
  version="$(dpkg-parsechangelog -SVersion)" &&
    # As debian/rules does for the OpenSSL flavour: drop the last two patches of the series (they
    # rename the library for the GnuTLS and NSS flavours), then regenerate the build system.
    patch -R -p1 -s <debian/patches/99_nss.patch &&
    patch -R -p1 -s <debian/patches/90_gnutls.patch &&
    patch -p1 -s <"$STATIC_CURL_PATCH" &&
    autoreconf -fi &&
    CFLAGS="$(static_curl_cflags) -ffile-prefix-map=$PWD=curl" \
      ./configure --prefix="$prefix" "${STATIC_CURL_CONFIGURE_FLAGS[@]/#--with-openssl/--with-openssl=$openssl}" &&
    # Nothing from the build host may be baked in as a certificate location.
    if grep -E '^#define CURL_CA_(BUNDLE|PATH|FALLBACK)' lib/curl_config.h; then
      echo "configure baked a CA location into libcurl" >&2
      false
    fi &&
    make -C lib -j"$(nproc)" &&
    make -C lib install &&
    make -C include install &&
    rm -f "$prefix/lib/libcurl.la" &&
    mkdir -p "$prefix/lib/pkgconfig" &&
    cat >"$prefix/lib/pkgconfig/libcurl.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libcurl
Description: minimal static libcurl (HTTP, HTTPS over OpenSSL) from Debian curl $version
Version: ${version%%-*}
Libs: -L\${libdir} -L$openssl/lib -lcurl -lssl -lcrypto -lpthread
Cflags: -I\${includedir} -I$openssl/include
PC
}
