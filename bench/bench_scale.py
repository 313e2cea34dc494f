# SPDX-License-Identifier: LGPL-2.1-or-later
"""
nscell's benchmarks, part 2: memory per idle cell and scale (the host's mount
table, 2,000 live cells, 100 logins at once). Run like bench/bench_login.py.
"""

import os
import statistics
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing left in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402
from nscelltest import cell_sockets, mount_points, sh, test  # noqa: E402

# ---- 3. memory ---------------------------------------------------------------------

@test('bench 3: memory per idle cell (kernel: meminfo deltas; user: the init\'s Pss)')
def _(t):
    env = t.env
    B.setup(env)
    sec = B.section('memory', 'Memory per idle cell', (
        'N cells are held open by one process (nscell-bench-pam hold: N logins, each session '
        'kept open), and /proc/meminfo is read before and while they are held (each read: '
        'median of 3, after a 1 s settle). Per cell = delta / N. The kernel part the target '
        'counts is Slab + PageTables; KernelStack (every init is a task), Percpu and the sum of '
        'live slab objects from /proc/slabinfo are shown beside it. The user part is the Pss of '
        'each nscell-init (smaps_rollup), at N cells. Baseline: the same N of bare kernel '
        'cells (clone3 NEWPID|NEWNS, / slave, proc, tmpfs /tmp, PID 1 asleep) held by '
        'nscell-bench-ns hold-floor, whose PID 1 is a fork of that (glibc, dynamic) tool.'))
    n = B.n_(1000, 100)
    a = B.settled_meminfo()
    ca = B.slab_caches()
    h = B.Holder(B.NEW_USER, n)
    B.check(t, h.held == n, f'memory: {n} cells are held', f'held {h.held}')
    b = B.settled_meminfo()
    cb = B.slab_caches()
    inits = h.inits()
    pss = [v for v in (B.pss_kb(p.pid) for p in inits) if v is not None]
    maps = B.smaps(inits[len(inits) // 2].pid) if inits else []
    fds = B.fd_kinds(inits[len(inits) // 2].pid) if inits else {}
    B.check(t, len(inits) == n, f'memory: {n} nscell-init processes are alive', f'{len(inits)}')
    h.release()
    c = B.settled_meminfo()
    fa = B.settled_meminfo()
    fb_base = B.slab_caches()
    f = B.NsHolder('hold-floor', n)
    fb = B.settled_meminfo()
    fcb = B.slab_caches()
    fpss = [v for v in (B.pss_kb(p) for p in f.pids) if v is not None]
    f.release()
    B.command('memory', f'{B.PAM_BIN} hold -n {n} -d {B.CONFDIR} nscell {B.NEW_USER}; {B.NS_BIN} hold-floor {n}')

    tab = B.table(sec, f'Per cell, with {n} cells held', 'bare kernel cell')
    per = lambda x, y, k: (y.get(k, 0) - x.get(k, 0)) / n
    for k, what in (('Slab', 'kernel: Slab'), ('PageTables', 'kernel: PageTables'),
                    ('KernelStack', 'kernel: KernelStack'), ('Percpu', 'kernel: Percpu'),
                    ('slab_objects', 'kernel: live slab objects (slabinfo)')):
        B.value(tab, f'mem.floor.{k}', f'{what} — bare kernel cell', per(fa, fb, k), unit='kB')
        B.value(tab, f'mem.nscell.{k}', f'{what} — nscell cell', per(a, b, k), unit='kB',
              base=f'mem.floor.{k}')
    B.fig(tab, 'mem.floor.pss', 'user: Pss of PID 1 — bare kernel cell (dynamic fork)', fpss, unit='kB')
    B.fig(tab, 'mem.nscell.pss', 'user: Pss of nscell-init (static)', pss, unit='kB', base='mem.floor.pss')
    kern = per(a, b, 'Slab') + per(a, b, 'PageTables')
    fkern = per(fa, fb, 'Slab') + per(fa, fb, 'PageTables')
    total = kern + (statistics.median(pss) if pss else 0)
    ftotal = fkern + (statistics.median(fpss) if fpss else 0)
    B.value(tab, 'mem.floor.total', 'Slab + PageTables + Pss — bare kernel cell', ftotal, unit='kB')
    B.value(tab, 'mem.nscell.total', 'Slab + PageTables + Pss — nscell cell (the target\'s measure)',
          total, unit='kB', base='mem.floor.total')
    B.value(tab, 'mem.nscell.total_ks', '… + KernelStack + Percpu', total + per(a, b, 'KernelStack')
          + per(a, b, 'Percpu'), unit='kB')
    B.value(tab, 'mem.nscell.after', 'after all cells ended: Slab + PageTables left, per cell '
          '(noise, or slab pages kept by the allocator)', per(a, c, 'Slab') + per(a, c, 'PageTables'),
          unit='kB')
    B.target('memory per idle cell (Slab + PageTables + init Pss)', '≤ 150 kB', f'{total:.0f} kB',
           total <= 150, f'{n} cells held; KernelStack adds {per(a, b, "KernelStack"):.0f} kB per cell '
           'on top (one task per cell)')
    # Where it is: slab caches by growth per cell, and the init's mappings.
    tab = B.table(sec, 'Slab per cell by cache (live objects, /proc/slabinfo), largest first',
                  'bare kernel cell')
    grow = {k: (cb.get(k, 0) - ca.get(k, 0)) / n / 1024 for k in set(ca) | set(cb)}
    fgrow = {k: (fcb.get(k, 0) - fb_base.get(k, 0)) / n / 1024 for k in set(fb_base) | set(fcb)}
    for k, v in sorted(grow.items(), key=lambda kv: -kv[1])[:12]:
        B.value(tab, f'mem.slab.{k}', k, v, unit='kB', note=f'bare kernel cell: {fgrow.get(k, 0):.2f} kB')
    if maps:
        tab = B.table(sec, 'One idle nscell-init: Pss by mapping, and its open files', '')
        for name, kb in maps[:6]:
            B.value(tab, f'mem.map.{name}', name, kb, unit='kB')
        for kind, count in sorted(fds.items()):
            B.value(tab, f'mem.fds.{kind}', f'open fds: {kind}', count, unit='count')
    F = lambda k: (B.FIGS.get(k) or {}).get('median') or 0.0
    socks = fds.get('socket', 0)
    if socks > 2:
        B.RESULTS.setdefault('trims', []).append({
            'where': 'helper/init.c logf_() (an idle nscell-init)',
            'what': f'An idle init holds {socks} sockets where the listener and one session need 2: the '
                    'rest is its syslog connection, opened by its first message (the session-joined '
                    'event) and kept. Its messages are few (join, leave, end): closelog() after each '
                    'keeps an idle cell without that socket.',
            'saves': f'per idle cell: a socket, its inode and file (socket inodes: '
                     f'{F("mem.slab.sock_inode_cache"):.1f} kB per cell now, for {socks} sockets)',
        })
        B.save()
    left = env.wait_clean(10)
    B.check(t, not left, 'memory: nothing left after the cells ended', '\n'.join(left))


# ---- 4. scale -----------------------------------------------------------------------

@test('bench 4a: creating a cell as the host\'s mount table grows (0, 1000, 3000 extra mounts)')
def _(t):
    env = t.env
    B.setup(env)
    sec = B.section('mounts', 'Scale: creating a cell as the host\'s mount table grows', (
        'Extra tmpfs mounts are added in the benchmark\'s private mount namespace (the "host" '
        'of the cells), then new-cell logins (C harness, with the wait for teardown) alternate '
        'with the kernel floor (clone3 NEWPID|NEWNS, / slave, proc, tmpfs). CLONE_NEWNS copies '
        'every mount and MS_SLAVE|MS_REC walks them all: that part is the kernel\'s and linear. '
        'What nscell adds should not grow with the table: the slopes say.'))
    levels = [0, 1000, 3000]
    k, nr = B.n_(40, 8), B.n_(3, 1)
    root = f'{B.BENCH}/extra'
    base_mounts = mount_points()
    for shared in (False, True):
        mode = 'shared' if shared else 'private'
        if shared:
            sh(['mount', '--make-rshared', '/'])
        os.makedirs(root, exist_ok=True)
        sh(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'nscb-extra-root', root])
        have = 0
        res = {}
        try:
            for lvl in levels:
                if lvl > have:
                    sh([B.NS_BIN, 'mounts', root, str(have), str(lvl - have)])
                    have = lvl
                opens, tears, floors = [], [], []
                for _ in range(nr):
                    rows = B.pam_cycle('nscell', B.NEW_USER, k, ['-w'])
                    opens += [d['open'] for d in rows if d['rc_open'] == 0]
                    tears += [d['teardown'] for d in rows if d['rc_open'] == 0]
                    floors += [x[0] / 1000 for x in B.ns_lines(['floor', '-n', str(k)])]
                res[lvl] = (B.n_mounts(), opens, tears, floors)
                B.check(t, len(opens) == k * nr, f'mounts/{mode}/{lvl}: every login made its cell',
                      f'{len(opens)} of {k * nr}')
        finally:
            sh(['umount', '-l', root], check=False)
            if shared:
                sh(['mount', '--make-rprivate', '/'])
        tab = B.table(sec, f'/ {mode} in the host namespace', 'the kernel floor at the same table')
        for lvl in levels:
            total, opens, tears, floors = res[lvl]
            B.fig(tab, f'mounts.{mode}.{lvl}.floor', f'{lvl} extra ({total} mounts): kernel floor', floors)
            B.fig(tab, f'mounts.{mode}.{lvl}.open', f'{lvl} extra ({total} mounts): nscell open_session',
                opens, base=f'mounts.{mode}.{lvl}.floor')
            B.fig(tab, f'mounts.{mode}.{lvl}.teardown', f'{lvl} extra ({total} mounts): nscell teardown',
                tears)
        xs = [res[l][0] for l in levels]
        s_floor = B.slope(xs, [statistics.median(res[l][3]) for l in levels])
        s_open = B.slope(xs, [statistics.median(res[l][1]) for l in levels])
        s_tear = B.slope(xs, [statistics.median(res[l][2]) for l in levels])
        B.value(tab, f'mounts.{mode}.slope.floor', 'slope, kernel floor: µs per host mount', s_floor)
        B.value(tab, f'mounts.{mode}.slope.open', 'slope, nscell open_session: µs per host mount', s_open,
              base=f'mounts.{mode}.slope.floor')
        B.value(tab, f'mounts.{mode}.slope.teardown', 'slope, nscell teardown: µs per host mount', s_tear)
        B.value(tab, f'mounts.{mode}.added.0', 'nscell above the floor at 0 extra mounts',
              statistics.median(res[levels[0]][1]) - statistics.median(res[levels[0]][3]))
        B.value(tab, f'mounts.{mode}.added.max', f'nscell above the floor at {levels[-1]} extra mounts',
              statistics.median(res[levels[-1]][1]) - statistics.median(res[levels[-1]][3]))
    B.command('mount table', f'{B.NS_BIN} mounts DIR FROM COUNT; {B.PAM_BIN} cycle -n {k} -w nscell {B.NEW_USER}; '
            f'{B.NS_BIN} floor -n {k}')
    ratios = [B.FIGS[f'mounts.{m}.slope.open']['median'] / B.FIGS[f'mounts.{m}.slope.floor']['median']
              for m in ('private', 'shared') if B.FIGS[f'mounts.{m}.slope.floor']['median'] > 0]
    worst = max(ratios) if ratios else None
    B.target('cell creation vs host mount table size', 'nothing worse than the kernel\'s linear cost',
           ', '.join(f'{m}: {B.FIGS[f"mounts.{m}.slope.open"]["median"]:.2f} µs/mount (kernel '
                     f'{B.FIGS[f"mounts.{m}.slope.floor"]["median"]:.2f})' for m in ('private', 'shared')),
           worst is not None and worst <= 1.5,
           'slope of nscell\'s open_session over the table size vs the slope of the kernel floor '
           '(met if within 1.5x)')
    B.check(t, mount_points() == base_mounts, 'mounts: the extra mounts are gone')
    left = env.wait_clean(10)
    B.check(t, not left, 'mounts: nothing left', '\n'.join(left))


SECOND_USER = B.PAMNS_USER  # in the nscell stack, the same cell as NEW_USER's


@test('bench 4b: 2000 live cells: creating them, a host mount event as they grow, ending them')
def _(t):
    env = t.env
    B.setup(env)
    sec = B.section('cells', 'Scale: 2,000 live cells', (
        'Cells are created in steps and held (nscell-bench-pam hold), with / shared in the '
        'host namespace, as on a systemd host, so every cell is a slave of the host\'s mounts. '
        'At each step: a host mount event (mount + umount of a tmpfs under the shared /run, '
        'which propagates into every cell) is timed, and meminfo is read. Baseline for the '
        'event: the same number of bare mount namespaces with / slave, held by fds '
        '(nscell-bench-ns hold-ns): the kernel\'s own propagation cost.'))
    levels = [0, 250, 500, 1000, 2000] if not B.QUICK else [0, 50, 100]
    ke = B.n_(100, 20)
    event = f'{B.BENCH}/event'
    os.makedirs(event, exist_ok=True)
    base_mounts = mount_points()
    sh(['mount', '--make-rshared', '/'])
    holders, ev_cells, ev_bare, mem = [], {}, {}, {}
    live = 0
    try:
        m0 = B.settled_meminfo()
        for lvl in levels:
            if lvl > live:
                # MaxCells counts per user (at most 1024): past 1000, the
                # cells are another user's with the same policy.
                h = B.Holder(B.NEW_USER if lvl <= 1000 else SECOND_USER, lvl - live)
                holders.append(h)
                B.check(t, h.held == lvl - live, f'cells: {lvl} cells live', f'step held {h.held} of {lvl - live}')
                live = lvl
            ev_cells[lvl] = B.ns_lines(['mount-event', '-n', str(ke), event])
            mem[lvl] = B.settled_meminfo()
        inits = sum(len(h.inits()) for h in holders)
        B.check(t, inits == live, f'cells: {live} nscell-init processes are alive', f'{inits}')
        socks = len(cell_sockets())
        B.check(t, socks == live, f'cells: {live} cells are registered in /run/nscell/cells', f'{socks}')
        t0 = time.monotonic()
        for h in holders:
            h.release()
        end_s = time.monotonic() - t0
        reaped = sum(h.reaped or 0 for h in holders)
        B.check(t, reaped == live, f'cells: all {live} inits ended and were reaped after logout', f'{reaped}')
        # The kernel's own cost of propagating to N slave mount namespaces.
        bare, have = [], 0
        for lvl in levels:
            if lvl > have:
                bare.append(B.NsHolder('hold-ns', lvl - have))
                have = lvl
            ev_bare[lvl] = B.ns_lines(['mount-event', '-n', str(ke), event])
        for b in bare:
            b.release()
    finally:
        for h in holders:
            if h.p.poll() is None:
                h.release()
        sh(['mount', '--make-rprivate', '/'])
    B.command('2000 cells', f'{B.PAM_BIN} hold -n STEP -d {B.CONFDIR} nscell {B.NEW_USER} (steps to 1000, then {SECOND_USER} to {levels[-1]}); '
            f'{B.NS_BIN} mount-event -n {ke} DIR; {B.NS_BIN} hold-ns STEP')

    tab = B.table(sec, 'Creating cells while others are live (open_session, per step)', 'the first step')
    opens = [x for h in holders for x in h.opens]
    prev = 0
    for lvl in levels[1:]:
        chunk = opens[prev:lvl]
        B.fig(tab, f'cells.create.{lvl}', f'cells {prev + 1}–{lvl}', chunk, base=f'cells.create.{levels[1]}')
        prev = lvl
    B.value(tab, 'cells.end', f'ending all {live}: close_session of every session, until every init is reaped, '
          'per cell', end_s * 1e6 / max(1, live))
    tab = B.table(sec, 'A host mount event (mount + umount of a tmpfs) as live cells grow', 'no cells')
    for lvl in levels:
        B.fig(tab, f'cells.event.{lvl}', f'{lvl} live nscell cells',
            [(a + b) / 1000 for a, b in ev_cells[lvl]], base=f'cells.event.{levels[0]}')
    for lvl in levels:
        B.fig(tab, f'cells.bare.{lvl}', f'{lvl} bare slave mount namespaces (kernel baseline)',
            [(a + b) / 1000 for a, b in ev_bare[lvl]], base=f'cells.event.{levels[0]}')
    s_cells = B.slope(levels, [B.FIGS[f'cells.event.{l}']['median'] for l in levels])
    s_bare = B.slope(levels, [B.FIGS[f'cells.bare.{l}']['median'] for l in levels])
    B.value(tab, 'cells.bare.slope', 'slope: µs per bare slave namespace (kernel)', s_bare)
    B.value(tab, 'cells.event.slope', 'slope: µs per live nscell cell', s_cells, base='cells.bare.slope')
    tab = B.table(sec, 'Kernel memory as cells grow (from the step before)', '')
    xs = [l for l in levels]
    for k in ('Slab', 'PageTables', 'KernelStack'):
        ys = [mem[l].get(k, 0) - m0.get(k, 0) for l in levels]
        B.value(tab, f'cells.mem.{k}', f'{k}: kB per live cell (least-squares slope over the steps)', B.slope(xs, ys),
              unit='kB')
    B.target('2,000 live cells', 'held, and all end cleanly', f'{live} held; {reaped} ended and reaped',
           live == levels[-1] and reaped == live, 'every session opened, every init reaped after close')
    B.target('host mount event vs live cells', 'nothing worse than the kernel\'s linear cost',
           f'{s_cells:.2f} µs per cell (bare slave namespaces: {s_bare:.2f})',
           s_bare > 0 and s_cells <= 1.5 * s_bare,
           'slope of a mount+umount under a shared host directory over the number of live cells, '
           'vs the same over bare slave mount namespaces (met if within 1.5x)')
    B.check(t, mount_points() == base_mounts, 'cells: the host mount table is as before')
    left = env.wait_clean(15)
    B.check(t, not left, 'cells: nothing left', '\n'.join(left))


@test('bench 4c: 100 logins arriving at once')
def _(t):
    env = t.env
    B.setup(env)
    sec = B.section('burst', 'Scale: 100 ssh logins arriving at once', (
        'Each login is `ssh USER@127.0.0.1 sleep 1`, all 100 started together, so all are '
        'inside at the same time. Client time from start to exit; the module\'s own '
        'open_session clock from its `debug` lines. Afterwards: nothing may be left, and '
        'every cell created must have ended (the helper and init syslog events).'))
    n = B.n_(100, 20)
    B.sshd_pam(env, 'nscell')
    for label, user, want_cells in (('session', B.NEW_USER, n), ('user', B.JOIN_USER, 1)):
        mark = env.syslog.mark()
        done = [None] * n
        starts = [0.0] * n
        ps = []
        for i in range(n):
            starts[i] = time.perf_counter()
            ps.append(subprocess.Popen(B.ssh_argv(user, 'sleep 1'), stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))

        def waiter(i):
            ps[i].wait()
            done[i] = time.perf_counter()
        ths = [threading.Thread(target=waiter, args=(i,)) for i in range(n)]
        for th in ths:
            th.start()
        for th in ths:
            th.join(120)
        rcs = [p.returncode for p in ps]
        errs = [p.stderr.read().decode(errors='replace').strip() for p in ps]
        ok = sum(1 for r in rcs if r == 0)
        wall = max(d for d in done if d) - min(starts)
        left = env.wait_clean(15)
        # An init's last line may still be on its way to the catcher when
        # the process is gone: a few seconds for the syslog to catch up.
        deadline = time.monotonic() + 5
        while True:
            lines = env.syslog.since(mark)
            created = [ln for ln in lines if 'event=cell-created' in ln]
            ended = [ln for ln in lines if 'event=cell-ended' in ln]
            if len(ended) >= len(created) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        opens = [int(m.group(5)) for m in (B.HOOK_RX.search(ln) for ln in lines)
                 if m and m.group(1) == 'open']
        what = 'Scope session: 100 new cells' if label == 'session' else 'Scope user: 100 logins of one user, one cell'
        what = what.replace('100', str(n))
        B.check(t, ok == n, f'burst/{label}: all {n} logins succeeded ({ok} did)',
              '\n'.join(f'{r}: {e[-200:]}' for r, e in zip(rcs, errs) if r != 0)[:2000])
        B.check(t, len(created) == want_cells, f'burst/{label}: {want_cells} cell(s) created',
              f'{len(created)} created')
        B.check(t, len(ended) == len(created), f'burst/{label}: every created cell ended',
              f'{len(created)} created, {len(ended)} ended')
        B.check(t, not left, f'burst/{label}: nothing left afterwards', '\n'.join(left))
        tab = B.table(sec, what, '')
        B.fig(tab, f'burst.{label}.client', 'client: whole login incl. `sleep 1`',
            [(d - s) * 1e6 for d, s in zip(done, starts) if d], unit='us')
        B.fig(tab, f'burst.{label}.open', 'open_session inside sshd (module clock)', opens)
        B.value(tab, f'burst.{label}.wall', f'all {n}: first start to last exit', wall * 1e6)
        B.value(tab, f'burst.{label}.ok', 'logins that succeeded', ok, unit='count')
        B.value(tab, f'burst.{label}.cells', 'cells created / ended', len(created), unit='count',
              note=f'{len(ended)} ended; leftovers: {len(left)}')
        B.RESULTS.setdefault('burst', {})[label] = {'ok': ok, 'n': n, 'created': len(created),
                                                  'ended': len(ended), 'left': left}
        B.save()
    b = B.RESULTS['burst']
    B.target(f'{n} logins arriving at once', 'all succeed, none leak',
           '; '.join(f'Scope {k}: {v["ok"]}/{v["n"]} succeeded, {v["created"]} cell(s) created, '
                     f'{v["ended"]} ended, {len(v["left"])} leftovers' for k, v in b.items()),
           all(v['ok'] == v['n'] and v['created'] == v['ended'] and not v['left'] for v in b.values()),
           'client exit status, helper/init syslog events, and the harness\'s leak check')
    env.set_pam(nscell=False, services=['sshd'])
