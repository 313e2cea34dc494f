# SPDX-License-Identifier: LGPL-2.1-or-later
# The admin verbs of nscell(8) against cells made by real logins: list, show,
# enter, terminate; and `nscell run`, the users' verb, through the setuid
# helper: outputs parsed and checked against what the harness sees in /proc,
# syslog lines caught, and nothing left behind.

import fcntl
import json
import os
import re
import select
import struct
import subprocess
import termios
import time

from nscelltest import (HOLD, PROBE, USERS, WORK, cell_of, check_in_cell, host_pid_of, poll,
                        policy, procs, sh, sshd_monitor, syslog_event, test)

NSCELL = '/usr/local/bin/nscell'
OPEN_HELPER = '/usr/local/libexec/nscell/nscell-open'
RUN_HELPER = '/usr/local/libexec/nscell/nscell-run-helper'
USER_POLICY = policy(scope='user', matches=[('User nscit-x', 'Isolate no')])
USER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/bin'


def nscell(*args, timeout=30):
    return sh([NSCELL, *args], check=False, timeout=timeout)


def user_argv(user, argv, nnp=False):
    """argv run as `user` without PAM (as cron or systemd --user would start it)."""
    uid = USERS[user]
    return (['setpriv', f'--reuid={uid}', f'--regid={uid}', '--init-groups']
            + (['--no-new-privs'] if nnp else []) + ['--'] + argv)


def user_env(user, extra=None):
    e = {'PATH': USER_PATH, 'HOME': f'/home/{user}', 'USER': user, 'LOGNAME': user}
    e.update(extra or {})
    return e


def as_user(user, argv, extra_env=None, nnp=False, timeout=30):
    return sh(user_argv(user, argv, nnp), check=False, env=user_env(user, extra_env), cwd='/',
              timeout=timeout)


