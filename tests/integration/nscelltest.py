# SPDX-License-Identifier: LGPL-2.1-or-later
"""
The integration harness: a throwaway "host" inside private namespaces, real
logins into it, and a tiny test runner.

run-in-ns enters fresh mount + pid + network namespaces and calls setup():

  /run, /home, /tmp, /var/tmp   fresh tmpfs
  /etc, /var, /root, /usr/local overlays (lower = the host's directory, upper in
                                /run): the host's files are never written
  /dev                          a tmpfs with null, zero, full, random, urandom,
                                tty, a new devpts instance, ptmx, shm, and
                                /dev/log bound by the syslog catcher below
  /usr/local                    gets `meson install` of the build under test
  the checkout, the build dir   opened before the above hide them, mounted
                                back at their own paths: the sources read-only,
                                the build dir as an overlay, outputs read-write
  users                         nscit-* appended to passwd/shadow/group/gshadow,
                                homes under the private /home
  sshd                          on 127.0.0.1:22 of the private loopback

Everything is gone when the namespace's PID 1 exits: the mounts with the
mount namespace, every process with the pid namespace.

Python 3 standard library only.
"""

import json
import os
import pty
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
import traceback

WORK = '/run/nscell-it'
SSH_HOST = 'nscit-host'
SSH_PORT = 22
ECHO_PORT = 7777
UID_MIN, UID_MAX = 64100, 64199  # every id the harness creates is in this range

# name -> uid; each user has a primary group of the same name and gid.
USERS = {
    'nscit-a': 64101,
    'nscit-b': 64102,
    'nscit-c': 64103,
    'nscit-d': 64104,
    'nscit-e': 64105,
    'nscit-x': 64109,  # the policy's exempt user
}
GROUPS = {'nscit': (64100, ['nscit-a', 'nscit-b', 'nscit-c', 'nscit-d', 'nscit-e']),
          'nscit-exempt': (64199, ['nscit-x'])}

# Every PAM service the harness patches, and how a test logs in through it.
PAM_SERVICES = ['sshd', 'su-l', 'su', 'runuser-l', 'runuser', 'login', 'sudo-i', 'sudo']
METHODS = ['ssh', 'ssh-tty', 'su', 'runuser', 'login', 'sudo']
SERVICE_OF = {'ssh': 'sshd', 'ssh-tty': 'sshd', 'su': 'su-l', 'runuser': 'runuser-l',
              'login': 'login', 'sudo': 'sudo-i'}

# The privileged programs, as /proc/PID/comm names them (15 bytes at most).
HELPER_COMMS = ('nscell-open', 'nscell-open-ful', 'nscell-run-help')
# Their syslog idents, as a regex for syslog_event().
HELPERS_RX = r'nscell-(?:open|run-helper)'
BEGIN = '__NSCIT_BEGIN__'
END = '__NSCIT_END__'
HELD = '__NSCIT_HELD__'
# A script line that announces the session is up, then waits for release().
HOLD = f'echo {HELD}; read _nscit_line'

CELL_ID_RE = r'(session-[0-9a-f]{16}|user-[0-9]+)'


def log(msg):
    print(msg, flush=True)


def sh(cmd, check=True, **kw):
    """Run a harness-side command (argv list); return CompletedProcess with text."""
    kw.setdefault('stdout', subprocess.PIPE)
    kw.setdefault('stderr', subprocess.PIPE)
    r = subprocess.run(cmd, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f'{shlex.join(cmd)} exited {r.returncode}: {r.stderr.strip()}')
    return r


def write(path, text, mode=0o644, uid=0, gid=0):
    # In place (O_TRUNC, same inode): a file bind-mounted or open elsewhere stays valid.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def append(path, text):
    with open(path, 'a') as f:
        f.write(text)


def poll(fn, timeout=5.0, interval=0.05):
    """Call fn() until it returns something true or timeout passes; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---- processes and namespaces, as seen from the harness ---------------------

class Proc:
    __slots__ = ('pid', 'ppid', 'uid', 'state', 'comm', 'argv', 'nspid', 'pidns', 'mntns')

    def __str__(self):
        return (f'pid={self.pid} ppid={self.ppid} uid={self.uid} state={self.state} '
                f'nspid={self.nspid} {self.pidns} {self.mntns} argv={" ".join(self.argv)!r}')


def proc(pid):
    """A snapshot of /proc/PID, or None if it is gone."""
    try:
        p = Proc()
        p.pid = int(pid)
        with open(f'/proc/{pid}/status') as f:
            status = f.read()
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            raw = f.read()
        p.argv = [a.decode(errors='replace') for a in raw.split(b'\0')[:-1]] if raw else []
        fields = dict(line.split(':', 1) for line in status.splitlines() if ':' in line)
        p.comm = fields['Name'].strip()
        p.state = fields['State'].split()[0]
        p.ppid = int(fields['PPid'])
        p.uid = int(fields['Uid'].split()[0])
        p.nspid = [int(x) for x in fields.get('NSpid', str(pid)).split()]
        p.pidns = _readlink(f'/proc/{pid}/ns/pid')
        p.mntns = _readlink(f'/proc/{pid}/ns/mnt')
        return p
    except (FileNotFoundError, ProcessLookupError, KeyError, ValueError):
        return None


def _readlink(path):
    try:
        return os.readlink(path)
    except OSError:
        return None


def procs():
    out = []
    for d in os.listdir('/proc'):
        if d.isdigit():
            p = proc(d)
            if p is not None:
                out.append(p)
    return out


def find_procs(needle):
    """Processes whose command line contains needle."""
    return [p for p in procs() if needle in ' '.join(p.argv)]


def mount_points():
    with open('/proc/self/mountinfo') as f:
        return sorted(' '.join((ln.split()[4], ln.split(' - ')[1].split()[0]))
                      for ln in f)


def cell_sockets():
    try:
        return sorted(os.listdir('/run/nscell/cells'))
    except FileNotFoundError:
        return []


# ---- syslog -------------------------------------------------------------------

FACILITIES = {0: 'kern', 1: 'user', 2: 'mail', 3: 'daemon', 4: 'auth', 5: 'syslog',
              9: 'cron', 10: 'authpriv'}
SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug']
_SYSLOG_RE = re.compile(r'^<(\d+)>(?:[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d )?(.*)$', re.S)


class Syslog:
    """A datagram socket bound to /dev/log; every message becomes one line
    'facility.severity tag[pid]: message' in memory and in a file."""

    def __init__(self, path, logfile):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.lines = []
        self.cond = threading.Condition()
        self.logfile = open(logfile, 'a', buffering=1)
        threading.Thread(target=self._run, daemon=True, name='syslog').start()

    def _run(self):
        while True:
            data = self.sock.recv(65536)
            text = data.decode(errors='replace').rstrip('\n\0')
            m = _SYSLOG_RE.match(text)
            if m:
                pri = int(m.group(1))
                fac = FACILITIES.get(pri >> 3, str(pri >> 3))
                text = f'{fac}.{SEVERITIES[pri & 7]} {m.group(2)}'
            with self.cond:
                self.lines.append(text)
                self.cond.notify_all()
            self.logfile.write(text + '\n')

    def mark(self):
        with self.cond:
            return len(self.lines)

    def since(self, mark=0):
        with self.cond:
            return list(self.lines[mark:])

    def wait_for(self, pattern, since=0, timeout=5.0):
        """The first line after mark `since` matching regex pattern, or None."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[since:]:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def find_all(self, pattern, since=0):
        rx = re.compile(pattern)
        return [ln for ln in self.since(since) if rx.search(ln)]


