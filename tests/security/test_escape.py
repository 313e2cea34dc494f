# SPDX-License-Identifier: LGPL-2.1-or-later
# Escapes tried from inside a cell, as the user, through a real login: see or
# signal host processes, read another cell's /tmp, unmount or overmount what
# hides the host, mount a new proc, setns, abuse /run/nscell, symlink and FIFO
# traps in persistent directories, and two logins of one user racing. Every
# attempt is printed with its result; every one must fail.

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import secutil as su  # noqa: E402
import nscelltest as nt  # noqa: E402
from nscelltest import HOLD, PROBE, USERS, WORK, cell_of, policy, test, write  # noqa: E402

PROBE_SRC = os.path.join(os.path.dirname(__file__), 'escape_probe.py')
PROBE_PATH = f'{WORK}/scripts/escape_probe.py'
VICTIM_MARK = 'sleep 1000.77'
HARDENED = ('Namespaces pid mount ipc uts net cgroup user\nUserNamespaceFallback no-new-privs\n'
            'NoNewPrivs yes\nRestrictNamespaces all\nDropCapabilities all\nProcHidePid invisible\n')
SECRETS = ['/tmp/nscit-host-secret', '/var/tmp/nscit-host-secret', '/dev/shm/nscit-host-secret',
           '/tmp/nscit-secret-b', '/var/tmp/nscit-secret-b', '/dev/shm/nscit-secret-b',
           '/tmp/nscit-secret-a2']


def report(t, s, what):
    """Check and print every ATTEMPT line the probe printed."""
    lines = [ln.split('|', 3) for ln in s.out.splitlines() if ln.startswith('ATTEMPT|')]
    t.check(len(lines) >= 30, f'{what}: the probe ran its attempts ({len(lines)})', s.describe())
    for _, name, verdict, detail in lines:
        nt.log(f'    attempt [{what}] {name}: {verdict} ({detail[:220]})')
        t.check(verdict in ('BLOCKED', 'SHARED', 'INFO'), f'{what}: {name}: {verdict}', detail)
    return {name: (verdict, detail) for _, name, verdict, detail in lines}


class Targets:
    """Things on the host side the attacker must not reach."""

    def __init__(self, env):
        self.env = env
        self.victim = subprocess.Popen(['sleep', VICTIM_MARK.split()[1]], start_new_session=True)
        for p in SECRETS[:3]:
            write(p, 'host secret\n', 0o644)
        self.abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.abstract_name = f'nscit-host-abstract-{time.monotonic_ns()}'
        self.abstract.bind('\0' + self.abstract_name)
        self.abstract.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()
        r = nt.sh(['ipcmk', '-M', '4096'], check=False)
        m = re.search(r'(\d+)', r.stdout)
        self.shm = int(m.group(1)) if m else None
        shutil.copy(PROBE_SRC, PROBE_PATH)
        os.chmod(PROBE_PATH, 0o644)

    def _accept(self):
        while True:
            try:
                c, _ = self.abstract.accept()
                c.close()
            except OSError:
                return

    def close(self):
        self.victim.kill()
        self.victim.wait()
        try:
            self.abstract.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.abstract.close()
        for p in SECRETS[:3]:
            if os.path.exists(p):
                os.unlink(p)
        if self.shm is not None:
            nt.sh(['ipcrm', '-m', str(self.shm)], check=False)


def probe_args(tg, host, cells, net):
    uid = USERS['nscit-a']
    return {'host': host, 'secrets': SECRETS, 'cells': cells, 'abstract': tg.abstract_name,
            'shm': tg.shm, 'uid': uid, 'gid': uid, 'net': net}