def as_user_bg(user, argv, extra_env=None):
    return subprocess.Popen(user_argv(user, argv), env=user_env(user, extra_env), cwd='/',
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def values(text):
    """key=value lines -> dict."""
    return dict(ln.split('=', 1) for ln in text.splitlines() if '=' in ln and not ln.startswith(' '))


def listing(t, *args):
    r = nscell('list', '--json', *args)
    if r.returncode != 0:
        t.require(False, f'nscell list --json {" ".join(args)} exits 0', r.stdout + r.stderr)
    try:
        data = json.loads(r.stdout)
    except ValueError as e:
        t.require(False, 'nscell list --json prints valid JSON', f'{e}\n{r.stdout}')
    return {c['id']: c for c in data['cells']}


def cell_procs(pidns):
    """The harness's view: every process in a pid namespace."""
    return [p for p in procs() if p.pidns == pidns]


def init_of(pidns):
    inits = [p for p in cell_procs(pidns) if p.nspid[-1] == 1]
    return inits[0] if len(inits) == 1 else None


def pss(pid):
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for ln in f:
                if ln.startswith('Pss:'):
                    return int(ln.split()[1]) * 1024
    except OSError:
        pass
    return 0


# ---- list ---------------------------------------------------------------------

@test('cli: list: every cell of real logins, as an 80-column table and as JSON')
def _(t):
    env = t.env
    a = env.login('ssh', 'nscit-a', PROBE + HOLD)
    b = env.login('su', 'nscit-b', PROBE + 'sleep 1000.41 >/dev/null 2>&1 &\n' + HOLD)
    t.require(a.wait_held() and b.wait_held(), 'nscit-a (ssh) and nscit-b (su) log in and hold',
              a.describe() + '\n' + b.describe())
    ca, cb = check_in_cell(t, a, 'ssh'), check_in_cell(t, b, 'su')
    cells = listing(t)
    t.eq(sorted(cells), sorted([ca, cb]), 'list --json names exactly the two cells')
    for s, cell, user, service in ((a, ca, 'nscit-a', 'sshd'), (b, cb, 'nscit-b', 'su-l')):
        c = cells.get(cell)
        if not t.check(c, f'{cell} is listed'):
            continue
        pidns = s.value('pidns')
        init = init_of(pidns)
        inside = [p for p in cell_procs(pidns) if p.nspid[-1] != 1]
        t.eq((c['user'], c['uid'], c['scope'], c['state']), (user, USERS[user], 'session', 'active'),
             f'{cell}: user, uid, scope, state')
        t.eq(c['init_pid'], init.pid if init else None,
             f'{cell}: init_pid is the host pid of PID 1 of the session\'s pid namespace')
        t.eq(c['namespaces'], ['pid', 'mount', 'ipc'], f'{cell}: namespaces (the policy\'s defaults)')
        t.eq(c['processes'], len(inside), f'{cell}: processes = what the harness counts in its pid '
             f'namespace besides the init ({[" ".join(p.argv) for p in inside]})')
        want = sum(pss(p.pid) for p in cell_procs(pidns))
        t.check(c['memory_source'] == 'pss' and want > 0 and abs(c['memory_bytes'] - want) <= want // 5 + 65536,
                f'{cell}: memory_bytes is the Pss sum of its processes ({want} by the harness)',
                json.dumps(c))
        t.check(0 <= c['age_sec'] < 60 and c['created_usec'] > 0, f'{cell}: age_sec and created_usec')
        t.eq(c['n_sessions'], 1, f'{cell}: one session')
        sess = c['sessions'][0] if c['sessions'] else {}
        t.eq(sess.get('service'), service, f'{cell}: the session\'s service is {service}')
        opener = sshd_monitor(env, s).pid if service == 'sshd' else s.proc.pid
        t.eq(sess.get('opener_pid'), opener, f'{cell}: opener_pid is the process that opened the '
             f'PAM session ({"the sshd monitor" if service == "sshd" else "su"})')
        if service == 'sshd':
            t.eq((sess.get('tty'), sess.get('rhost')), ('ssh', '127.0.0.1'), f'{cell}: tty and rhost')

    r = nscell('list')
    lines = r.stdout.splitlines()
    t.check(r.returncode == 0 and lines and lines[0].split()[:7] ==
            ['CELL', 'USER', 'INIT', 'PROCS', 'MEM', 'AGE', 'NAMESPACES'], 'list: a table with a header',
            r.stdout + r.stderr)
    t.check(all(len(ln) <= 80 for ln in lines), 'list: every line fits in 80 columns', r.stdout)
    for cell, user in ((ca, 'nscit-a'), (cb, 'nscit-b')):
        c = cells.get(cell, {})
        row = [ln for ln in lines if ln.startswith(cell + ' ')]
        t.check(row and row[0].split()[:4] == [cell, user, str(c.get('init_pid')), str(c.get('processes'))]
                and row[0].split()[-1] == 'ipc', f'list: the row of {cell}: id, user, init pid, '
                'processes, ..., namespaces', r.stdout)
    t.check(re.search(r'^  #1 +sshd +ssh +127\.0\.0\.1 +' + str(cells.get(ca, {}).get('sessions', [{}])[0]
                                                               .get('opener_pid')) + r' ', r.stdout, re.M),
            'list: the ssh session\'s line: service, tty, host, opener pid', r.stdout)
    t.check(re.search(r'^2 cells, 2 sessions, \d+ process(es)?, [\d.]+[BKMG] \(Pss\)\.$', r.stdout, re.M),
            'list: a summary line', r.stdout)
    only = listing(t, 'nscit-b')
    t.eq(sorted(only), [cb], 'list nscit-b: only the cells of that user')
    t.eq(sorted(listing(t, ca)), [ca], f'list {ca}: only that cell')
    for s in (a, b):
        s.release()
        s.wait()
    t.clean()
    r = nscell('list')
    t.check(r.returncode == 0 and r.stdout.strip() == '0 cells, 0 sessions, 0 processes, 0B (Pss).',
            'list: with no cell, a summary saying so', r.stdout + r.stderr)
    t.eq(listing(t), {}, 'list --json: with no cell, an empty list')


@test('cli: list: a Scope user cell with two sessions')
def _(t):
    env = t.env
    env.set_policy(USER_POLICY)
    a = env.login('ssh', 'nscit-a', PROBE + HOLD)
    b = env.login('su', 'nscit-a', PROBE + HOLD)
    t.require(a.wait_held() and b.wait_held(), 'nscit-a logs in twice (ssh, su)')
    cell = check_in_cell(t, a, 'ssh', scope='user')
    c = listing(t).get(cell, {})
    t.eq((c.get('scope'), c.get('n_sessions')), ('user', 2), f'{cell}: scope user, two sessions')
    t.eq(sorted(s['service'] for s in c.get('sessions', [])), ['sshd', 'su-l'], 'the sessions\' services')
    t.eq(sorted(s['session'] for s in c.get('sessions', [])), [1, 2], 'the sessions\' numbers')
    for s in (a, b):
        s.release()
        s.wait()
    t.clean()


# ---- show ---------------------------------------------------------------------

@test('cli: show: settings, mounts, sessions and the process tree with host and cell pids')
def _(t):
    env = t.env
    s = env.login('ssh', 'nscit-a', PROBE + 'sleep 1000.42 >/dev/null 2>&1 &\necho "sleep_pid=$!"\n' + HOLD)
    t.require(s.wait_held(), 'nscit-a logs in over ssh and holds', s.describe())
    cell = check_in_cell(t, s, 'ssh')
    pidns = s.value('pidns')
    init, shell = init_of(pidns), host_pid_of(s)
    sleep = poll(lambda: [p for p in cell_procs(pidns) if p.nspid[-1] == int(s.value('sleep_pid') or 0)
                          and p.argv[:2] == ['sleep', '1000.42']])
    t.require(init and shell and sleep, 'the harness finds the init, the shell and the sleep')
    monitor = sshd_monitor(env, s)
    r = nscell('show', cell)
    out = r.stdout
    t.require(r.returncode == 0, f'show {cell} exits 0', out + r.stderr)
    t.check(out.startswith(f'{cell} - nscit-a (uid {USERS["nscit-a"]})\n'), 'show: the title line', out)
    for label, rx in (('State', r'active'), ('Scope', r'session'), ('Init', rf'{init.pid} '),
                      ('Namespaces', r'pid mount ipc'), ('Logout', r'kill'),
                      ('Sessions', r'1'), ('Memory', r'[\d.]+[BKMG] \(Pss')):
        t.check(re.search(rf'^ *{label}: {rx}', out, re.M), f'show: {label}: {rx}', out)
    t.check(re.search(rf'^ +#1 sshd, tty ssh, from 127\.0\.0\.1, opener {monitor.pid},', out, re.M),
            'show: the session line names service, tty, host and opener', out)
    for target, fstype in (('/proc', 'proc'), ('/tmp', 'tmpfs'), ('/var/tmp', 'tmpfs'),
                           ('/dev/shm', 'tmpfs'), ('/run/nscell', 'tmpfs')):
        t.check(re.search(rf'^(?: *Mounts:)? +{re.escape(target)} +{fstype} ', out, re.M),
                f'show: the cell\'s mount on {target} is {fstype}', out)
    t.check(re.search(r'^ +/run/nscell +tmpfs +ro,', out, re.M), 'show: /run/nscell is hidden read-only', out)
    t.check(re.search(r'^ +HOST-PID +CELL-PID +USER +COMMAND$', out, re.M), 'show: a process table', out)
    t.check(re.search(rf'^ +{init.pid} +1  root +nscell-init {cell}$', out, re.M),
            'show: the init with host pid and cell pid 1', out)
    for p, what in ((shell, 'the shell'), (sleep[0], 'the sleep')):
        t.check(re.search(rf'^ +{p.pid} +{p.nspid[-1]}  nscit-a +.*{re.escape(" ".join(p.argv)[:20])}',
                          out, re.M), f'show: {what}: host pid {p.pid} and cell pid {p.nspid[-1]} side by side',
                out)
    t.check(all(len(ln) <= 80 for ln in out.splitlines()), 'show: every line fits in 80 columns', out)

    r = nscell('show', 'nscit-a')
    t.check(r.returncode == 0 and r.stdout.startswith(f'{cell} - nscit-a'), 'show USER shows the user\'s cell',
            r.stdout + r.stderr)
    r = nscell('show', '--json', cell)
    data = json.loads(r.stdout) if r.returncode == 0 else {'cells': []}
    c = data['cells'][0] if data['cells'] else {}
    got = {(p['pid'], p['cell_pid']) for p in c.get('process_list', [])}
    t.check({(init.pid, 1), (shell.pid, shell.nspid[-1]), (sleep[0].pid, sleep[0].nspid[-1])} <= got,
            'show --json: process_list has host pid and cell pid of the init, the shell and the sleep',
            r.stdout + r.stderr)
    t.check(any(m['target'] == '/tmp' and m['fstype'] == 'tmpfs' for m in c.get('mounts', [])),
            'show --json: mounts has the /tmp tmpfs')
    r = nscell('show', 'session-0123456789abcdef')
    t.check(r.returncode == 1 and 'no live cell session-0123456789abcdef' in r.stderr,
            'show of a cell that does not exist: exit 1 and says so', r.stdout + r.stderr)
    r = nscell('show', 'nscit-nosuchuser')
    t.check(r.returncode == 1 and 'neither a cell id' in r.stderr, 'show of an unknown name: exit 1',
            r.stdout + r.stderr)
    s.release()
    s.wait()
    t.clean()


# ---- enter --------------------------------------------------------------------

ENTER_PROBE = ('cat /tmp/nscit-enter-marker; echo "pidns=$(readlink /proc/self/ns/pid)"; '
               'echo "mntns=$(readlink /proc/self/ns/mnt)"; echo "init=$(tr "\\0" "|" < /proc/1/cmdline)"; '
               'echo "uid=$(id -u)"; echo "groups=$(id -G)"; echo "home=$HOME"; echo "pwd=$(pwd)"; '
               'echo "path=$PATH"; echo "nnp=$(grep NoNewPrivs /proc/self/status | tr -d "\\t ")"; '
               'ps -eo pid=,args= | sed "s/^ */ps: /"')


@test('cli: enter: a command in a live cell sees its /proc and /tmp, as a session of the cell')
def _(t):
    env = t.env
    # The restrictions come from the policy for service nscell-enter.
    env.set_policy(policy(matches=[('User nscit-x', 'Isolate no'), ('Service nscell-enter', 'NoNewPrivs yes')]))
    mark = env.syslog.mark()
    s = env.login('ssh', 'nscit-a', PROBE + 'echo "secret-$$" > /tmp/nscit-enter-marker\n' + HOLD)
    t.require(s.wait_held(), 'nscit-a logs in over ssh, writes /tmp/nscit-enter-marker and holds', s.describe())
    cell = check_in_cell(t, s, 'ssh')
    r = nscell('enter', cell, '--', 'sh', '-c', ENTER_PROBE)
    v = values(r.stdout)
    t.check(r.returncode == 0, f'enter {cell} -- sh -c ... exits 0', r.stdout + r.stderr)
    t.check(f'secret-{s.value("shell_pid")}' in r.stdout, 'enter: sees the file the session put in its /tmp',
            r.stdout)
    t.check(not os.path.exists('/tmp/nscit-enter-marker'), '(the harness\'s /tmp does not have it)')
    t.eq((v.get('pidns'), v.get('mntns')), (s.value('pidns'), s.value('mntns')),
         'enter: the pid and mount namespaces are the session\'s')
    t.eq(v.get('init'), f'nscell-init|{cell}|', 'enter: /proc is the cell\'s: PID 1 is its nscell-init')
    t.check(re.search(rf'^ps: +{s.value("shell_pid")} ', r.stdout, re.M),
            'enter: ps lists the session\'s shell by its pid in the cell', r.stdout)
    t.eq((v.get('uid'), v.get('home'), v.get('pwd'), v.get('path')),
         (str(USERS['nscit-a']), '/home/nscit-a', '/home/nscit-a', '/usr/local/bin:/usr/bin:/bin'),
         'enter: as the cell\'s user, in a clean environment, in the home directory')
    t.check(str(64100) in (v.get('groups') or '').split(), 'enter: with the user\'s groups', v.get('groups'))
    t.eq(v.get('nnp'), 'NoNewPrivs:1',
         'enter: with the restrictions the policy gives service nscell-enter (NoNewPrivs yes)')
    t.syslog(syslog_event('nscell', 'cell-entered', cell=cell, session=2, user='nscit-a', **{'as': 'user'}),
             mark, 'syslog: nscell event=cell-entered cell=... session=2 as=user')
    t.syslog(syslog_event('nscell-init', 'session-left', cell=cell, session=2, reason='close'), mark,
             'syslog: the enter session leaves with reason=close')

    r = nscell('enter', '--root', cell, '--', 'sh', '-c',
               'cat /proc/1/root/tmp/nscit-enter-marker; ls -A /tmp | sed "s/^/roottmp: /"; '
               + ENTER_PROBE)
    v = values(r.stdout)
    t.check(r.returncode == 0 and f'secret-{s.value("shell_pid")}' in r.stdout,
            'enter --root: sees the cell\'s /tmp at /proc/1/root/tmp', r.stdout + r.stderr)
    t.check(not re.search('^roottmp:', r.stdout, re.M) and 'No such file' in r.stderr,
            'enter --root: its own /tmp is empty, without the cell\'s file', r.stdout + r.stderr)
    t.eq((v.get('uid'), v.get('pidns'), v.get('init'), v.get('nnp')),
         ('0', s.value('pidns'), f'nscell-init|{cell}|', 'NoNewPrivs:0'),
         'enter --root: root, unrestricted, in the cell\'s pid namespace and /proc')
    r = nscell('enter', 'nscit-a', 'sh', '-c', 'exit 7')
    t.eq(r.returncode, 7, 'enter USER CMD: the user\'s only cell; the exit status is the command\'s')
    r = nscell('enter', cell, '--', '/nonexistent/nscit')
    t.eq(r.returncode, 127, 'enter: a command that does not exist: 127')

    # The enter session keeps the cell alive after the login has gone.
    p = subprocess.Popen([NSCELL, 'enter', cell, '--', 'sleep', '2.5'], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    ok = poll(lambda: any(x['service'] == 'nscell-enter' and x['opener_pid'] == p.pid
                          for x in listing(t).get(cell, {}).get('sessions', [])), timeout=5)
    t.check(ok, 'list: the running enter is a session of the cell (service nscell-enter, opener = nscell)')
    s.release()
    s.wait()
    t.syslog(syslog_event('nscell-init', 'session-left', cell=cell, session=1, reason='close'), mark,
             'the login leaves the cell')
    t.check(f'{cell}.sock' in os.listdir('/run/nscell/cells') and p.poll() is None,
            'while enter runs, the cell lives on without its login')
    p.wait(20)
    t.eq(p.returncode, 0, 'enter -- sleep 2.5 exits 0')
    t.clean('once enter has exited, nothing of the cell is left')
    t.syslog(syslog_event('nscell-init', 'cell-ended', cell=cell, reason='logout'), mark,
             'syslog: then the cell ends (reason=logout)')

    r = nscell('enter', 'session-0123456789abcdef', '--', 'true')
    t.check(r.returncode == 125 and 'no live cell' in r.stderr, 'enter of a cell that does not exist: 125',
            r.stdout + r.stderr)


def set_winsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))


