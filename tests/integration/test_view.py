# SPDX-License-Identifier: LGPL-2.1-or-later
# The view (ProtectHome, ProtectSystem, the *Paths keys) on every way in:
# `ls /home` lists the user's own home only, other homes do not exist, the
# own home is the real one and writable, /etc and /usr are read-only under
# full, BindPaths with %u lands each user's own directory; and as the user,
# under the strictest view, nothing brings the hidden parts back.

import os
import shutil
import subprocess

from nscelltest import (METHODS, PROBE, SSH_HOST, USERS, WORK, check_in_cell, policy, sh,
                        syslog_event, test, write)

NSCELL = '/usr/local/bin/nscell'
USER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/bin'
PROJECTS = '/var/lib/nscit-projects'
PROJECT = '/usr/local/nscit-project'  # the Bind target: under the harness's /usr/local overlay
A, B = 'nscit-a', 'nscit-b'

VIEW = (f'ProtectHome own\nProtectSystem full\nBindPaths {PROJECTS}/%u:{PROJECT}\n')
STRICT = (f'ProtectHome own\nProtectSystem strict\nBindReadOnlyPaths {PROJECTS}/%u:{PROJECT}\n')

# What the user sees, as key=value lines.
LOOK = rf'''
echo "home_ls=$(ls -A /home | tr '\n' ' ')"
echo "root_ls=$(ls -A /root 2>&1 | tr '\n' ' ')"
if stat /home/{B} >/dev/null 2>&1; then echo other=exists; else echo "other=$(stat /home/{B} 2>&1 | grep -o 'No such file or directory')"; fi
echo "nscit-view-$$" > "$HOME/nscit-view-file" && echo "own_write=ok $$"
for d in /etc /usr; do
    if touch "$d/nscit-view-probe" 2>/dev/null; then rm -f "$d/nscit-view-probe"; echo "ro$d=writable"; else echo "ro$d=$(touch "$d/nscit-view-probe" 2>&1 | grep -o 'Read-only file system')"; fi
done
echo "project=$(cat {PROJECT}/owner 2>&1)"
'''


def set_up_projects():
    for u in (A, B):
        d = f'{PROJECTS}/{u}'
        os.makedirs(d, exist_ok=True)
        os.chown(d, USERS[u], USERS[u])
        write(f'{d}/owner', f'{u}\n', 0o644, USERS[u], USERS[u])
    os.makedirs(PROJECT, exist_ok=True)
    write(f'/home/{B}/secret', 'secret of b\n', 0o644, USERS[B], USERS[B])


def tear_down_projects():
    shutil.rmtree(PROJECTS, ignore_errors=True)
    shutil.rmtree(PROJECT, ignore_errors=True)
    for p in (f'/home/{B}/secret', f'/home/{A}/nscit-view-file', f'/home/{A}/nscit-link'):
        if os.path.lexists(p):
            os.unlink(p)


def mount_count():
    with open('/proc/self/mountinfo') as f:
        return sum(1 for _ in f)


def check_view(t, s, what, user=A, system_ro=True):
    t.eq(s.value('home_ls'), user, f'{what}: ls /home lists exactly the own home')
    t.eq(s.value('other'), 'No such file or directory', f'{what}: another user\'s home does not exist')
    t.eq(s.value('root_ls'), '', f'{what}: /root is empty')
    pid = (s.value('own_write') or '').split(' ')[-1]
    t.check((s.value('own_write') or '').startswith('ok'), f'{what}: the own home is writable', s.describe())
    path = f'/home/{user}/nscit-view-file'
    got = open(path).read().strip() if os.path.exists(path) else None
    t.eq(got, f'nscit-view-{pid}', f'{what}: the file written there is in the real home (the harness reads it)')
    if system_ro:
        for d in ('/etc', '/usr'):
            t.eq(s.value(f'ro{d}'), 'Read-only file system', f'{what}: {d} is read-only (ProtectSystem full)')
    t.eq(s.value('project'), user, f'{what}: BindPaths {PROJECTS}/%u lands the user\'s own directory')


