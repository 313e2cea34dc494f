# SPDX-License-Identifier: LGPL-2.1-or-later
# The hardening switches — NoNewPrivs, DropCapabilities, RestrictNamespaces and
# a user namespace (Namespaces ... user, UserNamespaceFallback, userns=) — for
# every login program: what a session can still gain through a setuid-root
# program, a file-capability program, sudo, su and new user namespaces. Each
# escalation path is first shown to work with the switches off (the control),
# so a check that says "nothing gained" can fail.
#
# The escalation paths, installed for these tests only:
#   /usr/local/bin/nscit-suid-id, nscit-suid-cat   setuid-root copies of id, cat
#                                                   (/usr/local: an overlay, not nosuid)
#   /usr/local/bin/nscit-fcap-cat, nscit-ping       cat, ping with cap_net_raw+ep
#   /usr/local/bin/nscit-ping-nocap                 ping without it (ping needs the cap)
#   /etc/nscit-hardening-secret                     root:root 0600
#   /etc/sudoers.d/nscit-hardening                  USER may sudo anything, NOPASSWD
#   /etc/pam.d/su                                   pam_wheel trust for group nscit,
#                                                   so `su -c ... root` needs no password

import os
import re
import shutil
import subprocess

from nscelltest import (BEGIN, METHODS, SSH_HOST, USERS, WORK, cell_of, check_in_cell,
                        check_ssh_features, find_procs, poll, policy, sh, syslog_event, test,
                        write)

USER = 'nscit-c'
UID = USERS[USER]
GROUP_GID = 64100  # nscit, USER's supplementary group
BIN = '/usr/local/bin'
SECRET_FILE = '/etc/nscit-hardening-secret'
SECRET = 'nscit-hardening-secret-0x5eed'
SUDOERS = '/etc/sudoers.d/nscit-hardening'
NSPROBE = f'{WORK}/scripts/nscit-nsprobe.py'
CAP_NET_RAW = 13
FULL_MAP = '0 0 4294967295'
USER_MAP = f'{UID} {UID} 1'
USER_GID_MAP = {f'{UID} {UID} 1', f'{GROUP_GID} {GROUP_GID} 1'}
USER_ID = f'uid={UID}({USER}) gid={UID}({USER}) groups={UID}({USER}),{GROUP_GID}(nscit)'
USERNS = 'Namespaces pid mount ipc user\n'
STRICTEST = (USERNS + 'NoNewPrivs yes\nDropCapabilities all\nRestrictNamespaces all\n'
             'UserNamespaceFallback no-new-privs\n')
NOT_LOGIN = [m for m in METHODS if m != 'login']
# For the programs' non-login forms, run by the harness directly.
PLAIN = rf'''echo "init=$(tr '\0' '|' < /proc/1/cmdline)"
echo "uid_map=$(sed 's/^ *//; s/  */ /g' /proc/self/uid_map | paste -sd ';')"
echo "suid_id=$({BIN}/nscit-suid-id -u)"
'''

# Each attempt to make a namespace, from Python, with the errno it got. Every
# attempt runs in a child of its own (a namespace made by one attempt cannot
# change the next); clone()/clone3() children exit at once.
NSPROBE_TEXT = r'''
import ctypes, errno, os, struct
libc = ctypes.CDLL(None, use_errno=True)
NEWUSER, NEWNET, SIGCHLD = 0x10000000, 0x40000000, 17
SYS_clone, SYS_clone3 = 56, 435

def name(r):
    return 'ok' if r >= 0 else errno.errorcode.get(ctypes.get_errno(), '?')

def in_child(flags):
    pid = os.fork()
    if pid == 0:
        os._exit(0 if libc.unshare(flags) == 0 else ctypes.get_errno())
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return 'ok' if code == 0 else errno.errorcode.get(code, str(code))

def spawned(r):
    if r == 0:
        os._exit(0)
    res = name(r)
    if r > 0:
        os.waitpid(r, 0)
    return res

def clone3(flags):
    args = ctypes.create_string_buffer(struct.pack('8Q', flags, 0, 0, 0, SIGCHLD, 0, 0, 0), 64)
    return libc.syscall(SYS_clone3, args, ctypes.c_size_t(64))

out = [('unshare_user', in_child(NEWUSER)),
       ('unshare_user_net', in_child(NEWUSER | NEWNET))]
out.append(('clone_user', spawned(libc.syscall(SYS_clone, ctypes.c_ulong(NEWUSER | SIGCHLD), 0, 0, 0, 0))))
out.append(('clone3_user', spawned(clone3(NEWUSER))))
out.append(('clone3_plain', spawned(clone3(0))))
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
out.append(('fork', 'ok'))
print(' '.join(f'{k}={v}' for k, v in out))
'''