def read_until(fd, buf, needle, timeout=60):
    """Read a pty master until `needle` is in what was read (or EOF/deadline)."""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        buf += data
    return buf


def on_terminal(argv):
    """argv on a new pty of its own (its controlling terminal), as root's
    shell would run it; returns (process, master, slave, the pty's modes
    before argv started: read afterwards, they may already be enter's raw
    mode)."""
    master, slave = os.openpty()
    set_winsize(slave, 24, 80)
    modes = termios.tcgetattr(slave)

    def ctty():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                         preexec_fn=ctty, cwd='/')
    return p, master, slave, modes


TTY_PROBE = ('echo "tty=$(tty)"; echo "sid=$(ps -o sid= -p $$ | tr -d " ") pid=$$"; '
             'echo "size=$(stty size)"; echo READY; read x; echo "size2=$(stty size)"; exit 3')


@test('cli: enter: the command gets a pty and a session of its own; root\'s terminal comes back as it was')
def _(t):
    env = t.env
    s = env.login('ssh', 'nscit-a', PROBE + HOLD)
    t.require(s.wait_held(), 'nscit-a logs in over ssh and holds', s.describe())
    cell = check_in_cell(t, s, 'ssh')

    p, master, slave, before = on_terminal([NSCELL, 'enter', cell, '--', 'sh', '-c', TTY_PROBE])
    root_tty = os.ttyname(slave)
    buf = read_until(master, b'', b'READY\r\n')
    # A new size for root's terminal while the command runs: passed on (SIGWINCH).
    set_winsize(slave, 50, 132)
    os.write(master, b'\n')
    buf = read_until(master, buf, b'size2=')
    buf = read_until(master, buf, b'\n')
    try:
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    out = buf.decode(errors='replace').replace('\r\n', '\n')
    v = values(out)
    t.check(v.get('tty', '').startswith('/dev/pts/') and v.get('tty') != root_tty,
            f'the command\'s terminal is a pty of its own, not root\'s {root_tty}', out)
    m = re.match(r'sid=(\d+) pid=(\d+)', v.get('sid', '') and 'sid=' + v['sid'])
    t.check(m and m.group(1) == m.group(2), 'the command leads a session of its own', out)
    t.eq(v.get('size'), '24 80', 'the command\'s pty starts with root\'s window size')
    t.eq(v.get('size2'), '50 132', 'a new window size of root\'s terminal reaches the command\'s pty')
    t.eq(rc, 3, 'enter exits with the command\'s status')
    after = termios.tcgetattr(slave)
    t.eq(after, before, 'root\'s terminal modes are as they were before enter (raw mode undone)')
    os.close(master)
    os.close(slave)

    # A command that ignores every signal a terminal can send: ^]^]^] still
    # gets root out, its terminal restored.
    p, master, slave, before = on_terminal([NSCELL, 'enter', cell, '--', 'sh', '-c',
                                            'trap "" HUP INT QUIT TERM TSTP; echo READY; '
                                            'while :; do sleep 1; done'])
    buf = read_until(master, b'', b'READY\r\n')
    os.write(master, b'\x03\x1c\x04')  # ^C ^\ ^D: ignored
    os.write(master, b'\x1d\x1d\x1d')
    try:
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    buf = read_until(master, buf, b'was killed', timeout=5)
    t.check(b'READY' in buf and rc == 137 and b'^]^]^] typed' in buf,
            'three ^] end a command that ignores the terminal\'s signals (exit 137, said so)',
            f'exit {rc}\n' + buf.decode(errors='replace'))
    t.eq(termios.tcgetattr(slave), before, '... and root\'s terminal is restored')
    os.close(master)
    os.close(slave)

    # SIGTERM to enter: passed on to the command; the terminal restored.
    p, master, slave, before = on_terminal([NSCELL, 'enter', cell, '--', 'sh', '-c',
                                            'echo READY; sleep 1000.72'])
    buf = read_until(master, b'', b'READY\r\n')
    raw_meanwhile = termios.tcgetattr(slave) != before
    p.terminate()
    try:
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    t.check(raw_meanwhile and rc == 143, 'SIGTERM to enter reaches the command (exit 143); the terminal '
            'was in raw mode meanwhile', f'exit {rc}\n' + buf.decode(errors='replace'))
    t.eq(termios.tcgetattr(slave), before, '... and is restored after SIGTERM')
    t.check(poll(lambda: not [x for x in procs() if x.argv[:2] == ['sleep', '1000.72']], timeout=10),
            '... and the command\'s sleep is gone')
    os.close(master)
    os.close(slave)

    # Not a terminal: pipes; EOF reaches the command; what it leaves behind
    # does not hold root's pipes open.
    r = sh([NSCELL, 'enter', cell, '--', 'sh', '-c',
            'if [ -t 0 ] || [ -t 1 ]; then echo terminal; else echo no-terminal; fi; cat; echo "sid=$(ps -o sid= -p $$ | tr -d " ") pid=$$"'],
           check=False, input='from-root\n', timeout=60)
    t.check(r.returncode == 0 and 'no-terminal' in r.stdout and 'from-root' in r.stdout,
            'stdin not a terminal: the command gets pipes, and root\'s input up to EOF', r.stdout + r.stderr)
    m = re.search(r'sid=(\d+) pid=(\d+)', r.stdout)
    t.check(m and m.group(1) == m.group(2), 'pipes: the command still leads a session of its own', r.stdout)
    try:
        r = sh([NSCELL, 'enter', cell, '--', 'sh', '-c', 'sleep 600.71 & echo started'], check=False,
               timeout=120)
        t.check(r.returncode == 0 and 'started' in r.stdout,
                'a process the command leaves behind does not keep root\'s pipes open', r.stdout + r.stderr)
    except subprocess.TimeoutExpired:
        t.check(False, 'a process the command leaves behind does not keep root\'s pipes open',
                'nscell enter did not end within 120 s')
    s.release()
    s.wait()
    t.clean(timeout=15)


