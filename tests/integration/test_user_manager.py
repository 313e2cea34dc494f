# SPDX-License-Identifier: LGPL-2.1-or-later
# systemctl --user from a cell: the cell's own socket over
# $XDG_RUNTIME_DIR/systemd/private, served by nscell-relay.
#
# The harness has no systemd user manager, so a stand-in listens on the
# user's /run/user/UID/systemd/private before the login: it records
# SO_PEERCRED of whoever connects, answers the authentication as sd-bus does
# and echoes each D-Bus message with the descriptors that came with it. A
# client in the cell, through a real ssh login, checks what systemctl checks
# (the peer's pid visible, its uid 0 or its own) and that bytes and fds make
# the round trip, each fd with its own message, a message larger than the
# relay's buffer between them.

import os
import shutil
import socket
import struct
import threading

from nscelltest import PROBE, USERS, WORK, check_in_cell, log, policy, test, write

USER = 'nscit-a'
UID = USERS[USER]
GID = UID
RUNTIME = f'/run/user/{UID}'

CLIENT = r'''
import os, socket, struct, sys, threading

def frame(serial, body):
    return b'l\x01\x00\x01' + struct.pack('<III', len(body), serial, 0) + body

def recv_exact(s, n, fds, at):
    got = b''
    while len(got) < n:
        data, new, _, _ = socket.recv_fds(s, n - len(got), 16)
        if not data:
            raise EOFError('the relay closed the connection')
        if new:
            fds.append((at + len(got), new))
        got += data
    return got

path = f'/run/user/{os.getuid()}/systemd/private'
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(path)
pid, uid, gid = struct.unpack('3i', s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
print(f'peer_pid={pid}')
print(f'peer_uid={uid}')
print(f'own_uid={os.getuid()}')
try:
    print('peer_comm=' + open(f'/proc/{pid}/comm').read().strip())
except OSError as e:
    print(f'peer_comm=unreadable {e}')
s.sendall(b'\0AUTH EXTERNAL ' + str(os.getuid()).encode().hex().encode()
          + b'\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n')
auth = b''
while auth.count(b'\r\n') < 2:
    c = s.recv(1)
    if not c:
        break
    auth += c
print('auth=' + auth.decode(errors='replace').replace('\r\n', '|'))

pipes = [os.pipe(), os.pipe()]
big = bytes(range(256)) * 400  # 102400 bytes: more than the relay's buffer
msgs = [(frame(1, b'one!'), [pipes[0][1]]), (frame(2, big), []), (frame(3, b'three...'), [pipes[1][1]])]

def send():
    for data, fds in msgs:
        if fds:
            socket.send_fds(s, [data], fds)
        else:
            s.sendall(data)
threading.Thread(target=send, daemon=True).start()

stream, fds = b'', []
spans = []
for data, _ in msgs:
    start = len(stream)
    head = recv_exact(s, 16, fds, start)
    body_len = struct.unpack('<I', head[4:8])[0]
    stream += head + recv_exact(s, body_len, fds, start + 16)
    spans.append((start, len(stream)))
want = b''.join(d for d, _ in msgs)
print('bytes=' + ('same' if stream == want else f'differ ({len(stream)} of {len(want)})'))
where = []
for at, new in fds:
    k = next(i for i, (a, b) in enumerate(spans) if a <= at < b)
    where.append(f'{k + 1}:{len(new)}')
print('fds_with=' + ','.join(where))
ok = []
flat = [fd for _, new in fds for fd in new]
for i, fd in enumerate(flat):
    os.write(fd, f'through-{i}'.encode())
    ok.append(os.read(pipes[i][0], 64).decode() == f'through-{i}' if i < 2 else False)
print('fd_roundtrip=' + ('ok' if len(flat) == 2 and all(ok) else f'bad {len(flat)} {ok}'))
'''


