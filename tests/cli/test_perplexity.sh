#!/bin/sh
# ttt perplexity: output format, text vs ids mode agree on the same tokens, windowing, errors.
# (The golden figures are checked by the C test test_perplexity.) Usage: TTT_BINARY SOURCE_DIR
set -u
ttt=$1 src=$2
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$ttt" perplexity --help | grep -q -- '--ids-file' || fail "--help lacks --ids-file"
printf 'And God said, Let there be light: and there was light.' >"$tmp/text"
"$ttt" perplexity --file "$tmp/text" >"$tmp/out" 2>"$tmp/err" || fail "exit $(cat "$tmp/err")"
grep -Eq '^perplexity [0-9]+\.[0-9]+$' "$tmp/out" || fail "perplexity line: $(cat "$tmp/out")"
grep -Eq '^mean_nll [0-9]+\.[0-9]+$' "$tmp/out" || fail "mean_nll line"
# The same tokens as an id list give the same result.
"$ttt" tokenize --model "$src/models/kjv-llama" --special --file "$tmp/text" >"$tmp/ids.json" ||
  fail "tokenize exit"
grep -q '^\[0' "$tmp/ids.json" || fail "tokenize --special gives no BOS: $(cat "$tmp/ids.json")"
"$ttt" perplexity --ids-file "$tmp/ids.json" >"$tmp/out2" || fail "ids mode exit"
cmp -s "$tmp/out" "$tmp/out2" || fail "text and ids modes differ: $(cat "$tmp/out" "$tmp/out2")"
# 6 ids in windows of 3: 2 windows, 4 predicted tokens.
echo '[0, 298, 389, 390, 13, 1498]' >"$tmp/six.json"
"$ttt" perplexity --ids-file "$tmp/six.json" --ctx 3 >"$tmp/out" || fail "--ctx 3 exit"
grep -q '^predicted_tokens 4$' "$tmp/out" && grep -q '^windows 2$' "$tmp/out" ||
  fail "windowing: $(cat "$tmp/out")"
# Errors.
"$ttt" perplexity --ids-file "$tmp/six.json" --ctx 1000 >/dev/null 2>"$tmp/err" && fail "ctx 1000"
grep -q "window (1000)" "$tmp/err" || fail "ctx message: $(cat "$tmp/err")"
echo '[0, "x"]' >"$tmp/bad.json"
"$ttt" perplexity --ids-file "$tmp/bad.json" >/dev/null 2>"$tmp/err" && fail "bad ids accepted"
grep -q "element 1" "$tmp/err" || fail "bad ids message"
"$ttt" perplexity --file "$tmp/text" --bogus >/dev/null 2>"$tmp/err" && fail "bad option"
grep -q "unknown option '--bogus'" "$tmp/err" || fail "bad option message"
"$ttt" perplexity >/dev/null 2>"$tmp/err" && fail "no input accepted"
echo "perplexity: ok"
