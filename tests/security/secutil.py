# SPDX-License-Identifier: LGPL-2.1-or-later
"""
Shared pieces of the security suites (helper abuse, escape, fault injection,
load), on top of the integration harness (tests/integration/nscelltest.py).

`launch()` runs a program as a test user with exactly the environment, file
descriptors, rlimits and argv an attacker would choose. The work is done by
this file run as a script (`python3 secutil.py launch SPEC`) in a process of
its own, single-threaded, so nothing of the harness's threads is involved:
it drops to the user, builds the descriptors, sets the rlimits and execs.

`state()` is what a refused or failed request must not change: the runtime
directory, cell inits, processes of test users and the mount table.
"""

import ctypes
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUNDIR = '/run/nscell'
LIBC = ctypes.CDLL(None, use_errno=True)
SYS_pidfd_open, SYS_pidfd_getfd, SYS_process_vm_readv = 434, 438, 310
PTRACE_ATTACH, PTRACE_SEIZE, PTRACE_DETACH, PTRACE_TRACEME = 16, 0x4206, 17, 0

# PAM codes the helper exits with.
PAM_SYSTEM_ERR, PAM_PERM_DENIED = 4, 6


def request_bytes(user, **fields):
    """The module's request to the helper, as lib/proto.c encodes it: a head
    (magic, op OPEN, version 1, size, error 0) and NUL-separated key=value."""
    kv = [('verb', 'open'), ('user', user)] + list(fields.items())
    body = b''.join(f'{k}={v}'.encode() + b'\0' for k, v in kv)
    return struct.pack('<IHHIi', 0x4e53434c, 16, 1, 16 + len(body), 0) + body


def errname(e):
    import errno
    return errno.errorcode.get(e, str(e)) if e else 'OK'


def syscall_err(*args):
    """A raw syscall; returns (result, errno name)."""
    # syscall(2) is variadic and reads every argument as a long; a Python int would
    # go as a C int, its register's upper half left to chance (Debian 13's Python
    # left garbage there: process_vm_readv saw flags != 0 and said EINVAL).
    args = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    r = LIBC.syscall(*args)
    return r, errname(ctypes.get_errno() if r < 0 else 0)


# ---- what must not change ---------------------------------------------------

def rundir_listing():
    out = []
    for root, dirs, files in os.walk(RUNDIR):
        for n in dirs + files:
            p = os.path.join(root, n)
            try:
                st = os.lstat(p)
                out.append(f'{p} mode={st.st_mode:o} uid={st.st_uid}')
            except FileNotFoundError:
                pass
    if os.path.isdir(RUNDIR):
        st = os.stat(RUNDIR)
        out.append(f'{RUNDIR} mode={st.st_mode:o} uid={st.st_uid}')
    return sorted(out)


def cell_inits(nt):
    return [p for p in nt.procs() if p.argv[:1] == ['nscell-init'] or p.comm == 'nscell-init']


def test_user_procs(nt):
    return [p for p in nt.procs() if nt.UID_MIN <= p.uid <= nt.UID_MAX]


def state(nt, extra_infra=()):
    """A comparable picture of everything a request could leave behind."""
    infra = set(extra_infra)
    inits = sorted(f'{p.pid} {" ".join(p.argv)}' for p in cell_inits(nt))
    users = sorted(f'{p.pid} uid={p.uid} {" ".join(p.argv)}' for p in test_user_procs(nt)
                   if p.pid not in infra)
    helpers = sorted(f'{p.pid} {" ".join(p.argv)}' for p in nt.procs()
                     if p.comm in nt.HELPER_COMMS and p.pid not in infra)
    return {'rundir': rundir_listing(), 'inits': inits, 'user processes': users,
            'helpers': helpers, 'mounts': nt.mount_points()}


def state_diff(before, after):
    out = []
    for k in before:
        b, a = set(before[k]), set(after[k])
        if b != a:
            out.append(f'{k}: +{sorted(a - b)} -{sorted(b - a)}')
    return out


