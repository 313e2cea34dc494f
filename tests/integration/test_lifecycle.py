# SPDX-License-Identifier: LGPL-2.1-or-later
# A cell's life: orphans are reaped, the logout policy (kill, drain) is applied
# to leftovers, nothing outlives the cell, and a cell whose opener dies ends.

import os
import signal
import time

from nscelltest import (HOLD, PROBE, cell_sockets, check_in_cell, find_procs,
                        policy, poll, procs, sshd_monitor, syslog_event, test)

ORPHAN = r'''
orphan=$(sh -c 'sleep 1.2 >/dev/null 2>&1 & echo $!')
sleep 0.3
echo "orphan_ppid=$(ps -o ppid= -p $orphan | tr -d ' ')"
sleep 2.5
echo "orphan_alive=$(ps -o pid= -p $orphan | tr -d ' ')"
echo "zombies=$(ps -eo stat=,pid=,args= | awk '$1 ~ /^Z/' | tr '\n' ';')"
'''


@test('lifecycle: an orphan in a cell is adopted by nscell-init and reaped')
def _(t):
    for m in ('ssh', 'su', 'login'):
        s = t.env.run(m, 'nscit-a', PROBE + ORPHAN)
        t.login_ok(s, f'{m}: logs in', require=False)
        check_in_cell(t, s, m)
        t.eq(s.value('orphan_ppid'), '1', f'{m}: the orphaned sleep is adopted by PID 1 (nscell-init)')
        t.eq(s.value('orphan_alive'), '', f'{m}: after it exits, it is gone (ps -p finds nothing)')
        t.eq(s.value('zombies'), '', f'{m}: no zombie in the cell')
    t.clean()


def leave_behind(t, method, secs):
    """Log in, leave `nohup sleep SECS &` behind, log out; returns the cell id."""
    s = t.env.run(method, 'nscit-a', PROBE + f'nohup sleep {secs} >/dev/null 2>&1 &\necho "bg=$!"')
    t.require(s.ok, f'{method}: logs in, starts nohup sleep {secs} & and logs out', s.describe())
    cell = check_in_cell(t, s, method)
    t.check(s.value('bg'), f'{method}: the sleep was started (its pid in the cell: {s.value("bg")})')
    return cell


@test('lifecycle: Logout kill: a nohup sleep left behind is killed at logout')
def _(t):
    for m in ('ssh', 'su', 'sudo'):
        mark = t.env.syslog.mark()
        cell = leave_behind(t, m, '1000.1')
        t.clean(f'{m}: within 5 s the sleep, the cell and its socket are gone')
        t.syslog(syslog_event('nscell-init', 'cell-ended', cell=cell, reason='logout'), mark,
                 f'{m}: syslog: event=cell-ended reason=logout')
    t.check(os.path.isdir('/run/nscell/locks') and os.listdir('/run/nscell/cells') == [],
            '/run/nscell keeps its locks/ directory and has no cell left under cells/',
            str(os.listdir('/run/nscell')))


@test('lifecycle: Logout drain: a nohup sleep survives logout until DrainLimit 3s')
def _(t):
    env = t.env
    env.set_policy(policy(logout='drain', drain_limit='3s', matches=[('User nscit-x', 'Isolate no')]))
    mark = env.syslog.mark()
    t0 = time.monotonic()
    cell = leave_behind(t, 'ssh', '1000.2')
    time.sleep(1.5)
    alive = find_procs('sleep 1000.2')
    t.check(alive, '1.5 s after logout the sleep is still running')
    t.check(f'{cell}.sock' in cell_sockets(), 'the draining cell still has its socket', str(cell_sockets()))
    t.check(poll(lambda: not find_procs('sleep 1000.2'), timeout=8),
            'it is killed once the DrainLimit has passed')
    took = time.monotonic() - t0
    t.check(2.5 <= took <= 8, f'... {took:.1f} s after the logout (limit 3 s)')
    t.clean()
    t.syslog(syslog_event('nscell-init', 'cell-ended', cell=cell, reason='drain-limit'), mark,
             'syslog: event=cell-ended reason=drain-limit')


@test('lifecycle: Logout drain: the cell ends as soon as its leftovers finish')
def _(t):
    env = t.env
    env.set_policy(policy(logout='drain', drain_limit='30s', matches=[('User nscit-x', 'Isolate no')]))
    mark = env.syslog.mark()
    cell = leave_behind(t, 'su', '1.5')
    t.clean('the cell is gone within a few seconds of the sleep\'s end', timeout=6)
    t.syslog(syslog_event('nscell-init', 'cell-ended', cell=cell, reason='drained'), mark,
             'syslog: event=cell-ended reason=drained')


def kill_opener(t, method, find_opener):
    env = t.env
    mark = env.syslog.mark()
    s = env.login(method, 'nscit-a', PROBE + 'sleep 1000.3 >/dev/null 2>&1 &\n' + HOLD)
    t.require(s.wait_held(), f'{method}: logs in and holds', s.describe())
    cell = check_in_cell(t, s, method)
    opener = find_opener(s)
    t.require(opener, f'{method}: the process that opened the PAM session is found')
    os.kill(opener.pid, signal.SIGKILL)
    t.check(s.wait(10) is not None,
            f'{method}: kill -9 {opener.pid} ({" ".join(opener.argv).strip()}) ends the login', s.describe())
    t.clean(f'{method}: within 5 s nothing of the session or its cell is left')
    t.syslog(syslog_event('nscell-init', 'session-left', cell=cell, reason='opener-exit'), mark,
             f'{method}: syslog: event=session-left reason=opener-exit')
    t.syslog(syslog_event('nscell-init', 'cell-ended', cell=cell), mark,
             f'{method}: syslog: event=cell-ended')


@test('lifecycle: kill -9 of the sshd monitor ends the cell')
def _(t):
    kill_opener(t, 'ssh', lambda s: sshd_monitor(t.env, s))


@test('lifecycle: kill -9 of su ends the cell')
def _(t):
    kill_opener(t, 'su', lambda s: next((p for p in procs() if p.pid == s.proc.pid), None))
