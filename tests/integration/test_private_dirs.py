# SPDX-License-Identifier: LGPL-2.1-or-later
# /tmp, /var/tmp and /dev/shm are private to a cell: invisible to the host and
# to other users; shared by the sessions of one user only with Scope user.
# Mount propagation: host mounts reach cells, cell mounts never reach the host.

import os

from nscelltest import (METHODS, HOLD, PROBE, cell_of, check_in_cell, policy,
                        sh, syslog_event, test)

DIRS = ('/tmp', '/var/tmp', '/dev/shm')
MAKE = ''.join(f'echo "$NSCIT_TAG" > {d}/nscit-private; ' for d in DIRS)
LOOK = ''.join(f'echo "seen{d.replace("/", "_")}=$(cat {d}/nscit-private 2>/dev/null || echo none)"; '
               for d in DIRS)
TMPFS = ''.join(f'echo "fstype{d.replace("/", "_")}=$(stat -f -c %T {d})"; ' for d in DIRS)


def seen(s):
    return {d: s.value('seen' + d.replace('/', '_')) for d in DIRS}


def private_dirs(t, method):
    env = t.env
    a = env.login(method, 'nscit-a', PROBE + TMPFS + 'NSCIT_TAG=made-by-a; ' + MAKE + HOLD)
    t.require(a.wait_held(), f'{method}: nscit-a logs in and writes a file in {", ".join(DIRS)}',
              a.describe())
    check_in_cell(t, a, f'{method}: nscit-a')
    for d in DIRS:
        t.eq(a.value('fstype' + d.replace('/', '_')), 'tmpfs', f'inside: {d} is a tmpfs')
    host_devs = ' '.join(str(os.stat(d).st_dev) for d in DIRS)
    inside = (a.value('tmpdev') or '').split()
    t.check(len(inside) == 3 and all(i != h for i, h in zip(inside, host_devs.split())),
            'inside: each of them is another filesystem than the harness\'s',
            f'inside {inside}, harness {host_devs}')
    for d in DIRS:
        t.check(not os.path.exists(f'{d}/nscit-private'), f'the harness does not see {d}/nscit-private')
    b = env.run('ssh', 'nscit-b', PROBE + LOOK)
    t.login_ok(b, 'nscit-b logs in over ssh meanwhile')
    t.eq(seen(b), {d: 'none' for d in DIRS}, 'another user\'s session does not see the files')
    a2 = env.run(method, 'nscit-a', PROBE + LOOK)
    t.login_ok(a2, f'a second {method} session of nscit-a logs in (Scope session)')
    t.eq(seen(a2), {d: 'none' for d in DIRS}, 'with Scope session, the same user\'s other session does not see them')
    t.check(cell_of(a2) != cell_of(a), 'with Scope session, the two sessions are in different cells',
            f'{cell_of(a)} {cell_of(a2)}')
    a.release()
    a.wait()
    t.check(a.ok, 'the first session ends with status 0', a.describe())
    t.clean()
    a3 = env.run(method, 'nscit-a', PROBE + LOOK)
    t.login_ok(a3, 'after logout, a new session of nscit-a logs in')
    t.eq(seen(a3), {d: 'none' for d in DIRS}, 'the files went with the cell: a new session starts empty')
    t.clean()


for _m in METHODS:
    test(f'private dirs: {_m}: /tmp, /var/tmp, /dev/shm are private to the session')(
        lambda t, m=_m: private_dirs(t, m))


@test('private dirs: with Scope user, two sessions of one user share them; other users do not')
def _(t):
    env = t.env
    env.set_policy(policy(scope='user', matches=[('User nscit-x', 'Isolate no')]))
    mark = env.syslog.mark()
    a1 = env.login('ssh', 'nscit-a', PROBE + 'NSCIT_TAG=made-by-a1; ' + MAKE + 'sleep 300.111 >/dev/null 2>&1 & ' + HOLD)
    t.require(a1.wait_held(), 'nscit-a logs in over ssh and writes the files', a1.describe())
    cell = check_in_cell(t, a1, 'first session', scope='user')
    for m in [m for m in METHODS if m != 'ssh']:
        a2 = env.run(m, 'nscit-a', PROBE + LOOK)
        t.login_ok(a2, f'{m}: a second session of nscit-a logs in', require=False)
        t.eq(cell_of(a2), cell, f'{m}: it is in the same cell ({cell})')
        t.eq(a2.value('pidns'), a1.value('pidns'), f'{m}: same pid namespace as the first session')
        t.eq(seen(a2), {d: 'made-by-a1' for d in DIRS}, f'{m}: it sees the first session\'s files')
        t.check('sleep 300.111' in a2.out, f'{m}: its ps lists the first session\'s processes', a2.out)
    b = env.run('su', 'nscit-b', PROBE + LOOK)
    t.login_ok(b, 'nscit-b logs in meanwhile')
    check_in_cell(t, b, 'nscit-b', scope='user')
    t.eq(seen(b), {d: 'none' for d in DIRS}, 'nscit-b does not see nscit-a\'s files')
    t.check(cell_of(b) != cell, 'nscit-b is in a cell of its own')
    t.check(not env.syslog.find_all(syslog_event('nscell-init', 'cell-ended', cell=cell), mark),
            'the user cell outlived the second sessions\' logouts')
    t.check(f'{cell}.sock' in os.listdir('/run/nscell/cells'), f'/run/nscell/cells/{cell}.sock exists while a session is open')
    t.syslog(syslog_event('nscell-init', 'session-joined', cell=cell, uid=64101), mark,
             'syslog: nscell-init event=session-joined for the later sessions')
    a1.release()
    a1.wait()
    t.check(a1.ok, 'the first session ends with status 0', a1.describe())
    t.clean('at the last logout the user cell ends, with the first session\'s leftover sleep')
    t.syslog(syslog_event('nscell-init', 'cell-ended', cell=cell, reason='logout'), mark,
             'syslog: event=cell-ended reason=logout')


@test('propagation: harness mounts made after login show up in the cell, cell mounts never leave it')
def _(t):
    env = t.env
    a = env.login('ssh', 'nscit-a',
                  PROBE + HOLD + '; echo "late=$(cat /run/nscit-late/flag 2>/dev/null || echo none)"')
    t.require(a.wait_held(), 'nscit-a logs in and holds', a.describe())
    check_in_cell(t, a, 'nscit-a')
    os.makedirs('/run/nscit-late', exist_ok=True)
    sh(['mount', '-t', 'tmpfs', 'nscit-late', '/run/nscit-late'])
    with open('/run/nscit-late/flag', 'w') as f:
        f.write('mounted-later\n')
    a.release()
    a.wait()
    sh(['umount', '/run/nscit-late'])
    os.rmdir('/run/nscit-late')
    if env.shared:
        t.eq(a.value('late'), 'mounted-later',
             'with / shared: a tmpfs the harness mounted after the login is visible in the cell (slave)')
    else:
        t.eq(a.value('late'), 'none',
             'with / private: a tmpfs the harness mounted after the login is not visible in the cell')
    t.clean('the harness mount table is as before: the cell\'s /tmp, /var/tmp, /dev/shm never propagated out')