# What the session sees and what each escalation path gives it, as key=value
# lines; `probe KEY CMD...` prints KEY.rc and KEY.out (stdout+stderr, one line).
HARD = rf'''
probe() {{ k=$1; shift; o=$("$@" 2>&1 </dev/null); r=$?; echo "$k.rc=$r"; echo "$k.out=$(printf '%s' "$o" | tr '\n\t' '  ')"; }}
echo "init=$(tr '\0' '|' < /proc/1/cmdline)"
echo "id=$(id)"
echo "uid_map=$(sed 's/^ *//; s/  */ /g' /proc/self/uid_map | paste -sd ';')"
echo "gid_map=$(sed 's/^ *//; s/  */ /g' /proc/self/gid_map | paste -sd ';')"
echo "owner=$(stat -c '%u:%g %U:%G' /etc/passwd)"
echo "other=$(stat -c '%u %U' /home/nscit-a)"
for f in NoNewPrivs CapBnd CapEff Seccomp; do echo "$f=$(sed -n "s/^$f:[[:space:]]*//p" /proc/self/status)"; done
probe suid_id {BIN}/nscit-suid-id -u
probe suid_cat {BIN}/nscit-suid-cat {SECRET_FILE} /proc/self/status
probe fcap {BIN}/nscit-fcap-cat /proc/self/status
probe ping {BIN}/nscit-ping -c1 -W2 -q 127.0.0.1
probe ping_nocap {BIN}/nscit-ping-nocap -c1 -W2 -q 127.0.0.1
probe sudo sudo -n id -u
probe su su -c 'id -u' root
probe unshare_U unshare -U true
probe unshare_Ur unshare -Ur id -u
probe ns python3 {NSPROBE}
'''


# ---- the escalation paths -------------------------------------------------------

def arm():
    """Install every escalation path the tests try (see the top of the file)."""
    for name, src, mode in (('nscit-suid-id', '/usr/bin/id', '4755'),
                            ('nscit-suid-cat', '/bin/cat', '4755'),
                            ('nscit-fcap-cat', '/bin/cat', '0755'),
                            ('nscit-ping', shutil.which('ping'), '0755'),
                            ('nscit-ping-nocap', shutil.which('ping'), '0755')):
        sh(['install', '-o', 'root', '-g', 'root', '-m', mode, src, f'{BIN}/{name}'])
    sh(['setcap', '-r', f'{BIN}/nscit-ping-nocap'], check=False)  # ping's own cap, if copied
    for name in ('nscit-fcap-cat', 'nscit-ping'):
        sh(['setcap', 'cap_net_raw+ep', f'{BIN}/{name}'])
    write(SECRET_FILE, SECRET + '\n', 0o600)
    write(SUDOERS, f'{USER} ALL=(root) NOPASSWD: ALL\n', 0o440)
    write(NSPROBE, NSPROBE_TEXT, 0o644)


def disarm(env):
    for name in ('nscit-suid-id', 'nscit-suid-cat', 'nscit-fcap-cat', 'nscit-ping',
                 'nscit-ping-nocap'):
        if os.path.exists(f'{BIN}/{name}'):
            os.unlink(f'{BIN}/{name}')
    for f in (SECRET_FILE, SUDOERS):
        if os.path.exists(f):
            os.unlink(f)
    env.set_pam()


def configure(env, pol, args='debug', auth_line=True):
    """The policy (plus the default's exempt user), the PAM stacks (with the
    sshd auth line by default), and su's password-less path to root."""
    env.set_policy(policy(extra=pol, matches=[('User nscit-x', 'Isolate no')]))
    env.set_pam(args=args, auth_line=auth_line)
    with open('/etc/pam.d/su') as f:
        stack = f.read()
    write('/etc/pam.d/su', 'auth sufficient pam_wheel.so trust use_uid group=nscit\n' + stack, 0o644)


def hardening_test(name):
    """A test with the escalation paths installed, and removed afterwards."""
    def deco(fn):
        def run(t):
            missing = [x for x in ('setcap', 'ping') if not shutil.which(x)]
            if missing:
                t.skip(f'missing tools: {" ".join(missing)} (tools/install-deps installs them)')
            arm()
            try:
                fn(t)
            finally:
                disarm(t.env)
        return test(name)(run)
    return deco


