# SPDX-License-Identifier: LGPL-2.1-or-later
# Root's side of nscell attacked by a user: the admin's terminal and what the
# admin verbs print. Each attack is made as the user through a real login;
# each check is on what root sees: its own interactive shell on a real pty
# (driven from here), the bytes `nscell` writes to its terminal, the cell it
# acts on.
#   - TIOCSTI from a ~/.bash_profile that `nscell enter` runs: no line reaches
#     root's shell after enter returns;
#   - a background reader left behind by that profile: it reads nothing root
#     types afterwards, and no user process holds or can open root's tty;
#   - process names with escape sequences and C1 controls: show, list,
#     terminate print no raw control byte, JSON stays valid;
#   - users named user-UID and session-HEX: never taken for a cell id;
#   - `enter --root`: root's command gets no file the user planted in the
#     cell's /tmp.

import fcntl
import json
import os
import pty
import re
import select
import signal
import stat
import subprocess
import sys
import termios
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import nscelltest as nt  # noqa: E402
from nscelltest import HOLD, PROBE, USERS, cell_of, policy, poll, test, write  # noqa: E402

NSCELL = '/usr/local/bin/nscell'
ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
USER = 'nscit-a'
HOME = f'/home/{USER}'
MARKER = '/root/nscit-admin-side-marker'
PROMPT = b'ROOTSH$ '


def tiocsti_legacy():
    try:
        with open('/proc/sys/dev/tty/legacy_tiocsti') as f:
            return f.read().strip()
    except OSError:
        return 'absent (before Linux 6.2: always allowed)'


class RootShell:
    """root's interactive bash on a real pty of its own (its controlling
    terminal), as an admin's terminal is; everything it shows is kept."""

    def __init__(self):
        pid, master = pty.fork()
        if pid == 0:
            try:
                os.chdir('/root')
                os.execve('/bin/bash', ['bash', '--norc', '--noprofile', '-i'],
                          {'PATH': ROOT_PATH, 'HOME': '/root', 'TERM': 'dumb', 'PS1': 'ROOTSH$ '})
            finally:
                os._exit(127)
        self.pid, self.master = pid, master
        self.buf = b''
        self.cond = threading.Condition()
        self.eof = False
        threading.Thread(target=self._reader, daemon=True).start()

    def slave(self):
        """The path and device of root's terminal, as its shell sees them."""
        path = os.readlink(f'/proc/{self.pid}/fd/0')
        return path, os.stat(path).st_rdev

    def _reader(self):
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                data = b''
            with self.cond:
                if not data:
                    self.eof = True
                    self.cond.notify_all()
                    return
                self.buf += data
                self.cond.notify_all()

    def wait_for(self, needle, timeout=60):
        deadline = time.monotonic() + timeout
        with self.cond:
            while needle not in self.buf:
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def type(self, text):
        os.write(self.master, text.encode())

    def run(self, line, timeout=60):
        """Type a line; wait until its marker is printed (the typed echo has
        the marker split by quotes, so only the output matches)."""
        self.n = getattr(self, 'n', 0) + 1
        tag = f'__ROOTSH_DONE_{self.n}'
        self.type(f'{line}; echo "{tag}""__ rc=$?"\n')
        return self.wait_for(f'{tag}__ rc='.encode(), timeout)

    def close(self):
        try:
            self.type('exit\n')
        except OSError:
            pass
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            wpid, _ = os.waitpid(self.pid, os.WNOHANG)
            if wpid:
                break
            time.sleep(0.05)
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.master)

    def text(self):
        return self.buf.decode(errors='replace')


def user_procs():
    return [p for p in nt.procs() if nt.UID_MIN <= p.uid <= nt.UID_MAX]


def holders_of(path, rdev):
    """Test users' processes with root's terminal open or as controlling tty."""
    out = []
    for p in user_procs():
        try:
            for fd in os.listdir(f'/proc/{p.pid}/fd'):
                if os.readlink(f'/proc/{p.pid}/fd/{fd}') == path:
                    out.append(f'{p.pid} {" ".join(p.argv)}: fd {fd}')
            with open(f'/proc/{p.pid}/stat') as f:
                tty_nr = int(f.read().rsplit(')', 1)[1].split()[4])
            if tty_nr == rdev:
                out.append(f'{p.pid} {" ".join(p.argv)}: controlling terminal')
        except (OSError, ValueError, IndexError):
            pass
    return out


