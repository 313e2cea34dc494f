# SPDX-License-Identifier: LGPL-2.1-or-later
# PrivateLogins: with two users logged in, each way in sees only its own
# user's login records (who, w, users, last, lastlog), its own current login
# included where the tool shows it; the host's records of both land, logouts
# included (nothing lost); the copies are read-only and stay over the real
# files (umount, a user and mount namespace of the user's own). Unset: the
# records are the host's, as before. login is hidden as well: its shell enters as
# login forks it; a utmp record written in the sessions' namespace reaches the
# host's only if it is the user's own login or logout.

import os
import shutil
import struct
import subprocess
import time

from nscelltest import HOLD, PROBE, USERS, check_in_cell, policy, sh, test

UTMP_RECORD = 384
OTHER = 'nscit-b'
# Debian 13: last reads wtmpdb, which a cell sees empty (nscell.conf(5)).
WTMPDB = '/var/lib/wtmpdb/wtmp.db'
# Debian 13 without the wtmpdb package has no last at all.
HAVE_LAST = shutil.which('last') is not None

LOOK = PROBE + r'''
echo "who=$(who | awk '{print $1}' | sort -u | tr '\n' ' ')"
echo "w=$(w -h | awk '{print $1}' | sort -u | tr '\n' ' ')"
echo "users=$(users)"
echo "last=$(last -w | awk 'NF && $1 != "wtmp" {print $1}' | sort -u | tr '\n' ' ')"
echo "wtmpdb=$(if [ -e /var/lib/wtmpdb/wtmp.db ]; then stat -L -c %s /var/lib/wtmpdb/wtmp.db; else echo none; fi)"
echo "lastlog2=$(lastlog2 2>/dev/null | awk 'NR > 1 && !/Never logged in/ {print $1}' | sort -u | tr '\n' ' ')"
echo "lastlog=$(lastlog 2>/dev/null | awk 'NR > 1 && !/Never logged in/ {print $1}' | sort -u | tr '\n' ' ')"
echo "utmp=$(python3 -c 'import sys; d = open("/run/utmp", "rb").read(); print(" ".join(sorted({d[i + 44:i + 76].rstrip(bytes(1)).decode() for i in range(0, len(d) - 383, 384) if d[i] == 7 and d[i + 1] == 0})))')"
echo "boot=$(who -b | wc -l)"
if (: >> /run/utmp) 2>/dev/null; then echo "write=done"; else echo "write=refused"; fi
if umount /run/utmp 2>/dev/null; then echo "umount=done"; else echo "umount=refused"; fi
echo "userns=$(unshare -Urm sh -c 'umount -l /run/utmp 2>/dev/null; umount -l /var/log/wtmp 2>/dev/null; who | awk "{print \$1}" | sort -u | tr "\n" " "' 2>&1)"
'''

METHODS = ('ssh', 'ssh-tty', 'su', 'runuser', 'sudo')