@test('cli: --cell and --user name a cell or a user\'s cells unambiguously')
def _(t):
    env = t.env
    env.set_policy(USER_POLICY)
    a = env.login('ssh', 'nscit-a', PROBE + HOLD)
    b = env.login('ssh', 'nscit-b', PROBE + HOLD)
    t.require(a.wait_held() and b.wait_held(), 'nscit-a and nscit-b log in and hold', a.describe() + b.describe())
    ca, cb = check_in_cell(t, a, 'ssh', 'user'), check_in_cell(t, b, 'ssh', 'user')
    t.eq(sorted(listing(t, '--user', 'nscit-a')), [ca], 'list --user nscit-a')
    t.eq(sorted(listing(t, '--cell', cb)), [cb], f'list --cell {cb}')
    t.eq(sorted(listing(t, '--cell', cb, '--user', 'nscit-a')), sorted([ca, cb]), 'list --cell and --user together')
    r = nscell('show', '--cell', 'nscit-a')
    t.check(r.returncode == 1 and 'is not a cell id' in r.stderr, 'show --cell USER: not a cell id', r.stderr)
    r = nscell('show', '--user', ca)
    t.check(r.returncode == 1 and "no user 'user-" in r.stderr, 'show --user CELL: no such user', r.stderr)
    r = nscell('enter', '--cell', ca, '--', 'id', '-un')
    t.eq((r.returncode, r.stdout.strip()), (0, 'nscit-a'), f'enter --cell {ca} -- id -un')
    r = nscell('enter', '--user', 'nscit-b', 'id', '-un')
    t.eq((r.returncode, r.stdout.strip()), (0, 'nscit-b'), 'enter --user nscit-b id -un')
    r = nscell('terminate', '--cell', cb)
    t.check(r.returncode == 0 and f'Terminated {cb}' in r.stdout, f'terminate --cell {cb}', r.stdout + r.stderr)
    b.wait()
    a.release()
    a.wait()
    t.clean(timeout=15)