def view_login(t, method):
    env = t.env
    set_up_projects()
    try:
        env.set_policy(policy(extra=VIEW, matches=[('User nscit-x', 'Isolate no')]))
        before = mount_count()
        s = env.login(method, A, PROBE + LOOK + 'echo __NSCIT_HELD__; read _nscit_line')
        t.require(s.wait_held(), f'{method}: {A} logs in under the view policy', s.describe())
        check_in_cell(t, s, f'{method}: {A}')
        t.eq(mount_count(), before, f'{method}: the harness\'s mount table has not grown while the session runs')
        s.release()
        s.wait()
        t.check(s.ok, f'{method}: the session ends with status 0', s.describe())
        check_view(t, s, method)
        b = env.run('ssh', B, PROBE + LOOK.replace(f'/home/{B}', f'/home/{A}'))
        t.login_ok(b, f'{B} logs in over ssh under the same policy')
        t.eq(b.value('home_ls'), B, f'{B}: ls /home lists exactly {B}')
        t.eq(b.value('project'), B, f'{B}: BindPaths lands {B}\'s own directory on the same target')
        t.clean()
    finally:
        tear_down_projects()


for _m in METHODS:
    test(f'view: {_m}: only the own home, the system read-only, BindPaths with %u')(
        lambda t, m=_m: view_login(t, m))


@test('view: sftp and scp see only the own home; another user\'s file cannot be fetched')
def _(t):
    env = t.env
    set_up_projects()
    cfg = f'{WORK}/ssh/ssh_config'
    stolen = f'{WORK}/view-stolen'
    try:
        env.set_policy(policy(extra=STRICT, matches=[('User nscit-x', 'Isolate no')]))
        batch = f'{WORK}/view-sftp-batch'
        write(batch, f'ls -1a /home\n-get /home/{B}/secret {stolen}\n')
        r = sh(['sftp', '-F', cfg, '-b', batch, f'{A}@{SSH_HOST}'], check=False)
        listed = [ln.strip() for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith('sftp>')]
        t.eq(sorted(os.path.basename(x.rstrip('/')) for x in listed), ['.', '..', A],
             'sftp: ls /home lists the own home only')
        t.check(not os.path.exists(stolen), 'sftp: get of another user\'s file fails', r.stdout + r.stderr)
        for opts, name in (([], 'scp'), (['-O'], 'scp -O')):
            r = sh(['scp', '-F', cfg] + opts + [f'{A}@{SSH_HOST}:/home/{B}/secret', stolen], check=False)
            t.check(r.returncode != 0 and not os.path.exists(stolen),
                    f'{name}: copying another user\'s file fails', r.stdout + r.stderr)
            t.check('No such file' in r.stderr, f'{name}: ... because it does not exist there', r.stderr)
        t.clean()
    finally:
        if os.path.exists(stolen):
            os.unlink(stolen)
        tear_down_projects()


@test('view: nscell run gets the same view')
def _(t):
    env = t.env
    set_up_projects()
    try:
        env.set_policy(policy(scope='user', extra=VIEW, matches=[('User nscit-x', 'Isolate no')]))
        uid = USERS[A]
        r = sh(['setpriv', f'--reuid={uid}', f'--regid={uid}', '--init-groups', '--',
                NSCELL, 'run', '--', 'sh', '-c', LOOK], check=False, cwd='/',
               env={'PATH': USER_PATH, 'HOME': f'/home/{A}', 'USER': A, 'LOGNAME': A})
        t.eq(r.returncode, 0, 'nscell run -- sh -c ... exits 0')

        class R:
            ok = True
            out = r.stdout

            def value(self, k):
                for ln in r.stdout.splitlines():
                    if ln.startswith(k + '='):
                        return ln.split('=', 1)[1].strip()
                return None

            def describe(self):
                return r.stdout + r.stderr
        check_view(t, R(), 'nscell run')
        t.clean()
    finally:
        tear_down_projects()


# Each line: NAME=<result>. What must come out is spelled in ESCAPES below.
ESCAPE_SCRIPT = rf'''
try() {{ name=$1; shift; if out=$("$@" 2>&1); then echo "$name=succeeded: $out" | tr '\n' ' '; echo; else echo "$name=failed"; fi; }}
try umount umount /home
try umount_lazy umount -l /home
try mount mount -t tmpfs none /home
try remount_rw mount -o remount,bind,rw /etc
try userns_umount unshare -Urm sh -c 'umount /home'
try userns_umount_lazy unshare -Urm sh -c 'umount -l /home'
try userns_remount_rw unshare -Urm sh -c 'mount -o remount,bind,rw /etc'
try userns_other unshare -Urm sh -c 'umount -l /home 2>/dev/null; ls /home/{B}'
echo "userns_ctl=$(unshare -Urm sh -c 'mount -t tmpfs none /tmp && umount /tmp && echo works')"
echo "userns_ls=$(unshare -Urm ls -A /home | tr '\n' ' ')"
try proc_init_root ls /proc/1/root/home/{B}
echo "proc_self_root=$(ls -A /proc/self/root/home | tr '\n' ' ')"
try dotdot ls -A /home/{A}/../{B}
echo "dotdot_ls=$(cd {PROJECT}/../../.. && ls -A home | tr '\n' ' ')"
ln -sfn /home/{B} "$HOME/nscit-link"
try symlink cat "$HOME/nscit-link/secret"
echo "handle=$(python3 {WORK}/view-handle.py 2>&1)"
echo "userns_handle=$(unshare -Ur python3 {WORK}/view-handle.py 2>&1)"
try rw_project sh -c 'echo x > {PROJECT}/owner'
'''

