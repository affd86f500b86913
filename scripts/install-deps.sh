#!/bin/sh
# Installs the Debian packages the build needs, only those that are missing.
# Runs `apt-get update` once before installing; does nothing when all are present.
# usage: install-deps.sh [test] [sanitizer]
#   (none)     what the build needs (make, make run)
#   test       also what the test suite drives: node/npm (the server tests run the `openai` npm
#              client) and Debian's chromium (the chat page test runs it headless)
#   sanitizer  also clang and its sanitizer runtime (for `make test-asan`)
set -eu
# libopenmpi-dev and openmpi-bin: the MPI communicator (tensor parallelism across processes) and
# the mpirun its tests launch; CMake builds without MPI when they are absent.
packages="cmake make gcc libc6-dev pkg-config binutils libcjson-dev libpcre2-dev libutf8proc-dev
libmicrohttpd-dev libopenmpi-dev openmpi-bin"
with_test_tools=false
for group in "$@"; do
  case "$group" in
  test) with_test_tools=true ;;
  # clang with its sanitizer and libFuzzer runtimes (make test-asan, make fuzz); clang only
  # recommends the runtimes, which --no-install-recommends would skip.
  sanitizer) packages="$packages clang libclang-rt-14-dev" ;;
  *) echo "install-deps: unknown group '$group' (known: test, sanitizer)" >&2; exit 2 ;;
  esac
done
missing=""
for p in $packages; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
if $with_test_tools; then
  # node and npm: a node from another source (e.g. NodeSource, which bundles npm) is fine, so
  # Debian's are installed only when the commands are missing.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing="$missing nodejs npm"
  fi
  # chromium is large (a ~120 MB download, ~400 MB installed) but installed once, only when missing.
  if [ ! -x /usr/bin/chromium ]; then
    missing="$missing chromium"
  fi
fi
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
