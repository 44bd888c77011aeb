#!/usr/bin/env bash
# The command line as a user meets it: bad input, privileges, output files,
# formats, fallbacks and the tracer's lifecycle.  Prints ok/not ok lines.
set -u
KT=${KCMPTRACE:-build/kcmptrace}
tmp=$(mktemp -d /tmp/kcmptrace-cli.XXXXXX)
chmod 755 "$tmp"
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
passed=0 failed=0

check() { # name, then a command that must succeed
	local name=$1; shift
	if "$@"; then echo "ok - $name"; else echo "not ok - $name: $*"; fi
}
lines() { [ "$(wc -l <"$1")" -eq "$2" ]; }
status_is() { [ "$rc" -eq "$1" ]; }
empty() { [ ! -s "$1" ]; }
no_leftovers() { [ -z "$(ls -A "$1")" ]; }

# ---- bad input: one line on stderr, a distinct exit code, nothing on stdout ----
run() { "$KT" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }

run snapshot -p 999999999
check "no_such_pid/exit_3" status_is 3
check "no_such_pid/one_line" lines "$tmp/err" 1
check "no_such_pid/says_so" grep -q "no such process" "$tmp/err"
check "no_such_pid/no_stdout" empty "$tmp/out"

run snapshot --cgroup /kcmptrace-no-such-cgroup
check "no_such_cgroup/exit_3" status_is 3
check "no_such_cgroup/one_line" lines "$tmp/err" 1
check "no_such_cgroup/says_so" grep -q "no such cgroup" "$tmp/err"

run snapshot --backend nope
check "bad_backend/exit_2" status_is 2
check "bad_backend/one_line" lines "$tmp/err" 1

run snapshot -p 1,notapid
check "bad_pid/exit_2" status_is 2

run snapshot -p $$ -t $$
check "two_targets/exit_2" status_is 2

mkdir "$tmp/outdir" && chmod 777 "$tmp/outdir"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$KT" snapshot --json \
	-o "$tmp/outdir/snap.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "unprivileged/exit_4" status_is 4
check "unprivileged/one_line" lines "$tmp/err" 1
check "unprivileged/no_output_file" no_leftovers "$tmp/outdir"

run snapshot -p $$ -o /proc/kcmptrace-cannot-write-here
check "unwritable_output/exit_1" status_is 1
check "unwritable_output/one_line" lines "$tmp/err" 1

# ---- output files: atomic, 0600, complete ----
run snapshot -t $$ --json --stats -o "$tmp/outdir/snap.json"
check "json_file/exit_0" status_is 0
check "json_file/mode_0600" [ "$(stat -c %a "$tmp/outdir/snap.json")" = 600 ]
check "json_file/only_the_file" [ "$(ls -A "$tmp/outdir")" = snap.json ]
check "json_file/valid_json" python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['schema']=='kcmptrace-snapshot' and d['version']==1 and d['tasks']" "$tmp/outdir/snap.json"
check "json_file/has_stats" python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['stats']['kinds']['file']['kcmp_calls'] >= 0" "$tmp/outdir/snap.json"

# a device is written in place, never replaced by a regular file
mknod "$tmp/null" c 1 3
run snapshot -t $$ --json -o "$tmp/null"
check "device_output/exit_0" status_is 0
check "device_output/still_a_device" [ -c "$tmp/null" ]
check "device_output/no_temporary" [ "$(ls "$tmp" | grep -c '^null')" = 1 ]
# through a symlink the file it names is replaced, and the link stays
ln -s "$tmp/outdir/snap.json" "$tmp/link.json"
run snapshot -t $$ --json -o "$tmp/link.json"
check "symlink_output/link_kept" [ -L "$tmp/link.json" ]
check "symlink_output/file_written" grep -q kcmptrace-snapshot "$tmp/outdir/snap.json"

# ---- no output carries a kernel address ----
"$KT" snapshot --stats >"$tmp/all.txt" 2>&1
"$KT" snapshot --json --stats >>"$tmp/all.txt" 2>&1
"$KT" snapshot --dot --stats >>"$tmp/all.txt" 2>&1
"$KT" snapshot --genid criu --json >>"$tmp/all.txt" 2>&1
"$KT" snapshot -p 999999999 >>"$tmp/all.txt" 2>&1
# as hex (ffff8..., 0xffff...) or as a 64-bit number in decimal, signed or not
check "no_kernel_address/hex" bash -c "! grep -Eiq 'ffff[0-9a-f]{12}' '$tmp/all.txt'"
check "no_kernel_address/decimal" bash -c "! grep -Eq '(^|[^0-9])(1844[0-9]{16}|-1[0-9]{13,14})([^0-9]|$)' '$tmp/all.txt'"
check "dot/is_a_graph" bash -c "'$KT' snapshot -t $$ --dot | head -1 | grep -q '^graph kcmptrace {'"

# ---- without BPF, the procfs backend steps in and says why ----
setpriv --inh-caps=-bpf,-perfmon,-sys_admin --bounding-set=-bpf,-perfmon,-sys_admin \
	"$KT" snapshot -p $$ >"$tmp/out" 2>"$tmp/err"