# ---- reading a HARD session --------------------------------------------------------

def rc(s, k):
    v = s.value(f'{k}.rc')
    return int(v) if v and v.isdigit() else None


def out(s, k):
    return s.value(f'{k}.out') or ''


def status_field(text, field):
    m = re.search(rf'\b{field}: +([0-9a-f]+(?: +[0-9a-f]+)*)', text)
    return m.group(1).split() if m else None


def has_cap(hexmask, cap):
    return hexmask is not None and bool(int(hexmask, 16) >> cap & 1)


def brief(s, k):
    """A probe's output without the bulk of a /proc/PID/status it printed."""
    text = out(s, k)
    i = text.find('Name: ')
    if i < 0:
        return text
    fields = ' '.join(f'{f}: {" ".join(status_field(text, f) or ["?"])}' for f in ('Uid', 'CapEff', 'NoNewPrivs'))
    return f'{text[:i]}[status: {fields}]'


def ns_results(s):
    return dict(kv.split('=', 1) for kv in out(s, 'ns').split() if '=' in kv)


def harness_capbnd():
    with open('/proc/self/status') as f:
        return re.search(r'^CapBnd:\s*(\S+)', f.read(), re.M).group(1)


def login(t, method, pol_what):
    s = t.env.run(method, USER, HARD)
    t.login_ok(s, f'{pol_what}: {method}: {USER} logs in and runs the probes')
    check_in_cell(t, s, f'{pol_what}: {method}')
    return s


# ---- what a session got -------------------------------------------------------------

def ids(t, s, m, userns):
    if userns:
        t.eq(s.value('uid_map'), USER_MAP, f'{m}: /proc/self/uid_map maps only {UID}')
        t.eq(set((s.value('gid_map') or '').split(';')), USER_GID_MAP,
             f'{m}: /proc/self/gid_map maps only the user\'s groups {UID} and {GROUP_GID}')
        t.eq(s.value('id'), USER_ID, f'{m}: id shows the user and their groups, nothing else')
        t.eq(s.value('owner'), '65534:65534 nobody:nogroup',
             f'{m}: root\'s /etc/passwd shows as owned by nobody:nogroup (65534)')
        t.eq(s.value('other'), '65534 nobody', f'{m}: another user\'s home shows as owned by nobody')
    else:
        t.eq(s.value('uid_map'), FULL_MAP, f'{m}: no user namespace: uid_map is the identity map')
        t.eq(s.value('gid_map'), FULL_MAP, f'{m}: no user namespace: gid_map is the identity map')
        t.eq(s.value('owner'), '0:0 root:root', f'{m}: /etc/passwd is owned by root:root')
        t.eq(s.value('id'), USER_ID, f'{m}: id shows the user and their groups')


def flags(t, s, m, nnp, capbnd, seccomp):
    t.eq(s.value('NoNewPrivs'), nnp, f'{m}: NoNewPrivs: {nnp}')
    t.eq(s.value('CapBnd'), capbnd, f'{m}: CapBnd: {capbnd}')
    t.eq(s.value('Seccomp'), seccomp, f'{m}: Seccomp: {seccomp}')
    t.eq(s.value('CapEff'), '0000000000000000', f'{m}: the shell itself has no capability')


def setuid_gains(t, s, m, gains, why=''):
    euid = status_field(out(s, 'suid_cat'), 'Uid')
    if gains:
        t.eq(out(s, 'suid_id'), '0', f'{m}: the setuid-root id prints euid 0')
        t.check(SECRET in out(s, 'suid_cat'),
                f'{m}: the setuid-root cat reads root\'s 0600 {SECRET_FILE}', brief(s, 'suid_cat'))
        return
    t.eq(out(s, 'suid_id'), str(UID), f'{m}: the setuid-root id prints euid {UID}, not 0 ({why})')
    t.check(SECRET not in out(s, 'suid_cat') and 'Permission denied' in out(s, 'suid_cat'),
            f'{m}: the setuid-root cat cannot read root\'s 0600 file ({why})', brief(s, 'suid_cat'))
    t.check(euid and euid[1] == str(UID), f'{m}: ... its own /proc/self/status shows euid {UID}',
            str(euid))