# ---- one login -----------------------------------------------------------------

class Session:
    """One real login running a script, its output collected in the background.

    The script runs as `/bin/sh FILE` through the login's own shell: ssh runs it
    as the remote command, su/runuser with -c, sudo -i as the command, login
    types it into the shell on the pty. Its output between the BEGIN and END
    markers is what the user saw; `rc` is the exit status of the login program
    on the harness side (ssh, su, ..., login).
    """

    _n = 0
    _lock = threading.Lock()

    def __init__(self, env, method, user, script, ssh_opts=(), extra_env=None):
        self.env, self.method, self.user = env, method, user
        env.sessions.append(self)
        with Session._lock:
            Session._n += 1
            n = Session._n
        self.script_path = f'{WORK}/scripts/{n}.sh'
        write(self.script_path, f'echo {BEGIN}\n{script}\necho "{END} $?"\n', 0o644)
        self.buf = b''
        self.cond = threading.Condition()
        self.eof = False
        self.rc = None
        self.master = None
        self.proc = None
        run = f'/bin/sh {self.script_path}'
        cenv = dict(os.environ, **(extra_env or {}))
        if method == 'login':
            self._start_login(cenv)
            return
        if method in ('ssh', 'ssh-tty'):
            argv = env.ssh_argv(user, tty=(method == 'ssh-tty'), opts=ssh_opts) + [run]
        elif method == 'su':
            argv = ['su', '-l', user, '-c', run]
        elif method == 'runuser':
            argv = ['runuser', '-l', user, '-c', run]
        elif method == 'sudo':
            argv = ['sudo', '-i', '-u', user, '--', '/bin/sh', self.script_path]
        else:
            raise ValueError(method)
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, cwd='/', env=cenv,
                                     start_new_session=True)
        self._out = self.proc.stdout.fileno()
        threading.Thread(target=self._reader, daemon=True).start()

    def _start_login(self, cenv):
        self.argv = ['login', '-f', self.user]
        pid, master = pty.fork()
        if pid == 0:
            try:
                os.chdir('/')
                os.execve('/bin/login', self.argv, {'TERM': 'dumb', 'PATH': cenv['PATH']})
            finally:
                os._exit(127)
        self.login_pid, self.master, self._out = pid, master, master
        threading.Thread(target=self._reader, daemon=True).start()
        # Type the command once the shell prompts (login may flush early input).
        if self.wait_for_bytes([b'$ ', b'# '], timeout=15):
            os.write(master, f'exec /bin/sh {self.script_path}\n'.encode())

    def _reader(self):
        while True:
            try:
                data = os.read(self._out, 65536)
            except OSError:  # EIO: no process has the pty's other side open
                data = b''
                # util-linux login (Debian 13) closes the terminal, vhangup()s it and
                # opens it again: EIO for a moment while login still runs.
                if self.master is not None and self._login_running():
                    time.sleep(0.05)
                    continue
            with self.cond:
                if not data:
                    self.eof = True
                    self.cond.notify_all()
                    return
                self.buf += data
                self.cond.notify_all()

    def _login_running(self):
        """The login process has not exited (it is not reaped here: wait() does that)."""
        try:
            return os.waitid(os.P_PID, self.login_pid,
                             os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except ChildProcessError:
            return False

    def wait_for_bytes(self, needles, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(n in self.buf for n in needles):
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def wait_held(self, timeout=20):
        """True once the script reached HOLD (the session is up and waiting)."""
        return self.wait_for_bytes([f'\n{HELD}'.encode()], timeout)

    def send(self, text):
        data = text.encode()
        try:
            if self.master is not None:
                os.write(self.master, data)
            else:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
        except OSError:
            pass

    def release(self):
        self.send('\n')

    def close_stdin(self):
        """EOF on the script's stdin (not for login, whose stdin is the pty)."""
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def wait(self, timeout=30):
        """Wait for the login to end; returns its exit status (None on timeout: killed)."""
        deadline = time.monotonic() + timeout
        if self.master is not None:
            while True:
                wpid, status = os.waitpid(self.login_pid, os.WNOHANG)
                if wpid:
                    self.rc = os.waitstatus_to_exitcode(status)
                    break
                if time.monotonic() > deadline:
                    self.kill()
                    break
                time.sleep(0.02)
        else:
            try:
                self.rc = self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill()
        with self.cond:
            self.cond.wait_for(lambda: self.eof, timeout=max(0.5, deadline - time.monotonic()))
        if self.master is not None:
            os.close(self.master)
            self.master = -1
        return self.rc

    def kill(self):
        pid = self.login_pid if self.master is not None else self.proc.pid
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.master is not None:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        else:
            self.proc.wait()

    @property
    def raw(self):
        with self.cond:
            return self.buf.decode(errors='replace').replace('\r\n', '\n')

    @property
    def out(self):
        """What the script printed (between the markers)."""
        text = self.raw
        i = text.find(BEGIN + '\n')
        if i < 0:
            return ''
        text = text[i + len(BEGIN) + 1:]
        j = text.rfind(END)
        return text[:j] if j >= 0 else text

    @property
    def script_rc(self):
        m = re.search(END + r' (\d+)', self.raw)
        return int(m.group(1)) if m else None

    @property
    def ok(self):
        return self.rc == 0 and self.script_rc == 0

    def value(self, key):
        """The value of a 'key=value' line the script printed, or None."""
        m = re.search(rf'^{re.escape(key)}=(.*)$', self.out, re.M)
        return m.group(1).strip() if m else None

    def describe(self):
        return (f'{self.method} {self.user}: rc={self.rc} script_rc={self.script_rc}\n'
                + '\n'.join('      | ' + ln for ln in self.raw.splitlines()[-40:]))


# ---- the environment ----------------------------------------------------------

def visible_trees(build_dir, files, outputs=()):
    """The host paths a run needs at their own paths inside the throwaway
    host, whatever tmpfs or overlay hides them there: [(path, how)] in mount
    order (parents first). how is 'ro' for sources (this checkout, the test
    files' directories, the build's source directory), 'overlay' for the build
    directory (meson install writes its log there; the host's copy is never
    written) and 'rw' for outputs, which must survive the run."""
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    want = [(top, 'ro')] + [(os.path.dirname(os.path.abspath(f)), 'ro') for f in files]
    if build_dir:
        try:
            with open(os.path.join(build_dir, 'meson-info', 'meson-info.json')) as f:
                want.append((json.load(f)['directories']['source'], 'ro'))
        except (OSError, ValueError, KeyError):
            pass  # not a meson build: _install() says so
        want.append((build_dir, 'overlay'))
    want += [(o, 'rw') for o in outputs]
    out = []
    for path, how in want:
        # The path as given (what the code uses) and where its symlinks lead.
        for p in dict.fromkeys((os.path.abspath(path), os.path.realpath(path))):
            if os.path.exists(p) and (p, how) not in out:
                out.append((p, how))
    order = {'ro': 0, 'overlay': 1, 'rw': 2}
    return sorted(out, key=lambda e: (e[0].rstrip('/').count('/'), order[e[1]], e[0]))


class Env:
    def __init__(self, build_dir, shared, trees=()):
        self.build_dir = build_dir
        self.shared = shared
        self.trees = list(trees)  # visible_trees()
        self.installed = {}      # basename -> installed path (nscell files)
        self.install_error = None
        self.sshd = None
        self.agent = None
        self.syslog = None
        self.sessions = []       # every login started, so a failed test's are ended

    # -- setup, once per namespace
    def setup(self):
        # Held open across the mounts below, which hide the paths they name.
        tree_fds = [(path, how, os.open(path, os.O_PATH | os.O_CLOEXEC)) for path, how in self.trees]
        if self.shared:
            sh(['mount', '--make-rshared', '/'])
        sh(['ip', 'link', 'set', 'lo', 'up'])
        sh(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'nscit-run', '/run'])
        os.makedirs(WORK, 0o711)
        os.chmod(WORK, 0o711)
        for d in ('/etc', '/var', '/root', '/usr/local'):
            name = d.strip('/').replace('/', '-')
            up, wk = f'{WORK}/overlay/{name}/upper', f'{WORK}/overlay/{name}/work'
            os.makedirs(up)
            os.makedirs(wk)
            sh(['mount', '-t', 'overlay', f'nscit-{name}', '-o',
                f'lowerdir={d},upperdir={up},workdir={wk}', d])
        for d, mode in (('/home', '0755'), ('/tmp', '1777'), ('/var/tmp', '1777')):
            sh(['mount', '-t', 'tmpfs', '-o', f'mode={mode}', 'nscit' + d.replace('/', '-'), d])
        self._setup_dev()
        self._show_trees(tree_fds)
        for d, mode in (('/run/sshd', 0o755), ('/run/lock', 0o1777), (f'{WORK}/scripts', 0o755),
                        (f'{WORK}/ssh', 0o700), (f'{WORK}/pam.d.orig', 0o755)):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, mode)
        write('/run/utmp', '', 0o664, 0, 43)
        self.syslog = Syslog('/dev/log', f'{WORK}/syslog.log')
        for s in PAM_SERVICES:
            shutil.copy(f'/etc/pam.d/{s}', f'{WORK}/pam.d.orig/{s}')
        self._setup_users()
        self._setup_policy_dir()
        self._install()
        self._setup_ssh()
        threading.Thread(target=self._echo_server, daemon=True).start()
        self.host_pidns = os.readlink('/proc/self/ns/pid')
        self.host_mntns = os.readlink('/proc/self/ns/mnt')
        self.baseline_mounts = mount_points()

    def _setup_dev(self):
        # Device nodes are made, not bound: a tmpfs straight over /dev.
        dev = '/dev'
        sh(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'nscit-dev', dev])
        for name, major, minor, mode in (('null', 1, 3, 0o666), ('zero', 1, 5, 0o666),
                                         ('full', 1, 7, 0o666), ('random', 1, 8, 0o666),
                                         ('urandom', 1, 9, 0o666), ('tty', 5, 0, 0o666)):
            os.mknod(f'{dev}/{name}', mode | 0o020000, os.makedev(major, minor))
            os.chmod(f'{dev}/{name}', mode)
        for d in ('pts', 'shm'):
            os.mkdir(f'{dev}/{d}')
        for name, target in (('ptmx', 'pts/ptmx'), ('fd', '/proc/self/fd'),
                             ('stdin', '/proc/self/fd/0'), ('stdout', '/proc/self/fd/1'),
                             ('stderr', '/proc/self/fd/2')):
            os.symlink(target, f'{dev}/{name}')
        sh(['mount', '-t', 'devpts', '-o', 'newinstance,ptmxmode=0666,mode=0620,gid=5',
            'nscit-devpts', '/dev/pts'])
        sh(['mount', '-t', 'tmpfs', '-o', 'mode=1777', 'nscit-shm', '/dev/shm'])

    def _show_trees(self, tree_fds):
        """Mount each tree (opened before anything was hidden) back at its own
        path, on top of the private /tmp, /home, /run or overlay."""
        for i, (path, how, fd) in enumerate(tree_fds):
            is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
            src = f'/proc/self/fd/{fd}'
            if how == 'overlay':
                lower = f'{WORK}/trees/{i}'
                os.makedirs(lower)
                self._bind(fd, src, lower, ro=True)
                up, wk = f'{WORK}/overlay/tree-{i}/upper', f'{WORK}/overlay/tree-{i}/work'
                os.makedirs(up)
                os.makedirs(wk)
                self._mkpoint(path, True)
                sh(['mount', '-t', 'overlay', f'nscit-tree-{i}', '-o',
                    f'lowerdir={lower},upperdir={up},workdir={wk}', path])
            else:
                self._mkpoint(path, is_dir)
                self._bind(fd, src, path, ro=(how == 'ro'))
            os.close(fd)

    @staticmethod
    def _bind(fd, src, target, ro):
        # --no-canonicalize: mount(2) resolves /proc/self/fd/N to the opened
        # directory; its path name would lead into the tmpfs now on top.
        sh(['mount', '--no-canonicalize', '--bind'] + (['-o', 'ro'] if ro else []) + [src, target],
           pass_fds=[fd])

    @staticmethod
    def _mkpoint(path, is_dir):
        if os.path.lexists(path):
            return
        if is_dir:
            os.makedirs(path, 0o755)
        else:
            os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))

    def _setup_users(self):
        for name, uid in USERS.items():
            self.add_user(name, uid)
        for name, (gid, members) in GROUPS.items():
            append('/etc/group', f'{name}:x:{gid}:{",".join(members)}\n')
            append('/etc/gshadow', f'{name}:!::{",".join(members)}\n')

    def add_user(self, name, uid):
        """A user with a group of its own and a home under the private /home
        (lines appended to the private copies: useradd would rename the files)."""
        append('/etc/passwd', f'{name}:x:{uid}:{uid}:nscell test user:/home/{name}:/bin/bash\n')
        append('/etc/shadow', f'{name}:*:19000:0:99999:7:::\n')
        append('/etc/group', f'{name}:x:{uid}:\n')
        append('/etc/gshadow', f'{name}:!::\n')
        home = f'/home/{name}'
        os.makedirs(f'{home}/.ssh')
        write(f'{home}/.hushlogin', '', 0o644, uid, uid)
        for d in (home, f'{home}/.ssh'):
            os.chown(d, uid, uid)
        os.chmod(home, 0o755)
        os.chmod(f'{home}/.ssh', 0o700)
        if os.path.exists(f'{WORK}/ssh/id.pub'):
            self._authorize(home, uid)

    def _authorize(self, home, uid):
        with open(f'{WORK}/ssh/id.pub') as f:
            write(f'{home}/.ssh/authorized_keys', f.read(), 0o600, uid, uid)

    def _setup_policy_dir(self):
        os.makedirs('/etc/security/nscell.conf.d', exist_ok=True)
        for f in os.listdir('/etc/security/nscell.conf.d'):
            os.unlink(f'/etc/security/nscell.conf.d/{f}')
        write('/etc/security/nscell.conf', '', 0o644)

    def _install(self):
        """meson install into a staging dir, check every path is under /usr/local,
        copy it into the /usr/local overlay. (A plain install would also run
        ldconfig, which writes the host's /etc/ld.so.cache.)"""
        if not self.build_dir:
            self.install_error = 'NSCELL_BUILD_DIR is not set'
            return
        stage = f'{WORK}/stage'
        r = sh(['meson', 'install', '--no-rebuild', '--quiet', '-C', self.build_dir,
                '--destdir', stage], check=False)
        if r.returncode != 0:
            self.install_error = f'meson install failed: {(r.stdout + r.stderr).strip()[-2000:]}'
            return
        for root, _dirs, files in os.walk(stage):
            for f in files:
                path = os.path.join(root, f)[len(stage):]
                if not path.startswith('/usr/local/'):
                    self.install_error = f'meson install wants to write outside /usr/local: {path}'
                    return
                self.installed[f] = path
        sh(['cp', '-a', f'{stage}/usr/local/.', '/usr/local/'])
        for f in ('pam_nscell.so', 'nscell-open', 'nscell-run-helper', 'nscell-init'):
            if f not in self.installed:
                self.installed.clear()
                self.install_error = f'the build does not install {f}'
                return

    @property
    def module(self):
        return self.installed.get('pam_nscell.so')

    @property
    def open_helper(self):
        """nscell-open: the open verb, root-only, no setuid bit."""
        return self.installed.get('nscell-open')

    @property
    def run_helper(self):
        """nscell-run-helper: the run verb, setuid root."""
        return self.installed.get('nscell-run-helper')

    def _setup_ssh(self):
        d = f'{WORK}/ssh'
        sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'nscit-host', '-f', f'{d}/host'])
        sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'nscit-client', '-f', f'{d}/id'])
        sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'nscit-agent-key', '-f', f'{d}/agent_id'])
        with open(f'{d}/host.pub') as f:
            write(f'{d}/known_hosts', f'{SSH_HOST} {f.read()}', 0o644)
        for name, uid in list(USERS.items()) + [('root', 0)]:
            home = '/root' if uid == 0 else f'/home/{name}'
            os.makedirs(f'{home}/.ssh', exist_ok=True)
            self._authorize(home, uid)
        write(f'{d}/sshd_config', f"""\
Port {SSH_PORT}
ListenAddress 127.0.0.1
HostKey {d}/host
PidFile none
UsePAM yes
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes yes
AuthorizedKeysFile .ssh/authorized_keys
Subsystem sftp /usr/lib/openssh/sftp-server
AllowAgentForwarding yes
AllowTcpForwarding yes
X11Forwarding no
PrintMotd no
PrintLastLog no
UseDNS no
LogLevel VERBOSE
MaxStartups 100:30:200
MaxSessions 20
AcceptEnv NSCIT_*
""", 0o644)
        write(f'{d}/ssh_config', f"""\
Host {SSH_HOST}
  HostName 127.0.0.1
  Port {SSH_PORT}
  HostKeyAlias {SSH_HOST}
  UserKnownHostsFile {d}/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  IdentitiesOnly yes
  IdentityFile {d}/id
  LogLevel ERROR
  ConnectTimeout 10
  ServerAliveInterval 5
""", 0o644)
        self.sshd_log = open(f'{WORK}/sshd.log', 'ab')
        self.sshd = subprocess.Popen(['/usr/sbin/sshd', '-D', '-e', '-f', f'{d}/sshd_config'],
                                     stdin=subprocess.DEVNULL, stdout=self.sshd_log,
                                     stderr=self.sshd_log)

        def listening():
            try:
                socket.create_connection(('127.0.0.1', SSH_PORT), timeout=1).close()
                return True
            except OSError:
                return self.sshd.poll() is not None
        poll(listening, timeout=10)
        if self.sshd.poll() is not None:
            raise RuntimeError(f'sshd exited {self.sshd.returncode}: {self.sshd_log_text()}')
        # An agent for `ssh -A`, holding a key of its own.
        self.agent_sock = f'{WORK}/agent.sock'
        self.agent = subprocess.Popen(['ssh-agent', '-D', '-a', self.agent_sock],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        # The socket's name appears at bind(), before listen(): wait until
        # it accepts, or ssh-add may be refused in between.
        def agent_listening():
            try:
                with socket.socket(socket.AF_UNIX) as c:
                    c.connect(self.agent_sock)
                return True
            except OSError:
                return self.agent.poll() is not None
        poll(agent_listening, timeout=5)
        sh(['ssh-add', '-q', f'{d}/agent_id'], env=dict(os.environ, SSH_AUTH_SOCK=self.agent_sock))
        self.agent_fingerprint = sh(['ssh-keygen', '-l', '-f', f'{d}/agent_id.pub']).stdout.split()[1]

    def sshd_log_text(self):
        with open(f'{WORK}/sshd.log', errors='replace') as f:
            return f.read()

    def ssh_argv(self, user, tty=False, opts=()):
        return (['ssh', '-F', f'{WORK}/ssh/ssh_config', '-l', user] + (['-tt'] if tty else ['-T'])
                + list(opts) + [SSH_HOST])

    def _echo_server(self):
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(('127.0.0.1', ECHO_PORT))
        srv.listen(16)
        while True:
            c, _ = srv.accept()

            def serve(c=c):
                with c:
                    while True:
                        data = c.recv(4096)
                        if not data:
                            return
                        c.sendall(data)
            threading.Thread(target=serve, daemon=True).start()

    # -- the knobs tests turn
    def set_policy(self, text):
        write('/etc/security/nscell.conf', text, 0o644)

    def set_pam(self, nscell=True, control='required', args='debug', restore=True,
                services=PAM_SERVICES, auth_line=False):
        """Write /etc/pam.d/SERVICE: the host's stack, with the nscell restore line
        first and the nscell line last among the session lines (or the host's
        stack unchanged with nscell=False). auth_line: also `auth optional
        MODULE ARGS` in the sshd stack, whose setcred is where an sshd session
        enters its user namespace."""
        for s in services:
            orig = self._pam_orig(s)
            if not nscell:
                write(f'/etc/pam.d/{s}', ''.join(orig), 0o644)
                continue
            other, session = [], []
            for line in orig:
                kind = self._pam_line_kind(line)
                if kind == 'session-include':
                    session += self._pam_session_lines(line.split()[2])
                elif kind == 'session':
                    session.append(line)
                else:
                    other.append(line)
            text = ''.join(other)
            text += '# nscit: nscell integration test stack: restore first, nscell last\n'
            if restore:
                text += f'session optional {self.module} restore\n'
            text += ''.join(session)
            text += f'session {control} {self.module} {args}\n'.replace(' \n', '\n')
            if auth_line and s == 'sshd':
                text += f'auth optional {self.module} {args}\n'.replace(' \n', '\n')
            write(f'/etc/pam.d/{s}', text, 0o644)

    def _pam_orig(self, service):
        path = f'{WORK}/pam.d.orig/{service}'
        if not os.path.exists(path):
            path = f'/etc/pam.d/{service}'
        with open(path) as f:
            return [ln if ln.endswith('\n') else ln + '\n' for ln in f]

    @staticmethod
    def _pam_line_kind(line):
        t = line.split('#', 1)[0].split()
        if not t:
            return 'blank'
        if t[0] == '@include':
            with open(f'/etc/pam.d/{t[1]}') as f:
                kinds = {Env._pam_line_kind(ln) for ln in f} - {'blank'}
            return 'session' if kinds == {'session'} else 'other'
        if t[0].lstrip('-') == 'session':
            if len(t) > 2 and t[1] in ('include', 'substack'):
                return 'session-include'
            return 'session'
        return 'other'

    def _pam_session_lines(self, service):
        out = []
        for line in self._pam_orig(service):
            kind = self._pam_line_kind(line)
            if kind == 'session-include':
                out += self._pam_session_lines(line.split()[2])
            elif kind == 'session':
                out.append(line)
        return out

    # -- logging in
    def login(self, method, user, script, **kw):
        return Session(self, method, user, script, **kw)

    def run(self, method, user, script, timeout=30, **kw):
        s = Session(self, method, user, script, **kw)
        s.close_stdin()
        s.wait(timeout)
        return s

    # -- cleanliness
    def infra_pids(self):
        pids = {1, os.getpid()}
        for p in (self.sshd, self.agent):
            if p is not None:
                pids.add(p.pid)
        return pids

    def leftovers(self):
        """Everything a finished login may have left behind, as readable strings."""
        out = []
        infra = self.infra_pids()
        for p in procs():
            if p.pid in infra or (p.state == 'Z' and p.ppid == os.getpid()):
                continue  # the harness's own, or its own children not yet waited for
            if UID_MIN <= p.uid <= UID_MAX:
                out.append(f'process of a test user: {p}')
            elif p.pidns != self.host_pidns or p.mntns != self.host_mntns:
                out.append(f'process in another namespace: {p}')
            elif p.comm == 'nscell-init' or p.argv[:1] == ['nscell-init']:
                out.append(f'cell init: {p}')
            elif p.state == 'Z':
                out.append(f'zombie: {p}')
        socks = [s for s in cell_sockets()]
        if socks:
            out.append(f'/run/nscell/cells not empty: {socks}')
        mounts = mount_points()
        if mounts != self.baseline_mounts:
            added = sorted(set(mounts) - set(self.baseline_mounts))
            gone = sorted(set(self.baseline_mounts) - set(mounts))
            out.append(f'harness mount table changed: +{added} -{gone}')
        return out

    def wait_clean(self, timeout=5.0):
        """Poll until nothing is left; return what is still there after timeout."""
        left = []

        def clean():
            nonlocal left
            left = self.leftovers()
            return not left
        poll(clean, timeout=timeout, interval=0.1)
        return left

    def force_clean(self):
        """Damage control between tests: kill what a failed test left behind."""
        killed = []
        for s in self.sessions:
            if s.rc is None and not s.eof:
                s.kill()
                killed.append(f'the harness side of a {s.method} login of {s.user}')
        self.sessions.clear()
        infra = self.infra_pids()
        monitors = {p.pid for p in sshd_connections(self)}
        for p in procs():
            if p.pid in infra:
                continue
            if (UID_MIN <= p.uid <= UID_MAX or p.pidns != self.host_pidns
                    or p.comm == 'nscell-init' or p.pid in monitors):
                try:
                    os.kill(p.pid, signal.SIGKILL)
                    killed.append(str(p))
                except ProcessLookupError:
                    pass
        if killed:
            poll(lambda: not self.leftovers(), timeout=5)
        return killed


# ---- the runner ---------------------------------------------------------------

class Skip(Exception):
    pass


class Abort(Exception):
    """A check that the rest of the test depends on failed."""


class T:
    """What one test checked."""

    def __init__(self, env):
        self.env = env
        self.checks = []  # (ok, what, detail)

    def check(self, ok, what, detail=''):
        self.checks.append((bool(ok), what, detail if not ok else ''))
        return bool(ok)

    def require(self, ok, what, detail=''):
        if not self.check(ok, what, detail):
            raise Abort(what)

    def eq(self, got, want, what):
        return self.check(got == want, what, f'got {got!r}, want {want!r}')

    def login_ok(self, s, what=None, require=True):
        what = what or f'{s.method} login of {s.user} succeeds'
        (self.require if require else self.check)(s.ok, what, s.describe())
        return s.ok

    def clean(self, what='after logout: no process, cell, mount or /run/nscell entry left',
              timeout=5.0):
        left = self.env.wait_clean(timeout)
        return self.check(not left, what, '\n'.join(left))

    def syslog(self, pattern, since, what, timeout=5.0):
        line = self.env.syslog.wait_for(pattern, since, timeout)
        self.check(line, what, f'no syslog line matching {pattern!r}; got:\n'
                   + '\n'.join(self.env.syslog.since(since)[-30:]))
        return line

    def skip(self, reason):
        raise Skip(reason)


TESTS = []


def test(name, nscell=True):
    """Register a test. nscell=False: it needs only the harness, not a build."""
    def deco(fn):
        TESTS.append((name, fn, nscell))
        return fn
    return deco


def run_tests(env, names, only=None):
    """Run the registered tests of the given files; returns (passed, failed, skipped)."""
    passed = failed = skipped = 0
    for name, fn, needs in TESTS:
        if only and not any(o in name for o in only):
            continue
        t = T(env)
        start = time.monotonic()
        result, reason = 'PASS', ''
        try:
            if needs and env.install_error:
                # The run is root's (run-in-ns refuses otherwise): a build it
                # cannot reach is a failure, never a skip.
                raise Abort(f'the nscell build under test is not installed: {env.install_error}')
            if needs:
                env.set_pam(nscell=True)
                env.set_policy(DEFAULT_POLICY)
            else:
                env.set_pam(nscell=False)
            fn(t)
            if any(not ok for ok, _, _ in t.checks):
                result = 'FAIL'
            elif not t.checks:
                result, reason = 'FAIL', 'the test checked nothing'
        except Skip as e:
            # The harness runs only as root, and a root run that did not
            # test something has not passed: what a test needs (a tool, a
            # kernel feature) is for tools/install-deps or the machine to give.
            result, reason = 'FAIL', f'could not be tested here, which fails a root run: {e}'
        except Abort as e:
            result = 'FAIL'
            if not t.checks:
                reason = str(e)
        except Exception:
            result, reason = 'FAIL', traceback.format_exc()
        took = time.monotonic() - start
        log(f'--- {name}')
        for ok, what, detail in t.checks:
            log(f'    {"ok  " if ok else "FAIL"} {what}')
            if detail:
                log('\n'.join('         ' + ln for ln in str(detail).splitlines()))
        if reason:
            log('\n'.join('    ' + ln for ln in reason.rstrip().splitlines()))
        log(f'{result} {name} ({took:.1f}s)')
        if result == 'PASS':
            passed += 1
        elif result == 'SKIP':
            skipped += 1
        else:
            failed += 1
        killed = env.force_clean()
        if killed:
            log(f'    (between tests: killed {len(killed)} leftover processes)')
    return passed, failed, skipped


def policy(scope='session', logout='kill', drain_limit=None, extra='', matches=()):
    """Policy text. matches: (criteria, body) pairs, e.g. ('User nscit-x', 'Isolate no')."""
    text = f'Isolate yes\nScope {scope}\nLogout {logout}\n'
    if drain_limit:
        text += f'DrainLimit {drain_limit}\n'
    text += extra
    for crit, body in matches:
        text += f'\nMatch {crit}\n' + ''.join(f'    {ln}\n' for ln in body.splitlines())
    return text


# Every nscell test starts from this: isolate everyone, one cell per session,
# kill leftovers at logout; nscit-x is exempt.
DEFAULT_POLICY = policy(matches=[('User nscit-x', 'Isolate no')])


# ---- checks shared by the harness self-test and the nscell tests ---------------

# Prints what a user in the session sees, as key=value lines and "ps: " lines.
PROBE = r'''
echo "user=$(id -un)"
echo "shell_pid=$$"
echo "pidns=$(readlink /proc/self/ns/pid)"
echo "mntns=$(readlink /proc/self/ns/mnt)"
echo "init=$(tr '\0' '|' < /proc/1/cmdline)"
echo "tmpdev=$(stat -c %d /tmp) $(stat -c %d /var/tmp) $(stat -c %d /dev/shm)"
echo "tty=$(tty)"
echo "home=$HOME"
echo "pwd=$(pwd)"
ps -eo pid=,ppid=,uid=,stat=,args= | sed 's/^ */ps: /'
'''


def ps_lines(s):
    """[(pid, ppid, uid, stat, args)] from a PROBE's ps output."""
    out = []
    for ln in s.out.splitlines():
        if ln.startswith('ps: '):
            f = ln[4:].split(None, 4)
            out.append((int(f[0]), int(f[1]), int(f[2]), f[3], f[4] if len(f) > 4 else ''))
    return out


def host_pid_of(s):
    """The harness-side pid of a held session's shell (found by its namespace and
    its pid there), or None."""
    want_ns, want_pid = s.value('pidns'), s.value('shell_pid')
    if not want_pid:
        return None
    for p in procs():
        if p.pidns == want_ns and p.nspid[-1] == int(want_pid) and UID_MIN <= p.uid <= UID_MAX:
            return p
    return None


def login_root_pid(env, s):
    """The harness-side process the login hangs off: sshd's listener or the
    su/runuser/sudo/login process started by the harness."""
    if s.method in ('ssh', 'ssh-tty'):
        return env.sshd.pid
    return s.login_pid if s.method == 'login' else s.proc.pid


def sshd_connections(env):
    """The listener's children: one privileged monitor per connection, where PAM
    runs. Found by parentage, not by title: Debian 12's sshd re-executes itself
    ("sshd: USER [priv]"), Debian 13's runs /usr/lib/openssh/sshd-session
    ("sshd-session: USER [priv]", with sshd-auth below it before authentication)."""
    if env.sshd is None:
        return []
    return [p for p in procs() if p.ppid == env.sshd.pid]


def sshd_monitor(env, s):
    """The sshd monitor that opened the PAM session of the held ssh login s:
    the listener's child above the session's shell, or None."""
    shell = host_pid_of(s)
    if shell is None:
        return None
    return next((p for p in ancestors(shell.pid) if p.ppid == env.sshd.pid), None)


def ancestors(pid):
    chain = []
    while pid > 1:
        p = proc(pid)
        if p is None:
            break
        chain.append(p)
        pid = p.ppid
    return chain


def check_login_works(t, env, method, user, expect_cell):
    """A PROBE login through `method`: the user is who they should be, in the
    right namespace. Returns the finished session."""
    s = env.run(method, user, PROBE)
    t.login_ok(s, f'{method}: {user} logs in and runs a command')
    t.eq(s.value('user'), user, f'{method}: id -un is {user}')
    t.eq(s.value('home'), f'/home/{user}', f'{method}: a login environment ($HOME)')
    if expect_cell:
        t.check(s.value('pidns') != env.host_pidns,
                f'{method}: the session is in a pid namespace other than the harness\'s',
                f'session {s.value("pidns")}, harness {env.host_pidns}')
    else:
        t.eq(s.value('pidns'), env.host_pidns, f'{method}: the session is in the harness\'s pid namespace')
        t.eq(s.value('mntns'), env.host_mntns, f'{method}: the session is in the harness\'s mount namespace')
    return s


def check_ssh_features(t, env, user, expect_cell):
    """sftp, ControlMaster multiplexing, agent forwarding and -L forwarding."""
    where = 'in a cell' if expect_cell else 'in the harness\'s namespaces'

    def placed(s, what):
        if expect_cell:
            t.check(re.match(r'^nscell-init\|' + CELL_ID_RE + r'\|$', s.value('init') or ''),
                    f'{what}: runs {where} (/proc/1/cmdline is nscell-init)', s.describe())
        else:
            t.eq(s.value('pidns'), env.host_pidns, f'{what}: runs {where}')

    # sftp: put, get back, and a file put into /tmp lands where the session's /tmp is.
    src = f'{WORK}/sftp-src'
    payload = os.urandom(200000)
    with open(src, 'wb') as f:
        f.write(payload)
    os.chmod(src, 0o644)
    batch = f'{WORK}/sftp-batch'
    write(batch, f'put {src} sftp-file\nput {src} /tmp/nscit-sftp-file\nget sftp-file {WORK}/sftp-back\n'
          f'ls -l /proc/1/cmdline\n', 0o644)
    r = sh(['sftp', '-F', f'{WORK}/ssh/ssh_config', '-b', batch, f'{user}@{SSH_HOST}'], check=False)
    t.check(r.returncode == 0, 'sftp: put and get succeed', r.stdout + r.stderr)
    back = open(f'{WORK}/sftp-back', 'rb').read() if os.path.exists(f'{WORK}/sftp-back') else b''
    t.check(back == payload, 'sftp: the file comes back byte for byte')
    t.check(os.path.exists(f'/home/{user}/sftp-file'), 'sftp: the file is in the user\'s home')
    if expect_cell:
        t.check(not os.path.exists('/tmp/nscit-sftp-file'),
                'sftp: a file put into /tmp went to the cell\'s private /tmp, not the harness\'s')
    for f in (f'{WORK}/sftp-back', f'/home/{user}/sftp-file', '/tmp/nscit-sftp-file'):
        if os.path.exists(f):
            os.unlink(f)

    # Two channels over one ControlMaster connection, at the same time.
    ctl = f'{WORK}/ssh/mux-{user}'
    master = subprocess.Popen(['ssh', '-F', f'{WORK}/ssh/ssh_config', '-l', user, '-M', '-S', ctl,
                               '-N', '-o', 'ControlPersist=no', SSH_HOST],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
    t.require(poll(lambda: os.path.exists(ctl) or master.poll() is not None, 10)
              and master.poll() is None, 'mux: the ControlMaster connection is up',
              master.stdout.read().decode() if master.poll() is not None else '')
    a = env.login('ssh', user, PROBE + HOLD, ssh_opts=['-S', ctl, '-o', 'ControlMaster=no'])
    b = env.login('ssh', user, PROBE + HOLD, ssh_opts=['-S', ctl, '-o', 'ControlMaster=no'])
    both = a.wait_held() and b.wait_held()
    t.check(both, 'mux: two channels run at the same time over one connection',
            a.describe() + '\n' + b.describe())
    for s in (a, b):
        s.release()
        s.wait()
        t.login_ok(s, 'mux: a multiplexed channel logs in and exits 0', require=False)
    placed(a, 'mux')
    if expect_cell:
        t.eq(a.value('pidns'), b.value('pidns'),
             'mux: both channels of one connection (one PAM session) are in the same cell')
    sh(['ssh', '-F', f'{WORK}/ssh/ssh_config', '-l', user, '-S', ctl, '-O', 'exit', SSH_HOST], check=False)
    try:
        master.wait(10)
    except subprocess.TimeoutExpired:
        master.kill()
        master.wait()

    # Agent forwarding: the forwarded socket is made by sshd inside the session.
    s = env.run('ssh', user, PROBE + 'echo "agent_sock=$SSH_AUTH_SOCK"; ssh-add -l',
                ssh_opts=['-A'], extra_env={'SSH_AUTH_SOCK': env.agent_sock})
    t.login_ok(s, 'ssh -A: the login succeeds', require=False)
    t.check(env.agent_fingerprint in s.out, 'ssh -A: ssh-add -l inside lists the harness agent\'s key',
            s.describe())
    placed(s, 'ssh -A')
    sock = s.value('agent_sock') or ''
    if expect_cell and sock:
        t.check(not os.path.exists(sock),
                'ssh -A: the forwarded agent socket is in the cell\'s /tmp, not the harness\'s', sock)

    # -L: a TCP echo on the harness's loopback, reached through the session.
    lport = 17000 + (USERS.get(user, 0) % 1000)
    s = env.login('ssh', user, PROBE + HOLD, ssh_opts=['-L', f'127.0.0.1:{lport}:127.0.0.1:{ECHO_PORT}'])
    echoed = b''
    if s.wait_held():
        try:
            with socket.create_connection(('127.0.0.1', lport), timeout=5) as c:
                c.sendall(b'nscit-echo\n')
                c.settimeout(5)
                while not echoed.endswith(b'\n'):
                    d = c.recv(100)
                    if not d:
                        break
                    echoed += d
        except OSError as e:
            echoed = str(e).encode()
    t.eq(echoed, b'nscit-echo\n', 'ssh -L: bytes sent into the forwarded port come back from the echo')
    s.release()
    s.wait()
    placed(s, 'ssh -L')


def cell_of(s):
    """The cell id a PROBE session saw as its PID 1's argument, or None."""
    m = re.match(r'^nscell-init\|' + CELL_ID_RE + r'\|$', s.value('init') or '')
    return m.group(1) if m else None


def check_in_cell(t, s, what, scope='session'):
    """The PROBE session ran in a cell: PID 1 is `nscell-init\\0<cell-id>\\0`."""
    cell = cell_of(s)
    want = r'session-[0-9a-f]{16}' if scope == 'session' else rf'user-{USERS.get(s.user, 0)}'
    t.check(cell and re.fullmatch(want, cell),
            f'{what}: /proc/1/cmdline is nscell-init\\0{want}\\0', s.describe())
    return cell


def syslog_event(prog, event, **fields):
    """A regex for one nscell event line: authpriv, `prog[PID]: event=... k=v`."""
    rx = rf'^authpriv\.\w+ {prog}\[\d+\]: event={event}'
    for k, v in fields.items():
        rx += rf'(?= .*\b{k}={re.escape(str(v))}(\s|$))'
    return rx
