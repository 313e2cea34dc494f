# SPDX-License-Identifier: LGPL-2.1-or-later
# Load: 200 logins over two minutes (ssh, ssh -tt, su, runuser, login; six
# users, session and user cells, kill and drain logout, one exempt user), each
# leaving a background process behind, ended by a random pattern: logout, EOF,
# the client killed, the opener (sshd monitor, su) killed, the shell killed.
# Every login the policy allows must come up in the right place; at the end
# nothing is left. NSCELL_LOAD_LOGINS / NSCELL_LOAD_SECONDS / NSCELL_LOAD_SEED
# change the size and the random pattern (the seed is printed).

import os
import random
import signal
import sys
import threading
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(__file__))
import nscelltest as nt  # noqa: E402
from nscelltest import HOLD, USERS, cell_of, policy, test  # noqa: E402

LOGINS = int(os.environ.get('NSCELL_LOAD_LOGINS', '200'))
SECONDS = float(os.environ.get('NSCELL_LOAD_SECONDS', '120'))
CONCURRENT = 12
USER_SCOPE = ('nscit-d', 'nscit-e')
DRAIN = ('nscit-c',)
SCRIPT = ('echo "shell_pid=$$"; echo "pidns=$(readlink /proc/self/ns/pid)"; '
          'echo "init=$(tr \'\\0\' \'|\' < /proc/1/cmdline)"; {bg}\n' + HOLD)
# Left behind at every logout (the logout policy must deal with it); not by
# the exempt user, whom nscell does not clean up after.
BG = 'nohup sleep 1000.{n} >/dev/null 2>&1 &'
PATTERNS = ['logout', 'logout', 'eof', 'kill-client', 'kill-opener', 'kill-shell']


def kill_opener(env, s):
    """SIGKILL the process that opened the PAM session: su/runuser itself, or
    the sshd monitor above the session's shell."""
    if s.method in ('su', 'runuser'):
        os.kill(s.proc.pid, signal.SIGKILL)
        return 'su'
    if s.method == 'login':
        os.kill(s.login_pid, signal.SIGKILL)
        return 'login'
    monitor = nt.sshd_monitor(env, s)
    if monitor is None:
        return None
    os.kill(monitor.pid, signal.SIGKILL)
    return 'sshd monitor'


