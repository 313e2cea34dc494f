# SPDX-License-Identifier: LGPL-2.1-or-later
# The privileged programs, run by hand by an unprivileged user with everything
# an attacker controls: environment, fds 0-3, argv, rlimits, signals, ptrace,
# another user's name, from inside a cell. nscell-open has no setuid bit: by
# hand it has the caller's ids and must refuse at once; nscell-run-helper is
# setuid root and must refuse every verb but run, and run where it must.
# Every attempt must be refused and leave nothing behind: no cell, no file
# under /run/nscell, no process.

import os
import shutil
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
import secutil as su  # noqa: E402
import nscelltest as nt  # noqa: E402
from nscelltest import HOLD, PROBE, USERS, cell_of, policy, test  # noqa: E402

ATTACKER, VICTIM = 'nscit-b', 'nscit-a'
DAEMON_DIR = '/run/nscell-sec'
SEQ_SOCK, STREAM_SOCK = f'{DAEMON_DIR}/root-seqpacket.sock', f'{DAEMON_DIR}/root-stream.sock'
EVIL = '/tmp/nscit-evil'
# nscell-open's PAM codes, nscell-run-helper's 125.
REFUSED = (su.PAM_SYSTEM_ERR, su.PAM_PERM_DENIED, 125)


def request(user=ATTACKER, **fields):
    return su.request_bytes(user, **fields).hex()


class RootDaemon:
    """A root daemon with listening AF_UNIX sockets any user may connect to,
    as a real host has (its SO_PEERCRED says uid 0)."""

    def __init__(self):
        os.makedirs(DAEMON_DIR, exist_ok=True)
        os.chmod(DAEMON_DIR, 0o755)
        self.socks, self.conns = [], []
        for path, typ in ((SEQ_SOCK, socket.SOCK_SEQPACKET), (STREAM_SOCK, socket.SOCK_STREAM)):
            if os.path.exists(path):
                os.unlink(path)
            s = socket.socket(socket.AF_UNIX, typ)
            s.bind(path)
            os.chmod(path, 0o666)
            s.listen(64)
            self.socks.append(s)
            threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, s):
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        for s in self.socks + self.conns:
            s.close()
        for p in (SEQ_SOCK, STREAM_SOCK):
            if os.path.exists(p):
                os.unlink(p)


def build_evil():
    """A shared object whose constructor leaves a mark, as LD_PRELOAD and a
    fake libcap.so.2 for LD_LIBRARY_PATH / LD_AUDIT; None without a compiler."""
    cc = shutil.which('cc') or shutil.which('gcc')
    if not cc:
        return None
    os.makedirs(f'{EVIL}/lib', exist_ok=True)
    src = f'{EVIL}/evil.c'
    with open(src, 'w') as f:
        f.write('#include <fcntl.h>\n#include <unistd.h>\n'
                '__attribute__((constructor)) static void evil(void) {\n'
                f'  close(open("{EVIL}/ran-as-" , O_WRONLY|O_CREAT, 0666));\n'
                f'  if (geteuid() == 0) close(open("{EVIL}/ran-as-root", O_WRONLY|O_CREAT, 0666));\n'
                '}\nunsigned la_version(unsigned v) { return v; }\n')
    r = subprocess.run([cc, '-shared', '-fPIC', '-o', f'{EVIL}/evil.so', src], capture_output=True)
    if r.returncode != 0:
        return None
    shutil.copy(f'{EVIL}/evil.so', f'{EVIL}/lib/libcap.so.2')
    for root, dirs, files in os.walk(EVIL):
        for n in dirs + files:
            os.chmod(os.path.join(root, n), 0o777)
    os.chmod(EVIL, 0o777)
    return f'{EVIL}/evil.so'


