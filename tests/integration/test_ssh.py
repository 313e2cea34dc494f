# SPDX-License-Identifier: LGPL-2.1-or-later
# Everything ssh does still works from inside a cell: command, pty, sftp,
# multiplexed channels, agent and port forwarding.

import re

from nscelltest import PROBE, check_in_cell, check_ssh_features, test


@test('ssh: command and pty sessions work in a cell')
def _(t):
    env = t.env
    s = env.run('ssh', 'nscit-b', PROBE + 'echo "stdin=$(cat)"', )
    t.login_ok(s, 'ssh with a command logs in')
    check_in_cell(t, s, 'ssh command')
    t.eq(s.value('tty'), 'not a tty', 'ssh command: no pty')
    s = env.run('ssh-tty', 'nscit-b', PROBE + 'stty -a >/dev/null && echo "stty=ok"')
    t.login_ok(s, 'ssh -tt logs in')
    check_in_cell(t, s, 'ssh -tt')
    t.check(re.fullmatch(r'/dev/pts/\d+', s.value('tty') or ''), 'ssh -tt: the shell has a pty', s.describe())
    t.eq(s.value('stty'), 'ok', 'ssh -tt: the pty answers stty')
    t.clean()


@test('ssh: sftp, ControlMaster multiplexing, agent (-A) and -L forwarding work in a cell')
def _(t):
    check_ssh_features(t, t.env, 'nscit-b', expect_cell=True)
    t.clean()
