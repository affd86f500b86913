#!/bin/sh
# Installs the Debian packages the build needs, only those that are missing.
# Runs `apt-get update` once before installing; does nothing when all are present.
set -eu
packages="cmake make gcc libc6-dev pkg-config binutils libcjson-dev libpcre2-dev libutf8proc-dev
libmicrohttpd-dev"
missing=""
for p in $packages; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
# node and npm run the server's protocol tests (with the `openai` npm package). A node from
# another source (e.g. NodeSource, which bundles npm) is fine: Debian's are installed only when
# the commands are missing.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing="$missing nodejs npm"
fi
# Debian's chromium runs the chat page test headless (driven by the playwright-core npm package).
# It is large (a ~120 MB download, ~400 MB installed) but installed once, only when missing.
if [ ! -x /usr/bin/chromium ]; then
  missing="$missing chromium"
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
