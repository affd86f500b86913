#!/bin/sh
# Installs the build into a temporary prefix, then builds and runs a small program against it
# twice: with pkg-config and with CMake's find_package(ttt).
# usage: check_install.sh BUILD_DIR API_TEST_DIR
set -eu
build=$1
api=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
test -f "$tmp/prefix/include/ttt.h"
test ! -e "$tmp/prefix/include/runtime.h" # internal headers are never installed
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -n 1)
test -f "$libdir/libttt.a"
test -f "$tmp/prefix/bin/ttt"

# The installed ttt finds the bundled model under PREFIX/share/ttt/models without --model.
out=$("$tmp/prefix/bin/ttt" generate --prompt "In the beginning" -n 6 --temperature 0 2>/dev/null)
case "$out" in
  " of the year"*) ;;
  *) echo "installed ttt generate printed '$out'"; exit 1 ;;
esac

# The installed gen-model copies the Llama 3 tokenizer installed under PREFIX/share/ttt, and the
# installed ttt loads the checkpoint it wrote.
out=$("$tmp/prefix/bin/ttt" gen-model --shape tiny --out "$tmp/tiny")
case "$out" in
  *"tokenizer from $tmp/prefix/bin/../share/ttt/tokenizers/llama3") ;;
  *) echo "installed ttt gen-model printed '$out'"; exit 1 ;;
esac
"$tmp/prefix/bin/ttt" info --model "$tmp/tiny" > "$tmp/info.log"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c11 -Wall -Wextra -Werror "$api/consumer.c" -o "$tmp/consumer_pc" $(pkg-config --cflags --libs ttt)
LD_LIBRARY_PATH="$libdir" "$tmp/consumer_pc"

cmake -S "$api" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/cmake.log"
cmake --build "$tmp/cmake-build" > "$tmp/cmake-build.log"
LD_LIBRARY_PATH="$libdir" "$tmp/cmake-build/consumer"
echo "3 passed, 0 failed"