def utmp_users(path):
    """The user names of the records of a utmp-format file."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except FileNotFoundError:
        return []
    out = []
    for i in range(0, len(data) - UTMP_RECORD + 1, UTMP_RECORD):
        rec = data[i:i + UTMP_RECORD]
        typ = struct.unpack_from('<h', rec, 0)[0]
        out.append((typ, rec[44:76].rstrip(b'\0').decode(errors='replace')))
    return out


def nscell_run(user, script):
    """`nscell run` by the user, started without PAM (as cron would): key=value lines."""
    uid = USERS[user]
    r = sh(['setpriv', f'--reuid={uid}', f'--regid={uid}', '--init-groups', '--',
            '/usr/local/bin/nscell', 'run', '--', 'sh', '-c', script], check=False, cwd='/',
           env={'PATH': '/usr/local/bin:/usr/bin:/bin', 'HOME': f'/home/{user}', 'USER': user},
           timeout=30)
    return r.returncode, dict(ln.split('=', 1) for ln in r.stdout.splitlines() if '=' in ln), r.stdout + r.stderr


def words(s, key):
    return set((s.value(key) or '').split())


@test('PrivateLogins yes: every way in sees only its own records; the host keeps both users\' and the logouts')
def _(t):
    env = t.env
    env.set_policy(policy(extra='PrivateLogins yes\n', matches=[('User nscit-x', 'Isolate no'),
                                                              ('Service nscell-run', 'Scope user')]))
    env.set_pam(auth_line=True)  # sshd's session child enters at setcred
    wtmp_before = len(utmp_users('/var/log/wtmp'))
    host_boot = str(len(sh(['who', '-b'], check=False).stdout.splitlines()))
    other = env.login('ssh-tty', OTHER, HOLD)
    t.require(other.wait_held(), f'{OTHER} logs in over ssh -tt and stays', other.describe())
    t.check(any(u == OTHER and typ == 7 for typ, u in utmp_users('/run/utmp')),
            f'the host\'s utmp has {OTHER}\'s live login', str(utmp_users('/run/utmp')))
    for m in METHODS:
        s = env.run(m, 'nscit-a', LOOK)
        if not t.login_ok(s, f'{m}: nscit-a logs in with PrivateLogins yes', require=False):
            continue
        check_in_cell(t, s, m)
        for key in ('who', 'w', 'users', 'last', 'lastlog', 'lastlog2', 'utmp'):
            t.check(OTHER not in words(s, key), f'{m}: {key} shows no record of {OTHER}', s.describe())
        if m == 'ssh-tty':
            # A terminal login is in utmp: the user's own is in the copy.
            # (who, w and users skip records whose process they cannot
            # see, as in any cell with a pid namespace: the file is read.)
            t.check('nscit-a' in words(s, 'utmp'), f'{m}: the copy of utmp holds nscit-a\'s own live login', s.describe())
        if os.path.exists(WTMPDB):
            t.eq(s.value('wtmpdb'), '0', f'{m}: the wtmpdb database is an empty file in the session')
        elif m != 'ssh' and HAVE_LAST:
            # From ssh -tt on, the user has a login in wtmp (a command alone has none).
            t.check('nscit-a' in words(s, 'last'), f'{m}: last shows nscit-a\'s own logins', s.describe())
        t.check(any(u == 'nscit-a' and typ == 7 for typ, u in utmp_users('/var/log/wtmp')[wtmp_before:]) or m != 'ssh-tty',
                f'{m}: the host\'s wtmp has the login', '')
        t.eq(s.value('boot'), host_boot, f'{m}: who -b shows the boot time as the host does')
        t.eq(s.value('write'), 'refused', f'{m}: the copy of utmp is read-only')
        t.eq(s.value('umount'), 'refused', f'{m}: the user cannot umount the copy')
        t.check(OTHER not in words(s, 'userns'),
                f'{m}: nor uncover the real files in a user and mount namespace of their own', s.describe())
    rc, v, out = nscell_run('nscit-a', LOOK)
    if t.check(rc == 0 and (v.get('init') or '').startswith('nscell-init|'),
               'nscell run: nscit-a\'s command runs in a cell', out):
        for key in ('who', 'last', 'lastlog', 'utmp'):
            t.check(OTHER not in (v.get(key) or '').split(), f'nscell run: {key} shows no record of {OTHER}', out)
        t.check('nscit-a' in (v.get('last') or '').split() or os.path.exists(WTMPDB) or not HAVE_LAST,
                'nscell run: last shows nscit-a\'s own logins', out)
        t.eq(v.get('write'), 'refused', 'nscell run: the copy of utmp is read-only')
        t.check(OTHER not in (v.get('userns') or '').split(),
                'nscell run: the real files stay covered in a user namespace', out)
    sh(['/usr/local/bin/nscell', 'terminate', '--user', 'nscit-a'], check=False)  # run's cell outlives it
    # login: the shell's child enters as it is forked. Debian 13's login
    # writes its records before, Debian 12's writes utmp in that child, into
    # the copy: the init carries it on to the host's utmp.
    # Whether this release's login writes utmp at all (Debian 13's writes
    # none): an exempt user's login, outside any cell, is the baseline.
    # (Records of earlier files' logins may be left in the harness's utmp:
    # only those written since the login started count.)
    t0 = int(time.time())
    t.login_ok(env.run('login', 'nscit-x', 'true'), 'login: the exempt nscit-x logs in')
    writes_utmp = any(r[:2] == (7, 'nscit-x') for r in utmp_since('/run/utmp', t0))
    t0 = int(time.time())
    mark = env.syslog.mark()
    s = env.run('login', 'nscit-a', LOOK + 'sleep 0.3\n' + LOOK.replace('echo "utmp=', 'echo "later='))
    if t.login_ok(s, 'login: nscit-a logs in with PrivateLogins yes', require=False):
        check_in_cell(t, s, 'login')
        for key in ('who', 'w', 'users', 'last', 'lastlog', 'lastlog2', 'utmp'):
            t.check(OTHER not in words(s, key), f'login: {key} shows no record of {OTHER}', s.describe())
        t.eq('nscit-a' in words(s, 'later'), writes_utmp,
             f'login: the copy of utmp holds the login\'s own record ({"it writes one" if writes_utmp else "it writes none"})')
        t.eq(s.value('write'), 'refused', 'login: the copy of utmp is not the user\'s to write')
        t.check(OTHER not in words(s, 'userns'), 'login: the real files stay covered in a user namespace', s.describe())
        line = (s.value('tty') or '/dev/').removeprefix('/dev/')
        new = utmp_since('/run/utmp', t0)
        t.check(((7, 'nscit-a', line) in [r[:3] for r in new]) == writes_utmp,
                f'login: the host\'s utmp has the login\'s record on {line} as without a cell', str(new))
        t.check(not env.syslog.find_all(r'service login gives no point', mark), 'login: the module warns of nothing')
    other.release()
    other.wait(30)
    # sshd's monitor writes the logout after the client has gone: a moment.
    deadline = time.monotonic() + 10
    while True:
        recs = utmp_users('/var/log/wtmp')[wtmp_before:]
        if (sum(1 for typ, u in recs if typ == 8) >= sum(1 for typ, u in recs if typ == 7)
                or time.monotonic() > deadline):
            break
        time.sleep(0.1)
    t.check(any(u == OTHER and typ == 7 for typ, u in recs), f'the host\'s wtmp has {OTHER}\'s login', str(recs))
    t.check(any(u == 'nscit-a' and typ == 7 for typ, u in recs),
            'the host\'s wtmp has nscit-a\'s logins from inside the cells', str(recs))
    n_login = sum(1 for typ, u in recs if typ == 7)
    n_dead = sum(1 for typ, u in recs if typ == 8)
    t.check(n_dead >= n_login, f'every login in the host\'s wtmp has its logout ({n_login} in, {n_dead} out)', str(recs))
    # (login leaves its utmp entry to init or getty, which this harness has not.)
    t.check(not any(u == OTHER and typ == 7 for typ, u in utmp_users('/run/utmp')),
            f'the host\'s utmp has the logout of {OTHER}\'s ssh session', str(utmp_users('/run/utmp')))
    t.clean()


def utmp_record(typ, user, line, ut_id, pid=4242):
    """One utmp record as the C library lays it out (struct utmp, 384 bytes)."""
    return struct.pack('<hxxi32s4s32s256shhiii4i20s', typ, pid, line.encode(), ut_id.encode(),
                       user.encode(), b'', 0, 0, 0, int(time.time()), 0, 0, 0, 0, 0, b'')


def utmp_full(path):
    """(type, user, line, id) of each record of a utmp-format file."""
    with open(path, 'rb') as f:
        data = f.read()
    return [(struct.unpack_from('<h', data, i)[0], data[i + 44:i + 76].rstrip(b'\0').decode(),
             data[i + 8:i + 40].rstrip(b'\0').decode(), data[i + 40:i + 44].rstrip(b'\0').decode())
            for i in range(0, len(data) - UTMP_RECORD + 1, UTMP_RECORD)]


def utmp_since(path, t0):
    """(type, user, line, id) of the records of a utmp file written at t0 or later."""
    with open(path, 'rb') as f:
        data = f.read()
    return [r for i, r in zip(range(0, len(data) - UTMP_RECORD + 1, UTMP_RECORD), utmp_full(path))
            if struct.unpack_from('<i', data, i + 340)[0] >= t0]


def pid_in_ns(uid, mntns):
    """A host pid of a process of uid whose mount namespace is mntns."""
    for d in os.listdir('/proc'):
        try:
            if d.isdigit() and os.stat(f'/proc/{d}').st_uid == uid and os.readlink(f'/proc/{d}/ns/mnt') == mntns:
                return int(d)
        except OSError:
            continue
    return None


WRITE_UTMP = r"""
import sys
with open('/run/utmp', 'ab') as f:
    f.write(bytes.fromhex(sys.argv[1]))
