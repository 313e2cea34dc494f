# SPDX-License-Identifier: LGPL-2.1-or-later
# A cgroup delegated to a user (as systemd delegates user@UID.service's, where
# every systemd --user unit runs) must give the user no hold on root's side of
# nscell. The attacker runs `nscell run -- sleep 60` from a unit-like cgroup of
# their own, then freezes it (cgroup.freeze) and kills it (cgroup.kill). The
# victims: another user's ssh login during the freeze, and the cell's init,
# whose registry entry must stay valid.
#
# The cgroup file system is global, not private to the harness: the test's
# cgroups get a unique name and are removed in `finally`.

import os
import secrets
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import secutil as su  # noqa: E402
import nscelltest as nt  # noqa: E402
from nscelltest import HOLD, PROBE, USERS, cell_of, check_in_cell, policy, test  # noqa: E402

ATTACKER, VICTIM = 'nscit-b', 'nscit-a'
NSCELL = '/usr/local/bin/nscell'
USER_PATH = '/usr/local/bin:/usr/bin:/bin'


def cgroup2_mount():
    with open('/proc/self/mountinfo') as f:
        for ln in f:
            pre, post = ln.split(' - ', 1)
            if post.split()[0] == 'cgroup2' and pre.split()[3] == '/':
                return pre.split()[4]
    return None


def cgroup_of(pid):
    """The cgroup v2 path of a process ('0::' line), or None if it is gone."""
    try:
        with open(f'/proc/{pid}/cgroup') as f:
            for ln in f:
                if ln.startswith('0::'):
                    return ln[3:].rstrip('\n')
    except OSError:
        return None
    return None


