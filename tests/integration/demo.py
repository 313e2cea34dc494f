# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/demo: one ssh login into a cell, shown from inside and from outside.
# Runs in run-in-ns's throwaway host like the tests; nothing on the machine
# is changed and everything is gone when it ends.

import os
import re

from nscelltest import HOLD, cell_of, host_pid_of, log, procs, sh, test, write

DEMO_USER, DEMO_UID = 'demo', 64150

INSIDE = r'''
echo "\$ ps ax"; ps ax
echo "\$ echo \$\$"; echo $$
echo "\$ readlink /proc/self/ns/pid"; readlink /proc/self/ns/pid
echo "\$ touch /tmp/made-inside; ls /tmp"; touch /tmp/made-inside; ls /tmp
echo "shell_pid=$$"
echo "pidns=$(readlink /proc/self/ns/pid)"
echo "init=$(tr '\0' '|' < /proc/1/cmdline)"
'''


def show(title, text):
    log(f'\n== {title}')
    for ln in text.rstrip('\n').splitlines():
        log('   ' + ln)


@test('demo: one ssh login into a cell')
def _(t):
    env = t.env
    env.add_user(DEMO_USER, DEMO_UID)
    write('/tmp/host-file', 'made by the host\n')
    with open('/etc/security/nscell.conf') as f:
        show('/etc/security/nscell.conf', f.read())
    with open('/etc/pam.d/sshd') as f:
        show('/etc/pam.d/sshd (session lines)',
             ''.join(ln for ln in f if re.match(r'\s*(-?session|@include common-session)', ln)))
    mark = env.syslog.mark()
    s = env.login('ssh', DEMO_USER, INSIDE + HOLD)
    t.require(s.wait_held(), f'{DEMO_USER} logs in over ssh', s.describe())
    inside = s.out.split('shell_pid=')[0]
    show(f'inside: ssh {DEMO_USER}@127.0.0.1', inside)
    shell = host_pid_of(s)
    t.require(shell, 'the session\'s shell is found from outside')
    outside = f'$ ls /tmp\n{sh(["ls", "/tmp"]).stdout}'
    outside += f'$ pstree -p {env.sshd.pid}    # the sshd branch\n'
    outside += sh(['pstree', '-p', str(env.sshd.pid)]).stdout
    cell = cell_of(s)
    init = next((p for p in procs()
                 if p.pidns == shell.pidns and p.nspid[-1] == 1), None)
    if init:
        outside += f'$ pstree -p {init.pid}    # the cell\'s PID 1\n' + sh(['pstree', '-p', str(init.pid)]).stdout
    outside += f'$ readlink /proc/{shell.pid}/ns/pid    # the shell (pid {shell.nspid[-1]} inside)\n{shell.pidns}\n'
    outside += f'$ readlink /proc/self/ns/pid    # the host\n{env.host_pidns}\n'
    show('outside: the host\'s view', outside)
    t.check(cell, f'inside, PID 1 is nscell-init for cell {cell}')
    t.check(shell.pidns != env.host_pidns, 'the shell is in a pid namespace of its own')
    t.check('host-file' not in inside and 'made-inside' in inside,
            'inside, /tmp has only what the session made')
    t.check(not os.path.exists('/tmp/made-inside'), 'outside, the file made inside is not in /tmp')
    s.release()
    s.wait()
    t.clean('after logout: no process, cell, mount or /run/nscell entry is left')
    show('syslog (authpriv) of the login', '\n'.join(
        ln for ln in env.syslog.since(mark) if 'nscell' in ln))