# ---- terminate ----------------------------------------------------------------

@test('cli: terminate: a cell, a user\'s cells, all cells; nothing is left')
def _(t):
    env = t.env
    mark = env.syslog.mark()
    a = env.login('ssh', 'nscit-a', PROBE + 'sleep 1000.43 >/dev/null 2>&1 &\n' + HOLD)
    b1 = env.login('su', 'nscit-b', PROBE + HOLD)
    b2 = env.login('ssh', 'nscit-b', PROBE + HOLD)
    c = env.login('runuser', 'nscit-c', PROBE + 'nohup sleep 1000.44 >/dev/null 2>&1 &\n' + HOLD)
    t.require(all(s.wait_held() for s in (a, b1, b2, c)), 'four logins of three users hold')
    ca, cb1, cb2, cc = (cell_of(s) for s in (a, b1, b2, c))
    n_a = len([p for p in cell_procs(a.value('pidns')) if p.nspid[-1] != 1])

    r = nscell('terminate', ca)
    t.check(r.returncode == 0 and r.stdout.strip() ==
            f'Terminated {ca} (user nscit-a): 1 session, {n_a} processes besides its init.',
            f'terminate {ca}: exit 0 and says what was ended ({n_a} processes)', r.stdout + r.stderr)
    t.check(a.wait(10) is not None, 'the ssh login of the terminated cell ends', a.describe())
    t.check(not cell_procs(a.value('pidns')), 'no process is left in its pid namespace')
    t.check(f'{ca}.sock' not in os.listdir('/run/nscell/cells'), 'its /run/nscell/cells entry is gone')
    t.check(not [p for p in procs() if 'sleep 1000.43' in ' '.join(p.argv)], 'the sleep it ran is gone')
    t.syslog(syslog_event('nscell-init', 'cell-ended', cell=ca, reason='terminated'), mark,
             'syslog: nscell-init event=cell-ended reason=terminated')
    t.syslog(syslog_event('nscell', 'cell-terminated', cell=ca, user='nscit-a', sessions=1, processes=n_a),
             mark, 'syslog: nscell event=cell-terminated with user, sessions and processes')
    others = listing(t)
    t.eq(sorted(others), sorted([cb1, cb2, cc]), 'the other cells live on')

    r = nscell('terminate', '--user', 'nscit-b')
    t.check(r.returncode == 0 and f'Terminated {cb1} (user nscit-b)' in r.stdout
            and f'Terminated {cb2} (user nscit-b)' in r.stdout and '2 cells ended, 2 sessions' in r.stdout,
            'terminate --user nscit-b ends both of nscit-b\'s cells', r.stdout + r.stderr)
    for s in (b1, b2):
        t.check(s.wait(10) is not None, f'{s.method}: the login of nscit-b ends')
    t.eq(sorted(listing(t)), [cc], 'only nscit-c\'s cell is left')
    r = nscell('terminate', '--all')
    t.check(r.returncode == 0 and f'Terminated {cc} (user nscit-c): 1 session' in r.stdout,
            'terminate --all ends the last one', r.stdout + r.stderr)
    t.check(c.wait(10) is not None, 'the runuser login ends')
    t.clean('after terminate: no process, cell, mount or /run/nscell entry left')
    t.syslog(syslog_event('nscell', 'cell-terminated', cell=cc), mark, 'syslog: cell-terminated for --all')

    r = nscell('terminate', ca)
    t.check(r.returncode == 1 and f'no live cell {ca}' in r.stderr, 'terminate of an ended cell: exit 1',
            r.stdout + r.stderr)
    r = nscell('terminate', '--all')
    t.check(r.returncode == 0 and 'No cell to terminate.' in r.stdout, 'terminate --all without cells: 0')
    r = nscell('terminate')
    t.eq(r.returncode, 2, 'terminate without a target is a usage error')
    r = nscell('terminate', '--all', ca)
    t.eq(r.returncode, 2, 'terminate --all with a target is a usage error')