def hostile_env(evil):
    env = {
        'LD_PRELOAD': evil or '/nonexistent.so', 'LD_LIBRARY_PATH': f'{EVIL}/lib',
        'LD_AUDIT': evil or '/nonexistent.so', 'LD_DEBUG': 'all', 'LD_DEBUG_OUTPUT': f'{EVIL}/lddebug',
        'LD_PROFILE': 'libc.so.6', 'LD_SHOW_AUXV': '1', 'LD_BIND_NOW': '',
        'MALLOC_CHECK_': '3', 'MALLOC_PERTURB_': '165', 'MALLOC_ARENA_MAX': '1',
        'MALLOC_TOP_PAD_': '1', 'MALLOC_MMAP_THRESHOLD_': '1',
        'GLIBC_TUNABLES': 'glibc.malloc.check=3:glibc.malloc.mmap_threshold=1',
        'LOCPATH': f'{EVIL}/locale', 'NLSPATH': f'{EVIL}/%N', 'LANG': 'xx_EVIL.UTF-8',
        'LC_ALL': 'xx_EVIL.UTF-8', 'LANGUAGE': 'xx', 'GCONV_PATH': f'{EVIL}/gconv',
        'TMPDIR': EVIL, 'IFS': '/ \t\n', 'PATH': f'{EVIL}/bin', 'HOME': EVIL, 'SHELL': f'{EVIL}/sh',
        'TZ': f'{EVIL}/tz', 'TZDIR': EVIL, 'HOSTALIASES': f'{EVIL}/hosts', 'RES_OPTIONS': 'debug',
        'LOCALDOMAIN': 'evil', 'NSCELL_CONF': f'{EVIL}/nscell.conf', 'NSCELL_RUNDIR': EVIL,
        'SYSTEMD_LOG_LEVEL': 'debug', 'ASAN_OPTIONS': f'log_path={EVIL}/asan',
        'UBSAN_OPTIONS': f'log_path={EVIL}/ubsan', 'PYTHONPATH': EVIL, 'BASH_ENV': f'{EVIL}/sh',
        'ENV': f'{EVIL}/sh',
    }
    return env


def attempt(t, env, name, spec, expect=REFUSED, allow_signal=False, allow_exec_fail=False):
    """One attack: refused (or the helper killed / never run), no answer on the
    socket, nothing changed. Prints the attack and its result."""
    full = {'user': ATTACKER, 'argv': [env.open_helper, 'open'], 'env': {},
            'fds': {'3': 'socketpair'}, 'request': request()}
    full.update(spec)
    before = su.state(nt)
    mark = env.syslog.mark()
    rc, out, rep = su.launch(full)
    status = rep.get('status')
    answered = rep.get('answer_bytes', 0)
    ok = status in expect or (allow_signal and status is not None and status < 0) or \
        (allow_exec_fail and status in (126, 127))
    if status is None:
        result = f'launcher gave no status (rc {rc})'
    elif status < 0:
        result = f'helper killed by signal {-status}'
    elif status == 126:
        result = 'never ran (exec refused)'
    elif status == 127:
        result = 'never ran (the dynamic loader gave up)'
    else:
        result = f'exit {status}'
    diff = su.settle(nt, before)
    extra = ''
    if rep.get('ptrace'):
        extra = ' ' + ' '.join(f'{k}={v}' for k, v in rep['ptrace'].items())
    nt.log(f'    attack: {name}: {result}; answer bytes {answered}; '
           f'{"no side effect" if not diff else "SIDE EFFECT"}{extra}')
    t.check(ok, f'{name}: refused ({result})', out[-2000:])
    t.check(answered == 0, f'{name}: no answer on fd 3', str(rep))
    t.check(not diff, f'{name}: no cell, no /run/nscell entry, no process left', '\n'.join(diff))
    created = env.syslog.find_all(r'event=(cell-created|session-joined)', mark)
    t.check(not created, f'{name}: syslog: no cell created or joined', '\n'.join(created))
    return status, rep


def with_daemon(fn):
    def run(t):
        d = RootDaemon()
        try:
            fn(t, d)
        finally:
            d.close()
    return run


