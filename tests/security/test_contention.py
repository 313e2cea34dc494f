# SPDX-License-Identifier: LGPL-2.1-or-later
# Contention between users, and what a later session of a user gets:
#  - a user holds a directory lock in their own /run/user/UID (a FUSE file
#    system in their own user+mount namespace, a page fault into it under
#    getdents, a queued mkdir) and logs in: other users' ssh and su logins come
#    up while the stall is held, another user's cell still ends at logout
#    (Logout kill), and nothing of the attacker's login is left waiting;
#  - a session whose Match block asks for other cell-level settings than the
#    user's live cell (Scope user) was made with gets its own block's /tmp,
#    hidepid and Logout, in a cell of its own, with a log line;
#  - MaxCells: the N+1-th live cell of a user is refused with a log line
#    naming the user and the count.

import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import nscelltest as nt  # noqa: E402
from nscelltest import HOLD, PROBE, USERS, cell_of, policy, syslog_event, test  # noqa: E402

ATTACKER, VICTIM, VICTIM2 = 'nscit-b', 'nscit-a', 'nscit-c'
STALL_BIN = '/tmp/nscit-stall'
# What a session reports about its /proc mount and its /tmp.
SEEN = r'''
echo "procopts=$(awk '$5 == "/proc" {print $NF}' /proc/self/mountinfo | tail -1)"
echo "tmp_dev=$(stat -c %d /tmp)"
'''


def stall_binary(env):
    src = os.path.join(env.build_dir or '', 'tests', 'security', 'nscell-test-stall')
    if not os.path.isfile(src):
        return None
    shutil.copy(src, STALL_BIN)
    os.chmod(STALL_BIN, 0o755)
    return STALL_BIN


def ensure_fuse_node():
    """The harness's /dev has no fuse node; a host with FUSE has one, 0666."""
    if not os.path.exists('/dev/fuse'):
        os.mknod('/dev/fuse', 0o666 | 0o020000, os.makedev(10, 229))
    os.chmod('/dev/fuse', 0o666)