def settle(nt, before, timeout=3.0, extra_infra=()):
    """Poll until the state is back to `before`; return what still differs."""
    diff = []

    def same():
        nonlocal diff
        diff = state_diff(before, state(nt, extra_infra))
        return not diff
    nt.poll(same, timeout=timeout, interval=0.05)
    return diff


# ---- running something as a user --------------------------------------------

def user_ids(name):
    import grp
    import pwd
    pw = pwd.getpwnam(name)
    groups = [g.gr_gid for g in grp.getgrall() if name in g.gr_mem]
    return pw.pw_uid, pw.pw_gid, sorted(set([pw.pw_gid] + groups))


def launch(spec, timeout=20, stdin=None):
    """Run spec (see _child) through a fresh launcher process; returns
    (returncode, output, launcher's report dict)."""
    path = spec.get('report', f'/run/nscell-sec/report-{os.getpid()}-{time.monotonic_ns()}.json')
    spec = dict(spec, report=path)
    os.makedirs('/run/nscell-sec', exist_ok=True)
    os.chmod('/run/nscell-sec', 0o755)
    p = subprocess.Popen([sys.executable, os.path.join(HERE, 'secutil.py'), 'launch', json.dumps(spec)],
                         stdin=subprocess.DEVNULL if stdin is None else stdin,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        return None, out.decode(errors='replace'), {}
    report = {}
    try:
        with open(path) as f:
            report = json.load(f)
        os.unlink(path)
    except (OSError, ValueError):
        pass
    return p.returncode, out.decode(errors='replace'), report


# Everything below runs in the launcher process (as root until it drops).

def _make_fd(kind, spec):
    """A file descriptor of the given kind, made as the (already dropped) user."""
    if kind == 'pipe':
        r, w = os.pipe()
        return r
    if kind == 'pipe-write':
        r, w = os.pipe()
        return w
    if kind in ('socketpair', 'socketpair-stream', 'socketpair-dgram'):
        t = {'socketpair': socket.SOCK_SEQPACKET, 'socketpair-stream': socket.SOCK_STREAM,
             'socketpair-dgram': socket.SOCK_DGRAM}[kind]
        a, b = socket.socketpair(socket.AF_UNIX, t)
        if spec.get('request') is not None:
            a.send(bytes.fromhex(spec['request']))
        _keep.append(a)
        return b.detach()
    if kind.startswith('connect:'):
        _, typ, path = kind.split(':', 2)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET if typ == 'seqpacket' else socket.SOCK_STREAM)
        s.connect(path)
        if spec.get('request') is not None:
            s.send(bytes.fromhex(spec['request']))
        return s.detach()
    if kind == 'listening':
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.bind('\0nscit-sec-listen-%d' % os.getpid())
        s.listen(1)
        return s.detach()
    if kind == 'devnull':
        return os.open('/dev/null', os.O_RDWR)
    if kind == 'dir':
        return os.open('/', os.O_RDONLY | os.O_DIRECTORY)
    if kind == 'opath':
        return os.open('/run', os.O_PATH)
    if kind == 'file-ro':
        return os.open('/etc/passwd', os.O_RDONLY)
    if kind == 'devfull':
        return os.open('/dev/full', os.O_WRONLY)
    if kind == 'epoll':
        import select
        ep = select.epoll()
        _keep.append(ep)
        return os.dup(ep.fileno())
    if kind == 'full-pipe':
        # A pipe nobody reads, already full: whoever writes to it blocks.
        import fcntl
        r, w = os.pipe()
        fl = fcntl.fcntl(w, fcntl.F_GETFL)
        fcntl.fcntl(w, fcntl.F_SETFL, fl | os.O_NONBLOCK)
        try:
            while True:
                os.write(w, b'.' * 4096)
        except BlockingIOError:
            pass
        fcntl.fcntl(w, fcntl.F_SETFL, fl)
        _full_pipes.append(r)
        return w
    if kind == 'udp':
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM).detach()
    raise ValueError(kind)


