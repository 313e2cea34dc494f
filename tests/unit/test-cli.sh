#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The built `nscell check` and `nscell explain`, as an administrator runs
# them: exit codes, the summary line, diagnostics, and what explain shows.
#
# Usage: test-cli.sh NSCELL NSCELL_TEST_NSS DATA_DIR SHIPPED_CONF
#
# root and nobody are resolved through the host's NSS (they exist on every
# Debian system); the user in a supplementary group comes from the test-only
# build, which reads DATA_DIR/cli/nss/{passwd,group}.
set -eu

nscell=$1
nscell_test_nss=$2
data=$3
shipped=$4

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# run EXPECTED_STATUS CMD...: stdout to $work/out, stderr to $work/err.
run() {
	want=$1
	shift
	status=0
	"$@" >"$work/out" 2>"$work/err" || status=$?
	if [ "$status" != "$want" ]; then
		fail "exit $status, expected $want: $*"
		sed 's/^/  stdout: /' "$work/out" >&2
		sed 's/^/  stderr: /' "$work/err" >&2
	fi
}

# expect_line FILE LINE: LINE appears in FILE as a whole line.
expect_line() {
	if ! grep -qxF -- "$2" "$1"; then
		fail "no line '$2' in $(basename "$1")"
		sed 's/^/  got: /' "$1" >&2
	fi
}

expect_empty() {
	if [ -s "$1" ]; then
		fail "$(basename "$1") not empty"
		sed 's/^/  got: /' "$1" >&2
	fi
}

# Diagnostics and origins use paths as given: run from DATA_DIR.
cd "$data"

# --- the verb table ---------------------------------------------------------
run 0 "$nscell" --version
expect_line "$work/out" "nscell ${NSCELL_PROJECT_VERSION:?set by meson}"
run 0 "$nscell" --help
expect_line "$work/out" "  check      Check the policy files and report every error"
expect_line "$work/out" "  explain    Show how the policy decides for one login, and why"
run 2 "$nscell"
run 2 "$nscell" frobnicate
expect_line "$work/err" "nscell: unknown verb 'frobnicate'; run 'nscell --help' for the list."
run 0 "$nscell" check --help
run 0 "$nscell" explain --help

# --- check --------------------------------------------------------------------
run 0 "$nscell" check --no-owner-check "$shipped"
expect_line "$work/out" "$shipped: OK, 0 Match blocks, 1 file"
expect_empty "$work/err"

run 0 "$nscell" check --no-owner-check cli/policy.conf valid/root-opt-in.conf
expect_line "$work/out" "cli/policy.conf: OK, 5 Match blocks, 2 files"

run 0 "$nscell" check --quiet --no-owner-check cli/policy.conf
expect_empty "$work/out"

run 1 "$nscell" check --no-owner-check broken/duplicate-key.conf
expect_empty "$work/out"
expect_line "$work/err" "broken/duplicate-key.conf:5:3: error: duplicate Tmp, already set at broken/duplicate-key.conf:3; expected each key at most once per Match block"
expect_line "$work/err" "broken/duplicate-key.conf: invalid policy."

# Every error of every file, not just the first.
run 1 "$nscell" check --no-owner-check broken/missing-value.conf broken/match-no-criteria.conf
expect_line "$work/err" "broken/missing-value.conf:3:3: error: missing value for Scope; expected session or user"
expect_line "$work/err" "broken/match-no-criteria.conf:2:1: error: Match without criteria; expected Match All or Match CRITERION PATTERNS"

run 1 "$nscell" check --no-owner-check does-not-exist.conf
expect_line "$work/err" "does-not-exist.conf: error: cannot open: No such file or directory; expected a readable policy file"

run 2 "$nscell" check --bogus-option

# Owner checks are on by default for root; a group-writable draft fails them.
cp cli/policy.conf "$work/draft.conf"
chmod 0664 "$work/draft.conf"
if [ "$(id -u)" = 0 ]; then
	run 1 "$nscell" check "$work/draft.conf"
	expect_line "$work/err" "$work/draft.conf: error: writable by group or others (mode 0664), the helper will refuse it; expected chmod go-w"
fi
run 0 "$nscell" check --no-owner-check "$work/draft.conf"

# --- explain: root, exempt unless named ---------------------------------------
run 0 "$nscell" explain --no-owner-check --config cli/policy.conf root
expect_line "$work/out" "  User:       root (uid 0, gid 0)"
expect_line "$work/out" "Outcome:      exempt (root exemption)"
expect_line "$work/out" "Decided by:   no matching Match block names root ('Match User root')"
expect_line "$work/out" "  Isolate               no                          root exemption"