def fcap_gains(t, s, m, how):
    """how: 'gains' (control), 'no-caps' (runs, without the cap), 'refused'
    (exec fails: the cap is not in the bounding set), 'userns' (granted in a
    user namespace that owns no network namespace: worthless)."""
    capeff = (status_field(out(s, 'fcap'), 'CapEff') or [None])[0]
    if how == 'gains':
        t.check(has_cap(capeff, CAP_NET_RAW), f'{m}: the cap_net_raw+ep cat runs with cap_net_raw',
                brief(s, 'fcap'))
        t.eq(rc(s, 'ping'), 0, f'{m}: the cap_net_raw+ep ping pings 127.0.0.1')
        t.check(rc(s, 'ping_nocap') != 0 and 'socket: Operation not permitted' in out(s, 'ping_nocap'),
                f'{m}: ... and ping without the file capability cannot (so the cap is what works)',
                out(s, 'ping_nocap'))
        return
    if how == 'no-caps':
        t.check(rc(s, 'fcap') == 0 and capeff == '0000000000000000',
                f'{m}: the cap_net_raw+ep cat runs without any capability', brief(s, 'fcap'))
    elif how == 'refused':
        t.check(rc(s, 'fcap') == 126 and 'Operation not permitted' in out(s, 'fcap'),
                f'{m}: executing the cap_net_raw+ep cat fails with EPERM (cap_net_raw is not in the bounding set)',
                out(s, 'fcap'))
    elif how == 'userns':
        t.check(rc(s, 'fcap') == 0, f'{m}: the cap_net_raw+ep cat runs (its cap is one of the user namespace\'s)',
                out(s, 'fcap'))
    t.check(rc(s, 'ping') != 0 and 'Operation not permitted' in out(s, 'ping'),
            f'{m}: the cap_net_raw+ep ping cannot open a raw socket', out(s, 'ping'))


SU_REFUSED = r'^su: (cannot set groups: Operation not permitted|Authentication failure)$'


def sudo_su_gains(t, s, m, gains, sudo_why=None):
    if gains:
        t.check(rc(s, 'sudo') == 0 and out(s, 'sudo') == '0', f'{m}: sudo -n id -u prints 0',
                out(s, 'sudo'))
        t.check(rc(s, 'su') == 0 and out(s, 'su') == '0',
                f'{m}: su -c "id -u" root (pam_wheel trust, no password) prints 0', out(s, 'su'))
        return
    t.check(rc(s, 'sudo') not in (0, None) and out(s, 'sudo') != '0'
            and re.search(sudo_why, out(s, 'sudo')),
            f'{m}: sudo -n id -u fails: "{sudo_why}"', f'rc={rc(s, "sudo")} {out(s, "sudo")}')
    # Where su stops depends on the release. Debian 12 (Linux-PAM 1.5): PAM lets it
    # through and the kernel refuses setgroups. Debian 13 (Linux-PAM 1.7): pam_unix's
    # account step runs unix_chkpwd, whose setgid shadow does not apply here either,
    # so it cannot read /etc/shadow and PAM refuses. Either way: no root.
    t.check(rc(s, 'su') not in (0, None) and out(s, 'su') != '0'
            and re.search(SU_REFUSED, out(s, 'su')),
            f'{m}: su -c "id -u" root fails: "cannot set groups" or "Authentication failure"',
            f'rc={rc(s, "su")} {out(s, "su")}')


def new_userns(t, s, m, allowed):
    ns = ns_results(s)
    if allowed:
        t.check(rc(s, 'unshare_U') == 0, f'{m}: unshare -U true works', out(s, 'unshare_U'))
        t.check(rc(s, 'unshare_Ur') == 0 and out(s, 'unshare_Ur') == '0',
                f'{m}: unshare -Ur id -u works and prints 0', out(s, 'unshare_Ur'))
        t.eq(ns, {k: 'ok' for k in ('unshare_user', 'unshare_user_net', 'clone_user', 'clone3_user',
                                    'clone3_plain', 'fork')},
             f'{m}: unshare()/clone()/clone3() with CLONE_NEWUSER (and NEWNET) work')
        return
    for k in ('unshare_U', 'unshare_Ur'):
        t.check(rc(s, k) == 1 and 'unshare failed: Operation not permitted' in out(s, k),
                f'{m}: {k.replace("_", " -")} is refused: "unshare failed: Operation not permitted"',
                out(s, k))
    want = {'unshare_user': 'EPERM', 'unshare_user_net': 'EPERM', 'clone_user': 'EPERM',
            'clone3_user': 'ENOSYS', 'clone3_plain': 'ENOSYS', 'fork': 'ok'}
    t.eq(ns, want, f'{m}: unshare()/clone() with CLONE_NEWUSER fail with EPERM, clone3() with ENOSYS, '
         'fork still works')