_keep = []  # peers the launcher holds open until the target is done
_full_pipes = []  # read ends of 'full-pipe' fds, drained after the attack


def _child(spec):
    """Spec keys: user, argv, env ('keep' or dict), fds {n: kind|'closed'},
    rlimits {NAME: [soft, hard]}, huge_env (count), extra_fds (count),
    traceme (bool), attack ('stop-ptrace' | 'signal:NAME:usec'), request (hex)."""
    import errno
    report = {}
    report_file = open(spec['report'], 'w')  # as root, before dropping
    uid, gid, groups = user_ids(spec['user'])
    os.setgroups(groups)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    os.chdir('/')
    env = spec.get('env', {})
    env = dict(env)
    for i in range(spec.get('huge_env', 0)):
        env[f'NSCIT_{i}'] = 'x' * 100
    fds = {}
    for t, kind in spec.get('fds', {}).items():
        fds[int(t)] = None if kind == 'closed' else _make_fd(kind, spec)
    for i in range(spec.get('extra_fds', 0)):
        fd = os.open('/dev/null', os.O_RDONLY)
        os.set_inheritable(fd, True)
    rl = spec.get('rlimits', {})
    argv = spec['argv']

    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            # Python's own SIGINT handler would turn a signal that comes
            # before the exec into KeyboardInterrupt ("never ran"); the
            # helper gets the default either way (exec resets handlers).
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.close(rfd)
            # fds: first to high numbers, then into place; closed ones closed.
            srcs = {t: s for t, s in fds.items() if s is not None}
            tmp = {t: os.dup2(s, 300 + t) for t, s in srcs.items()}
            for t, s in fds.items():
                if s is None:
                    try:
                        os.close(t)
                    except OSError:
                        pass
            for t, h in tmp.items():
                os.dup2(h, t)
                os.set_inheritable(t, True)
                os.close(h)
            if spec.get('traceme'):
                LIBC.ptrace(PTRACE_TRACEME, 0, None, None)
            for name, (soft, hard) in rl.items():
                resource.setrlimit(getattr(resource, name), (soft, hard))
            os.write(wfd, b'x')
            if spec.get('empty_argv'):
                LIBC.execve(argv[0].encode(), (ctypes.c_char_p * 1)(None),
                            (ctypes.c_char_p * 1)(None))
                os._exit(126)
            os.execve(argv[0], argv, env)
        except BaseException as e:  # noqa: B902
            try:
                os.write(2, f'launcher child: {e!r}\n'.encode())
            finally:
                os._exit(126)
    os.close(wfd)
    os.read(rfd, 1)
    os.close(rfd)
    for s in fds.values():
        if s is not None:
            os.close(s)

    attack = spec.get('attack', '')
    if attack == 'stop-ptrace':
        report['ptrace'] = _attack_ptrace(pid, spec)
    elif attack.startswith('signal:'):
        _, sig, usec = attack.split(':')
        time.sleep(int(usec) / 1e6)
        try:
            os.kill(pid, getattr(signal, sig))
            report['signal'] = 'sent'
            if sig in ('SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU'):
                time.sleep(0.2)
                os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            report['signal'] = 'too late'
        except PermissionError:
            report['signal'] = 'EPERM (it runs as root by now)'
    reaped = None
    for r in _full_pipes:
        os.set_blocking(r, False)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if not os.read(r, 65536):
                    break
            except BlockingIOError:
                w, st = os.waitpid(pid, os.WNOHANG)
                if w:
                    reaped = st
                    break
                time.sleep(0.01)
    if reaped is not None:
        status = reaped
    elif spec.get('traceme'):
        # We are its tracer: let it run to the end.
        while True:
            try:
                wpid, status = os.waitpid(pid, 0)
            except ChildProcessError:
                status = None
                break
            if os.WIFSTOPPED(status):
                LIBC.ptrace(7, pid, None, ctypes.c_void_p(os.WSTOPSIG(status)
                                                          if os.WSTOPSIG(status) != signal.SIGTRAP else 0))
                continue
            break
    else:
        _, status = os.waitpid(pid, 0)
    report['status'] = None if status is None else os.waitstatus_to_exitcode(status)
    for k in _keep:
        if isinstance(k, socket.socket):
            k.setblocking(False)
            try:
                report['answer_bytes'] = report.get('answer_bytes', 0) + len(k.recv(8192))
            except OSError:
                pass
    with report_file as f:
        json.dump(report, f)
    rc = report['status']
    os._exit(rc if rc is not None and 0 <= rc < 256 else 200 + (-rc if rc and rc < 0 else 0))


