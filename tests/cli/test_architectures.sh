#!/bin/sh
# Every architecture beyond the original six through the CLI, on its HF fixture: `ttt validate`
# passes every traced module (the trace names reach module paths through the descriptor), `ttt
# info` shows the spec, `ttt perplexity` scores token ids and `ttt bench` runs both strategies;
# `ttt gen-model --config` makes the same architecture with the Llama 3 vocabulary, on which `ttt
# generate` runs (the fixtures have no tokenizer).
# Usage: test_architectures.sh TTT SOURCE_DIR
set -u
ttt=$1
fixtures=$2/tests/fixtures/hf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

echo '[1, 5, 9, 20, 33, 2, 7, 100, 200, 300, 5, 6]' >"$tmp/ids.json"
# fixture model_type strategies (qwen2moe, qwen3moe: the core's performance defaults pick q8_0 for
# the experts' down projection, whose input width 48 is not a multiple of the q8_0 block)
while read -r f type strategies; do
  m=$fixtures/$f
  "$ttt" validate --model "$m" >"$tmp/$f.validate" 2>&1 || fail "$f: validate: $(tail -n 3 "$tmp/$f.validate")"
  grep -Eq '^PASS: ([0-9]+) of \1 rows pass' "$tmp/$f.validate" || fail "$f: no PASS summary"
  "$ttt" info --model "$m" >"$tmp/$f.info" 2>&1 || fail "$f: info: $(cat "$tmp/$f.info")"
  grep -q "^ *$type: " "$tmp/$f.info" || fail "$f: info does not name $type"
  grep -Eq '^  layers\.0\.attention ' "$tmp/$f.info" || fail "$f: info has no layers.0.attention"
  "$ttt" perplexity --model "$m" --ids-file "$tmp/ids.json" >"$tmp/$f.ppl" 2>&1 || fail "$f: perplexity: $(cat "$tmp/$f.ppl")"
  grep -Eq '^perplexity [0-9]+\.[0-9]+$' "$tmp/$f.ppl" || fail "$f: no perplexity figure"
  "$ttt" gen-model --config "$m/config.json" --vocab 128256 --out "$tmp/$f.gen" >"$tmp/$f.genlog" 2>&1 ||
    fail "$f: gen-model --config: $(cat "$tmp/$f.genlog")"
  "$ttt" generate --model "$tmp/$f.gen" -n 3 --temperature 0 --ids --prompt "In the beginning" \
    >"$tmp/$f.ids" 2>"$tmp/$f.generr" || fail "$f: generate: $(cat "$tmp/$f.generr")"
  grep -Eq '^\[[0-9]+(,[0-9]+){2}\]$' "$tmp/$f.ids" || fail "$f: generate printed $(cat "$tmp/$f.ids")"
  for s in $(echo "$strategies" | tr , ' '); do
    "$ttt" bench --model "$m" -p 8 -n 4 -r 1 -t 1 --strategy $s >"$tmp/$f.bench" 2>&1 || fail "$f: bench $s: $(cat "$tmp/$f.bench")"
  done
done <<LIST
gemma_tiny gemma accuracy,performance
gemma2_tiny gemma2 accuracy,performance
gemma3_tiny gemma3_text accuracy,performance
phi3_tiny phi3 accuracy,performance
phi_tiny phi accuracy,performance
gpt2_tiny gpt2 accuracy,performance
gptneox_tiny gpt_neox accuracy,performance
qwen2moe_tiny qwen2_moe accuracy
qwen3moe_tiny qwen3_moe accuracy
olmo2_tiny olmo2 accuracy,performance
starcoder2_tiny starcoder2 accuracy,performance
granite_tiny granite accuracy,performance
cohere_tiny cohere accuracy,performance
stablelm_tiny stablelm accuracy,performance
deepseek3_tiny deepseek_v3 accuracy,performance
LIST

[ "$failures" -eq 0 ] && echo "test_architectures.sh: all checks passed"
[ "$failures" -eq 0 ]