# ---- run ------------------------------------------------------------------------

RUN_PROBE = ('echo "init=$(tr "\\0" "|" < /proc/1/cmdline)"; echo "pidns=$(readlink /proc/self/ns/pid)"; '
             'echo "uid=$(id -u)"; echo "gid=$(id -g)"; echo "groups=$(id -G)"; echo "pwd=$(pwd)"; '
             'echo "umask=$(umask)"; echo "tmpfs=$(stat -f -c %T /tmp)"; '
             'echo "nnp=$(grep NoNewPrivs /proc/self/status | tr -d "\\t ")"')


@test('cli: run: a user\'s command runs in their own user cell, as them, with a clean environment')
def _(t):
    env = t.env
    # Scope user and the restrictions come from the policy for service nscell-run.
    env.set_policy(policy(matches=[('User nscit-x', 'Isolate no'),
                                   ('Service nscell-run', 'Scope user\nNoNewPrivs yes')]))
    mark = env.syslog.mark()
    uid = USERS['nscit-a']
    r = as_user('nscit-a', [NSCELL, 'run', '--', 'sh', '-c', RUN_PROBE])
    v = values(r.stdout)
    t.check(r.returncode == 0, 'nscit-a: nscell run -- sh -c ... exits 0', r.stdout + r.stderr)
    t.eq(v.get('init'), f'nscell-init|user-{uid}|', 'run: PID 1 is the init of user-UID')
    t.check(v.get('pidns') and v.get('pidns') != env.host_pidns, 'run: a pid namespace other than the harness\'s')
    t.eq((v.get('uid'), v.get('gid'), v.get('pwd')), (str(uid), str(uid), f'/home/nscit-a'),
         'run: as the user and the user\'s group, in the home directory')
    t.check('64100' in (v.get('groups') or '').split(), 'run: with the user\'s supplementary groups',
            v.get('groups'))
    t.eq(v.get('tmpfs'), 'tmpfs', 'run: the cell\'s private /tmp')
    t.eq(v.get('nnp'), 'NoNewPrivs:1', 'run: the restrictions the policy gives service nscell-run (NoNewPrivs yes)')
    t.syslog(syslog_event('nscell-run-helper', 'cell-created', cell=f'user-{uid}', user='nscit-a',
                          service='nscell-run', scope='user'), mark,
             'syslog: nscell-run-helper event=cell-created service=nscell-run')
    t.syslog(syslog_event('nscell-init', 'session-joined', cell=f'user-{uid}', service='nscell-run'),
             mark, 'syslog: nscell-init event=session-joined service=nscell-run')
    t.syslog(syslog_event('nscell-run-helper', 'run-exited', cell=f'user-{uid}', user='nscit-a', status=0),
             mark, 'syslog: nscell-run-helper event=run-exited status=0')
    t.clean('after the command, the cell it made is gone (Logout kill, no other session)')
    t.syslog(syslog_event('nscell-init', 'cell-ended', cell=f'user-{uid}', reason='logout'), mark,
             'syslog: nscell-init event=cell-ended')

    r = as_user('nscit-a', [NSCELL, 'run', '/usr/bin/env'],
                extra_env={'TERM': 'xterm-256color', 'LANG': 'C.UTF-8', 'NSCIT_SECRET': 'x',
                           'LD_PRELOAD': '/tmp/evil.so'})
    got = dict(ln.split('=', 1) for ln in r.stdout.splitlines() if '=' in ln)
    t.eq(got, {'HOME': '/home/nscit-a', 'USER': 'nscit-a', 'LOGNAME': 'nscit-a', 'SHELL': '/bin/bash',
               'PATH': '/usr/local/bin:/usr/bin:/bin', 'TERM': 'xterm-256color', 'LANG': 'C.UTF-8'},
         'run env: exactly HOME, USER, LOGNAME, SHELL, the fixed PATH, TERM and LANG')
    r = as_user('nscit-a', [NSCELL, 'run', '--', '/usr/bin/env'],
                extra_env={'TERM': 'bad term', 'LANG': 'x' * 100})
    got = dict(ln.split('=', 1) for ln in r.stdout.splitlines() if '=' in ln)
    t.check('TERM' not in got and 'LANG' not in got, 'run: a TERM with a space and a 100-byte LANG are dropped',
            r.stdout)
    r = as_user('nscit-a', [NSCELL, 'run', '--', 'sh', '-c', 'exit 7'])
    t.eq(r.returncode, 7, 'run: the exit status is the command\'s')
    r = as_user('nscit-a', [NSCELL, 'run', '--', 'sh', '-c', 'kill -TERM $$'])
    t.eq(r.returncode, 128 + 15, 'run: a command killed by SIGTERM: 143')
    r = as_user('nscit-a', [NSCELL, 'run', '--', '/nonexistent/nscit'])
    t.check(r.returncode == 127 and '/nonexistent/nscit' in r.stderr, 'run: a command that does not exist: 127',
            r.stdout + r.stderr)
    r = as_user('nscit-a', [NSCELL, 'run'])
    t.eq(r.returncode, 2, 'run without a command is a usage error')
    t.clean()


