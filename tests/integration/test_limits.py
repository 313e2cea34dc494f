# SPDX-License-Identifier: LGPL-2.1-or-later
# Limits where they cannot be enforced: the throwaway host has no systemd as
# init (its /run is a fresh tmpfs), and for these tests no cgroup v2
# controller either (an empty file over the cgroup v2 hierarchy's
# cgroup.controllers, in its mount namespace), so a login with
# MemoryMax/TasksMax/CPUQuota is refused (LimitsUnavailable refuse, the
# default) or goes on unlimited (ignore), with one syslog line either way.
# With the machine's own cgroup v2 hierarchy in view, the path of nscell's
# own cgroups is the one chosen: the last test. That limits are enforced on
# systemd hosts, and on cgroup v2 without systemd, is the VM system test's
# (tests/system/run.sh, limits.sh).

import contextlib
import os
import pwd
import stat

from nscelltest import BEGIN, PROBE, policy, sh, syslog_event, test


def cgroup2_mount():
    """Where nscell looks for cgroup v2 (lib/cellcg.c), and its controllers."""
    for where in ('/sys/fs/cgroup', '/sys/fs/cgroup/unified'):
        try:
            with open(os.path.join(where, 'cgroup.controllers')) as f:
                return where, f.read().split()
        except OSError:
            continue
    return None, []


@contextlib.contextmanager
def no_controllers():
    """The cgroup v2 hierarchy offers no controller, in the throwaway host's
    view, for the block: an empty file bound over its cgroup.controllers."""
    where, _ = cgroup2_mount()
    if where is None:  # none at all: nothing to hide
        yield
        return
    empty = '/run/nscit-no-controllers'
    open(empty, 'w').close()
    sh(['mount', '--bind', empty, os.path.join(where, 'cgroup.controllers')])
    try:
        yield
    finally:
        sh(['umount', os.path.join(where, 'cgroup.controllers')])
        os.unlink(empty)


# What nscell says when no systemd and no usable cgroup v2 are here.
UNAVAILABLE = (r"(the cgroup controller 'memory' is not available|"
               r"systemd is not init here and no cgroup v2 hierarchy is mounted)")

LIMITS = 'MemoryMax 64M\nTasksMax 200\nCPUQuota 50%\n'


@test('limits: not enforceable here, LimitsUnavailable refuse: the login is refused, another user\'s is not')
def _(t):
    env = t.env
    env.set_policy(policy(matches=[('User nscit-a', LIMITS), ('User nscit-x', 'Isolate no')]))
    env.set_pam()
    with no_controllers():
        refused_here(t, env)
    t.clean()


def refused_here(t, env):
    for m in ('ssh', 'su'):
        mark = env.syslog.mark()
        s = env.run(m, 'nscit-a', PROBE)
        t.check(s.rc != 0 and BEGIN not in s.raw, f'{m}: nscit-a (MemoryMax 64M) is refused', s.describe())
        t.syslog(syslog_event('nscell-open', 'limits-unavailable', user='nscit-a', action='refuse'), mark,
                 f'{m}: syslog: nscell-open event=limits-unavailable user=nscit-a action=refuse')
        t.syslog(r'cell not entered for user nscit-a: the limits of this login cannot be enforced: '
                 + UNAVAILABLE, mark,
                 f'{m}: syslog: pam_nscell says why (no cgroup v2 controller for MemoryMax here)')
        s = env.run(m, 'nscit-b', PROBE)
        t.login_ok(s, f'{m}: nscit-b (no limits) logs in, isolated')
        t.check(s.value('pidns') != env.host_pidns, f'{m}: ... in a cell of its own')


@test('limits: not enforceable here, LimitsUnavailable ignore: the login goes on unlimited, logged')
def _(t):
    env = t.env
    env.set_policy(policy(matches=[('User nscit-a', LIMITS + 'LimitsUnavailable ignore\n')]))
    env.set_pam()
    mark = env.syslog.mark()
    with no_controllers():
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
    with no_controllers():
        s = env.run('ssh', 'root', PROBE)
    t.login_ok(s, 'root (Match User root, MemoryMax 64M, LimitsUnavailable refuse) logs in')
    t.check(s.value('pidns') != env.host_pidns, '... isolated')
    t.syslog(syslog_event('nscell-open', 'limits-unavailable', user='root', action='unlimited'), mark,
             'syslog: nscell-open event=limits-unavailable user=root action=unlimited')
    t.clean()


@test('limits: no systemd, cgroup v2 in view: nscell\'s own cgroup for the cell, or a refusal naming the missing controller')
def _(t):
    env = t.env
    where, have = cgroup2_mount()
    t.require(where is not None, 'this machine mounts a cgroup v2 hierarchy (/sys/fs/cgroup or /sys/fs/cgroup/unified)')
    env.set_policy(policy(matches=[('User nscit-a', 'MemoryMax 64M\nTasksMax 200\n')]))
    env.set_pam()
    missing = [c for c in ('memory', 'pids') if c not in have]
    top = os.path.join(where, 'nscell.cells')
    made_top = not os.path.exists(top)
    with open(os.path.join(where, 'cgroup.subtree_control')) as f:
        enabled = f.read().split()
    mark = env.syslog.mark()
    try:
        s = env.run('ssh', 'nscit-a', PROBE + 'echo "cg=$(grep ^0:: /proc/self/cgroup)"\n'
                    'echo "mem=$(cat /sys/fs/cgroup/memory.max 2>/dev/null)"')
        if missing:
            # This machine's v2 hierarchy lacks them (bound to cgroup v1):
            # the cgroup path is the one chosen, and it says what is missing.
            t.check(s.rc != 0 and BEGIN not in s.raw, f'nscit-a (MemoryMax 64M) is refused: {missing[0]} is not in {where}',
                    s.describe())
            t.syslog(rf"cell not entered for user nscit-a: the limits of this login cannot be enforced: "
                     rf"the cgroup controller '{missing[0]}' is not available \(see {where}/cgroup.controllers\)",
                     mark, f'syslog: pam_nscell names the controller and {where}/cgroup.controllers')
            t.check(not os.path.exists(top) or not made_top, f'no {top} is made for a refused login')
        else:
            t.login_ok(s, 'nscit-a (MemoryMax 64M, TasksMax 200) logs in, isolated')
            cells = [n for n in os.listdir(top) if n.startswith(f'u{pwd.getpwnam("nscit-a").pw_uid}.')]
            t.check(len(cells) == 1, f'one cgroup of nscit-a\'s in {top}', repr(cells))
            st = os.stat(top)
            t.check(st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o755, f'{top} is root\'s, 0755')
    finally:
        for n in (os.listdir(top) if os.path.isdir(top) else []):
            if n.startswith('u') and os.path.isdir(os.path.join(top, n)):
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(top, n))
        if made_top:
            with contextlib.suppress(OSError):
                os.rmdir(top)
        # The controllers nscell enabled at the root, disabled again.
        for c in ('memory', 'pids'):
            if c in have and c not in enabled:
                with contextlib.suppress(OSError), open(os.path.join(where, 'cgroup.subtree_control'), 'w') as f:
                    f.write('-' + c)
    t.clean()
