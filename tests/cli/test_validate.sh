#!/bin/sh
# ttt validate on the HF fixtures: exit 0 and a PASS table on an intact model; exit 1, a marked
# first divergence, JSON first_failure and an SVG picture when layer 1's FFN runs in q8_0 (a
# changed weight); exit 2 when the validation cannot run. Usage: test_validate.sh TTT SOURCE_DIR
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

# expect STATUS NAME ARGS...: runs ttt validate, output in $tmp/NAME.out, checks the exit status.
expect() {
  want=$1 name=$2
  shift 2
  "$ttt" validate "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  got=$?
  [ "$got" -eq "$want" ] || fail "$name: exit $got, expected $want: $(cat "$tmp/$name.err")"
}

# Two layers of 5 rows (7 with qwen3's q_norm and k_norm rows) between embedding and the head.
for f in llama3_tiny qwen2_tiny qwen3_tiny mistral_tiny mixtral_tiny; do
  rows=15 ffn_row=9
  [ "$f" = qwen3_tiny ] && rows=19 ffn_row=13
  expect 0 "$f" --model "$fixtures/$f" --json "$tmp/$f.json"
  grep -q "^PASS: $rows of $rows rows pass" "$tmp/$f.out" || fail "$f: no PASS summary"
  grep -Eq "^ +$ffn_row  layers\.1\.ffn .* PASS\$" "$tmp/$f.out" || fail "$f: no layers.1.ffn row"
  grep -q '"first_failure":[[:space:]]*null' "$tmp/$f.json" || fail "$f: first_failure not null"
  [ "$(grep -c '"pass":[[:space:]]*true' "$tmp/$f.json")" -eq $((rows + 1)) ] ||
    fail "$f: JSON rows not all pass"
done
grep -Eq '^ +2  layers\.0\.attention\.q_norm +model\.layers\.0\.self_attn\.q_norm .* PASS$' \
  "$tmp/qwen3_tiny.out" || fail "qwen3_tiny: no layers.0.attention.q_norm row"

# Layer 1's FFN weights quantized to q8_0: the first divergence is layers.1.ffn.
expect 1 q8 --model "$fixtures/llama3_tiny" --golden "$fixtures/llama3_tiny/golden.safetensors" \
  --set layers.1.ffn.weight_dtype=q8_0 --json "$tmp/q8.json" --svg "$tmp/q8.svg"
grep -Eq '^ +9  layers\.1\.ffn +model\.layers\.1\.mlp .* FAIL  <-- first divergence$' "$tmp/q8.out" ||
  fail "q8: layers.1.ffn not marked as the first divergence"
[ "$(grep -c 'first divergence' "$tmp/q8.out")" -eq 2 ] || fail "q8: first divergence marked more than once"
grep -Eq '^ +8  layers\.1\.ffn_norm .* PASS$' "$tmp/q8.out" || fail "q8: ffn_norm before it should pass"
grep -q '^FAIL: .* first divergence at layers.1.ffn (model.layers.1.mlp)' "$tmp/q8.out" || fail "q8: summary"
grep -q '"first_failure":[[:space:]]*"layers.1.ffn"' "$tmp/q8.json" || fail "q8: JSON first_failure"
grep -q '"hf_name":[[:space:]]*"model.layers.1.mlp"' "$tmp/q8.json" || fail "q8: JSON hf_name"
head -c 4 "$tmp/q8.svg" | grep -q '^<svg' || fail "q8: SVG does not start with <svg"
[ "$(tail -n 1 "$tmp/q8.svg")" = "</svg>" ] || fail "q8: SVG does not end with </svg>"
grep -q 'first divergence: layers.1.ffn' "$tmp/q8.svg" || fail "q8: SVG does not name the first divergence"
[ "$(grep -c '<circle' "$tmp/q8.svg")" -ge 30 ] || fail "q8: SVG has fewer than 2 x 15 points"

# Looser thresholds accept the same model.
expect 0 q8_loose --model "$fixtures/llama3_tiny" --set layers.1.ffn.weight_dtype=q8_0 --pcc 0.999 --atol 0.1

# The validation cannot run: exit 2 with a message.
expect 2 no_golden --model "$fixtures/llama3_tiny" --golden "$tmp/none.safetensors"
grep -q 'none.safetensors' "$tmp/no_golden.err" || fail "no_golden: message does not name the file"
expect 2 no_model --golden "$fixtures/llama3_tiny/golden.safetensors"
expect 2 bad_pcc --model "$fixtures/llama3_tiny" --pcc 2
expect 2 bad_option --model "$fixtures/llama3_tiny" --bogus
expect 0 help --help
grep -q '^usage: ttt validate' "$tmp/help.out" || fail "help: no usage"

# Encoders: the padded batch, embeddings and every layer traced (padded positions excluded), then
# last_hidden_state (and pooler_output where HF has one); q8_0 FFNs in layer 1 diverge there first.
for f in bert_tiny roberta_tiny xlmr_tiny distilbert_tiny modernbert_tiny; do
  expect 0 "enc_$f" --model "$fixtures/$f"
  grep -Eq '^PASS: ([0-9]+) of \1 rows pass$' "$tmp/enc_$f.out" || fail "$f: no PASS line"
  grep -Eq '^ +[0-9]+ +last_hidden_state +last_hidden_state +prefill .* PASS$' "$tmp/enc_$f.out" ||
    fail "$f: no last_hidden_state row"
done
grep -Eq '^ +[0-9]+ +pooler_output ' "$tmp/enc_roberta_tiny.out" || fail "roberta: no pooler row"
grep -q 'pooler_output' "$tmp/enc_distilbert_tiny.out" && fail "distilbert: a pooler row"
grep -Eq '^ +[0-9]+ +norm +final_norm ' "$tmp/enc_modernbert_tiny.out" || fail "modernbert: no final_norm row"
expect 1 enc_q8 --model "$fixtures/modernbert_tiny" --set layers.1.ffn.weight_dtype=q8_0
grep -Eq '^ +2 +layers\.1 +layers\.1 .*FAIL' "$tmp/enc_q8.out" || fail "modernbert q8: layers.1 not the first failure: $(cat "$tmp/enc_q8.out")"
expect 2 enc_1d --model "$fixtures/bert_tiny" --golden "$fixtures/llama3_tiny/golden.safetensors"
grep -q 'input_ids must be \[B, T\] for an encoder' "$tmp/enc_1d.err" || fail "encoder 1-D ids: $(cat "$tmp/enc_1d.err")"

[ "$failures" -eq 0 ] && echo "test_validate.sh: all checks passed"
[ "$failures" -eq 0 ]
