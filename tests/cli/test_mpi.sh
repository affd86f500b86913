#!/bin/sh
# ttt under mpirun (tensor parallelism over 2 ranks): greedy generation of every golden prompt is
# the single-process one, only rank 0 prints, seeded sampling agrees, logits and perplexity agree
# with one process, the --out file is written once, a one-process command is refused, and an
# error ends all ranks with its message. Skipped (exit 77) only when MPI is absent.
# Usage: test_mpi.sh TTT_BINARY SOURCE_DIR
set -u
ttt=$1 src=$2 golden=$2/models/kjv-llama/golden_generate.json
fixture=$src/tests/fixtures/hf/llama3_tiny
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "${TTT_WITH_MPI:-ON}" = ON ] || { echo "SKIPPED: this build has no MPI (CMake did not find it)"; exit 77; }
command -v mpirun >/dev/null 2>&1 || { echo "SKIPPED: mpirun not found (MPI absent)"; exit 77; }
# CI runs as root; the test machine may have fewer cores than ranks.
mpi() { mpirun --oversubscribe --allow-run-as-root -np 2 "$@"; }

i=1
grep '"prompt":' "$golden" | sed 's/^ *"prompt": "//; s/",$//' >"$tmp/prompts"
while [ $i -le 4 ]; do
  prompt=$(sed -n "${i}p" "$tmp/prompts")
  want=$("$ttt" generate --prompt "$prompt" -n 48 --temperature 0 --ids -t 1 2>/dev/null)
  got=$(mpi "$ttt" generate --prompt "$prompt" -n 48 --temperature 0 --ids -t 1 2>"$tmp/err") ||
    fail "prompt $i: exit status $? ($(cat "$tmp/err"))"
  [ -n "$want" ] && [ "$got" = "$want" ] || fail "prompt $i '$prompt': 2 ranks $got, 1 process $want"
  i=$((i + 1))
done
# one stats line (rank 0's) and one copy of the text
mpi "$ttt" generate --prompt "In the beginning" -n 8 --temperature 0 -t 1 >"$tmp/out" 2>"$tmp/err" ||
  fail "text mode exit status"
[ "$(grep -c '^prompt 4 tokens' "$tmp/err")" -eq 1 ] || fail "stats lines: $(cat "$tmp/err")"
[ "$(grep -o 'of the year' "$tmp/out" | wc -l)" -eq 1 ] || fail "stdout: $(cat "$tmp/out")"

# a prompt on standard input (which reaches rank 0 only) is the same prompt on every rank
want=$("$ttt" generate --prompt "In the beginning" -n 16 --temperature 0 --ids -t 1 2>/dev/null)
got=$(printf 'In the beginning' | mpi "$ttt" generate --file - -n 16 --temperature 0 --ids -t 1 \
  2>"$tmp/err") || fail "stdin prompt: $(cat "$tmp/err")"
[ -n "$want" ] && [ "$got" = "$want" ] || fail "stdin prompt: 2 ranks $got, 1 process $want"

a=$("$ttt" generate --prompt "And" -n 24 --seed 7 --temperature 1 --top-k 50 --ids -t 1 2>/dev/null)
b=$(mpi "$ttt" generate --prompt "And" -n 24 --seed 7 --temperature 1 --top-k 50 --ids -t 1 \
  2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "seeded sampling: 2 ranks $b, 1 process $a"

# perplexity: the same mean NLL to the printed 6 decimals (the perplexity line may differ in its
# last digits: its exponential magnifies the rounding of the split sums)
i=0
while [ $i -lt 40 ]; do
  echo "And God said, Let there be light: and there was light. And God saw the light." >>"$tmp/text"
  i=$((i + 1))
done
"$ttt" perplexity --file "$tmp/text" -t 1 >"$tmp/p1" 2>/dev/null || fail "perplexity in one process"
mpi "$ttt" perplexity --file "$tmp/text" -t 1 >"$tmp/p2" 2>"$tmp/err" ||
  fail "perplexity over 2 ranks: $(cat "$tmp/err")"
grep '^mean_nll' "$tmp/p1" >"$tmp/n1" && grep '^mean_nll' "$tmp/p2" >"$tmp/n2" &&
  cmp -s "$tmp/n1" "$tmp/n2" || fail "perplexity: $(cat "$tmp/p2") vs one process $(cat "$tmp/p1")"

# logits: one file, equal to one process's within 1e-5 (compared by ttt validate's metrics is
# heavier; the golden comparison lives in test_tensor_parallel, here the file must exist once)
mpi "$ttt" logits --model "$fixture" --inputs "$fixture/golden.safetensors" --out "$tmp/l2" -t 1 \
  2>"$tmp/err" || fail "logits over 2 ranks: $(cat "$tmp/err")"
"$ttt" logits --model "$fixture" --inputs "$fixture/golden.safetensors" --out "$tmp/l1" -t 1 \
  2>/dev/null || fail "logits in one process"
[ "$(wc -c <"$tmp/l2")" -eq "$(wc -c <"$tmp/l1")" ] || fail "logits file sizes differ"

# validate: every module of the split model against HF's golden, also the q/k norm traces
# (gathered over the ranks' heads) of qwen3 and gemma's single kv head replicated on both ranks
for f in llama3_tiny qwen3_tiny gemma_tiny; do
  mpi "$ttt" validate --model "$src/tests/fixtures/hf/$f" -t 1 >"$tmp/v" 2>"$tmp/err" ||
    fail "validate $f over 2 ranks: $(cat "$tmp/v" "$tmp/err")"
  grep -q '^PASS' "$tmp/v" || fail "validate $f: $(cat "$tmp/v")"
done

# bench: the ranks and rank 0's collectives per token in the JSON
mpi "$ttt" bench -p 8 -n 2 -r 1 -t 1 --json >"$tmp/bench" 2>"$tmp/err" ||
  fail "bench over 2 ranks: $(cat "$tmp/err")"
grep -q '"ranks": 2,' "$tmp/bench" && grep -Eq '"decode_calls_per_token": 14\.0,' "$tmp/bench" ||
  fail "bench json: $(cat "$tmp/bench")"

# a one-process command is refused; an error on the ranks ends the job with the message
mpi "$ttt" info >/dev/null 2>"$tmp/err" && fail "info under 2 ranks succeeded"
grep -q "runs in one process" "$tmp/err" || fail "info refusal: $(cat "$tmp/err")"
mpi "$ttt" generate --model "$tmp/none" --prompt x -n 2 >/dev/null 2>"$tmp/err" &&
  fail "a missing model succeeded"
grep -q "ending all ranks" "$tmp/err" && grep -q "$tmp/none" "$tmp/err" ||
  fail "error message: $(cat "$tmp/err")"
echo "test_mpi: all passed"
