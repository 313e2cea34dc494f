# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2016,SC2154
#
# The system test's limit checks (sourced by run.sh, which defines ok,
# not_ok, check, note, as_root, as_user, hold_session, alice_session,
# cell_inits, wait_no_cells): MemoryMax, TasksMax and CPUQuota of a
# Scope session cell set on its logind session scope, a Scope user cell's
# on user-UID.slice, and logind still tracking and ending the session.
# A second user, bob, is made in the guest for it (the image is a snapshot).
#
# Timing under emulation varies by a third or more between runs: CPUQuota is
# checked from above only (the kernel's quota is exact whatever the load; a
# busy host may give a loop less than its quota), and login times are noted,
# not asserted (bench/ measures).

limits_policy='Match User alice
    MemoryMax 64M
    TasksMax 200
    CPUQuota 50%
Match User bob
    Scope user
    MemoryMax 96M
    TasksMax 300
'

as_bob() { vm_ssh bob "$@"; }

# The cgroup v2 path of alice's newest ssh session scope (from logind).
alice_scope_cg() {
	local sid
	sid=$(alice_session)
	[ -n "$sid" ] && echo "/sys/fs/cgroup/user.slice/user-1000.slice/session-$sid.scope"
}

limits_checks() {
	local sid cg out t0 t1 hog_pid bomb_pid bob_pid
	as_root 'id bob >/dev/null 2>&1 || { useradd --create-home --shell /bin/bash bob &&
		install -d -o bob -g bob -m 700 ~bob/.ssh &&
		install -o bob -g bob -m 600 ~alice/.ssh/authorized_keys ~bob/.ssh/; }' >/dev/null 2>&1
	as_root "printf '%s' '$limits_policy' >/etc/security/nscell.conf.d/50-limits.conf"
	# bob's user manager stays up: his first login would otherwise wait for
	# it to start (seconds under emulation), which is not what is measured.
	as_root loginctl enable-linger bob
	as_bob true
	t0=$(date +%s%N)
	as_bob true
	t1=$(date +%s%N)
	note "bob's login, idle machine: $(((t1 - t0) / 1000000)) ms"

	# The scope of a held login carries alice's limits.
	hold_session limits || not_ok "a held login of alice is up (limits)"
	sid=$(alice_session)
	cg=$(alice_scope_cg)
	out=$(as_root "systemctl show session-$sid.scope -p MemoryMax -p TasksMax -p CPUQuotaPerSecUSec; cat $cg/memory.max $cg/pids.max $cg/cpu.max")
	note "session-$sid.scope: $(echo "$out" | tr '\n' ' ')"
	check "alice's session scope has MemoryMax 64M, TasksMax 200, CPUQuota 50% (systemd and the cgroup files)" \
		test "$(echo "$out" | LC_ALL=C sort | tr '\n' ' ')" = "200 50000 100000 67108864 CPUQuotaPerSecUSec=500ms MemoryMax=67108864 TasksMax=200 "
	note "where systemd keeps them: $(as_root "ls -d /run/systemd/transient/session-$sid.scope.d /run/systemd/system.control/session-$sid.scope.d 2>/dev/null | tr '\n' ' '")"
	check "the cell's init is in that scope" \
		as_root "for p in $(cell_inits | tr '\n' ' '); do grep -q '/session-$sid.scope\$' /proc/\$p/cgroup && exit 0; done; exit 1"
	out=$(as_root 'nscell list --json')
	check "nscell list --json shows the limits and the use of alice's cell" \
		python3 -c 'import json, sys
