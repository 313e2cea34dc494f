# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2001,SC2016,SC2154
#
# PrivateLogins on a systemd host (sourced by run.sh, which defines ok,
# not_ok, check, note, as_root, as_user, hold_session, bg_pids): alice and bob logged in
# by ssh with a terminal, both with PrivateLogins yes. Debian 13's who and
# users read logind's /run/systemd/sessions (Debian 12's read utmp): inside
# alice's login neither lists bob, while the host's still do and logind
# still tracks both. loginctl asks logind over D-Bus, which a cell does not
# filter: its list is noted, not checked. bob is made as limits.sh does.
# Then alice by login(1) on a pseudo-terminal, while bob is still in.

pl_cleanup() {
	[ -n "${pl_bob_pid:-}" ] && kill "$pl_bob_pid" 2>/dev/null
	[ -n "${pl_alice_pid:-}" ] && kill "$pl_alice_pid" 2>/dev/null
	as_root 'rm -f /etc/security/nscell.conf.d/50-private-logins.conf' >/dev/null 2>&1
	true
}
as_root 'id bob >/dev/null 2>&1 || { useradd --create-home --shell /bin/bash bob &&
	install -d -o bob -g bob -m 700 ~bob/.ssh &&
	install -o bob -g bob -m 600 ~alice/.ssh/authorized_keys ~bob/.ssh/; }' >/dev/null 2>&1
as_root 'printf "PrivateLogins yes\n" >/etc/security/nscell.conf.d/50-private-logins.conf'
# bob's login, held with a terminal (a utmp record and a logind TTY).
: >"$VM_TMP/pl-bob.out"
# shellcheck disable=SC2046
timeout 300 ssh $(vm_ssh_opts) -tt -p "$VM_PORT" bob@127.0.0.1 'echo held; exec sleep 240' \
	</dev/null >"$VM_TMP/pl-bob.out" 2>&1 &
pl_bob_pid=$!
bg_pids+=("$pl_bob_pid")
for ((pl_i = 0; pl_i < 60; pl_i++)); do
	grep -q held "$VM_TMP/pl-bob.out" && break
	sleep 0.5
