# SPDX-License-Identifier: LGPL-2.1-or-later
# When the cell cannot be set up: `session required` refuses the login,
# `session optional` lets it in unisolated; either way one syslog line says why.

import os
import socket
import subprocess

from nscelltest import (BEGIN, ECHO_PORT, METHODS, SERVICE_OF, PROBE, WORK, policy, poll,
                        test, write)

BROKEN = 'Isolate yes\nScope session\nNoSuchKey 1\n'  # line 3, column 1


def refused_or_unisolated(t, methods, why_rx, what, args='debug', user='nscit-a'):
    """Every method with `session required` (refused), then `session optional`
    (in, unisolated), each with a matching syslog line."""
    env = t.env
    for control in ('required', 'optional'):
        env.set_pam(control=control, args=args)
        for m in methods:
            svc = SERVICE_OF[m]
            mark = env.syslog.mark()
            s = env.run(m, user, PROBE)
            if control == 'required':
                t.check(s.rc != 0 and BEGIN not in s.raw,
                        f'{what}: {m} with session required: the login is refused', s.describe())
            else:
                t.check(s.ok, f'{what}: {m} with session optional: the login goes on', s.describe())
                t.eq(s.value('pidns'), env.host_pidns, f'{what}: {m} with session optional: ... unisolated')
            t.syslog(rf'^authpriv\.err \S+: pam_nscell\({svc}:session\): cell not entered for user {user}: '
                     + why_rx, mark, f'{what}: {m}: syslog: pam_nscell({svc}:session): cell not entered ...')
    t.clean()


@test('failures: a broken policy file')
def _(t):
    t.env.set_policy(BROKEN)
    refused_or_unisolated(t, METHODS, r'policy error: /etc/security/nscell\.conf:3:1\b', 'broken policy')


@test('failures: a broken policy never locks root out')
def _(t):
    env = t.env
    env.set_policy(BROKEN.replace('Isolate yes\n', 'Isolate yes\nMatch User root\n  Isolate yes\n'))
    mark = env.syslog.mark()
    s = env.run('ssh', 'root', PROBE)
    t.login_ok(s, 'root logs in over ssh with session required and a broken policy')
    t.eq(s.value('pidns'), env.host_pidns, '... unisolated')
    t.syslog(r'pam_nscell\(sshd:session\): policy error: .*root is never locked out', mark,
             'syslog: "policy error: ...; root is never locked out"')
    t.clean()


@test('failures: a missing helper (helper=/nonexistent)')
def _(t):
    refused_or_unisolated(t, ['ssh', 'su', 'login'], r'.*/nonexistent', 'missing helper',
                          args='debug helper=/nonexistent')


@test('failures: a helper that exits 1 without an answer')
def _(t):
    path = '/usr/local/libexec/nscell/nscit-failing-helper'
    write(path, '#!/bin/sh\nexit 1\n', 0o755)
    try:
        refused_or_unisolated(t, ['ssh', 'su', 'sudo'], rf'.*{path}', 'failing helper',
                              args=f'debug helper={path}')
    finally:
        os.unlink(path)


@test('failures: a policy the helper cannot set up (PersistentRoot is a regular file)')
def _(t):
    write(f'{WORK}/not-a-directory', 'x\n', 0o644)
    t.env.set_policy(policy(extra=f'Tmp persistent\nPersistentRoot {WORK}/not-a-directory\n'))
    refused_or_unisolated(t, ['ssh', 'su'], r'.*', 'setup failure')



@test('failures: a refused ssh login gets no port forwarding either (ssh -N -L)')
def _(t):
    env = t.env
    env.set_policy(BROKEN)
    for control, lport in (('required', 18101), ('optional', 18102)):
        env.set_pam(control=control)
        client = subprocess.Popen(env.ssh_argv('nscit-a', opts=[
            '-N', '-L', f'127.0.0.1:{lport}:127.0.0.1:{ECHO_PORT}']), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        echoed = b''

        def forwarded():
            nonlocal echoed
            try:
                with socket.create_connection(('127.0.0.1', lport), timeout=5) as c:
                    c.sendall(b'nscit-echo\n')
                    c.settimeout(5)
                    echoed = c.recv(100)
                    return True
            except OSError:
                return client.poll() is not None
        poll(forwarded, timeout=10, interval=0.2)
        client.kill()
        client.wait()
        if control == 'required':
            t.eq(echoed, b'', 'session required: nothing comes back through -L (sshd restricts the refused session)')
        else:
            t.eq(echoed, b'nscit-echo\n', 'session optional: -L works, unisolated (the control case)')
    t.clean()
