#!/bin/sh
# ttt chat driven through standard input: a model without a chat template is refused clearly;
# with a template (kjv-llama's files plus a tokenizer_config.json written here), each greedy reply
# equals `ttt generate` on the prompt `ttt chat-template` renders for the conversation so far.
# Usage: test_chat.sh TTT_BINARY SOURCE_DIR
set -u
ttt=$1 src=$2 kjv=$(cd "$2/models/kjv-llama" && pwd)
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$ttt" chat --help | grep -q -- '--system' || fail "--help lacks --system"

# kjv-llama (the default model) has no chat template: a clear error before anything is read
echo hello | "$ttt" chat >"$tmp/out" 2>"$tmp/err" && fail "chat on kjv-llama succeeded"
grep -q "has no chat_template" "$tmp/err" || fail "no-template error: $(cat "$tmp/err")"
[ ! -s "$tmp/out" ] || fail "no-template: wrote '$(cat "$tmp/out")'"

# A chat model: kjv-llama's weights and tokenizer with a simple template.
mkdir "$tmp/model"
for f in config.json model.safetensors tokenizer.json generation_config.json; do
  ln -s "$kjv/$f" "$tmp/model/$f"
done
cat >"$tmp/model/tokenizer_config.json" <<'JSON'
{
  "bos_token": "<|begin_of_text|>",
  "eos_token": "<|end_of_text|>",
  "chat_template": "{{ bos_token }}{% for m in messages %}{{ m.role | upper }}: {{ m.content | trim }}\n{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
}
JSON
opts="-n 12 --temperature 0"

# expected_reply MESSAGES_FILE OUT: generate's greedy continuation of the rendered prompt (generate
# adds the BOS itself, so the template's BOS text is taken off). Replies may span lines.
expected_reply() {
  "$ttt" chat-template --model "$tmp/model" --messages "$1" --add-generation-prompt >"$tmp/prompt" ||
    fail "chat-template on $1"
  prompt=$(cat "$tmp/prompt")
  "$ttt" generate --model "$tmp/model" --prompt "${prompt#<|begin_of_text|>}" $opts >"$2" 2>/dev/null ||
    fail "generate for $1"
}
# A file's text as a JSON string body (the template trims the content, so a final newline is moot).
json_text() { awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); printf "%s%s", (NR > 1 ? "\\n" : ""), $0 }' "$1"; }

# Two turns, then /exit: the line after it is never answered. Each reply ends with a newline.
printf 'In the beginning\nAnd the LORD said\n/exit\nnot read\n' |
  "$ttt" chat --model "$tmp/model" $opts >"$tmp/chat" 2>"$tmp/err" || fail "chat: $(cat "$tmp/err")"
printf '[{"role": "user", "content": "In the beginning"}]' >"$tmp/m1.json"
expected_reply "$tmp/m1.json" "$tmp/want1"
[ -s "$tmp/want1" ] || fail "empty first reply"
printf '[{"role": "user", "content": "In the beginning"}, {"role": "assistant", "content": "%s"},
  {"role": "user", "content": "And the LORD said"}]' "$(json_text "$tmp/want1")" >"$tmp/m2.json"
expected_reply "$tmp/m2.json" "$tmp/want2"
{ cat "$tmp/want1"; echo; cat "$tmp/want2"; echo; } >"$tmp/want"
cmp -s "$tmp/chat" "$tmp/want" || fail "two turns: chat '$(cat "$tmp/chat")', generate '$(cat "$tmp/want")'"
# The second turn extends the first: its prompt reuses the cached keys and values.
grep -Eq '^\[prompt [0-9]+ tokens, 0 reused from the cache \| reply [0-9]+ tokens' "$tmp/err" ||
  fail "first turn stats: $(cat "$tmp/err")"
grep -Eq '^\[prompt [0-9]+ tokens, [1-9][0-9]* reused from the cache' "$tmp/err" ||
  fail "the second turn reused nothing: $(cat "$tmp/err")"

# The end of input ends the chat normally; empty lines are skipped.
printf '\nIn the beginning\n' | "$ttt" chat --model "$tmp/model" $opts >"$tmp/eof" 2>"$tmp/err" ||
  fail "EOF: exit status $? ($(cat "$tmp/err"))"
{ cat "$tmp/want1"; echo; } >"$tmp/want"
cmp -s "$tmp/eof" "$tmp/want" || fail "EOF run: '$(cat "$tmp/eof")'"

# A system message goes through the template.
printf 'In the beginning\n' | "$ttt" chat --model "$tmp/model" --system "Speak as the KJV." $opts \
  >"$tmp/sys" 2>"$tmp/err" || fail "--system: $(cat "$tmp/err")"
printf '[{"role": "system", "content": "Speak as the KJV."}, {"role": "user", "content": "In the beginning"}]' \
  >"$tmp/m3.json"
expected_reply "$tmp/m3.json" "$tmp/want3"
{ cat "$tmp/want3"; echo; } >"$tmp/want"
cmp -s "$tmp/sys" "$tmp/want" || fail "--system reply: $(cat "$tmp/sys")"

# A template that fails at render time: the error names its line, the exit status is 1.
cat >"$tmp/model/tokenizer_config.json" <<'JSON'
{"chat_template": "{% for m in messages %}\n{{ raise_exception('no chats today') }}{% endfor %}"}
JSON
echo hi | "$ttt" chat --model "$tmp/model" $opts >"$tmp/out" 2>"$tmp/err" && fail "failing template succeeded"
grep -q "line 2, column 4: no chats today" "$tmp/err" || fail "render error: $(cat "$tmp/err")"
echo "chat CLI: all checks passed"