done
# alice's login held too, so that the host's view below has her session.
hold_session private-logins || not_ok "a held login of alice is up (PrivateLogins)"
pl_alice_pid=$held_pid
# alice's login that looks, with a terminal; the host's view meanwhile.
pl_in=$(vm_ssh alice -tt 'echo "who=$(who | awk "{ print \$1 }" | sort -u | tr "\n" " ")"
	echo "users=$(users)"
	echo "uids=$(for f in /run/systemd/sessions/*; do [ -f "$f" ] && sed -n "s/^UID=//p" "$f"; done | sort -u | tr "\n" " ")"
	echo "lsusers=$(ls -A /run/systemd/users 2>/dev/null | tr "\n" " ")"
	echo "loginctl=$(loginctl list-sessions --no-legend 2>&1 | awk "{ print \$3 }" | sort -u | tr "\n" " ")"' 2>&1 | tr -d '\r')
pl_host=$(as_root 'echo "who=$(who | awk "{ print \$1 }" | sort -u | tr "\n" " ")"
	echo "logind=$(loginctl list-sessions --no-legend | awk "{ print \$3 }" | sort -u | tr "\n" " ")"')
echo "$pl_in" | sed 's/^/#   alice: /'
echo "$pl_host" | sed 's/^/#   host: /'
pl_get() { echo "$1" | sed -n "s/^$2=//p"; }
note "loginctl list-sessions in alice's login (D-Bus, not filtered): $(pl_get "$pl_in" loginctl)"
check "PrivateLogins yes: on the host, logind still lists both alice's and bob's sessions" \
	bash -c 'grep -qw alice <<<"$1" && grep -qw bob <<<"$1"' _ "$(pl_get "$pl_host" logind)"
check "... the host's who lists bob" grep -qw bob <<<"$(pl_get "$pl_host" who)"
# who and users skip a login whose process they cannot see, as in any cell
# with a pid namespace: her own may be missing; nobody else may be there.
note "who in alice's login lists: '$(pl_get "$pl_in" who)', users: '$(pl_get "$pl_in" users)'"
check "... who in alice's login lists nobody but alice" \
	bash -c '! tr " " "\n" <<<"$1" | grep . | grep -qvx alice' _ "$(pl_get "$pl_in" who)"
check "... users in alice's login lists nobody but alice" \
	bash -c '! tr " " "\n" <<<"$1" | grep . | grep -qvx alice' _ "$(pl_get "$pl_in" users)"
if as_root test -d /run/systemd/sessions; then
	pl_uid=$(as_root id -u alice)
	check "... her /run/systemd/sessions holds her own sessions alone (UID= of its files: $(pl_get "$pl_in" uids))" \
		test "$(pl_get "$pl_in" uids)" = "$pl_uid "
	check "... her /run/systemd/users holds her own uid alone ($(pl_get "$pl_in" lsusers))" \
		test "$(pl_get "$pl_in" lsusers)" = "$pl_uid "
fi
# login(1) on a pseudo-terminal, as root runs it: the shell enters as login
# forks it. Debian 12's login writes its utmp record in that child (into the
# cell's copy; the init carries it to the host's), Debian 13's writes none.
pl_look=$(cat <<'EOF'
utmp_users() { f=/run/utmp; n=$(($(stat -c %s $f 2>/dev/null || echo 0) / 384)); i=0; while [ $i -lt $n ]; do [ "$(od -An -tu2 -j $((i * 384)) -N2 $f | tr -d " ")" = 7 ] && { dd if=$f bs=1 skip=$((i * 384 + 44)) count=32 2>/dev/null | tr -d "\0"; echo; }; i=$((i + 1)); done | sort -u | tr "\n" " "; }
echo "who=$(who | awk '{ print $1 }' | sort -u | tr '\n' ' ')"
echo "utmp=$(utmp_users)"
sleep 0.3
echo "later=$(utmp_users)"
echo "init=$(tr '\0' ' ' </proc/1/cmdline)"
exit
EOF
)
pl_utmp_fn=$(printf '%s\n' "$pl_look" | sed -n 1p | base64 -w0)
pl_host_utmp() { as_root "echo $pl_utmp_fn | base64 -d >/root/pl-utmp.sh; . /root/pl-utmp.sh; utmp_users; rm -f /root/pl-utmp.sh"; }
pl_host_before=$(pl_host_utmp)
as_root "echo $(printf '%s\n' "$pl_look" | base64 -w0) | base64 -d >/root/pl-login.in"
# login flushes the terminal's input as it starts (and Debian 13's vhangup()s
# it, which only a login in a session of its own survives under script): the
# commands are typed again each second till the shell reads them and exits.
pl_login=$(as_root 'for i in $(seq 40); do cat /root/pl-login.in; sleep 1; done 2>/dev/null |
	timeout 60 script -qec "setsid -w login -f alice" /dev/null; rm -f /root/pl-login.in' 2>&1 | tr -d '\r')
echo "$pl_login" | grep -E '^(who|utmp|later|init)=' | sed 's/^/#   alice by login: /'
pl_host_utmp=$(pl_host_utmp)
check "login: alice's login is in a cell ($(pl_get "$pl_login" init))" \
	grep -q '^nscell-init ' <<<"$(pl_get "$pl_login" init)"
pl_ran=$(pl_get "$pl_login" init)
check "... who there lists nobody but alice" \
	bash -c '[ -n "$2" ] && ! tr " " "\n" <<<"$1" | grep . | grep -qvx alice' _ "$(pl_get "$pl_login" who)" "$pl_ran"
check "... utmp there holds no record of bob's" \
	bash -c '[ -n "$3" ] && ! grep -qw bob <<<"$1$2"' _ "$(pl_get "$pl_login" utmp)" "$(pl_get "$pl_login" later)" "$pl_ran"
if as_root 'grep -qa pututline "$(readlink -f /bin/login)"'; then
	check "... login wrote its utmp record: the host's utmp has alice's login ($pl_host_utmp)" \
		grep -qw alice <<<"$pl_host_utmp"
	check "... and her copy has it too ($(pl_get "$pl_login" later))" grep -qw alice <<<"$(pl_get "$pl_login" later)"
else
	note "this release's login writes no utmp record (the host's utmp: $pl_host_utmp)"
fi
check "... the host's utmp lost no one (before: $pl_host_before)" \
	bash -c 'for u in $1; do grep -qw "$u" <<<"$2" || exit 1; done' _ "$pl_host_before" "$pl_host_utmp"
pl_cleanup
