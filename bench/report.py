#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
bench/run's bookkeeping: the machine around a run, and bench/RESULTS.md.

usage: report.py machine BUILDDIR before|after
       report.py render BUILDDIR > RESULTS.md

`machine` records into BUILDDIR/bench-machine.json what the machine is and
how busy it was (before: also which other processes were using the CPUs).
`render` reads BUILDDIR/bench-results.json (what bench/bench_login.py and bench_scale.py wrote
inside the throwaway host), bench-machine.json and bench-run.log (the
harness's output: its checks and the host checks after the run).
Standard library only.
"""

import datetime
import json
import os
import platform
import subprocess
import sys
import time

SECTION_ORDER = ['hooks', 'floor', 'ssh', 'peers', 'memory', 'mounts', 'cells', 'burst']


def fmt(v, unit):
    if v is None:
        return '–'
    if unit == 'us':
        a = abs(v)
        if a >= 100000:
            return f'{v / 1000:.0f} ms'
        if a >= 10000:
            return f'{v / 1000:.1f} ms'
        if a >= 1000:
            return f'{v / 1000:.2f} ms'
        if a >= 100:
            return f'{v:.0f} µs'
        if a >= 10:
            return f'{v:.1f} µs'
        return f'{v:.2f} µs'
    if unit == 'kB':
        return f'{v:.1f} kB' if abs(v) < 100 else f'{v:.0f} kB'
    if unit == 'count':
        return f'{v:.0f}' if float(v).is_integer() or abs(v) >= 100 else f'{v:.1f}'
    return f'{v}'


def esc(text):
    return str(text).replace('|', '\\|').replace('\n', ' ')


def ratio(row):
    r = row.get('ratio')
    if r is None or 'base' not in row:
        return '–'
    return f'{r:.2f}×' if r < 10 else f'{r:.1f}×' if r < 100 else f'{r:.0f}×'


def table(t, figs):
    out = [f'**{t["title"]}**' + (f' (× = ratio of medians to {t["base_label"]})' if t.get('base_label') else ''),
           '',
           '| what | n | median | p10 | p90 | × | how |',
           '|---|---:|---:|---:|---:|---:|---|']
    for row in t['rows']:
        u = row.get('unit', 'us')
        out.append(f'| {esc(row["what"])} | {row["n"] if row.get("n") is not None else "–"} | '
                   f'{fmt(row.get("median"), u)} | {fmt(row.get("p10"), u)} | {fmt(row.get("p90"), u)} | '
                   f'{ratio(row)} | {esc(row.get("how", "")) or ""}{(" — " + esc(row["note"])) if row.get("note") else ""} |')
    return '\n'.join(out)


def host_checks(log):
    lines, keep = [], False
    for ln in log.splitlines():
        if ln.startswith('--- host after the run'):
            keep = True
            continue
        if keep:
            lines.append(ln.rstrip())
    return lines


def cpu_times():
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), (v[7] if len(v) > 7 else 0)


def busy_processes(seconds=1.0):
    """Processes (other than this one's family) using > 5% of a CPU, as 'comm (N%)'."""
    def sample():
        out = {}
        for d in os.listdir('/proc'):
            if not d.isdigit():
                continue
            try:
                with open(f'/proc/{d}/stat') as f:
                    st = f.read()
            except OSError:
                continue
            comm = st[st.index('(') + 1:st.rindex(')')]
            fields = st[st.rindex(')') + 2:].split()
            out[d] = (comm, int(fields[11]) + int(fields[12]))
        return out
    a = sample()
    time.sleep(seconds)
    b = sample()
    hz = os.sysconf('SC_CLK_TCK')
    mine = {str(os.getpid()), str(os.getppid())}
    busy = []
    for pid, (comm, t) in b.items():
        if pid in a and pid not in mine:
            pct = 100.0 * (t - a[pid][1]) / hz / seconds
            if pct > 5:
                busy.append((pct, comm))
    return [f'{c} ({p:.0f}%)' for p, c in sorted(busy, reverse=True)[:6]]


def run(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ''


def machine(build, when):
    path = os.path.join(build, 'bench-machine.json')
    m = {}
    if when == 'after':
        with open(path) as f:
            m = json.load(f)
    with open('/proc/loadavg') as f:
        load = ' / '.join(f.read().split()[:3])
    total, steal = cpu_times()
    if when == 'before':
        with open('/proc/meminfo') as f:
            mem = int(f.readline().split()[1])
        cpu = ''
        with open('/proc/cpuinfo') as f:
            for ln in f:
                if ln.startswith('model name'):
                    cpu = ln.split(':', 1)[1].strip()
                    break
        virt = run(['systemd-detect-virt']) or ''
        if not virt:
            try:
                with open('/proc/cpuinfo') as f:
                    virt = 'a virtual machine (hypervisor flag)' if ' hypervisor' in f.read() else ''
            except OSError:
                pass
        with open('/etc/debian_version') as f:
            debian = f.read().strip()
        vers = run(['dpkg-query', '-W', '-f', '${Package} ${Version}, ', 'openssh-server', 'util-linux',
                    'libpam-modules', 'bubblewrap', 'firejail', 'hyperfine', 'linux-perf'])
        head = run(['git', '-C', os.path.dirname(os.path.abspath(build)), 'rev-parse', '--short', 'HEAD'])
        dirty = run(['git', '-C', os.path.dirname(os.path.abspath(build)), 'status', '--porcelain',
                     '--untracked-files=no'])
        others = busy_processes()
        m = {'date': datetime.datetime.now().strftime('%Y-%m-%d %H:%M %Z').strip(),
             'nproc': str(len(os.sched_getaffinity(0))), 'cpu': cpu,
             'memory': f'{mem / 1048576:.1f} GiB', 'kernel': f'{platform.release()} ({platform.machine()})',
             'debian': debian, 'virt': virt, 'load_before': load, 'versions': vers.rstrip(', '),
             'tree': f'commit {head}' + (' with uncommitted changes' if dirty else ''),
             'others': ', '.join(others) or 'none', 'build': os.path.abspath(build),
             'nice': str(os.getpriority(os.PRIO_PROCESS, 0)),
             'cpu0': [total, steal], 't0': time.time()}
    else:
        t0, s0 = m.get('cpu0', [0, 0])
        m['load_after'] = load
        m['steal'] = f'{100.0 * (steal - s0) / max(1, total - t0):.1f}%'
        m['took'] = f'{(time.time() - m.get("t0", time.time())) / 60:.1f} min'
        noise = []
        if m.get('others') and m['others'] != 'none':
            noise.append(f'other processes were busy when the run started: {m["others"]}')
        if float(m['load_before'].split()[0]) > 0.5 * int(m['nproc']):
            noise.append(f'the load average was {m["load_before"]} before the run')
        if float(m['steal'].rstrip('%')) > 5:
            noise.append(f'the hypervisor took {m["steal"]} of the CPU time')
        m['noisy'] = ('; '.join(noise) + '. A process that waits for another (a spawn, a '
                      'reap, an answer) then often waits for a CPU too: expect medians above a '
                      'quiet machine\'s and long p90 tails. The p10 column is the closer estimate '
                      'of the uncontended cost; ratios within one table suffer less, as the '
                      'configurations alternate.') if noise else ''
    with open(path, 'w') as f:
        json.dump(m, f, indent=1)


def render(build):
    with open(os.path.join(build, 'bench-results.json')) as f:
        res = json.load(f)
    with open(os.path.join(build, 'bench-machine.json')) as f:
        m = json.load(f)
    try:
        with open(os.path.join(build, 'bench-run.log'), errors='replace') as f:
            log = f.read()
    except OSError:
        log = ''
    figs = res.get('figures', {})
    out = []
    w = out.append
    w('# nscell benchmarks: what it costs a login and the memory')
    w('')
    w(f'Written by `bench/run` on {m.get("date", "?")}; every run rewrites this file. '
      'Figures are medians with the 10th and 90th percentiles of n runs; "×" is the ratio of '
      'medians to the baseline named in each table, measured in the same run. Benchmarks '
      'print figures and never judge the test suite; the targets below are marked met or not.')
    if res.get('quick'):
        w('')
        w('**This was a `--quick` run (small counts): for trying the machinery, not for quoting.**')
    w('')
    w('## The machine')
    w('')
    w('| | |')
    w('|---|---|')
    for k, label in (('nproc', 'CPUs (nproc)'), ('cpu', 'CPU'), ('memory', 'memory'),
                     ('kernel', 'kernel'), ('debian', 'Debian'), ('virt', 'virtualisation'),
                     ('load_before', 'load average before the run (1/5/15 min)'),
                     ('load_after', 'load average after the run'),
                     ('steal', 'CPU time stolen by the hypervisor during the run'),
                     ('others', 'other busy processes at the start (not the benchmark\'s)'),
                     ('nice', 'the benchmarks\' nice value'),
                     ('versions', 'versions'), ('tree', 'tree measured'), ('took', 'the run took')):
        if m.get(k):
            w(f'| {label} | {esc(m[k])} |')
    w('')
    if m.get('noisy'):
        w(f'> **Noise warning:** {m["noisy"]}')
        w('')
    w('How to run it again: `bench/run` (as root; installs hyperfine, bubblewrap, firejail, strace, '
      'linux-perf and musl-tools with apt-get, builds into build-bench, runs everything inside private mount, pid and '
      'network namespaces through tests/integration/run-in-ns, leaves nothing behind, rewrites this '
      'file). `bench/run --quick` tries the machinery in about a minute.')
    w('')

    w('## Targets')
    w('')
    w('| target | goal | measured | met | how it was judged |')
    w('|---|---|---|---|---|')
    for t in res.get('targets', []):
        w(f'| {esc(t["what"])} | {esc(t["goal"])} | {esc(t["measured"])} | '
          f'{"**met**" if t["met"] else "**not met**"} | {esc(t["why"])} |')
    w('')

    if res.get('trims'):
        w('## Where the time goes, and what to trim')
        w('')
        w('Sized by the floors in "Where the time of open_session goes" below. None of these is '
          'applied in the tree measured here.')
        w('')
        for i, tr in enumerate(res['trims'], 1):
            w(f'{i}. **{tr["where"]}** — {tr["what"]} *Saves:* {tr["saves"]}.')
        w('')

    secs = res.get('sections', {})
    order = [k for k in SECTION_ORDER if k in secs] + [k for k in secs if k not in SECTION_ORDER]
    for key in order:
        s = secs[key]
        w(f'## {s["title"]}')
        w('')
        if s.get('intro'):
            w(s['intro'])
            w('')
        for t in s.get('tables', []):
            w(table(t, figs))
            w('')
        for n in s.get('notes', []):
            w(f'- {n}')
        if s.get('notes'):
            w('')

    w('## Commands')
    w('')
    w('Paths: BUILD is the build directory, /run/nscell-bench the benchmarks\' directory inside '
      'the throwaway host.')
    w('')
    for c in res.get('commands', []):
        w(f'- {esc(c["what"])}: `{c["cmd"]}`')
    w('')
    if res.get('env'):
        w('The policy every figure uses (nscit-* are the integration harness\'s test users):')
        w('')
        w('```')
        w(res['env']['policy'].rstrip())
        w('```')
        w('')
        w('The C harness\'s nscell stack (`/run/nscell-bench/pam.d/nscell`):')
        w('')
        w('```')
        w(res['env']['pam']['nscell'].replace(res['env'].get('module') or '\0', 'pam_nscell.so').rstrip())
        w('```')
        w('')

    w('## Validity of the run')
    w('')
    bad = [c for c in res.get('checks', []) if not c['ok']]
    w(f'{len(res.get("checks", [])) - len(bad)} of {len(res.get("checks", []))} checks held '
      '(every login of a measurement succeeded, every cell made was ended, nothing was left '
      'behind in the throwaway host).')
    for c in bad:
        w(f'- **failed:** {esc(c["what"])}: {esc(c["detail"])[:500]}')
    hc = host_checks(log)
    if hc:
        w('')
        w('The host after the run (tests/integration/run-in-ns):')
        w('')
        w('```')
        for ln in hc:
            w(ln)
        w('```')
    w('')
    text = '\n'.join(out) + '\n'
    # Paths of this checkout read the same anywhere: BUILD/… and repository-relative.
    if m.get('build'):
        text = text.replace(m['build'], 'BUILD')
        text = text.replace(os.path.dirname(m['build']) + '/', '')
    sys.stdout.write(text)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == 'machine' and sys.argv[3] in ('before', 'after'):
        machine(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == 'render':
        render(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
