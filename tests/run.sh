#!/usr/bin/env bash
# Run every test program and script; each prints "ok - NAME" / "not ok - NAME"
# lines. Ends with the total as "N passed, N failed".
#   tests/run.sh [BUILD_DIR] [FILTER]
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-build}
filter=${2:-}
export KCMPTRACE="$PWD/$out/kcmptrace"
export KT_TESTS_BIN="$PWD/$out/tests"
log=$(mktemp -d /tmp/kcmptrace-tests.XXXXXX)
passed=0 failed=0

run_one() {
	local name=$1; shift
	local t0=$SECONDS rc
	"$@" >"$log/$name.out" 2>"$log/$name.err"
	rc=$?
	local p f
	p=$(grep -c '^ok - ' "$log/$name.out")
	f=$(grep -c '^not ok - ' "$log/$name.out")
	grep '^not ok - ' "$log/$name.out"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# a crash or an early exit is a failure even if no check said so
		echo "not ok - $name: exited with status $rc"
		tail -n 5 "$log/$name.err" | sed 's/^/    /'
		f=1
	fi
	passed=$((passed + p)); failed=$((failed + f))
	printf '%-28s %4d passed, %d failed (%ds)\n' "$name" "$p" "$f" $((SECONDS - t0))
}

for t in "$out"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	[ -n "$filter" ] && [[ $name != *$filter* ]] && continue
	run_one "$name" "$t"
done
for t in tests/test_*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	[ -n "$filter" ] && [[ $name != *$filter* ]] && continue
	run_one "$name" bash "$t"
done
echo "logs: $log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