class Stall:
    """nscell-test-stall run as `user` on their /run/user/UID, or on `path`."""

    def __init__(self, user, path=None):
        uid = USERS[user]
        self.made = path is None
        self.dir = path or f'/run/user/{uid}'
        if self.made:
            os.makedirs('/run/user', exist_ok=True)
            os.chmod('/run/user', 0o755)
            os.makedirs(self.dir, exist_ok=True)
            os.chown(self.dir, uid, uid)
            os.chmod(self.dir, 0o700)
        self.proc = subprocess.Popen(
            ['setpriv', f'--reuid={uid}', f'--regid={uid}', '--clear-groups', STALL_BIN, self.dir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd='/')
        self.line = self.proc.stdout.readline().decode(errors='replace').strip()

    @property
    def held(self):
        return self.line.startswith('STALLED') and self.proc.poll() is None

    def release(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.made:
            shutil.rmtree(self.dir, ignore_errors=True)


def sigkill_pending(pid):
    try:
        with open(f'/proc/{pid}/status') as f:
            fields = dict(ln.split(':', 1) for ln in f if ':' in ln)
    except OSError:
        return True  # gone already
    mask = int(fields.get('SigPnd', '0').strip(), 16) | int(fields.get('ShdPnd', '0').strip(), 16)
    return bool(mask & (1 << (9 - 1)))


def d_state_root_procs():
    """Root processes of nscell stuck in the kernel (state D)."""
    return [p for p in nt.procs() if p.state == 'D' and p.uid == 0]


@test('contention: a user stalling a lookup in their /run/user/UID holds up no other user\'s login')
def _(t):
    env = t.env
    if not stall_binary(env):
        t.skip('the build has no tests/security/nscell-test-stall')
    ensure_fuse_node()
    st = Stall(ATTACKER)
    try:
        if not st.held and 'fuse' in st.line.lower():
            t.skip(f'this kernel gives a user namespace no FUSE mount: {st.line}')
        t.require(st.held, f'{ATTACKER} holds the lock of {st.dir} (FUSE page fault under getdents '
                  '+ a queued mkdir)', st.line)
        # Proof that the stall is real: root's lookup of a name that is not
        # there waits (a thread, so the test does not hang with it).
        probe = subprocess.Popen(['stat', f'{st.dir}/systemd'], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        time.sleep(1)
        t.check(probe.poll() is None, f'root\'s own lookup in {st.dir} waits while the stall is held')

        mark = env.syslog.mark()
        attacker = env.login('ssh', ATTACKER, PROBE + HOLD)
        time.sleep(2)  # the attacker's helper is at the user-manager-socket step by now
        victim = env.login('ssh', VICTIM, PROBE + 'nohup sleep 1000.31 >/dev/null 2>&1 &\n' + HOLD)
        victim2 = env.login('su', VICTIM2, PROBE + HOLD)
        # Well within the module's 15 s, and long before this generous bound.
        up = victim.wait_held(timeout=60)
        up2 = victim2.wait_held(timeout=60)
        t.check(up and cell_of(victim), f'ssh {VICTIM}: in a cell while {ATTACKER}\'s stall is held',
                victim.describe())
        t.check(up2 and cell_of(victim2), f'su {VICTIM2}: in a cell while {ATTACKER}\'s stall is held',
                victim2.describe())
        t.check(st.held, 'the stall was still held then')

        # Logout kill of another user's cell is enforced meanwhile.
        vcell = cell_of(victim)
        victim.release()
        victim.close_stdin()
        victim.wait(30)
        t.check(nt.poll(lambda: not nt.find_procs('sleep 1000.31'), timeout=20),
                f'{VICTIM} logs out: the leftover sleep is killed (Logout kill) while the stall is held')
        if vcell:
            t.syslog(syslog_event('nscell-init', 'cell-ended', cell=vcell), mark,
                     f'{VICTIM}\'s cell ended while the stall is held', timeout=20)
        victim2.release()
        victim2.close_stdin()
        victim2.wait(30)

        # The attacker's own login: done (in a cell, or refused after the
        # helper's deadline), with no root process of it left waiting.
        done = attacker.wait_held(timeout=60) or attacker.eof
        t.check(done, f'{ATTACKER}\'s own login finished while the stall is held (not left waiting)',
                attacker.describe())
        t.check(nt.poll(lambda: not [p for p in nt.procs() if p.comm in nt.HELPER_COMMS], timeout=20),
                'no nscell-open is left running or stuck while the stall is held')
        stuck = [p for p in d_state_root_procs() if p.pid != probe.pid]
        t.check(not stuck, 'no root process other than the test\'s own stat is stuck in D state',
                '\n'.join(str(p) for p in stuck))
        t.check(st.held, 'the stall was held throughout')
    finally:
        st.release()
    try:
        probe.wait(20)
    except subprocess.TimeoutExpired:
        probe.kill()
    attacker.release()
    attacker.close_stdin()
    attacker.wait(30)
    t.clean(timeout=20)


@test('contention: a cell setup stalled on a directory every user can read is killed at its deadline')
def _(t):
    # Mounting on /tmp needs the lock of /tmp's inode, which any user who can
    # read /tmp can hold (the kernel offers no way around it; SECURITY.md).
    # What nscell owes: the helper gives up at its deadline with its reason,
    # holds nothing meanwhile, and leaves nothing behind.
    env = t.env
    if not stall_binary(env):
        t.skip('the build has no tests/security/nscell-test-stall')
    ensure_fuse_node()
    mark = env.syslog.mark()
    st = Stall(ATTACKER, '/tmp')
    try:
        if not st.held and 'fuse' in st.line.lower():
            t.skip(f'this kernel gives a user namespace no FUSE mount: {st.line}')
        t.require(st.held, f'{ATTACKER} holds the lock of /tmp', st.line)
        victim = env.run('ssh', VICTIM, PROBE, timeout=60)
        t.check(not victim.ok and not cell_of(victim),
                f'ssh {VICTIM}: refused (session required): its cell could not mount /tmp', victim.describe())
        t.syslog(r'nscell-open\[\d+\]: event=refused user=nscit-a .*cell setup did not finish within 5 s',
                 mark, 'syslog: the helper gave up at its deadline and said why (not the module\'s 15 s timeout)')
        t.check(not env.syslog.find_all(r'did not answer within', mark),
                'the module never had to time the helper out')
        t.check(nt.poll(lambda: not [p for p in nt.procs() if p.comm in nt.HELPER_COMMS
                                     and p.pidns == env.host_pidns], timeout=10),
                'the helper itself is gone while the stall is held')
        # Its setup child (a clone of the helper, first process of the new
        # pid namespace) cannot die inside the kernel's wait: it must have
        # been killed, so that it goes the moment the user lets go.
        stuck = [p for p in nt.procs() if p.comm in nt.HELPER_COMMS and p.pidns != env.host_pidns]
        t.check(all(sigkill_pending(p.pid) for p in stuck),
                f'the stuck setup child ({len(stuck)}) has SIGKILL pending', '\n'.join(map(str, stuck)))
        t.check(nt.poll(lambda: not nt.cell_sockets(), timeout=10),
                'the abandoned cell left no entry under /run/nscell/cells', str(nt.cell_sockets()))
        t.check(st.held, 'the stall was held throughout')
    finally:
        st.release()
    t.clean('once the user lets go: the stuck setup child is gone too, nothing is left', timeout=20)
    again = env.run('ssh', VICTIM, PROBE, timeout=60)
    t.check(again.ok and cell_of(again), f'ssh {VICTIM}: logs in again in a cell', again.describe())
    t.clean(timeout=20)


@test('contention: a session joining a user cell made under another Match block gets its own block\'s settings')
def _(t):
    env = t.env
    user = 'nscit-d'
    env.set_policy(policy(matches=[
        ('User nscit-x', 'Isolate no'),
        # A su (say, a cron-like job) makes the user's cell first.
        (f'User {user} Service su-l', 'Scope user\nTmp shared\nProcHidePid off\nLogout drain\nDrainLimit 2s'),
        (f'User {user}', 'Scope user\nTmp tmpfs\nProcHidePid invisible\nLogout kill'),
    ]))
    host_tmpdev = str(os.stat('/tmp').st_dev)
    mark = env.syslog.mark()
    first = env.login('su', user, PROBE + SEEN + HOLD)
    t.require(first.wait_held(30), f'su {user}: logs in (makes user-{USERS[user]})', first.describe())
    t.eq(cell_of(first), f'user-{USERS[user]}', 'su: in the user\'s cell')
    t.eq(first.value('tmp_dev'), host_tmpdev, 'su: its block says Tmp shared: the host\'s /tmp')

    second = env.login('ssh', user, PROBE + SEEN + 'nohup sleep 1000.32 >/dev/null 2>&1 &\n' + HOLD)
    t.require(second.wait_held(30), f'ssh {user}: logs in', second.describe())
    t.check(second.value('tmp_dev') != host_tmpdev,
            'ssh: its block says Tmp tmpfs: a /tmp of its own, not the host\'s',
            f'tmpdev {second.value("tmp_dev")}, host {host_tmpdev}')
    t.check('hidepid=invisible' in (second.value('procopts') or '') or
            'hidepid=2' in (second.value('procopts') or ''),
            'ssh: its block says ProcHidePid invisible: /proc has hidepid=invisible',
            f'/proc options: {second.value("procopts")}')
    # hidepid=invisible hides the root init from it: tell the cells apart
    # by their pid namespaces.
    t.check(second.value('pidns') not in (None, env.host_pidns, first.value('pidns')),
            'ssh: in a cell of its own, not the su session\'s',
            f'ssh {second.value("pidns")}, su {first.value("pidns")}, harness {env.host_pidns}')
    t.syslog(syslog_event('nscell-open', 'cell-created', user=user, service='sshd', scope='session'), mark,
             'syslog: event=cell-created for the ssh session, a cell of its own (scope=session)')
    t.syslog(syslog_event('nscell-open', 'cell-settings-differ', cell=f'user-{USERS[user]}', user=user,
                          action='own-cell'), mark,
             'syslog: event=cell-settings-differ ... action=own-cell, naming the settings')
    line = env.syslog.wait_for(r'event=cell-settings-differ', mark, 1) or ''
    t.check('Tmp: cell \'shared\', login \'tmpfs' in line and 'Logout: cell \'drain\', login \'kill\'' in line,
            'the log line names each differing key with both values', line)

    second.release()
    second.close_stdin()
    second.wait(30)
    t.check(nt.poll(lambda: not nt.find_procs('sleep 1000.32'), timeout=20),
            'ssh logs out: its leftover sleep is killed (its block says Logout kill) while the su session lives')
    t.check(first.ok is False and first.rc is None, 'the su session is still up meanwhile')
    first.release()
    first.close_stdin()
    first.wait(30)
    t.clean(timeout=20)


@test('contention: MaxCells refuses the N+1-th live cell of a user with a log line')
def _(t):
    env = t.env
    user = 'nscit-e'
    env.set_policy(policy(matches=[('User nscit-x', 'Isolate no'), (f'User {user}', 'MaxCells 2')]))
    r = nt.sh(['/usr/local/bin/nscell', 'check'], check=False)
    t.check(r.returncode == 0, 'nscell check accepts MaxCells 2', r.stdout + r.stderr)
    r = nt.sh(['/usr/local/bin/nscell', 'explain', user], check=False)
    t.check(re.search(r'MaxCells\s+2\b', r.stdout), 'nscell explain shows MaxCells 2', r.stdout + r.stderr)

    mark = env.syslog.mark()
    held = [env.login('ssh', user, PROBE + HOLD) for _ in range(2)]
    for i, s in enumerate(held):
        t.require(s.wait_held(30) and cell_of(s), f'cell {i + 1} of 2: ssh {user} logs in', s.describe())
    third = env.run('ssh', user, PROBE, timeout=60)
    t.check(not third.ok and not cell_of(third), f'a third ssh login of {user} is refused (session required)',
            third.describe())
    t.syslog(r'nscell-open\[\d+\]: event=refused user=nscit-e .*has 2 live cells, MaxCells is 2', mark,
             'syslog: the refusal names the user and the count')
    other = env.run('ssh', 'nscit-a', PROBE, timeout=60)
    t.check(other.ok and cell_of(other), 'another user is not counted against it')
    held[0].release()
    held[0].close_stdin()
    held[0].wait(30)
    t.check(nt.poll(lambda: len(nt.cell_sockets()) == 1, timeout=10), 'one of the two cells ended')
    again = env.run('ssh', user, PROBE, timeout=60)
    t.check(again.ok and cell_of(again), 'with one cell ended, a new login of the user is let in again',
            again.describe())
    held[1].release()
    held[1].close_stdin()
    held[1].wait(30)
    t.clean(timeout=20)