cells = [c for c in json.loads(sys.argv[1])["cells"] if c["user"] == "alice"]
l = cells[0]["limits"]
sys.exit(not (l["memory_max"] == 64 << 20 and l["tasks_max"] == 200 and l["cpu_quota_percent"] == 50
              and 0 < l["memory_current"] < 64 << 20 and l["tasks_current"] >= 1 and l["cgroup"].endswith(".scope")))' "$out"
	note "nscell list: $(as_root 'nscell list' | grep -m1 'limits:')"
	check "the user cannot write the scope's limits (memory.max is root's, 0644)" \
		test "$(as_root "stat -c '%U %a' $cg/memory.max")" = "root 644"

	# A memory hog is killed at 64M inside the cell; bob logs in meanwhile.
	: >"$VM_TMP/hog.out"
	# shellcheck disable=SC2046
	timeout 120 ssh $(vm_ssh_opts) -p "$VM_PORT" alice@127.0.0.1 \
		'head -c 400M /dev/zero | tail >/dev/null; echo "hog=${PIPESTATUS[1]}"' \
		</dev/null >"$VM_TMP/hog.out" 2>&1 &
	hog_pid=$!
	bg_pids+=("$hog_pid")
	t0=$(date +%s%N)
	out=$(as_bob 'echo bob-in')
	t1=$(date +%s%N)
	note "bob's login while alice's hog runs: $(((t1 - t0) / 1000000)) ms "
	check "bob logs in while alice's memory hog runs" test "$out" = bob-in
	wait "$hog_pid"
	# The kernel's own record: an OOM kill of the hog in a session scope of
	# alice's. (The ssh command may not print its status: with OOMPolicy=stop
	# systemd then stops the whole scope.)
	out=$(as_root "dmesg | grep 'oom_memcg=/user.slice/user-1000.slice/session-[^,]*scope,.*task=tail,' | tail -n 1")
	note "hog: $(tr '\n' ' ' <"$VM_TMP/hog.out"); kernel: ${out:-no OOM kill logged}"
	check "alice's memory hog is killed by the kernel's OOM killer in her session scope at MemoryMax" \
		test -n "$out"

	# A fork bomb stops at 200 tasks; bob logs in meanwhile.
	: >"$VM_TMP/bomb.out"
	# shellcheck disable=SC2046
	timeout 180 ssh $(vm_ssh_opts) -p "$VM_PORT" alice@127.0.0.1 \
		'sh -c "mkfifo /tmp/bomb; i=0; while [ \$i -lt 1000 ]; do (read x </tmp/bomb) & i=\$((i+1)); done" 2>/dev/null; echo bomb-done; exec sleep 60' \
		</dev/null >"$VM_TMP/bomb.out" 2>&1 &
	bomb_pid=$!
	bg_pids+=("$bomb_pid")
	# Subshells that block on a FIFO: a fork each and no exec, so the bomb
	# reaches its limit in seconds even under emulation.
	for ((i = 0; i < 240; i++)); do
		grep -q bomb-done "$VM_TMP/bomb.out" && break
		sleep 0.5
	done
	out=$(as_root 'for d in /sys/fs/cgroup/user.slice/user-1000.slice/session-*.scope; do
		[ "$(cat $d/pids.max)" = 200 ] && echo "$(cat $d/pids.current) $(sed -n "s/^max //p" $d/pids.events)"; done')
	note "alice's limited scopes (pids.current, pids.events max): $(echo "$out" | tr '\n' ';')"
	check "the fork bomb stops at TasksMax 200 (a scope at 200 tasks, forks refused)" \
		bash -c 'echo "$1" | awk "\$1 >= 190 && \$1 <= 200 && \$2 > 0 { f = 1 } END { exit !f }"' _ "$out"
	check "bob logs in while alice's fork bomb holds its 200 tasks" test "$(as_bob 'echo bob-in')" = bob-in
	kill "$bomb_pid" 2>/dev/null

	# CPUQuota 50%: a busy loop's use of its scope over 3 s, from cpu.stat,
	# against bob's unlimited loop measured the same way. Under emulation the
	# kernel's CPU clock and the wall clock drift apart (an unlimited loop
	# is charged more than 3 s in 3 s) and the quota's timer fires late, so
	# the check is a ratio with a wide tolerance, plus the kernel's own count
	# of throttled periods.
	busy='cg=/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup); a=$(sed -n "s/^usage_usec //p" $cg/cpu.stat);
		ta=$(sed -n "s/^nr_throttled //p" $cg/cpu.stat); timeout 3 sh -c "while :; do :; done";
		b=$(sed -n "s/^usage_usec //p" $cg/cpu.stat); tb=$(sed -n "s/^nr_throttled //p" $cg/cpu.stat);
		echo $((b - a)) $((tb - ta))'
	local alice_cpu bob_cpu
	alice_cpu=$(as_user "$busy")
	bob_cpu=$(as_bob "$busy")
	note "busy loops over 3 s (us of CPU, throttled periods): alice (CPUQuota 50%) ${alice_cpu:-?}; bob (none) ${bob_cpu:-?}"
	check "CPUQuota 50%: alice's busy loop is throttled and gets at most 0.75 of what bob's unlimited one gets" \
		bash -c 'set -- $1 $2; [ -n "$3" ] && [ "$2" -gt 0 ] && [ $(($1 * 100)) -le $(($3 * 75)) ] && [ "$4" = 0 ]' _ "$alice_cpu" "$bob_cpu"

	# Scope user: bob's limits are on user-1001.slice, all his sessions in
	# it (one held while a second login looks).
	: >"$VM_TMP/bob.out"
	# shellcheck disable=SC2046
	timeout 120 ssh $(vm_ssh_opts) -p "$VM_PORT" bob@127.0.0.1 'echo held; exec sleep 100' \
		</dev/null >"$VM_TMP/bob.out" 2>&1 &
	bob_pid=$!
	bg_pids+=("$bob_pid")
	for ((i = 0; i < 60; i++)); do
		grep -q held "$VM_TMP/bob.out" && break
		sleep 0.5
	done
	out=$(as_root 'systemctl show user-1001.slice -p MemoryMax -p TasksMax; cat /sys/fs/cgroup/user.slice/user-1001.slice/memory.max')
	note "user-1001.slice: $(echo "$out" | tr '\n' ' '); its tasks: $(as_root 'cat /sys/fs/cgroup/user.slice/user-1001.slice/pids.current')"
	check "bob's Scope user limits are on user-1001.slice (MemoryMax 96M, TasksMax 300)" \
		test "$(echo "$out" | tr '\n' ' ')" = "MemoryMax=100663296 TasksMax=300 100663296 "
	out=$(as_root 'nscell list --json')
	check "nscell list --json shows bob's user cell limited on user-1001.slice" \
		python3 -c 'import json, sys
cells = [c for c in json.loads(sys.argv[1])["cells"] if c["user"] == "bob"]
l = cells[0]["limits"]
sys.exit(not (l["cgroup"] == "/user.slice/user-1001.slice" and l["memory_max"] == 96 << 20 and l["tasks_max"] == 300))' "$out"
	check "alice's limits are not on her slice, nor bob's on hers (user-1000.slice memory.max is max)" \
		test "$(as_root 'cat /sys/fs/cgroup/user.slice/user-1000.slice/memory.max')" = max
	check "nscell explain says where alice's limits are enforced" \
		bash -c 'echo "$1" | grep -qx "Limits:       enforced by systemd on the login'"'"'s session scope"' _ "$(as_root 'nscell explain --service sshd alice')"

	# What setting the limits cost each new cell (the helper's own clock
	# around systemd's answer), under emulation.
	note "event=limits-set usec (new cells with limits, this run): $(as_root "journalctl -q -o cat -t nscell-open | sed -n 's/^event=limits-set .* usec=\\([0-9]*\\).*/\\1/p' | tr '\\n' ' '")"

	# logind still tracks the limited session and ends it.
	check "loginctl lists alice's limited session ($sid)" \
		as_root "loginctl list-sessions --no-legend | awk '{ print \$1 }' | grep -qx '$sid'"
	as_root loginctl terminate-session "$sid"
	check "loginctl terminate-session ends the limited session's cell" \
		timeout 15 bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.5; done' _ "$held_pid"
	kill "$bob_pid" 2>/dev/null
	as_root rm -f /etc/security/nscell.conf.d/50-limits.conf
	as_root loginctl disable-linger bob
	wait_no_cells 20 || note "a cell was still running after the limit checks"
}
