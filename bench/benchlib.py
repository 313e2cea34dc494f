# SPDX-License-Identifier: LGPL-2.1-or-later
"""
What nscell's benchmarks share (bench/bench_login.py, bench/bench_scale.py):
the options, the results store, the throwaway host's extra set-up, and thin
wrappers around the C tools in this directory.

Results: every figure is kept in FIGS (a median, p10, p90 and n, optionally a
ratio to a baseline figure of the same run), shown in a section's table, and
the whole store is written to OUT (JSON) after every change, so a run that
stops half-way still leaves what it measured. bench/report.py renders it.
"""

import glob
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import time

from nscelltest import WORK, poll, procs, sh, write

# Set by configure(): run-in-ns hands the tests a clean environment, so the
# options come from NSCELL_BENCH_* when present, else from the file bench/run
# leaves in the build directory.
BUILD = OUT = PAM_BIN = NS_BIN = POLICY_BIN = VIEW_BIN = ''
QUICK = False


def configure(env):
    global BUILD, OUT, QUICK, PAM_BIN, NS_BIN, POLICY_BIN, VIEW_BIN
    BUILD = env.build_dir
    opts = {}
    try:
        with open(os.path.join(BUILD, 'bench-options.json')) as f:
            opts = json.load(f)
    except (OSError, ValueError):
        pass
    OUT = os.environ.get('NSCELL_BENCH_OUT') or opts.get('out') or os.path.join(BUILD, 'bench-results.json')
    QUICK = os.environ.get('NSCELL_BENCH_QUICK', str(int(bool(opts.get('quick'))))) == '1'
    RESULTS['quick'] = QUICK
    PAM_BIN = f'{BUILD}/bench/nscell-bench-pam'
    NS_BIN = f'{BUILD}/bench/nscell-bench-ns'
    POLICY_BIN = f'{BUILD}/bench/nscell-bench-policy'
    VIEW_BIN = f'{BUILD}/bench/nscell-bench-view'


BENCH = '/run/nscell-bench'        # under the harness's private /run
CONFDIR = f'{BENCH}/pam.d'         # PAM stacks of the C harness (pam_start_confdir)
SSH_PORT = 2222                    # the benchmarks' own sshd (one for every configuration)
SSH_CFG = f'{BENCH}/ssh_config'
POLICY_PATH = '/etc/security/nscell.conf'

# Who is what in the policy below.
NEW_USER = 'nscit-a'      # Scope session: a new cell per login
JOIN_USER = 'nscit-b'     # Scope user: joins the user's cell, which a holder keeps alive
FULL_USER = 'nscit-c'     # the shipped defaults: pid+mnt+ipc, tmpfs /tmp, /var/tmp, /dev/shm
VIEW_USER = 'nscit-d'     # NEW_USER's cell plus the view: ProtectHome own, ProtectSystem full
PAMNS_USER = 'nscit-e'    # pam_namespace's login (nscell not in that stack)
EXEMPT_USER = 'nscit-x'   # Isolate no
LIMITS_USER = 'nscit-d'   # Scope user with limits: joins its cell, which a holder keeps alive
LIMITS_RHOST = '192.0.2.10'  # NEW_USER from here: a new cell with limits

# Whole ssh logins all log in NEW_USER and differ only by the source address
# (ssh -b), which the policy matches as the login's host: no per-user
# difference (home, groups) between a configuration and its baseline.
SRC_PLAIN, SRC_EXEMPT, SRC_JOIN = '127.0.0.1', '127.0.0.2', '127.0.0.3'

