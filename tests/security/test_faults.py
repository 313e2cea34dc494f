# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault injection: the helper (and the cell it is making) killed or failed at
# each step of cell setup; /run/nscell full; the policy replaced, broken or
# unreadable while cells run; the kernel's namespace limits at 0; pids running
# out; sshd restarted under live sessions. After each: logins behave as the PAM
# stack says (required refuses, optional lets in unisolated), running sessions
# keep working, nothing is left behind.

import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import secutil as su  # noqa: E402
import nscelltest as nt  # noqa: E402
from nscelltest import BEGIN, HOLD, PROBE, USERS, WORK, cell_of, policy, test, write  # noqa: E402

WRAPPER = '/usr/local/libexec/nscell/nscit-inject-helper'
INJECT = '/run/nscell-sec/inject'
TRACE = '/run/nscell-sec/trace'
RICH = policy(extra='Namespaces pid mount ipc uts net user\nHostname nscit-cell\nUserNamespaceFallback no-new-privs\n'
                    'VarTmp persistent\n', matches=[('User nscit-x', 'Isolate no')])
# Syscalls where a cell comes into being, in the helper or in the cell's
# future init: each is a point to kill or fail at.
POINTS = ['openat', 'mkdirat', 'socket', 'bind', 'listen', 'flock', 'pidfd_open', 'clone3', 'clone', 'unshare',
          'write', 'read', 'mount', 'open_tree', 'move_mount', 'sethostname', 'ioctl', 'prctl', 'dup2', 'dup3',
          'close_range', 'execveat', 'connect', 'sendmsg', 'recvmsg', 'setresuid', 'capset', 'unlinkat']
ERRORS = {'mount': 'EPERM', 'clone3': 'ENOSPC', 'unshare': 'ENOSPC', 'open_tree': 'ENOMEM', 'move_mount': 'EBUSY',
          'execveat': 'ENOEXEC', 'connect': 'ECONNREFUSED', 'sendmsg': 'ENOBUFS', 'bind': 'ENOSPC',
          'listen': 'ENOMEM', 'flock': 'ENOLCK', 'socket': 'EMFILE', 'sethostname': 'EPERM',
          'pidfd_open': 'ESRCH', 'ioctl': 'ENODEV', 'recvmsg': 'ECONNRESET'}


# NSCELL_FAULTS_ALL=1: every occurrence of every point (by hand: ~15 min).
ALL = os.environ.get('NSCELL_FAULTS_ALL') == '1'
# Calls only the rich policy makes (user namespace, persistent dir, hostname, net).
RICH_ONLY = {'unshare', 'clone', 'mkdirat', 'open_tree', 'move_mount', 'sethostname', 'ioctl', 'write', 'mount'}


def occurrences(count, errors=False):
    """Which calls of a syscall to hit: all of them with NSCELL_FAULTS_ALL,
    else the first, the second and the last (the kill points that matter are
    where state changes; the long runs of openat/prctl add nothing)."""
    if count <= 0:
        return []
    if ALL:
        return list(range(1, count + 1))
    pick = {1, 2, count} if not errors else {1, count}
    return sorted(n for n in pick if n <= count)


def setup_wrapper(env):
    """A helper= for pam_nscell that runs the real helper under strace with
    the injection named in INJECT (or a plain trace). strace attaches to the
    wrapper from a child that has closed the request socket, then the wrapper
    execs the helper: the helper's parent is still the PAM application, and
    no tracer holds fd 3 open (the module sees the helper's death at once)."""
    os.makedirs('/run/nscell-sec', exist_ok=True)
    write(WRAPPER, f'''#!/usr/bin/python3
import os, time
try:
    spec = open({INJECT!r}).read().split()
except OSError:
    spec = []
args = ['strace', '-f', '-qq', '-p', str(os.getpid())]
if spec and spec[0] == 'trace':
    args += ['-o', {TRACE!r}]
else:
    # No -e trace=...: with a trace filter strace 6.1 counts when= differently.
    args += ['-o', '/dev/null']
    for s in spec:
        args += ['-e', 'inject=' + s]
if os.fork() == 0:
    os.setsid()  # the tracer is no part of the login: its terminal must not stop it
    os.closerange(3, 1024)
    os.execv('/usr/bin/strace', args)
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    with open('/proc/self/status') as f:
        if [ln for ln in f if ln.startswith('TracerPid:')][0].split()[1] != '0':
            break
    time.sleep(0.001)
os.execv({env.open_helper!r}, ['nscell-open', 'open'])
''', 0o755)


