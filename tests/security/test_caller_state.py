# SPDX-License-Identifier: LGPL-2.1-or-later
# What a caller's process state can do to root's side. A user runs the
# setuid nscell-run-helper (the run verb through `nscell run`, and a verb it
# refuses) with everything execve(2)
# lets a process hand on: oom_score_adj 1000, nice 19, SCHED_IDLE, one CPU,
# low soft rlimits, SIGCHLD ignored and signals blocked, an idle I/O class, a
# huge timer slack, a personality flag, an interval timer due in 2 s. The
# helper and the cell's init must have left all of it; the command of
# `nscell run` gets the caller's own state back. Also: fds 0-2 of an init
# made by `nscell run` (a pipeline must reach EOF), setgroups in a session's
# user namespace (a group a file denies cannot be dropped: CVE-2014-8989),
# and SO_PEERCRED from inside a pid namespace (0 == 0 is no proof).

import ctypes
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import time

LIBC = ctypes.CDLL(None, use_errno=True)
SYS_ioprio_set, SYS_ioprio_get = 251, 252  # x86_64
PR_SET_TIMERSLACK = 29
UNAME26 = 0x0020000
CLONE_NEWPID = 0x20000000
WORKDIR = '/run/nscell-sec'
RUN_COMM = 'nscell-run-help'  # /proc/PID/comm of nscell-run-helper (15 bytes)


# ---- the caller: run as root by the test, drops to the user, sets the state
# and execs. Its own process, single-threaded (the harness has threads).

def _user_ids(name):
    import grp
    import pwd
    pw = pwd.getpwnam(name)
    groups = [g.gr_gid for g in grp.getgrall() if name in g.gr_mem]
    return pw.pw_uid, pw.pw_gid, sorted(set([pw.pw_gid] + groups))


def _drop(user):
    uid, gid, groups = _user_ids(user)
    os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    # The uid change made us non-dumpable (our /proc/self root's); a user's
    # own process is not.
    LIBC.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE


def _set_state(st):
    """Everything a process can hand on through execve, as the user sets it."""
    if 'oom' in st:
        with open('/proc/self/oom_score_adj', 'w') as f:
            f.write(str(st['oom']))
    if 'nice' in st:
        os.setpriority(os.PRIO_PROCESS, 0, st['nice'])
    if st.get('idle'):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    if 'cpus' in st:
        os.sched_setaffinity(0, st['cpus'])
    for name, (soft, hard) in st.get('rlimits', {}).items():
        r = getattr(resource, name)
        resource.setrlimit(r, (soft, resource.getrlimit(r)[1] if hard is None else hard))
    if 'timerslack' in st:
        LIBC.prctl(PR_SET_TIMERSLACK, ctypes.c_ulong(st['timerslack']), 0, 0, 0)
    if st.get('ioprio_idle'):
        LIBC.syscall(SYS_ioprio_set, 1, 0, 3 << 13)
    if 'personality' in st:
        LIBC.personality(st['personality'])
    for s in st.get('ignore', []):
        signal.signal(getattr(signal, s), signal.SIG_IGN)
    if st.get('block'):
        signal.pthread_sigmask(signal.SIG_BLOCK, [getattr(signal, s) for s in st['block']])
    if 'itimer' in st:
        signal.setitimer(signal.ITIMER_REAL, st['itimer'])


