#!/usr/bin/python3
"""A/B of kresd builds against the two floors of perf.py, for optimising
the cache-hit path: CPU per answered query at a fixed rate, in many short
rounds that take turns, so that the machine's drift falls on every build
alike.

    tests/bench/ab.py new=build/kresd
    tests/bench/ab.py --rounds 30 --order ordered old=/tmp/kresd-old new=build/kresd
    tests/bench/ab.py --references knot-resolver,unbound new=build/kresd

Each NAME=BINARY is one kresd build. All of them, the floor and the
event-loop floor (tests/bench/floor.c, see perf.py) and the reference
resolvers named by --references (knot-resolver, unbound: configured as in
perf.py) are started at once, each one process pinned to --resolver-cpu;
the resolvers are warmed with every name once. Then --rounds rounds: in each, every participant in turn
gets --seconds seconds of `dnsperf -Q --rate -v` (as perf.py's rate mode)
from --client-cpu, and its on-CPU time over that window (schedstat) is
divided by the answered queries.

The query list is --names names of the lab's bulk.sim. zone: `shuffled`
(default; each name ten times in a random order, as perf.py's hits) or
`ordered` (each name once, n0, n1, ...: consecutive lookups then find the
same B-tree pages in the CPU cache, so the difference between the two is
what the lookup's memory traffic costs).

--answers says what the cache holds for the questions: `positive` (the
A records of the names, default), `nodata` (their AAAA: the zone has
none, so each is a cached NODATA) or `nxdomain` (the A of names that do
not exist in bulk.sim., "x" + name: each a cached NXDOMAIN). The warm-up
checks that every answer has the RCODE this should give.

Output: for each participant the median CPU us/q, the median and mean
over the rounds of its ratio to the floor of the same round, and the
median of its ratio to the first build of the same round, and to each
reference of the same round. The numbers
say how builds compare on this machine, at this time; compare builds
within one run, not across runs.

Everything runs on loopback (the lab's knotd hierarchy on 127.x, port 53:
needs root) and is bounded: each dnsperf has -l and a timeout, and every
process started is stopped by its PID. Exit status: 0, 1 on an error,
2 on bad arguments, 77 when the lab cannot run here.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import lab as lablib  # noqa: E402
from lab import resolvers  # noqa: E402
from benchutil import free_port, preflight, start_lab  # noqa: E402
from perf import FLOORS, UNBOUND_TCP, Floor, build_floor, pin_lab  # noqa: E402
from perf_tools import (BenchError, dnsperf, make_lists, say, sched_cpu,  # noqa: E402
                        write_list)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('builds', nargs='+', metavar='NAME=BINARY', help='kresd builds to compare')
    ap.add_argument('--rounds', type=int, default=20, help='rounds (%(default)s)')
    ap.add_argument('--seconds', type=float, default=2.0,
                    help='seconds per participant and round (%(default)s)')
    ap.add_argument('--rate', type=int, default=30000, help='dnsperf -Q (%(default)s)')
    ap.add_argument('--names', type=int, default=10000, help='bulk names (%(default)s)')
    ap.add_argument('--order', choices=('shuffled', 'ordered'), default='shuffled')
    ap.add_argument('--answers', choices=tuple(ANSWERS), default='positive',
                    help='what the cache answers: %(choices)s (%(default)s)')
    ap.add_argument('--resolver-cpu', type=int, default=1)
    ap.add_argument('--client-cpu', type=int, default=0)
    ap.add_argument('--references', default='',
                    help='comma separated, of knot-resolver,unbound: measured alongside')
    args = ap.parse_args(argv)
    args.refs = [r for r in args.references.split(',') if r]
    for ref in args.refs:
        if ref not in REFERENCES or args.refs.count(ref) > 1:
            ap.error(f'--references: {ref!r} is not one of {", ".join(REFERENCES)} (each once)')
    builds = {}
    for spec in args.builds:
        name, sep, binary = spec.partition('=')
        if not sep or not name or not binary or name in FLOORS + REFERENCES or name in builds:
            ap.error(f'{spec!r}: want NAME=BINARY, NAME unique and not one of '
                     f'{FLOORS + REFERENCES}')
        if not os.access(binary, os.X_OK):
            ap.error(f'{binary}: not an executable')
        builds[name] = os.path.abspath(binary)
    if args.rounds < 1 or args.seconds <= 0 or args.rate < 1 or not 1 <= args.names <= 10000:
        ap.error('--rounds, --seconds and --rate must be positive, --names 1..10000')
    args.build_map = builds
    return args


REFERENCES = ('knot-resolver', 'unbound')
# --answers: (name prefix, query type, the RCODE of every answer)
ANSWERS = {'positive': ('', 'A', 'NOERROR'), 'nodata': ('', 'AAAA', 'NOERROR'),
           'nxdomain': ('x', 'A', 'NXDOMAIN')}


def reference(kind, lab, workdir, port, prefix):
    """The reference resolver `kind`, not started, configured as perf.py's."""
    if kind == 'knot-resolver':
        return resolvers.KnotResolver(lab, workdir, port, prefix=prefix)
    return resolvers.Unbound(lab, workdir, port, extra=UNBOUND_TCP, prefix=prefix)