def set_inject(spec):
    write(INJECT, spec, 0o644)


def trace_points(t, env, pol):
    """Run one login under strace and count, per process, the calls of each
    syscall in POINTS: the kill points are (syscall, n) for each n."""
    env.set_policy(pol)
    set_inject('trace')
    if os.path.exists(TRACE):
        os.unlink(TRACE)
    s = env.run('su', 'nscit-a', PROBE)
    t.login_ok(s, 'a traced login works', require=False)
    counts = {}
    per = {}
    with open(TRACE) as f:
        for ln in f:
            m = re.match(r'^(\d+)\s+(\w+)\(', ln)
            if not m:
                continue
            pid, name = m.group(1), m.group(2)
            per.setdefault(pid, {}).setdefault(name, 0)
            per[pid][name] += 1
    for pid, names in per.items():
        if names.get('execve', 0) and len(per) and 'exit_group' not in names and False:
            continue
        for n, c in names.items():
            if n in POINTS:
                counts[n] = max(counts.get(n, 0), c)
    t.check(counts.get('clone3') and counts.get('mount'), f'the trace shows the cell being made: {counts}')
    return counts


# Known bugs, expected to fail until fixed (listed in SECURITY.md):
# name -> (predicate on (what is left, syslog since the login), description).
def _left_cells(left):
    inits = {m.group(1) for x in left for m in [re.search(r"argv='nscell-init (\S+)'", x)] if m}
    socks = set()
    for x in left:
        m = re.search(r'cells not empty: \[(.*)\]', x)
        if m:
            socks |= {n.strip(" '")[:-len('.sock')] for n in m.group(1).split(',')}
    others = [x for x in left if not re.search(r"argv='nscell-init |cells not empty", x)]
    return inits, socks, others


def _unjoined_cell(left, lines):
    """A cell init (and its socket) left, of a cell no session ever joined."""
    inits, socks, others = _left_cells(left)
    joined = {m.group(1) for ln in lines for m in [re.search(r'event=session-joined cell=(\S+)', ln)] if m}
    return bool(inits) and not others and socks <= inits and not (inits & joined)


def _stale_socket(left, lines):
    """Only registry entries left, with no init behind them."""
    inits, socks, others = _left_cells(left)
    return bool(socks) and not inits and not others


KNOWN_BUGS = {
    'unjoined-cell-leak': (_unjoined_cell,
                           'helper/helper.c main(): when the helper dies or fails (cell_join(): connect, '
                           'sendmsg, recvmsg) after cell_create() succeeded, the new nscell-init has no '
                           'session and never ends (helper/init.c has no deadline for a first JOIN): the init, '
                           'its namespaces and /run/nscell/cells/<id>.sock stay forever (Scope session)'),
    'stale-cell-socket': (_stale_socket,
                          '/run/nscell/cells/<id>.sock is left with no init when the helper dies between '
                          'cell_listen() and the init starting, when cell_listen()\'s listen() fails after '
                          'bind() (helper/runtime.c: no unlink), when the cell child dies before exec (the '
                          'helper takes EOF on the error pipe for success, logs event=cell-created and fails '
                          'the join without unlinking), or when an init is SIGKILLed; nothing ever removes '
                          'an entry with a random session id'),
}
known_hits = {}


def one_fault(t, env, spec, what, method='su', user='nscit-a'):
    """One login with an injected fault: it may succeed (the fault hit after
    the answer) or be refused; either way it is in a cell or refused, and
    nothing is left after logout."""
    set_inject(spec)
    mark = env.syslog.mark()
    s = env.run(method, user, PROBE, timeout=30)
    in_cell = s.ok and s.value('pidns') not in (None, env.host_pidns)
    refused = s.rc != 0 and BEGIN not in s.raw
    verdict = 'logged in, in a cell' if in_cell else 'refused' if refused else 'INCONSISTENT'
    nt.log(f'    fault: {what}: {verdict}')
    t.check(in_cell or refused, f'{what}: the login is either in a cell or refused (session required)',
            s.describe())
    if refused:
        t.check(env.syslog.wait_for(r'pam_nscell\(.*cell not entered', mark, timeout=3),
                f'{what}: pam_nscell logged why the cell was not entered')
    left = env.wait_clean(2)
    bug = next((k for k, (pred, _) in KNOWN_BUGS.items() if pred(left, env.syslog.since(mark))), None)
    if bug:
        nt.log(f'    XFAIL {what}: known bug {bug}: ' + '; '.join(left))
        known_hits.setdefault(bug, []).append(what)
        verdict = 'XFAIL ' + bug
    else:
        t.check(not left, f'{what}: nothing left behind (process, cell, socket, mount)', '\n'.join(left))
    if left:
        damage_control(env)
    return verdict