# ---- the tests ----------------------------------------------------------------------------

@hardening_test('hardening: control: with every switch off, each escalation path works, in every program')
def _(t):
    configure(t.env, '')
    bnd = harness_capbnd()
    for method in METHODS:
        s = login(t, method, 'control')
        m = f'control: {method}'
        ids(t, s, m, userns=False)
        flags(t, s, m, nnp='0', capbnd=bnd, seccomp='0')
        setuid_gains(t, s, m, True)
        fcap_gains(t, s, m, 'gains')
        sudo_su_gains(t, s, m, True)
        new_userns(t, s, m, allowed=True)
    t.clean()


@hardening_test('hardening: NoNewPrivs yes: setuid and file capabilities give nothing, in every program')
def _(t):
    configure(t.env, 'NoNewPrivs yes\n')
    bnd = harness_capbnd()
    for m in METHODS:
        s = login(t, m, 'NoNewPrivs')
        flags(t, s, m, nnp='1', capbnd=bnd, seccomp='0')
        setuid_gains(t, s, m, False, 'no_new_privs')
        fcap_gains(t, s, m, 'no-caps')
        sudo_su_gains(t, s, m, False, sudo_why=r'The "no new privileges" flag is set')
        new_userns(t, s, m, allowed=True)  # not NoNewPrivs' business
    t.clean()


@hardening_test('hardening: DropCapabilities all: an empty bounding set, no capability gained, in every program')
def _(t):
    configure(t.env, 'DropCapabilities all\n')
    for m in METHODS:
        s = login(t, m, 'DropCapabilities all')
        flags(t, s, m, nnp='0', capbnd='0000000000000000', seccomp='0')
        capeff = status_field(out(s, 'suid_cat'), 'CapEff')
        t.eq(capeff, ['0000000000000000'], f'{m}: a setuid-root program runs without any capability')
        fcap_gains(t, s, m, 'refused')
        sudo_su_gains(t, s, m, False, sudo_why=r'unable to change to root gid: Operation not permitted')
        new_userns(t, s, m, allowed=True)
    t.clean()


@hardening_test('hardening: DropCapabilities takes capabilities, not the uid change (as documented); with NoNewPrivs a setuid-root program does not get uid 0')
def _(t):
    # nscell.conf(5): an empty bounding set leaves a setuid-root program at
    # euid 0 without capabilities; NoNewPrivs is what stops the uid change.
    configure(t.env, 'DropCapabilities all\n')
    for m in ('ssh', 'su'):
        s = login(t, m, 'DropCapabilities all')
        t.eq(out(s, 'suid_id'), '0', f'{m}: DropCapabilities alone: the setuid-root id still prints euid 0')
        t.eq(status_field(out(s, 'suid_cat'), 'CapEff'), ['0000000000000000'],
             f'{m}: ... but runs without any capability')
    configure(t.env, 'DropCapabilities all\nNoNewPrivs yes\n')
    for m in ('ssh', 'su'):
        s = login(t, m, 'DropCapabilities all + NoNewPrivs')
        setuid_gains(t, s, m, False, 'DropCapabilities all + NoNewPrivs yes')
    t.clean()


@hardening_test('hardening: DropCapabilities with a list drops what it names and nothing else')
def _(t):
    configure(t.env, 'DropCapabilities cap_net_raw\n')
    want = f'{int(harness_capbnd(), 16) & ~(1 << CAP_NET_RAW):016x}'
    for m in ('ssh', 'sudo'):
        s = login(t, m, 'DropCapabilities cap_net_raw')
        flags(t, s, m, nnp='0', capbnd=want, seccomp='0')
        fcap_gains(t, s, m, 'refused')
        sudo_su_gains(t, s, m, True)
    t.clean()


@hardening_test('hardening: user namespace: only the user\'s ids; setuid, file caps, sudo, su give nothing (ssh, ssh-tty, su, runuser, sudo)')
def _(t):
    env = t.env
    configure(env, USERNS)
    mark = env.syslog.mark()
    for m in NOT_LOGIN:
        s = login(t, m, 'user namespace')
        ids(t, s, m, userns=True)
        t.eq(s.value('NoNewPrivs'), '0', f'{m}: NoNewPrivs: 0 (the user namespace alone)')
        t.eq(s.value('Seccomp'), '0', f'{m}: Seccomp: 0')
        setuid_gains(t, s, m, False, 'root is not mapped')
        fcap_gains(t, s, m, 'userns')
        sudo_su_gains(t, s, m, False, sudo_why=r'must be owned by uid 0 and have the setuid bit set')
        new_userns(t, s, m, allowed=True)  # nested ones: RestrictNamespaces' business
    t.syslog(r'pam_nscell\(sshd:setcred\): session process entered the user namespace of session-', mark,
             'syslog: sshd\'s session process entered the user namespace at setcred (the auth line)')
    t.clean()


