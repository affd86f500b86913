#!/bin/sh
# Installs the Debian packages the build needs, only those that are missing.
# Runs `apt-get update` once before installing; does nothing when all are present.
set -eu
packages="cmake make gcc libc6-dev pkg-config binutils libcjson-dev libpcre2-dev libutf8proc-dev"
# clang with its sanitizer and libFuzzer runtimes (make fuzz, make fuzz-smoke); clang only recommends
# the runtimes, which --no-install-recommends would skip.
packages="$packages clang libclang-rt-14-dev"
missing=""
for p in $packages; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