@test('load: 200 logins in two minutes with random logouts and kills; none refused, nothing left')
def _(t):
    env = t.env
    seed = int(os.environ.get('NSCELL_LOAD_SEED', str(int(time.time()))))
    rng = random.Random(seed)
    nt.log(f'    load: {LOGINS} logins over {SECONDS:.0f} s, seed {seed} (NSCELL_LOAD_SEED={seed} repeats it)')
    env.set_policy(policy(matches=[('User nscit-x', 'Isolate no'),
                                   ('User ' + ','.join(USER_SCOPE), 'Scope user'),
                                   ('User ' + ','.join(DRAIN), 'Logout drain\nDrainLimit 2s')]))
    mark = env.syslog.mark()
    users = [u for u in USERS]
    methods = ['ssh'] * 5 + ['su'] * 3 + ['runuser'] * 2 + ['ssh-tty', 'login']
    plan = []
    for i in range(LOGINS):
        user, method, pattern = rng.choice(users), rng.choice(methods), rng.choice(PATTERNS)
        if user == 'nscit-x':
            # Exempt: nscell neither isolates nor cleans up after it; a killed
            # opener would leave its shell running, which is not ours to test.
            pattern = 'logout'
        plan.append((i, user, method, pattern, rng.uniform(0, 1.5)))
    results = {}
    slots = threading.Semaphore(CONCURRENT)
    lock = threading.Lock()

    def one(i, user, method, pattern, hold):
        try:
            s = env.login(method, user, SCRIPT.format(bg='' if user == 'nscit-x' else BG.format(n=i)))
            up = s.wait_held(45)
            r = {'user': user, 'method': method, 'pattern': pattern, 'up': up, 'detail': ''}
            if not up:
                r['detail'] = s.describe()
                s.kill()
                s.wait(5)
            else:
                pidns = s.value('pidns')
                if user == 'nscit-x':
                    r['placed'] = pidns == env.host_pidns
                elif user in USER_SCOPE:
                    r['placed'] = cell_of(s) == f'user-{USERS[user]}'
                else:
                    r['placed'] = (cell_of(s) or '').startswith('session-')
                if not r['placed']:
                    r['detail'] = s.describe()
                time.sleep(hold)
                how = pattern
                if pattern == 'logout' or (pattern == 'eof' and method in ('login', 'ssh-tty')):
                    s.release()
                elif pattern == 'eof':
                    s.close_stdin()
                elif pattern == 'kill-client':
                    # The client process only: signals to a login program's
                    # whole process group are a test of their own (test_faults).
                    if method in ('ssh', 'ssh-tty'):
                        s.kill()
                    else:
                        os.kill(s.login_pid if method == 'login' else s.proc.pid, signal.SIGKILL)
                elif pattern == 'kill-opener':
                    how = f'kill-opener ({kill_opener(env, s)})'
                elif pattern == 'kill-shell':
                    p = nt.host_pid_of(s)
                    if p:
                        os.kill(p.pid, signal.SIGKILL)
                    else:
                        s.release()
                r['how'] = how
                with lock:
                    results[i] = r
                try:
                    rc = s.wait(30)
                except ChildProcessError:
                    rc = -1
                if rc is None and pattern in ('logout', 'eof'):
                    r['detail'] = 'did not end: ' + s.describe()
            with lock:
                results[i] = r
        except Exception as e:  # noqa: B902
            with lock:
                r = results.get(i) or {'user': user, 'method': method, 'pattern': pattern, 'up': False}
                r['detail'] = f'{r.get("detail", "")} exception {e!r}'
                results[i] = r
        finally:
            slots.release()

    start = time.monotonic()
    threads = []
    for n, (i, user, method, pattern, hold) in enumerate(plan):
        due = start + n * SECONDS / LOGINS
        while time.monotonic() < due:
            time.sleep(0.01)
        slots.acquire()
        th = threading.Thread(target=one, args=(i, user, method, pattern, hold), daemon=True)
        th.start()
        threads.append(th)
    for th in threads:
        th.join(90)
    took = time.monotonic() - start
    up = [r for r in results.values() if r['up']]
    failed = [f'#{i} {r["method"]} {r["user"]}: {r["detail"][-600:]}' for i, r in sorted(results.items())
              if not r['up']]
    misplaced = [f'#{i} {r["method"]} {r["user"]}: {r["detail"][-600:]}' for i, r in sorted(results.items())
                 if r['up'] and not r.get('placed')]
    hung = [f'#{i}: {r["detail"][-400:]}' for i, r in sorted(results.items()) if r['detail'].startswith('did not end')]
    nt.log(f'    load: {len(results)} logins in {took:.0f} s: {len(up)} came up; methods '
           f'{dict(Counter(r["method"] for r in results.values()))}; endings '
           f'{dict(Counter(r.get("how", "-") for r in results.values()))}')
    t.eq(len(results), LOGINS, f'all {LOGINS} logins were made')
    t.check(not failed, f'every login the policy allows came up ({len(failed)} did not)', '\n'.join(failed[:10]))
    t.check(not misplaced, 'every login landed in the right place (session cell, user cell, or exempt)',
            '\n'.join(misplaced[:10]))
    t.check(not hung, 'every logout and EOF ended its login', '\n'.join(hung[:10]))
    t.clean('after the load: no process, cell, mount or /run/nscell entry left', timeout=20)
    created = Counter(ln.split('cell=')[1].split()[0] for ln in env.syslog.find_all(
        nt.syslog_event('nscell-open', 'cell-created'), mark))
    ended = Counter(ln.split('cell=')[1].split()[0] for ln in env.syslog.find_all(
        nt.syslog_event('nscell-init', 'cell-ended'), mark))
    t.eq(set(created) - set(ended), set(), f'syslog: each of the {len(created)} cells created has ended')
    errors = env.syslog.find_all(r'event=(init-error|error)', mark)
    t.check(not errors, 'syslog: no nscell error event', '\n'.join(errors[:10]))