@hardening_test('hardening: user namespace: the non-login forms of su, runuser, sudo (services su, runuser, sudo)')
def _(t):
    env = t.env
    configure(env, USERNS)
    script = f'{WORK}/scripts/nscit-hardening-plain.sh'
    write(script, PLAIN, 0o644)
    for argv, svc in ((['su', USER, '-c', f'/bin/sh {script}'], 'su'),
                      (['runuser', '-u', USER, '--', '/bin/sh', script], 'runuser'),
                      (['sudo', '-u', USER, '--', '/bin/sh', script], 'sudo')):
        mark = env.syslog.mark()
        r = sh(argv, check=False, stdin=subprocess.DEVNULL, cwd='/', timeout=30)
        got = dict(re.findall(r'^(\w+)=(.*)$', r.stdout, re.M))
        t.check(r.returncode == 0 and re.fullmatch(r'nscell-init\|session-[0-9a-f]{16}\|', got.get('init', '')),
                f'{" ".join(argv[:2])}: runs in a cell', r.stdout + r.stderr)
        t.eq((got.get('uid_map'), got.get('suid_id')), (USER_MAP, str(UID)),
             f'{" ".join(argv[:2])}: (uid_map, euid of the setuid-root id): only the user\'s uid, no root')
        t.syslog(syslog_event('nscell-open', 'cell-created', user=USER, service=svc), mark,
                 f'syslog: the cell was made for PAM service {svc}')
    os.unlink(script)
    t.clean()


@hardening_test('hardening: user namespace under login with UserNamespaceFallback deny: refused and logged')
def _(t):
    env = t.env
    configure(env, USERNS + 'UserNamespaceFallback deny\n')
    for m, svc, args in (('login', 'login', 'debug'), ('su', 'su-l', 'debug userns=none')):
        if args != 'debug':
            env.set_pam(args=args, services=['su-l'])
        mark = env.syslog.mark()
        s = env.run(m, USER, HARD)
        t.check(s.rc != 0 and BEGIN not in s.raw,
                f'{m}{" with userns=none" if args != "debug" else ""}: the login is refused', s.describe())
        t.syslog(rf'^authpriv\.err {svc.split("-")[0]}(\[\d+\])?: pam_nscell\({svc}:session\): cell not entered '
                 rf'for user {USER}: service {svc} gives no point to enter a user namespace '
                 r'\(UserNamespaceFallback deny\); returning System error', mark,
                 f'{m}: syslog: "cell not entered ...: service {svc} gives no point to enter a user '
                 'namespace (UserNamespaceFallback deny)"')
        t.clean(f'{m}: the refused login left no cell, process or mount behind')
    s = login(t, 'ssh', 'deny, control')
    ids(t, s, 'ssh', userns=True)
    t.clean()


@hardening_test('hardening: user namespace under login with UserNamespaceFallback no-new-privs: in the cell without it, no_new_privs, one warning')
def _(t):
    env = t.env
    configure(env, USERNS + 'UserNamespaceFallback no-new-privs\n')
    bnd = harness_capbnd()
    mark = env.syslog.mark()
    s = login(t, 'login', 'no-new-privs fallback')
    cell = check_in_cell(t, s, 'login: still in a cell')
    ids(t, s, 'login', userns=False)
    flags(t, s, 'login', nnp='1', capbnd=bnd, seccomp='0')
    setuid_gains(t, s, 'login', False, 'the fallback\'s no_new_privs')
    fcap_gains(t, s, 'login', 'no-caps')
    sudo_su_gains(t, s, 'login', False, sudo_why=r'The "no new privileges" flag is set')
    rx = (rf'^authpriv\.warning login(\[\d+\])?: pam_nscell\(login:session\): user {USER}: service login gives '
          rf'no point to enter a user namespace; continuing in cell {cell} without it, with no_new_privs '
          r'\(UserNamespaceFallback no-new-privs\)$')
    t.syslog(rx, mark, 'syslog: the warning "service login gives no point to enter a user namespace; '
             'continuing in cell ... with no_new_privs"')
    t.eq(len(env.syslog.find_all(r'pam_nscell\(login:\w+\): .*user namespace', mark)), 1,
         'exactly one pam_nscell line about the user namespace for that login')
    for m in ('ssh', 'su'):
        s = login(t, m, 'no-new-privs fallback')
        ids(t, s, m, userns=True)
        t.eq(s.value('NoNewPrivs'), '0', f'{m}: gets its user namespace, and no fallback no_new_privs')
    t.clean()