@test('helper abuse: nscell-open has no setuid bit: by hand it has the caller\'s ids, refuses and says why')
@with_daemon
def _(t, d):
    env = t.env
    st = os.stat(env.open_helper)
    t.eq((oct(st.st_mode & 0o7777), st.st_uid), ('0o755', 0), 'nscell-open is root\'s, mode 0755: no setuid bit')
    rst = os.stat(env.run_helper)
    t.eq((oct(rst.st_mode & 0o7777), rst.st_uid), ('0o4755', 0), 'nscell-run-helper is setuid root (4755)')
    mark = env.syslog.mark()
    for name, spec in (('a valid request for the caller over its own socketpair', {}),
                       ('a request for another user over a root daemon\'s socket',
                        {'fds': {'3': f'connect:seqpacket:{SEQ_SOCK}'}, 'request': request(VICTIM)})):
        status, _ = attempt(t, env, f'nscell-open by hand: {name}', spec, expect=(su.PAM_PERM_DENIED,))
    rc, out, rep = su.launch({'user': ATTACKER, 'argv': [env.open_helper, 'open'], 'env': {},
                              'fds': {'3': 'socketpair'}, 'request': request()})
    t.check('nscell-open: not started by root' in out, 'by hand, nscell-open says it was not started by root', out)
    t.syslog(nt.syslog_event('nscell-open', 'refused', uid=USERS[ATTACKER]), mark,
             'syslog: nscell-open event=refused with the caller\'s uid')


@test('helper abuse: fd 3 absent, of the wrong kind, a user socketpair, a root daemon\'s socket')
@with_daemon
def _(t, d):
    env = t.env
    kinds = ['closed', 'pipe', 'pipe-write', 'devnull', 'dir', 'opath', 'file-ro', 'epoll', 'udp',
             'listening', 'socketpair-stream', 'socketpair-dgram', 'socketpair']
    for k in kinds:
        attempt(t, env, f'fd 3 = {k} (with a valid request for the caller)', {'fds': {'3': k}})
    attempt(t, env, 'fd 3 = a socketpair the user made, asking for ANOTHER user',
            {'request': request(VICTIM, service='sshd', conf=f'{EVIL}/nscell.conf')})
    attempt(t, env, 'fd 3 = connected to a root daemon\'s SEQPACKET listener (peer uid 0)',
            {'fds': {'3': f'connect:seqpacket:{SEQ_SOCK}'}})
    attempt(t, env, 'fd 3 = connected to a root daemon\'s SEQPACKET listener, naming another user',
            {'fds': {'3': f'connect:seqpacket:{SEQ_SOCK}'}, 'request': request(VICTIM)})
    attempt(t, env, 'fd 3 = connected to a root daemon\'s STREAM listener',
            {'fds': {'3': f'connect:stream:{STREAM_SOCK}'}})
    for m in ('ssh', 'su'):
        s = env.run(m, VICTIM, PROBE)
        t.login_ok(s, f'afterwards, a real {m} login still works', require=False)
    t.clean()


@test('helper abuse: hostile environment (LD_*, MALLOC_*, GLIBC_TUNABLES, LOCPATH, NLSPATH, TMPDIR, IFS, PATH...) and a huge one')
@with_daemon
def _(t, d):
    env = t.env
    evil = build_evil()
    t.check(True, f'evil shared object: {evil or "no compiler: a nonexistent path is used"}')
    he = hostile_env(evil)

    def marks():
        return [f for f in os.listdir(EVIL) if f.startswith(('ran-as', 'lddebug', 'asan', 'ubsan'))] \
            if os.path.isdir(EVIL) else []
    # The setuid one first: the loader is in secure mode, nothing may load.
    attempt(t, env, 'nscell-run-helper open (setuid, a verb it refuses): hostile environment',
            {'env': he, 'argv': [env.run_helper, 'open']})
    attempt(t, env, 'nscell-run-helper: huge environment (15,000 variables, 1.5 MB) + hostile',
            {'env': he, 'huge_env': 15000, 'argv': [env.run_helper, 'open']}, allow_exec_fail=True)
    t.check(not marks(), 'nscell-run-helper never loaded the preloaded/audit/fake-libcap object, '
            'never wrote LD_DEBUG_OUTPUT or sanitizer logs', str(marks()))
    # nscell-open has no setuid bit: run by the user it is the user's own
    # program, and what they preload runs as them, never as root.
    for fd3 in ('socketpair', f'connect:seqpacket:{SEQ_SOCK}'):
        attempt(t, env, f'nscell-open: hostile environment, fd 3 = {fd3.split(":")[0]}', {'env': he, 'fds': {'3': fd3}})
    t.check('ran-as-root' not in marks(), 'nscell-open by the user: whatever the environment loads runs '
            'as the user, never as root', str(marks()))
    shutil.rmtree(EVIL, ignore_errors=True)