def escape(t, pol, what, net):
    env = t.env
    env.set_policy(pol)
    tg = Targets(env)
    try:
        b = env.login('su', 'nscit-b', PROBE + 'for d in /tmp /var/tmp /dev/shm; do echo b > $d/nscit-secret-b; done\n' + HOLD)
        a2 = env.login('ssh', 'nscit-a', PROBE + 'echo a2 > /tmp/nscit-secret-a2\n' + HOLD)
        t.require(b.wait_held() and a2.wait_held(), f'{what}: nscit-b and a second nscit-a session hold cells with secrets',
                  b.describe() + a2.describe())
        hb, ha2 = nt.host_pid_of(b), nt.host_pid_of(a2)
        inits = su.cell_inits(nt)
        other_init = next((p for p in inits if p.argv[1:] == [cell_of(b)]), None)
        host = {'a root daemon (sleep)': [tg.victim.pid, VICTIM_MARK],
                'the sshd listener': [env.sshd.pid, '/usr/sbin/sshd -D'],
                'the test runner (root)': [os.getpid(), 'run-in-ns']}
        if hb:
            host['nscit-b\'s shell in its cell'] = [hb.pid, b.script_path]
        if ha2:
            host['nscit-a\'s shell in its other cell'] = [ha2.pid, a2.script_path]
        if other_init:
            host['nscit-b\'s cell init'] = [other_init.pid, f'nscell-init {cell_of(b)}']
        args = probe_args(tg, host, [c for c in (cell_of(b), cell_of(a2)) if c], net)
        write(f'{WORK}/scripts/escape-args.json', json.dumps(args), 0o644)
        s = env.run('ssh', 'nscit-a', PROBE + f'/usr/bin/python3 {PROBE_PATH} {WORK}/scripts/escape-args.json',
                    timeout=60)
        t.login_ok(s, f'{what}: the attacker (nscit-a) logs in over ssh', require=False)
        t.check(s.value('pidns') and s.value('pidns') != env.host_pidns,
                f'{what}: the attacker is in a pid namespace of its own', s.describe())
        report(t, s, what)
        # The victims are unharmed.
        t.check(tg.victim.poll() is None, f'{what}: the root daemon (sleep) still runs')
        # kill -KILL -1 from a cell reaches only that cell.
        s = env.run('ssh', 'nscit-a', 'kill -KILL -1; echo survived')
        alive = [x.poll() is None for x in (b.proc, a2.proc)]
        nt.log(f'    attempt [{what}] kill -KILL -1 from a cell: the other cells\' sessions '
               f'{"survive" if all(alive) else "DIED"}, the root daemon {"survives" if tg.victim.poll() is None else "DIED"}')
        t.check(all(alive) and tg.victim.poll() is None,
                f'{what}: kill -KILL -1 from a cell: BLOCKED (other cells and the host untouched)')
        for x in (b, a2):
            x.release()
            x.wait()
            t.login_ok(x, f'{what}: {x.user}\'s held session was not disturbed', require=False)
    finally:
        tg.close()
    t.clean()


@test('escape: from a cell with the default policy (pid, mount, ipc)')
def _(t):
    escape(t, nt.DEFAULT_POLICY, 'default', net=False)


@test('escape: from a cell with a hardened policy (all namespaces, user namespace, no_new_privs)')
def _(t):
    escape(t, policy(extra=HARDENED, matches=[('User nscit-x', 'Isolate no')]), 'hardened', net=True)


TRAPS = r'''
cd /tmp
ln -s /etc/shadow shadow-link; ln -s /root root-link; ln -s / slash-link
mkfifo fifo; mkfifo /var/tmp/fifo; mkfifo /dev/shm/fifo
ln -s /etc /var/tmp/etc-link
mkdir -p d; chmod 0777 d; ln -s /etc/passwd d/passwd
echo "rename_tmp=$(mv /tmp /tmp.x >/dev/null 2>&1; echo $?)"
echo "rmdir_tmp=$(rmdir /tmp >/dev/null 2>&1; echo $?)"
echo "chmod_tmp=$(chmod 0777 /tmp >/dev/null 2>&1; echo $?)"
echo "tmpdev=$(stat -c %d:%i /tmp)"
echo planted
'''


def etc_state():
    return {p: (os.lstat(p).st_mode, os.lstat(p).st_uid, os.lstat(p).st_gid)
            for p in ('/etc', '/etc/shadow', '/etc/passwd', '/root', '/')}


@test('escape: symlink and FIFO traps in persistent directories (CVE-2025-6020, CVE-2024-22365 classes)')
def _(t):
    env = t.env
    root = '/var/lib/nscell/persistent'
    env.set_policy(policy(extra='Tmp persistent\nVarTmp persistent\nDevShm persistent\n',
                          matches=[('User nscit-x', 'Isolate no')]))
    before = etc_state()
    s = env.run('ssh', 'nscit-a', PROBE + TRAPS)
    t.login_ok(s, 'persistent dirs: nscit-a logs in and plants symlinks, FIFOs and a 0777 directory')
    for k in ('rename_tmp', 'rmdir_tmp', 'chmod_tmp'):
        nt.log(f'    attempt [persistent] {k.replace("_", " ")} from inside: exit {s.value(k)}')
        t.check(s.value(k) not in (None, '0'), f'persistent dirs: {k.replace("_", " ")} from inside fails')
    for m in ('ssh', 'su', 'login'):
        t0 = time.monotonic()
        s2 = env.run(m, 'nscit-a', PROBE + 'ls -l /tmp /var/tmp /dev/shm | sed "s/^/ls: /"', timeout=30)
        took = time.monotonic() - t0
        t.login_ok(s2, f'persistent dirs: a later {m} login of nscit-a is not blocked by the FIFOs ({took:.1f} s)',
                   require=False)
        t.check(took < 15, f'persistent dirs: ... and takes {took:.1f} s (no FIFO wait)')
        t.check('shadow-link -> /etc/shadow' in s2.out and 'fifo' in s2.out,
                f'persistent dirs: {m}: the planted files persist (the directories are persistent)', s2.out)
    t.eq(etc_state(), before, 'persistent dirs: /, /etc, /etc/shadow, /etc/passwd, /root: mode and owner unchanged '
         '(no symlink followed by root)')
    uid = USERS['nscit-a']
    st = os.lstat(f'{root}/{uid}')
    t.check(st.st_uid == 0 and (st.st_mode & 0o7777) == 0o700,
            f'persistent dirs: {root}/{uid} is root-owned 0700 ({st.st_mode & 0o7777:o}, uid {st.st_uid})')
    for leaf in ('tmp', 'var-tmp', 'dev-shm'):
        st = os.lstat(f'{root}/{uid}/{leaf}')
        t.check(st.st_uid == 0 and (st.st_mode & 0o7777) == 0o1777,
                f'persistent dirs: {root}/{uid}/{leaf} is a root-owned 1777 directory, not a planted link')
    b = env.run('ssh', 'nscit-b', PROBE + 'ls -a /tmp /var/tmp /dev/shm | sed "s/^/ls: /"')
    t.login_ok(b, 'persistent dirs: nscit-b logs in', require=False)
    t.check('shadow-link' not in b.out and 'fifo' not in b.out,
            'persistent dirs: nscit-b does not see nscit-a\'s persistent files', b.out)
    t.clean()
    nt.log('    attempt [persistent] symlinks/FIFOs/0777 dir planted in persistent /tmp, /var/tmp, /dev/shm '
           'then logging in again: BLOCKED (never followed, login not held up)')