def _attack_ptrace(pid, spec):
    """The helper is stuck, as root, writing to a full stderr pipe in the middle
    of its work: try every way into it while it waits."""
    out = {}
    deadline = time.monotonic() + 5
    while True:
        try:
            with open(f'/proc/{pid}/status') as f:
                st = f.read()
            with open(f'/proc/{pid}/stat') as f:
                state = f.read().rsplit(')', 1)[1].split()[0]
        except OSError:
            out['reached'] = 'exited before it could be caught'
            return out
        euid = int(next(ln for ln in st.splitlines() if ln.startswith('Uid:')).split()[2])
        if euid == 0 and state == 'S':
            out['reached'] = 'blocked as euid 0'
            break
        if time.monotonic() > deadline:
            out['reached'] = f'not blocked (euid {euid}, state {state})'
            break
        time.sleep(0.005)
    try:
        os.kill(pid, signal.SIGSTOP)
        out['SIGSTOP'] = 'delivered'
    except OSError as e:
        out['SIGSTOP'] = errname(e.errno)
    r = LIBC.ptrace(PTRACE_ATTACH, pid, None, None)
    out['PTRACE_ATTACH'] = errname(ctypes.get_errno()) if r < 0 else 'OK'
    if r == 0:
        LIBC.ptrace(PTRACE_DETACH, pid, None, None)
    r = LIBC.ptrace(PTRACE_SEIZE, pid, None, None)
    out['PTRACE_SEIZE'] = errname(ctypes.get_errno()) if r < 0 else 'OK'
    if r == 0:
        LIBC.ptrace(PTRACE_DETACH, pid, None, None)
    for what in ('mem', 'environ', 'fd/3', 'maps', 'cwd', 'root'):
        try:
            if what in ('cwd', 'root'):
                os.listdir(f'/proc/{pid}/{what}')
            else:
                os.close(os.open(f'/proc/{pid}/{what}', os.O_RDONLY))
            out[f'/proc/PID/{what}'] = 'OK'
        except OSError as e:
            out[f'/proc/PID/{what}'] = errname(e.errno)
    pfd, err = syscall_err(SYS_pidfd_open, pid, 0)
    out['pidfd_open'] = err
    if pfd >= 0:
        r, err = syscall_err(SYS_pidfd_getfd, pfd, 3, 0)
        out['pidfd_getfd'] = err
        if r >= 0:
            os.close(r)
        os.close(pfd)
    buf = ctypes.create_string_buffer(16)

    class IOV(ctypes.Structure):
        _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
    local = IOV(ctypes.cast(buf, ctypes.c_void_p), 16)
    remote = IOV(0x400000, 16)
    r, err = syscall_err(SYS_process_vm_readv, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    out['process_vm_readv'] = err
    try:
        os.kill(pid, signal.SIGCONT)
    except OSError:
        pass
    return out


if __name__ == '__main__':
    if sys.argv[1:2] == ['launch']:
        _child(json.loads(sys.argv[2]))