@test('helper abuse: closed or odd fds 0/1/2, 1000 extra fds')
@with_daemon
def _(t, d):
    env = t.env
    root_fd3 = f'connect:seqpacket:{SEQ_SOCK}'
    cases = [
        ('fds 0, 1, 2 closed, fd 3 a user socketpair', {'0': 'closed', '1': 'closed', '2': 'closed', '3': 'socketpair'}),
        ('fds 0, 1, 2 and 3 closed', {'0': 'closed', '1': 'closed', '2': 'closed', '3': 'closed'}),
        ('fds 0, 1, 2 closed, fd 3 a root daemon\'s socket', {'0': 'closed', '1': 'closed', '2': 'closed', '3': root_fd3}),
        ('fd 1 read-only /etc/passwd, fd 2 /dev/full', {'1': 'file-ro', '2': 'devfull', '3': 'socketpair'}),
        ('fd 0 a listening socket, fd 2 a pipe', {'0': 'listening', '2': 'pipe', '3': root_fd3}),
        ('fd 2 a full pipe nobody reads', {'2': 'full-pipe', '3': 'socketpair'}),
    ]
    for name, fds in cases:
        attempt(t, env, name, {'fds': fds})
    attempt(t, env, '1000 extra open fds above 3', {'extra_fds': 1000, 'fds': {'3': root_fd3}})


@test('helper abuse: garbage and oversize argv')
@with_daemon
def _(t, d):
    env = t.env
    # The setuid one is where argv matters; nscell-open refuses before it.
    h = env.run_helper
    root_fd3 = {'3': f'connect:seqpacket:{SEQ_SOCK}'}
    cases = [
        ('argc 0 (empty argv, the pkexec CVE-2021-4034 class)', {'empty_argv': True, 'argv': [h]}),
        ('argv = [run-helper]', {'argv': [h]}),
        ('argv = [run-helper, open] (the verb that is nscell-open\'s)', {'argv': [h, 'open']}),
        ('argv = [run-helper, RUN, --, id]', {'argv': [h, 'RUN', '--', '/usr/bin/id']}),
        ('argv = [run-helper, "run\\n", --, id]', {'argv': [h, 'run\n', '--', '/usr/bin/id']}),
        ('argv = [run-helper, --help]', {'argv': [h, '--help']}),
        ('argv[0] of 100 KiB', {'argv': ['A' * 100000, 'run']}),
        ('argv[1] of 100 KiB', {'argv': [h, 'run' * 33000]}),
        ('5,000 arguments', {'argv': [h] + ['run'] * 5000}),
        ('argv with control characters and %n%s', {'argv': [h, 'run\x1b[2J%n%s%s%s']}),
        ('nscell-open with argv = [open, extra]', {'argv': [env.open_helper, 'open', 'extra']}),
    ]
    for name, spec in cases:
        spec = dict(spec, fds=root_fd3)
        if 'argv' in spec and spec['argv'][0] != h:
            # argv[0] is not the path: exec the helper by path anyway.
            spec['argv'] = spec['argv']
        attempt(t, env, name, spec, allow_exec_fail=True)


@test('helper abuse: rlimits set to zero (NOFILE, NPROC, FSIZE, CPU, AS, STACK, CORE, SIGPENDING...)')
@with_daemon
def _(t, d):
    env = t.env
    root_fd3 = {'3': f'connect:seqpacket:{SEQ_SOCK}'}
    cases = {
        'RLIMIT_NOFILE': [0, 0], 'RLIMIT_NPROC': [0, 0], 'RLIMIT_FSIZE': [0, 0],
        'RLIMIT_CPU': [0, 0], 'RLIMIT_CORE': [0, 0], 'RLIMIT_SIGPENDING': [0, 0],
        'RLIMIT_MEMLOCK': [0, 0], 'RLIMIT_MSGQUEUE': [0, 0], 'RLIMIT_NICE': [0, 0],
        'RLIMIT_RTPRIO': [0, 0], 'RLIMIT_STACK': [16384, 16384], 'RLIMIT_AS': [8 << 20, 8 << 20],
        'RLIMIT_DATA': [0, 0],
    }
    # nscell-open (the caller's ids: refused at once) and the setuid nscell-run-helper.
    for name, lim in cases.items():
        for what, spec in (('nscell-open, fd 3 = connect', {'fds': root_fd3}),
                           ('nscell-run-helper open', {'argv': [env.run_helper, 'open']})):
            attempt(t, env, f'{name}={lim[0]}, {what}', dict(spec, rlimits={name: lim}),
                    allow_signal=True, allow_exec_fail=True)
    attempt(t, env, 'every rlimit at zero at once, nscell-run-helper',
            {'rlimits': {k: v for k, v in cases.items() if k not in ('RLIMIT_AS', 'RLIMIT_STACK', 'RLIMIT_DATA')},
             'argv': [env.run_helper, 'open']}, allow_signal=True, allow_exec_fail=True)