@test('cli: run joins the user\'s own cell and can reach no other user\'s')
def _(t):
    env = t.env
    env.set_policy(USER_POLICY)
    mark = env.syslog.mark()
    ua, ub = USERS['nscit-a'], USERS['nscit-b']
    a = env.login('ssh', 'nscit-a', PROBE + HOLD)
    b = env.login('ssh', 'nscit-b', PROBE + HOLD)
    t.require(a.wait_held() and b.wait_held(), 'nscit-a and nscit-b log in over ssh (Scope user)')
    t.eq((cell_of(a), cell_of(b)), (f'user-{ua}', f'user-{ub}'), 'each in their user cell')
    # Everything a caller controls points at nscit-b; the cell follows the real uid.
    lie = {'USER': 'nscit-b', 'LOGNAME': 'nscit-b', 'HOME': '/home/nscit-b'}
    p = as_user_bg('nscit-a', [NSCELL, 'run', '--', 'sh', '-c',
                               'echo "pidns=$(readlink /proc/self/ns/pid)"; echo "user=$(id -un)"; sleep 2'],
                   extra_env=lie)

    def running():
        return any(s['service'] == 'nscell-run' for s in listing(t).get(f'user-{ua}', {}).get('sessions', []))
    t.check(poll(running, timeout=5),
            'while it runs, the run is a session of user-UID of nscit-a (service nscell-run)')
    now = listing(t)
    runs = [s for s in now.get(f'user-{ua}', {}).get('sessions', []) if s['service'] == 'nscell-run']
    t.eq([s['opener_pid'] for s in runs], [p.pid], '... whose opener is the nscell run process itself')
    t.eq([s['service'] for s in now.get(f'user-{ub}', {}).get('sessions', [])], ['sshd'],
         'nscit-b\'s cell has only nscit-b\'s ssh session')
    out, err = p.communicate(timeout=20)
    v = values(out)
    t.check(p.returncode == 0, 'nscit-a\'s run exits 0', out + err)
    t.eq(v.get('pidns'), a.value('pidns'), 'run as nscit-a is in the pid namespace of nscit-a\'s login')
    t.check(v.get('pidns') != b.value('pidns'), '... and not in nscit-b\'s')
    t.eq(v.get('user'), 'nscit-a', '... as nscit-a, whatever USER and LOGNAME said')
    t.check(not env.syslog.find_all(rf'event=session-joined cell=user-{ub} .*service=nscell-run', mark),
            'syslog: no nscell-run session ever joined nscit-b\'s cell')

    # The helpers by hand, as nscit-a: every other way in is refused.
    st = os.stat(OPEN_HELPER)
    t.check(not st.st_mode & 0o6000 and st.st_uid == 0,
            'nscell-open is root\'s and has neither a setuid nor a setgid bit', oct(st.st_mode))
    r = as_user('nscit-a', [OPEN_HELPER, 'open'])
    t.check(r.returncode == 6 and 'not started by root' in r.stderr,
            'nscit-a running nscell-open by hand: it runs with nscit-a\'s ids and refuses (PAM_PERM_DENIED, 6)',
            r.stdout + r.stderr)
    # ... and with a request socket of its own on fd 3, as pam_nscell would pass one.
    fake = ('import os, socket, struct, subprocess, sys\n'
            'a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n'
            'body = b"verb=open\\0user=nscit-b\\0"\n'
            'a.send(struct.pack("<IHHIi", 0x4e53434c, 16, 1, 16 + len(body), 0) + body)\n'
            'def on3():\n'
            '    os.dup2(b.fileno(), 3)\n'
            '    os.set_inheritable(3, True)\n'
            f'p = subprocess.run(["{OPEN_HELPER}", "open"], preexec_fn=on3, close_fds=False,\n'
            '                   stderr=subprocess.PIPE, text=True)\n'
            'sys.stdout.write(f"rc={p.returncode}\\n{p.stderr}")\n')
    r = as_user('nscit-a', ['python3', '-c', fake])
    t.check('rc=6' in r.stdout and 'not started by root' in r.stdout,
            'nscit-a running nscell-open with a socketpair of its own on fd 3, asking for nscit-b: refused (6)',
            r.stdout + r.stderr)
    t.syslog(rf'nscell-open\[\d+\]: event=refused uid={ua} reason="not started by root', mark,
             'syslog: nscell-open event=refused, with the caller\'s uid')
    for args, what in ((['open'], 'the open verb'),
                       ([], 'no verb'),
                       (['run', '--user', 'nscit-b', '--', 'id'], 'an option naming another user'),
                       (['run', 'id'], 'a command without --'),
                       (['run', '--'], 'no command')):
        r = as_user('nscit-a', [RUN_HELPER] + args)
        t.check(r.returncode == 125 and r.stderr.startswith('nscell run: '),
                f'nscell-run-helper with {what}: refused (125)', r.stdout + r.stderr)
    t.syslog(rf'nscell-run-helper\[\d+\]: event=refused verb=run uid={ua} reason="unknown or missing verb', mark,
             'syslog: nscell-run-helper event=refused for a verb other than run')
    t.syslog(rf'nscell-run-helper\[\d+\]: event=refused verb=run uid={ua} reason="bad arguments', mark,
             'syslog: event=refused verb=run for bad arguments')
    t.eq([s['service'] for s in listing(t).get(f'user-{ub}', {}).get('sessions', [])], ['sshd'],
         'nscit-b\'s cell still has its ssh session only')
    for s in (a, b):
        s.release()
        s.wait()
    t.clean()