"""
HOLD_LOCK = r"""
import fcntl, struct, sys, time
f = open('/run/utmp', 'rb')
fcntl.fcntl(f, fcntl.F_SETLK, struct.pack('hhqqi', fcntl.F_RDLCK, 0, 0, 0, 0))
print('locked', flush=True)
time.sleep(float(sys.argv[1]))
"""


@test('PrivateLogins yes: a record written in the sessions\' utmp reaches the host\'s only if it is the user\'s own login or logout; a lock the user holds stops nothing')
def _(t):
    env = t.env
    env.set_policy(policy(extra='PrivateLogins yes\n', matches=[('User nscit-x', 'Isolate no')]))
    env.set_pam(auth_line=True)
    other = env.login('ssh-tty', OTHER, HOLD)
    t.require(other.wait_held(), f'{OTHER} logs in over ssh -tt and stays', other.describe())
    theirs = [r for r in utmp_full('/run/utmp') if r[0] == 7 and r[1] == OTHER]
    t.require(theirs, f'the host\'s utmp has {OTHER}\'s login', str(utmp_full('/run/utmp')))
    a = env.login('ssh-tty', 'nscit-a', PROBE + HOLD)
    t.require(a.wait_held(), 'nscit-a logs in over ssh -tt and stays', a.describe())
    pid = pid_in_ns(USERS['nscit-a'], a.value('mntns'))
    t.require(pid, 'a process of nscit-a\'s session is found in the sessions\' namespace', a.describe())
    # nscit-a holds a read lock on her copy the whole time.
    uid = str(USERS['nscit-a'])
    lock = subprocess.Popen(
        ['nsenter', '-t', str(pid), '-m', '--', 'setpriv', f'--reuid={uid}', f'--regid={uid}', '--clear-groups',
         'python3', '-c', HOLD_LOCK, '6'], stdout=subprocess.PIPE, text=True)
    try:
        t.require(lock.stdout.readline().strip() == 'locked', 'nscit-a read-locks her copy of utmp')
        mark = env.syslog.mark()
        line = (a.value('tty') or '/dev/').removeprefix('/dev/')
        recs = (utmp_record(7, 'nscit-a', line, 'x77') +             # hers, on her terminal
                utmp_record(7, 'nscit-a', 'pts/77', 'x78') +         # on a terminal not hers
                utmp_record(7, 'nscit-a', line, theirs[0][3]) +      # over their login, by its id
                utmp_record(7, OTHER, line, 'x79') +                 # in their name
                utmp_record(8, '', theirs[0][2], theirs[0][3]))      # their logout
        # As root in the sessions' namespace (a setgid-utmp helper, login's child).
        sh(['nsenter', '-t', str(pid), '-m', '--', 'python3', '-c', WRITE_UTMP, recs.hex()])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(r[3] == 'x77' for r in utmp_full('/run/utmp')):
            time.sleep(0.05)
        host = utmp_full('/run/utmp')
        t.check((7, 'nscit-a', line, 'x77') in host, 'her own login written in the copy is on the host\'s utmp', str(host))
        t.check(not any(r[3] in ('x78', 'x79') for r in host),
                f'a login of hers on a terminal not hers, and one in {OTHER}\'s name, are not', str(host))
        t.check(theirs[0] in host, f'{OTHER}\'s live login is neither overwritten nor ended from her cell', str(host))
        t.syslog(r'event=logins-not-forwarded .*records=4', mark, 'the records left out are logged')
    finally:
        lock.kill()
        lock.wait()
    for x in (a, other):
        x.release()
        x.wait(30)
    t.clean()


@test('PrivateLogins yes, Scope user: a login joining the user\'s live cell is hidden too')
def _(t):
    env = t.env
    env.set_policy(policy(scope='user', extra='PrivateLogins yes\n', matches=[('User nscit-x', 'Isolate no')]))
    env.set_pam(auth_line=True)
    other = env.login('ssh-tty', OTHER, HOLD)
    t.require(other.wait_held(), f'{OTHER} logs in over ssh -tt and stays', other.describe())
    first = env.login('ssh-tty', 'nscit-a', PROBE + HOLD)
    t.require(first.wait_held(), 'nscit-a\'s first login holds the user\'s cell', first.describe())
    for m in ('ssh-tty', 'su'):
        s = env.run(m, 'nscit-a', LOOK)
        t.login_ok(s, f'{m}: a second login of nscit-a')
        t.eq(s.value('pidns'), first.value('pidns'), f'{m}: it joined the live cell')
        for key in ('who', 'last', 'utmp'):
            t.check(OTHER not in words(s, key), f'{m}: {key} shows no record of {OTHER}', s.describe())
        t.eq(s.value('write'), 'refused', f'{m}: the copy of utmp is read-only')
    for x in (first, other):
        x.release()
        x.wait(30)
    t.clean()


@test('PrivateLogins yes, sshd without the auth line: nothing hidden, nothing lost, and the module says so')
def _(t):
    env = t.env
    env.set_policy(policy(extra='PrivateLogins yes\n', matches=[('User nscit-x', 'Isolate no')]))
    other = env.login('ssh-tty', OTHER, HOLD)
    t.require(other.wait_held(), f'{OTHER} logs in over ssh -tt and stays', other.describe())
    mark = env.syslog.mark()
    s = env.run('ssh-tty', 'nscit-a', LOOK)
    t.login_ok(s, 'ssh -tt: nscit-a logs in')
    check_in_cell(t, s, 'ssh -tt')
    t.syslog(r"setcred never reached pam_nscell: add 'auth optional pam_nscell.so'", mark,
             'the module says where the session would enter')
    t.check(OTHER in words(s, 'utmp') and 'nscit-a' in words(s, 'utmp'),
            'the session sees the host\'s utmp, its own login in it', s.describe())
    other.release()
    other.wait(30)
    t.clean()


@test('PrivateLogins unset: the records are the host\'s, as before')
def _(t):
    env = t.env
    other = env.login('ssh-tty', OTHER, HOLD)
    t.require(other.wait_held(), f'{OTHER} logs in over ssh -tt and stays', other.describe())
    s = env.run('ssh-tty', 'nscit-a', LOOK)
    t.login_ok(s, 'ssh -tt: nscit-a logs in with the default policy')
    check_in_cell(t, s, 'ssh -tt')
    t.check(OTHER in words(s, 'utmp'), f'utmp holds {OTHER}\'s live login', s.describe())
    if HAVE_LAST:
        t.check(OTHER in words(s, 'last'), f'last shows {OTHER}', s.describe())
    other.release()
    other.wait(30)
    t.clean()


LOGIND = '/run/systemd'
LOGIND_LOOK = r'''
echo "sessions=$(ls -A /run/systemd/sessions | tr '\n' ' ')"
echo "users=$(ls -A /run/systemd/users | tr '\n' ' ')"
echo "content=$(cat /run/systemd/sessions/1 | tr '\n' ',')"
if (: > /run/systemd/sessions/9) 2>/dev/null; then echo "write=done"; else echo "write=refused"; fi
'''


def logind_file(path, text):
    """As logind writes its state: a temporary file renamed over the name."""
    tmp = os.path.join(os.path.dirname(path), '.#' + os.path.basename(path) + 'nscit')
    with open(tmp, 'w') as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


@test('PrivateLogins yes on a systemd host: logind\'s session and user files show the user\'s own alone, kept current')
def _(t):
    env = t.env
    env.set_policy(policy(extra='PrivateLogins yes\n', matches=[('User nscit-x', 'Isolate no')]))
    env.set_pam(auth_line=True)
    a, b = USERS['nscit-a'], USERS[OTHER]
    # A fake logind state in the harness's own /run (a tmpfs): the user's
    # session, another user's, a session's .ref FIFO, a link, an oversized file.
    sessions, users = f'{LOGIND}/sessions', f'{LOGIND}/users'
    os.makedirs(sessions, mode=0o755)
    os.makedirs(users, mode=0o755)
    try:
        logind_file(f'{sessions}/1', f'# This is private data. Do not parse.\nUID={a}\nUSER=nscit-a\nACTIVE=1\n')
        logind_file(f'{sessions}/2', f'UID={b}\nUSER={OTHER}\n')
        logind_file(f'{sessions}/4', f'UID={a}\n' + 'X=' + 'x' * 5000 + '\n')
        os.mkfifo(f'{sessions}/1.ref', 0o600)
        os.symlink('1', f'{sessions}/3')
        logind_file(f'{users}/{a}', 'NAME=nscit-a\n')
        logind_file(f'{users}/{b}', f'NAME={OTHER}\n')
        s = env.login('ssh', 'nscit-a', LOGIND_LOOK + HOLD + '\n' + LOGIND_LOOK.replace('"sessions=', '"after=')
                      .replace('"users=', '"afterusers='))
        t.require(s.wait_held(), 'nscit-a logs in over ssh and stays', s.describe())
        # While she is in: a new session of hers, the first one gone, another user's new one.
        logind_file(f'{sessions}/5', f'UID={a}\nUSER=nscit-a\n')
        logind_file(f'{sessions}/6', f'UID={b}\nUSER={OTHER}\n')
        os.unlink(f'{sessions}/1')
        time.sleep(0.5)  # the init's pass follows within its 20 ms debounce
        s.release()
        s.wait(30)
        t.eq(s.value('sessions'), '1', 'her /run/systemd/sessions holds her own session file alone '
             '(not the other user\'s, the FIFO, the link, the oversized file)')
        t.eq(s.value('users'), str(a), 'her /run/systemd/users holds her own uid alone')
        t.check(f'UID={a}' in (s.value('content') or ''), 'the copy has the file\'s content', s.describe())
        t.eq(s.value('write'), 'refused', 'the copy directory is read-only')
        t.eq(s.value('after'), '5', 'a session of hers started meanwhile shows, the ended one is gone, '
             'another user\'s new one never shows')
        t.eq(s.value('afterusers'), str(a), 'her users directory is unchanged')
    finally:
        shutil.rmtree(LOGIND, ignore_errors=True)
    t.clean()
