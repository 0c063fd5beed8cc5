#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS (default 60) and prints executions and crashes per
# target. New inputs go to a scratch corpus ($FUZZ_WORK/<target>), never into the committed seeds
# (fuzz/corpus/<target>, read-only here). A crash leaves its input in fuzz/artifacts/<target>/ and
# makes the script exit 1 after the other targets ran.
#   FUZZ_SECONDS=600 fuzz/run.sh [target ...]      (FUZZ_SECONDS_<target> overrides one target)
# FUZZ_ARGS adds libFuzzer flags, e.g. FUZZ_ARGS="-fork=1 -ignore_crashes=1" to go on past a known
# crash (each distinct one is still written to fuzz/artifacts/).
set -uo pipefail
cd "$(dirname "$0")"
SECONDS_PER="${FUZZ_SECONDS:-60}"
WORK="${FUZZ_WORK:-${CARGO_TARGET_DIR:-../target}/fuzz-work}"
TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-../target}/fuzz}"
# No sanitizer: the workspace forbids unsafe code, and without ASan a target runs several times
# faster; debug assertions (-a) keep overflow checks on.
FLAGS=(-s none -a --target-dir "$TARGET_DIR")
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build "${FLAGS[@]}" || exit 2
printf '%-12s %8s %14s %10s %8s\n' target seconds executions exec/s crashes
total=0; crashed=0
for t in "${targets[@]}"; do
  mkdir -p "$WORK/$t"
  log="$WORK/$t.log"
  own="FUZZ_SECONDS_$t"
  cargo +nightly fuzz run "${FLAGS[@]}" "$t" "$WORK/$t" "corpus/$t" -- \
    -max_total_time="${!own:-$SECONDS_PER}" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 ${FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  # Fork mode prints no final stats: take the last status line's count.
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tr -d '#' | tail -1)
  crashes=$(grep -c 'Test unit written to' "$log")
  if [ $rc -ne 0 ] || [ "$crashes" -gt 0 ]; then crashed=1; fi
  printf '%-12s %8s %14s %10s %8s\n' "$t" "${!own:-$SECONDS_PER}" "${execs:-?}" "${rate:-?}" "$crashes"
  total=$((total + ${execs:-0}))
  if [ "$crashes" -gt 0 ]; then grep -E -A1 'panicked at' "$log" | grep -v '^--' | sort | uniq -c | head -10 | sed 's/^/    /'; fi
done
printf '%-12s %8s %14s\n' total "" "$total"
exit $crashed