# The cell the targets are about: new pid + mount namespaces, /proc and /tmp.
POLICY = f"""\
Isolate yes
Scope session
Namespaces pid mount
MaxCells 1024
Tmp tmpfs mode=1777
VarTmp shared
DevShm shared

Match Host {SRC_EXEMPT}
    Isolate no

Match Host {SRC_JOIN}
    Scope user

Match User {JOIN_USER}
    Scope user

Match User {FULL_USER}
    Namespaces pid mount ipc
    VarTmp tmpfs mode=1777
    DevShm tmpfs mode=1777

Match User {VIEW_USER}
    ProtectHome own
    ProtectSystem full

Match User {EXEMPT_USER}
    Isolate no

Match Host {LIMITS_RHOST}
    MemoryMax 1G
    TasksMax 5000
    CPUQuota 200%
    LimitsUnavailable ignore

Match User {LIMITS_USER}
    Scope user
    MemoryMax 1G
    TasksMax 5000
    CPUQuota 200%
    LimitsUnavailable ignore
"""

NAMESPACE_CONF = '/tmp tmpfs {method} root\n'


def cell_inits():
    return [p for p in procs() if p.comm == 'nscell-init']


def n_(full, quick):
    return quick if QUICK else full


# ---- results --------------------------------------------------------------

RESULTS = {'quick': False, 'sections': {}, 'targets': [], 'checks': [], 'commands': []}
FIGS = {}


def save():
    RESULTS['figures'] = FIGS
    tmp = OUT + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(RESULTS, f, indent=1, sort_keys=True)
    os.replace(tmp, OUT)


def stats(xs):
    xs = sorted(xs)
    if not xs:
        return {'n': 0, 'median': None, 'p10': None, 'p90': None}
    if len(xs) == 1:
        return {'n': 1, 'median': xs[0], 'p10': xs[0], 'p90': xs[0], 'max': xs[0]}
    q = statistics.quantiles(xs, n=10, method='inclusive')
    return {'n': len(xs), 'median': statistics.median(xs), 'p10': q[0], 'p90': q[8],
            'max': xs[-1]}


def section(key, title, intro=''):
    s = RESULTS['sections'].setdefault(key, {'title': title, 'intro': intro, 'tables': [],
                                             'notes': [], 'order': len(RESULTS['sections'])})
    return s


def table(sec, title, base_label='baseline'):
    t = {'title': title, 'rows': [], 'base_label': base_label}
    sec['tables'].append(t)
    return t


def fig(tab, key, what, xs, unit='us', base=None, how='', note=''):
    """One figure: a row of `tab`, kept as FIGS[key]. xs in `unit`."""
    row = dict(stats(xs), key=key, what=what, unit=unit, how=how, note=note)
    if base and base in FIGS and FIGS[base]['median']:
        row['base'] = base
        row['ratio'] = row['median'] / FIGS[base]['median'] if row['median'] is not None else None
    FIGS[key] = row
    if tab is not None:
        tab['rows'].append(row)
    save()
    return row


def value(tab, key, what, v, unit='us', base=None, how='', note=''):
    """A single derived number (a slope, a difference) shown like a figure."""
    row = {'n': None, 'median': v, 'p10': None, 'p90': None, 'key': key, 'what': what,
           'unit': unit, 'how': how, 'note': note}
    if base and base in FIGS and FIGS[base]['median']:
        row['base'] = base
        row['ratio'] = v / FIGS[base]['median']
    FIGS[key] = row
    if tab is not None:
        tab['rows'].append(row)
    save()
    return row


def target(what, goal, measured, met, why):
    RESULTS['targets'] = [t for t in RESULTS['targets'] if t['what'] != what]
    RESULTS['targets'].append({'what': what, 'goal': goal, 'measured': measured, 'met': bool(met),
                               'why': why})
    save()


def check(t, ok, what, detail=''):
    """A validity check of a measurement (recorded in the results too)."""
    t.check(ok, what, detail)
    RESULTS['checks'] = [c for c in RESULTS['checks'] if c['what'] != what]
    RESULTS['checks'].append({'what': what, 'ok': bool(ok), 'detail': str(detail)[:2000] if not ok else ''})
    save()


def note(sec, text):
    sec['notes'].append(text)
    save()


def command(what, cmd):
    RESULTS['commands'].append({'what': what, 'cmd': cmd if isinstance(cmd, str) else ' '.join(cmd)})
    save()


