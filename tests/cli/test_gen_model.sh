#!/bin/sh
# ttt gen-model: the tiny shape (Llama 3 vocab, toy dims) as one file and as shards with an index;
# both folders load and run through ttt generate and ttt bench; the config carries the shape; the
# seed makes the weights reproducible; bad options exit 1 with a message.
# Usage: test_gen_model.sh TTT SOURCE_DIR
set -u
ttt=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# run NAME ARGS...: runs ttt, output in $tmp/NAME.out / .err; returns its exit status.
run() {
  name=$1
  shift
  "$ttt" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
}

# One file, bf16, tied embeddings: 1 + 2 x 9 + 1 tensors.
run one gen-model --shape tiny --out "$tmp/one" --seed 7 || fail "one: $(cat "$tmp/one.err")"
for f in config.json model.safetensors tokenizer.json tokenizer_config.json; do
  [ -s "$tmp/one/$f" ] || fail "one: $f missing"
done
[ -e "$tmp/one/model.safetensors.index.json" ] && fail "one: an index for a single file"
grep -q '"hidden_size": 64,' "$tmp/one/config.json" || fail "one: hidden_size"
grep -q '"num_hidden_layers": 2,' "$tmp/one/config.json" || fail "one: num_hidden_layers"
grep -q '"tie_word_embeddings": true,' "$tmp/one/config.json" || fail "one: tie_word_embeddings"
grep -q '"rope_type": "llama3"' "$tmp/one/config.json" || fail "one: rope_scaling"
grep -q '"torch_dtype": "bfloat16",' "$tmp/one/config.json" || fail "one: torch_dtype"
grep -q '20 tensors, 0.017 GB in 1 file, tokenizer from .*/tokenizers/llama3$' "$tmp/one.out" || fail "one: summary: $(cat "$tmp/one.out")"
header=$(head -c 4096 "$tmp/one/model.safetensors" | tr -d '\000')
echo "$header" | grep -q '"model.layers.1.mlp.down_proj.weight":{"dtype":"BF16","shape":\[64,128\]' ||
  fail "one: down_proj entry in the safetensors header"
echo "$header" | grep -q 'lm_head' && fail "one: lm_head written for tied embeddings"
run one_gen generate --model "$tmp/one" -n 2 --temperature 0 --prompt hi || fail "one: generate: $(cat "$tmp/one_gen.err")"
run one_bench bench --model "$tmp/one" -p 4 -n 2 -r 1 -t 1 || fail "one: bench: $(cat "$tmp/one_bench.err")"
grep -q '| tg2 ' "$tmp/one_bench.out" || fail "one: bench table"

# The same seed gives the same bytes, another seed other weights.
run same gen-model --shape tiny --out "$tmp/same" --seed 7 || fail "same: $(cat "$tmp/same.err")"
cmp -s "$tmp/one/model.safetensors" "$tmp/same/model.safetensors" || fail "seed 7 twice differs"
run other gen-model --shape tiny --out "$tmp/other" --seed 8 || fail "other: $(cat "$tmp/other.err")"
cmp -s "$tmp/one/model.safetensors" "$tmp/other/model.safetensors" && fail "seeds 7 and 8 agree"

# Shards of at most 1 MB, f32, one layer: the 33 MB embedding fills a file, the rest the next.
run shards gen-model --shape tiny --out "$tmp/shards" --dtype f32 --layers 1 --shard-mb 1 ||
  fail "shards: $(cat "$tmp/shards.err")"
for f in model-00001-of-00002.safetensors model-00002-of-00002.safetensors model.safetensors.index.json; do
  [ -s "$tmp/shards/$f" ] || fail "shards: $f missing"
done
[ -e "$tmp/shards/model.safetensors" ] && fail "shards: model.safetensors next to shards"
grep -q '"model.layers.0.mlp.up_proj.weight": "model-00002-of-00002.safetensors"' \
  "$tmp/shards/model.safetensors.index.json" || fail "shards: index weight_map"
grep -q '"num_hidden_layers": 1,' "$tmp/shards/config.json" || fail "shards: num_hidden_layers"
grep -q '"torch_dtype": "float32",' "$tmp/shards/config.json" || fail "shards: torch_dtype"
run shards_gen generate --model "$tmp/shards" -n 2 --temperature 0 --prompt hi ||
  fail "shards: generate: $(cat "$tmp/shards_gen.err")"
