#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
The peers measured outside the throwaway host's pid namespace.

usage: outside.py BUILDDIR [--quick]

firejail cannot be measured inside the benchmarks' throwaway host:
started in a pid namespace that is not the initial one, it reports "an
existing sandbox was detected" and runs the program without any sandboxing,
so it would look far cheaper than it is. Here it runs in the machine's own
pid namespace, in a private mount namespace (unshare --mount, propagation
private) with a fresh tmpfs on /run, so the state firejail keeps under
/run/firejail goes away with the namespace; unshare and bwrap run beside it
for comparison with the same commands measured inside. Nothing else of the
machine is touched: the commands run `true`.

Writes BUILDDIR/bench-outside.json: {key: {what, argv, times_us, error}}.
bench/bench_login.py folds it into the peers' section.
"""

import json
import os
import shutil
import subprocess
import sys

PEERS = [
    ('true', '`true` alone', ['/bin/true']),
    ('unshare', 'unshare --fork --pid --mount --mount-proc true',
     ['unshare', '--fork', '--pid', '--mount', '--mount-proc', 'true']),
    ('bwrap', 'bwrap --unshare-pid --dev-bind / / --proc /proc --tmpfs /tmp true',
     ['bwrap', '--unshare-pid', '--dev-bind', '/', '/', '--proc', '/proc', '--tmpfs', '/tmp', 'true']),
    ('firejail', 'firejail --quiet --noprofile --private-tmp true',
     ['firejail', '--quiet', '--noprofile', '--private-tmp', 'true']),
]


def inner(build, quick):
    # Opened before the tmpfs goes on /run: the build dir may be under it.
    result = open(os.path.join(build, 'bench-outside.json'), 'w')
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'nscb-outside-run', '/run'], check=True)
    out = {}
    usable = []
    for key, what, argv in PEERS:
        entry = {'what': what, 'argv': argv, 'times_us': [], 'error': ''}
        out[key] = entry
        if not shutil.which(argv[0]):
            entry['error'] = f'{argv[0]} is not installed'
            continue
        if key == 'true':
            usable.append((key, argv))
            continue
        probe = argv[:-1] + ['sh', '-c', 'readlink /proc/self/ns/pid']
        r = subprocess.run(probe, capture_output=True, text=True)
        if r.returncode != 0:
            entry['error'] = f'exits {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}'
            continue
        if r.stdout.strip() == os.readlink('/proc/self/ns/pid'):
            entry['error'] = f'ran the command in the caller\'s pid namespace: {r.stderr.strip()[-300:]}'
            continue
        usable.append((key, argv))
    if shutil.which('hyperfine') and usable:
        rounds, runs = (2, 10) if quick else (4, 50)
        for i in range(rounds):
            path = f'/run/hyperfine-{i}.json'
            subprocess.run(['hyperfine', '-N', '--warmup', '5', '--runs', str(runs), '--export-json', path]
                           + [' '.join(a) for _k, a in usable], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            try:
                with open(path) as f:
                    results = json.load(f)['results']
            except (OSError, ValueError, KeyError):
                continue
            for (key, _a), res in zip(usable, results):
                out[key]['times_us'] += [t * 1e6 for t in res['times']]
    elif usable:
        for key, _a in usable:
            out[key]['error'] = 'hyperfine is not installed'
    with result:
        json.dump(out, result, indent=1)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    quick = '--quick' in sys.argv
    if len(args) != 1:
        sys.exit(__doc__)
    if '--inner' in sys.argv:
        inner(args[0], quick)
        return
    argv = ['unshare', '--mount', '--propagation', 'private', '--', sys.executable,
            os.path.abspath(__file__), args[0], '--inner'] + (['--quick'] if quick else [])
    sys.exit(subprocess.run(argv).returncode)


if __name__ == '__main__':
    main()