def fmt_us(us):
    return f'{us:.0f} µs' if us >= 100 else f'{us:.1f} µs' if us >= 1 else f'{us * 1000:.0f} ns'


# ---- the bench environment (once per namespace) ---------------------------

_ready = {}


def setup(env):
    """PAM stacks for the C harness, the policy, quickack on loopback and the
    benchmarks' sshd. Idempotent: every section calls it."""
    env.set_policy(POLICY)
    env.set_pam(nscell=False)
    if _ready:
        return
    configure(env)
    os.makedirs(CONFDIR, exist_ok=True)
    mod = env.module
    # Any second module, for the floor of loading and calling one: a copy of
    # pam_permit.so under another name (libpam loads each path once).
    permit = sorted(glob.glob('/lib/*/security/pam_permit.so') + glob.glob('/usr/lib/*/security/pam_permit.so') +
                    glob.glob('/lib*/security/pam_permit.so'))[0]
    shutil.copyfile(permit, f'{BENCH}/pam_permit_copy.so')
    stacks = {
        'base': 'session required pam_permit.so\n',
        'floor': (f'session optional {BENCH}/pam_permit_copy.so\n'
                  'session required pam_permit.so\n'
                  f'session required {BENCH}/pam_permit_copy.so\n'),
        'nscell': (f'session optional {mod} restore\n'
                   'session required pam_permit.so\n'
                   f'session required {mod}\n'),
        'nscell-debug': (f'session optional {mod} restore\n'
                         'session required pam_permit.so\n'
                         f'session required {mod} debug\n'),
        'pamns': ('session required pam_permit.so\n'
                  'session required pam_namespace.so\n'),
        'other': ('auth required pam_deny.so\naccount required pam_deny.so\n'
                  'password required pam_deny.so\nsession required pam_deny.so\n'),
    }
    for name, text in stacks.items():
        write(f'{CONFDIR}/{name}', text, 0o644)
    write('/etc/security/namespace.conf', NAMESPACE_CONF.format(method='tmpfs'), 0o644)
    quickack(True)
    # The harness's syslog catcher is a Python thread: let its socket queue as
    # many datagrams as a systemd host does (sysctl.d/50-default.conf), so
    # that it, not nscell, never makes a logger wait. Per network namespace.
    with open('/proc/sys/net/unix/max_dgram_qlen', 'w') as f:
        f.write('512\n')
    start_sshd(env)
    _ready['yes'] = True
    RESULTS['env'] = {'module': env.module, 'helper': env.open_helper, 'run_helper': env.run_helper, 'policy': POLICY,
                      'pam': {k: v for k, v in stacks.items()}}
    save()


def quickack(on):
    """quickack on the loopback routes of this private network namespace: no
    delayed-ACK stalls in a loopback login (see design notes §4)."""
    for dst in ('127.0.0.0/8', '127.0.0.1'):
        sh(['ip', 'route', 'replace', 'local', dst, 'dev', 'lo', 'table', 'local', 'proto', 'kernel',
            'scope', 'host', 'src', '127.0.0.1'] + (['quickack', '1'] if on else []))


def start_sshd(env):
    with open(f'{WORK}/ssh/sshd_config') as f:
        conf = f.read()
    conf = re.sub(r'(?m)^Port .*$', f'Port {SSH_PORT}', conf)
    conf = re.sub(r'(?m)^MaxStartups .*$', 'MaxStartups 400:30:800', conf)
    conf = re.sub(r'(?m)^LogLevel .*$', 'LogLevel INFO', conf)
    write(f'{BENCH}/sshd_config', conf, 0o644)
    with open(f'{WORK}/ssh/host.pub') as f:
        write(f'{BENCH}/known_hosts', f'[127.0.0.1]:{SSH_PORT} {f.read()}', 0o644)
    write(SSH_CFG, f"""\
Host 127.0.0.1
  Port {SSH_PORT}
  UserKnownHostsFile {BENCH}/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  IdentitiesOnly yes
  IdentityFile {WORK}/ssh/id
  LogLevel ERROR
  ConnectTimeout 20
""", 0o644)
    log_f = open(f'{BENCH}/sshd.log', 'ab')
    p = subprocess.Popen(['/usr/sbin/sshd', '-D', '-e', '-f', f'{BENCH}/sshd_config'],
                         stdin=subprocess.DEVNULL, stdout=log_f, stderr=log_f)

    def up():
        try:
            socket.create_connection(('127.0.0.1', SSH_PORT), timeout=1).close()
            return True
        except OSError:
            return p.poll() is not None
    poll(up, timeout=10)
    if p.poll() is not None:
        raise RuntimeError('the benchmarks\' sshd did not start; see ' + f'{BENCH}/sshd.log')
    _ready['sshd'] = p


