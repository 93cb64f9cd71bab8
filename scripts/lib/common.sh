# shellcheck shell=bash
# Shared helpers for scripts/*.sh. Source it; it defines functions only.

# ensure_debian_packages PKG:FILE...
# Installs each Debian package whose marker FILE is missing, with apt-get (as root, or with sudo).
ensure_debian_packages() {
  local missing=() spec pkg file
  for spec in "$@"; do
    pkg="${spec%%:*}"
    file="${spec#*:}"
    [ -e "$file" ] || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}" >&2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "need root (or sudo) to install: ${missing[*]}" >&2
      return 1
    fi
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}