run 0 "$nscell" explain --no-owner-check --config cli/policy.conf --service sshd --rhost 192.0.2.1 --tty ssh root
expect_line "$work/out" "  Service:    sshd"
expect_line "$work/out" "  Host:       192.0.2.1"
expect_line "$work/out" "Outcome:      isolated"
expect_line "$work/out" "Decided by:   policy.conf:14: Match User root Service sshd"
expect_line "$work/out" "  NoNewPrivs            yes                         policy.conf:15"

# --- explain: a plain user ------------------------------------------------------
run 0 "$nscell" explain --no-owner-check --config cli/policy.conf nobody
expect_line "$work/out" "  User:       nobody (uid 65534, gid 65534)"
expect_line "$work/out" "Outcome:      isolated"
expect_line "$work/out" "Decided by:   policy.conf:5: Match User nobody"
expect_line "$work/out" "  Scope                 user                        policy.conf:6"
expect_line "$work/out" "  Tmp                   tmpfs size=64M mode=1777    policy.conf:7"
expect_line "$work/out" "  Logout                kill                        built-in default"

# --- explain: PrivateLogins, and whether the service's sessions are hidden --------
printf 'PrivateLogins yes\n' >"$work/logins.conf"
run 0 "$nscell" explain --no-owner-check --config "$work/logins.conf" --service login nobody
expect_line "$work/out" "Login records (PrivateLogins)"
expect_line "$work/out" "  own only     who, w, users, last, lastlog: the user's own records and the machine's"
expect_line "$work/out" "  login        hidden: the shell enters as login forks it"
run 0 "$nscell" explain --no-owner-check --config "$work/logins.conf" --service sshd nobody
expect_line "$work/out" "  sshd         hidden: the session child enters at setcred (needs 'auth optional pam_nscell.so')"
run 0 "$nscell" explain --no-owner-check --config "$work/logins.conf" --service nscell-run nobody
expect_line "$work/out" "  nscell-run   hidden: the command enters as it starts"
run 0 "$nscell" explain --no-owner-check --config "$work/logins.conf" --service gdm nobody
expect_line "$work/out" "  gdm          not hidden: where it writes its records is not known (the module logs a warning)"
run 0 "$nscell" explain --no-owner-check --config cli/policy.conf nobody
grep -q "^Login records" "$work/out" && fail "explain shows login records without PrivateLogins"

run 1 "$nscell" explain --no-owner-check --config cli/policy.conf no-such-user-nscell
expect_line "$work/err" "nscell explain: no such user 'no-such-user-nscell' (looked up through NSS)."
run 2 "$nscell" explain --config cli/policy.conf
run 2 "$nscell" explain root nobody

run 1 "$nscell" explain --no-owner-check --config broken/missing-value.conf nobody
expect_line "$work/err" "broken/missing-value.conf:3:3: error: missing value for Scope; expected session or user"
expect_line "$work/err" "nscell explain: the policy broken/missing-value.conf is invalid; run 'nscell check'."

# --- explain: a user in a supplementary group (test build, files NSS) --------
run 0 env NSCELL_TEST_NSS_DIR=cli/nss "$nscell_test_nss" explain --no-owner-check --config cli/policy.conf --tty /dev/pts/4 carla
cat >"$work/want" <<'EOF'
Login
  User:       carla (uid 2001, gid 2001)
  Groups:     carla, lab
  Service:    (none)
  Host:       (none)
  Tty:        /dev/pts/4

Policy
  Directory:  cli
  Files:      policy.conf

Outcome:      isolated
Decided by:   policy.conf:9: Match Group lab

Effective settings
  Key                   Value                       From
  Isolate               yes                         built-in default
  Scope                 session                     built-in default
  Namespaces            pid mount ipc uts           policy.conf:2
  Hostname              cell                        policy.conf:3
  ProcHidePid           off                         built-in default
  ProcSubset            all                         built-in default
  Tmp                   tmpfs mode=1777             built-in default
  VarTmp                persistent                  policy.conf:12
  DevShm                tmpfs mode=1777             built-in default
  PersistentRoot        /var/lib/nscell/persistent  built-in default
  Logout                drain                       policy.conf:10
  DrainLimit            2h                          policy.conf:11
  Propagation           slave                       built-in default
  NoNewPrivs            no                          built-in default
  DropCapabilities      none                        built-in default
  RestrictNamespaces    none                        built-in default
  UserNamespaceFallback deny                        built-in default
  MaxCells              16                          built-in default
  PrivateDevices        no                          built-in default
  ProtectHome           no                          built-in default
  ProtectSystem         no                          built-in default
  ReadOnlyPaths         none                        built-in default
  ReadWritePaths        none                        built-in default
  InaccessiblePaths     none                        built-in default
  BindPaths             none                        built-in default
  BindReadOnlyPaths     none                        built-in default
  MemoryMax             infinity                    built-in default
  MemoryHigh            infinity                    built-in default
  MemorySwapMax         infinity                    built-in default
  TasksMax              infinity                    built-in default
  CPUQuota              infinity                    built-in default
  CPUWeight             default                     built-in default
  IOWeight              default                     built-in default
  LimitsUnavailable     refuse                      built-in default
  PrivateLogins         no                          built-in default