ESCAPES = ['umount', 'umount_lazy', 'mount', 'remount_rw', 'userns_umount', 'userns_umount_lazy',
           'userns_remount_rw', 'userns_other', 'proc_init_root', 'dotdot', 'symlink', 'rw_project']

# open_by_handle_at(2) of the own home's handle: it needs CAP_DAC_READ_SEARCH
# in the initial user namespace, which nobody in a cell has.
HANDLE = r'''
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class H(ctypes.Structure):
    _fields_ = [('bytes', ctypes.c_uint), ('type', ctypes.c_int), ('f', ctypes.c_ubyte * 128)]
h = H(bytes=128)
mid = ctypes.c_int()
if libc.name_to_handle_at(-100, os.environ['HOME'].encode(), ctypes.byref(h), ctypes.byref(mid), 0) != 0:
    print('name_to_handle_at', os.strerror(ctypes.get_errno())); sys.exit(2)
fd = os.open(os.environ['HOME'], os.O_RDONLY)
r = libc.open_by_handle_at(fd, ctypes.byref(h), os.O_RDONLY)
e = ctypes.get_errno()
print('open_by_handle_at', r, os.strerror(e))
sys.exit(0 if r >= 0 else (3 if e == 1 else 4))
'''


@test('view: escapes fail as the user under the strictest view (umount, mount, userns, /proc, handles, .., symlinks)')
def _(t):
    env = t.env
    set_up_projects()
    write(f'{WORK}/view-handle.py', HANDLE, 0o644)
    try:
        env.set_policy(policy(extra=STRICT, matches=[('User nscit-x', 'Isolate no')]))
        s = env.run('ssh', A, PROBE + ESCAPE_SCRIPT)
        t.login_ok(s, f'{A} logs in over ssh under ProtectHome own + ProtectSystem strict')
        check_in_cell(t, s, A)
        for name in ESCAPES:
            t.eq(s.value(name), 'failed', f'escape {name}: fails')
        for name in ('handle', 'userns_handle'):
            t.eq(s.value(name), 'open_by_handle_at -1 Operation not permitted',
                 f'escape {name}: open_by_handle_at of the own home\'s handle is refused (EPERM)')
        t.eq(s.value('userns_ctl'), 'works',
             'control: in a new user+mount namespace the user may umount a mount of their own, '
             'so the failures above are the cell\'s mounts being locked')
        t.eq(s.value('userns_ls'), A, 'in a new user+mount namespace, /home still lists the own home only')
        t.eq(s.value('proc_self_root'), A, '/proc/self/root/home lists the own home only')
        t.eq(s.value('dotdot_ls'), A, '.. from the bind on /usr/local/... reaches the cell\'s /home only')
        r = sh(['python3', f'{WORK}/view-handle.py'], check=False, env={'HOME': f'/home/{A}'})
        t.eq(r.returncode, 0, 'control: as root in the harness, open_by_handle_at works (the probe can succeed)')
        t.clean()
    finally:
        tear_down_projects()
        os.unlink(f'{WORK}/view-handle.py')


@test('view: a symlink on a Bind source\'s way is refused with a logged reason, never followed')
def _(t):
    env = t.env
    set_up_projects()
    link = f'/home/{A}/nscit-link'
    try:
        os.symlink(f'/home/{B}', link)
        os.lchown(link, USERS[A], USERS[A])
        env.set_policy(policy(extra='ProtectHome own\nBindPaths %h/nscit-link:' + PROJECT + '\n',
                              matches=[('User nscit-x', 'Isolate no')]))
        mark = env.syslog.mark()
        s = env.run('ssh', A, PROBE)
        t.check(not s.ok, 'the login is refused', s.describe())
        t.syslog(syslog_event('nscell-open', 'refused') + r'.*symlink on the way', mark,
                 'the helper logs the refusal: a symlink on the way, not followed')
        t.clean()
    finally:
        tear_down_projects()


