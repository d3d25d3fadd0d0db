#!/usr/bin/env bash
# The README's test command: on a machine with only Go installed, it
# installs the programs the tests drive (redis-server, Chromium for the
# browser client test, curl for the HTTP/2 check) from the
# distribution's packages when they are missing, then runs every test
# with the race detector.
#
#   ./test.sh                  go test -race ./...
#   ./test.sh ./task/... -v    go test -race ./task/... -v
#
# Installing needs root, or sudo. Set STELLAR_TEST_NO_INSTALL=1 to only
# check and say what is missing.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v go >/dev/null 2>&1; then
  echo "test.sh: go is not on PATH: install Go 1.26 first (https://go.dev/dl/)" >&2
  exit 2
fi

have_chromium() {
  local name
  for name in chromium chromium-browser google-chrome google-chrome-stable; do
    command -v "$name" >/dev/null 2>&1 && return 0
  done
  return 1
}

# as_root runs a command as root: directly, or through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "test.sh: installing needs root: run as root, or install sudo" >&2
    return 1
  fi
}

updated=""
# install PACKAGE... installs packages with the distribution's manager.
install() {
  if [ "${STELLAR_TEST_NO_INSTALL:-}" = 1 ]; then
    echo "test.sh: missing $*; not installing (STELLAR_TEST_NO_INSTALL=1)" >&2
    return 1
  fi
  echo "test.sh: installing $*"
  if command -v apt-get >/dev/null 2>&1; then
    if [ -z "$updated" ]; then
      as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
      updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  elif command -v dnf >/dev/null 2>&1; then
    as_root dnf install -y -q "$@"
  elif command -v apk >/dev/null 2>&1; then
    as_root apk add --quiet "$@"
  elif command -v pacman >/dev/null 2>&1; then
    as_root pacman -S --noconfirm --needed "$@"
  elif command -v zypper >/dev/null 2>&1; then
    as_root zypper --non-interactive install "$@"
  elif command -v brew >/dev/null 2>&1; then
    brew install "$@"
  else
    echo "test.sh: no package manager found (apt-get, dnf, apk, pacman, zypper or brew): install $* yourself" >&2
    return 1
  fi
}

if ! command -v redis-server >/dev/null 2>&1; then
  case "$(command -v apt-get dnf apk pacman zypper brew 2>/dev/null | head -n1)" in
    */dnf | */pacman | */zypper | */brew) install redis || true ;;
    *) install redis-server || true ;;
  esac
fi
command -v redis-server >/dev/null 2>&1 || { echo "test.sh: redis-server is still not on PATH" >&2; exit 2; }

if ! have_chromium; then
  if command -v brew >/dev/null 2>&1 && ! command -v apt-get >/dev/null 2>&1; then
    brew install --cask chromium || true
  else
    install chromium || true
  fi
fi
have_chromium || { echo "test.sh: chromium is still not on PATH" >&2; exit 2; }

# curl: the HTTPS test checks that curl --http2 negotiates HTTP/2.
command -v curl >/dev/null 2>&1 || install curl || true
command -v curl >/dev/null 2>&1 || { echo "test.sh: curl is still not on PATH" >&2; exit 2; }

if [ "$#" -eq 0 ]; then
  set -- ./...
fi
echo "test.sh: go test -race $*"
exec go test -race "$@"