EOF
if ! diff -u "$work/want" "$work/out" >&2; then
	fail "explain carla: output differs"
fi
# Every line fits in 80 columns.
if awk 'length > 80 { bad = 1 } END { exit !bad }' "$work/out"; then
	fail "explain output wider than 80 columns"
fi

# The same user without the supplementary group falls to the defaults.
run 0 env NSCELL_TEST_NSS_DIR=cli/nss "$nscell_test_nss" explain --no-owner-check --config cli/policy.conf erin
expect_line "$work/out" "  Groups:     erin"
expect_line "$work/out" "Decided by:   no Match block matched; the defaults apply"

# Limits: explain says where they are enforced, or that they cannot be here
# (and what LimitsUnavailable then does); check warns, and still passes.
printf 'Isolate yes\nMatch User nobody\n  MemoryMax 64M\n  TasksMax 200\n' >"$work/limits.conf"
if [ -d /run/systemd/system ] && [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] &&
	grep -qw memory /sys/fs/cgroup/cgroup.controllers && grep -qw pids /sys/fs/cgroup/cgroup.controllers; then
	limits_here=yes
else
	limits_here=no
	# No systemd: nscell's own cgroups, where cgroup v2 offers the controllers.
	for cg in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		if [ ! -d /run/systemd/system ] && [ "$(stat -f -c %T "$cg" 2>/dev/null)" = cgroup2fs ]; then
			if grep -qw memory "$cg/cgroup.controllers" && grep -qw pids "$cg/cgroup.controllers"; then
				limits_here=cgroup
			fi
			break
		fi
	done
fi
run 0 "$nscell" explain --no-owner-check --config "$work/limits.conf" nobody
if [ "$limits_here" = yes ]; then
	expect_line "$work/out" "Limits:       enforced by systemd on the login's session scope"
elif [ "$limits_here" = cgroup ]; then
	expect_line "$work/out" "Limits:       enforced by nscell on a cgroup of the cell's own"
else
	expect_line "$work/out" "Limits:       cannot be enforced on this host:"
	expect_line "$work/out" "              LimitsUnavailable refuse: the login is refused (root's goes on)"
fi
run 0 "$nscell" check --no-owner-check "$work/limits.conf"
if [ "$limits_here" != no ]; then
	expect_empty "$work/err"
elif ! grep -q "^$work/limits.conf:3: warning: MemoryMax cannot be enforced on this host: " "$work/err"; then
	fail "check: no warning that MemoryMax cannot be enforced"
	sed 's/^/  got: /' "$work/err" >&2
fi
run 0 "$nscell" explain --no-owner-check --config "$work/limits.conf" root
if grep -q '^Limits:' "$work/out"; then
	fail "explain: Limits shown for root, whom the block does not match"
fi

# A file that is not root's can be named and hold anything; what check
# quotes of it reaches the terminal escaped, never as control bytes.
evil="$work/$(printf 'e\033]2;pwned\007\302\233.conf')"
printf 'Tmp tmpfs\n\033]2;pwned\007\302\233 yes\n' > "$evil"
run 1 "$nscell" check --no-owner-check "$evil"
if LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$work/err" ||
   LC_ALL=C grep -q "$(printf '\302\233')" "$work/err"; then
	fail "check printed a control byte of the file"
	od -c "$work/err" | sed 's/^/  got: /' >&2
fi
expect_line "$work/err" "$work/e\\x1b]2;pwned\\x07\\u009b.conf: invalid policy."
rm -f "$evil"

# The installed binary has no such hook: the variable changes nothing.
if ! getent passwd carla >/dev/null; then
	run 1 env NSCELL_TEST_NSS_DIR=cli/nss "$nscell" explain --no-owner-check --config cli/policy.conf carla
fi

if [ "$failures" -gt 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "all CLI checks passed"