def window(args, port, names_file, workdir):
    """(answered queries, the dnsperf result) of one window."""
    res = dnsperf(port, names_file, rate=args.rate, duration=args.seconds, single_pass=False,
                  clients=16, outstanding=200, timeout=2.0, cpu=args.client_cpu,
                  workdir=workdir)
    return res['completed'], res


def main(argv=None):
    args = parse_args(argv)
    status = preflight(say, ('dnsperf', 'taskset'))
    if status is not None:
        return status
    workdir = Path(tempfile.mkdtemp(prefix='ab-', dir='/tmp'))
    lab = lablib.Lab(workdir / 'lab')
    live = {}  # name -> (server, port)
    try:
        if not start_lab(lab, say):
            return 1
        pin_lab(lab, args.client_cpu)
        prefix_name, qtype, want_rcode = ANSWERS[args.answers]
        names = [prefix_name + n for n in lab.bulk_names(args.names)]
        # shuffled: perf.py's hits list (its default --seed)
        queries = make_lists(names, 53)['hits'][1] if args.order == 'shuffled' else names
        names_file = write_list(workdir / 'queries.txt', queries, qtype)
        warm_file = write_list(workdir / 'warm.txt', names, qtype)
        prefix = ['taskset', '-c', str(args.resolver_cpu)]
        for kind in FLOORS:
            port = free_port()
            srv = Floor(lab, workdir / f'run-{kind}', port, binary=build_floor(workdir, kind),
                        name=kind, prefix=prefix)
            live[kind] = (srv.start(), port)
        todo = [(name, binary) for name, binary in args.build_map.items()]
        todo += [(ref, None) for ref in args.refs]
        for name, binary in todo:
            port = free_port()
            if binary is None:
                srv = reference(name, lab, workdir / f'ref-{name}', port, prefix)
            else:
                srv = resolvers.OurKresd(lab, workdir / f'build-{name}', port, binary=binary,
                                         prefix=prefix)
            srv.start()
            live[name] = (srv, port)
            warm = dnsperf(port, warm_file, duration=60, single_pass=True, clients=16,
                           outstanding=200, timeout=2.0, cpu=args.client_cpu, workdir=workdir,
                           verbose=False)
            if warm['lost']:
                say(f'{name}: {warm["lost"]} of {warm["sent"]} warm-up queries lost')
            if set(warm['rcodes']) - {want_rcode}:
                raise BenchError(f'{name}: warm-up answers {warm["rcodes"]}, want {want_rcode} '
                                 f'(--answers {args.answers})')
        say(f'{len(live)} participants, {args.rounds} rounds of {args.seconds} s each, '
            f'{args.rate} q/s, {args.order} list of {len(queries)} queries, '
            f'{args.answers} answers')
        per_q = {name: [] for name in live}
        for rnd in range(args.rounds):
            for name, (srv, port) in live.items():
                cpu0 = sched_cpu(srv.pid)
                done, _ = window(args, port, names_file, workdir)
                cpu1 = sched_cpu(srv.pid)
                if not srv.running() or cpu0 is None or cpu1 is None or not done:
                    raise BenchError(f'{name} stopped answering in round {rnd + 1}:\n{srv.log()}')
                per_q[name].append((cpu1 - cpu0) * 1e6 / done)
    except (BenchError, RuntimeError, OSError, subprocess.SubprocessError) as e:
        say(f'error: {e}')
        return 1
    finally:
        for srv, _ in live.values():
            srv.stop()
        lab.stop()
    floor = per_q['floor']
    print(f'{"participant":<14} {"CPU us/q":>9} {"/floor median":>14} {"/floor mean":>12} '
          f'{"/first build":>13}' + ''.join(f' {"/" + ref:>14}' for ref in args.refs))
    for name, values in per_q.items():
        ratios = [v / f for v, f in zip(values, floor)]
        to = [statistics.median(v / f for v, f in zip(values, per_q[other]))
              for other in [next(iter(args.build_map))] + args.refs]
        print(f'{name:<14} {statistics.median(values):9.2f} {statistics.median(ratios):14.3f} '
              f'{statistics.fmean(ratios):12.3f} {to[0]:13.3f}' +
              ''.join(f' {r:14.3f}' for r in to[1:]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