def open_as_user(path):
    """What the user gets opening root's terminal by its name."""
    uid = USERS[USER]
    r = nt.sh(['setpriv', f'--reuid={uid}', f'--regid={uid}', '--init-groups', '--',
               'python3', '-c', 'import os, sys\ntry:\n os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)\n'
               ' print("OPENED")\nexcept OSError as e:\n print(e.strerror)', path], check=False)
    return r.stdout.strip()


def held_login(t, user=USER, extra=''):
    s = t.env.login('ssh', user, PROBE + extra + HOLD)
    t.require(s.wait_held(), f'{user} logs in over ssh and holds', s.describe())
    cell = cell_of(s)
    t.require(cell, f'{user}: the login is in a cell', s.describe())
    return s, cell


def bash_profile(text):
    write(f'{HOME}/.bash_profile', text, 0o644, USERS[USER], USERS[USER])


def finish(t, s, shell=None):
    if shell:
        shell.close()
    s.release()
    s.wait()
    try:
        os.unlink(f'{HOME}/.bash_profile')
    except FileNotFoundError:
        pass
    t.clean(timeout=15)


# ---- attack 3: TIOCSTI -------------------------------------------------------

TIOCSTI_PROFILE = f'''# pushes a line into "its" terminal, then leaves at once
python3 -c '
import fcntl, termios
for c in "id -u > {MARKER}\\n":
    fcntl.ioctl(0, termios.TIOCSTI, c.encode())
' 2> $HOME/tiocsti.err
echo "tiocsti_rc=$?" > $HOME/tiocsti.rc
exit 0
'''


@test('admin side: a TIOCSTI-pushing ~/.bash_profile gets no command run by root after nscell enter')
def _(t):
    nt.log(f'    (dev.tty.legacy_tiocsti = {tiocsti_legacy()})')
    for f in (MARKER, f'{HOME}/tiocsti.rc', f'{HOME}/tiocsti.err'):
        if os.path.exists(f):
            os.unlink(f)
    s, cell = held_login(t)
    bash_profile(TIOCSTI_PROFILE)
    shell = RootShell()
    t.require(shell.wait_for(PROMPT), 'root\'s interactive shell prompts on its pty', shell.text())
    t.check(shell.run(f'{NSCELL} enter {USER}', timeout=90), 'root runs nscell enter nscit-a; it returns',
            shell.text())
    # Typed after enter returned: a pushed line, queued before, would run first.
    t.check(shell.run('echo root-shell-alive'), 'root\'s shell reads what root types next', shell.text())
    rc = ''
    if os.path.exists(f'{HOME}/tiocsti.rc'):
        with open(f'{HOME}/tiocsti.rc') as f:
            rc = f.read().strip()
    t.check(rc == 'tiocsti_rc=0' or tiocsti_legacy() == '0',
            'the profile ran and its TIOCSTI was accepted (by the terminal it was given)',
            rc + '\n' + (open(f'{HOME}/tiocsti.err').read() if os.path.exists(f'{HOME}/tiocsti.err') else ''))
    t.check(not os.path.exists(MARKER), f'no command ran as root after enter returned ({MARKER} absent)',
            (open(MARKER).read() if os.path.exists(MARKER) else '') + '\n' + shell.text())
    finish(t, s, shell)
    if os.path.exists(MARKER):
        os.unlink(MARKER)


# ---- attack 3: a background reader -------------------------------------------