@test('view: the shipped default policy makes no view: every home is listed, /etc is writable by root')
def _(t):
    env = t.env
    here = os.path.dirname(os.path.abspath(__file__))
    conf = os.path.join(here, '..', '..', 'conf', 'nscell.conf')
    env.set_policy(open(conf).read())
    r = sh([NSCELL, 'explain', A], check=False)
    for k in ('ProtectHome', 'ProtectSystem'):
        t.check(any(ln.split()[:2] == [k, 'no'] for ln in r.stdout.splitlines()),
                f'explain: {k} no under the shipped policy', r.stdout + r.stderr)
    t.check('View (in this order)' not in r.stdout, 'explain: no view', r.stdout)
    s = env.run('ssh', A, 'echo "home_ls=$(ls -A /home | tr \'\\n\' \' \')"')
    t.login_ok(s)
    want = ' '.join(sorted(os.listdir('/home')))
    t.eq(s.value('home_ls'), want, 'ls /home lists every home, as before')
    t.clean()


@test('view: nscell check reports view mistakes with file and line')
def _(t):
    path = f'{WORK}/view-bad.conf'
    write(path, 'ProtectHome own\nReadOnlyPaths etc /x/%q\n')
    path2 = f'{WORK}/view-bad2.conf'
    write(path2, 'ProtectHome own\nBindPaths /srv/a:/home/other/x\n')
    r = sh([NSCELL, 'check', path], check=False)
    t.check(r.returncode != 0, 'nscell check fails', r.stdout + r.stderr)
    out = r.stdout + r.stderr
    t.check(f'{path}:2:15: error: invalid ReadOnlyPaths entry \'etc\': a relative path' in out,
            'a relative path is reported at file:line:column', out)
    t.check('unknown specifier' in out, 'an unknown specifier is reported', out)
    r = sh([NSCELL, 'check', path2], check=False)
    out = r.stdout + r.stderr
    t.check(r.returncode != 0 and
            f'{path2}:2:1: error: BindPaths target /home/other/x is inside /home, which this view hides' in out,
            'a target inside a hidden tree is reported', out)
    path3 = f'{WORK}/view-missing.conf'
    write(path3, 'ReadOnlyPaths /nscit-no-such-dir -/nscit-no-such-either /srv/%u\n')
    r = sh([NSCELL, 'check', path3], check=False)
    t.eq(r.returncode, 0, 'a path missing on this machine is a warning, not an error')
    t.check(f'{path3}:1: warning: ReadOnlyPaths /nscit-no-such-dir does not exist here; a login that gets it is refused'
            in r.stderr and 'either' not in r.stderr and '%u' not in r.stderr,
            '... named with file:line, and only where neither - nor a specifier says it may be missing', r.stderr)
    for p in (path, path2, path3):
        os.unlink(p)


@test('view: a mount the harness makes later below the own home comes in (slave); one below another home never appears')
def _(t):
    env = t.env
    late = {u: f'/home/{u}/nscit-late' for u in (A, B)}
    env.set_policy(policy(extra='ProtectHome own\nProtectSystem strict\n', matches=[('User nscit-x', 'Isolate no')]))
    s = env.login('ssh', A, PROBE + 'echo __NSCIT_HELD__; read _nscit_line\n'
                  f'echo "late=$(cat {late[A]}/flag 2>/dev/null || echo none)"\n'
                  f'echo "home_ls=$(ls -A /home | tr \'\\n\' \' \')"\n'
                  f'echo "other=$(ls {late[B]} 2>&1 | grep -o \'No such file or directory\')"\n')
    mounted = []
    try:
        t.require(s.wait_held(), f'{A} logs in and holds', s.describe())
        for u, d in late.items():
            os.makedirs(d, exist_ok=True)
            sh(['mount', '-t', 'tmpfs', 'nscit-late', d])
            mounted.append(d)
            write(f'{d}/flag', f'late-{u}\n')
        s.release()
        s.wait()
    finally:
        for d in mounted:
            sh(['umount', d], check=False)
        for d in late.values():
            if os.path.isdir(d):
                os.rmdir(d)
    if env.shared:
        t.eq(s.value('late'), f'late-{A}', 'with / shared: the mount below the own home is visible in the cell')
    else:
        t.eq(s.value('late'), 'none', 'with / private: the mount below the own home stays out, like every host mount')
    t.eq(s.value('home_ls'), A, 'ls /home still lists the own home only')
    t.eq(s.value('other'), 'No such file or directory', 'the mount below the other home does not appear')
    t.clean()


