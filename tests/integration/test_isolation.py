# SPDX-License-Identifier: LGPL-2.1-or-later
# What a user sees in a cell and what the host sees of it, for every login
# program; exempt users and root.

import re

from nscelltest import (METHODS, SERVICE_OF, USERS, HOLD, PROBE, ancestors,
                        check_in_cell, check_login_works, host_pid_of, login_root_pid,
                        policy, procs, ps_lines, sh, syslog_event, test)

# The processes a session may have besides PID 1, the shell running the
# probe and its ps: what the login program runs as the user. sshd's session
# child is titled "sshd: USER@TTY" by OpenSSH 9 (Debian 12) and
# "sshd-session: USER@TTY" by OpenSSH 10 (Debian 13).
OWN = {
    'ssh': [r'sshd(-session)?: nscit-a@notty'],
    'ssh-tty': [r'sshd(-session)?: nscit-a@pts/\d+'],
    'su': [], 'runuser': [], 'login': [], 'sudo': [],
}


def isolation(t, method):
    env, user, uid = t.env, 'nscit-a', USERS['nscit-a']
    mark = env.syslog.mark()
    s = env.login(method, user, PROBE + HOLD)
    t.require(s.wait_held(), f'{method}: the login comes up', s.describe())
    cell = check_in_cell(t, s, 'inside')
    # 1) inside: ps ax lists the init and the session's own processes only.
    ps = ps_lines(s)
    t.check(ps and ps[0][0] == 1 and ps[0][4].startswith('nscell-init'),
            'inside: ps lists PID 1 = nscell-init', s.out)
    others = [p for p in ps if p[0] != 1]
    t.check(others and all(p[2] == uid for p in others),
            f'inside: every other process belongs to {user} (nothing of the host or of other sessions)',
            s.out)
    shell = int(s.value('shell_pid') or 0)
    t.check(any(p[0] == shell and 'scripts/' in p[4] for p in ps) and shell > 1,
            f'inside: echo $$ ({shell}) is the shell running the script, as listed by ps', s.out)
    t.check(any('ps -eo' in p[4] for p in ps), 'inside: ps sees itself')
    for rx in OWN[method]:
        t.check(any(re.fullmatch(rx, p[4]) for p in ps), f'inside: ps lists "{rx}"', s.out)
    unexpected = [p for p in others
                  if p[0] != shell and 'ps -eo' not in p[4] and 'sed s/' not in p[4]
                  and not any(re.fullmatch(rx, p[4]) for rx in OWN[method])
                  and not re.match(r'(-?bash|/bin/bash|sh|/bin/sh)( |$)', p[4])]
    t.check(not unexpected, 'inside: nothing else runs in the cell', str(unexpected))
    t.check(s.value('pidns') != env.host_pidns, 'inside: readlink /proc/self/ns/pid differs from the harness\'s',
            f'{s.value("pidns")} vs {env.host_pidns}')
    t.check(s.value('mntns') != env.host_mntns, 'inside: the mount namespace differs from the harness\'s')
    # 2) outside: the session's shell, seen from the harness's pid namespace.
    hp = host_pid_of(s)
    t.require(hp, 'outside: the session\'s shell is found by its namespace and its pid there')
    t.eq(hp.pidns, s.value('pidns'), f'outside: /proc/{hp.pid}/ns/pid is the cell\'s namespace')
    t.check(len(hp.nspid) == 2 and hp.nspid[1] == shell,
            f'outside: NSpid of {hp.pid} is two levels deep, ending in the pid seen inside', str(hp.nspid))
    root = login_root_pid(env, s)
    chain = [p.pid for p in ancestors(hp.pid)]
    t.check(root in chain, f'outside: the shell descends from the login program (pid {root})',
            f'ancestors {chain}')
    tree = sh(['pstree', '-p', str(root)], check=False).stdout
    t.check(f'({hp.pid})' in tree, f'outside: pstree -p {root} shows the shell ({hp.pid})', tree)
    inits = [p for p in procs() if p.pidns == s.value('pidns') and p.nspid[-1] == 1]
    t.check(len(inits) == 1 and inits[0].argv == ['nscell-init', cell or '?'],
            'outside: the cell\'s PID 1 is one nscell-init process with the cell id as its argument',
            '\n'.join(map(str, inits)))
    t.syslog(syslog_event('nscell-open', 'cell-created', cell=cell, user=user, uid=uid,
                          service=SERVICE_OF[method]), mark,
             'syslog: nscell-open event=cell-created with cell, user, uid and service')
    s.release()
    s.wait()
    t.check(s.ok, f'{method}: the session ends with status 0', s.describe())
    t.clean()
    t.syslog(syslog_event('nscell-init', 'session-left', cell=cell, reason='close'), mark,
             'syslog: nscell-init event=session-left reason=close')
    t.syslog(syslog_event('nscell-init', 'cell-ended', cell=cell, reason='logout'), mark,
             'syslog: nscell-init event=cell-ended reason=logout')


for _m in METHODS:
    test(f'isolation: {_m}: inside sees only its cell, outside sees the session in a new pid namespace')(
        lambda t, m=_m: isolation(t, m))


@test('exempt: Isolate no and root get the harness\'s namespaces')
def _(t):
    env = t.env
    mark = env.syslog.mark()
    for m in ('ssh', 'su'):
        check_login_works(t, env, m, 'nscit-x', expect_cell=False)
    for m in ('ssh', 'su'):
        s = env.run(m, 'root', PROBE)
        t.login_ok(s, f'{m}: root logs in')
        t.eq(s.value('pidns'), env.host_pidns, f'{m}: root is in the harness\'s pid namespace')
        t.eq(s.value('mntns'), env.host_mntns, f'{m}: root is in the harness\'s mount namespace')
    t.check(not env.syslog.find_all(r'event=cell-created', mark), 'no cell was created for them')
    s = env.run('ssh', 'nscit-a', PROBE)
    t.login_ok(s, 'control: nscit-a logs in over the same stack')
    check_in_cell(t, s, 'control: nscit-a, not exempt, is isolated')
    t.clean()


@test('exempt: root is isolated when a Match block names User root')
def _(t):
    env = t.env
    env.set_policy(policy(matches=[('User root', 'Isolate yes'), ('User nscit-x', 'Isolate no')]))
    for m in ('ssh', 'su'):
        s = env.run(m, 'root', PROBE)
        t.login_ok(s, f'{m}: root logs in')
        t.check(s.value('pidns') != env.host_pidns, f'{m}: root is in a pid namespace of its own')
        check_in_cell(t, s, f'{m}: root')
    t.clean()
