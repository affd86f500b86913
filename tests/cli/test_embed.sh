#!/usr/bin/env bash
# `ttt embed` and `ttt encode --text` on a sentence-transformers folder made of
# tests/fixtures/hf/bert_tiny (config, weights) and tests/fixtures/sentence_transformers/bert_tiny_kjv
# (tokenizer, modules.json, pooling config): unit-norm vectors, the same vector for a text whatever
# its batch and padding, --json and --file, the mean-pooling note without modules.json, errors.
# Usage: test_embed.sh TTT_BINARY SOURCE_DIR
set -u
ttt=$1
src=$2
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

st=$tmp/st
mkdir -p "$st"
cp -r "$src/tests/fixtures/sentence_transformers/bert_tiny_kjv/." "$st/"
cp "$src/tests/fixtures/hf/bert_tiny/config.json" "$src/tests/fixtures/hf/bert_tiny/model.safetensors" "$st/"

# max_abs_diff FILE_A FILE_B: the largest |a - b| over all numbers of two outputs of equal shape.
max_abs_diff() {
  paste -d'\n' "$1" "$2" | awk 'NR % 2 == 1 { split($0, a, " "); next }
    { n = split($0, b, " "); for (i = 1; i <= n; i++) { d = a[i] - b[i]; if (d < 0) d = -d; if (d > m) m = d } }
    END { printf "%.3g\n", m + 0 }'
}

t1="In the beginning God created the heaven and the earth."
t2="Jesus wept."
t3="And God said, Let there be light: and there was light."

"$ttt" embed --model "$st" "$t1" "$t2" "$t3" > "$tmp/all.txt" 2> "$tmp/stderr" || fail "embed exited with $?: $(cat "$tmp/stderr")"
[ "$(wc -l < "$tmp/all.txt")" -eq 3 ] || fail "expected 3 lines, got $(wc -l < "$tmp/all.txt")"
awk '{ if (NF != 64) { print "line " NR " has " NF " numbers"; exit 1 }
       s = 0; for (i = 1; i <= NF; i++) s += $i * $i
       if (s < 0.99999 || s > 1.00001) { print "line " NR " has norm² " s; exit 1 } }' "$tmp/all.txt" ||
  fail "vectors are not 64 unit-norm numbers"
[ -s "$tmp/stderr" ] && fail "unexpected note with modules.json: $(cat "$tmp/stderr")"

# the same text alone, and in batches of one: the padding of the batch must not change it
"$ttt" embed --model "$st" "$t2" > "$tmp/alone.txt" || fail "embed of one text failed"
sed -n 2p "$tmp/all.txt" > "$tmp/batched.txt"
d=$(max_abs_diff "$tmp/alone.txt" "$tmp/batched.txt")
awk -v d="$d" 'BEGIN { exit !(d <= 1e-5) }' || fail "text 2 alone vs padded in a batch: max abs $d"
"$ttt" embed --model "$st" --batch 1 "$t1" "$t2" "$t3" > "$tmp/batch1.txt" || fail "--batch 1 failed"
d=$(max_abs_diff "$tmp/all.txt" "$tmp/batch1.txt")
awk -v d="$d" 'BEGIN { exit !(d <= 1e-5) }' || fail "--batch 1 vs one batch: max abs $d"

# --file: one text per line, empty lines skipped; same vectors as the arguments
printf '%s\n\n%s\r\n%s\n' "$t1" "$t2" "$t3" > "$tmp/texts.txt"
"$ttt" embed --model "$st" --file "$tmp/texts.txt" > "$tmp/file.txt" || fail "--file failed"
d=$(max_abs_diff "$tmp/all.txt" "$tmp/file.txt")
[ "$(wc -l < "$tmp/file.txt")" -eq 3 ] && awk -v d="$d" 'BEGIN { exit !(d == 0) }' ||
  fail "--file differs from the arguments (max abs $d)"

# --json: an array of 2 arrays of 64 numbers
"$ttt" embed --model "$st" --json "$t1" "$t2" > "$tmp/out.json" || fail "--json failed"
tr -d ' \n' < "$tmp/out.json" | grep -Eq '^\[\[[^][]+\],\[[^][]+\]\]$' || fail "--json output is not [[...],[...]]"
[ "$(tr -cd ',' < "$tmp/out.json" | wc -c)" -eq $((2 * 63 + 1)) ] || fail "--json: wrong number of values"

# without modules.json: mean pooling, not normalized, and a note says so
rm "$st/modules.json"
"$ttt" embed --model "$st" "$t2" > "$tmp/plain.txt" 2> "$tmp/stderr" || fail "embed without modules.json failed"
grep -q "no modules.json" "$tmp/stderr" && grep -q "mean pooling" "$tmp/stderr" || fail "no note about mean pooling"
awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i * $i; exit !(s > 1.001 || s < 0.999) }' "$tmp/plain.txt" ||
  fail "without Normalize the vector should not be unit-norm"
cp "$src/tests/fixtures/sentence_transformers/bert_tiny_kjv/modules.json" "$st/"

# ttt encode --text: hidden states plus the tokenization
"$ttt" encode --model "$st" --text "$t2" --text "$t1" --out "$tmp/enc.safetensors" || fail "encode --text failed"
head -c 600 "$tmp/enc.safetensors" | grep -aq '"input_ids":{"shape":\[2,' || fail "encode --text: no input_ids [2, T]"
head -c 600 "$tmp/enc.safetensors" | grep -aq '"last_hidden_state":{"shape":\[2,[0-9]*,64\]' ||
  fail "encode --text: no last_hidden_state [2, T, 64]"

expect_error() { # name needle command...
  local name=$1 needle=$2
  shift 2
  if "$@" > /dev/null 2> "$tmp/stderr"; then fail "$name: succeeded"; return; fi
  grep -q -- "$needle" "$tmp/stderr" || fail "$name: stderr lacks '$needle': $(cat "$tmp/stderr")"
}
expect_error "no text" "either texts or --file" "$ttt" embed --model "$st"
expect_error "texts and --file" "either texts or --file" "$ttt" embed --model "$st" --file "$tmp/texts.txt" "$t1"
expect_error "bad batch" "--batch" "$ttt" embed --model "$st" --batch 0 "$t1"
expect_error "decoder model" "not an encoder" "$ttt" embed --model "$src/models/kjv-llama" "$t1"
expect_error "no tokenizer" "tokenizer.json" "$ttt" embed --model "$src/tests/fixtures/hf/bert_tiny" "$t1"
echo '{"pooling_mode_weightedmean_tokens": true}' > "$st/1_Pooling/config.json"
expect_error "unsupported pooling" "pooling_mode_weightedmean_tokens" "$ttt" embed --model "$st" "$t1"
expect_error "encode: text and inputs" "either --inputs or --text" "$ttt" encode --model "$st" --text a --inputs x --out y
expect_error "logits: no --text" "unknown option '--text'" "$ttt" logits --model "$st" --text a --out y
"$ttt" embed --help > /dev/null || fail "embed --help exited with $?"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "1 passed, 0 failed"