class StandIn:
    """A listener on the user's private socket, as the user manager's stand-in."""

    def __init__(self):
        self.seen = []  # (pid, uid, gid, status of pid) per connection
        self.errors = []
        os.makedirs('/run/user', mode=0o755, exist_ok=True)
        os.mkdir(RUNTIME, 0o700)
        os.chown(RUNTIME, UID, GID)
        os.mkdir(f'{RUNTIME}/systemd', 0o755)
        os.chown(f'{RUNTIME}/systemd', UID, GID)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(f'{RUNTIME}/systemd/private')
        os.chown(f'{RUNTIME}/systemd/private', UID, GID)
        self.sock.listen(16)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    @staticmethod
    def _exact(c, n):
        got, fds = b'', []
        while len(got) < n:
            data, new, _, _ = socket.recv_fds(c, n - len(got), 16)
            if not data:
                raise EOFError
            got += data
            fds += new
        return got, fds

    def _conn(self, c):
        c.settimeout(20)
        try:
            pid, uid, gid = struct.unpack('3i', c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            try:
                with open(f'/proc/{pid}/status') as f:
                    status = {k: v.strip() for k, _, v in (ln.partition(':') for ln in f)}
                status['pidns'] = os.readlink(f'/proc/{pid}/ns/pid')
                with open(f'/proc/{pid}/smaps_rollup') as f:
                    mem = {k: v.split()[0] for k, _, v in (ln.partition(':') for ln in f) if v.strip().endswith('kB')}
                status['memory'] = ' '.join(f'{k}={mem.get(k)}kB' for k in ('Rss', 'Pss', 'Private_Dirty'))
            except OSError:
                status = {}
            self.seen.append((pid, uid, gid, status))
            auth = b''
            while not auth.endswith(b'BEGIN\r\n'):
                b = c.recv(1)
                if not b:
                    return
                auth += b
            c.sendall(b'OK 0123456789abcdef0123456789abcdef\r\nAGREE_UNIX_FD\r\n')
            while True:
                try:
                    head, fds = self._exact(c, 16)
                except EOFError:
                    return
                body, more = self._exact(c, struct.unpack('<I', head[4:8])[0])
                fds += more
                if fds:
                    socket.send_fds(c, [head + body], fds)
                    for fd in fds:
                        os.close(fd)
                else:
                    c.sendall(head + body)
        except Exception as e:  # reported by the test
            self.errors.append(repr(e))
        finally:
            c.close()

    def close(self):
        self.sock.close()
        shutil.rmtree(RUNTIME, ignore_errors=True)


def relay_round_trip(t, extra, what):
    env = t.env
    env.set_policy(policy(logout='drain', drain_limit=60, extra=extra))
    if 'user' in extra:
        env.set_pam(auth_line=True)  # sshd's session child enters it in setcred
    write(f'{WORK}/um-client.py', CLIENT, 0o644)
    standin = StandIn()
    try:
        s = env.run('ssh', USER, PROBE + f'python3 {WORK}/um-client.py 2>&1')
        t.login_ok(s, f'{what}: ssh login of {USER} with a manager socket in {RUNTIME}')
        check_in_cell(t, s, what)
        peer_pid = int(s.value('peer_pid') or 0)
        t.check(peer_pid > 0, f'{what}: in the cell, the socket\'s peer has a pid (SO_PEERCRED)', s.describe())
        t.check(s.value('peer_uid') in ('0', str(UID)) and s.value('own_uid') == str(UID),
                f'{what}: the peer\'s uid is 0 or the user\'s own, as systemctl requires', s.describe())
        t.eq(s.value('peer_comm'), 'nscell-relay', f'{what}: the peer is the cell\'s nscell-relay')
        t.eq(s.value('auth'), 'OK 0123456789abcdef0123456789abcdef|AGREE_UNIX_FD|',
             f'{what}: the authentication reaches the manager and its answer comes back')
        t.eq(s.value('bytes'), 'same', f'{what}: three messages (one of 100 kB) come back byte for byte')
        t.eq(s.value('fds_with'), '1:1,3:1', f'{what}: each fd comes back with its own message')
        t.eq(s.value('fd_roundtrip'), 'ok', f'{what}: both fds are the client\'s own pipes')
        seen = list(standin.seen)
        t.check(len(seen) == 1 and seen[0][1] == UID and seen[0][2] == GID,
                f'{what}: the manager\'s side sees one connection, from the user\'s uid and gid', repr(seen))
        st = seen[0][3] if seen else {}
        log(f'    {what}: the relay while relaying: {st.get("memory")}')
        t.check(st.get('Uid', '').split() == [str(UID)] * 4 and st.get('CapEff') == '0000000000000000'
                and st.get('NoNewPrivs') == '1' and st.get('pidns') != env.host_pidns,
                f'{what}: the relay runs in the cell as the user, every uid, no capability, no_new_privs',
                repr(st))
        t.check(not standin.errors, f'{what}: the stand-in saw a well-formed exchange', repr(standin.errors))
        t.clean(f'{what}: with Logout drain, the cell ends at logout: its relay does not hold it open')
    finally:
        standin.close()


@test('user manager: systemctl --user\'s socket in a cell is the relay: peer pid and uid, bytes and fds')
def _(t):
    relay_round_trip(t, '', 'relay')


@test('user manager: with a user namespace, the relay\'s uid is the user\'s, mapped')
def _(t):
    relay_round_trip(t, 'Namespaces pid mount ipc user\n', 'relay, user namespace')