@test('helper abuse: signals and ptrace during setup')
@with_daemon
def _(t, d):
    env = t.env
    rh = [env.run_helper, 'open']
    # The setuid one, stuck as root writing its refusal to a full stderr:
    # every way in must fail. (nscell-open by hand never runs as root.)
    status, rep = attempt(t, env, 'ptrace / /proc/PID/mem / pidfd_getfd / process_vm_readv while it runs as root',
                          {'fds': {'2': 'full-pipe'}, 'argv': rh, 'attack': 'stop-ptrace'})
    pt = rep.get('ptrace', {})
    t.eq(pt.get('reached'), 'blocked as euid 0', 'the helper was caught while running as euid 0')
    for k in ('PTRACE_ATTACH', 'PTRACE_SEIZE', 'process_vm_readv', 'pidfd_getfd'):
        t.eq(pt.get(k), 'EPERM', f'{k} of the helper: EPERM')
    for k in ('/proc/PID/mem', '/proc/PID/environ', '/proc/PID/fd/3', '/proc/PID/cwd', '/proc/PID/root'):
        t.check(pt.get(k) in ('EACCES', 'EPERM'), f'{k} of the helper: EACCES/EPERM ({pt.get(k)})')
    attempt(t, env, 'PTRACE_TRACEME, then exec nscell-run-helper (setuid is not granted to a traced exec)',
            {'traceme': True, 'argv': rh}, allow_signal=True)
    for sig in ('SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGALRM', 'SIGSEGV', 'SIGXFSZ',
                'SIGSTOP', 'SIGTSTP', 'SIGPIPE', 'SIGCHLD'):
        for usec in (0, 300, 2000):
            attempt(t, env, f'nscell-run-helper: {sig} after {usec} us', {'argv': rh, 'attack': f'signal:{sig}:{usec}'},
                    allow_signal=True)


CONNECT_CELL = r'''
import os, socket, sys
for p in sys.argv[1:]:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(p)
        print(f"connect {p}: OK")
    except OSError as e:
        print(f"connect {p}: {e.strerror}")
for p in ("/run/nscell", "/run/nscell/cells"):
    try:
        print(f"list {p}: {os.listdir(p)}")
    except OSError as e:
        print(f"list {p}: {e.strerror}")
'''


