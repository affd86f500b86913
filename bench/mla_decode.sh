#!/bin/sh
# Decode tokens/s of multi-head latent attention, naive (every cached latent expanded through
# kv_b_proj each step) vs absorbed (kv_b_proj folded into the query and output sides), after a
# prefill of N tokens for N in $CONTEXTS (default 512 and 4096), both strategies, 2 threads, one
# run each. The model is DeepSeek-V2-Lite's shape as a deepseek_v3 checkpoint (`ttt gen-model
# --shape deepseek-v2-lite`) cut to $LAYERS decoder layers (default 4: the full 27 layers are
# 31 GB in bf16); decode cost per layer is what the comparison is about. Run it on an idle machine:
# figures from a shared, busy machine mean nothing.
# usage: bench/mla_decode.sh [MODEL_DIR]   (default /tmp/gm_dsv2lite, generated when missing; run
#                                            `make build` first)
set -eu
ttt=$(dirname "$0")/../build/apps/ttt/ttt
model=${1:-/tmp/gm_dsv2lite}
layers=${LAYERS:-4}
contexts=${CONTEXTS:-"512 4096"}
strategies=${STRATEGIES:-"performance accuracy"}
[ -d "$model" ] || "$ttt" gen-model --shape deepseek-v2-lite --layers "$layers" --out "$model"
"$ttt" info --model "$model" | grep -E '^(model|parameters)|all layers'
for strategy in $strategies; do
  for n in $contexts; do
    for algorithm in naive absorbed; do
      echo "strategy $strategy, context $n, decode algorithm $algorithm:"
      "$ttt" bench --model "$model" -p "$n" -n 16 -t 2 -r 1 --strategy "$strategy" \
        --set "decode.layers.*.mla.algorithm=$algorithm" | tail -n 2
    done
  done
done