def ssh_argv(user, cmd='true', src=SRC_PLAIN):
    return ['ssh', '-F', SSH_CFG, '-b', src, f'{user}@127.0.0.1', cmd]


def ssh_login(user, cmd='true', src=SRC_PLAIN):
    """One whole login, timed on the client: (seconds, exit status)."""
    argv = ssh_argv(user, cmd, src)
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    return time.perf_counter() - t0, r.returncode, r.stderr.decode(errors='replace')


def sshd_pam(env, kind):
    """/etc/pam.d/sshd for one configuration: the host's stack ('base'), with
    nscell (restore first, nscell last, debug: it logs its own hook times), or
    with pam_namespace last."""
    if kind == 'nscell':
        env.set_pam(nscell=True, args='debug', services=['sshd'])
    else:
        env.set_pam(nscell=False, services=['sshd'])
        if kind == 'pamns':
            with open('/etc/pam.d/sshd', 'a') as f:
                f.write('session required pam_namespace.so\n')


# ---- the C harness ---------------------------------------------------------

def pam_cycle(service, user, n, flags=()):
    """n logins through the C harness; one dict per login (times in µs)."""
    r = sh([PAM_BIN, 'cycle', '-n', str(n), '-d', CONFDIR] + list(flags) + [service, user])
    out = []
    for ln in r.stdout.splitlines():
        f = ln.split()
        if len(f) == 2 and f[0] == 'exit' and out:
            out[-1]['exit'] = int(f[1]) / 1000.0
        if len(f) != 8:
            continue
        v = [int(x) / 1000.0 for x in f[:6]]
        out.append({'start': v[0], 'open': v[1], 'true': v[2], 'close': v[3], 'end': v[4],
                    'teardown': v[5], 'rc_open': int(f[6]), 'rc_close': int(f[7])})
    return out


