#!/usr/bin/env bash
# kcmptrace diff as a user meets it: exit codes as diff(1)'s, one positioned
# line for a bad file, usage errors, atomic output files, JSON that parses,
# no root needed, no kernel address anywhere.  Prints ok/not ok lines.
set -u
KT=${KCMPTRACE:-build/kcmptrace}
tmp=$(mktemp -d /tmp/kcmptrace-diff-cli.XXXXXX)
chmod 755 "$tmp"
root=
kids=()
trap '[ -n "$root" ] && kill -9 "$root" "${kids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT

check() { # name, then a command that must succeed
	local name=$1; shift
	if "$@"; then echo "ok - $name"; else echo "not ok - $name: $*"; fi
}
lines() { [ "$(wc -l <"$1")" -eq "$2" ]; }
status_is() { [ "$rc" -eq "$1" ]; }
empty() { [ ! -s "$1" ]; }
no_leftovers() { [ -z "$(ls -A "$1")" ]; }
run() { "$KT" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; cat "$tmp/out" "$tmp/err" >>"$tmp/all"; }

# JSON checks: jq (in the Makefile's DEB_PKGS), or python3 where jq is missing
json_ok() { # FILE JQ-EXPR PYTHON-EXPR (on d, the document): true
	if command -v jq >/dev/null; then
		jq -e "$2" "$1" >/dev/null 2>&1
	elif command -v python3 >/dev/null; then
		python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$3"
	else
		echo "# neither jq nor python3 to read JSON" >&2
		return 1
	fi
}
json_sorted() { # FILE OUT: the same document with keys sorted, pretty-printed
	if command -v jq >/dev/null; then
		jq -S . "$1" >"$2"
	else
		python3 -c 'import json,sys; json.dump(json.load(open(sys.argv[1])), open(sys.argv[2], "w"), sort_keys=True, indent=2)' "$1" "$2"
	fi
}
# "kcmptrace: FILE: line L, column C (byte B): ..."
positioned() { # FILE-NAME-AS-SHOWN
	grep -Eq "^kcmptrace: $1: line [0-9]+, column [0-9]+ \(byte [0-9]+\): .+" "$tmp/err"
}

# ---- a process tree that holds still: a shell and its two children ----
setsid bash -c 'sleep 300 & sleep 300 & wait' </dev/null >/dev/null 2>&1 &
root=$!
disown
for _ in $(seq 100); do [ "$(pgrep -c -P "$root")" -eq 2 ] && break; sleep 0.05; done
kids=($(pgrep -P "$root"))
check "setup/tree" [ "${#kids[@]}" -eq 2 ]

