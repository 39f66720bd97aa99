#!/bin/sh
# Runs every libFuzzer target briefly on a copy of its seed corpus and
# reports one TAP line per target.  FUZZ_SECONDS sets the time per target.
seconds=${FUZZ_SECONDS:-10}
builddir=${MAILHUB_BUILDDIR:-.}
srcdir=${MAILHUB_SRCDIR:-.}

set -- $FUZZ_TARGETS
if [ $# -eq 0 ]; then
	echo "1..0 # SKIP no fuzz targets"
	exit 0
fi
if ! command -v clang >/dev/null 2>&1; then
	echo "1..0 # SKIP clang (libFuzzer) not installed"
	exit 0
fi
echo "1..$#"
n=0
status=0
work=$(mktemp -d "${TMPDIR:-/tmp}/mailhub-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
for target in "$@"; do
	n=$((n + 1))
	name=$(basename "$target")
	seeds="$srcdir/tests/fuzz/corpus/$name"
	corpus="$work/$name"
	mkdir -p "$corpus"
	log="$work/$name.log"
	if [ ! -x "$builddir/$target" ]; then
		echo "not ok $n - $name # not built"
		status=1
		continue
	fi
	[ -d "$seeds" ] || seeds=
	# The first folder receives new inputs; the seeds stay untouched.
	if "$builddir/$target" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		"$corpus" $seeds >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "ok $n - $name ($runs runs in ${seconds}s)"
	else
		echo "not ok $n - $name"
		sed -e 's/^/# /' "$log" | tail -n 60
		status=1
	fi
done
exit $status
