#!/bin/sh
# scripts/make_golden.py writes the golden format ttt validate reads: fixture goldens rewritten
# through its writer validate exactly like the originals (every traced module and the logits),
# and a golden of another model does not. Skipped (77) without python3.
# Usage: test_make_golden.sh TTT SOURCE_DIR
set -u
ttt=$1 src=$2
command -v python3 >/dev/null 2>&1 || { echo "skipped: no python3"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

for f in gemma2_tiny gpt2_tiny qwen3_tiny; do
  m=$src/tests/fixtures/hf/$f
  python3 "$src/scripts/make_golden.py" --rewrite "$m/golden.safetensors" "$tmp/$f.safetensors" \
    >"$tmp/$f.log" 2>&1 || fail "$f: rewrite: $(cat "$tmp/$f.log")"
  "$ttt" validate --model "$m" >"$tmp/$f.orig" 2>&1 || fail "$f: original golden: $(tail -n 2 "$tmp/$f.orig")"
  "$ttt" validate --model "$m" --golden "$tmp/$f.safetensors" >"$tmp/$f.out" 2>&1 ||
    fail "$f: rewritten golden: $(tail -n 2 "$tmp/$f.out")"
  [ "$(tail -n 1 "$tmp/$f.out")" = "$(tail -n 1 "$tmp/$f.orig")" ] || fail "$f: summaries differ"
done
# Another model's golden (same vocabulary and dims) fails the comparison.
"$ttt" validate --model "$src/tests/fixtures/hf/gemma2_tiny" --golden "$tmp/qwen3_tiny.safetensors" \
  >"$tmp/cross.out" 2>&1 && fail "a qwen3 golden validated a gemma2 model"

[ "$failures" -eq 0 ] && echo "test_make_golden.sh: all checks passed"
[ "$failures" -eq 0 ]
