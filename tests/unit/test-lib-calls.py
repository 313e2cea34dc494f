#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
The files of lib/ call each other without a cycle: each object of the static
library (nm) depends on the objects that define what it leaves undefined, and
that graph must be a DAG, so each file can be read (and its header included)
after the ones below it. Prints the order, or the cycle and fails.

Usage: test-lib-calls.py NM LIBNSCELL_A
"""
import subprocess
import sys


def main(nm, lib):
    out = subprocess.run([nm, '-A', '--defined-only', lib], capture_output=True, text=True,
                         check=True).stdout
    defined = {}
    for line in out.splitlines():
        name, _, rest = line.rpartition(':')
        parts = rest.split()
        if len(parts) == 3 and parts[1] in 'TDBR':
            defined[parts[2]] = name.split(':')[-1].split('/')[-1]
    out = subprocess.run([nm, '-A', '--undefined-only', lib], capture_output=True, text=True,
                         check=True).stdout
    deps = {o: set() for o in defined.values()}
    for line in out.splitlines():
        name, _, rest = line.rpartition(':')
        obj = name.split(':')[-1].split('/')[-1]
        sym = rest.split()[-1]
        if sym in defined and defined[sym] != obj:
            deps.setdefault(obj, set()).add(defined[sym])
    if not deps:
        print(f'no objects read from {lib}', file=sys.stderr)
        return 1
    state, order, stack = {}, [], []

    def visit(o):
        state[o] = 1
        stack.append(o)
        for d in sorted(deps.get(o, ())):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                raise SystemExit('FAIL a cycle of calls in lib/: ' + ' -> '.join(cycle))
            if not state.get(d):
                visit(d)
        stack.pop()
        state[o] = 2
        order.append(o)

    for o in sorted(deps):
        if not state.get(o):
            visit(o)
    print('ok   lib/ from the bottom up: ' + ' '.join(order))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2]))