def damage_control(env):
    """After a failed or expected-failed check: SIGKILL the cell inits and
    test-user processes left, then drop stale registry entries (an init
    killed by SIGKILL cannot unlink its socket)."""
    victims = [p for p in su.cell_inits(nt) + su.test_user_procs(nt) if p.pid not in env.infra_pids()]
    for p in victims:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # One look per process: it may be gone between two.
    nt.poll(lambda: not [p for p in victims if (q := nt.proc(p.pid)) and q.state != 'Z'], timeout=3)
    for sock in nt.cell_sockets():
        os.unlink(f'/run/nscell/cells/{sock}')
    if env.leftovers():
        env.force_clean()


@test('faults: the helper and the cell it makes killed at each step of setup (strace fault injection)')
def _(t):
    env = t.env
    if not shutil.which('strace'):
        t.skip('strace is not installed')
    setup_wrapper(env)
    env.set_pam(args=f'debug helper={WRAPPER}')
    verdicts = {}
    try:
        for pname, pol in (('session cell, default policy', nt.DEFAULT_POLICY), ('rich policy', RICH)):
            counts = trace_points(t, env, pol)
            env.set_policy(pol)
            only = None if pname.startswith('session') else RICH_ONLY
            for name in POINTS:
                if only is not None and name not in only:
                    continue
                for n in occurrences(counts.get(name, 0)):
                    v = one_fault(t, env, f'{name}:signal=KILL:when={n}',
                                  f'{pname}: SIGKILL at {name} #{n}')
                    verdicts[v] = verdicts.get(v, 0) + 1
            for name, e in ERRORS.items():
                if only is not None and name not in only:
                    continue
                for n in occurrences(counts.get(name, 0), errors=True):
                    v = one_fault(t, env, f'{name}:error={e}:when={n}', f'{pname}: {name} #{n} fails with {e}')
                    verdicts[v] = verdicts.get(v, 0) + 1
    finally:
        env.set_pam()
    nt.log(f'    fault injection summary: {verdicts}')
    for bug, whats in known_hits.items():
        nt.log(f'    EXPECTED FAILURE (known bug, temporary): {bug}: {KNOWN_BUGS[bug][1]}; '
               f'hit by {len(whats)} injections, e.g. {whats[:3]}')
    s = env.run('ssh', 'nscit-a', PROBE)
    t.login_ok(s, 'afterwards, a plain ssh login works')
    t.clean()


# (what, fault, None: nothing may be left | a known bug expected to show)
REGRESSIONS = [
    ('the helper SIGKILLed before it sends its JOIN', 'sendmsg:signal=KILL:when=1', None),
    ('the helper\'s JOIN fails (sendmsg ENOBUFS)', 'sendmsg:error=ENOBUFS:when=1', None),
    ('listen() fails after bind() in cell_listen()', 'listen:error=ENOMEM:when=1', None),
    ('the helper SIGKILLed between bind() and the cell', 'listen:signal=KILL:when=1', 'stale-cell-socket'),
    ('the cell child SIGKILLed before exec (at its 2nd mount)', 'mount:signal=KILL:when=2', None),
]


def expect_known(t, what, bug, left, lines):
    """A temporary expected failure: passes while the known bug shows, fails
    with "unexpected pass" once it is fixed (then remove it from the list)."""
    if not left:
        t.check(False, f'{what}: unexpected pass: nothing left; known bug {bug} is fixed: remove its xfail')
        return
    ok = KNOWN_BUGS[bug][0](left, lines)
    nt.log(f'    XFAIL {what}: known bug {bug}: ' + '; '.join(left))
    t.check(ok, f'{what}: XFAIL (known bug {bug}, temporary)', '\n'.join(left))