rc=$?
check "fallback/exit_0" status_is 0
check "fallback/one_line_why" lines "$tmp/err" 1
check "fallback/says_procfs" grep -q "using the procfs backend" "$tmp/err"
check "fallback/output_is_procfs" grep -q "backend procfs" "$tmp/out"

# ---- the tracer ----
wait_for() { # file, pattern, tenths of a second
	for _ in $(seq "$3"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
# A tracer in the background ($tracer).  The old output goes first: the
# shell truncates it only in the child, and waiting for "tracing" in what
# the last tracer wrote would not wait for this one.
trace_bg() {
	rm -f "$tmp/trace.out" "$tmp/trace.err"
	"$KT" trace "$@" >"$tmp/trace.out" 2>"$tmp/trace.err" &
	tracer=$!
}
sleep 300 &
target=$!
trace_bg -p $target
check "trace/ready" wait_for "$tmp/trace.err" "tracing" 100
# our own objects, by the ids in the tracer's fdinfo: other BPF users may run
bpf_ids() { cat /proc/"$1"/fdinfo/* 2>/dev/null | awk -v k="$2_id:" '$1 == k { print $2 }' | sort -u; }
progs=$(bpf_ids $tracer prog); links=$(bpf_ids $tracer link); maps=$(bpf_ids $tracer map)
check "trace/programs_loaded" bash -c "[ -n '$progs' ] && [ -n '$links' ] && bpftool prog show | grep -q trace_sys_exit"
kill -9 $tracer; wait $tracer 2>/dev/null
gone() { # KIND IDS...: none of them is loaded any more (freeing is asynchronous)
	local kind=$1; shift
	for _ in $(seq 50); do
		local left=0
		for id in "$@"; do bpftool "$kind" show id "$id" >/dev/null 2>&1 && left=1; done
		[ $left = 0 ] && return 0
		sleep 0.1
	done
	return 1
}
check "trace/kill9_leaves_no_program" gone prog $progs
check "trace/kill9_leaves_no_link" gone link $links
check "trace/kill9_leaves_no_map" gone map $maps

trace_bg -p $target --json --snapshot-on-exit "$tmp/live.json"
wait_for "$tmp/trace.err" "tracing" 100
kill -USR1 $tracer
check "trace/sigusr1_snapshot" wait_for "$tmp/live.json" "kcmptrace-snapshot" 50
check "trace/sigusr1_snapshot_0600" [ "$(stat -c %a "$tmp/live.json" 2>/dev/null)" = 600 ]
kill $target; wait $target 2>/dev/null
wait $tracer
rc=$?
check "trace/target_exit_ends_trace" status_is 0
check "trace/said_target_exited" grep -q "the target has exited" "$tmp/trace.err"
check "trace/json_lines" python3 -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" "$tmp/trace.out"
check "trace/summary_last" bash -c "tail -1 '$tmp/trace.out' | grep -q '\"event\":\"summary\"'"

sleep 300 &
target=$!
trace_bg -p $target
wait_for "$tmp/trace.err" "tracing" 100
kill -INT $tracer; wait $tracer
rc=$?
check "trace/sigint_clean_exit" status_is 0
check "trace/sigint_summary" grep -q "^summary:" "$tmp/trace.out"
kill $target 2>/dev/null

# change lines: a dup and its close, and a fork, as the reader sees them
cat >"$tmp/dups.py" <<'PY'
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
fd = os.open("/dev/null", os.O_RDONLY)
os.dup2(fd, 40)
os.close(40)
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print(fd, pid, flush=True)
time.sleep(1)  # fd stays open while the tracer reads its path
PY
python3 "$tmp/dups.py" "$tmp/go" >"$tmp/dups.out" &
target=$!
trace_bg -p $target
wait_for "$tmp/trace.err" "tracing" 100
touch "$tmp/go"
wait $target; wait $tracer
read -r src child <"$tmp/dups.out"
ts='^ *\+[0-9]+\.[0-9]{6} '
check "trace_lines/dup_shares" grep -Eq "${ts}dup2 +$target python3 +fd 40: /dev/null \[chr\] shared by $target fd 40, $target fd $src\$" "$tmp/trace.out"
check "trace_lines/close_leaves" grep -Eq "${ts}close +$target python3 +fd 40: /dev/null \[chr\] still held by $target fd $src\$" "$tmp/trace.out"
check "trace_lines/fork_copies" grep -Eq "${ts}fork +$child python3 +from $target: copies, shares no task object\$" "$tmp/trace.out"
check "trace_lines/summary" grep -Eq "^summary: [0-9]+ tasks, [0-9]+ fds, [0-9]+ events, 0 lost events" "$tmp/trace.out"
# what the tracer said, for whoever reads a failure
[ "$(grep -Ec "^ *\+[0-9.]+ (dup2|close|fork) +($target|$child) " "$tmp/trace.out")" -ge 3 ] ||
	sed 's/^/# trace: /' "$tmp/trace.out" "$tmp/trace.err"

run trace --buffer-size 3000
check "trace/bad_buffer_size_exit_2" status_is 2
