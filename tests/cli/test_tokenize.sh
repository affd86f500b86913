#!/usr/bin/env bash
# `ttt tokenize` / `ttt detokenize` against the HuggingFace goldens of the kjv-llama and spm_bpe
# tokenizers. Usage: test_tokenize.sh TTT_BINARY SOURCE_DIR
set -u
ttt=$1
src=$2
kjv=$src/models/kjv-llama
spm=$src/tests/fixtures/tokenizers/spm_bpe
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# golden_ids GOLDEN_FILE KEY: the array KEY ("ids" or "ids_with_special") of the entry whose
# JSON-escaped text is $WANT, printed like `ttt tokenize` does ("[1, 2, 3]").
golden_ids() {
  WANT_KEY=$2 awk '
    index($0, "\"text\": ") == 3 {
      t = $0; sub(/^  "text": "/, "", t); sub(/",$/, "", t); found = (t == ENVIRON["WANT"]); next
    }
    found && index($0, "\"" ENVIRON["WANT_KEY"] "\": [") == 3 { collecting = 1; out = ""; next }
    collecting && /\]/ { print "[" out "]"; exit }
    collecting { v = $0; gsub(/[ ,]/, "", v); out = out (out == "" ? "" : ", ") v }
  ' "$1"
}

expect_eq() { # what expected actual
  if [ "$2" != "$3" ]; then fail "$1: expected '$2', got '$3'"; fi
}

check_text() { # source-option source text golden
  local text=$3
  export WANT=$text
  local want_ids want_special got
  want_ids=$(golden_ids "$4" ids)
  want_special=$(golden_ids "$4" ids_with_special)
  [ -n "$want_ids" ] || fail "no golden entry for '$text' in $4"
  got=$("$ttt" tokenize "$1" "$2" "$text") || fail "tokenize '$text' exited with $?"
  expect_eq "tokenize '$text'" "$want_ids" "$got"
  got=$("$ttt" tokenize "$1" "$2" --special "$text") || fail "tokenize --special '$text' exited with $?"
  expect_eq "tokenize --special '$text'" "$want_special" "$got"
  # detokenize takes the printed array as arguments and prints the text exactly
  # shellcheck disable=SC2086
  "$ttt" detokenize "$1" "$2" $want_ids > "$tmp/out" || fail "detokenize $want_ids exited with $?"
  printf '%s' "$text" > "$tmp/want"
  cmp -s "$tmp/want" "$tmp/out" || fail "detokenize $want_ids: got '$(cat "$tmp/out")'"
}

for text in "Hello world" "Hello, world! How are you doing today?" " leading space" \
  "In the beginning God created the heaven and the earth." \
  "Unicode: café naïve résumé Zürich Ελληνικά русский язык" \
  "<|begin_of_text|>special token text<|end_of_text|>"; do
  check_text --model "$kjv" "$text" "$kjv/golden_tokenizer.json"
done
for text in "Hello, world! How are you doing today?" "  two leading spaces and   three inner" \
  "CJK: 你好，世界！日本語のテキスト。한국어 텍스트"; do
  check_text --tokenizer "$spm/tokenizer.json" "$text" "$spm/golden.json"
done

# --file passes tabs, newlines and carriage returns unchanged
printf 'tabs\tand\nnewlines\n\nand\r\nCRLF' > "$tmp/text"
export WANT='tabs\tand\nnewlines\n\nand\r\nCRLF'
got=$("$ttt" tokenize --model "$kjv" --file "$tmp/text") || fail "tokenize --file exited with $?"
expect_eq "tokenize --file" "$(golden_ids "$kjv/golden_tokenizer.json" ids)" "$got"
# shellcheck disable=SC2046
"$ttt" detokenize --model "$kjv" $("$ttt" tokenize --model "$kjv" --file "$tmp/text") > "$tmp/out"
cmp -s "$tmp/text" "$tmp/out" || fail "round trip of the --file text differs"

# --skip-special drops BOS
got=$("$ttt" detokenize --model "$kjv" --skip-special 0 41 580 80 1181)
expect_eq "detokenize --skip-special" "Hello world" "$got"

# errors: non-zero exit and one line on stderr
expect_error() { # description command...
  local desc=$1
  shift
  if "$@" > "$tmp/stdout" 2> "$tmp/stderr"; then fail "$desc: exited with 0"; fi
  [ "$(wc -l < "$tmp/stderr")" -eq 1 ] || fail "$desc: expected one line on stderr, got: $(cat "$tmp/stderr")"
}
expect_error "missing tokenizer" "$ttt" tokenize --tokenizer "$tmp/none.json" hello
expect_error "no source" "$ttt" tokenize hello
expect_error "bad id" "$ttt" detokenize --model "$kjv" 4096
expect_error "not an id" "$ttt" detokenize --model "$kjv" 12x
expect_error "missing --file" "$ttt" tokenize --model "$kjv" --file "$tmp/none.txt"
echo '{"model": {"type": "WordLevel"}}' > "$tmp/wordlevel.json"
expect_error "unsupported model" "$ttt" tokenize --tokenizer "$tmp/wordlevel.json" hello
grep -q "WordLevel" "$tmp/stderr" || fail "unsupported model: message does not name WordLevel"

"$ttt" tokenize --help > /dev/null || fail "tokenize --help exited with $?"
"$ttt" detokenize --help > /dev/null || fail "detokenize --help exited with $?"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "ok"
