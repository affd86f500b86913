#!/bin/sh
# ttt beside llama.cpp in one run, on the same machine: pp128 and tg32 (llama-bench's tests) for
# bf16 weights (llama.cpp F16), q8_0 (Q8_0) and q4_0 (Q4_0), with the ratio ttt / llama.cpp.
#
# usage: [LLAMA_BENCH=/path/to/llama-bench] [LLAMA_GGUF_DIR=DIR] [LLAMA_QUANTIZE=/path/to/llama-quantize]
#        [THREADS=2] [REPS=5] bench/vs_llamacpp.sh [MODEL_DIR]
#   MODEL_DIR       HF folder (default /tmp/gm_1b, generated with the Llama-3.2-1B shape if missing)
#   LLAMA_BENCH     llama.cpp's llama-bench; unset or not executable: only ttt's figures are printed
#   LLAMA_GGUF_DIR  folder with the same weights as GGUF: f16.gguf, q8_0.gguf, q4_0.gguf (default
#                   MODEL_DIR/gguf); a missing file skips its row. With LLAMA_QUANTIZE set, missing
#                   q8_0.gguf / q4_0.gguf / q4_k_m.gguf are made from f16.gguf (convert the HF folder
#                   to f16.gguf with llama.cpp's convert_hf_to_gguf.py first).
# Run `make build` first, on an otherwise idle machine (decode bandwidth swings on shared hosts).
set -eu
ttt=$(dirname "$0")/../build/apps/ttt/ttt
model=${1:-/tmp/gm_1b}
threads=${THREADS:-2}
reps=${REPS:-5}
gguf_dir=${LLAMA_GGUF_DIR:-$model/gguf}
[ -d "$model" ] || "$ttt" gen-model --shape llama-3.2-1b --out "$model"

llama=""
if [ -n "${LLAMA_BENCH:-}" ]; then
  if [ -x "$LLAMA_BENCH" ]; then llama=$LLAMA_BENCH; else
    echo "LLAMA_BENCH=$LLAMA_BENCH is not executable: llama.cpp columns skipped" >&2
  fi
fi
if [ -n "$llama" ] && [ -n "${LLAMA_QUANTIZE:-}" ] && [ -f "$gguf_dir/f16.gguf" ]; then
  for q in q8_0 q4_0 q4_k_m; do
    [ -f "$gguf_dir/$q.gguf" ] ||
      "$LLAMA_QUANTIZE" "$gguf_dir/f16.gguf" "$gguf_dir/$q.gguf" "$(echo $q | tr a-z A-Z)" >/dev/null 2>&1
  done
fi

# "pp tg" tokens/s of ttt bench --json with the given options.
ttt_rates() {
  "$ttt" bench --model "$model" -p 128 -n 32 -t "$threads" -r "$reps" --json "$@" | tr -d '\n' |
    sed -E 's/.*"prefill": \{[^}]*"tok_s": ([0-9.]+).*"decode": \{[^}]*"tok_s": ([0-9.]+).*/\1 \2/'
}

# "pp tg" tokens/s of llama-bench's CSV output for one GGUF file.
llama_rates() {
  "$llama" -m "$1" -p 128 -n 32 -t "$threads" -r "$reps" -o csv 2>/dev/null | awk -F, '
    NR == 1 { for (i = 1; i <= NF; i++) { gsub(/"/, "", $i); col[$i] = i }; next }
    { gsub(/"/, ""); if ($col["n_prompt"] > 0) pp = $col["avg_ts"]; else tg = $col["avg_ts"] }
    END { printf "%s %s\n", pp == "" ? "-" : pp, tg == "" ? "-" : tg }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2fx", a / b; else print "-" }'; }

q4="--set layers.*.attention.weight_dtype=q4_0 --set layers.*.ffn.weight_dtype=q4_0 --set lm_head.weight_dtype=q4_0"
echo "model $model, $threads threads, $reps reps; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "| weights (ttt / llama.cpp) | ttt pp128 | llama.cpp pp128 | ratio | ttt tg32 | llama.cpp tg32 | ratio |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for row in "bf16 / F16:f16:--strategy accuracy" "q8_0 / Q8_0:q8_0:--strategy performance" \
  "q4_0 / Q4_0:q4_0:--strategy performance $q4" "- / Q4_K_M:q4_k_m:"; do
  label=${row%%:*}
  rest=${row#*:}
  gguf=${rest%%:*}
  options=${rest#*:}
  ours="- -"
  # shellcheck disable=SC2086  # options are words
  [ -n "$options" ] && ours=$(ttt_rates $options)
  theirs="- -"
  [ -n "$llama" ] && [ -f "$gguf_dir/$gguf.gguf" ] && theirs=$(llama_rates "$gguf_dir/$gguf.gguf")
  set -- $ours $theirs
  echo "| $label | $1 | $3 | $(ratio "$1" "$3") | $2 | $4 | $(ratio "$2" "$4") |"
done
