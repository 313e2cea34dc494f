# SPDX-License-Identifier: LGPL-2.1-or-later
# Limits where they cannot be enforced: the throwaway host has no systemd as
# init (its /run is a fresh tmpfs), which is where nscell sets limits, so a
# login with MemoryMax/TasksMax/CPUQuota is refused (LimitsUnavailable refuse,
# the default) or goes on unlimited (ignore), with one syslog line either way.
# That limits are enforced on systemd hosts is the VM system test's
# (tests/system/run.sh).

from nscelltest import BEGIN, PROBE, policy, syslog_event, test

LIMITS = 'MemoryMax 64M\nTasksMax 200\nCPUQuota 50%\n'


@test('limits: not enforceable here, LimitsUnavailable refuse: the login is refused, another user\'s is not')
def _(t):
    env = t.env
    env.set_policy(policy(matches=[('User nscit-a', LIMITS), ('User nscit-x', 'Isolate no')]))
    env.set_pam()
    for m in ('ssh', 'su'):
        mark = env.syslog.mark()
        s = env.run(m, 'nscit-a', PROBE)
        t.check(s.rc != 0 and BEGIN not in s.raw, f'{m}: nscit-a (MemoryMax 64M) is refused', s.describe())
        t.syslog(syslog_event('nscell-open', 'limits-unavailable', user='nscit-a', action='refuse'), mark,
                 f'{m}: syslog: nscell-open event=limits-unavailable user=nscit-a action=refuse')
        t.syslog(r'cell not entered for user nscit-a: the limits of this login cannot be enforced: '
                 r'systemd is not init here', mark,
                 f'{m}: syslog: pam_nscell says why (systemd is not init here)')
        s = env.run(m, 'nscit-b', PROBE)
        t.login_ok(s, f'{m}: nscit-b (no limits) logs in, isolated')
        t.check(s.value('pidns') != env.host_pidns, f'{m}: ... in a cell of its own')
    t.clean()


@test('limits: not enforceable here, LimitsUnavailable ignore: the login goes on unlimited, logged')
def _(t):
    env = t.env
    env.set_policy(policy(matches=[('User nscit-a', LIMITS + 'LimitsUnavailable ignore\n')]))
    env.set_pam()
    mark = env.syslog.mark()
    s = env.run('ssh', 'nscit-a', PROBE)
    t.login_ok(s, 'nscit-a logs in')
    t.check(s.value('pidns') != env.host_pidns, '... isolated in its cell')
    t.syslog(syslog_event('nscell-open', 'limits-unavailable', user='nscit-a', action='unlimited'), mark,
             'syslog: nscell-open event=limits-unavailable user=nscit-a action=unlimited')
    t.clean()


@test('limits: root is never refused for its limits')
def _(t):
    env = t.env
    env.set_policy(policy(matches=[('User root', 'Isolate yes\n' + LIMITS)]))
    env.set_pam()
    mark = env.syslog.mark()
    s = env.run('ssh', 'root', PROBE)
    t.login_ok(s, 'root (Match User root, MemoryMax 64M, LimitsUnavailable refuse) logs in')
    t.check(s.value('pidns') != env.host_pidns, '... isolated')
    t.syslog(syslog_event('nscell-open', 'limits-unavailable', user='root', action='unlimited'), mark,
             'syslog: nscell-open event=limits-unavailable user=root action=unlimited')
    t.clean()