READER_PROFILE = r'''# leaves a reader behind, in a session of its own (no SIGTTIN), that keeps
# reading the terminal it was given (its stdin), and tries /dev/tty too
cat > $HOME/reader.py <<'EOF'
import os, time
if os.fork():
    os._exit(0)
os.setsid()
fds = [0]
try:
    fds.append(os.open('/dev/tty', os.O_RDONLY | os.O_NOCTTY))
    print('opened /dev/tty', flush=True)
except OSError as e:
    print('/dev/tty:', e.strerror, flush=True)
with open(os.path.expanduser('~/reader.pid'), 'w') as f:
    f.write(str(os.getpid()))
deadline = time.monotonic() + 120
while time.monotonic() < deadline and fds:
    for fd in list(fds):
        try:
            data = os.read(fd, 4096)
        except OSError as e:
            print('read:', e.strerror, flush=True)
            data = None
        if data:
            with open(os.path.expanduser('~/stolen'), 'ab') as f:
                f.write(data)
        elif data == b'' or data is None:
            fds.remove(fd)
EOF
python3 $HOME/reader.py <&0 > $HOME/reader.log 2>&1 &
while [ ! -s $HOME/reader.pid ]; do sleep 0.05; done
exit 0
'''


@test('admin side: a reader left by the user reads nothing root types after nscell enter; no user process holds root\'s tty')
def _(t):
    for f in ('stolen', 'reader.pid', 'reader.log', 'reader.py'):
        if os.path.exists(f'{HOME}/{f}'):
            os.unlink(f'{HOME}/{f}')
    s, cell = held_login(t)
    bash_profile(READER_PROFILE)
    shell = RootShell()
    t.require(shell.wait_for(PROMPT), 'root\'s interactive shell prompts on its pty', shell.text())
    path, rdev = shell.slave()
    t.check(shell.run(f'{NSCELL} enter {USER}', timeout=90), 'root runs nscell enter nscit-a; it returns',
            shell.text())
    t.check(os.path.exists(f'{HOME}/reader.pid'), 'the profile left its reader running')
    holders = holders_of(path, rdev)
    t.check(not holders, f'once enter returned, no process of a test user has root\'s terminal {path} '
            'open or as its terminal', '\n'.join(holders))
    # What root types next, several lines: a reader holding the tty would take some.
    for i in range(6):
        t.check(shell.run(f'echo root-typed-secret-{i}', timeout=30), f'root\'s shell runs line {i}',
                shell.text())
    t.eq(open_as_user(path), 'Permission denied', f'the user cannot open root\'s terminal {path} by name')
    stolen = b''
    if os.path.exists(f'{HOME}/stolen'):
        with open(f'{HOME}/stolen', 'rb') as f:
            stolen = f.read()
    t.check(b'root-typed-secret' not in stolen, 'the reader got none of what root typed', stolen.decode(errors='replace'))
    log = open(f'{HOME}/reader.log').read() if os.path.exists(f'{HOME}/reader.log') else ''
    t.check('opened /dev/tty' not in log, 'the reader could not open /dev/tty (a session without a terminal)',
            log)
    finish(t, s, shell)


# ---- enter --root and the cell's /tmp ------------------------------------------

@test('admin side: enter --root does not run root\'s command with what the user planted in the cell\'s /tmp')
def _(t):
    target = '/root/nscit-admin-side-target'
    write(target, 'original\n', 0o644)
    s, cell = held_login(t, extra='echo planted-by-user > /tmp/nscit-planted\n'
                                  f'ln -s {target} /tmp/nscit-report\n')
    r = nt.sh([NSCELL, 'enter', '--root', cell, '--', 'sh', '-c',
               'cat /tmp/nscit-planted; echo written-by-root > /tmp/nscit-report; '
               'echo "cell=$(cat /proc/1/root/tmp/nscit-planted)"'], check=False, timeout=60)
    nt.log(f'    (fs.protected_symlinks = {open("/proc/sys/fs/protected_symlinks").read().strip()})')
    t.check(r.returncode == 0, 'enter --root ... exits 0', r.stdout + r.stderr)
    t.check('planted-by-user' not in r.stdout.replace('cell=planted-by-user', ''),
            'root\'s /tmp does not have the file the user planted', r.stdout)
    t.eq(open(target).read(), 'original\n', 'a symlink the user planted in /tmp was not followed by root')
    t.check('cell=planted-by-user' in r.stdout, 'the cell\'s own /tmp is there for root at /proc/1/root/tmp',
            r.stdout + r.stderr)
    finish(t, s)
    os.unlink(target)


