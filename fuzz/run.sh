#!/usr/bin/env bash
# Coverage-guided fuzzing of rinit's parsers of outside input, for CI and by hand.
#
# Installs what it needs if missing (cargo-fuzz, a C++ compiler for libFuzzer), seeds
# fuzz/corpus/ (seed.sh), builds every target once, then runs each for FUZZ_SECONDS seconds
# (default 60), one at a time, at the lowest CPU priority. Exits non-zero if any target
# crashes, hangs (-timeout) or runs out of memory, after printing the artifact's path and
# bytes; crashing inputs are kept in fuzz/artifacts/TARGET/ (copy them to
# fuzz/regressions/TARGET/ so seed.sh replays them on every run).
#
#   FUZZ_SECONDS=60          seconds per target
#   FUZZ_TARGETS="config …"  a subset of the targets (default: all)
#   FUZZ_SANITIZER=address   or none; address is tried first and, if it does not build or
#                            run here, the script falls back to none and says so
#
# cargo-fuzz needs nightly-only flags (-Zsanitizer, sancov passes); the toolchain here is
# stable, so RUSTC_BOOTSTRAP=1 is set for this script's cargo commands only. With it, the
# address sanitizer builds and runs on stable rustc 1.95.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-60}"
read -r -a targets <<< "${FUZZ_TARGETS:-config config_dir proc_stat proc_net notify control supervisord}"
sanitizer="${FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1
export RUST_BACKTRACE=1
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="target/$triple/release"

# --- what is needed -----------------------------------------------------------------------
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    nice -n 19 cargo install cargo-fuzz --locked --quiet
fi
if ! command -v c++ >/dev/null 2>&1 && ! command -v g++ >/dev/null 2>&1 \
    && ! command -v clang++ >/dev/null 2>&1; then
    echo "== installing g++ (libfuzzer-sys compiles libFuzzer)"
    apt-get update -qq && apt-get install -y -qq g++ >/dev/null
fi

bash ./seed.sh

# --- build ----------------------------------------------------------------------------------
# -a: debug assertions, so integer overflow is a finding too.
build() { # SANITIZER
    echo "== cargo fuzz build -s $1 -a"
    nice -n 19 cargo fuzz build -s "$1" -a
}
# An empty input, once: does an instrumented binary start here at all?
smoke() {
    local t="${targets[0]}"
    "$bin_dir/$t" -runs=1 >"target/smoke-$t.log" 2>&1
}
if [ "$sanitizer" = address ]; then
    if build address && smoke; then
        :
    else
        echo "warning: the address sanitizer did not build or run here;" \
            "fuzzing without a sanitizer (-s none)" >&2
        sanitizer=none
    fi
fi
if [ "$sanitizer" = none ]; then
    build none
    smoke
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"

# --- run ------------------------------------------------------------------------------------
# The config_dir target writes into $TMPDIR/rinit-fuzz-PID: remove those of dead processes.
clean_scratch() {
    local d pid
    for d in "${TMPDIR:-/tmp}"/rinit-fuzz-*; do
        [ -d "$d" ] || continue
        pid="${d##*-}"
        if ! kill -0 "$pid" 2>/dev/null; then rm -rf "$d"; fi
    done
}

summary=()
failed=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log="artifacts/$t.log"
    args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
        -artifact_prefix="artifacts/$t/")
    case "$t" in
        config | config_dir) args+=(-dict=dicts/config.dict) ;;
        control) args+=(-dict=dicts/control.dict) ;;
    esac
    echo "== fuzz $t for ${seconds}s (sanitizer: $sanitizer)"
    status=0
    # The binary cargo fuzz runs, run directly: `cargo fuzz run` would rebuild for it.
    nice -n 19 "$bin_dir/$t" "${args[@]}" "corpus/$t" >"$log" 2>&1 || status=$?
    clean_scratch
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    if [ "$status" -eq 0 ]; then
        summary+=("fuzz $t: ${runs:-?} executions, 0 crashes")
        continue
    fi
    failed=1
    artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"
    summary+=("fuzz $t: ${runs:-?} executions, 1 crash${artifact:+ ($artifact)}")
    echo "!! fuzz $t failed (exit $status); its whole log: fuzz/$log"
    # The panic message, what libFuzzer or ASan says, and the backtrace's frames in
    # rinit and in the fuzz target (not in std, libFuzzer or other crates).
    grep -A2 -E "panicked at" "$log" | head -n 12 || true
    grep -E "^==[0-9]+==ERROR|^SUMMARY|^ALARM|out-of-memory" "$log" || true
    grep -E '^ +#[0-9]+ 0x.* [^ ]*(/src/|fuzz_targets/)[^ ]*\.rs:' "$log" \
        | grep -v -E '/rustc/|\.cargo/registry' | head -n 15 || true
    if [ -n "$artifact" ] && [ -f "$artifact" ]; then
        echo "!! crashing input: fuzz/$artifact ($(wc -c <"$artifact") bytes), hex:"
        od -An -tx1 -v "$artifact" | head -c 4000
        echo "!! reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run -s $sanitizer -a $t $artifact" \
            "(in fuzz/); keep it: cp $artifact regressions/$t/"
    fi
done

echo "== fuzz summary ($seconds s per target, sanitizer: $sanitizer)"
printf '%s\n' "${summary[@]}"
exit "$failed"
