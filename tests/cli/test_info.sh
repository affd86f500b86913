#!/bin/sh
# ttt info: spec tree and impl configs of kjv-llama for both strategies, errors.
# Usage: TTT_BINARY SOURCE_DIR
set -u
ttt=$1 src=$2
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$ttt" info --help | grep -q -- '--strategy' || fail "--help"
"$ttt" info --model "$src/models/kjv-llama" >"$tmp/out" 2>"$tmp/err" || fail "exit: $(cat "$tmp/err")"
grep -q '^parameters 6491808$' "$tmp/out" || fail "parameters"
grep -q '^decode weight bytes per token 12991104$' "$tmp/out" || fail "weight bytes"
grep -Eq '^  layers\.5\.attention +hidden 288, heads 6, kv heads 2, head_dim 48' "$tmp/out" ||
  fail "attention spec"
grep -Eq '^  layers\.5\.ffn +mlp: gated mlp silu, hidden 288, intermediate 768' "$tmp/out" || fail "ffn"
grep -Eq '^  layers\.5 +pre norms, sequential residual$' "$tmp/out" || fail "layer topology"
grep -Eq '^  lm_head +hidden 288, vocab 4096, tied' "$tmp/out" || fail "lm_head"
[ "$(grep -c 'kv f32' "$tmp/out")" -eq 12 ] || fail "accuracy: 6 layers x 2 modes with kv f32"
"$ttt" info --strategy performance >"$tmp/perf" || fail "performance exit"
grep -Eq '^  layers\.0\.ffn +weight q8_0' "$tmp/perf" || fail "performance ffn weight q8_0"
"$ttt" info --set layers.2.ffn.weight_dtype=f32 >"$tmp/set" || fail "--set exit"
grep -Eq '^  layers\.2\.ffn +weight f32' "$tmp/set" || fail "--set not applied"
"$ttt" info --set layers.2.nope=1 >/dev/null 2>"$tmp/err" && fail "bad --set accepted"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "error is not one line: $(cat "$tmp/err")"
"$ttt" info --strategy fast >/dev/null 2>&1 && fail "bad strategy accepted"
"$ttt" info --bogus >/dev/null 2>"$tmp/err" && fail "bad option"
grep -q "unknown option '--bogus'" "$tmp/err" || fail "bad option message"
echo "info: ok"
