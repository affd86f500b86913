#!/bin/sh
# Batched decode beside llama.cpp, interleaved: aggregate decode tok/s of `ttt bench --batch B`
# (B sequences, each prefilled with 128 tokens into the paged KV cache, then 32 batched steps) and
# S_TG of llama.cpp's llama-batched-bench (same prompt and generation lengths), B = 1 4 8 16, for
# bf16 weights (accuracy strategy; llama.cpp F16) and q8_0 (performance strategy; Q8_0).
#
# usage: [LLAMA_BATCHED_BENCH=/path/to/llama-batched-bench] [LLAMA_GGUF_DIR=DIR] [THREADS=2]
#        [ROUNDS=2] bench/batched_vs_llamacpp.sh [MODEL_DIR [Q8_MODEL_DIR]]
#   MODEL_DIR       bf16 HF folder (default /tmp/gm_1b, generated with the Llama-3.2-1B shape)
#   Q8_MODEL_DIR    its `ttt quantize --dtype q8_0` folder (default MODEL_DIR_q8, made if missing)
#   LLAMA_GGUF_DIR  f16.gguf and q8_0.gguf of the same weights (default MODEL_DIR/gguf; see
#                   bench/vs_llamacpp.sh); without LLAMA_BATCHED_BENCH only ttt's rows are printed
# Run `make build` first, on an otherwise idle machine.
set -eu
ttt=$(dirname "$0")/../build/apps/ttt/ttt
model=${1:-/tmp/gm_1b}
q8_model=${2:-${model}_q8}
threads=${THREADS:-2}
rounds=${ROUNDS:-2}
gguf_dir=${LLAMA_GGUF_DIR:-$model/gguf}
[ -d "$model" ] || "$ttt" gen-model --shape llama-3.2-1b --out "$model"
[ -d "$q8_model" ] || "$ttt" quantize --model "$model" --out "$q8_model" --dtype q8_0

# Aggregate decode tok/s of ttt at batch $1 (further arguments: model and strategy options).
ttt_batch() {
  batch=$1
  shift
  "$ttt" bench -p 128 -n 32 -t "$threads" -r 1 --batch "$batch" --json "$@" | tr -d '\n' |
    sed -E 's/.*"decode": \{[^}]*"tok_s": ([0-9.]+).*/\1/'
}

# "B=rate ..." of llama-batched-bench's S_TG column for the GGUF file $1.
llama_batch() {
  "$LLAMA_BATCHED_BENCH" -m "$1" -c 4096 -b 2048 -ub 512 -npp 128 -ntg 32 -npl 1,4,8,16 \
    -t "$threads" 2>/dev/null |
    awk -F'|' 'NF > 9 && $2 + 0 == 128 { gsub(/ /, "", $4); gsub(/ /, "", $9); printf "B=%s %s  ", $4, $9 }'
}

ttt_row() {
  for b in 1 4 8 16; do printf 'B=%s %s  ' "$b" "$(ttt_batch "$b" "$@")"; done
}

round=1
while [ "$round" -le "$rounds" ]; do
  echo "round $round"
  echo "  ttt accuracy (bf16):    $(ttt_row --model "$model" --strategy accuracy)"
  if [ -x "${LLAMA_BATCHED_BENCH:-}" ] && [ -f "$gguf_dir/f16.gguf" ]; then
    echo "  llama.cpp F16:          $(llama_batch "$gguf_dir/f16.gguf")"
  fi
  echo "  ttt performance (q8_0): $(ttt_row --model "$q8_model" --strategy performance)"
  if [ -x "${LLAMA_BATCHED_BENCH:-}" ] && [ -f "$gguf_dir/q8_0.gguf" ]; then
    echo "  llama.cpp Q8_0:         $(llama_batch "$gguf_dir/q8_0.gguf")"
  fi
  round=$((round + 1))
done
