#!/bin/sh
# Runs the libFuzzer harnesses of a TTT_FUZZ build, one after the other, each in a single process.
#   tests/fuzz/run.sh BUILD_DIR SECONDS [HARNESS...]     (default: every harness)
# Each harness stops after SECONDS, or after FUZZ_RUNS executions when that is set. The harnesses
# run at nice level FUZZ_NICE (default 19: they take only idle cores).
# Seeds are generated from the repository's fixtures (fuzz_seeds) into WORK/seeds (plus the inputs
# of tests/fuzz/regressions/HARNESS that once broke a harness), where WORK is
# $FUZZ_WORK or BUILD_DIR/fuzz-work; each harness keeps its growing corpus in WORK/corpus/NAME
# (reused by later runs) and writes crashing inputs to WORK/artifacts/NAME/. Prints one line per
# harness (executions, seconds, result) and exits non-zero when any harness failed.
set -eu
build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/tests/fuzz
work=${FUZZ_WORK:-$build/fuzz-work}
runs=${FUZZ_RUNS:--1}
niceness=${FUZZ_NICE:-19}
rm -rf "$work/seeds"
mkdir -p "$work"
"$bin/fuzz_seeds" "$work/seeds" >/dev/null
if [ $# -eq 0 ]; then
  set -- $(cd "$bin" && ls fuzz_* | grep -v -e '^fuzz_seeds$' -e '\.' | sort)
fi
failed=0
printf '%-24s %12s %8s  %s\n' harness executions seconds result
for h in "$@"; do
  mkdir -p "$work/corpus/$h" "$work/artifacts/$h"
  cat "$here/dict/json.dict" "$here/dict/$h.dict" > "$work/$h.dict"
  log=$work/$h.log
  status=0
  # inputs that once broke this harness (tests/fuzz/regressions/README.md), run as seeds
  regressions=
  [ -d "$here/regressions/$h" ] && regressions=$here/regressions/$h
  # -timeout: one input may not take 30 s; -rss_limit_mb: the codec harness holds four tokenizers.
  nice -n "$niceness" "$bin/$h" -max_total_time="$seconds" -runs="$runs" -timeout=30 -rss_limit_mb=4096 \
    -dict="$work/$h.dict" -artifact_prefix="$work/artifacts/$h/" -print_final_stats=1 \
    "$work/corpus/$h" "$work/seeds/$h" $regressions > "$log" 2>&1 || status=$?
  executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
  if [ "$status" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $status, log $log)"
    failed=1
  fi
  printf '%-24s %12s %8s  %s\n' "$h" "${executed:-?}" "${secs:-?}" "$result"
  if [ "$status" -ne 0 ]; then
    grep -E 'ERROR|invariant broken|runtime error|SUMMARY|Test unit written' "$log" | head -n 20 >&2 || true
  fi
done
exit $failed