@hardening_test('hardening: RestrictNamespaces user: no new user namespace by unshare, clone or clone3, in every program')
def _(t):
    env = t.env
    configure(env, 'RestrictNamespaces user\n')
    for m in METHODS:
        s = login(t, m, 'RestrictNamespaces user')
        t.eq(s.value('Seccomp'), '2', f'{m}: Seccomp: 2 (a filter)')
        new_userns(t, s, m, allowed=False)
    configure(env, 'RestrictNamespaces net\n')
    for m in ('ssh', 'su'):
        s = login(t, m, 'RestrictNamespaces net')
        ns = ns_results(s)
        t.check(rc(s, 'unshare_Ur') == 0 and out(s, 'unshare_Ur') == '0',
                f'{m}: RestrictNamespaces net: unshare -Ur still works', out(s, 'unshare_Ur'))
        t.eq((ns.get('unshare_user'), ns.get('clone_user'), ns.get('unshare_user_net')), ('ok', 'ok', 'EPERM'),
             f'{m}: RestrictNamespaces net: a user namespace may be made, a network namespace not, '
             'even inside one\'s own user namespace')
    t.clean()


@hardening_test('hardening: RestrictNamespaces alone leaves no_new_privs as NoNewPrivs says (no)')
def _(t):
    # The seccomp filter can be loaded without no_new_privs: the PAM module is
    # root at open_session, and holds every capability of the user namespace
    # it just entered at setcred.
    configure(t.env, 'RestrictNamespaces user\n')
    for m in ('ssh', 'su'):
        s = login(t, m, 'RestrictNamespaces user')
        t.eq(s.value('Seccomp'), '2', f'{m}: Seccomp: 2 (the namespace filter is there)')
        t.eq(s.value('NoNewPrivs'), '0', f'{m}: NoNewPrivs: 0, as the policy says (NoNewPrivs no)')
        sudo_su_gains(t, s, m, True)
    t.clean()


@hardening_test('hardening: sshd without the auth line: a user namespace policy is never silently dropped')
def _(t):
    env = t.env
    for fallback in ('deny', 'no-new-privs'):
        configure(env, USERNS + f'UserNamespaceFallback {fallback}\n', auth_line=False)
        mark = env.syslog.mark()
        s = env.run('ssh', USER, HARD)
        about = r'pam_nscell\(sshd:\w+\): .*user namespace'
        env.syslog.wait_for(about, mark, timeout=1)
        logged = env.syslog.find_all(about, mark)
        in_userns = s.ok and s.value('uid_map') == USER_MAP
        if fallback == 'deny':
            ok = in_userns or (not s.ok and logged)
            what = 'gets its user namespace, or is refused with a logged reason'
        else:
            ok = in_userns or (s.ok and s.value('NoNewPrivs') == '1' and logged)
            what = 'gets its user namespace, or no_new_privs with a logged warning'
        t.check(ok, f'UserNamespaceFallback {fallback}: an ssh login with no `auth optional pam_nscell.so` line {what}',
                f'uid_map={s.value("uid_map")} NoNewPrivs={s.value("NoNewPrivs")} rc={s.rc}; '
                f'pam_nscell lines about a user namespace: {logged}')
    t.clean()


@hardening_test('hardening: strictest policy: nothing climbs, and every program still works (pty, sftp, scp, mux, agent, -L)')
def _(t):
    env = t.env
    configure(env, STRICTEST)
    for m in METHODS:
        s = login(t, m, 'strictest')
        userns = m != 'login'  # login: the no-new-privs fallback
        ids(t, s, m, userns=userns)
        flags(t, s, m, nnp='1', capbnd='0000000000000000', seccomp='2')
        setuid_gains(t, s, m, False, 'strictest')
        fcap_gains(t, s, m, 'refused')
        sudo_su_gains(t, s, m, False, sudo_why=r'The "no new privileges" flag is set')
        new_userns(t, s, m, allowed=False)
    s = env.run('ssh-tty', USER, 'stty -a >/dev/null && echo "stty=ok"; echo "tty=$(tty)"')
    t.login_ok(s, 'strictest: ssh -tt logs in')
    t.eq(s.value('stty'), 'ok', 'strictest: ssh -tt: the pty answers stty')
    check_ssh_features(t, env, USER, expect_cell=True)
    ssh_channels_restricted(t, env)
    t.clean()