@test('view: a home that is a mount of its own (as an NFS home is) is found, bound and writable')
def _(t):
    env = t.env
    user = 'nscit-c'
    home = f'/home/{user}'
    keep = f'{WORK}/view-home-keep'
    env.set_policy(policy(extra='ProtectHome own\nProtectSystem strict\n', matches=[('User nscit-x', 'Isolate no')]))
    # A tmpfs over the harness's home of the user, with a copy of what it holds (ssh keys).
    os.makedirs(keep)
    sh(['cp', '-a', f'{home}/.', keep])
    try:
        sh(['mount', '-t', 'tmpfs', '-o', f'mode=0700,uid={USERS[user]},gid={USERS[user]}', 'nscit-home', home])
        sh(['cp', '-a', f'{keep}/.', home])
        write(f'{home}/on-the-mount', 'yes\n', 0o644, USERS[user], USERS[user])
        s = env.run('ssh', user, PROBE + f'echo "home_ls=$(ls -A /home | tr \'\\n\' \' \')"\n'
                    'echo "seen=$(cat ~/on-the-mount)"\necho "fstype=$(stat -f -c %T ~)"\n'
                    'echo from-cell > ~/from-cell && echo written=yes\n')
        t.login_ok(s, f'{user} logs in over ssh with a tmpfs home')
        t.eq(s.value('home_ls'), user, 'ls /home lists the own home only')
        t.eq(s.value('seen'), 'yes', 'the file on the home\'s own mount is there')
        t.eq(s.value('fstype'), 'tmpfs', 'the home is that mount')
        t.check(s.value('written') == 'yes' and os.path.exists(f'{home}/from-cell'),
                'a file written in the cell lands on the home\'s mount (ProtectSystem strict leaves it writable)',
                s.describe())
    finally:
        sh(['umount', home], check=False)
        shutil.rmtree(keep, ignore_errors=True)
    t.clean()


@test('view: with Scope user, a login whose view differs gets a cell of its own; the same view joins')
def _(t):
    env = t.env
    env.set_policy(policy(scope='user', matches=[('User nscit-x', 'Isolate no'),
                                                 ('Service sshd', 'ProtectHome own')]))
    mark = env.syslog.mark()
    look = PROBE + 'echo "home_ls=$(ls -A /home | tr \'\\n\' \' \')"\n'
    a = env.login('ssh', A, look + 'echo __NSCIT_HELD__; read _nscit_line')
    try:
        t.require(a.wait_held(), f'{A} logs in over ssh (ProtectHome own) and holds', a.describe())
        cell = check_in_cell(t, a, 'ssh', scope='user')
        t.eq(a.value('home_ls'), A, 'ssh: the own home only')
        a2 = env.run('ssh', A, look)
        t.login_ok(a2, 'a second ssh login of the same user')
        t.eq(a2.value('pidns'), a.value('pidns'), '... joins the user\'s cell: the same view')
        s = env.run('su', A, look)
        t.login_ok(s, 'a su login of the same user (no view in its block)')
        t.check(s.value('pidns') != a.value('pidns'), '... gets a cell of its own', s.describe())
        t.check(len((s.value('home_ls') or '').split()) > 1, '... where /home is the harness\'s, every home',
                s.value('home_ls'))
        t.syslog(syslog_event('nscell-open', 'cell-settings-differ') + r'.*ProtectHome', mark,
                 'the helper logs cell-settings-differ naming ProtectHome')
    finally:
        a.release()
        a.wait()
    t.clean()


@test('view: nscell explain prints the view the helper makes, specifiers expanded')
def _(t):
    env = t.env
    env.set_policy(policy(extra=VIEW, matches=[('User nscit-x', 'Isolate no')]))
    r = sh([NSCELL, 'explain', A], check=False)
    out = r.stdout
    t.eq(r.returncode, 0, 'nscell explain exits 0')
    lines = [' '.join(ln.split()) for ln in out.split('View (in this order)\n', 1)[-1].splitlines()]
    for want in ('read-only /etc if it exists (ProtectSystem)',
                 f'own only /home: hidden but /home/{A} if it exists (ProtectHome)',
                 f'own only /run/user: hidden but /run/user/{USERS[A]} if it exists (ProtectHome)',
                 f'bound {PROJECTS}/{A} on {PROJECT} (BindPaths)'):
        t.check(want in lines, f'explain: "{want}"', out)
    r = sh([NSCELL, 'explain', 'nscit-x'], check=False)
    t.check('View (in this order)' not in r.stdout, 'explain: an exempt user has no view', r.stdout)