@test('faults: helper or cell child killed mid-setup leaves nothing (a registry entry in two root-only cases: xfail)')
def _(t):
    env = t.env
    if not shutil.which('strace'):
        t.skip('strace is not installed')
    setup_wrapper(env)
    env.set_pam(args=f'debug helper={WRAPPER}')
    try:
        for what, spec, bug in REGRESSIONS:
            set_inject(spec)
            mark = env.syslog.mark()
            t0 = time.monotonic()
            s = env.run('su', 'nscit-a', PROBE, timeout=30)
            took = time.monotonic() - t0
            t.check(s.rc != 0 and BEGIN not in s.raw, f'{what}: the login is refused ({took:.1f} s)', s.describe())
            left = env.wait_clean(2)
            lines = env.syslog.since(mark)
            if bug is None:
                t.check(not left, f'{what}: nothing left behind (process, cell, socket, mount)',
                        '\n'.join(left))
            else:
                expect_known(t, what, bug, left, lines)
            if 'before exec' in what:
                claimed = [ln for ln in lines if 'event=cell-created' in ln]
                nt.log(f'    (the helper logged {len(claimed)} event=cell-created for a cell whose init never ran)')
            damage_control(env)
    finally:
        env.set_pam()
    # An init killed by root or the OOM killer cannot unlink its entry.
    a = env.login('ssh', 'nscit-a', PROBE + HOLD)
    t.require(a.wait_held(), 'a session holds a cell', a.describe())
    init = [p for p in su.cell_inits(nt) if p.argv[1:] == [cell_of(a)]]
    t.require(init, 'its init is found')
    os.kill(init[0].pid, signal.SIGKILL)
    a.wait(10)
    expect_known(t, 'an init killed with SIGKILL', 'stale-cell-socket', env.wait_clean(2), [])
    damage_control(env)
    t.clean()


def stat_fields(pid):
    with open(f'/proc/{pid}/stat') as f:
        rest = f.read().rsplit(')', 1)[1].split()
    return {'pgrp': int(rest[2]), 'session': int(rest[3])}


@test('faults: signals to a login program\'s process group (hangup, Ctrl-C) reach only that login')
def _(t):
    env = t.env
    env.set_policy(policy(matches=[('User nscit-x', 'Isolate no'), ('User nscit-d', 'Scope user')]))
    outcomes = []
    for sig in (signal.SIGHUP, signal.SIGINT):
        b = held(env, 'nscit-d', method='su', tag='pg-b')
        t.require(b.wait_held(), 'su -l nscit-d (from a terminal, as its process group leader) makes the user cell',
                  b.describe())
        a = held(env, 'nscit-d', method='ssh', tag='pg-a')
        t.require(a.wait_held(), 'an ssh session of nscit-d joins the same cell', a.describe())
        t.eq(cell_of(a), cell_of(b), 'both sessions are in the user cell')
        init = [p for p in su.cell_inits(nt) if p.argv[1:] == [cell_of(a)]][0]
        si, sb = stat_fields(init.pid), stat_fields(b.proc.pid)
        nt.log(f'    fault: init of {cell_of(a)}: process group {si["pgrp"]}, session {si["session"]}; '
               f'su: process group {sb["pgrp"]}, session {sb["session"]}')
        # What the terminal driver does on hangup / Ctrl-C: signal su's process group.
        os.killpg(b.proc.pid, sig)
        b.wait(10)
        time.sleep(1)
        survived = a.proc.poll() is None and init.pid in [p.pid for p in su.cell_inits(nt)]
        outcomes.append((sig, si['pgrp'] == sb['pgrp'], survived))
        nt.log(f'    fault: {signal.Signals(sig).name} to su\'s process group: the other session '
               f'{"survived" if survived else "DIED WITH THE CELL"}')
        if survived:
            check_held(t, a, 'pg-a', f'{signal.Signals(sig).name} to another login\'s process group')
        else:
            a.wait(10)
        damage_control(env)
    bug = [o for o in outcomes if o[1] and not o[2]]
    if bug:
        nt.log('    XFAIL known bug init-in-login-pgrp: ' + KNOWN_BUGS_TEXT['init-in-login-pgrp'])
        t.check(True, f'XFAIL (known bug init-in-login-pgrp, temporary): {[signal.Signals(o[0]).name for o in bug]} '
                'to the first login\'s process group ended the user cell and every session in it')
    else:
        t.check(all(o[2] for o in outcomes), 'the other session survived every signal (unexpected pass: remove the '
                'xfail of init-in-login-pgrp)' if any(o[1] for o in outcomes) else 'the other session survived')
    t.clean()


