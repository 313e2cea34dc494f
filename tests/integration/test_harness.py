# SPDX-License-Identifier: LGPL-2.1-or-later
# The harness itself, with the hosts's PAM stacks and no nscell line: every kind
# of login works in the private namespace, syslog is caught, and the leak
# detector sees what a login leaves behind (so the nscell tests can trust it).

import os
import re
import signal

from nscelltest import (METHODS, SERVICE_OF, USERS, HOLD, PROBE, check_login_works,
                        check_ssh_features, find_procs, poll, test)


@test('harness: every login method works in the private namespace', nscell=False)
def _(t):
    for m in METHODS:
        mark = t.env.syslog.mark()
        s = check_login_works(t, t.env, m, 'nscit-a', expect_cell=False)
        if m == 'ssh-tty' or m == 'login':
            t.check(re.match(r'/dev/pts/\d+$', s.value('tty') or ''),
                    f'{m}: the session has a pty', s.describe())
        t.syslog(rf'^authpriv\.info [\w-]+(\[\d+\])?: pam_unix\({SERVICE_OF[m]}:session\): session opened for user nscit-a\(',
                 mark, f'{m}: syslog caught pam_unix({SERVICE_OF[m]}:session) "session opened"')
    t.clean('no login left anything behind')


@test('harness: ssh sftp, ControlMaster, agent and -L forwarding work', nscell=False)
def _(t):
    check_ssh_features(t, t.env, 'nscit-b', expect_cell=False)
    t.clean('no ssh feature left anything behind')


@test('harness: the leak detector sees a process left by a logout', nscell=False)
def _(t):
    # Without nscell nothing cleans up after a logout: the detector must say so.
    s = t.env.run('ssh', 'nscit-c', 'nohup sleep 997.5 >/dev/null 2>&1 &')
    t.login_ok(s)
    left = t.env.wait_clean(timeout=1)
    t.check(any('sleep 997.5' in x for x in left),
            'a nohup sleep left by a plain ssh login is reported as left over', '\n'.join(left))
    for p in find_procs('sleep 997.5'):
        os.kill(p.pid, signal.SIGKILL)
    t.clean('after killing it, nothing is reported')


@test('harness: a held session is visible from the harness and ends on release', nscell=False)
def _(t):
    s = t.env.login('su', 'nscit-d', PROBE + 'sleep 30.4242 >/dev/null 2>&1 &\n' + HOLD)
    t.require(s.wait_held(), 'the held su session comes up', s.describe())
    t.check(poll(lambda: find_procs('sleep 30.4242'), 3), 'its background process is visible from the harness')
    s.release()
    s.wait()
    t.check(s.ok, 'released, the session exits 0', s.describe())
    for p in find_procs('sleep 30.4242'):
        os.kill(p.pid, signal.SIGKILL)
    t.clean()


@test('harness: syslog catcher and /etc copies', nscell=False)
def _(t):
    mark = t.env.syslog.mark()
    os.system('logger -p authpriv.notice -t nscit-probe "hello from the harness"')
    t.syslog(r'^authpriv\.notice nscit-probe(\[\d+\])?: hello from the harness', mark,
             'a logger line arrives as authpriv.notice')
    with open('/etc/passwd') as f:
        t.check(f'nscit-a:x:{USERS["nscit-a"]}:' in f.read(), 'test users are in the private /etc/passwd')
    t.check(os.stat('/home/nscit-a').st_uid == USERS['nscit-a'], 'homes are under the private /home, owned by the user')
    with open('/proc/self/mountinfo') as f:
        mi = f.read()
    for d in ('/etc', '/usr/local', '/var', '/root'):
        t.check(re.search(rf' {d} [^\n]* - overlay ', mi), f'{d} is an overlay (the host\'s copy is the lower layer)')
    for d in ('/run', '/home', '/tmp', '/var/tmp', '/dev', '/dev/shm'):
        t.check(re.search(rf' {d} [^\n]* - tmpfs ', mi), f'{d} is a private tmpfs')
    t.check(re.search(r' /dev/pts [^\n]* - devpts ', mi), '/dev/pts is a devpts instance of its own')
    root = next(ln for ln in mi.splitlines() if ln.split()[4] == '/')
    if t.env.shared:
        t.check(' shared:' in root, '/ is shared (--shared: as on a systemd host)', root)
    else:
        t.check(' shared:' not in root and ' master:' not in root, '/ is private', root)