@test('helper abuse: a user naming another user\'s cell')
@with_daemon
def _(t, d):
    env = t.env
    env.set_policy(policy(scope='user', matches=[('User nscit-x', 'Isolate no')]))
    a = env.login('ssh', VICTIM, PROBE + HOLD)
    t.require(a.wait_held(), f'{VICTIM} holds a session in a user cell', a.describe())
    cell = cell_of(a)
    t.eq(cell, f'user-{USERS[VICTIM]}', 'the victim\'s cell is user-UID')
    attempt(t, env, f'a request naming {VICTIM} over the attacker\'s own socketpair',
            {'request': request(VICTIM, service='sshd', tty='ssh')})
    attempt(t, env, f'a request naming {VICTIM} over a root daemon\'s socket',
            {'fds': {'3': f'connect:seqpacket:{SEQ_SOCK}'}, 'request': request(VICTIM, service='sshd')})
    rc, out, _ = su.launch({'user': ATTACKER, 'argv': ['/usr/bin/python3', '-c', CONNECT_CELL,
                                                       f'/run/nscell/cells/{cell}.sock'], 'env': {}})
    nt.log('    attack: connect to the victim\'s cell socket directly: ' + out.strip().replace('\n', '; '))
    t.check(f'connect /run/nscell/cells/{cell}.sock: Permission denied' in out,
            'connecting to the victim\'s cell socket: EACCES (/run/nscell is root 0700)', out)
    t.check('list /run/nscell: Permission denied' in out, 'listing /run/nscell: EACCES', out)
    init = [p for p in su.cell_inits(nt) if p.argv == ['nscell-init', cell]]
    t.require(len(init) == 1, 'the victim\'s cell init is found on the host')
    rc, out, _ = su.launch({'user': ATTACKER, 'argv': ['/usr/bin/python3', '-c', f'''
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
pid = {init[0].pid}
for what, fn in (("kill -TERM", lambda: os.kill(pid, signal.SIGTERM)),
                 ("open /proc/PID/ns/mnt", lambda: os.close(os.open(f"/proc/{{pid}}/ns/mnt", os.O_RDONLY))),
                 ("ls /proc/PID/root/tmp", lambda: os.listdir(f"/proc/{{pid}}/root/tmp"))):
    try:
        fn(); print(what, "OK")
    except OSError as e:
        print(what, e.strerror)
r = libc.ptrace(16, pid, None, None)
print("ptrace", "OK" if r == 0 else os.strerror(ctypes.get_errno()))
'''], 'env': {}})
    nt.log('    attack: signal, ptrace, setns and /proc/PID/root of the victim\'s cell init: '
           + out.strip().replace('\n', '; '))
    t.check(' OK' not in out, 'the victim\'s cell init cannot be signalled, traced, entered or looked into', out)
    t.check(init[0].pid in [p.pid for p in su.cell_inits(nt)], 'the victim\'s cell is still there')
    a.release()
    a.wait()
    t.login_ok(a, 'the victim\'s session was not disturbed')
    t.clean()


INSIDE = r'''
h=/usr/local/libexec/nscell/nscell-open
ls -ld /run/nscell /run/nscell/cells 2>&1 | sed 's/^/ls: /'
$h open 3<&- >/dev/null 2>&1; echo "no_fd3=$?"
/usr/bin/python3 -c '
import os, socket, struct, subprocess, sys
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
body = b"verb=open\0user=" + os.environ.get("USER", "x").encode() + b"\0"
a.send(struct.pack("<IHHIi", 0x4e53434c, 16, 1, 16 + len(body), 0) + body)
p = subprocess.run([sys.argv[1], "open"], pass_fds=[b.fileno()], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   preexec_fn=lambda: os.dup2(b.fileno(), 3))
a.setblocking(False)
try:
    got = len(a.recv(4096))
except BlockingIOError:
    got = 0
print(f"socketpair={p.returncode} answer={got}")
' $h
'''


@test('helper abuse: calls from inside a cell (default policy, and with a user namespace)')
def _(t):
    env = t.env
    for pol, what in ((nt.DEFAULT_POLICY, 'default policy'),
                      (policy(extra='Namespaces pid mount ipc user\nUserNamespaceFallback no-new-privs\n',
                              matches=[('User nscit-x', 'Isolate no')]), 'user namespace')):
        env.set_policy(pol)
        mark = env.syslog.mark()
        s = env.run('ssh', ATTACKER, PROBE + INSIDE)
        t.login_ok(s, f'{what}: {ATTACKER} logs in', require=False)
        nt.log(f'    attack: {what}: helper run inside a cell: no fd 3 -> exit {s.value("no_fd3")}; '
               f'own socketpair -> {s.value("socketpair")}')
        t.eq(s.value('no_fd3'), str(su.PAM_PERM_DENIED), f'{what}: inside a cell, the helper without fd 3 refuses (6)')
        t.check((s.value('socketpair') or '').startswith(f'{su.PAM_PERM_DENIED} answer=0'),
                f'{what}: inside a cell, the helper with the user\'s socketpair refuses, no answer', s.out)
        t.check('ls: ls: cannot access' in s.out or 'Permission denied' in s.out or 'ls: d' in s.out,
                f'{what}: /run/nscell inside is the empty read-only cover', s.out)
        created = env.syslog.find_all(r'event=cell-created', mark)
        t.eq(len(created), 1, f'{what}: only the login\'s own cell was created')
        t.clean()