def _caller(spec):
    """spec: user, argv, state, hold (CMD's stdin a pipe we write a line to on
    release), stderr_full (fd 2 a full pipe drained on release), fd3
    ('socketpair': one the user made), outside_parent (an init pid: run the
    program in that cell's pid namespace with a root socketpair, made out
    here, on fd 3 and the request spec['request'] sent on it)."""
    out_path = f'{WORKDIR}/caller-{os.getpid()}.out'
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    hold_r = hold_w = full_r = full_w = None
    if spec.get('hold'):
        hold_r, hold_w = os.pipe()
    if spec.get('stderr_full'):
        full_r, full_w = os.pipe()
        os.set_blocking(full_w, False)
        try:
            while True:
                os.write(full_w, b'.' * 4096)
        except BlockingIOError:
            pass
        os.set_blocking(full_w, True)
    root_a = root_b = None
    if spec.get('outside_parent'):
        root_a, root_b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        root_a.send(bytes.fromhex(spec['request']))

    def child():
        os.dup2(hold_r if hold_r is not None else os.open('/dev/null', os.O_RDONLY), 0)
        os.dup2(out, 1)
        os.dup2(full_w if full_w is not None else out, 2)
        if root_b is not None:
            os.dup2(root_b.fileno(), 3)
            os.set_inheritable(3, True)
        _drop(spec['user'])
        os.chdir('/')
        if spec.get('fd3') == 'socketpair':
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            os.dup2(b.fileno(), 3)
            os.set_inheritable(3, True)
        _set_state(spec.get('state', {}))
        os.execve(spec['argv'][0], spec['argv'], spec.get('env', {}))

    pid = os.fork()
    if pid == 0:
        try:
            if spec.get('outside_parent'):
                # We stay outside; our child is born in the cell's pid
                # namespace, so its parent (us) is outside it: getppid() == 0.
                fd = os.pidfd_open(spec['outside_parent'])
                if LIBC.setns(fd, CLONE_NEWPID) != 0:
                    os._exit(120)
                inner = os.fork()
                if inner == 0:
                    child()
                _, st = os.waitpid(inner, 0)
                os._exit(os.waitstatus_to_exitcode(st) & 0xff)
            child()
        except BaseException as e:  # noqa: B902
            os.write(2, f'caller: {e!r}\n'.encode())
        os._exit(126)
    for fd in (hold_r, full_w):
        if fd is not None:
            os.close(fd)
    if root_b is not None:
        root_b.close()
    print(json.dumps({'pid': pid}), flush=True)
    pidfd = os.pidfd_open(pid)
    draining = False
    status = None
    while status is None:
        rl = [pidfd, 0] + ([full_r] if draining else [])
        ready, _, _ = select.select(rl, [], [], 1.0)
        if 0 in ready:
            os.read(0, 100)
            if hold_w is not None:
                os.write(hold_w, b'\n')
                os.close(hold_w)
                hold_w = None
            draining = full_r is not None
        if full_r is not None and full_r in ready:
            if not os.read(full_r, 65536):
                draining = False
        if pidfd in ready:
            _, st = os.waitpid(pid, 0)
            status = os.waitstatus_to_exitcode(st)
    answer = 0
    if root_a is not None:
        root_a.setblocking(False)
        try:
            answer = len(root_a.recv(8192))
        except OSError:
            pass
    with open(out_path, 'rb') as f:
        text = f.read().decode(errors='replace')
    os.unlink(out_path)
    print(json.dumps({'status': status, 'out': text, 'answer_bytes': answer}), flush=True)


if __name__ == '__main__':
    if sys.argv[1:2] == ['caller']:
        _caller(json.loads(sys.argv[2]))
    sys.exit(0)


# ---- the tests --------------------------------------------------------------

sys.path.insert(0, os.path.dirname(__file__))
import secutil as su  # noqa: E402
import nscelltest as nt  # noqa: E402
from nscelltest import HOLD, PROBE, USERS, policy, test  # noqa: E402

USER = 'nscit-b'
UID = USERS[USER]
DENIED = f'{WORKDIR}/denied-to-nscit'
HOSTILE = {
    'oom': 1000, 'nice': 19, 'idle': True, 'cpus': [0],
    # Soft limits only: the hard ones, lowered, cannot be raised again
    # without CAP_SYS_RESOURCE (a separate test).
    'rlimits': {'RLIMIT_NOFILE': [20, None], 'RLIMIT_CPU': [1, None]},
    'timerslack': 123456789, 'ioprio_idle': True, 'personality': UNAME26,
    'ignore': ['SIGCHLD', 'SIGTERM'], 'block': ['SIGUSR1', 'SIGTERM'],
}
SIGCHLD_BIT = 1 << (signal.SIGCHLD - 1)


