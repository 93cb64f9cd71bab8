# shellcheck shell=bash
# Builds a minimal static libcurl (HTTP and HTTPS over OpenSSL, nothing else) from Debian's own curl
# source package, for scripts/build.sh. Source it; it defines functions only.
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
  libtool:/usr/bin/libtoolize libssl-dev:/usr/include/openssl/ssl.h
)

# static_curl_flags_id: one line that names the build recipe; a cached build with another is rebuilt.
static_curl_flags_id() {
  printf 'recipe=3 cflags=%s flags=%s\n' "$(static_curl_cflags)" "${STATIC_CURL_CONFIGURE_FLAGS[*]}"
}

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

# build_static_curl CACHE_DIR [--refresh]: makes CACHE_DIR/prefix (see above) unless a build with the
# same recipe is cached. --refresh fetches the newest Debian source again and rebuilds.
# Progress goes to stderr; the full logs go to CACHE_DIR/*.log.
build_static_curl() {
  local cache="$1" refresh="${2:-}"
  local prefix="$cache/prefix" info
  info="$(static_curl_flags_id)"
  if [ "$refresh" != "--refresh" ] && [ -f "$prefix/lib/libcurl.a" ] && [ -f "$prefix/BUILD-INFO" ] \
     && grep -qxF "$info" "$prefix/BUILD-INFO"; then
    echo "static libcurl: cached ($(head -1 "$prefix/BUILD-INFO")) in $prefix" >&2
    return 0
  fi
  ensure_debian_packages "${STATIC_CURL_BUILD_DEPS[@]}" || return 1
  mkdir -p "$cache"
  cache="$(cd "$cache" && pwd)"
  prefix="$cache/prefix"

  echo "static libcurl: fetching Debian's curl source package (private apt configuration in $cache/apt)…" >&2
  if ! static_curl_private_apt "$cache/apt"; then
    echo "static libcurl: no Debian entry in /etc/apt/sources.list{,.d}; cannot fetch curl's source" >&2
    return 1
  fi
  export APT_CONFIG="$cache/apt/apt.conf"
  if ! apt-get update -qq >"$cache/apt-update.log" 2>&1; then
    echo "static libcurl: apt-get update with the deb-src sources failed; see $cache/apt-update.log" >&2
    unset APT_CONFIG
    return 1
  fi
  rm -rf "$cache/src"
  mkdir -p "$cache/src"
  if ! (cd "$cache/src" && apt-get source --download-only curl) >"$cache/apt-source.log" 2>&1; then
    echo "static libcurl: apt-get source curl failed; see $cache/apt-source.log" >&2
    unset APT_CONFIG
    return 1
  fi
  unset APT_CONFIG
  local dsc version
  dsc="$(find "$cache/src" -maxdepth 1 -name 'curl_*.dsc' | sort | tail -1)"
  version="$(sed -n 's/^Version: //p' "$dsc" | head -1)"
  echo "static libcurl: building Debian curl $version (HTTP and HTTPS over OpenSSL only)…" >&2

  local work="$cache/work" log="$cache/build.log"
  rm -rf "$work" "$prefix"
  : >"$log"
  mkdir -p "$work"
  # Every step is chained with && (errexit does not apply inside a function called with ||).
  (
    dpkg-source --no-copy -x "$dsc" "$work/curl" &&
      cd "$work/curl" &&
      # As debian/rules does for the OpenSSL flavour: drop the last two patches of the series (they
      # rename the library for the GnuTLS and NSS flavours), then regenerate the build system.
      patch -R -p1 -s <debian/patches/99_nss.patch &&
      patch -R -p1 -s <debian/patches/90_gnutls.patch &&
      autoreconf -fi &&
      CFLAGS="$(static_curl_cflags) -ffile-prefix-map=$work/curl=curl" \
        ./configure --prefix="$prefix" "${STATIC_CURL_CONFIGURE_FLAGS[@]}" &&
      # Nothing from the build host may be baked in as a certificate location.
      if grep -E '^#define CURL_CA_(BUNDLE|PATH|FALLBACK)' lib/curl_config.h; then
        echo "configure baked a CA location into libcurl" >&2
        false
      fi &&
      make -C lib -j"$(nproc)" &&
      make -C lib install &&
      make -C include install
  ) >>"$log" 2>&1 || {
    echo "static libcurl: the build failed; see $log" >&2
    return 1
  }
  rm -rf "$prefix/lib/libcurl.la" "$work"
  # Our own pkg-config file: SwiftPM reads it (PKG_CONFIG_PATH) for CCurl's headers and link line.
  mkdir -p "$prefix/lib/pkgconfig"
  cat >"$prefix/lib/pkgconfig/libcurl.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libcurl
Description: minimal static libcurl (HTTP, HTTPS over OpenSSL) from Debian curl $version
Version: ${version%%-*}
Libs: -L\${libdir} -lcurl -lssl -lcrypto -lpthread
Cflags: -I\${includedir}
PC
  printf 'Debian curl %s\n%s\n' "$version" "$info" >"$prefix/BUILD-INFO"
  echo "static libcurl: $(stat -c %s "$prefix/lib/libcurl.a") bytes in $prefix/lib/libcurl.a" >&2
}