# ---- attack 8: escape sequences in names --------------------------------------

EVIL = '\x1b]2;pwned\x07\x1b[2J\u009b31m'   # OSC title, clear screen, C1 CSI (as UTF-8)
EVIL_SHELL = r"$(printf 'x\033]2;pwned\007\033[2J\302\23331m')"
ZOMBIE = ('import ctypes, os, time\nif os.fork() == 0:\n'
          '    ctypes.CDLL(None).prctl(15, b"z\\x1b]2;zomb\\x07\\x9b1m", 0, 0, 0)\n'
          '    os._exit(0)\ntime.sleep(1000.94)\n')
RAW_BYTES = (b'\x1b', b'\x07', b'\x9b', b'\xc2\x9b')


def comm_exists(name):
    for pid in os.listdir('/proc'):
        try:
            with open(f'/proc/{pid}/comm', 'rb') as f:
                if f.read().rstrip(b'\n') == name:
                    return True
        except (OSError, ValueError):
            pass
    return False


def raw_controls(data):
    """Control bytes in output meant for a terminal (newlines and tabs are layout)."""
    return sorted({f'0x{b:02x}' for b in data if (b < 0x20 and b not in (0x0a, 0x09)) or b == 0x7f}
                  | ({'C1 0x9b'} if b'\x9b' in data else set()))


@test('admin side: process names with escape sequences reach root\'s terminal escaped; JSON stays valid')
def _(t):
    script = (f'd=$(mktemp -d); n="$d/{EVIL_SHELL}"; ln -s /bin/sleep "$n"; "$n" 1000.93 &\n'
              f"python3 -c '{ZOMBIE}' &\n"
              'sleep 0.5\n')
    s, cell = held_login(t, extra=script)
    t.require(poll(lambda: comm_exists(b'z\x1b]2;zomb\x07\x9b1m'), timeout=15),
              'the user\'s zombie named with escapes exists')
    outputs = {}
    for args in (['show', USER], ['show', '--full', USER], ['list'], ['list', USER]):
        r = subprocess.run([NSCELL, *args], capture_output=True, timeout=60)
        outputs[' '.join(args)] = r
        t.check(r.returncode == 0, f'nscell {" ".join(args)} exits 0', r.stderr.decode(errors='replace'))
    show = outputs['show --full ' + USER].stdout
    t.check(b'\\x1b]2;pwned\\x07' in show and b'\\u009b31m' in show,
            'show --full: the name is there, escaped as \\x1b ... \\u009b', show.decode(errors='replace'))
    t.check(b'[z\\x1b]2;zomb\\x07\\x9b1m]' in outputs['show ' + USER].stdout,
            'show: the zombie\'s name (its comm) is there, escaped', outputs['show ' + USER].stdout.decode(errors='replace'))
    for what, r in outputs.items():
        t.eq(raw_controls(r.stdout + r.stderr), [], f'nscell {what}: no raw control byte (ESC, BEL, C1) on root\'s terminal')
        t.check(not any(b in r.stdout for b in RAW_BYTES), f'nscell {what}: neither ESC, BEL, 0x9b nor U+009B raw')
    for args in (['list', '--json'], ['show', '--json', USER]):
        r = subprocess.run([NSCELL, *args], capture_output=True, timeout=60)
        try:
            text = r.stdout.decode('utf-8')
            data = json.loads(text)
            ok = True
        except (UnicodeDecodeError, ValueError) as e:
            ok, data, text = False, None, repr(e) + '\n' + r.stdout.decode(errors='replace')
        t.check(r.returncode == 0 and ok, f'nscell {" ".join(args)}: valid UTF-8 and valid JSON', text)
        t.eq(raw_controls(r.stdout), [], f'nscell {" ".join(args)}: no raw control byte')
        if ok and args[0] == 'show':
            cmds = [p['command'] for c in data['cells'] for p in c['process_list']]
            t.check(any(EVIL in c for c in cmds), 'show --json: the name decodes back to what the user chose',
                    '\n'.join(map(repr, cmds)))
            t.check(any(c.startswith('[z\x1b]2;zomb\x07\ufffd1m') for c in cmds),
                    'show --json: the zombie\'s invalid byte 0x9b is U+FFFD', '\n'.join(map(repr, cmds)))
    r = subprocess.run([NSCELL, 'terminate', '--verbose', USER], capture_output=True, timeout=60)
    t.check(r.returncode == 0 and b'\\x1b]2;pwned' in r.stdout,
            'terminate --verbose lists the process, escaped', r.stdout.decode(errors='replace'))
    t.eq(raw_controls(r.stdout + r.stderr), [], 'nscell terminate --verbose: no raw control byte')
    s.wait()
    t.clean(timeout=15)


