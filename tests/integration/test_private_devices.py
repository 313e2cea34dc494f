# SPDX-License-Identifier: LGPL-2.1-or-later
# PrivateDevices: by every way in, the cell's /dev holds only the pseudo-devices,
# ptmx, the terminals, shm, mqueue and log; the session's own terminal still
# works by /dev/tty and by its /dev/pts/N name, and new ptys (script) work,
# whether the host's ptmx is a link into a devpts with ptmxmode=0666 (this
# harness) or a device node beside a devpts with ptmxmode=000 (a Debian host).
# The key unset: /dev is the host's, as before.

import os
import pty
import stat
import threading

from nscelltest import PROBE, Session, check_in_cell, policy, sh, test

# Nodes the host has and a cell with PrivateDevices must not: a disk, /dev/kvm.
FOREIGN = {'nscit-sda': (stat.S_IFBLK, 7, 0), 'nscit-kvm': (stat.S_IFCHR, 10, 232)}
WANT = {'fd', 'full', 'log', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr',
        'stdin', 'stdout', 'tty', 'urandom', 'zero'}
TERMINAL_METHODS = ('ssh-tty', 'su-pty', 'login', 'sudo-pty')

LOOK = PROBE + r'''
echo "dev=$(ls -A /dev | tr '\n' ' ')"
echo "ptmx_type=$(stat -c %F /dev/ptmx)"
for n in nscit-sda nscit-kvm; do
  if [ -e /dev/$n ]; then echo "node_$n=present"; else echo "node_$n=absent"; fi
done
if [ -t 0 ]; then
  t=$(tty)
  if stty -g >/dev/null 2>&1; then echo "stty=ok"; else echo "stty=fail"; fi
  if (echo nscit-via-name > "$t") 2>/dev/null; then echo "write_name=ok"; else echo "write_name=fail"; fi
  if (echo nscit-via-dev-tty > /dev/tty) 2>/dev/null; then echo "write_dev_tty=ok"; else echo "write_dev_tty=fail"; fi
fi
n=$(script -qc tty /dev/null </dev/null 2>&1)
echo "script_rc=$?"
echo "script_tty=$(printf '%s' "$n" | tr -d '\r\n')"
for p in /proc/[0-9]*/root/dev/nscit-sda; do [ -e "$p" ] && echo "via_proc=$p"; done
if umount /dev 2>/dev/null; then echo "umount=done"; else echo "umount=refused"; fi
echo "userns_umount=$(unshare -Urm sh -c 'umount -l /dev 2>/dev/null; if [ -e /dev/nscit-sda ]; then echo uncovered; else echo covered; fi' 2>&1)"
'''


class PtySession(Session):
    """su -l or sudo -i started on a pty of the harness, as from a terminal
    (Session runs them on pipes): the session's terminal is the caller's."""

    def __init__(self, env, how, user, script):
        self.how = how
        super().__init__(env, 'login', user, script)
        self.method = how + '-pty'

    def _start_login(self, cenv):
        if self.how == 'su':
            self.argv = ['su', '-l', self.user, '-c', f'/bin/sh {self.script_path}']
        else:
            self.argv = ['sudo', '-i', '-u', self.user, '--', '/bin/sh', self.script_path]
        pid, master = pty.fork()
        if pid == 0:
            try:
                os.chdir('/')
                os.execvpe(self.argv[0], self.argv, cenv)
            finally:
                os._exit(127)
        self.login_pid, self.master, self._out = pid, master, master
        threading.Thread(target=self._reader, daemon=True).start()


def run(env, method, user, script):
    if method in ('su-pty', 'sudo-pty'):
        s = PtySession(env, method[:-4], user, script)
        s.wait(30)
        return s
    return env.run(method, user, script)


class ForeignNodes:
    """A disk and /dev/kvm in the harness's /dev for the test's duration."""

    def __enter__(self):
        for name, (kind, major, minor) in FOREIGN.items():
            os.mknod(f'/dev/{name}', 0o600 | kind, os.makedev(major, minor))
        return self

    def __exit__(self, *exc):
        for name in FOREIGN:
            try:
                os.unlink(f'/dev/{name}')
            except FileNotFoundError:
                pass


class DebianPtmx:
    """The harness's /dev as on a Debian host: /dev/ptmx a device node, its
    devpts with ptmxmode=000 (pts/ptmx unusable by users)."""

    OPTS = 'mode=0620,gid=5'

    def __enter__(self):
        os.unlink('/dev/ptmx')
        os.mknod('/dev/ptmx', 0o666 | stat.S_IFCHR, os.makedev(5, 2))
        os.chmod('/dev/ptmx', 0o666)
        sh(['mount', '-o', f'remount,ptmxmode=000,{self.OPTS}', '/dev/pts'])
        return self

    def __exit__(self, *exc):
        sh(['mount', '-o', f'remount,ptmxmode=0666,{self.OPTS}', '/dev/pts'])
        os.unlink('/dev/ptmx')
        os.symlink('pts/ptmx', '/dev/ptmx')