class Holder:
    """nscell-bench-pam hold: N sessions held open in one process."""

    def __init__(self, user, n, service='nscell', rhost=None):
        self.user, self.n = user, n
        self.p = subprocess.Popen([PAM_BIN, 'hold', '-n', str(n), '-d', CONFDIR]
                                  + (['-r', rhost] if rhost else []) + [service, user],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.opens, self.rcs, self.held = [], [], 0
        for line in self.p.stdout:
            f = line.split()
            if f[0] == 'open':
                self.opens.append(int(f[2]) / 1000.0)
                self.rcs.append(int(f[3]))
            elif f[0] == 'held':
                self.held = int(f[1])
                break
        self.closed_us = self.reaped = self.reaped_us = None

    @property
    def pid(self):
        return self.p.pid

    def inits(self):
        return [p for p in cell_inits() if p.ppid == self.p.pid]

    def release(self):
        self.p.stdin.close()
        for line in self.p.stdout:
            f = line.split()
            if f[0] == 'closed':
                self.closed_us = int(f[1]) / 1000.0
            elif f[0] == 'reaped':
                self.reaped, self.reaped_us = int(f[1]), int(f[2]) / 1000.0
        self.p.wait()


class NsHolder:
    """nscell-bench-ns hold-ns / hold-floor."""

    def __init__(self, verb, n):
        self.p = subprocess.Popen([NS_BIN, verb, str(n)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.pids = []
        for line in self.p.stdout:
            f = line.split()
            if f[0] == 'pid':
                self.pids.append(int(f[1]))
            elif f[0] == 'held':
                break

    def release(self):
        self.p.stdin.close()
        self.p.stdout.read()
        self.p.wait()


def ns_lines(args):
    r = sh([NS_BIN] + args)
    return [[int(x) for x in ln.split()] for ln in r.stdout.splitlines() if ln.strip()]


def rounds(n_total, per_round):
    r = max(1, n_total // per_round)
    return r, per_round


MEM_KEYS = ('Slab', 'SReclaimable', 'SUnreclaim', 'PageTables', 'KernelStack', 'Percpu', 'VmallocUsed')


def meminfo():
    out = {}
    with open('/proc/meminfo') as f:
        for ln in f:
            k, v = ln.split(':', 1)
            out[k] = int(v.split()[0])
    try:
        with open('/proc/slabinfo') as f:
            total = 0
            for ln in f:
                p = ln.split()
                if len(p) > 4 and p[1].isdigit():
                    total += int(p[1]) * int(p[3])
        out['slab_objects'] = total // 1024
    except OSError:
        pass
    return out


def settled_meminfo():
    """meminfo after RCU and deferred frees have had a moment; the median of 3 reads."""
    time.sleep(1.0)
    reads = []
    for _ in range(3):
        reads.append(meminfo())
        time.sleep(0.2)
    return {k: sorted(r.get(k, 0) for r in reads)[1] for k in reads[0]}


def slab_caches():
    """{cache: bytes of live objects} from /proc/slabinfo."""
    out = {}
    try:
        with open('/proc/slabinfo') as f:
            for ln in f:
                p = ln.split()
                if len(p) > 4 and p[1].isdigit():
                    out[p[0]] = out.get(p[0], 0) + int(p[1]) * int(p[3])
    except OSError:
        pass
    return out


def smaps(pid):
    """[(mapping, Pss kB)] of a process, largest first."""
    out, name = {}, None
    try:
        with open(f'/proc/{pid}/smaps') as f:
            for ln in f:
                p = ln.split()
                if '-' in p[0] and len(p) >= 5 and ':' not in p[0]:
                    name = p[5] if len(p) > 5 else '[anon]'
                    name = os.path.basename(name) if name.startswith('/') else name
                elif p[0] == 'Pss:' and name:
                    out[name] = out.get(name, 0) + int(p[1])
    except OSError:
        pass
    return sorted(out.items(), key=lambda kv: -kv[1])


def needed_libs(path):
    """Shared libraries an ELF file loads (ldd), as base names; [] if static."""
    r = sh(['ldd', path], check=False)
    return [ln.split()[0] for ln in r.stdout.splitlines() if '=>' in ln]


def fd_kinds(pid):
    """{kind: count} of a process's open fds: socket, pipe, anon_inode:[…], file."""
    out = {}
    try:
        for fd in os.listdir(f'/proc/{pid}/fd'):
            try:
                target = os.readlink(f'/proc/{pid}/fd/{fd}')
            except OSError:
                continue
            kind = target.split(':')[0] if target.startswith(('socket:', 'pipe:')) else \
                target if target.startswith('anon_inode:') else 'file'
            out[kind] = out.get(kind, 0) + 1
    except OSError:
        pass
    return out


def pss_kb(pid):
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for ln in f:
                if ln.startswith('Pss:'):
                    return int(ln.split()[1])
    except OSError:
        return None
    return None


def n_mounts():
    with open('/proc/self/mountinfo') as f:
        return sum(1 for _ in f)


def slope(xs, ys):
    """Least-squares slope of ys over xs."""
    mx, my = statistics.mean(xs), statistics.mean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


# sshd logs without a pid: logins are sequential, so a close line belongs to
# the open line before it.
HOOK_RX = re.compile(r'pam_nscell\(sshd:session\): (open|close)_session: '
                     r'(?:user (\S+) in \S+ \((new|joined)\)|(exempt)|left \S+) in (\d+) us')