# ---- user names that look like cell ids ---------------------------------------

@test('admin side: users named user-UID and session-HEX are never taken for a cell id')
def _(t):
    env = t.env
    env.set_policy(policy(scope='user', matches=[('User nscit-x', 'Isolate no')]))
    victim_cell = f'user-{USERS[USER]}'
    sly, sly2 = victim_cell, 'session-0123456789abcdef'
    if not os.path.isdir(f'/home/{sly}'):
        env.add_user(sly, 64110)
        env.add_user(sly2, 64111)
    v = env.login('ssh', USER, PROBE + HOLD)
    a = env.login('ssh', sly, PROBE + HOLD)
    t.require(v.wait_held() and a.wait_held(), f'{USER} and the user named {sly} log in and hold',
              v.describe() + a.describe())
    t.eq((cell_of(v), cell_of(a)), (victim_cell, 'user-64110'), 'each has a user cell of its own')

    def alive(cell):
        return os.path.exists(f'/run/nscell/cells/{cell}.sock')

    for verb in (['show'], ['list'], ['enter'], ['terminate']):
        r = nt.sh([NSCELL, *verb, sly] + (['--', 'id', '-u'] if verb == ['enter'] else []),
                  check=False, timeout=60)
        t.check(r.returncode != 0 and 'both a cell id and the name of user' in r.stderr
                and '--cell' in r.stderr and '--user' in r.stderr,
                f'nscell {verb[0]} {sly}: refused as ambiguous, saying how to name either', r.stdout + r.stderr)
        t.check(alive(victim_cell) and alive('user-64110'), f'nscell {verb[0]} {sly}: both cells live on')
    r = nt.sh([NSCELL, 'show', sly2], check=False)
    t.check(r.returncode != 0 and 'both a cell id' in r.stderr, f'nscell show {sly2}: refused as ambiguous too',
            r.stderr)
    r = nt.sh([NSCELL, 'list', '--json', '--user', sly], check=False)
    t.eq([c['id'] for c in json.loads(r.stdout)['cells']] if r.returncode == 0 else r.stderr,
         ['user-64110'], f'list --user {sly}: the user\'s own cell')
    r = nt.sh([NSCELL, 'list', '--json', '--cell', victim_cell], check=False)
    t.eq([c['id'] for c in json.loads(r.stdout)['cells']] if r.returncode == 0 else r.stderr,
         [victim_cell], f'list --cell {victim_cell}: the cell of {USER}')
    r = nt.sh([NSCELL, 'enter', '--user', sly, '--', 'id', '-u'], check=False, timeout=60)
    t.eq(r.stdout.strip(), '64110', f'enter --user {sly}: runs as that user, in its cell')
    r = nt.sh([NSCELL, 'terminate', '--user', sly], check=False, timeout=60)
    t.check(r.returncode == 0 and not alive('user-64110') and alive(victim_cell),
            f'terminate --user {sly}: ends that user\'s cell, not {victim_cell}', r.stdout + r.stderr)
    r = nt.sh([NSCELL, 'terminate', '--cell', victim_cell], check=False, timeout=60)
    t.check(r.returncode == 0 and not alive(victim_cell), f'terminate --cell {victim_cell}: ends it',
            r.stdout + r.stderr)
    for s in (v, a):
        s.wait()
    t.clean(timeout=15)