class Caller:
    """A user's process with the given state, running argv (see _caller)."""

    def __init__(self, spec):
        os.makedirs(WORKDIR, exist_ok=True)
        os.chmod(WORKDIR, 0o755)
        self.started = time.monotonic()
        self.p = subprocess.Popen([sys.executable, __file__, 'caller', json.dumps(spec)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  start_new_session=True)
        first = self.p.stdout.readline()
        self.pid = json.loads(first)['pid'] if first else None
        self.result = None

    def release(self):
        try:
            self.p.stdin.write(b'\n')
            self.p.stdin.flush()
        except OSError:
            pass

    def finish(self, timeout=60):
        """The caller's exit status and output, or None if it did not end in time."""
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        line = self.p.stdout.readline() if ready else b''
        if not line:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
            return None
        self.p.wait()
        self.result = json.loads(line)
        return self.result


def limits(pid):
    """{name: (soft, hard)} from /proc/PID/limits ('unlimited' as -1)."""
    with open(f'/proc/{pid}/limits') as f:
        lines = f.read().splitlines()
    soft_at, hard_at, units_at = (lines[0].index(h) for h in ('Soft Limit', 'Hard Limit', 'Units'))
    out = {}
    for ln in lines[1:]:
        vals = [ln[soft_at:hard_at].strip(), ln[hard_at:units_at].strip()]
        out[ln[:soft_at].strip()] = tuple(-1 if v == 'unlimited' else int(v) for v in vals)
    return out


def attrs(pid):
    """What the process's state is, read as root from the host's /proc."""
    d = {}
    with open(f'/proc/{pid}/stat') as f:
        rest = f.read().rsplit(')', 1)[1].split()
    d['nice'], d['policy'] = int(rest[16]), int(rest[38])
    with open(f'/proc/{pid}/status') as f:
        st = dict(ln.split(':', 1) for ln in f.read().splitlines() if ':' in ln)
    d['cpus'] = st['Cpus_allowed_list'].strip()
    d['sigign'], d['sigblk'] = int(st['SigIgn'], 16), int(st['SigBlk'], 16)
    d['sigpnd'] = int(st['SigPnd'], 16) | int(st['ShdPnd'], 16)
    for k, fn in (('oom', 'oom_score_adj'), ('timerslack', 'timerslack_ns')):
        with open(f'/proc/{pid}/{fn}') as f:
            d[k] = int(f.read())
    with open(f'/proc/{pid}/personality') as f:
        d['personality'] = int(f.read(), 16)
    d['ioprio_class'] = LIBC.syscall(SYS_ioprio_get, 1, pid) >> 13
    lim = limits(pid)
    d['nofile'], d['cpu'] = lim['Max open files'], lim['Max cpu time']
    return d


def own_cpus():
    with open('/proc/self/status') as f:
        return next(ln.split(':', 1)[1].strip() for ln in f if ln.startswith('Cpus_allowed_list'))


def check_left(t, who, a, ignored_ok=0):
    """Root's side: nothing of HOSTILE is left."""
    nt.log(f'    {who}: {a}')
    t.eq(a['oom'], 0, f'{who}: oom_score_adj 0 (the caller had 1000)')
    t.eq(a['nice'], 0, f'{who}: nice 0 (the caller had 19)')
    t.eq(a['policy'], 0, f'{who}: SCHED_OTHER (the caller had SCHED_IDLE)')
    t.eq(a['cpus'], own_cpus(), f'{who}: every CPU (the caller had CPU 0 only)')
    t.check(a['nofile'][0] >= 1024, f'{who}: RLIMIT_NOFILE soft {a["nofile"][0]} >= 1024 (the caller had 20)')
    t.eq(a['cpu'][0], -1, f'{who}: RLIMIT_CPU unlimited (the caller had 1 s)')
    t.eq(a['sigign'] & ~ignored_ok, 0, f'{who}: no signal ignored but its own '
         f'(SigIgn {a["sigign"]:#x}; the caller ignored SIGCHLD and SIGTERM)')
    t.eq(a['timerslack'], 50000, f'{who}: timer slack 50 us (the caller had 123 ms)')
    t.eq(a['personality'], 0, f'{who}: personality PER_LINUX (the caller had UNAME26)')
    t.check(a['ioprio_class'] != 3, f'{who}: not in the idle I/O class (class {a["ioprio_class"]})')


def helper_own_ignored(verb):
    """What the helper ignores by its own decision: SIGPIPE, and the signals a
    terminal can send (the run verb: INT, QUIT, HUP; TSTP, TTIN, TTOU while it
    holds the lock); open: those and TERM."""
    sigs = [signal.SIGPIPE, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTSTP,
            signal.SIGTTIN, signal.SIGTTOU]
    if verb == 'open':
        sigs.append(signal.SIGTERM)
    return sum(1 << (s - 1) for s in sigs)


def user_cell_init(uid):
    return next((p for p in su.cell_inits(nt) if p.argv == ['nscell-init', f'user-{uid}']), None)


def run_policy(logout='kill'):
    return policy(scope='user', logout=logout, drain_limit='600s' if logout == 'drain' else None,
                  matches=[('User nscit-x', 'Isolate no')])


@test('caller state: nscell run with oom_score_adj 1000, nice 19, SCHED_IDLE, one CPU, ulimit -Sn 20 -St 1, '
      'SIGCHLD ignored...: the helper and the init have none of it, the command all of it, exit 7 arrives')
def _(t):
    env = t.env
    env.set_policy(run_policy())
    cli = env.installed.get('nscell')
    t.require(cli, 'the nscell CLI is installed')
    state = dict(HOSTILE, itimer=2.0)
    # The command: python, which leaves SIGCHLD as it found it (sh resets it).
    c = Caller({'user': USER, 'argv': [cli, 'run', '--', '/usr/bin/python3', '-c',
                                       'import sys; sys.stdin.readline(); sys.exit(7)'],
                'state': state, 'hold': True})
    t.require(c.pid, 'the caller started')
    cmd = nt.poll(lambda: next((p for p in nt.procs() if p.ppid == c.pid and p.argv[:2] == ['/usr/bin/python3', '-c']),
                               None), timeout=30)
    init = user_cell_init(UID)
    t.check(cmd, 'the command runs under the helper', str(nt.proc(c.pid)))
    t.check(init, f'the cell user-{UID} has its init')
    # The caller's interval timer was due after 2 s: give it time to fire.
    while time.monotonic() - c.started < 4:
        time.sleep(0.2)
    helper = nt.proc(c.pid)
    t.check(helper and helper.comm == RUN_COMM,
            'the helper is alive 4 s after the start: the caller\'s 2 s interval timer did not fire',
            str(helper))
    if helper and helper.comm == RUN_COMM:
        check_left(t, 'helper (run)', attrs(c.pid), helper_own_ignored('run'))
    if init:
        check_left(t, 'init made by run', attrs(init.pid))
    if cmd:
        a = attrs(cmd.pid)
        nt.log(f'    command: {a}')
        t.eq(a['oom'], 1000, 'command: the caller\'s oom_score_adj 1000 back')
        t.eq(a['nice'], 19, 'command: the caller\'s nice 19 back')
        t.eq(a['policy'], os.SCHED_IDLE, 'command: the caller\'s SCHED_IDLE back')
        t.eq(a['cpus'], '0', 'command: the caller\'s affinity (CPU 0) back')
        t.eq(a['nofile'][0], 20, 'command: the caller\'s RLIMIT_NOFILE soft 20 back')
        t.eq(a['cpu'][0], 1, 'command: the caller\'s RLIMIT_CPU soft 1 back')
        t.check(a['sigign'] & SIGCHLD_BIT, f'command: SIGCHLD ignored, as the caller had it (SigIgn {a["sigign"]:#x})')
        t.eq(a['timerslack'], 123456789, 'command: the caller\'s timer slack back')
        t.eq(a['personality'], UNAME26, 'command: the caller\'s personality back')
        t.eq(a['ioprio_class'], 3, 'command: the caller\'s idle I/O class back')
    c.release()
    r = c.finish()
    nt.log(f'    nscell run exit status: {r and r["status"]}; output: {r and r["out"]!r}')
    t.eq(r and r['status'], 7, 'nscell run with SIGCHLD ignored: the command\'s exit status 7 arrives (not 125)')
    t.clean(timeout=10)


@test('caller state: nscell run -- sh -c "exit 7" with only SIGCHLD ignored exits 7')
def _(t):
    env = t.env
    env.set_policy(run_policy())
    cli = env.installed.get('nscell')
    c = Caller({'user': USER, 'argv': [cli, 'run', '--', '/bin/sh', '-c', 'exit 7'],
                'state': {'ignore': ['SIGCHLD']}})
    r = c.finish()
    nt.log(f'    exit status {r and r["status"]}; output {r and r["out"]!r}')
    t.eq(r and r['status'], 7, 'the command\'s status reaches the caller')
    t.clean(timeout=10)


@test('caller state: nscell-run-helper by hand with the same state and a verb it refuses: stuck as root, it has left it')
def _(t):
    env = t.env
    # (nscell-open by hand never runs as root: it has no setuid bit.)
    c = Caller({'user': USER, 'argv': [env.run_helper, 'open'], 'state': HOSTILE, 'stderr_full': True})
    t.require(c.pid, 'the caller started')

    def blocked():
        p = nt.proc(c.pid)
        if not p or p.comm != RUN_COMM:
            return None
        with open(f'/proc/{c.pid}/status') as f:
            euid = int(next(ln for ln in f if ln.startswith('Uid:')).split()[2])
        return p if euid == 0 and p.state == 'S' else None
    t.require(nt.poll(blocked, timeout=20), 'the helper is caught blocked, as euid 0, writing its refusal')
    check_left(t, 'helper (a refused verb)', attrs(c.pid), helper_own_ignored('run'))
    c.release()
    r = c.finish()
    t.eq(r and r['status'], 125, 'and it refuses (not the run verb): exit 125')
    t.clean()


@test('caller state: su -l by a user with the same state: the cell\'s init, made by the helper su spawned, has none of it')
def _(t):
    env = t.env
    # su as the user, without a password (pam_wheel trust for group nscit, as
    # an admin might allow it): su, and the helper pam_nscell spawns from it,
    # start with whatever the user's shell had.
    with open('/etc/pam.d/su') as f:
        stack = f.read()
    nt.write('/etc/pam.d/su', 'auth sufficient pam_wheel.so trust use_uid group=nscit\n' + stack, 0o644)
    target = 'nscit-c'
    before = {p.pid for p in su.cell_inits(nt)}
    c = Caller({'user': USER, 'argv': ['/bin/su', '-l', target, '-c', 'echo in-cell; read _x'],
                'state': HOSTILE, 'hold': True})
    t.require(c.pid, 'the caller started')
    init = nt.poll(lambda: next((p for p in su.cell_inits(nt) if p.pid not in before), None), timeout=30)
    t.require(init, f'su -l {target} made a cell', str(nt.proc(c.pid)))
    check_left(t, 'init made through su', attrs(init.pid))
    c.release()
    r = c.finish()
    t.check(r and r['status'] == 0 and 'in-cell' in r['out'], f'the su login of {target} worked', str(r))
    t.clean()


@test('caller state: hard rlimits lowered by the caller: raised again, or refused where the system cannot')
def _(t):
    env = t.env
    env.set_policy(run_policy())
    cli = env.installed.get('nscell')
    c = Caller({'user': USER, 'argv': [cli, 'run', '--', '/bin/sh', '-c', 'ulimit -Hn; ulimit -Sn'],
                'state': {'rlimits': {'RLIMIT_NOFILE': [20, 20]}}})
    r = c.finish()
    with open('/proc/self/status') as f:
        capbnd = int(next(ln for ln in f if ln.startswith('CapBnd')).split()[1], 16)
    can_raise = bool(capbnd & (1 << 24))  # CAP_SYS_RESOURCE
    nt.log(f'    CAP_SYS_RESOURCE here: {can_raise}; exit {r and r["status"]}; output {r and r["out"]!r}')
    if can_raise:
        t.eq(r and r['status'], 0, 'with CAP_SYS_RESOURCE: the command runs')
        t.eq(r and r['out'].split(), ['20', '20'], 'and gets the caller\'s hard and soft RLIMIT_NOFILE 20 back')
    else:
        t.eq(r and r['status'], 125, 'without CAP_SYS_RESOURCE: refused (125): root\'s side will not run with 20 fds')
        t.check(r and 'RLIMIT_NOFILE' in r['out'] and 'hard limit 20' in r['out'],
                'the refusal says which limit and why', r and r['out'])
    t.clean(timeout=10)


@test('caller state: an init made by nscell run has /dev/null as fds 0-2: a pipeline reaches EOF while the cell lives on')
def _(t):
    env = t.env
    env.set_policy(run_policy(logout='drain'))
    cli = env.installed.get('nscell')
    # A cron-style pipeline; the command leaves a process behind, so the
    # cell drains on after the command has ended.
    line = (f'{cli} run -- /bin/sh -c "echo hi; sleep 300 </dev/null >/dev/null 2>&1 &" | cat; '
            'echo pipeline-done')
    c = Caller({'user': USER, 'argv': ['/bin/sh', '-c', line]})
    r = c.finish(timeout=60)
    nt.log(f'    pipeline: {"ended, " + repr(r["out"]) if r else "did not reach EOF within 60 s"}')
    t.check(r and r['status'] == 0 and r['out'].split() == ['hi', 'pipeline-done'],
            'the pipeline reached EOF when the command ended, and cat printed "hi"', str(r))
    init = user_cell_init(UID)
    t.check(init, 'the cell lives on (draining: the command left a process)')
    if init:
        fds = {}
        for fd in os.listdir(f'/proc/{init.pid}/fd'):
            try:
                fds[int(fd)] = os.readlink(f'/proc/{init.pid}/fd/{fd}')
            except OSError:
                pass
        nt.log(f'    init fds: {fds}')
        t.eq([fds.get(i) for i in (0, 1, 2)], ['/dev/null'] * 3, 'the init\'s fds 0-2 are /dev/null')
        t.check(all(not v.startswith('pipe:') for v in fds.values()), 'the init holds no pipe of the caller', str(fds))
    sh = nt.sh([cli, 'terminate', f'user-{UID}'], check=False)
    t.check(sh.returncode == 0, 'nscell terminate ends the cell', sh.stdout + sh.stderr)
    t.clean(timeout=10)


@test('caller state: an init made by an ssh login has /dev/null as fds 0-2')
def _(t):
    env = t.env
    s = env.login('ssh', USER, PROBE + HOLD)
    t.require(s.wait_held(), 'the ssh login is up', s.describe())
    cell = nt.cell_of(s)
    init = next((p for p in su.cell_inits(nt) if p.argv == ['nscell-init', cell]), None)
    t.require(init, 'its cell\'s init is found')
    fds = [os.readlink(f'/proc/{init.pid}/fd/{i}') for i in (0, 1, 2)]
    t.eq(fds, ['/dev/null'] * 3, 'the init\'s fds 0-2 are /dev/null')
    s.release()
    s.wait()
    t.clean()


GROUP_PROBE = f'''
echo "groups=$(id -G)"
echo "setgroups=$(cat /proc/self/setgroups)"
cat {DENIED} >/dev/null 2>&1 && echo read_plain=yes || echo read_plain=no
/usr/bin/python3 - <<'EOF'
import os
def attempt(what, fn):
    try:
        fn()
        r = "OK"
    except OSError as e:
        r = e.strerror
    try:
        open("{DENIED}").read()
        got = "READ"
    except OSError as e:
        got = e.strerror
    print(f"attempt={{what}}: {{r}}; file: {{got}}")
attempt("setgroups([])", lambda: os.setgroups([]))
attempt("setgroups([own gid])", lambda: os.setgroups([os.getgid()]))
EOF
unshare -U -r /bin/sh -c 'echo "nested_setgroups=$(cat /proc/self/setgroups)"; \
  /usr/bin/python3 -c "import os; os.setgroups([])" 2>/dev/null && echo nested_drop=OK || echo nested_drop=EPERM; \
  cat {DENIED} >/dev/null 2>&1 && echo nested_read=yes || echo nested_read=no'
unshare -U --map-user=$(id -u) --map-group=$(id -g) --setgroups=allow true 2>/dev/null \
  && echo map_allow=OK || echo map_allow=refused
'''


@test('caller state: a group a file denies cannot be dropped in the session\'s user namespace (CVE-2014-8989 class)')
def _(t):
    env = t.env
    os.makedirs(WORKDIR, exist_ok=True)
    os.chmod(WORKDIR, 0o755)
    nt.write(DENIED, 'secret\n', 0o604, 0, nt.GROUPS['nscit'][0])
    env.set_policy(policy(extra='Namespaces pid mount ipc user\n', matches=[('User nscit-x', 'Isolate no')]))
    env.set_pam(auth_line=True)  # sshd enters the user namespace at setcred
    for m in ('ssh', 'su', 'runuser', 'sudo'):
        s = env.run(m, USER, PROBE + GROUP_PROBE)
        t.login_ok(s, f'{m}: {USER} logs in with a user namespace', require=False)
        nt.log(f'    {m}: ' + '; '.join(ln for ln in s.out.splitlines() if not ln.startswith('ps: ')
                                       and ('=' in ln)))
        t.check(str(nt.GROUPS['nscit'][0]) in (s.value('groups') or '').split(),
                f'{m}: the user is still in group nscit, shown as itself (mapped)', s.value('groups'))
        t.eq(s.value('setgroups'), 'deny', f'{m}: the session\'s user namespace denies setgroups')
        t.eq(s.value('read_plain'), 'no', f'{m}: the file denied to group nscit is denied')
        attempts = [ln for ln in s.out.splitlines() if ln.startswith('attempt=')]
        t.eq(len(attempts), 2, f'{m}: both setgroups attempts ran')
        for a in attempts:
            t.check(a.endswith('file: Permission denied') and ': OK;' not in a,
                    f'{m}: {a[8:]}: refused, the file stays denied', a)
        t.eq(s.value('nested_drop'), 'EPERM', f'{m}: in a nested user namespace (unshare -U -r) setgroups is refused')
        t.eq(s.value('nested_read'), 'no', f'{m}: ... and the file stays denied there')
        t.eq(s.value('map_allow'), 'refused', f'{m}: a nested namespace with setgroups "allow" cannot be mapped')
    os.unlink(DENIED)
    t.clean()


def request(user, **fields):
    return su.request_bytes(user, **fields).hex()


@test('caller state: SO_PEERCRED from inside a pid namespace: a root socketpair made outside, the helper\'s '
      'parent outside (pid 0 == getppid() 0): refused at the peer check')
def _(t):
    env = t.env
    s = env.login('ssh', USER, PROBE + HOLD)
    t.require(s.wait_held(), 'the user holds a session in a cell', s.describe())
    cell = nt.cell_of(s)
    init = next((p for p in su.cell_inits(nt) if p.argv == ['nscell-init', cell]), None)
    t.require(init, 'the cell\'s init is found')
    mark = env.syslog.mark()
    before = su.state(nt)
    # The creator of the socketpair (root) is outside the cell's pid
    # namespace, and so is the helper's parent: SO_PEERCRED.pid and getppid()
    # are both 0 inside. A request for another user rides on it. The caller
    # is root (nscell-open has no setuid bit: a user's call stops at euid).
    c = Caller({'user': 'root', 'argv': [env.open_helper, 'open'], 'outside_parent': init.pid,
                'request': request('nscit-a', service='sshd')})
    r = c.finish()
    nt.log(f'    helper: exit {r and r["status"]}, answer bytes {r and r["answer_bytes"]}; output {r and r["out"]!r}')
    t.eq(r and r['status'], su.PAM_PERM_DENIED, 'the helper refuses (exit 6, phase 2)')
    t.eq(r and r['answer_bytes'], 0, 'no answer on the socket')
    t.syslog(r'nscell-open\[\d+\]: event=refused uid=\d+ reason="the caller is not a root PAM application"',
             mark, 'syslog: refused because the peer is not the parent, before any request is read')
    t.check(not env.syslog.find_all(r'event=refused user=nscit-a', mark),
            'the request for another user was never looked at')
    diff = su.settle(nt, before)
    t.check(not diff, 'nothing made', '\n'.join(diff))
    s.release()
    s.wait()
    t.clean()
