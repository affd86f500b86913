#!/bin/sh
# Installs the npm packages of the server tests into DIR (a build-local folder) unless they are
# already there: `openai` (the real client the protocol tests talk through) and `playwright-core`
# (drives Debian's chromium for the chat page test; it downloads no browser of its own).
# Usage: setup_node.sh DIR
set -eu
dir=$1
# The newest versions that run on Debian 12's node 18.
openai=4.104.0
playwright=1.61.1
has() { # has NAME VERSION
  [ -f "$dir/node_modules/$1/package.json" ] &&
    grep -q "\"version\": \"$2\"" "$dir/node_modules/$1/package.json"
}
has openai "$openai" && has playwright-core "$playwright" && exit 0
mkdir -p "$dir"
# One command for both: npm would remove a package that a later --no-save install does not name.
npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error \
  "openai@$openai" "playwright-core@$playwright"
