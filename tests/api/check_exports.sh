#!/bin/sh
# The shared library must export exactly the functions declared with TTT_API in the public headers.
# usage: check_exports.sh LIBTTT.so INCLUDE_DIR
set -eu
lib=$1
include_dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Declared: the identifier before the first '(' of every TTT_API declaration (which may span lines).
find "$include_dir" -name '*.h' -exec cat {} + |
  awk '/TTT_API/ && !/^[[:space:]]*#/ { decl = $0; while (decl !~ /\(/ && (getline line) > 0) decl = decl " " line; print decl }' |
  sed -e 's/(.*//' | awk '{ print $NF }' | sed -e 's/^\*//' | sort -u > "$tmp/declared"

# Exported: defined text (function) symbols in the dynamic symbol table.
nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sort -u > "$tmp/exported"

if [ ! -s "$tmp/declared" ]; then
  echo "no TTT_API declarations found under $include_dir"
  exit 1
fi
if ! diff -u "$tmp/declared" "$tmp/exported" > "$tmp/diff"; then
  echo "exported symbols differ from the public headers (- declared only, + exported only):"
  grep -E '^[-+][a-z_]' "$tmp/diff" || true
  exit 1
fi
echo "$(wc -l < "$tmp/declared") public functions declared and exported"
echo "1 passed, 0 failed"