def private_devices(t, shape):
    env = t.env
    # su -c runs the command in a session of its own (no controlling
    # terminal: /dev/tty is ENXIO) on the caller's terminal, which stays
    # root's: by name too it opens only as it does without the key.
    base = run(env, 'su-pty', 'nscit-a', LOOK)
    t.login_ok(base, 'su -l on a pty, PrivateDevices unset: nscit-a logs in')
    env.set_policy(policy(extra='PrivateDevices yes\n', matches=[('User nscit-x', 'Isolate no')]))
    want_ptmx = 'character special file' if shape == 'node' else 'symbolic link'
    t.eq(os.lstat('/dev/pts/ptmx').st_mode & 0o777, 0 if shape == 'node' else 0o666,
         f'harness: pts/ptmx mode as on a {"Debian host" if shape == "node" else "container"}')
    for m in ('ssh',) + TERMINAL_METHODS:
        s = run(env, m, 'nscit-a', LOOK)
        if not t.login_ok(s, f'{m}: nscit-a logs in with PrivateDevices yes', require=False):
            continue
        check_in_cell(t, s, m)
        t.eq(set((s.value('dev') or '').split()), WANT, f'{m}: /dev lists exactly the pseudo-devices, ptmx, pts, shm, mqueue, log and the fd links')
        t.eq(s.value('ptmx_type'), want_ptmx, f'{m}: /dev/ptmx is a {want_ptmx}, as the host has it')
        for name in FOREIGN:
            t.eq(s.value(f'node_{name}'), 'absent', f'{m}: the harness\'s /dev/{name} does not exist in the cell')
        t.eq(s.value('script_rc'), '0', f'{m}: script(1) opens a new pty')
        t.check((s.value('script_tty') or '').startswith('/dev/pts/'),
                f'{m}: script\'s new pty is named /dev/pts/N', s.describe())
        t.eq(s.value('via_proc'), None, f'{m}: nor is it reachable through /proc/PID/root of a process in the cell')
        t.eq(s.value('umount'), 'refused', f'{m}: the user cannot umount /dev')
        t.eq(s.value('userns_umount'), 'covered', f'{m}: nor in a user and mount namespace of their own')
        if m == 'ssh':
            t.eq(s.value('tty'), 'not a tty', 'ssh command: no terminal')
            continue
        t.check((s.value('tty') or '').startswith('/dev/pts/'), f'{m}: tty(1) names the session\'s terminal /dev/pts/N',
                s.describe())
        t.eq(s.value('stty'), 'ok', f'{m}: the terminal answers stty')
        if m == 'su-pty':
            for k in ('write_name', 'write_dev_tty'):
                t.eq(s.value(k), base.value(k), f'{m}: {k}: {base.value(k)}, as without the key')
            continue
        t.eq(s.value('write_name'), 'ok', f'{m}: the terminal opens and takes a write by its /dev/pts/N name')
        t.eq(s.value('write_dev_tty'), 'ok', f'{m}: and by /dev/tty')
        t.check('nscit-via-name' in s.raw and 'nscit-via-dev-tty' in s.raw,
                f'{m}: what was written reached the harness\'s end of the terminal', s.describe())
    t.clean()


@test('PrivateDevices yes: every way in, ptmx a link into a devpts with ptmxmode=0666')
def _(t):
    with ForeignNodes():
        private_devices(t, 'link')


@test('PrivateDevices yes: every way in, ptmx a device node, devpts with ptmxmode=000 (a Debian host)')
def _(t):
    with ForeignNodes(), DebianPtmx():
        private_devices(t, 'node')


@test('PrivateDevices unset: the cell\'s /dev is the host\'s, as before')
def _(t):
    env = t.env
    with ForeignNodes():
        s = run(env, 'ssh-tty', 'nscit-a', LOOK)
        t.login_ok(s, 'ssh -tt: nscit-a logs in with the default policy')
        check_in_cell(t, s, 'ssh -tt')
        for name in FOREIGN:
            t.eq(s.value(f'node_{name}'), 'present', f'the harness\'s /dev/{name} is there in the cell')
        t.check('mqueue' not in (s.value('dev') or '').split(), 'no /dev/mqueue of the cell\'s own', s.describe())
        t.eq(s.value('write_name'), 'ok', 'the terminal works by its name')
        t.eq(s.value('script_rc'), '0', 'script(1) opens a new pty')
    t.clean()