# ---- the run verb: a user's own command in their own cell ------------------

RUN_PROBE = r'''
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"
echo "pidns=$(readlink /proc/self/ns/pid)"
echo "init=$(tr '\0' '|' < /proc/1/cmdline 2>/dev/null)"
echo "fds=$(ls /proc/self/fd | tr '\n' ' ')"
grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs)' /proc/self/status | tr '\t' ' ' | sed 's/^/status: /'
env | sed 's/^/env: /'
'''


def run_verb(t, env, name, argv_tail, expect, spec=None, user=ATTACKER):
    """The run verb by hand: expect 'refused' (exit 125, nothing made) or 'ran'."""
    full = {'user': user, 'argv': [env.run_helper, 'run'] + argv_tail, 'env': {}, 'fds': {}}
    full.update(spec or {})
    before = su.state(nt)
    rc, out, rep = su.launch(full)
    status = rep.get('status')
    if expect == 'refused':
        diff = su.settle(nt, before)
        # 125: refused; < 0: killed; 127: the loader gave up (never ran).
        ok = status in (125, 127) or (status is not None and status < 0)
        nt.log(f'    attack: run: {name}: exit {status}; {"no side effect" if not diff else "SIDE EFFECT"}')
        t.check(ok, f'run: {name}: refused (exit {status})', out[-1500:])
        t.check(not diff, f'run: {name}: no cell, no /run/nscell entry, no process left', '\n'.join(diff))
    else:
        nt.log(f'    attack: run: {name}: exit {status}')
        t.check(status == 0, f'run: {name}: the command ran (exit {status})', out[-1500:])
        t.check(nt.poll(lambda: not su.state_diff(before, su.state(nt)), 5),
                f'run: {name}: after the command, the cell ended and nothing is left',
                '\n'.join(su.state_diff(before, su.state(nt))))
    return status, out


@test('helper abuse: the run verb refused where it must be (Scope session, garbage argv, traced, inside a cell)')
def _(t):
    env = t.env
    cmd = ['--', '/usr/bin/id']
    run_verb(t, env, 'policy gives Scope session', cmd, 'refused')
    env.set_policy(policy(scope='user', matches=[('User nscit-x', 'Isolate no')]))
    for name, tail in (('no command', []), ('-- and no command', ['--']), ('no --', ['/usr/bin/id']),
                       ('--term without a value', ['--term']), ('--term twice', ['--term', 'a', '--term', 'b'] + cmd),
                       ('--lang twice', ['--lang', 'C', '--lang', 'C'] + cmd), ('unknown option', ['-x'] + cmd),
                       ('--user naming another user', ['--user', VICTIM] + cmd),
                       ('an option of 100 KiB', ['--term', 'x' * 100000] + cmd)):
        st, out = run_verb(t, env, name, tail, 'refused' if name != 'an option of 100 KiB' else 'ran')
    run_verb(t, env, 'PTRACE_TRACEME (the setuid bit is void)', cmd, 'refused', {'traceme': True})
    run_verb(t, env, 'RLIMIT_NOFILE=3', cmd, 'refused', {'rlimits': {'RLIMIT_NOFILE': [3, 3]}})
    s = env.run('ssh', ATTACKER, PROBE + f'{env.run_helper} run -- /usr/bin/id; echo "inside_run=$?"')
    t.login_ok(s, 'run from inside a cell: the attacker logs in', require=False)
    nt.log(f'    attack: run: from inside a cell: exit {s.value("inside_run")}')
    t.eq(s.value('inside_run'), '125', 'run from inside a cell: refused (125)')
    t.clean()