def as_user(user, argv, timeout=30):
    uid = USERS[user]
    return subprocess.run(['setpriv', f'--reuid={uid}', f'--regid={uid}', '--init-groups', '--'] + argv,
                          env={'PATH': USER_PATH, 'HOME': f'/home/{user}'}, cwd='/',
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def user_write(user, path, text):
    r = as_user(user, ['sh', '-c', f'printf %s {text} > {path}'])
    return r.returncode == 0, r.stderr.strip()


def delegate(cg, user):
    """What systemd does for Delegate=yes with User=: the cgroup and the files
    that let the user manage the subtree become the user's."""
    uid = USERS[user]
    os.mkdir(cg)
    for name in ('', 'cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control'):
        os.chown(os.path.join(cg, name) if name else cg, uid, uid)


def remove_cgroup(cg):
    """Thaw, kill what is left, wait until empty, remove (deepest first)."""
    if not os.path.isdir(cg):
        return
    for root, dirs, _ in sorted(os.walk(cg), key=lambda x: -x[0].count('/')):
        for name, val in (('cgroup.freeze', '0'), ('cgroup.kill', '1')):
            try:
                with open(os.path.join(root, name), 'w') as f:
                    f.write(val)
            except OSError:
                pass

        def empty(root=root):
            try:
                with open(os.path.join(root, 'cgroup.procs')) as f:
                    return not f.read().strip()
            except OSError:
                return True
        nt.poll(empty, timeout=10)
        try:
            os.rmdir(root)
        except OSError as e:
            nt.log(f'    (could not remove {root}: {e})')


@test('cgroup: a delegated cgroup cannot freeze or kill the helper or the init that nscell run makes')
def _(t):
    env = t.env
    mnt = cgroup2_mount()
    if not mnt:
        t.skip('no cgroup2 file system is mounted here, so nothing can be delegated')
    uid = USERS[ATTACKER]
    cell = f'user-{uid}'
    env.set_policy(policy(scope='user', matches=[('User nscit-x', 'Isolate no')]))
    deleg = f'{mnt}/nscit-delegated-{os.getpid()}-{secrets.token_hex(4)}'
    unit = f'{deleg}/app.service'
    rel = deleg[len(mnt):]
    unit_proc = held = None
    try:
        delegate(deleg, ATTACKER)
        # The user's own manager makes the unit's cgroup inside the delegated one.
        r = as_user(ATTACKER, ['mkdir', unit])
        t.require(r.returncode == 0, 'the user can make a cgroup in the delegated one', r.stderr)
        # The "unit": root puts it into the cgroup (as systemd does), then it is the user's.
        unit_proc = subprocess.Popen(
            ['sh', '-c', f'echo $$ > {unit}/cgroup.procs && exec setpriv --reuid={uid} --regid={uid} '
             f'--init-groups -- {NSCELL} run -- sleep 60'],
            env={'PATH': USER_PATH, 'HOME': f'/home/{ATTACKER}'}, cwd='/', stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        def started():
            inits = [p for p in su.cell_inits(nt) if p.argv[1:2] == [cell]]
            helpers = [p for p in nt.procs() if p.comm in nt.HELPER_COMMS]
            sleeps = [p for p in nt.procs() if p.argv == ['sleep', '60'] and p.uid == uid]
            return (inits[0], helpers[0], sleeps[0]) if inits and helpers and sleeps else None
        got = nt.poll(started, timeout=20)
        if not got:
            out = unit_proc.stdout.read1().decode(errors='replace') if unit_proc.poll() is not None else ''
            t.require(False, 'nscell run from the delegated cgroup starts its command in user-UID',
                      f'exit {unit_proc.poll()} {out}')
        init, helper, sleep = got
        cg = {what: cgroup_of(p.pid) for what, p in (('init', init), ('helper', helper), ('command', sleep))}
        nt.log(f'    cgroups: {cg} (delegated: {rel})')
        for what in ('helper', 'init'):
            t.check(cg[what] is not None and not (cg[what] + '/').startswith(rel + '/'),
                    f'the root {what} is not in the user\'s delegated cgroup', f'{cg[what]} under {rel}')
        t.eq(cg['command'], rel + '/app.service',
             'the command itself stays in the caller\'s cgroup (its unit accounts for it)')

        # A session of the attacker's own keeps the cell alive past the command.
        held = env.login('ssh', ATTACKER, PROBE + HOLD)
        t.require(held.wait_held(30), 'the attacker\'s ssh login comes up', held.describe())
        t.eq(cell_of(held), cell, 'the attacker\'s ssh login joins the cell nscell run made')

        ok, err = user_write(ATTACKER, f'{unit}/cgroup.freeze', '1')
        t.require(ok, 'the user writes cgroup.freeze=1 on their delegated cgroup', err)
        frozen = nt.poll(lambda: 'frozen 1' in open(f'{unit}/cgroup.events').read(), timeout=10)
        t.require(frozen, 'the user\'s cgroup is frozen (cgroup.events)')
        nt.log(f'    attack: cgroup.freeze=1 on {unit}: frozen')
        start = time.monotonic()
        v = env.run('ssh', VICTIM, PROBE, timeout=60)
        took = time.monotonic() - start
        nt.log(f'    victim: {VICTIM}\'s ssh login during the freeze: rc {v.rc}, {took:.2f} s')
        t.login_ok(v, f'during the freeze, {VICTIM}\'s ssh login succeeds', require=False)
        check_in_cell(t, v, f'during the freeze, {VICTIM}\'s login', scope='user')
        r = nt.sh([NSCELL, 'list', '--json'], check=False, timeout=60)
        t.check(r.returncode == 0 and f'"{cell}"' in r.stdout and f'"init_pid":{init.pid}' in
                r.stdout.replace(' ', ''), f'during the freeze, nscell list gets {cell}\'s status from its init',
                r.stdout + r.stderr)

        ok, err = user_write(ATTACKER, f'{unit}/cgroup.kill', '1')
        t.require(ok, 'the user writes cgroup.kill=1 on their delegated cgroup', err)
        gone = nt.poll(lambda: nt.proc(sleep.pid) is None, timeout=10)
        nt.log(f'    attack: cgroup.kill=1 on {unit}: the command {"died" if gone else "lives"}')
        t.check(gone, 'cgroup.kill ends the user\'s own command (it is theirs)')
        alive = nt.poll(lambda: nt.proc(init.pid) is not None and nt.proc(init.pid).state != 'Z', timeout=1)
        t.check(alive and nt.proc(init.pid).argv[:2] == ['nscell-init', cell],
                f'the init of {cell} survives cgroup.kill', str(nt.proc(init.pid)))
        r = nt.sh([NSCELL, 'list', '--json'], check=False, timeout=60)
        t.check(r.returncode == 0 and f'"init_pid":{init.pid}' in r.stdout.replace(' ', ''),
                f'after cgroup.kill, nscell list shows {cell} with the same init (no stale entry)',
                r.stdout + r.stderr)
        r = as_user(ATTACKER, [NSCELL, 'run', '--', 'sh', '-c',
                               'readlink /proc/self/ns/pid; tr "\\0" "|" </proc/1/cmdline'], timeout=60)
        lines = r.stdout.split()
        t.check(r.returncode == 0 and lines[:1] == [init.pidns] and lines[1:2] == [f'nscell-init|{cell}|'],
                f'a later nscell run joins the same {cell}', r.stdout + r.stderr)
        held.release()
        held.wait()
        held = None
    finally:
        if held is not None:
            held.kill()
        remove_cgroup(deleg)
        if unit_proc is not None:
            try:
                unit_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                unit_proc.kill()
                unit_proc.wait()
    t.clean(timeout=15)
    # The helper's own cgroup, once no cell is left in it (another run may
    # still use it: then it stays).
    try:
        os.rmdir(f'{mnt}/nscell')
    except OSError:
        pass


# Run by the attacker, from the delegated cgroup's "ctl" leaf: start
# `nscell run -- true` in the "app" leaf, watch /proc/locks (world-readable)
# for the helper's flock on its registry lock (RUNDIR/locks/user-UID) and freeze "app" the moment it shows.
# Each try makes a new cell (the last one ended with its command), so the
# lock is held for a whole cell creation. Prints "caught PID" (frozen with
# the lock still held, and stays frozen), or "missed N".
RACE = r"""
import os, subprocess, sys, time
app, nscell, tries = sys.argv[1], sys.argv[2], int(sys.argv[3])
def into_app():
    with open(app + '/cgroup.procs', 'w') as f:
        f.write('0')
def holds(pid):
    with open('/proc/locks') as f:
        return any(' FLOCK ' in ln and ' %d ' % pid in ln for ln in f)
for i in range(tries):
    p = subprocess.Popen([nscell, 'run', '--', 'true'], preexec_fn=into_app,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while p.poll() is None and time.monotonic() < deadline:
        if holds(p.pid):
            with open(app + '/cgroup.freeze', 'w') as f:
                f.write('1')
            t = time.monotonic() + 5
            while 'frozen 1' not in open(app + '/cgroup.events').read() and time.monotonic() < t:
                time.sleep(0.001)
            if p.poll() is None and holds(p.pid):
                print('caught: froze the cgroup while helper %d held the lock (try %d)' % (p.pid, i + 1), flush=True)
                sys.stdin.read()
                sys.exit(0)
            with open(app + '/cgroup.freeze', 'w') as f:
                f.write('0')
            break
    p.wait()
print('missed %d' % tries, flush=True)
sys.stdin.read()
"""


@test('cgroup: freezing a delegated cgroup while nscell run holds the registry lock holds up no other login')
def _(t):
    env = t.env
    mnt = cgroup2_mount()
    if not mnt:
        t.skip('no cgroup2 file system is mounted here, so nothing can be delegated')
    uid = USERS[ATTACKER]
    env.set_policy(policy(scope='user', matches=[('User nscit-x', 'Isolate no')]))
    deleg = f'{mnt}/nscit-delegated-{os.getpid()}-{secrets.token_hex(4)}'
    script = '/run/nscell-sec/cgroup-race.py'
    os.makedirs('/run/nscell-sec', exist_ok=True)
    os.chmod('/run/nscell-sec', 0o755)
    nt.write(script, RACE, 0o644)
    attacker = None
    try:
        delegate(deleg, ATTACKER)
        for leaf in ('ctl', 'app.service'):
            r = as_user(ATTACKER, ['mkdir', f'{deleg}/{leaf}'])
            t.require(r.returncode == 0, f'the user makes {leaf} in the delegated cgroup', r.stderr)
        attacker = subprocess.Popen(
            ['sh', '-c', f'echo $$ > {deleg}/ctl/cgroup.procs && exec setpriv --reuid={uid} --regid={uid} '
             f'--init-groups -- python3 {script} {deleg}/app.service {NSCELL} 100'],
            env={'PATH': USER_PATH, 'HOME': f'/home/{ATTACKER}'}, cwd='/', stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = attacker.stdout.readline().strip()
        nt.log(f'    attack: freeze while the helper holds its registry lock: {line or "no answer"}')
        t.require(line.startswith(('caught', 'missed')), 'the attacker\'s freeze loop ran', line)
        # Root's: the run verb's child becomes the user and goes back into the
        # caller's cgroup just before it executes the command.
        helpers = [p for p in nt.procs() if p.comm in nt.HELPER_COMMS and p.uid == 0]
        in_deleg = [p for p in helpers if (cgroup_of(p.pid) or '').startswith(deleg[len(mnt):] + '/')]
        t.check(not in_deleg, 'no root helper is in the user\'s (frozen) cgroup',
                '\n'.join(f'{p} cgroup={cgroup_of(p.pid)}' for p in in_deleg))
        start = time.monotonic()
        v = env.run('ssh', VICTIM, PROBE, timeout=60)
        nt.log(f'    victim: {VICTIM}\'s ssh login while the attacker\'s cgroup is frozen: rc {v.rc}, '
               f'{time.monotonic() - start:.2f} s')
        t.login_ok(v, f'{VICTIM}\'s ssh login succeeds while the attacker\'s cgroup is frozen', require=False)
        check_in_cell(t, v, f'{VICTIM}\'s login', scope='user')
        s = env.run('su', 'nscit-c', PROBE, timeout=60)
        t.login_ok(s, 'nscit-c\'s su login succeeds too', require=False)
        check_in_cell(t, s, 'nscit-c\'s su login', scope='user')
    finally:
        remove_cgroup(deleg)
        if attacker is not None:
            attacker.stdin.close()
            try:
                attacker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                attacker.kill()
                attacker.wait()
        os.unlink(script)
    t.clean(timeout=15)
    try:
        os.rmdir(f'{mnt}/nscell')
    except OSError:
        pass


@test('cgroup: su started from a delegated cgroup: the open verb leaves it too, and says so in syslog')
def _(t):
    env = t.env
    mnt = cgroup2_mount()
    if not mnt:
        t.skip('no cgroup2 file system is mounted here, so nothing can be delegated')
    user = 'nscit-c'
    cell = f'user-{USERS[user]}'
    env.set_policy(policy(scope='user', matches=[('User nscit-x', 'Isolate no')]))
    deleg = f'{mnt}/nscit-delegated-{os.getpid()}-{secrets.token_hex(4)}'
    unit = f'{deleg}/terminal.scope'
    rel = deleg[len(mnt):]
    su_proc = None
    try:
        delegate(deleg, ATTACKER)
        r = as_user(ATTACKER, ['mkdir', unit])
        t.require(r.returncode == 0, 'the user makes a cgroup in the delegated one', r.stderr)
        mark = env.syslog.mark()
        # A PAM application (su) running in the user's delegated cgroup, as
        # from a terminal in a systemd --user scope.
        su_proc = subprocess.Popen(
            ['sh', '-c', f'echo $$ > {unit}/cgroup.procs && exec su -l {user} -c '
             '\'tr "\\0" "|" </proc/1/cmdline; echo; read _x\''],
            cwd='/', stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        line = su_proc.stdout.readline().strip()
        t.eq(line, f'nscell-init|{cell}|', 'su from the delegated cgroup logs into a cell')
        inits = [p for p in su.cell_inits(nt) if p.argv[1:2] == [cell]]
        t.require(inits, f'the init of {cell} is there')
        icg = cgroup_of(inits[0].pid)
        nt.log(f'    su in {rel}/terminal.scope: the init of {cell} is in {icg}')
        t.check(icg is not None and not (icg + '/').startswith(rel + '/'),
                'the init made for su\'s login is not in the user\'s delegated cgroup', icg)
        t.syslog(nt.syslog_event('nscell-open', 'cgroup-leave', hierarchy='cgroup2'), mark,
                 'syslog: event=cgroup-leave, naming the hierarchy and the cgroup')
        ok, err = user_write(ATTACKER, f'{unit}/cgroup.freeze', '1')
        t.require(ok, 'the user freezes the cgroup su runs in', err)
        r = nt.sh([NSCELL, 'list', '--json'], check=False, timeout=60)
        t.check(r.returncode == 0 and f'"init_pid":{inits[0].pid}' in r.stdout.replace(' ', ''),
                f'with su frozen, the init of {cell} still answers nscell list', r.stdout + r.stderr)
    finally:
        remove_cgroup(deleg)
        if su_proc is not None:
            try:
                su_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                su_proc.kill()
                su_proc.wait()
    t.clean(timeout=15)
    try:
        os.rmdir(f'{mnt}/nscell')
    except OSError:
        pass


@test('cgroup: no root-owned cgroup to be had: nscell run from a delegated cgroup is refused, clearly')
def _(t):
    env = t.env
    mnt = cgroup2_mount()
    if not mnt:
        t.skip('no cgroup2 file system is mounted here, so nothing can be delegated')
    uid = USERS[ATTACKER]
    env.set_policy(policy(scope='user', matches=[('User nscit-x', 'Isolate no')]))
    deleg = f'{mnt}/nscit-delegated-{os.getpid()}-{secrets.token_hex(4)}'
    own = f'{mnt}/nscell'
    try:
        os.rmdir(own)  # left by nobody: no cell is running
    except FileNotFoundError:
        pass
    try:
        # nscell's own cgroup exists but is a user's: the helper must not use it.
        os.mkdir(own)
        os.chown(own, uid, uid)
        delegate(deleg, ATTACKER)
        r = as_user(ATTACKER, ['mkdir', f'{deleg}/app.service'])
        t.require(r.returncode == 0, 'the user makes a cgroup in the delegated one', r.stderr)
        mark = env.syslog.mark()
        before = su.state(nt)
        r = subprocess.run(
            ['sh', '-c', f'echo $$ > {deleg}/app.service/cgroup.procs && exec setpriv --reuid={uid} '
             f'--regid={uid} --init-groups -- {NSCELL} run -- /bin/echo ran'],
            env={'PATH': USER_PATH, 'HOME': f'/home/{ATTACKER}'}, cwd='/', stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=60)
        nt.log(f'    attack: nscell run from a delegated cgroup, {own} owned by the user: exit {r.returncode}: '
               f'{r.stderr.strip()}')
        t.eq(r.returncode, 125, 'nscell run is refused (125)')
        t.check('ran' not in r.stdout, 'the command did not run', r.stdout)
        t.check('cgroup' in r.stderr and 'refused' in r.stderr and own in r.stderr,
                'the message names the cgroup and says it is refused', r.stderr)
        t.syslog(nt.syslog_event('nscell-run-helper', 'refused', verb='run', uid=uid), mark,
                 'syslog: event=refused verb=run with the reason')
        diff = su.settle(nt, before)
        t.check(not diff, 'no cell, no /run/nscell entry, no process left', '\n'.join(diff))
    finally:
        remove_cgroup(deleg)
        try:
            os.rmdir(own)
        except OSError as e:
            nt.log(f'    (could not remove {own}: {e})')
    t.clean(timeout=15)


def v1_mount(controller):
    with open('/proc/self/mountinfo') as f:
        for ln in f:
            pre, post = ln.split(' - ', 1)
            fs, _, opts = post.split()[:3]
            if fs == 'cgroup' and controller in opts.split(',') and pre.split()[3] == '/':
                return pre.split()[4]
    return None


def v1_cgroup_of(pid, controller):
    try:
        with open(f'/proc/{pid}/cgroup') as f:
            for ln in f:
                _, ctl, path = ln.rstrip('\n').split(':', 2)
                if controller in ctl.split(','):
                    return path
    except OSError:
        return None
    return None


@test('cgroup: a cgroup v1 freezer delegated to the user (as pam_cgfs does) cannot freeze the init nscell run makes')
def _(t):
    env = t.env
    mnt = v1_mount('freezer')
    if not mnt:
        t.skip('no cgroup v1 freezer hierarchy is mounted here (a unified host): nothing to delegate in v1')
    uid = USERS[ATTACKER]
    cell = f'user-{uid}'
    env.set_policy(policy(scope='user', matches=[('User nscit-x', 'Isolate no')]))
    deleg = f'{mnt}/nscit-delegated-{os.getpid()}-{secrets.token_hex(4)}'
    rel = deleg[len(mnt):]
    unit_proc = None
    try:
        os.mkdir(deleg)
        for name in ('', 'cgroup.procs', 'tasks', 'freezer.state'):
            os.chown(os.path.join(deleg, name) if name else deleg, uid, uid)
        unit_proc = subprocess.Popen(
            ['sh', '-c', f'echo $$ > {deleg}/cgroup.procs && exec setpriv --reuid={uid} --regid={uid} '
             f'--init-groups -- {NSCELL} run -- sleep 60'],
            env={'PATH': USER_PATH, 'HOME': f'/home/{ATTACKER}'}, cwd='/', stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        def started():
            inits = [p for p in su.cell_inits(nt) if p.argv[1:2] == [cell]]
            sleeps = [p for p in nt.procs() if p.argv == ['sleep', '60'] and p.uid == uid]
            return (inits[0], sleeps[0]) if inits and sleeps else None
        got = nt.poll(started, timeout=20)
        t.require(got, 'nscell run from the delegated v1 freezer cgroup starts its command in user-UID')
        init, sleep = got
        icg, ccg = v1_cgroup_of(init.pid, 'freezer'), v1_cgroup_of(sleep.pid, 'freezer')
        nt.log(f'    freezer cgroups: init {icg}, command {ccg} (delegated: {rel})')
        t.check(icg is not None and not (icg + '/').startswith(rel + '/'),
                'the init is not in the user\'s delegated v1 freezer cgroup', icg)
        t.eq(ccg, rel, 'the command stays in the caller\'s freezer cgroup')
        ok, err = user_write(ATTACKER, f'{deleg}/freezer.state', 'FROZEN')
        t.require(ok, 'the user writes FROZEN to their freezer.state', err)
        nt.poll(lambda: open(f'{deleg}/freezer.state').read().strip() == 'FROZEN', timeout=10)
        nt.log(f'    attack: freezer.state=FROZEN on {deleg}: {open(f"{deleg}/freezer.state").read().strip()}')
        r = nt.sh([NSCELL, 'list', '--json'], check=False, timeout=60)
        t.check(r.returncode == 0 and f'"init_pid":{init.pid}' in r.stdout.replace(' ', ''),
                f'with the user\'s freezer cgroup frozen, the init of {cell} answers nscell list', r.stdout + r.stderr)
    finally:
        if os.path.isdir(deleg):
            try:
                with open(f'{deleg}/freezer.state', 'w') as f:
                    f.write('THAWED')
            except OSError:
                pass
            with open(f'{deleg}/cgroup.procs') as f:
                for pid in f.read().split():
                    try:
                        os.kill(int(pid), 9)
                    except OSError:
                        pass
            nt.poll(lambda: not open(f'{deleg}/cgroup.procs').read().strip(), timeout=10)
            try:
                os.rmdir(deleg)
            except OSError as e:
                nt.log(f'    (could not remove {deleg}: {e})')
        if unit_proc is not None:
            try:
                unit_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                unit_proc.kill()
                unit_proc.wait()
    t.clean(timeout=15)
    try:
        os.rmdir(f'{mnt}/nscell')
    except OSError:
        pass
