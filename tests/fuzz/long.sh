#!/bin/sh
# The long fuzzing campaign (`make fuzz-long`, never part of make check):
# runs every libFuzzer target for FUZZ_LONG_SECONDS (default 600) on a corpus
# kept between campaigns in $builddir/fuzz-long/NAME (seeded from
# tests/fuzz/corpus/NAME), then replays that corpus through a coverage build
# of the same target (TARGET.cov, built by make with clang's source-based
# coverage) and reports the lines and branches of the parsers it reached.
# Crashes, leaks and timeouts are kept as $builddir/fuzz-long/NAME.crash-*
# and make the campaign fail.
#
# Environment: FUZZ_TARGETS (set by make), FUZZ_LONG_SECONDS, FUZZ_LONG_ONLY
# (a space-separated list of target names to run, default all),
# FUZZ_LONG_JOBS (targets run at once, default 1: each gets its full
# FUZZ_LONG_SECONDS of wall time whatever the number), MAILHUB_BUILDDIR,
# MAILHUB_SRCDIR.
seconds=${FUZZ_LONG_SECONDS:-600}
jobs=${FUZZ_LONG_JOBS:-1}
builddir=${MAILHUB_BUILDDIR:-.}
srcdir=${MAILHUB_SRCDIR:-.}
profdata=$(command -v llvm-profdata || command -v llvm-profdata-14)
llvmcov=$(command -v llvm-cov || command -v llvm-cov-14)

out="$builddir/fuzz-long"
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
status=0
printf '%-22s %12s %8s %8s %8s %8s  %s\n' target runs exec/s corpus lines branches result |
	tee -a "$summary"
# One target: its run, then its coverage; the result line goes to
# $out/NAME.result, printed in the targets' order once all have ended.
run_target() {
	target=$1
	name=$(basename "$target")
	corpus="$out/$name"
	mkdir -p "$corpus"
	seeds="$srcdir/tests/fuzz/corpus/$name"
	[ -d "$seeds" ] || seeds=
	log="$out/$name.log"
	result=ok
	# A finding stops that target's run (fix it, then run again: the corpus
	# is kept); its input lands in $out as NAME.crash-/leak-/timeout-/oom-.
	if ! "$builddir/$target" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$out/$name." "$corpus" $seeds >"$log" 2>&1; then
		result=FAILED
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	files=$(ls "$corpus" | wc -l)

	lines=- branches=-
	if [ -x "$builddir/$target.cov" ] && [ -n "$profdata" ] && [ -n "$llvmcov" ]; then
		raw="$out/$name.profraw"
		rm -f "$raw"
		LLVM_PROFILE_FILE="$raw" "$builddir/$target.cov" -runs=0 \
			"$corpus" $seeds >"$out/$name.cov.log" 2>&1
		if "$profdata" merge -sparse "$raw" -o "$out/$name.profdata" 2>/dev/null; then
			"$llvmcov" report "$builddir/$target.cov" \
				-instr-profile="$out/$name.profdata" \
				>"$out/$name.coverage.txt" 2>&1
			# Counted over the target's own sources (fuzz-long.srcs, made
			# by make: NAME FILE...), not the helpers every target links.
			# Columns: file, regions, missed, cover, functions, missed,
			# cover, lines, missed, cover, branches, missed, cover.
			own=$(sed -n "s/^$name //p" "$builddir/fuzz-long.srcs" 2>/dev/null)
			set -- $(awk -v own=" $own " '
				{ n = split($1, path, "/") }
				n && index(own, " " path[n] " ") { l += $8; lm += $9; b += $11; bm += $12 }
				END { printf "%.1f%% %.1f%%\n", l ? 100 * (l - lm) / l : 0,
					b ? 100 * (b - bm) / b : 0 }' "$out/$name.coverage.txt")
			lines=$1 branches=$2
		fi
	fi
	{
		printf '%-22s %12s %8s %8s %8s %8s  %s\n' "$name" "${runs:-?}" "${rate:-?}" \
			"$files" "$lines" "$branches" "$result"
		if [ "$result" != ok ]; then
			grep -E 'ERROR|SUMMARY|artifact' "$log" | head -n 20 | sed 's/^/    /'
		fi
	} >"$out/$name.result"
}

names=
running=0
for target in $FUZZ_TARGETS; do
	name=$(basename "$target")
	if [ -n "${FUZZ_LONG_ONLY:-}" ]; then
		case " $FUZZ_LONG_ONLY " in *" $name "*) ;; *) continue ;; esac
	fi
	names="$names $name"
	rm -f "$out/$name.result"
	run_target "$target" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait
for name in $names; do
	if [ -f "$out/$name.result" ]; then
		cat "$out/$name.result"
	else
		printf '%-22s no result\n' "$name"
		status=1
	fi
done | tee -a "$summary"
# (the loop above runs in a pipe's subshell: judge by what it printed)
tail -n +2 "$summary" | grep -qv ' ok$' && status=1
echo "per-file coverage: $out/NAME.coverage.txt; summary: $summary"
exit $status
