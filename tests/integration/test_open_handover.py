# SPDX-License-Identifier: LGPL-2.1-or-later
# nscell-open is static (musl) and never resolves a name (unit test
# open-static); a request it cannot serve without NSS, as a pam_nscell.so of
# an older release sends (the user's name and no decision), is handed to
# nscell-open-full, which resolves the user, reads the policy and makes the
# cell (helper/open.c, phase 3a). Here a root process stands in for that
# module: it makes the socket pair, sends such a request and is the helper's
# parent, as pam_nscell is. Where the build has no musl (the sanitized one),
# nscell-open is the glibc build itself: it serves the same request with NSS,
# and nothing is handed over.

import os
import re

from nscelltest import USERS, sh, syslog_event, test

OLD_MODULE = r'''
import array, os, socket, struct, subprocess, sys
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
body = b"verb=open\0user=nscit-a\0service=su-l\0debug=1\0"
a.send(struct.pack("<IHHIi", 0x4e53434c, 16, 1, 16 + len(body), 0) + body)
def on3():
    os.dup2(b.fileno(), 3)
    os.set_inheritable(3, True)
p = subprocess.run([sys.argv[1], "open"], preexec_fn=on3, close_fds=False,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
b.close()
msg, fds, _, _ = socket.recv_fds(a, 16384, 4)
for fd in fds:
    os.close(fd)
print(f"rc={p.returncode} answer={len(msg)} fds={len(fds)}")
'''


def static(path):
    with open(path, 'rb') as f:
        elf = f.read(1 << 20)
    return b'/lib64/ld-linux' not in elf and b'/lib/ld-linux' not in elf


@test('open: a request without the module\'s decision is served by nscell-open-full, with NSS')
def _(t):
    env = t.env
    helper = env.open_helper
    full = os.path.join(os.path.dirname(helper), 'nscell-open-full')
    handover = os.path.exists(full)
    t.check(handover == static(helper),
            'nscell-open-full is installed exactly when nscell-open is the static build',
            f'nscell-open-full: {handover}, nscell-open static: {static(helper)}')
    if handover:
        st = os.stat(full)
        t.check(st.st_uid == 0 and st.st_mode & 0o7777 == 0o755,
                'nscell-open-full is root\'s, 0755, no setuid bit', oct(st.st_mode))
    mark = env.syslog.mark()
    r = sh(['python3', '-c', OLD_MODULE, helper], check=False)
    t.check('rc=0 ' in r.stdout and 'fds=2' in r.stdout,
            'an old module\'s request (no decision): PAM_SUCCESS with the init pidfd and the session socket',
            r.stdout + r.stderr)
    t.syslog(syslog_event('nscell-open', 'cell-created', user='nscit-a'), mark,
             f'syslog: the cell of nscit-a (uid {USERS["nscit-a"]}) was made')
    handed = [ln for ln in env.syslog.since(mark)
              if re.search(syslog_event('nscell-open', 'handover', user='nscit-a'), ln)]
    if handover:
        t.check(handed, 'syslog: nscell-open says it handed the login over, and why (debug)',
                '\n'.join(env.syslog.since(mark))[-2000:])
    else:
        t.check(not handed, 'the glibc nscell-open served it itself: nothing handed over',
                '\n'.join(handed))
    t.clean('the stand-in module exited: its cell ended, nothing is left')
