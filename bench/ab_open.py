# SPDX-License-Identifier: LGPL-2.1-or-later
"""
An A/B of the open path: two builds in one throwaway host (run through
tests/integration/run-in-ns like bench_login.py), their logins interleaved
round by round, with the exec of each nscell-open and the kernel floor in the
same rounds. Not part of bench/run: for a change to the open path, measured
against the tree before it.

    meson setup /tmp/before-src/build ...   # the other tree, built
    mkdir BUILD/ab-open && cp OTHER/build/pam_module/pam_nscell.so \
        OTHER/build/helper/nscell-open BUILD/ab-open/
    echo 20 > BUILD/ab-open/rounds
    NSCELL_BUILD_DIR=BUILD NSCELL_IT_OUT=BUILD/ab-open \
        python3 tests/integration/run-in-ns bench/ab_open.py

Writes BUILD/ab-open/ab.json: per configuration the open_session times (µs),
the spawn times, and the load average of each round. The "before" module runs
with helper= pointing at its own nscell-open; both share the installed init.
"""
import json, os, shutil, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B
from nscelltest import sh, test, write


@test('fast open path: before/after interleaved')
def _(t):
    env = t.env
    B.setup(env)
    before = os.path.join(env.build_dir, 'ab-open')
    libexec = os.path.dirname(env.open_helper)
    mod_b = os.path.join(os.path.dirname(env.module), 'pam_nscell_before.so')
    open_b = os.path.join(libexec, 'nscell-open-before')
    shutil.copy(f'{before}/pam_nscell.so', mod_b)
    shutil.copy(f'{before}/nscell-open', open_b)
    os.chmod(open_b, 0o755)
    write(f'{B.CONFDIR}/before', f'session optional {mod_b} restore\nsession required pam_permit.so\n'
          f'session required {mod_b} helper={open_b}\n', 0o644)
    R = int(open(f'{before}/rounds').read()); per = 10
    hb = B.Holder(B.JOIN_USER, 1, service='before')
    ha = B.Holder(B.JOIN_USER, 1)
    t.check(hb.held == 1 and ha.held == 1, 'holders up', f'{hb.rcs} {ha.rcs}')
    cfgs = [('base', 'base', B.NEW_USER, []),
            ('before.new', 'before', B.NEW_USER, ['-w']), ('after.new', 'nscell', B.NEW_USER, ['-w']),
            ('before.join', 'before', B.JOIN_USER, []), ('after.join', 'nscell', B.JOIN_USER, []),
            ('before.exempt', 'before', B.EXEMPT_USER, []), ('after.exempt', 'nscell', B.EXEMPT_USER, []),
            ('before.full', 'before', B.FULL_USER, ['-w']), ('after.full', 'nscell', B.FULL_USER, ['-w'])]
    data = {k: [] for k, *_ in cfgs}
    spawn = {k: [] for k in ('open.before', 'open.after', 'unshare', 'floor')}
    loads = []
    t0 = time.time()
    for r in range(R):
        loads.append(os.getloadavg()[0])
        print('round', r, round(time.time() - t0, 1), flush=True)
        for key, svc, user, flags in cfgs:
            data[key] += B.pam_cycle(svc, user, per, flags)
        if r % 3 == 0:
            for k, argv in (('open.before', ['spawn', '-n', '20', open_b]),
                            ('open.after', ['spawn', '-n', '20', env.open_helper]),
                            ('unshare', ['spawn', '-n', '20', shutil.which('unshare'), '--fork', '--pid',
                                         '--mount', '--mount-proc', 'true']),
                            ('floor', ['floor', '-n', '20'])):
                out = sh([B.NS_BIN] + argv).stdout.splitlines()
                spawn[k] += [int(ln.split()[0]) / 1000.0 for ln in out if ln.split()]
    ha.release(); hb.release()
    bad = {k: [d for d in v if d['rc_open'] != 0] for k, v in data.items()}
    t.check(all(not b for b in bad.values()), 'all logins opened', str({k: b[:2] for k, b in bad.items() if b}))
    res = {'loads': loads, 'hooks': {k: [d['open'] for d in v] for k, v in data.items()},
           'both': {k: [d['open'] + d['close'] for d in v] for k, v in data.items()},
           'start': {k: [d['start'] for d in v] for k, v in data.items()}, 'spawn': spawn}
    with open(f'{before}/ab.json', 'w') as f:
        json.dump(res, f)
    t.check(True, 'measured')