@test('cli: run is refused, with the reason, when the policy gives no Scope user cell')
def _(t):
    env = t.env
    mark = env.syslog.mark()
    r = as_user('nscit-a', [NSCELL, 'run', '--', 'true'])
    t.check(r.returncode == 125 and 'Scope user' in r.stderr and 'nscit-a' in r.stderr,
            'Scope session (the default): refused with a message naming Scope user', r.stdout + r.stderr)
    t.syslog(syslog_event('nscell-run-helper', 'refused', user='nscit-a', service='nscell-run'), mark,
             'syslog: event=refused user=nscit-a service=nscell-run')
    r = as_user('nscit-x', [NSCELL, 'run', '--', 'true'])
    t.check(r.returncode == 125 and 'does not isolate' in r.stderr, 'an exempt user: refused', r.stdout + r.stderr)
    r = sh([NSCELL, 'run', '--', 'true'], check=False)
    t.check(r.returncode == 125 and 'does not isolate user root' in r.stderr, 'root (exempt): refused',
            r.stdout + r.stderr)
    env.set_policy(USER_POLICY)
    r = as_user('nscit-a', [NSCELL, 'run', '--', 'true'], nnp=True)
    t.check(r.returncode == 125 and 'not running as root' in r.stderr,
            'a caller under no_new_privs (the setuid bit does nothing): refused', r.stdout + r.stderr)
    env.set_policy('Isolate yes\nScope user\nNoSuchKey 1\n')
    r = as_user('nscit-a', [NSCELL, 'run', '--', 'true'])
    t.check(r.returncode == 125 and 'policy error' in r.stderr, 'a broken policy: refused', r.stdout + r.stderr)
    t.check(not env.syslog.find_all(r'event=cell-created', mark), 'no cell was made for any of them')
    t.clean()


@test('cli: run from inside a cell stays inside it')
def _(t):
    env = t.env
    mark = env.syslog.mark()
    inner = (f'{NSCELL} run -- sh -c \'echo "inner_pidns=$(readlink /proc/self/ns/pid)"; '
             f'echo "inner_init=$(tr "\\0" "|" < /proc/1/cmdline)"\'; echo "run_rc=$?"\n'
             f'{RUN_HELPER} run -- true; echo "helper_rc=$?"\n')
    for scope in ('session', 'user'):
        env.set_policy(policy(scope=scope, matches=[('User nscit-x', 'Isolate no')]))
        s = env.run('ssh', 'nscit-a', PROBE + inner)
        t.login_ok(s, f'Scope {scope}: nscit-a logs in over ssh and calls nscell run inside')
        cell = check_in_cell(t, s, f'Scope {scope}', scope=scope)
        t.eq((s.value('inner_pidns'), s.value('inner_init'), s.value('run_rc')),
             (s.value('pidns'), f'nscell-init|{cell}|', '0'),
             f'Scope {scope}: nscell run inside runs the command in place, in the same cell')
        t.eq(s.value('helper_rc'), '125', f'Scope {scope}: the helper\'s run verb inside a cell is refused')
        t.check('nscell run: already inside a cell' in s.raw,
                f'Scope {scope}: ... saying it is already inside a cell', s.raw)
        t.clean()
    t.syslog(rf'nscell-run-helper\[\d+\]: event=refused verb=run uid={USERS["nscit-a"]} reason="already inside a cell',
             mark, 'syslog: event=refused verb=run reason="already inside a cell ..."')
    t.eq(len(env.syslog.find_all(r'event=cell-created', mark)), 2, 'only the two logins made cells')


@test('cli: run and enter with a user namespace: the user\'s ids only, restrictions after it')
def _(t):
    env = t.env
    env.set_policy(policy(scope='user', extra='Namespaces pid mount ipc user\nDropCapabilities all\n',
                          matches=[('User nscit-x', 'Isolate no')]))
    uid = USERS['nscit-a']
    probe = ('echo "init=$(tr "\\0" "|" < /proc/1/cmdline)"; echo "uid=$(id -u)"; echo "groups=$(id -G)"; '
             'echo "uid_map=$(sed "s/^ *//; s/  */ /g" /proc/self/uid_map)"; '
             'echo "userns=$(readlink /proc/self/ns/user)"; echo "capbnd=$(grep CapBnd /proc/self/status | tr -d "\\t ")"; '
             'sleep 2')
    p = as_user_bg('nscit-a', [NSCELL, 'run', '--', 'sh', '-c', probe])
    t.check(poll(lambda: f'user-{uid}' in listing(t), timeout=5), 'run makes user-UID')
    r = nscell('enter', f'user-{uid}', '--', 'sh', '-c', probe.replace('sleep 2', 'true'))
    out, err = p.communicate(timeout=20)
    for what, text, rc in (('run', out, p.returncode), ('enter', r.stdout, r.returncode)):
        v = values(text)
        t.check(rc == 0, f'{what}: exits 0', text + err + r.stderr)
        t.eq((v.get('init'), v.get('uid'), v.get('uid_map')), (f'nscell-init|user-{uid}|', str(uid), f'{uid} {uid} 1'),
             f'{what}: in the cell, as the user, in a user namespace that maps the user\'s uid only')
        t.check(v.get('userns') and v.get('userns') != os.readlink('/proc/self/ns/user'),
                f'{what}: a user namespace other than the harness\'s', v.get('userns'))
        t.eq(v.get('capbnd'), 'CapBnd:0000000000000000',
             f'{what}: DropCapabilities all holds inside the user namespace (applied after entering it)')
        t.check('64100' in (v.get('groups') or '').split(), f'{what}: the supplementary group is mapped and kept')
    t.eq(values(out).get('userns'), values(r.stdout).get('userns'), 'run and enter share the cell\'s user namespace')
    t.clean()


@test('cli: the admin verbs need root; usage errors exit 2')
def _(t):
    for args in (['list'], ['show', 'nscit-a'], ['enter', 'nscit-a'], ['terminate', '--all']):
        r = as_user('nscit-a', [NSCELL] + args)
        t.check(r.returncode not in (0, 2) and 'must be run as root' in r.stderr,
                f'nscell {" ".join(args)} as a user: refused', r.stdout + r.stderr)
    for args in (['list', '--bogus'], ['show'], ['enter'], ['run', '--bogus', 'x']):
        r = nscell(*args)
        t.eq(r.returncode, 2, f'nscell {" ".join(args)}: exit 2')
    r = nscell('--help')
    t.check(all(v in r.stdout for v in ('list', 'show', 'enter', 'terminate', 'run')),
            'nscell --help lists the verbs', r.stdout)
