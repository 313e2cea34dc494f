# SPDX-License-Identifier: LGPL-2.1-or-later
# 20 logins of 5 users at once, two of the users with Scope user: all succeed,
# each lands in the right cell, and all of it is cleaned up.

from collections import Counter

from nscelltest import HOLD, PROBE, USERS, cell_of, policy, syslog_event, test

USER_SCOPE = ('nscit-d', 'nscit-e')
PLAN = [(u, m) for u in ('nscit-a', 'nscit-b', 'nscit-c', 'nscit-d', 'nscit-e')
        for m in ('ssh', 'ssh', 'su', 'runuser')]


@test('concurrency: 20 simultaneous logins of 5 users (2 with Scope user) all work and all clean up')
def _(t):
    env = t.env
    env.set_policy(policy(matches=[('User nscit-x', 'Isolate no'),
                                   ('User ' + ','.join(USER_SCOPE), 'Scope user')]))
    mark = env.syslog.mark()
    sessions = [env.login(m, u, PROBE + 'echo x > /tmp/nscit-$$; echo "tmpcount=$(ls /tmp | wc -l)"; ' + HOLD)
                for u, m in PLAN]
    up = [s.wait_held(timeout=60) for s in sessions]
    t.check(all(up), f'all {len(sessions)} logins are up at the same time ({sum(up)} are)',
            '\n'.join(s.describe() for s, ok in zip(sessions, up) if not ok))
    cells = [cell_of(s) for s in sessions]
    for u in USERS:
        mine = [c for (uu, _), c in zip(PLAN, cells) if uu == u]
        if not mine:
            continue
        if u in USER_SCOPE:
            t.eq(set(mine), {f'user-{USERS[u]}'}, f'{u} (Scope user): all 4 sessions in cell user-{USERS[u]}')
        else:
            t.check(all(c and c.startswith('session-') for c in mine) and len(set(mine)) == 4,
                    f'{u} (Scope session): 4 sessions in 4 different session cells', str(mine))
    for s in sessions:
        s.release()
    rcs = [s.wait(60) for s in sessions]
    t.check(all(s.ok for s in sessions), 'every session ends with status 0',
            '\n'.join(s.describe() for s in sessions if not s.ok))
    t.clean('all 20 logged out: no process, cell, mount or /run/nscell entry left', timeout=10)
    created = Counter(l.split('cell=')[1].split()[0] for l in env.syslog.find_all(
        syslog_event('nscell-open', 'cell-created'), mark))
    ended = Counter(l.split('cell=')[1].split()[0] for l in env.syslog.find_all(
        syslog_event('nscell-init', 'cell-ended'), mark))
    want = 3 * 4 + len(USER_SCOPE)
    t.eq(sum(created.values()), want, f'syslog: {want} event=cell-created (12 session cells + 2 user cells)')
    t.eq(created, ended, 'syslog: every created cell has its event=cell-ended')
