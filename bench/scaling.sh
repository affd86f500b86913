#!/bin/sh
# The README's performance tables (issue 10): pp128/tg32 over 5 runs, then a prefill of N tokens
# followed by 16 decoded tokens at context N for N = 512 ... 4096 (one run each), for both
# strategies, on 2 threads. Takes ~15 minutes on the 2-core machine; run it on an idle machine.
# usage: bench/scaling.sh [MODEL_DIR]   (default /tmp/gm_1b, generated with the Llama-3.2-1B shape
#                                         when missing; run `make build` first)
# With LLAMA_BENCH=/path/to/llama-bench (and GGUF files, see bench/vs_llamacpp.sh) it ends with
# llama.cpp's pp128/tg32 figures beside ours and the ratios.
set -eu
ttt=$(dirname "$0")/../build/apps/ttt/ttt
model=${1:-/tmp/gm_1b}
[ -d "$model" ] || "$ttt" gen-model --shape llama-3.2-1b --out "$model"
for strategy in performance accuracy; do
  "$ttt" bench --model "$model" -p 128 -n 32 -t 2 -r 5 --strategy "$strategy" | tail -n 2
  for n in 512 1024 2048 4096; do
    "$ttt" bench --model "$model" -p "$n" -n 16 -t 2 -r 1 --strategy "$strategy" | tail -n 2
  done
done
[ -z "${LLAMA_BENCH:-}" ] || "$(dirname "$0")/vs_llamacpp.sh" "$model"
