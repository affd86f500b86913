#!/bin/sh
# ttt quantize: kjv-llama → q4_0 folder (block dtype and metadata in the header, config untied,
# tokenizer copied); greedy generation from it equals the source converted on the fly with the same
# recipe; no progress output when stderr is not a terminal, a bar when it is (via script(1));
# bad options exit 1 with a message.
# Usage: test_quantize.sh TTT SOURCE_DIR
set -u
ttt=$1
src=$2/models/kjv-llama
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

run() {
  name=$1
  shift
  "$ttt" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
}

run q4 quantize --model "$src" --out "$tmp/q4" --dtype q4_0 || fail "q4: $(cat "$tmp/q4.err")"
[ -s "$tmp/q4.err" ] && fail "q4: stderr is not a terminal, yet: $(cat "$tmp/q4.err")"
grep -q "^wrote $tmp/q4 (q4_0)" "$tmp/q4.out" || fail "q4: summary: $(cat "$tmp/q4.out")"
for f in config.json model.safetensors tokenizer.json tokenizer_config.json; do
  [ -s "$tmp/q4/$f" ] || fail "q4: $f missing"
done
header=$(head -c 8192 "$tmp/q4/model.safetensors" | tr -d '\000')
echo "$header" | grep -q '"model.layers.0.mlp.down_proj.weight":{"shape":\[288,768\],"data_offsets":\[[0-9]*,[0-9]*\],"dtype":"TTT_Q4_0\(_G16\)\?"}' ||
  fail "q4: down_proj is not a TTT_Q4_0 (row-major or grouped) tensor of the logical shape"
echo "$header" | grep -q '"ttt.quantization":"q4_0"' || fail "q4: metadata ttt.quantization"
echo "$header" | grep -q '"lm_head.weight":{"shape":\[4096,288\]' || fail "q4: untied lm_head.weight"
grep -q '"tie_word_embeddings":[[:space:]]*false' "$tmp/q4/config.json" || fail "q4: config still tied"

recipe="--set layers.*.attention.weight_dtype=q4_0 --set layers.*.ffn.weight_dtype=q4_0 --set lm_head.weight_dtype=q4_0"
# shellcheck disable=SC2086
run fly generate --model "$src" --strategy performance $recipe -n 24 --temperature 0 --prompt "In the beginning" ||
  fail "on the fly: $(cat "$tmp/fly.err")"
run mapped generate --model "$tmp/q4" --strategy performance -n 24 --temperature 0 --prompt "In the beginning" ||
  fail "mapped: $(cat "$tmp/mapped.err")"
[ -s "$tmp/fly.out" ] && cmp -s "$tmp/fly.out" "$tmp/mapped.out" ||
  fail "generations differ: '$(cat "$tmp/fly.out")' vs '$(cat "$tmp/mapped.out")'"

# ttt info reports the weights converted at load: none for the quantized folder.
run info_q4 info --model "$tmp/q4" --strategy performance || fail "info: $(cat "$tmp/info_q4.err")"
grep -q '^converted bytes 0$' "$tmp/info_q4.out" || fail "info: quantized folder converted weights"
grep -q '^load seconds [0-9.]*$' "$tmp/info_q4.out" || fail "info: no load time"
# shellcheck disable=SC2086
run info_fly info --model "$src" --strategy performance $recipe || fail "info: $(cat "$tmp/info_fly.err")"
grep -q '^converted bytes [1-9][0-9]*$' "$tmp/info_fly.out" || fail "info: on the fly converted nothing"

# A terminal on stderr gets the progress bar (script(1) runs the command on a pseudo-terminal).
if command -v script >/dev/null 2>&1; then
  script -qec "\"$ttt\" quantize --model \"$src\" --out \"$tmp/q8\" --dtype q8_0" "$tmp/tty.log" >/dev/null 2>&1 ||
    fail "tty: exit status"
  grep -q 'loading .*100% (' "$tmp/tty.log" || fail "tty: no progress bar: $(cat "$tmp/tty.log")"
else
  echo "script(1) missing: terminal progress not checked"
fi

run no_out quantize --model "$src" && fail "no --out accepted"
grep -q 'required' "$tmp/no_out.err" || fail "no --out: $(cat "$tmp/no_out.err")"
run bad_dtype quantize --model "$src" --out "$tmp/x" --dtype bf16 && fail "bf16 accepted"
grep -q 'no quantization recipe for bf16' "$tmp/bad_dtype.err" || fail "bf16: $(cat "$tmp/bad_dtype.err")"
run same quantize --model "$src" --out "$src" && fail "output = source accepted"
grep -q 'must differ' "$tmp/same.err" || fail "same folder: $(cat "$tmp/same.err")"

[ "$failures" -eq 0 ] && echo "ok" && exit 0
exit 1
