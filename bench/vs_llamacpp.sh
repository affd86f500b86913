#!/bin/sh
# ttt beside llama.cpp in one run, on the same machine: pp128 and tg32 (llama-bench's tests) for
# bf16 weights (llama.cpp F16), q8_0 (Q8_0) and q4_0 (Q4_0), with the ratio ttt / llama.cpp.
# With ROUNDS > 1 the two programs take turns, row by row, ROUNDS times; each round's figures are
# printed as it ends and the table holds medians, its ratios the medians of the per-round ratios
# (on a host whose memory bandwidth drifts, only such interleaved ratios compare).
#
# usage: [LLAMA_BENCH=/path/to/llama-bench] [LLAMA_GGUF_DIR=DIR] [LLAMA_QUANTIZE=/path/to/llama-quantize]
#        [THREADS=2] [REPS=5] [ROUNDS=1] bench/vs_llamacpp.sh [MODEL_DIR]
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

q4="--set layers.*.attention.weight_dtype=q4_0 --set layers.*.ffn.weight_dtype=q4_0 --set lm_head.weight_dtype=q4_0"
rounds=${ROUNDS:-1}
results=$(mktemp)
trap 'rm -f "$results"' EXIT
echo "model $model, $threads threads, $reps reps, $rounds rounds; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
round=1
while [ "$round" -le "$rounds" ]; do
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
    # shellcheck disable=SC2086  # two rates each
    set -- $ours $theirs
    echo "$label|$1|$3|$2|$4" >>"$results"
    if [ "$rounds" -gt 1 ]; then echo "round $round: $label: pp128 $1 vs $3, tg32 $2 vs $4"; fi
  done
  round=$((round + 1))
done

# One table row per label, in first-seen order: medians of each column, and of the per-round
# ratios of the rounds where both programs have a figure.
echo "| weights (ttt / llama.cpp) | ttt pp128 | llama.cpp pp128 | ratio | ttt tg32 | llama.cpp tg32 | ratio |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
awk -F'|' '
  function median(list,    v, n, i, j, t) {
    n = split(list, v, " ")
    if (n == 0) return "-"
    for (i = 2; i <= n; i++)
      for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : sprintf("%.3f", (v[n / 2] + v[n / 2 + 1]) / 2)
  }
  function add(key, value) { if (value != "-" && value != "") list[key] = list[key] " " value }
  function ratio(a, b) { return (a != "-" && b + 0 > 0) ? sprintf("%.3f", a / b) : "-" }
  {
    if (!($1 in seen)) { seen[$1] = 1; order[++labels] = $1 }
    for (c = 2; c <= 5; c++) add($1 SUBSEP c, $c)
    add($1 SUBSEP "pp", ratio($2, $3))
    add($1 SUBSEP "tg", ratio($4, $5))
  }
  END {
    for (l = 1; l <= labels; l++) {
      k = order[l]
      pp = median(list[k SUBSEP "pp"]); tg = median(list[k SUBSEP "tg"])
      printf "| %s | %s | %s | %s | %s | %s | %s |\n", k, median(list[k SUBSEP 2]),
             median(list[k SUBSEP 3]), pp == "-" ? "-" : sprintf("%.2fx", pp),
             median(list[k SUBSEP 4]), median(list[k SUBSEP 5]), tg == "-" ? "-" : sprintf("%.2fx", tg)
    }
  }' "$results"
