#!/bin/sh
# Multi-head latent attention through the CLI on deepseek3_tiny (kv_lora_rank 24, qk_rope_head_dim
# 8, 4 heads of nope 16 + rope 8 and v 16): `ttt validate` passes every traced module and the
# prefill/decode logits with both decode algorithms (absorbed, the default, and naive); `ttt info`
# reports the KV-cache bytes per token and layer: the latent (24 + 8 = 32 values, 128 bytes in f32,
# 64 in the performance strategy's bf16) against expanded keys and values (4·(16+8) + 4·16 = 160
# values); an unknown algorithm is refused naming the choices.
# Usage: test_mla.sh TTT SOURCE_DIR
set -u
ttt=$1
m=$2/tests/fixtures/hf/deepseek3_tiny
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

for algorithm in absorbed naive; do
  "$ttt" validate --model "$m" --set "decode.layers.*.mla.algorithm=$algorithm" >"$tmp/v.$algorithm" 2>&1 ||
    fail "validate ($algorithm): $(tail -n 3 "$tmp/v.$algorithm")"
  grep -Eq '^PASS: 20 of 20 rows pass' "$tmp/v.$algorithm" || fail "validate ($algorithm): no 20-row PASS"
done

"$ttt" info --model "$m" >"$tmp/info" 2>&1 || fail "info: $(cat "$tmp/info")"
for l in 0 1 2; do
  grep -Eq "^  layers\.$l +latent 32 values = 128 bytes \(f32\); expanded K/V 160 values = 640 bytes$" "$tmp/info" ||
    fail "info: layers.$l latent line missing"
done
grep -Eq '^  all layers +384 bytes; expanded K/V 1920 bytes$' "$tmp/info" || fail "info: total line missing"
grep -q 'mla (q_lora 32, kv_lora 24, qk 16 + rope 8, v 16)' "$tmp/info" || fail "info: model line lacks the MLA dims"
grep -Eq 'layers\.1\.attention +mla: weight f32, .*algorithm absorbed, kv f32$' "$tmp/info" ||
  fail "info: decode mla impl line missing"

"$ttt" info --model "$m" --strategy performance >"$tmp/perf" 2>&1 || fail "info performance: $(cat "$tmp/perf")"
grep -Eq "^  layers\.0 +latent 32 values = 64 bytes \(bf16\); expanded K/V 160 values = 320 bytes$" "$tmp/perf" ||
  fail "info performance: bf16 latent line missing"

"$ttt" validate --model "$m" --set "decode.layers.*.mla.algorithm=tiled" >"$tmp/bad" 2>&1 &&
  fail "an unknown mla algorithm was accepted"
grep -q "absorbed" "$tmp/bad" || fail "the error does not list the mla algorithms: $(cat "$tmp/bad")"

[ "$failures" -eq 0 ] && echo "test_mla.sh: all checks passed"
[ "$failures" -eq 0 ]