# The same folder again as one file: the old index (which the loader would follow) is removed.
run reshard gen-model --shape tiny --out "$tmp/shards" --dtype f32 --layers 1 ||
  fail "reshard: $(cat "$tmp/reshard.err")"
[ -e "$tmp/shards/model.safetensors.index.json" ] && fail "reshard: stale index left"
run reshard_info info --model "$tmp/shards" || fail "reshard: info: $(cat "$tmp/reshard_info.err")"

# The published shapes are listed.
run help gen-model --help || fail "help: exit status"
grep -Eq '^  llama-3.2-1b +vocab 128256, hidden 2048, 16 layers, 32/8 heads of 64, ffn 8192, tied' \
  "$tmp/help.out" || fail "help: llama-3.2-1b"
grep -Eq '^  llama-3-8b +vocab 128256, hidden 4096, 32 layers, 32/8 heads of 128, ffn 14336, untied' \
  "$tmp/help.out" || fail "help: llama-3-8b"

grep -Eq '^  gemma-2-2b +vocab 256000, hidden 2304, 26 layers, 8/4 heads of 256, ffn 9216, tied embeddings, gemma2$' \
  "$tmp/help.out" || fail "help: gemma-2-2b"

# Other families are laid out by their descriptors: Gemma-2's sandwich norms, Phi-3's fused
# projections; both load and generate.
run gemma gen-model --shape tiny-gemma2 --out "$tmp/gemma" || fail "gemma: $(cat "$tmp/gemma.err")"
grep -q '"model_type": "gemma2",' "$tmp/gemma/config.json" || fail "gemma: model_type"
header=$(head -c 4096 "$tmp/gemma/model.safetensors" | tr -d '\000')
echo "$header" | grep -q '"model.layers.1.pre_feedforward_layernorm.weight"' || fail "gemma: sandwich norm"
run gemma_gen generate --model "$tmp/gemma" -n 2 --temperature 0 --prompt hi || fail "gemma: generate: $(cat "$tmp/gemma_gen.err")"
run phi3 gen-model --shape tiny-phi3 --out "$tmp/phi3" || fail "phi3: $(cat "$tmp/phi3.err")"
header=$(head -c 4096 "$tmp/phi3/model.safetensors" | tr -d '\000')
echo "$header" | grep -q '"model.layers.0.self_attn.qkv_proj.weight":{"dtype":"BF16","shape":\[192,64\]' ||
  fail "phi3: fused qkv_proj [q + 2 kv rows, hidden]"
echo "$header" | grep -q '"model.layers.0.mlp.gate_up_proj.weight":{"dtype":"BF16","shape":\[256,64\]' ||
  fail "phi3: fused gate_up_proj"
run phi3_gen generate --model "$tmp/phi3" -n 2 --temperature 0 --prompt hi || fail "phi3: generate: $(cat "$tmp/phi3_gen.err")"
run phi3_bench bench --model "$tmp/phi3" -p 4 -n 2 -r 1 -t 1 || fail "phi3: bench: $(cat "$tmp/phi3_bench.err")"

# Bad options: exit 1 and a message naming the problem.
expect_error() {
  name=$1 message=$2
  shift 2
  run "$name" gen-model "$@" && fail "$name: exit 0"
  grep -q "$message" "$tmp/$name.err" || fail "$name: message: $(cat "$tmp/$name.err")"
}
expect_error bad_shape "unknown shape 'llama-9'" --shape llama-9 --out "$tmp/x"
expect_error bad_dtype "expects bf16, f16 or f32, got 'q4'" --shape tiny --dtype q4 --out "$tmp/x"
expect_error bad_layers "exceeds the 2 layers of tiny" --shape tiny --layers 3 --out "$tmp/x"
expect_error no_out "are required" --shape tiny
expect_error bad_tok "missing/tokenizer.json" --shape tiny --out "$tmp/x" --tokenizer "$tmp/missing"
expect_error bad_dir "cannot create" --shape tiny --out "$tmp/none/x"
expect_error config_and_shape "excludes --shape" --shape tiny --config "$tmp/one/config.json" --out "$tmp/x"
expect_error vocab_shape "goes with --config" --shape tiny --vocab 512 --out "$tmp/x"
echo '{"model_type": "gpt_bigcode", "vocab_size": 8}' >"$tmp/unknown.json"
expect_error config_unknown "model_type 'gpt_bigcode' is not supported" --config "$tmp/unknown.json" --out "$tmp/x"

[ "$failures" -eq 0 ] && echo "PASS" && exit 0
exit 1
