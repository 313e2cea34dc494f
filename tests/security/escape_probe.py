# SPDX-License-Identifier: LGPL-2.1-or-later
"""
Run by a user inside a cell (python3 escape_probe.py JSONFILE): every way out
this suite knows, each printed as one line

    ATTEMPT|<what>|BLOCKED|<how it failed>
    ATTEMPT|<what>|ESCAPED|<what it reached>
    ATTEMPT|<what>|SHARED|<what the policy leaves shared, by design>

The JSON file: {"host": {label: [pid, cmdline marker]}, "secrets": [paths],
       "cells": [cell ids of others], "abstract": name, "shm": shmid}
Standard library and ctypes only; no privilege.
"""

import ctypes
import errno
import json
import os
import signal
import socket
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
MS_BIND, MS_REC, MNT_DETACH = 4096, 16384, 2
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID = 0x20000, 0x10000000, 0x20000000
SYS_pidfd_open, SYS_open_tree, SYS_pivot_root = 434, 428, 155
with open(sys.argv[1]) as _f:
    P = json.load(_f)


def out(what, verdict, detail):
    print(f'ATTEMPT|{what}|{verdict}|{detail}', flush=True)


def err():
    e = ctypes.get_errno()
    return errno.errorcode.get(e, str(e))


def cmdline(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return f.read().replace(b'\0', b' ').decode(errors='replace').strip()
    except OSError:
        return None


def cell_pids():
    return sorted(int(d) for d in os.listdir('/proc') if d.isdigit())


def same_number_here(pid, marker):
    """(is the target, what pid N is in this cell)"""
    c = cmdline(pid)
    return (c is not None and marker in c), c


def main():
    my_uid = os.getuid()
    # 1. What /proc shows.
    pids = cell_pids()
    seen = {p: cmdline(p) or '' for p in pids}
    host_markers = [m for _, m in P['host'].values()]
    leaked = [f'{p}: {c}' for p, c in seen.items() if any(m in c for m in host_markers)
              and 'escape_probe' not in c]
    out('list /proc for host processes', 'ESCAPED' if leaked else 'BLOCKED',
        '; '.join(leaked) if leaked else f'{len(pids)} processes, all of this cell: '
        + ', '.join(f'{p}={seen[p][:30]}' for p in pids))

    # 2. Host pids, by number: signal, pidfd, ptrace.
    for label, (pid, marker) in P['host'].items():
        target, here = same_number_here(pid, marker)
        try:
            os.kill(pid, 0)
            resolved = True
        except OSError as ex:
            resolved = ex.errno != errno.ESRCH
            e0 = errno.errorcode.get(ex.errno, str(ex.errno))
        if resolved:
            # kill() resolves a pid in the caller's own pid namespace only:
            # whatever answers is a process of this cell.
            verdict = 'ESCAPED' if target else 'BLOCKED'
            what = f'pid {pid} here is this cell\'s own "{here}"' if here else \
                f'pid {pid} here is a process of this cell hidden from /proc'
            for w in ('kill -0', 'kill -TERM', 'pidfd_open'):
                out(f'{w} {label} (host pid {pid})', verdict, what + ', not the host\'s')
        else:
            out(f'kill -0 {label} (host pid {pid})', 'BLOCKED', e0)
            for w, fn in (('kill -TERM', lambda: os.kill(pid, signal.SIGTERM)),
                          ('pidfd_open', lambda: _check(libc.syscall(SYS_pidfd_open, pid, 0)))):
                try:
                    fn()
                    out(f'{w} {label} (host pid {pid})', 'ESCAPED', 'it worked')
                except OSError as ex:
                    out(f'{w} {label} (host pid {pid})', 'BLOCKED', errno.errorcode.get(ex.errno))
        r = libc.ptrace(16, pid, None, None)
        if r == 0:
            libc.ptrace(17, pid, None, None)
            out(f'ptrace {label} (host pid {pid})', 'ESCAPED' if target else 'BLOCKED',
                f'attached to this cell\'s own "{here}"')
        else:
            out(f'ptrace {label} (host pid {pid})', 'BLOCKED', err())

    # 3. cgroup files list pids of the whole host.
    listed, zeros, files = set(), 0, 0
    for root, dirs, fs in os.walk('/sys/fs/cgroup'):
        dirs[:] = dirs if root.count('/') < 5 else []
        for n in fs:
            if n in ('cgroup.procs', 'tasks', 'cgroup.threads'):
                try:
                    with open(os.path.join(root, n)) as f:
                        vals = [int(x) for x in f.read().split()]
                except (OSError, ValueError):
                    continue
                files += 1
                zeros += vals.count(0)
                listed.update(v for v in vals if v)
    def unresolvable(p):
        try:
            os.kill(p, 0)
            return False
        except OSError as e:
            return e.errno == errno.ESRCH
    # The kernel shows pids as numbers of the reader's pid namespace (0 when
    # the process is outside it): a number that does not resolve here leaked.
    foreign = sorted(p for p in listed if unresolvable(p))
    out('read /sys/fs/cgroup/**/cgroup.procs,tasks for host pids', 'ESCAPED' if foreign else 'BLOCKED',
        f'{files} files; pids outside this cell: {foreign[:10]}' if foreign else
        f'{files} files list only pids of this cell ({len(listed)}); {zeros} entries shown as 0 '
        '(processes outside: their number of processes, not who they are)')
    try:
        with open('/sys/fs/cgroup/pids/cgroup.procs', 'w') as f:
            f.write(str(os.getpid()))
        out('move into another cgroup', 'ESCAPED', 'wrote cgroup.procs')
    except OSError as e:
        out('move into another cgroup', 'BLOCKED', errno.errorcode.get(e.errno))

    # 4. Files of the host and of other cells.
    found = [p for p in P['secrets'] if os.path.exists(p)]
    out('read the host\'s and other cells\' /tmp, /var/tmp, /dev/shm files', 'ESCAPED' if found else 'BLOCKED',
        ', '.join(found) if found else 'none of ' + ', '.join(P['secrets']) + ' exists here')
    via = []
    for p in pids:
        for s in P['secrets']:
            try:
                if os.path.exists(f'/proc/{p}/root{s}'):
                    via.append(f'/proc/{p}/root{s}')
            except OSError:
                pass
    out('reach them through /proc/PID/root of every visible process', 'ESCAPED' if via else 'BLOCKED',
        ', '.join(via) if via else 'not there')
    for what in ('root', 'cwd', 'environ', 'mem', 'fd', 'ns/mnt'):
        try:
            if what in ('root', 'cwd', 'fd'):
                os.listdir(f'/proc/1/{what}')
            else:
                os.close(os.open(f'/proc/1/{what}', os.O_RDONLY))
            out(f'open /proc/1/{what} of the cell\'s root-owned init', 'ESCAPED', 'opened')
        except OSError as e:
            out(f'open /proc/1/{what} of the cell\'s root-owned init', 'BLOCKED', errno.errorcode.get(e.errno))

    # 5. Unmount or overmount what hides the host.
    for t in ('/proc', '/tmp', '/var/tmp', '/dev/shm', '/run/nscell'):
        r = libc.umount2(t.encode(), MNT_DETACH)
        out(f'umount -l {t}', 'ESCAPED' if r == 0 else 'BLOCKED', 'unmounted' if r == 0 else err())
    for src, tgt, fs, fl, what in ((b'tmpfs', b'/tmp', b'tmpfs', 0, 'mount a tmpfs over /tmp'),
                                   (b'proc', b'/tmp', b'proc', 0, 'mount a new proc'),
                                   (b'/', b'/tmp', None, MS_BIND | MS_REC, 'bind-mount / to reveal what is under /tmp')):
        r = libc.mount(src, tgt, fs, fl, None)
        out(what, 'ESCAPED' if r == 0 else 'BLOCKED', 'mounted' if r == 0 else err())
    r = libc.chroot(b'/tmp')
    out('chroot', 'ESCAPED' if r == 0 else 'BLOCKED', err() if r else 'chrooted')
    r = libc.syscall(SYS_pivot_root, b'/tmp', b'/tmp')
    out('pivot_root', 'ESCAPED' if r == 0 else 'BLOCKED', err() if r else 'pivoted')

    # 6. setns into the namespaces of every process visible.
    mine = {n: os.readlink(f'/proc/self/ns/{n}') for n in ('mnt', 'pid', 'net', 'ipc', 'uts', 'user', 'cgroup')}
    results = []
    for p in pids:
        for n in mine:
            try:
                fd = os.open(f'/proc/{p}/ns/{n}', os.O_RDONLY)
            except OSError as e:
                results.append((p, n, errno.errorcode.get(e.errno)))
                continue
            r = libc.setns(fd, 0)
            os.close(fd)
            results.append((p, n, 'OK' if r == 0 else err()))
    entered = [f'{p}/{n}' for p, n, r in results if r == 'OK']
    out('setns into /proc/*/ns/* of every visible process', 'ESCAPED' if entered else 'BLOCKED',
        ', '.join(entered) if entered else
        ', '.join(sorted({f'{r}' for _, _, r in results})) + f' ({len(results)} tries)')

    # 7. Descriptors of the session's own processes that point out of the cell.
    bad = []
    for p in pids:
        try:
            for fd in os.listdir(f'/proc/{p}/fd'):
                try:
                    t = os.readlink(f'/proc/{p}/fd/{fd}')
                except OSError:
                    continue
                if t.split(':')[0] in ('mnt', 'pid', 'user', 'net', 'ipc', 'uts', 'cgroup', 'time') \
                        or t == 'anon_inode:[pidfd]':
                    bad.append(f'{p}/{fd} -> {t}')
        except OSError:
            pass
    out('find a namespace fd or pidfd of the host leaked into the session', 'ESCAPED' if bad else 'BLOCKED',
        ', '.join(bad) if bad else 'none in any readable /proc/PID/fd')

    # 8. The runtime directory and the helper.
    try:
        ls = os.listdir('/run/nscell')
        out('list /run/nscell', 'ESCAPED' if ls else 'BLOCKED', f'{ls}' if ls else 'empty read-only cover')
    except OSError as e:
        out('list /run/nscell', 'BLOCKED', errno.errorcode.get(e.errno))
    for c in P['cells'] + [f'user-{my_uid}']:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(f'/run/nscell/cells/{c}.sock')
            out(f'connect to cell {c}\'s socket', 'ESCAPED', 'connected')
        except OSError as e:
            out(f'connect to cell {c}\'s socket', 'BLOCKED', errno.errorcode.get(e.errno))
        s.close()
    try:
        os.close(os.open('/run/nscell/lock', os.O_RDWR | os.O_CREAT, 0o600))
        out('create /run/nscell/lock', 'ESCAPED', 'created')
    except OSError as e:
        out('create /run/nscell/lock', 'BLOCKED', errno.errorcode.get(e.errno))

    # 9. Abstract sockets (per network namespace) and SysV IPC (per ipc namespace).
    if P.get('abstract'):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect('\0' + P['abstract'])
            out('connect to a host abstract socket', 'ESCAPED' if P.get('net') else 'SHARED',
                'connected' + ('' if P.get('net') else ' (no network namespace in this policy)'))
        except OSError as e:
            out('connect to a host abstract socket', 'BLOCKED', errno.errorcode.get(e.errno))
        s.close()
    if P.get('shm') is not None:
        buf = ctypes.create_string_buffer(256)
        r = libc.shmctl(P['shm'], 2, buf)  # IPC_STAT
        out('reach a host SysV shared memory segment', 'ESCAPED' if r == 0 else 'BLOCKED',
            'IPC_STAT works' if r == 0 else err())

    # 10. In a user namespace of our own: locked mounts stay locked.
    userns_attempts()


def _check(r):
    if r < 0:
        raise OSError(ctypes.get_errno(), 'syscall')
    os.close(r)


def userns_attempts():
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        lines = []

        def say(what, verdict, detail):
            lines.append(f'ATTEMPT|{what}|{verdict}|{detail}')
        try:
            if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
                say('unshare -Urm (a user namespace of our own)', 'BLOCKED', err())
                raise SystemExit
            uid, gid = os.getuid(), os.getgid()
            for f, v in (('setgroups', 'deny'), ('uid_map', f'0 {P["uid"]} 1'), ('gid_map', f'0 {P["gid"]} 1')):
                with open(f'/proc/self/{f}', 'w') as fh:
                    fh.write(v)
            say('unshare -Urm (a user namespace of our own)', 'INFO', 'allowed: trying locked mounts')
            for t in ('/tmp', '/proc', '/var/tmp', '/dev/shm', '/run/nscell'):
                r = libc.umount2(t.encode(), MNT_DETACH)
                say(f'in the user namespace: umount -l {t}', 'ESCAPED' if r == 0 else 'BLOCKED',
                    'unmounted: the host\'s is visible' if r == 0 else err())
            r = libc.mount(b'/', b'/mnt', None, MS_BIND, None)
            say('in the user namespace: non-recursive bind of / (drops the locked /tmp)',
                'ESCAPED' if r == 0 else 'BLOCKED', 'mounted' if r == 0 else err())
            if r == 0:
                libc.umount2(b'/mnt', MNT_DETACH)
            r = libc.mount(b'/', b'/mnt', None, MS_BIND | MS_REC, None)
            if r == 0:
                found = [s for s in P['secrets'] if os.path.exists('/mnt' + s)]
                r2 = libc.umount2(b'/mnt/tmp', MNT_DETACH)
                found += [s for s in P['secrets'] if os.path.exists('/mnt' + s)]
                say('in the user namespace: rbind / then unmount its /tmp', 'ESCAPED' if found or r2 == 0 else 'BLOCKED',
                    f'reached {found}' if found else ('unmounted' if r2 == 0 else f'rbind works, umount {err()}'))
            else:
                say('in the user namespace: rbind / then unmount its /tmp', 'BLOCKED', err())
            r = libc.mount(b'proc', b'/proc', b'proc', 0, None)
            say('in the user namespace: mount proc for the cell\'s pid namespace', 'ESCAPED' if r == 0 else 'BLOCKED',
                'mounted' if r == 0 else err())
            try:
                fd = os.open('/proc/1/ns/mnt', os.O_RDONLY)
                r = libc.setns(fd, 0)
                say('in the user namespace: setns to PID 1\'s mount namespace', 'ESCAPED' if r == 0 else 'BLOCKED',
                    'entered' if r == 0 else err())
            except OSError as e:
                say('in the user namespace: setns to PID 1\'s mount namespace', 'BLOCKED',
                    errno.errorcode.get(e.errno))
            if libc.unshare(CLONE_NEWPID) == 0:
                r1, w1 = os.pipe()
                c = os.fork()
                if c == 0:
                    os.close(r1)
                    rr = libc.mount(b'proc', b'/proc', b'proc', 0, None)
                    seen = sorted(int(d) for d in os.listdir('/proc') if d.isdigit()) if rr == 0 else []
                    os.write(w1, f'{rr} {err() if rr else ""} {seen}'.encode())
                    os._exit(0)
                os.close(w1)
                res = os.read(r1, 4096).decode()
                os.waitpid(c, 0)
                rr, rest = res.split(' ', 1)
                say('in the user namespace: a new pid namespace with its own proc',
                    'BLOCKED' if rr != '0' or '[1]' in rest else 'ESCAPED',
                    f'proc mounted, it shows only the new namespace: {rest.strip()}' if rr == '0' else rest)
        except SystemExit:
            pass
        except Exception as e:  # noqa: B902
            lines.append(f'ATTEMPT|user namespace attempts|ERROR|{e!r}')
        os.write(wfd, ('\n'.join(lines) + '\n').encode())
        os._exit(0)
    os.close(wfd)
    data = b''
    while True:
        d = os.read(rfd, 65536)
        if not d:
            break
        data += d
    os.waitpid(pid, 0)
    sys.stdout.write(data.decode())
    sys.stdout.flush()


if __name__ == '__main__':
    main()
