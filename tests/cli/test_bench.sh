#!/bin/sh
# ttt bench: table and JSON shapes on a tiny run, errors. Usage: TTT_BINARY SOURCE_DIR
set -u
ttt=$1
src=$2
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$ttt" bench --help | grep -q -- '--json' || fail "--help lacks --json"
"$ttt" bench -p 16 -n 4 -r 2 -t 1 >"$tmp/out" 2>"$tmp/err" || fail "exit: $(cat "$tmp/err")"
grep -Eq '^\| accuracy +\| +1 \| pp16 +\| +[0-9.]+ ± [0-9.]+ \|' "$tmp/out" || fail "pp row: $(cat "$tmp/out")"
grep -Eq '^\| accuracy +\| +1 \| tg4 +\| +[0-9.]+ ± [0-9.]+ \| +12\.99 \| +[0-9.]+ \|$' "$tmp/out" ||
  fail "tg row: $(cat "$tmp/out")"
"$ttt" bench -p 16 -n 4 -r 1 --json >"$tmp/json" || fail "--json exit"
grep -q '"weight_bytes_per_token": 12991104' "$tmp/json" || fail "json: $(cat "$tmp/json")"
grep -Eq '"prefill": \{"tokens": 16, "tok_s": [0-9.]+' "$tmp/json" || fail "json prefill"
# --batch: B sequences prefilled into a paged KV cache, then batched decode steps (aggregate rates;
# one step's weight bytes are shared by its B tokens: 12.99 MB / 4)
"$ttt" bench -p 16 -n 4 -r 2 -t 1 --batch 4 >"$tmp/out" 2>"$tmp/err" || fail "--batch exit: $(cat "$tmp/err")"
grep -Eq '^\| accuracy +\| +1 \| pp16 +\| +[0-9.]+ ± [0-9.]+ \|' "$tmp/out" || fail "batch pp row: $(cat "$tmp/out")"
grep -Eq '^\| accuracy +\| +1 \| tg4 b4 +\| +[0-9.]+ ± [0-9.]+ \| +3\.25 \| +[0-9.]+ \|$' "$tmp/out" ||
  fail "batch tg row: $(cat "$tmp/out")"
"$ttt" bench -p 8 -n 2 -r 1 --batch 3 --strategy performance --json >"$tmp/json" || fail "--batch --json exit"
grep -q '"batch": 3,' "$tmp/json" || fail "batch json: $(cat "$tmp/json")"
grep -Eq '"decode": \{"tokens": 2, "tok_s": [0-9.]+' "$tmp/json" || fail "batch json decode"
"$ttt" bench --batch 0 >/dev/null 2>"$tmp/err" && fail "--batch 0 accepted"
"$ttt" bench -p 500 -n 100 >/dev/null 2>"$tmp/err" && fail "over-context run accepted"
grep -q "exceeds the model's context (512)" "$tmp/err" || fail "context message"
"$ttt" bench -r 0 >/dev/null 2>"$tmp/err" && fail "-r 0 accepted"
"$ttt" bench --bogus >/dev/null 2>"$tmp/err" && fail "bad option"
grep -q "unknown option '--bogus'" "$tmp/err" || fail "bad option message"
# an encoder: sentences/s over batch {1, 8, 32} x tokens {16, 128}, both strategies (a one-layer
# all-MiniLM shape; bert_tiny's 64 positions skip the 128-token cells)
"$ttt" gen-model --shape all-minilm-l6-v2 --layers 1 --out "$tmp/minilm" >/dev/null || fail "gen-model minilm"
grep -q '"model_type": "bert"' "$tmp/minilm/config.json" || fail "minilm config"
grep -q '"hidden_size": 384' "$tmp/minilm/config.json" || fail "minilm hidden"
for strategy in accuracy performance; do
  "$ttt" bench --model "$tmp/minilm" -r 1 -t 1 --strategy $strategy >"$tmp/enc" 2>"$tmp/err" ||
    fail "encoder bench $strategy: $(cat "$tmp/err")"
  for b in 1 8 32; do
    for t in 16 128; do
      grep -Eq "^\| $strategy +\| +1 \| +$b \| +$t \| +[0-9.]+ \| +[0-9.]+ \|\$" "$tmp/enc" ||
        fail "encoder row $strategy $b x $t: $(cat "$tmp/enc")"
    done
  done
done
"$ttt" bench --model "$src/tests/fixtures/hf/bert_tiny" -r 1 -t 1 --json >"$tmp/enc.json" ||
  fail "encoder --json"
[ "$(grep -c '"sentences_s"' "$tmp/enc.json")" = 3 ] || fail "encoder json runs: $(cat "$tmp/enc.json")"
grep -q '"kind": "encoder"' "$tmp/enc.json" || fail "encoder json kind"
echo "bench: ok"