@test('helper abuse: the run verb with a hostile environment, closed fds, signals: the command gets only what is safe')
def _(t):
    env = t.env
    env.set_policy(policy(scope='user', matches=[('User nscit-x', 'Isolate no')]))
    evil = build_evil()
    he = hostile_env(evil)
    he['TERM'] = 'xterm\x1b]0;evil\x07'
    uid = USERS[ATTACKER]
    st, out = run_verb(t, env, 'hostile environment, --term with an escape', ['--term', 'vt100\x1b[2J', '--lang',
                       'C.UTF-8', '--', '/bin/sh', '-c', RUN_PROBE], 'ran', {'env': he})
    vals = dict(ln.split('=', 1) for ln in out.splitlines() if '=' in ln and not ln.startswith(('env:', 'status:')))
    envs = [ln[5:] for ln in out.splitlines() if ln.startswith('env: ')]
    t.check(vals.get('uid', '').startswith(str(uid)), f'run: the command runs as the user ({vals.get("uid")})', out)
    t.check(vals.get('init', '').startswith(f'nscell-init|user-{uid}|'), 'run: in the user\'s cell user-UID', out)
    t.eq(vals.get('fds', '').split(), ['0', '1', '2', '3'], 'run: only fds 0-2 (3 is ls\'s own directory)')
    bad = [e for e in envs if e.split('=', 1)[0] not in ('HOME', 'USER', 'LOGNAME', 'SHELL', 'PATH', 'LANG', 'PWD',
                                                         'SHLVL', '_', 'OLDPWD')]
    t.check(not bad, 'run: the command\'s environment is the clean one (no LD_*, MALLOC_*, TERM with escapes...)',
            '\n'.join(bad))
    t.check(any(ln.startswith('status: CapEff: 0000000000000000') for ln in out.splitlines()),
            'run: the command has no effective capability', out)
    marks = [f for f in os.listdir(EVIL) if f.startswith('ran-as')] if os.path.isdir(EVIL) else []
    t.check(not marks, 'run: the preloaded object never ran, in the helper or the command', str(marks))
    shutil.rmtree(EVIL, ignore_errors=True)
    run_verb(t, env, 'fds 0, 1, 2 closed', ['--', '/bin/true'], 'ran',
             {'fds': {'0': 'closed', '1': 'closed', '2': 'closed'}})
    for sig in ('SIGKILL', 'SIGTERM', 'SIGINT', 'SIGTSTP', 'SIGSTOP'):
        for usec in (0, 500, 3000):
            before = su.state(nt)
            rc, out, rep = su.launch({'user': ATTACKER, 'argv': [env.run_helper, 'run', '--', '/bin/sleep', '0.2'],
                                      'env': {}, 'fds': {}, 'attack': f'signal:{sig}:{usec}'})
            diff = su.settle(nt, before, timeout=5)
            nt.log(f'    attack: run: {sig} after {usec} us: exit {rep.get("status")} '
                   f'(signal: {rep.get("signal")}); '
                   f'{"no side effect" if not diff else "SIDE EFFECT"}')
            t.check(not diff, f'run: {sig} after {usec} us: nothing left (cell ended with the command)',
                    '\n'.join(diff))
    t.clean()


@test('helper abuse: run and logins of one user racing end in one cell')
def _(t):
    env = t.env
    env.set_policy(policy(scope='user', matches=[('User nscit-x', 'Isolate no')]))
    user = 'nscit-e'
    mark = env.syslog.mark()
    sessions = [env.login(m, user, PROBE + HOLD) for m in ('ssh', 'su', 'ssh')]
    runs = [subprocess.Popen([sys.executable, os.path.join(os.path.dirname(su.__file__), 'secutil.py'), 'launch',
                              __import__('json').dumps({'user': user, 'argv': [env.run_helper, 'run', '--', '/bin/sh', '-c',
                                                       'tr "\\0" "|" </proc/1/cmdline; echo; sleep 1'],
                                                       'env': {}, 'fds': {}, 'report': f'/run/nscell-sec/run-{i}'})],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for i in range(6)]
    outs = [p.communicate(timeout=30)[0].decode() for p in runs]
    up = [s.wait_held(30) for s in sessions]
    t.check(all(up), 'the racing logins came up')
    cells = {nt.cell_of(s) for s in sessions} | {o.strip().split('|')[1] if '|' in o else o.strip() for o in outs}
    t.eq(cells, {f'user-{USERS[user]}'}, 'every login and every run landed in the one user cell')
    created = env.syslog.find_all(nt.syslog_event(nt.HELPERS_RX, 'cell-created', user=user), mark)
    t.eq(len(created), 1, 'syslog: one event=cell-created')
    for s in sessions:
        s.release()
        s.wait()
    for i in range(6):
        try:
            os.unlink(f'/run/nscell-sec/run-{i}')
        except FileNotFoundError:
            pass
    t.clean(timeout=10)