# ---- sshd's other channels --------------------------------------------------------------

def proc_view(pid):
    """uid_map and the hardening fields of a process, read from the harness."""
    try:
        with open(f'/proc/{pid}/uid_map') as f:
            umap = ';'.join(' '.join(ln.split()) for ln in f)
        with open(f'/proc/{pid}/status') as f:
            st = dict(ln.split(':', 1) for ln in f if ':' in ln)
        return (umap, st['NoNewPrivs'].strip(), st['CapBnd'].strip(), st['Seccomp'].strip())
    except (OSError, KeyError):
        return None


STRICT_VIEW = (USER_MAP, '1', '0000000000000000', '2')


def ssh_channels_restricted(t, env):
    """sftp-server, multiplexed channels and scp run in the user namespace,
    with every restriction (the strictest policy)."""
    cfg = f'{WORK}/ssh/ssh_config'
    # sftp: keep the connection open (batch on stdin), look at sftp-server.
    p = subprocess.Popen(['sftp', '-F', cfg, '-b', '-', f'{USER}@{SSH_HOST}'], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    p.stdin.write(b'pwd\n')
    p.stdin.flush()
    server = poll(lambda: [x for x in find_procs('sftp-server') if x.uid == UID], timeout=10)
    t.check(server, 'sftp: an sftp-server of the user runs', '')
    if server:
        t.eq(proc_view(server[0].pid), STRICT_VIEW,
             'sftp: sftp-server has (uid_map, NoNewPrivs, CapBnd, Seccomp) of the session')
        t.check(server[0].pidns != env.host_pidns, 'sftp: sftp-server is in the cell\'s pid namespace')
    p.stdin.close()
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    t.eq(p.returncode, 0, 'sftp: the batch session ends with 0')

    # Two channels over one ControlMaster connection: both restricted.
    ctl = f'{WORK}/ssh/mux-hardening'
    master = subprocess.Popen(['ssh', '-F', cfg, '-l', USER, '-M', '-S', ctl, '-N',
                               '-o', 'ControlPersist=no', SSH_HOST],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    t.require(poll(lambda: os.path.exists(ctl) or master.poll() is not None, 10)
              and master.poll() is None, 'mux: the ControlMaster connection is up')
    cells = []
    for n in (1, 2):
        s = env.run('ssh', USER, HARD, ssh_opts=['-S', ctl, '-o', 'ControlMaster=no'])
        t.login_ok(s, f'mux: channel {n} runs', require=False)
        cells.append(cell_of(s))
        t.eq((s.value('uid_map'), s.value('NoNewPrivs'), s.value('CapBnd'), s.value('Seccomp')), STRICT_VIEW,
             f'mux: channel {n} has (uid_map, NoNewPrivs, CapBnd, Seccomp) of the session')
        t.check(rc(s, 'unshare_U') != 0 and out(s, 'suid_id') == str(UID),
                f'mux: channel {n}: unshare -U refused, the setuid-root id gives euid {UID}',
                f'{out(s, "unshare_U")} / {out(s, "suid_id")}')
    t.check(cells[0] and cells[0] == cells[1],
            'mux: both channels are in one cell (one PAM session: the master\'s connection)', str(cells))
    sh(['ssh', '-F', cfg, '-l', USER, '-S', ctl, '-O', 'exit', SSH_HOST], check=False)
    try:
        master.wait(10)
    except subprocess.TimeoutExpired:
        master.kill()
        master.wait()

    # scp, in its SFTP mode and in the legacy protocol (-O: `scp -t` run by the shell).
    src = f'{WORK}/scp-src'
    write(src, 'scp payload\n', 0o644)
    for opts, name in (([], 'scp-sftp'), (['-O'], 'scp-legacy')):
        r = sh(['scp', '-F', cfg] + opts + [src, f'{USER}@{SSH_HOST}:{name}'], check=False)
        path = f'/home/{USER}/{name}'
        t.check(r.returncode == 0 and os.path.exists(path) and open(path).read() == 'scp payload\n',
                f'{name}: a file copied with {" ".join(["scp"] + opts)} arrives in the user\'s home',
                r.stdout + r.stderr)
        if os.path.exists(path):
            t.eq(os.stat(path).st_uid, UID, f'{name}: ... owned by the user')
            os.unlink(path)
    os.unlink(src)
