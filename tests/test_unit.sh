#!/usr/bin/env bash
# contrib/kcmptrace-daemon@.service, checked without systemd running: the
# file verifies; its ExecStart, run as systemd would run it (root, the
# unit's capability bounding set and nothing more, no new privileges,
# UMask), serves right answers, freezes and thaws; every system call it
# makes is in the unit's SystemCallFilter=, every socket in
# RestrictAddressFamilies=, and it writes only where the sandbox lets it.
# Prints ok/not ok lines.
set -u
KT=$(realpath "${KCMPTRACE:-build/kcmptrace}")
UNIT=contrib/kcmptrace-daemon@.service

check() { # name, then a command that must succeed
	local name=$1
	shift
	if "$@"; then echo "ok - unit/$name"; else echo "not ok - unit/$name: $*"; fi
}
note() { echo "# $*"; }

if [ "$(id -u)" -ne 0 ]; then
	if [ "${CI:-}" = true ]; then
		echo "not ok - unit/root: missing capability: root (BPF, kcmp, cgroup writes)"
		exit 1
	fi
	note "skipped: needs root"
	exit 0
fi

tmp=$(mktemp -d /tmp/kcmptrace-unit.XXXXXX)
chmod 755 "$tmp"
cgroot=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' /proc/self/mountinfo | head -1)
cgname=kcmptrace-unit-$$
cg=$cgroot/$cgname
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	if [ -d "$cg" ]; then
		echo 0 >"$cg/cgroup.freeze" 2>/dev/null
		echo 1 >"$cg/cgroup.kill" 2>/dev/null
		while read -r p; do echo "$p" >"$cgroot/cgroup.procs"; done <"$cg/cgroup.procs"
		for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# The value of a [Service] setting, every assignment joined, comments skipped.
setting() { sed -n "s/^$1=//p" "$UNIT" | tr '\n' ' ' | sed 's/ $//'; }
has_word() { [[ " $1 " == *" $2 "* ]]; }

# ---- the file ----
check "file_exists" test -f "$UNIT"
caps=$(setting CapabilityBoundingSet)
for c in CAP_BPF CAP_PERFMON CAP_SYS_PTRACE CAP_SYS_RESOURCE; do
	check "caps_include_${c,,}" has_word "$caps" "$c"
done
for kv in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes UMask=0077 \
	RestrictAddressFamilies=AF_UNIX SystemCallArchitectures=native LockPersonality=yes \
	MemoryDenyWriteExecute=yes ProtectKernelModules=yes ProtectClock=yes; do
	check "sets_${kv%%=*}" test "$(setting "${kv%%=*}")" = "${kv#*=}"
done
check "runtime_directory" test -n "$(setting RuntimeDirectory)"
check "cgroups_writable" has_word "$(setting ReadWritePaths)" /sys/fs/cgroup
# settings that would break it: a pid namespace, a pid-only /proc, a user
# namespace of its own, a read-only cgroup tree
check "no_blocking_settings" bash -c "! grep -Eq '^(PrivatePIDs=yes|ProcSubset=pid|PrivateUsers=(yes|true)|ProtectControlGroups=(yes|true|strict|private))' '$UNIT'"

# a copy that runs the binary under test; instance names as systemctl makes them
mkdir "$tmp/units"
sed "s#^ExecStart=[^ ]*#ExecStart=$KT#" "$UNIT" >"$tmp/units/kcmptrace-daemon@.service"
inst=$(systemd-escape --path "/$cgname" 2>/dev/null || printf '%s' "kcmptrace\\x2dunit\\x2d$$")
if command -v systemd-analyze >/dev/null; then
	cp "$tmp/units/kcmptrace-daemon@.service" "$tmp/units/kcmptrace-daemon@$inst.service"
	check "systemd_analyze_verify" systemd-analyze verify "$tmp/units/kcmptrace-daemon@$inst.service"
	if systemd-analyze security --offline=true "$tmp/units/kcmptrace-daemon@$inst.service" \
		>"$tmp/security" 2>&1; then
		score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$tmp/security")
		note "systemd-analyze security: exposure $score"
		check "exposure_below_3" awk -v s="$score" 'BEGIN { exit !(s != "" && s < 3.0) }'
	fi