PLANT = {
    'symlink': lambda p: os.symlink('/etc', p),
    'fifo': lambda p: os.mkfifo(p),
    'user directory': lambda p: os.mkdir(p),
}


@test('escape: PersistentRoot in or under a user-writable place is refused, nothing followed, nothing blocks')
def _(t):
    env = t.env
    uid = USERS['nscit-a']
    before = etc_state()
    cases = []
    for kind, fn in PLANT.items():
        for base in ('/tmp', f'/home/nscit-a'):
            path = f'{base}/nscit-proot-{kind.replace(" ", "-")}'
            # Planted by the user: made, then handed over (mkfifo/symlink as root, chown -h).
            fn(path)
            os.lchown(path, uid, uid)
            cases.append((kind, path, path + ('/persistent' if kind == 'symlink' else '')))
    cases.append(('a user-owned parent', f'/home/nscit-a/proot-parent/x', f'/home/nscit-a/proot-parent/x'))
    os.makedirs('/home/nscit-a/proot-parent', exist_ok=True)
    os.chown('/home/nscit-a/proot-parent', uid, uid)
    for kind, path, proot in cases:
        env.set_policy(policy(extra=f'Tmp persistent\nPersistentRoot {proot}\n',
                              matches=[('User nscit-x', 'Isolate no')]))
        t0 = time.monotonic()
        mark = env.syslog.mark()
        s = env.run('su', 'nscit-a', PROBE, timeout=30)
        took = time.monotonic() - t0
        refused = s.rc != 0 and nt.BEGIN not in s.raw
        nt.log(f'    attempt [persistent root] {kind} planted at {path} (PersistentRoot {proot}): '
               f'{"BLOCKED: login refused" if refused else "LOGGED IN"} in {took:.1f} s')
        t.check(refused, f'PersistentRoot under a {kind} at {path}: the login is refused (session required)',
                s.describe())
        t.check(took < 10, f'... promptly ({took:.1f} s: no FIFO wait)')
        t.syslog(r'PersistentRoot', mark, '... syslog names PersistentRoot')
    t.eq(etc_state(), before, 'nothing under /, /etc or /root was chowned or chmodded through a planted link')
    for kind, path, _ in cases:
        try:
            st = os.lstat(path)
            t.check(st.st_uid == uid, f'{path} still belongs to the user (not taken over by root)')
        except FileNotFoundError:
            pass
    for kind, path, _ in cases:
        if os.path.islink(path) or os.path.exists(path):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    shutil.rmtree('/home/nscit-a/proot-parent', ignore_errors=True)
    t.clean()


@test('escape: ten logins of one user racing (Scope user) end in one cell')
def _(t):
    env = t.env
    env.set_policy(policy(scope='user', matches=[('User nscit-x', 'Isolate no')]))
    mark = env.syslog.mark()
    user = 'nscit-c'
    methods = ['ssh', 'su', 'runuser', 'ssh', 'su', 'runuser', 'ssh', 'ssh', 'su', 'sudo']
    sessions = [env.login(m, user, PROBE + HOLD) for m in methods]
    up = [s.wait_held(30) for s in sessions]
    t.check(all(up), f'all {len(sessions)} racing logins come up ({sum(up)})',
            '\n'.join(s.describe() for s, u in zip(sessions, up) if not u))
    cells = {cell_of(s) for s in sessions}
    t.eq(cells, {f'user-{USERS[user]}'}, 'every racing login is in the same cell')
    created = env.syslog.find_all(nt.syslog_event('nscell-open', 'cell-created', user=user), mark)
    t.eq(len(created), 1, 'syslog: exactly one event=cell-created')
    t.eq(len([p for p in su.cell_inits(nt) if p.argv[1:] == [f'user-{USERS[user]}']]), 1,
         'one nscell-init for the user')
    nt.log(f'    attempt [race] 10 simultaneous logins of {user}: {len(cells)} cell(s), {len(created)} created')
    for s in sessions:
        s.release()
    for s in sessions:
        s.wait()
        t.login_ok(s, f'{s.method} session ends with status 0', require=False)
    t.clean(timeout=10)