"$KT" snapshot -t "$root" --json -o "$tmp/A.json"
"$KT" snapshot -t "$root" --json -o "$tmp/A2.json"
kill -9 "${kids[0]}"
for _ in $(seq 100); do [ "$(pgrep -c -P "$root")" -eq 1 ] && break; sleep 0.05; done
"$KT" snapshot -t "$root" --json -o "$tmp/B.json"
check "setup/snapshots" [ -s "$tmp/A.json" ] && [ -s "$tmp/A2.json" ] && [ -s "$tmp/B.json" ]
chmod 644 "$tmp"/*.json

# ---- 0: no differences ----
run diff "$tmp/A.json" "$tmp/A.json"
check "same_file/exit_0" status_is 0
check "same_file/says_so" [ "$(cat "$tmp/out")" = "no differences" ]
check "same_file/no_stderr" empty "$tmp/err"

run diff "$tmp/A.json" "$tmp/A2.json"
check "second_snapshot/exit_0" status_is 0

json_sorted "$tmp/A.json" "$tmp/A-sorted.json"
run diff "$tmp/A.json" "$tmp/A-sorted.json"
check "keys_sorted_pretty/exit_0" status_is 0

run diff --json "$tmp/A.json" "$tmp/A.json"
check "same_file_json/exit_0" status_is 0
check "same_file_json/one_line" lines "$tmp/out" 1
check "same_file_json/empty" json_ok "$tmp/out" \
	'.schema == "kcmptrace-diff" and .version == 1 and .differences == 0 and (.tasks | length) == 0 and (.fds | length) == 0' \
	'd["schema"] == "kcmptrace-diff" and d["version"] == 1 and d["differences"] == 0 and not d["tasks"] and not d["fds"]'

run diff - "$tmp/A.json" <"$tmp/A.json"
check "stdin/exit_0" status_is 0

# ---- 1: differences ----
gone=${kids[0]}
run diff "$tmp/A.json" "$tmp/B.json"
check "different/exit_1" status_is 1
check "different/no_stderr" empty "$tmp/err"
check "different/header" bash -c "head -2 '$tmp/out' | grep -q '^--- $tmp/A.json (backend ' && sed -n 2p '$tmp/out' | grep -q '^+++ $tmp/B.json (backend '"
check "different/task_gone" grep -Eq "^  - $gone sleep: tgid $gone, ppid $root\$" "$tmp/out"
check "different/its_fds_gone" grep -Eq "^  - $gone sleep fd 0: /dev/null \[chr\]\$" "$tmp/out"
check "different/sections" bash -c "grep -qx 'Tasks:' '$tmp/out' && grep -qx 'Fds:' '$tmp/out' && grep -qx 'Shared file:' '$tmp/out'"
check "different/count_line" bash -c "tail -1 '$tmp/out' | grep -Eq '^[0-9]+ differences: 1 tasks, [0-9]+ fds, [0-9]+ sharing groups\$'"

run diff "$tmp/B.json" "$tmp/A.json"
check "reversed/exit_1" status_is 1
check "reversed/task_back" grep -Eq "^  \+ $gone sleep: " "$tmp/out"

run diff "$tmp/A.json" - <"$tmp/B.json"
check "stdin_b/exit_1" status_is 1
check "stdin_b/named" grep -q '^+++ <stdin> (' "$tmp/out"

run diff --json "$tmp/A.json" "$tmp/B.json"
check "json/exit_1" status_is 1
check "json/one_line" lines "$tmp/out" 1
check "json/parses" json_ok "$tmp/out" '.schema == "kcmptrace-diff"' 'd["schema"] == "kcmptrace-diff"'
check "json/the_task" json_ok "$tmp/out" \
	"(.tasks | length) == 1 and .tasks[0].op == \"disappeared\" and .tasks[0].tid == $gone and .tasks[0].a.comm == \"sleep\"" \
	"len(d['tasks']) == 1 and d['tasks'][0]['op'] == 'disappeared' and d['tasks'][0]['tid'] == $gone and d['tasks'][0]['a']['comm'] == 'sleep'"
check "json/counts" json_ok "$tmp/out" \
	'.differences == (.tasks | length) + (.fds | length) + ([.shared[][]] | length) and (.shared | keys | length) == 7' \
	'd["differences"] == len(d["tasks"]) + len(d["fds"]) + sum(len(v) for v in d["shared"].values()) and len(d["shared"]) == 7'
check "json/names" json_ok "$tmp/out" \
	".a.name == \"$tmp/A.json\" and .b.name == \"$tmp/B.json\" and .a.backend == \"bpf\"" \
	"d['a']['name'] == '$tmp/A.json' and d['b']['name'] == '$tmp/B.json' and d['a']['backend'] == 'bpf'"

# a change in a field: another comm for the first sleeping child
sed "0,/\"comm\":\"sleep\"/s//\"comm\":\"sleeq\"/" "$tmp/A.json" >"$tmp/A-renamed.json"
run diff "$tmp/A.json" "$tmp/A-renamed.json"
check "comm_changed/exit_1" status_is 1
check "comm_changed/says_what" grep -Eq '^  ~ [0-9]+ sleeq: comm sleep -> sleeq$' "$tmp/out"
check "comm_changed/only_that" bash -c "tail -1 '$tmp/out' | grep -q '^1 differences: 1 tasks, 0 fds, 0 sharing groups\$'"

# ---- 2: trouble in the input, one line naming the file and where ----
head -c 300 "$tmp/A.json" >"$tmp/T.json"
run diff "$tmp/A.json" "$tmp/T.json"
check "truncated/exit_2" status_is 2
check "truncated/one_line" lines "$tmp/err" 1
check "truncated/positioned" positioned "$tmp/T.json"
check "truncated/no_stdout" empty "$tmp/out"

size=$(stat -c %s "$tmp/A.json")
head -c $((size - 2)) "$tmp/A.json" >"$tmp/T2.json" # without its closing brace
run diff "$tmp/A.json" "$tmp/T2.json"
check "truncated_end/exit_2" status_is 2
check "truncated_end/at_the_end" grep -qx "kcmptrace: $tmp/T2.json: line 1, column $((size - 1)) (byte $((size - 2))): parse error: premature EOF" "$tmp/err"

run diff "$tmp/T.json" "$tmp/A.json"
check "truncated_first/exit_2" status_is 2
check "truncated_first/positioned" positioned "$tmp/T.json"

run diff - "$tmp/A.json" <"$tmp/T.json"
check "truncated_stdin/exit_2" status_is 2
check "truncated_stdin/positioned" positioned "<stdin>"

sed '0,/"fd":0,/s//"fd":"0",/' "$tmp/A.json" >"$tmp/W.json"
run diff "$tmp/A.json" "$tmp/W.json"
check "wrong_type/exit_2" status_is 2
check "wrong_type/one_line" lines "$tmp/err" 1
check "wrong_type/positioned" positioned "$tmp/W.json"
check "wrong_type/names_member" grep -q 'fds\[[0-9]*\]\.fd: expected an integer, not a string' "$tmp/err"

echo 'hello' >"$tmp/G.json"
run diff "$tmp/G.json" "$tmp/A.json"
check "garbage/exit_2" status_is 2
check "garbage/one_line" lines "$tmp/err" 1
check "garbage/positioned" positioned "$tmp/G.json"

: >"$tmp/E.json"
run diff "$tmp/A.json" "$tmp/E.json"
check "empty_file/exit_2" status_is 2
check "empty_file/positioned" positioned "$tmp/E.json"

# another version or schema is said as such (docs/snapshot-schema.md): no position
sed 's/"version":1,/"version":2,/' "$tmp/A.json" >"$tmp/V.json"
run diff "$tmp/A.json" "$tmp/V.json"
check "wrong_version/exit_2" status_is 2
check "wrong_version/one_line" lines "$tmp/err" 1
check "wrong_version/says_so" grep -qx "kcmptrace: $tmp/V.json: unsupported snapshot version 2" "$tmp/err"

sed 's/"kcmptrace-snapshot"/"kcmptrace-other"/' "$tmp/A.json" >"$tmp/S.json"
run diff "$tmp/S.json" "$tmp/A.json"
check "wrong_schema/exit_2" status_is 2
check "wrong_schema/one_line" lines "$tmp/err" 1
check "wrong_schema/says_so" grep -q "^kcmptrace: $tmp/S.json: not a kcmptrace snapshot" "$tmp/err"

run diff "$tmp/A.json" "$tmp/no-such.json"
check "missing_file/exit_2" status_is 2
check "missing_file/one_line" lines "$tmp/err" 1
check "missing_file/says_so" grep -qx "kcmptrace: $tmp/no-such.json: No such file or directory" "$tmp/err"

run diff "$tmp" "$tmp/A.json"
check "directory/exit_2" status_is 2
check "directory/one_line" lines "$tmp/err" 1

# ---- 2: usage ----
for args in "" "$tmp/A.json" "$tmp/A.json $tmp/A.json $tmp/A.json" "-x $tmp/A.json $tmp/A.json" \
	"--bogus $tmp/A.json $tmp/A.json" "$tmp/A.json $tmp/A.json -o" "- -"; do
	# shellcheck disable=SC2086
	run diff $args </dev/null
	name="usage/${args//$tmp\//}"
	check "$name/exit_2" status_is 2
	check "$name/one_line" lines "$tmp/err" 1
	check "$name/no_stdout" empty "$tmp/out"
done

run diff --help
check "help/exit_0" status_is 0
check "help/usage" grep -q '^Usage: kcmptrace diff ' "$tmp/out"
check "help/no_stderr" empty "$tmp/err"
run --help
check "help/lists_diff" grep -q '^  diff ' "$tmp/out"

# ---- output files: atomic, 0600, nothing left on failure ----
mkdir "$tmp/o" && chmod 777 "$tmp/o"
run diff -o "$tmp/o/d.txt" "$tmp/A.json" "$tmp/B.json"
check "output/exit_1" status_is 1
check "output/mode_0600" [ "$(stat -c %a "$tmp/o/d.txt")" = 600 ]
check "output/only_the_file" [ "$(ls -A "$tmp/o")" = d.txt ]
check "output/no_stdout" empty "$tmp/out"
check "output/content" grep -Eq "^  - $gone sleep: " "$tmp/o/d.txt"
cat "$tmp/o/d.txt" >>"$tmp/all"

run diff --json --output "$tmp/o/d.json" "$tmp/A.json" "$tmp/A.json"
check "output_json/exit_0" status_is 0
check "output_json/mode_0600" [ "$(stat -c %a "$tmp/o/d.json")" = 600 ]
check "output_json/parses" json_ok "$tmp/o/d.json" '.differences == 0' 'd["differences"] == 0'

mkdir "$tmp/o2" && chmod 777 "$tmp/o2"
run diff -o "$tmp/o2/d.txt" "$tmp/A.json" "$tmp/T.json"
check "output_bad_input/exit_2" status_is 2
check "output_bad_input/no_file" no_leftovers "$tmp/o2"

echo "previous" >"$tmp/o2/keep.txt"
run diff -o "$tmp/o2/keep.txt" "$tmp/V.json" "$tmp/A.json"
check "output_bad_input/old_file_kept" [ "$(cat "$tmp/o2/keep.txt")" = previous ]
check "output_bad_input/no_temporary" [ "$(ls -A "$tmp/o2")" = keep.txt ]

run diff -o /proc/kcmptrace-cannot-write-here "$tmp/A.json" "$tmp/B.json"
check "output_unwritable/exit_2" status_is 2
check "output_unwritable/one_line" lines "$tmp/err" 1

# ---- no root needed to compare files ----
setpriv --reuid=nobody --regid=nogroup --clear-groups "$KT" diff -o "$tmp/o/nobody.txt" \
	"$tmp/A.json" "$tmp/B.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "unprivileged/exit_1" status_is 1
check "unprivileged/no_stderr" empty "$tmp/err"
check "unprivileged/owned_0600" [ "$(stat -c %a:%U "$tmp/o/nobody.txt")" = 600:nobody ]

# ---- a whole machine, against itself ----
"$KT" snapshot --json -o "$tmp/M.json" 2>/dev/null
run diff "$tmp/M.json" "$tmp/M.json"
check "machine/itself_exit_0" status_is 0
run diff --json "$tmp/M.json" "$tmp/A.json"
check "machine/vs_tree_exit_1" status_is 1
check "machine/vs_tree_parses" json_ok "$tmp/out" '.differences > 0' 'd["differences"] > 0'

# ---- no output carries a kernel address ----
check "no_kernel_address/hex" bash -c "! grep -Eiq 'ffff[0-9a-f]{12}' '$tmp/all'"
check "no_kernel_address/decimal" bash -c "! grep -Eq '(^|[^0-9])(1844[0-9]{16}|-1[0-9]{13,14})([^0-9]|$)' '$tmp/all'"
