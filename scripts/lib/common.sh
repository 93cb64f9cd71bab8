# shellcheck shell=bash
# Shared helpers for scripts/*.sh. Source it; it defines functions only.

# need_value SCRIPT OPTION WHAT VALUE: for command-line parsing; ends the script with the usage status
# (64) when OPTION has no VALUE after it: none, empty, or another option. WHAT says what it needs.
need_value() {
  if [ -z "$4" ] || [[ "$4" == --* ]]; then
    echo "$1: $2 needs $3 (see --help)" >&2
    exit 64
  fi
}

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

# ensure_test_venv DIR REQUIREMENT...
# Creates (or reuses) a Python virtual environment in DIR with the given pip requirements. Requirements
# installed by an earlier call are remembered in DIR/.installed-requirements, so that asking again for
# the same pins (the test scripts share venvs) skips pip's own check, about a second of CPU each.
# pip compiles every module at install: keep it. This machine sets PYTHONDONTWRITEBYTECODE=1, so with
# --no-compile every Python process (each `aws` call) would compile what it imports again (the release
# suite's CPU went from about 650 s to 1,160 s).
ensure_test_venv() {
  local dir="$1" requirement missing=()
  shift
  if [ ! -x "$dir/bin/python" ]; then
    rm -f "$dir/.installed-requirements"
    if ! python3 -m venv "$dir" >/dev/null 2>&1; then
      rm -rf "$dir"
      ensure_debian_packages python3-venv:/usr/share/doc/python3-venv
      python3 -m venv "$dir"
    fi
  fi
  for requirement in "$@"; do
    grep -qxF -- "$requirement" "$dir/.installed-requirements" 2>/dev/null || missing+=("$requirement")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  if ! "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@" >&2; then
    echo "could not install $* into $dir" >&2
    return 1
  fi
  printf '%s\n' "${missing[@]}" >>"$dir/.installed-requirements"
}

# ensure_aws_venv: one virtual environment, .venv-aws, for AWS's Python tools: the AWS CLI v1, moto,
# cfn-lint, the SAM translator and the runtime interface client awslambdaric. The conformance and store
# tests, the release suite, the rehearsal and `run-local.sh --moto` share it, so each tool has one
# pinned version and one install (two venvs installed moto and awscli twice, in two versions of moto).
ensure_aws_venv() {
  ensure_test_venv .venv-aws awscli==1.45.11 'moto[server]==5.2.5' cfn-lint==1.58.0 aws-sam-translator==1.115.0 \
    awslambdaric==4.2.2
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_port PORT SECONDS: waits until something accepts connections on 127.0.0.1:PORT.
wait_for_port() {
  local port="$1" limit="$2" waited=0
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    sleep 0.2
    waited=$((waited + 1))
    if [ "$waited" -ge $((limit * 5)) ]; then
      echo "nothing listens on 127.0.0.1:$port after ${limit}s" >&2
      return 1
    fi
  done
}