@test('faults: Ctrl-Z to su\'s process group while the helper holds its registry lock')
def _(t):
    env = t.env
    if not shutil.which('strace'):
        t.skip('strace is not installed')
    setup_wrapper(env)
    # Widen the helper's ~1 ms under the lock to 3 s, so a test can hit it
    # every time; a user at a terminal hits it by repeating.
    set_inject('flock:delay_exit=3000000:when=1')
    env.set_pam(args=f'debug helper={WRAPPER}')
    stopped_with_lock = False
    blocked = None
    # As at a terminal: su is a job of the user's shell, in a process group
    # of its own within the shell's session (not an orphaned group, which
    # the kernel would shield from Ctrl-Z).
    script = f'{WORK}/scripts/nscit-ctrlz.sh'
    write(script, f'echo {BEGIN}\n{PROBE}\n{HOLD}\n', 0o644)
    job = subprocess.Popen([sys.executable, '-c', 'import os, sys\nos.setsid()\npid = os.fork()\n'
                            'if pid == 0:\n    os.setpgid(0, 0)\n'
                            '    os.execvp("su", ["su", "-l", "nscit-a", "-c", "/bin/sh " + sys.argv[1]])\n'
                            'os.waitpid(pid, 0)\n', script],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def helper_with_lock():
            for p in nt.procs():
                if p.comm in nt.HELPER_COMMS:
                    with open('/proc/locks') as f:
                        if any(ln.split()[1] == 'FLOCK' and ln.split()[4] == str(p.pid) for ln in f):
                            return p
            return None
        h = nt.poll(helper_with_lock, timeout=5, interval=0.01)
        t.require(h, 'the helper of su -l nscit-a holds its registry lock (/run/nscell/locks/user-UID)')
        su_pid = h.ppid
        nt.log(f'    fault: helper {h.pid} (process group {stat_fields(h.pid)["pgrp"]}; su\'s is '
               f'{stat_fields(su_pid)["pgrp"]}) holds the lock; Ctrl-Z (SIGTSTP to su\'s group)')
        os.killpg(stat_fields(su_pid)['pgrp'], signal.SIGTSTP)
        time.sleep(3.5)
        state = nt.proc(h.pid).state if nt.proc(h.pid) else 'gone'
        stopped_with_lock = state in ('T', 't') and helper_with_lock() is not None
        nt.log(f'    fault: after the delay the helper is in state {state}, '
               f'{"still holding" if helper_with_lock() else "not holding"} the lock')
        set_inject('')
        t0 = time.monotonic()
        c = env.run('ssh', 'nscit-b', PROBE, timeout=40)
        blocked = time.monotonic() - t0
        nt.log(f'    fault: meanwhile an ssh login of nscit-b took {blocked:.1f} s: '
               f'{"in a cell" if c.ok else "refused"}')
        os.killpg(stat_fields(su_pid)['pgrp'], signal.SIGCONT)
    finally:
        env.set_pam()
        set_inject('')
        try:
            job.stdin.write(b'\n')
            job.stdin.close()
        except OSError:
            pass
        try:
            job.wait(20)
        except subprocess.TimeoutExpired:
            job.kill()
            job.wait()
    if stopped_with_lock and blocked and blocked > 5:
        nt.log('    XFAIL known bug helper-in-login-pgrp: ' + KNOWN_BUGS_TEXT['helper-in-login-pgrp'])
        t.check(True, 'XFAIL (known bug helper-in-login-pgrp, temporary): a terminal\'s Ctrl-Z stopped the '
                f'helper holding the registry lock; another user\'s login waited {blocked:.0f} s')
    else:
        t.check(not stopped_with_lock, 'the helper is not stopped by its caller\'s terminal (unexpected pass: '
                'remove the xfail of helper-in-login-pgrp)')
        t.check(blocked is not None and blocked < 5, f'another login was not held up ({blocked})')
    damage_control(env)
    t.clean()


KNOWN_BUGS_TEXT = {
    'helper-in-login-pgrp': 'helper/helper.c sanitize(): the helper stays in the process group (and on the '
                            'controlling terminal) of su/login/sudo. The terminal driver signals that group '
                            'without any permission check, so the user at the terminal stops (Ctrl-Z) or kills '
                            '(Ctrl-C, Ctrl-\\) the root helper mid-setup: stopped while it holds '
                            'its registry lock, every isolated login on the host waits (the module gives up after '
                            '15 s: refused with session required); killed, it leaks a cell or a registry entry',
    'init-in-login-pgrp': 'helper/cell.c cell_create()/child_setup(): nscell-init never calls setsid(), so it stays '
                          'in the process group and session of the PAM application that spawned the helper (su, '
                          'login, sshd\'s monitor). The terminal driver\'s SIGHUP (hangup) and SIGINT (Ctrl-C) to '
                          'that group reach the init, which ends the cell ("terminated") - with Scope user, every '
                          'other session of the user dies too; a SIGKILL to the group (killpg) kills the init '
                          'outright and leaves its /run/nscell/cells entry behind',
}


def held(env, user, method='ssh', tag='x'):
    s = env.login(method, user, PROBE + f'echo {tag} > /tmp/nscit-held\n' + HOLD +
                  '\necho "after=$(cat /tmp/nscit-held) $(readlink /proc/self/ns/pid)"')
    return s


def check_held(t, s, tag, what):
    s.release()
    s.wait()
    t.check(s.ok and (s.value('after') or '').startswith(tag + ' ')
            and s.value('after').split()[1] == s.value('pidns'),
            f'{what}: the running session kept working in its cell (its /tmp, its pid namespace)',
            s.describe())


def refused_then_unisolated(t, env, what, user='nscit-b', methods=('su', 'ssh')):
    for control in ('required', 'optional'):
        env.set_pam(control=control)
        for m in methods:
            s = env.run(m, user, PROBE, timeout=30)
            if control == 'required':
                t.check(s.rc != 0 and BEGIN not in s.raw, f'{what}: {m}, session required: refused', s.describe())
            else:
                t.check(s.ok and s.value('pidns') == env.host_pidns,
                        f'{what}: {m}, session optional: logs in unisolated', s.describe())
    env.set_pam()


@test('faults: /run/nscell full (a tiny tmpfs: no inode for another cell socket)')
def _(t):
    env = t.env
    t.require(not nt.cell_sockets(), 'no cell is running')
    os.makedirs('/run/nscell', exist_ok=True)
    # root dir + cells/ + locks/ + nscit-a's lock + nscit-a's socket, and one
    # more: nscit-b's lock fits, its socket does not (locks stay; sockets go
    # with their cells)
    nt.sh(['mount', '-t', 'tmpfs', '-o', 'mode=0700,nr_inodes=6,size=64k', 'nscit-runfull', '/run/nscell'])
    try:
        a = held(env, 'nscit-a', tag='full1')
        t.require(a.wait_held(), 'the first login takes the last inode', a.describe())
        nt.log(f'    fault: /run/nscell full: {os.listdir("/run/nscell/cells")}')
        mark = env.syslog.mark()
        refused_then_unisolated(t, env, '/run/nscell full')
        t.syslog(r'No space left', mark, 'syslog: the helper says there is no space for the cell socket')
        check_held(t, a, 'full1', '/run/nscell full')
        t.check(nt.poll(lambda: not nt.cell_sockets(), 5), 'the held session ended: its socket is gone')
        s = env.run('su', 'nscit-b', PROBE)
        t.login_ok(s, 'once the first cell ended, a login gets a cell again', require=False)
        t.check(nt.poll(lambda: not nt.cell_sockets() and not su.cell_inits(nt), 5), '... and it ends cleanly')
    finally:
        env.force_clean()
        nt.sh(['umount', '/run/nscell'], check=False)
    t.clean()


@test('faults: the policy replaced, broken, unreadable or a FIFO while cells run')
def _(t):
    env = t.env
    env.set_policy(policy(matches=[('User nscit-x', 'Isolate no'), ('User nscit-a', 'Scope user')]))
    a = held(env, 'nscit-a', tag='pol-a')
    c = held(env, 'nscit-c', method='su', tag='pol-c')
    t.require(a.wait_held() and c.wait_held(), 'two sessions hold cells (one user cell, one session cell)',
              a.describe() + c.describe())
    conf = '/etc/security/nscell.conf'
    good = open(conf).read()
    cases = [
        ('a syntax error', lambda: write(conf, good + 'NoSuchKey yes\n', 0o644)),
        ('group-writable', lambda: (write(conf, good, 0o664))),
        ('owned by a user', lambda: (write(conf, good, 0o644, uid=USERS['nscit-b']))),
        ('a symlink to a good copy', lambda: (write('/etc/security/nscit-good.conf', good, 0o644),
                                              os.unlink(conf), os.symlink('/etc/security/nscit-good.conf', conf))),
        ('a FIFO', lambda: (os.unlink(conf), os.mkfifo(conf, 0o644))),
        ('a directory', lambda: (os.unlink(conf), os.mkdir(conf, 0o755))),
        ('missing', lambda: os.unlink(conf)),
        ('a drop-in owned by a user', lambda: (write('/etc/security/nscell.conf.d/nscit.conf', 'Scope user\n', 0o644,
                                                      uid=USERS['nscit-b']))),
    ]

    def restore():
        if os.path.islink(conf) or (os.path.exists(conf) and not os.path.isdir(conf)):
            os.unlink(conf)
        elif os.path.isdir(conf):
            os.rmdir(conf)
        for f in ('/etc/security/nscit-good.conf', '/etc/security/nscell.conf.d/nscit.conf'):
            if os.path.exists(f):
                os.unlink(f)
        write(conf, good, 0o644)
    for what, break_it in cases:
        break_it()
        try:
            t0 = time.monotonic()
            if what == 'missing':
                # No policy at all: the built-in defaults isolate (documented).
                s = env.run('su', 'nscit-b', PROBE, timeout=30)
                nt.log(f'    fault: policy {what}: login {"in a cell" if s.value("pidns") != env.host_pidns else "unisolated"}')
                t.check(s.rc is not None, f'policy {what}: the login does not hang')
            else:
                refused_then_unisolated(t, env, f'policy {what}', methods=('su',))
                nt.log(f'    fault: policy {what}: required refuses, optional lets in unisolated '
                       f'({time.monotonic() - t0:.1f} s)')
                s = env.run('su', 'nscit-a', PROBE, timeout=30)
                t.check(s.rc != 0, f'policy {what}: even joining the running user cell is refused', s.describe())
            t.check(time.monotonic() - t0 < 60, f'policy {what}: no login waited on it')
        finally:
            restore()
        s = env.run('su', 'nscit-b', PROBE)
        t.login_ok(s, f'policy {what}: once restored, logins get cells again', require=False)
    # Atomically replaced by a different policy: new logins follow it at once.
    write('/etc/security/nscit-new.conf', policy(scope='user'), 0o644)
    os.rename('/etc/security/nscit-new.conf', conf)
    s = env.run('su', 'nscit-c', PROBE)
    t.eq(cell_of(s), f'user-{USERS["nscit-c"]}', 'policy renamed over: the next login follows the new one (Scope user)')
    check_held(t, a, 'pol-a', 'policy changes')
    check_held(t, c, 'pol-c', 'policy changes')
    t.clean()


NS_LIMITS = {
    'max_pid_namespaces': ('', 'clone3'), 'max_mnt_namespaces': ('', 'clone3'),
    'max_ipc_namespaces': ('', 'clone3'),
    'max_uts_namespaces': ('Namespaces pid mount ipc uts\n', 'clone3'),
    'max_net_namespaces': ('Namespaces pid mount net\n', 'clone3'),
    'max_cgroup_namespaces': ('Namespaces pid mount cgroup\n', 'clone3'),
    'max_user_namespaces': ('Namespaces pid mount user\nUserNamespaceFallback no-new-privs\n', 'unshare'),
}


@test('faults: user.max_*_namespaces at 0 (or, where /proc/sys/user is read-only, its ENOSPC injected)')
def _(t):
    env = t.env
    a = held(env, 'nscit-a', tag='lim')
    t.require(a.wait_held(), 'a session holds a cell', a.describe())
    setup_wrapper(env)
    for name, (extra, syscall) in NS_LIMITS.items():
        path = f'/proc/sys/user/{name}'
        env.set_policy(policy(extra=extra, matches=[('User nscit-x', 'Isolate no')]))
        old = open(path).read().strip() if os.path.exists(path) else None
        how = f'user.{name}=0'
        args = 'debug'
        try:
            with open(path, 'w') as f:
                f.write(old)
            writable = True
        except OSError as e:
            writable = False
            # What the kernel answers at the limit, without touching the host.
            how = f'user.{name} read-only here ({e.strerror}): {syscall} fails with ENOSPC as at the limit'
            set_inject(f'{syscall}:error=ENOSPC:when=1')
            args = f'debug helper={WRAPPER}'
        results = []
        try:
            if writable:
                with open(path, 'w') as f:
                    f.write('0')
            for control in ('required', 'optional'):
                env.set_pam(control=control, args=args)
                s = env.run('su', 'nscit-b', PROBE, timeout=30)
                results.append(s)
        finally:
            if writable:
                with open(path, 'w') as f:
                    f.write(old)
            env.set_pam()
        req, opt = results
        nt.log(f'    fault: {how}: required -> {"refused" if req.rc else "LOGGED IN"}, '
               f'optional -> {"unisolated" if opt.ok and opt.value("pidns") == env.host_pidns else opt.rc}')
        t.check(req.rc != 0 and BEGIN not in req.raw, f'{how}: session required: refused', req.describe())
        t.check(opt.ok and opt.value('pidns') == env.host_pidns,
                f'{how}: session optional: in, unisolated', opt.describe())
        if old is not None:
            t.eq(open(path).read().strip(), old, f'user.{name} is {old} as before')
    env.set_policy(nt.DEFAULT_POLICY)
    check_held(t, a, 'lim', 'namespace limits at 0')
    t.clean()


@test('faults: pids running out (a pids cgroup with pids.max just above what the login has)')
def _(t):
    env = t.env
    base = '/sys/fs/cgroup/pids'
    if not os.path.isfile(f'{base}/cgroup.procs') or not os.access(base, os.W_OK):
        t.skip('no writable cgroup v1 pids hierarchy at /sys/fs/cgroup/pids (kernel.pid_max is global: '
               'lowering it would touch the host)')
    cg = f'{base}/nscit-sec-{os.readlink("/proc/self/ns/pid")[5:-1]}-{time.monotonic_ns()}'
    os.makedirs(cg, exist_ok=True)
    verdicts = []
    try:
        env.set_policy(RICH)
        for limit in range(1, 9):
            with open(f'{cg}/pids.max', 'w') as f:
                f.write(str(limit))
            script = f'{WORK}/scripts/nscit-pids.sh'
            write(script, f'echo {BEGIN}\n{PROBE}\n', 0o644)
            # Only the login is confined: su and everything it starts.
            r = subprocess.run(['sh', '-c', f'echo $$ > {cg}/cgroup.procs && exec su -l nscit-a -c '
                                f'"/bin/sh {script}"'], capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL, start_new_session=True)
            out = r.stdout
            # A login in a cell may still have its shell's own forks fail.
            in_cell = 'pidns=pid:' in out and f'pidns={env.host_pidns}' not in out
            refused = r.returncode != 0 and BEGIN not in out
            v = 'in a cell' if in_cell else 'refused' if refused else f'INCONSISTENT rc={r.returncode}'
            verdicts.append(f'pids.max={limit}: {v}')
            t.check(in_cell or refused or (r.returncode != 0 and 'fork' in (r.stdout + r.stderr).lower()),
                    f'pids.max={limit}: the login is in a cell or refused ({v})', r.stdout[-800:] + r.stderr[-800:])
            left = env.wait_clean(6)
            t.check(not left, f'pids.max={limit}: nothing left behind', '\n'.join(left))
            if left:
                damage_control(env)
        nt.log('    fault: pids running out: ' + '; '.join(verdicts))
    finally:
        env.force_clean()
        try:
            with open(f'{cg}/cgroup.procs') as f:
                for p in f.read().split():
                    os.kill(int(p), signal.SIGKILL)
        except OSError:
            pass
        nt.poll(lambda: not open(f'{cg}/cgroup.procs').read().strip(), timeout=5)
        os.rmdir(cg)
    s = env.run('su', 'nscit-a', PROBE)
    t.login_ok(s, 'afterwards, logins work', require=False)
    t.clean()


@test('faults: sshd restarted (SIGHUP re-exec, then stopped and started again) with live sessions')
def _(t):
    env = t.env
    a = held(env, 'nscit-a', tag='sshd-a')
    b = held(env, 'nscit-b', tag='sshd-b')
    t.require(a.wait_held() and b.wait_held(), 'two ssh sessions hold cells', a.describe() + b.describe())
    env.sshd.send_signal(signal.SIGHUP)
    time.sleep(1)
    s = env.run('ssh', 'nscit-c', PROBE)
    t.login_ok(s, 'after SIGHUP (sshd re-execs itself), a new login works', require=False)
    t.check(s.value('pidns') != env.host_pidns, '... in a cell')
    env.sshd.terminate()
    env.sshd.wait()
    s = env.run('ssh', 'nscit-c', PROBE, timeout=15)
    t.check(s.rc != 0, 'with sshd stopped, no new ssh login (sanity)')
    env.sshd = subprocess.Popen(['/usr/sbin/sshd', '-D', '-e', '-f', f'{WORK}/ssh/sshd_config'],
                                stdin=subprocess.DEVNULL, stdout=env.sshd_log, stderr=env.sshd_log)
    nt.poll(lambda: subprocess.run(['ssh', '-F', f'{WORK}/ssh/ssh_config', '-l', 'nscit-c', nt.SSH_HOST, 'true'],
                                   capture_output=True).returncode == 0, timeout=10)
    s = env.run('ssh', 'nscit-c', PROBE)
    t.login_ok(s, 'sshd started again: a new login works', require=False)
    t.check(s.value('pidns') != env.host_pidns, '... in a cell')
    check_held(t, a, 'sshd-a', 'sshd restarted')
    check_held(t, b, 'sshd-b', 'sshd restarted')
    nt.log('    fault: sshd SIGHUP and stop/start under live sessions: sessions kept working, new logins in cells')
    t.clean()
