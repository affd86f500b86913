#!/bin/sh
# ttt chat-template: the rendered prompt is exactly Jinja2's (files made with transformers'
# settings by ../shared/tools/render_chat_template.py), --var values are JSON when they parse and
# strings otherwise, and errors are clear. Usage: test_chat_template.sh TTT_BINARY SOURCE_DIR
set -u
ttt=$1 src=$2 fx=$2/tests/fixtures/chat
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$ttt" chat-template --help | grep -q -- '--add-generation-prompt' || fail "--help lacks --add-generation-prompt"
"$ttt" --help | grep -q 'chat-template' || fail "ttt --help does not list chat-template"

# render NAME EXPECTED_FILE ARGS...: stdout must equal the file byte for byte (no newline added)
render() {
  name=$1 want=$2
  shift 2
  "$ttt" chat-template "$@" >"$tmp/out" 2>"$tmp/err" || fail "$name: exit status $? ($(cat "$tmp/err"))"
  cmp -s "$tmp/out" "$want" || fail "$name: got '$(cat "$tmp/out")', expected '$(cat "$want")'"
}
msgs=$fx/cli/messages.json
render qwen3-gen "$fx/cli/qwen3_gen.txt" --model "$fx/qwen3" --messages "$msgs" --add-generation-prompt
render qwen3-nogen "$fx/cli/qwen3_nogen.txt" --model "$fx/qwen3" --messages "$msgs"
render qwen3-vars "$fx/cli/qwen3_nothink_tools.txt" --model "$fx/qwen3" --messages "$msgs" \
  --add-generation-prompt --var enable_thinking=false --var "tools=$(cat "$fx/cli/tools.json")"
# --model also takes the tokenizer_config.json itself; --messages - reads standard input
"$ttt" chat-template --model "$fx/llama3_1/tokenizer_config.json" --messages - --add-generation-prompt \
  <"$msgs" >"$tmp/out" 2>"$tmp/err" || fail "llama3_1 from stdin: $(cat "$tmp/err")"
cmp -s "$tmp/out" "$fx/cli/llama3_1_gen.txt" || fail "llama3_1: got '$(cat "$tmp/out")'"

# --var: JSON when it parses (numbers, booleans, lists), else the text itself
mkdir "$tmp/model"
printf '%s' '{"chat_template": "{{ word }}|{{ n + 1 }}|{{ flag }}|{{ items | length }}|{{ messages | length }}", "bos_token": "<s>"}' \
  >"$tmp/model/tokenizer_config.json"
printf '[]' >"$tmp/empty.json"
"$ttt" chat-template --model "$tmp/model" --messages "$tmp/empty.json" --var word=hello --var n=41 \
  --var flag=false --var 'items=[1, 2, 3]' >"$tmp/out" 2>"$tmp/err" || fail "vars: $(cat "$tmp/err")"
[ "$(cat "$tmp/out")" = "hello|42|False|3|0" ] || fail "vars: got '$(cat "$tmp/out")'"

# expect_error NAME NEEDLE ARGS...: exit status 1 and the message on stderr
expect_error() {
  name=$1 needle=$2
  shift 2
  "$ttt" chat-template "$@" >"$tmp/out" 2>"$tmp/err" && fail "$name: succeeded"
  grep -qF -- "$needle" "$tmp/err" || fail "$name: stderr '$(cat "$tmp/err")' lacks '$needle'"
  [ ! -s "$tmp/out" ] || fail "$name: wrote to stdout: $(cat "$tmp/out")"
}
expect_error no-template "has no chat_template" --model "$src/models/kjv-llama" --messages "$msgs"
expect_error default-model "has no chat_template" --messages "$msgs"
expect_error no-messages "--messages FILE.json is required" --model "$fx/qwen3"
expect_error bad-var "--var expects NAME=VALUE" --model "$fx/qwen3" --messages "$msgs" --var novalue
printf '{"role": "user"}' >"$tmp/object.json"
expect_error not-array "must hold a JSON array" --model "$fx/qwen3" --messages "$tmp/object.json"
printf '[{"role": ' >"$tmp/broken.json"
expect_error broken-json "invalid JSON" --model "$fx/qwen3" --messages "$tmp/broken.json"
printf '%s' '{"chat_template": "ok\n{% for m in messages %}\n{{ m.content | frobnicate }}{% endfor %}"}' \
  >"$tmp/model/tokenizer_config.json"
expect_error bad-filter "line 3, column 16: no filter named 'frobnicate'" --model "$tmp/model" --messages "$msgs"
printf '%s' '{"chat_template": "{{ raise_exception(\"only user messages\") }}"}' >"$tmp/model/tokenizer_config.json"
expect_error raise "line 1, column 4: only user messages" --model "$tmp/model" --messages "$msgs"
printf '%s' '[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]' >"$tmp/twice.json"
expect_error gemma-alternate "Conversation roles must alternate" --model "$fx/gemma3" --messages "$tmp/twice.json"
echo "chat-template CLI: all checks passed"
