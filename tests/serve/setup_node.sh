#!/bin/sh
# Installs the `openai` npm package (the real client the server tests talk through) into DIR
# (a build-local folder) unless it is already there. Usage: setup_node.sh DIR
set -eu
dir=$1
version=4.104.0 # the newest major that runs on Debian 12's node 18
[ -f "$dir/node_modules/openai/package.json" ] &&
  grep -q "\"version\": \"$version\"" "$dir/node_modules/openai/package.json" && exit 0
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error "openai@$version"