elif [ "${CI:-}" = true ]; then
	echo "not ok - unit/systemd_analyze: missing tool: systemd-analyze (make test installs it)"
else
	note "no systemd-analyze: not verified"
fi

# ---- a target in a fresh cgroup: root and nobody, sharing stdio and a file ----
mkdir "$cg" || { echo "not ok - unit/cgroup: cannot create $cg"; exit 1; }
bash -c "echo \$\$ >'$cg/cgroup.procs'; exec 3</etc/hostname
	setpriv --reuid=nobody --regid=nogroup --clear-groups sleep 300 & sleep 300 & wait" \
	</dev/null >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ "$(wc -l <"$cg/cgroup.procs")" -ge 3 ] && break; sleep 0.1; done

# ExecStart as systemd would expand it, with %t under our temporary directory
execstart() { # extra options for $KCMPTRACE_OPTS
	local line
	line=$(setting ExecStart)
	line=${line//%f/\/$cgname}
	line=${line//%i/$inst}
	line=${line//%t/$tmp/run}
	line=${line//\$KCMPTRACE_OPTS/$1}
	read -ra argv <<<"$line"
	argv[0]=$KT
}
mkdir -p "$tmp/run/kcmptrace/$inst"
chmod "$(setting RuntimeDirectoryMode)" "$tmp/run/kcmptrace/$inst"
sock=$tmp/run/kcmptrace/$inst/socket

# capability sets of /proc/PID/status by name (capsh may not be installed)
cap_names=(chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap
	linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner
	sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice
	sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap
	mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf
	checkpoint_restore)
decode_caps() { # pid, field (CapEff, CapBnd, ...)
	local hex i out=""
	hex=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status")
	for ((i = 0; i < 64; i++)); do
		((0x$hex >> i & 1)) && out+=cap_${cap_names[i]:-$i},
	done
	echo "${out%,}"
}

# the unit's capabilities, as setpriv names them; only those this machine has
have=$(decode_caps self CapBnd)
want="" missing=""
for c in $caps; do
	c=${c,,}
	if has_word "${have//,/ }" "$c"; then want+=${want:+,}$c; else missing+=" $c"; fi
done
[ -n "$missing" ] && note "not in this machine's bounding set, left out:$missing"
setpriv_caps=+${want//,cap_/,+}
setpriv_caps=${setpriv_caps/#+cap_/+}

start_daemon() { # log file, extra setpriv options, extra daemon options
	execstart "$3"
	# shellcheck disable=SC2086
	(umask "$(setting UMask)" && exec setpriv --no-new-privs --inh-caps=-all $2 \
		--bounding-set=-all,"$setpriv_caps" "${argv[@]}") 2>"$1" &
	dpid=$!
	for _ in $(seq 100); do
		grep -q serving "$1" && return 0
		kill -0 "$dpid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
sorted() { tr ' ,' '\n' | grep . | sort | tr '\n' ' '; }
caps_of() { decode_caps "$1" "$2" | sorted; }
same_sharing() { # two snapshot files: the same tasks, fds and grouping
	python3 - "$1" "$2" <<-'EOF'
		import json, sys
		def parts(path):
		    d = json.load(open(path))
		    out = {}
		    for t in d["tasks"]:
		        for k, v in t["ids"].items():
		            out.setdefault(k, {}).setdefault(v, set()).add(t["tid"])
		    for f in d["fds"]:
		        out.setdefault("file", {}).setdefault(f["file"], set()).add((f["tid"], f["fd"]))
		    return {k: sorted(sorted(g) for g in v.values()) for k, v in out.items()}
		sys.exit(parts(sys.argv[1]) != parts(sys.argv[2]))
	EOF
}
frozen_answer() { python3 -c 'import json,sys; sys.exit(not json.load(open(sys.argv[1]))["verification"]["frozen"])' "$1"; }
thawed() { [ "$(cat "$cg/cgroup.freeze")" = 0 ] && grep -qx "frozen 0" "$cg/cgroup.events"; }
nobody_present() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not any(t["tid"] == int(sys.argv[2]) for t in d["tasks"]))' "$1" "$2"; }

# ---- the daemon with the unit's capabilities and nothing else ----
if check "starts_with_unit_caps" start_daemon "$tmp/daemon.err" "" ""; then
	check "caps_exactly_the_units" test "$(caps_of "$dpid" CapEff)" = "$(echo "$want" | sorted)"
	check "bounding_set_the_units" test "$(caps_of "$dpid" CapBnd)" = "$(echo "$want" | sorted)"
	check "no_new_privs" grep -q "^NoNewPrivs:.*1" "/proc/$dpid/status"
	check "socket_0600" test "$(stat -c %a "$sock")" = 600
	"$KT" snapshot --cgroup "/$cgname" --json >"$tmp/cold.json"
	"$KT" snapshot --from "$sock" --json >"$tmp/warm.json"
	check "snapshot_exit_0" test $? -eq 0
	check "snapshot_equals_cold" same_sharing "$tmp/cold.json" "$tmp/warm.json"
	nobody_pid=0
	while read -r p; do
		[ "$(stat -c %u "/proc/$p" 2>/dev/null)" = "$(id -u nobody)" ] && nobody_pid=$p
	done <"$cg/cgroup.procs"
	check "sees_other_users_tasks" nobody_present "$tmp/warm.json" "$nobody_pid"
	"$KT" snapshot --from "$sock" --freeze --json >"$tmp/frozen.json"
	check "freeze_exit_0" test $? -eq 0
	check "freeze_taken_frozen" frozen_answer "$tmp/frozen.json"
	check "freeze_thawed" thawed
	check "freeze_equals_cold" same_sharing "$tmp/cold.json" "$tmp/frozen.json"
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$KT" snapshot --from "$sock" \
		>/dev/null 2>&1
	check "nobody_refused_exit_4" test $? -eq 4
	kill -TERM "$dpid"
	wait "$dpid"
	check "sigterm_exit_0" test $? -eq 0
	check "socket_removed" test ! -e "$sock"
else
	sed 's/^/#   /' "$tmp/daemon.err"
	kill "$dpid" 2>/dev/null
fi

# ---- the drop-in for a group: KCMPTRACE_OPTS=--group=G, SupplementaryGroups=G ----
group=$(getent group daemon adm sys bin users | awk -F: '$3 != 0 { print $1; exit }')
if [ -n "$group" ]; then
	gid=$(getent group "$group" | cut -d: -f3)
	if check "group_starts" start_daemon "$tmp/group.err" "--groups=$gid" "--group=$group"; then
		check "group_socket_0660" test "$(stat -c %a:%g "$sock")" = "660:$gid"
		setpriv --reuid=nobody --regid=nogroup --groups="$gid" "$KT" snapshot --from "$sock" \
			>/dev/null 2>&1
		check "group_member_accepted" test $? -eq 0
		kill -TERM "$dpid"
		wait "$dpid"
		check "group_sigterm_exit_0" test $? -eq 0
	else
		sed 's/^/#   /' "$tmp/group.err"
		kill "$dpid" 2>/dev/null
	fi
	# without SupplementaryGroups= root may not give the socket to the group
	if ! start_daemon "$tmp/nogroup.err" "" "--group=$group"; then
		wait "$dpid"
		check "group_needs_supplementary_groups" grep -q "Operation not permitted" "$tmp/nogroup.err"
	else
		note "--group worked without SupplementaryGroups= (CAP_CHOWN?)"
		kill -TERM "$dpid"
		wait "$dpid"
	fi
fi

# ---- what the daemon does, against the sandbox ----
# Expand SystemCallFilter= as systemd does, @default included.
expand() {
	local line
	systemd-analyze syscall-filter "$1" 2>/dev/null | tail -n +2 | while read -r line; do
		case $line in
		'#'* | '') ;;
		@*) expand "$line" ;;
		*) echo "$line" ;;
		esac
	done
}
if command -v strace >/dev/null && command -v systemd-analyze >/dev/null; then
	for f in @default $(setting SystemCallFilter); do
		case $f in @*) expand "$f" ;; *) echo "$f" ;; esac
	done | sort -u >"$tmp/allowed"
	execstart ""
	# setpriv's own calls come before the daemon's execve: only those after count
	(umask 0077 && exec strace -f -qq -o "$tmp/strace" setpriv --no-new-privs --inh-caps=-all \
		--bounding-set=-all,"$setpriv_caps" "${argv[@]}") 2>"$tmp/strace.err" &
	tracer=$!
	for _ in $(seq 100); do grep -q serving "$tmp/strace.err" && break; sleep 0.1; done
	dpid=$(pgrep -P "$tracer")
	# events, rescans, exits in the target while it serves
	bash -c "echo \$\$ >'$cg/cgroup.procs'; for i in \$(seq 100); do exec 7</etc/hostname; exec 7<&-; /bin/true; done" </dev/null >/dev/null 2>&1
	"$KT" snapshot --from "$sock" --json >/dev/null
	"$KT" snapshot --from "$sock" --freeze --json >/dev/null
	python3 -c 'import socket,sys
for r in (b"stats\n", b"health\n", b"nonsense\n"):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(r); s.recv(4096); s.close()' "$sock"
	kill -TERM "$dpid"
	wait "$tracer"
	awk -v kt="$KT" 'started { print } index($0, "execve(\"" kt "\"") && / = 0$/ { started = 1 }' \
		"$tmp/strace" >"$tmp/daemon.calls"
	check "strace_saw_the_daemon" test -s "$tmp/daemon.calls"
	sed -nE 's/^[0-9]+ +([a-z_0-9]+)\(.*/\1/p' "$tmp/daemon.calls" | sort -u >"$tmp/used"
	check "syscalls_in_filter" test -z "$(comm -23 "$tmp/used" "$tmp/allowed" | tee "$tmp/outside")"
	[ -s "$tmp/outside" ] && note "outside SystemCallFilter=: $(tr '\n' ' ' <"$tmp/outside")"
	check "sockets_only_af_unix" bash -c "! grep -E '(^| )socket\\(' '$tmp/daemon.calls' | grep -vq 'socket(AF_UNIX'"
	# ProtectSystem=strict, ProtectHome=, ProtectKernelTunables=: writes only to the
	# cgroup tree, the runtime directory and /dev/null; never near /proc/kallsyms or /home
	grep -E 'open(at)?\(.*O_(WRONLY|RDWR|CREAT)|(unlink|mkdir|rename|chmod|chown|bind)(at)?\(' \
		"$tmp/daemon.calls" | grep -oE '"[^"]*"' | tr -d '"' | sort -u >"$tmp/written"
	check "writes_only_where_allowed" bash -c "! grep -Ev '^(/sys/fs/cgroup/|$tmp/run/|/dev/null$)' '$tmp/written'"
	grep -Ev "^(/sys/fs/cgroup/|$tmp/run/|/dev/null$)" "$tmp/written" | sed 's/^/#   written: /'
	check "no_kallsyms_no_home" bash -c "! grep -Eq '\"(/proc/kallsyms|/proc/kcore|/home/|/root/)' '$tmp/daemon.calls'"
elif [ "${CI:-}" = true ]; then
	echo "not ok - unit/syscall_audit: missing tool: strace or systemd-analyze (make test installs them)"
else
	note "no strace or systemd-analyze: system calls not audited"
fi
