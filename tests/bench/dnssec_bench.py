#!/usr/bin/python3
"""DNSSEC benchmark: our kresd, Knot Resolver 5 and Unbound, all three
validating with the same trust anchor, against the signed lab
(tests/lab/signed.py) with its opt-in zone bulk.sec. (alg 13, NSEC3, the A
records n0 .. n<N-1>, securely delegated from sec.).

    tests/bench/dnssec_bench.py                          # full run, about 6 minutes
    tests/bench/dnssec_bench.py --kresd build-bench/kresd --rounds 20
    tests/bench/dnssec_bench.py --quick                  # about a minute
    tests/bench/dnssec_bench.py --smoke --json           # the test's version

Two parts:

hits   Every resolver is started once (one process pinned to
       --resolver-cpu, as ab.py) and warmed with every name of the list
       once in each query variant.  Then --rounds rounds: in each, every
       participant in turn gets --seconds of `dnsperf -Q --rate` (from
       --client-cpu) over the names (each ten times, shuffled: perf.py's
       hits list), and its on-CPU time over that window (schedstat, as
       ab.py) is divided by the answered queries.  A participant is a
       resolver and a query variant:
         do     EDNS with the DNSSEC OK bit (dnsperf -D): answers carry the
                RRSIGs and the AD bit
         edns   EDNS without DO (dnsperf -e): the same cached data,
                no signatures in the answer
         plain  no EDNS (ab.py's and perf.py's queries; ours only)
       and the floor (tests/bench/floor.c, plain queries), whose figure
       shows how the machine drifts.  The order of the participants turns
       by one every round.  Reported: the median CPU us/q of each, its
       spread over the rounds, and the medians (with quartiles) of the
       per-round ratios that the targets are about: ours do / ours edns,
       knot-resolver do / ours do, unbound do / ours do.

cold   For each resolver a fresh process with an empty cache: one pass of
       dnsperf (-n 1, unthrottled, 16 sockets, 200 in flight, DO set)
       over the --cold-names names, shuffled, for each --cold kind:
         positive   the A records n<i>.bulk.sec. (each a secure answer)
         nxdomain   xn<i>.bulk.sec. (each an NSEC3-proven NXDOMAIN, a
                    resolver with aggressive use of NSEC3 may answer
                    some from what it has)
       --cold-runs times, the resolvers taking turns.  Reported: the wall
       time of the pass (dnsperf's run time) and the resolver's CPU per
       answered query, medians and spread, the queries the resolver sent
       to the servers of ., sec. and bulk.sec. per answered query (knotd's
       mod-stats: aggressive use of NSEC3 or coalescing shows here), and
       the answers lost or with
       another RCODE than the one the kind should give (counted, not an
       error: a resolver may SERVFAIL under the burst of a cold start;
       the sample checked after the pass must validate).

Before measuring, every resolver must show it validates: every name of
the hits list asked with DO is NOERROR with the AD bit and an RRSIG,
the first 300 in the other variants NOERROR with the address; www.dsbad.sec. (a DS of another key)
is SERVFAIL; after each cold pass a sample of its names is NOERROR (or
NXDOMAIN) with AD.  Anything else stops the run with exit status 1.

Configs: the resolvers.py ones plus the lab's trust anchor:
  ours           trust_anchors.remove('.'); trust_anchors.add('<lab DS>')
  knot-resolver  the same (kresd_config(knot_resolver=True))
  unbound        module-config "validator iterator", trust-anchor:
                 "<lab DS>", val-permissive-mode: no
all with the signed lab's root hints and local addresses allowed.

Everything runs on loopback (the signed lab's knotd on 127.63+.x, port 53:
needs root) and is bounded: every dnsperf has -l and a timeout, and every
process started is stopped by its PID.  Exit status: 0, 1 on an error,
2 on bad arguments, 77 when the lab cannot run here.
"""

import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

import lab as lablib  # noqa: E402
from lab import resolvers  # noqa: E402
from lab import signed as signedlib  # noqa: E402
from benchutil import free_port, git_describe  # noqa: E402
from perf import Floor, build_floor, pin_lab  # noqa: E402
from perf_tools import BenchError, dnsperf, make_lists, sched_cpu, write_list  # noqa: E402

RESOLVERS = ('ours', 'knot-resolver', 'unbound')
VARIANTS = {'do': ('-D',), 'edns': ('-e',), 'plain': ()}
COLD_KINDS = ('positive', 'nxdomain')
COLD_RCODE = {'positive': 'NOERROR', 'nxdomain': 'NXDOMAIN'}
CHECK_TIMEOUT = 5.0


def say(*args):
    print('dnssec-bench:', *args, file=sys.stderr, flush=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--kresd', default=str(resolvers.our_kresd_path()),
                    help='our kresd (default $KRESD_BIN, else build/kresd)')
    ap.add_argument('--resolvers', default=','.join(RESOLVERS),
                    help='comma separated, of %(default)s')
    ap.add_argument('--names', type=int, default=10000, help='hit names (%(default)s)')
    ap.add_argument('--rounds', type=int, default=14, help='hit rounds (%(default)s)')
    ap.add_argument('--seconds', type=float, default=2.0,
                    help='seconds per participant and round (%(default)s)')
    ap.add_argument('--rate', type=int, default=30000, help='dnsperf -Q (%(default)s)')
    ap.add_argument('--peer-variants', default='do,edns',
                    help='query variants for the other resolvers (%(default)s)')
    ap.add_argument('--our-variants', default='do,edns,plain',
                    help='query variants for ours (%(default)s)')
    ap.add_argument('--cold', default=','.join(COLD_KINDS),
                    help='cold pass kinds, of %(default)s; "" for none')
    ap.add_argument('--cold-names', type=int, default=10000, help='(%(default)s)')
    ap.add_argument('--cold-runs', type=int, default=3, help='(%(default)s)')
    ap.add_argument('--cold-limit', type=float, default=60.0,
                    help='dnsperf -l of one cold pass (%(default)s s)')
    ap.add_argument('--no-floor', action='store_true', help='leave the floor out')
    ap.add_argument('--resolver-cpu', type=int, default=1)
    ap.add_argument('--client-cpu', type=int, default=0)
    ap.add_argument('--seed', type=int, default=53)
    ap.add_argument('--quick', action='store_true',
                    help='2,000 names, 3 rounds of 1 s, one cold run of each kind')
    ap.add_argument('--smoke', action='store_true',
                    help='200 names, 1 round of 0.5 s, one cold run (the test)')
    ap.add_argument('--json', action='store_true', help='the result as JSON on stdout')
    args = ap.parse_args(argv)
    if args.quick:
        args.names, args.rounds, args.seconds = 2000, 3, 1.0
        args.cold_names, args.cold_runs = 2000, 1
    if args.smoke:
        args.names, args.rounds, args.seconds = 200, 1, 0.5
        args.cold_names, args.cold_runs, args.cold_limit = 200, 1, 20.0
    args.kinds = [k for k in args.resolvers.split(',') if k]
    args.cold_kinds = [k for k in args.cold.split(',') if k]
    args.peer_vars = [v for v in args.peer_variants.split(',') if v]
    args.our_vars = [v for v in args.our_variants.split(',') if v]
    for k in args.kinds:
        if k not in RESOLVERS or args.kinds.count(k) > 1:
            ap.error(f'--resolvers: {k!r} is not one of {", ".join(RESOLVERS)} (each once)')
    for k in args.cold_kinds:
        if k not in COLD_KINDS:
            ap.error(f'--cold: {k!r} is not one of {", ".join(COLD_KINDS)}')
    for v in args.peer_vars + args.our_vars:
        if v not in VARIANTS:
            ap.error(f'variant {v!r} is not one of {", ".join(VARIANTS)}')
    if 'ours' in args.kinds and not os.access(args.kresd, os.X_OK):
        ap.error(f'--kresd {args.kresd}: not an executable')
    if (args.rounds < 0 or args.seconds <= 0 or args.rate < 1 or args.cold_runs < 0
            or not 1 <= args.names <= 10000 or not 1 <= args.cold_names <= 10000):
        ap.error('--rounds, --cold-runs >= 0; --seconds, --rate > 0; names 1..10000')
    args.kresd = os.path.abspath(args.kresd)
    return args


# ---------------------------------------------------------------- resolvers

class ValidatingUnbound(resolvers.Unbound):
    """resolvers.Unbound with the validator and the lab's trust anchor."""

    def __init__(self, *args, trust_anchor, **kw):
        super().__init__(*args, **kw)
        self.trust_anchor = trust_anchor

    def config(self):
        text = super().config()
        if text.count('module-config: "iterator"') != 1:
            raise BenchError('resolvers.UNBOUND_CONF changed: no module-config line to replace')
        text = text.replace('module-config: "iterator"', 'module-config: "validator iterator"')
        anchor = ''.join(f'    trust-anchor: "{line.strip()}"\n'
                         for line in self.trust_anchor.splitlines())
        return text.replace('server:\n', 'server:\n' + anchor +
                            '    val-permissive-mode: no\n', 1)


def make_resolver(kind, slab, workdir, args, prefix):
    port = free_port()
    ta = slab.trust_anchor_ds()
    lua = '\n'.join(f"trust_anchors.add('{line.strip()}')" for line in ta.splitlines())
    if kind == 'ours':
        return resolvers.OurKresd(slab, workdir, port, binary=args.kresd, extra=lua,
                                  prefix=prefix)
    if kind == 'knot-resolver':
        return resolvers.KnotResolver(slab, workdir, port, extra=lua, prefix=prefix)
    return ValidatingUnbound(slab, workdir, port, prefix=prefix, trust_anchor=ta)


# ---------------------------------------------------------------- checks

def ask(port, name, rdtype='A', do=True, edns=True):
    q = dns.message.make_query(name, rdtype, use_edns=0 if (edns or do) else None,
                               payload=1232, want_dnssec=do)
    r = dns.query.udp(q, '127.0.0.1', port=port, timeout=CHECK_TIMEOUT)
    if r.flags & dns.flags.TC:
        r = dns.query.tcp(q, '127.0.0.1', port=port, timeout=CHECK_TIMEOUT)
    return r


def describe(r):
    return (f'{dns.rcode.to_text(r.rcode())} flags={dns.flags.to_text(r.flags)} '
            f'answer={[str(rr) for rr in r.answer]}')


def check_secure(kind, port, names, rcode='NOERROR', variants=('do',)):
    """Every name answers rcode with AD under DO (and an RRSIG in the
    answer for a positive one) and rcode under the other variants;
    raises BenchError at the first that does not."""
    for name in names:
        for v in variants:
            try:
                r = ask(port, name, do=(v == 'do'), edns=(v != 'plain'))
            except Exception as e:  # noqa: BLE001 - a timeout or a bad answer
                raise BenchError(f'{kind}: {name} A ({v}): no answer: {e!r}') from None
            bad = dns.rcode.to_text(r.rcode()) != rcode
            if v == 'do':
                bad = bad or not r.flags & dns.flags.AD
                if rcode == 'NOERROR':
                    bad = bad or not any(rr.rdtype == dns.rdatatype.RRSIG for rr in r.answer)
            if rcode == 'NOERROR':
                bad = bad or not any(rr.rdtype == dns.rdatatype.A for rr in r.answer)
            if bad:
                raise BenchError(f'{kind} does not validate {name} A ({v}): {describe(r)} '
                                 f'(want {rcode}{" with AD" if v == "do" else ""})')


def check_bogus(kind, port):
    r = ask(port, 'www.dsbad.sec.')
    if r.rcode() != dns.rcode.SERVFAIL:
        raise BenchError(f'{kind}: www.dsbad.sec. (DS of another key) is not SERVFAIL, '
                         f'validation is off? {describe(r)}')


# ---------------------------------------------------------------- statistics

def quantiles(values):
    """(p25, median, p75) of a list (the value itself for one)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method='inclusive')
    return q[0], statistics.median(values), q[2]


def summary(values):
    lo, med, hi = quantiles(values)
    return {'median': med, 'p25': lo, 'p75': hi, 'min': min(values), 'max': max(values),
            'mean': statistics.fmean(values), 'n': len(values)}


def upstream_counts(slab):
    """{server: queries it got so far} for the servers a pass over
    bulk.sec. asks (knotd's mod-stats in the signed lab)."""
    return {name: slab.queries_total(name) for name in UPSTREAMS}


UPSTREAMS = ('root', 'sec', 'bulk')


# ---------------------------------------------------------------- parts

def hits(args, slab, workdir, result):
    names = slab.signed_bulk_names(args.names)
    queries = make_lists(names, args.seed)['hits'][1]
    qfile = write_list(workdir / 'hits.txt', queries)
    warm_file = write_list(workdir / 'warm.txt', names)
    prefix = ['taskset', '-c', str(args.resolver_cpu)]
    live, parts = {}, []         # kind -> server; [(label, server, flags)]
    try:
        if not args.no_floor:
            srv = Floor(slab, workdir / 'run-floor', free_port(),
                        binary=build_floor(workdir, 'floor'), name='floor', prefix=prefix)
            live['floor'] = srv.start()
            parts.append(('floor', srv, ()))
        for kind in args.kinds:
            srv = make_resolver(kind, slab, workdir / f'hits-{kind}', args, prefix)
            live[kind] = srv.start()
            variants = args.our_vars if kind == 'ours' else args.peer_vars
            t0 = time.monotonic()
            for v in variants:
                warm = dnsperf(srv.port, warm_file, duration=120, single_pass=True, clients=16,
                               outstanding=200, timeout=2.0, cpu=args.client_cpu,
                               workdir=workdir, verbose=False, flags=VARIANTS[v])
                if warm['lost'] or set(warm['rcodes']) - {'NOERROR'}:
                    # a lost query of a cold pass is retried by the checks below
                    say(f'{kind}: warm-up ({v}): {warm["lost"]} lost, rcodes {warm["rcodes"]}')
            check_secure(kind, srv.port, names, variants=[v for v in variants if v == 'do'])
            check_secure(kind, srv.port, names[:300], variants=variants)
            check_bogus(kind, srv.port)
            say(f'{kind}: warmed and checked ({len(names)} names, AD on every DO answer, '
                f'{time.monotonic() - t0:.1f} s)')
            parts += [(f'{kind}/{v}', srv, VARIANTS[v]) for v in variants]
        say(f'hits: {len(parts)} participants, {args.rounds} rounds of {args.seconds} s, '
            f'{args.rate} q/s, {len(queries)} queries over {len(names)} names')
        per_q = {label: [] for label, _, _ in parts}
        rcodes = {label: {} for label, _, _ in parts}
        for rnd in range(args.rounds):
            k = rnd % len(parts)
            for label, srv, flags in parts[k:] + parts[:k]:
                cpu0 = sched_cpu(srv.pid)
                res = dnsperf(srv.port, qfile, rate=args.rate, duration=args.seconds,
                              single_pass=False, clients=16, outstanding=200, timeout=2.0,
                              cpu=args.client_cpu, workdir=workdir, verbose=False, flags=flags)
                cpu1 = sched_cpu(srv.pid)
                done = res['completed']
                if not srv.running() or cpu0 is None or cpu1 is None or not done:
                    raise BenchError(f'{label} stopped answering in round {rnd + 1}:\n'
                                     f'{srv.log()}')
                if label != 'floor' and set(res['rcodes']) - {'NOERROR'}:
                    raise BenchError(f'{label}: round {rnd + 1} answered {res["rcodes"]}')
                for rc, n in res['rcodes'].items():
                    rcodes[label][rc] = rcodes[label].get(rc, 0) + n
                per_q[label].append((cpu1 - cpu0) * 1e6 / done)
            say(f'round {rnd + 1}/{args.rounds}: ' +
                ' '.join(f'{lbl}={v[-1]:.1f}' for lbl, v in per_q.items()))
        result['hits'] = {'per_query_us': per_q, 'rcodes': rcodes,
                          'names': len(names), 'queries': len(queries)}
    finally:
        for srv in live.values():
            srv.stop()


def cold(args, slab, workdir, result):
    rng = random.Random(args.seed)
    prefix = ['taskset', '-c', str(args.resolver_cpu)]
    runs = {kind: {k: [] for k in args.kinds} for kind in args.cold_kinds}
    files = {}
    for ck in args.cold_kinds:
        names = [('x' if ck == 'nxdomain' else '') + n
                 for n in slab.signed_bulk_names(args.cold_names)]
        rng.shuffle(names)
        files[ck] = (write_list(workdir / f'cold-{ck}.txt', names), names)
    say(f'cold: {args.cold_runs} runs of {", ".join(args.cold_kinds)} over '
        f'{args.cold_names} names, a fresh resolver each')
    for run in range(args.cold_runs):
        for ck in args.cold_kinds:
            path, names = files[ck]
            k = run % len(args.kinds)
            for kind in args.kinds[k:] + args.kinds[:k]:
                wd = workdir / f'cold-{ck}-{kind}-{run}'
                srv = make_resolver(kind, slab, wd, args, prefix)
                srv.start()
                try:
                    up0 = upstream_counts(slab)
                    cpu0 = sched_cpu(srv.pid)
                    t0 = time.monotonic()
                    res = dnsperf(srv.port, path, duration=args.cold_limit, single_pass=True,
                                  clients=16, outstanding=200, timeout=2.0,
                                  cpu=args.client_cpu, workdir=workdir, verbose=False,
                                  flags=VARIANTS['do'])
                    wall = time.monotonic() - t0
                    cpu1 = sched_cpu(srv.pid)
                    up1 = upstream_counts(slab)
                    if not srv.running() or not res['completed']:
                        raise BenchError(f'{kind}: cold {ck} pass failed:\n{srv.log()}')
                    want = COLD_RCODE[ck]
                    wrong = sum(n for rc, n in res['rcodes'].items() if rc != want)
                    # the sample is asked again (from the cache, or resolved
                    # again where the pass failed): every one must validate
                    check_secure(kind, srv.port, names[:20], rcode=want)
                    entry = {'run_time': res['run_time'], 'wall': wall,
                             'completed': res['completed'], 'lost': res['lost'],
                             'wrong': wrong, 'rcodes': res['rcodes'],
                             'upstream': {srv_name: up1[srv_name] - up0[srv_name]
                                          for srv_name in up0},
                             'cpu_us_per_query': (cpu1 - cpu0) * 1e6 / res['completed'],
                             'qps': res['qps']}
                    runs[ck][kind].append(entry)
                    say(f'cold {ck} run {run + 1}/{args.cold_runs} {kind}: '
                        f'{entry["run_time"]:.2f} s, {entry["cpu_us_per_query"]:.1f} us/q, '
                        f'{entry["lost"]} lost, answers {res["rcodes"]}, '
                        f'upstream queries {entry["upstream"]}')
                finally:
                    srv.stop()
                    shutil.rmtree(wd, ignore_errors=True)
    result['cold'] = runs


# ---------------------------------------------------------------- report

def ratio_rows(per_q):
    """[(name, numerator, denominator)] of the ratios worth a line."""
    have = set(per_q)
    rows = []
    for a, b in (('ours/do', 'ours/edns'), ('ours/do', 'ours/plain'),
                 ('ours/edns', 'ours/plain'),
                 ('knot-resolver/do', 'ours/do'), ('unbound/do', 'ours/do'),
                 ('knot-resolver/edns', 'ours/edns'), ('unbound/edns', 'ours/edns'),
                 ('knot-resolver/do', 'knot-resolver/edns'), ('unbound/do', 'unbound/edns')):
        if a in have and b in have:
            rows.append((f'{a} / {b}', a, b))
    return rows


def report(result):
    out = {}
    h = result.get('hits')
    if h and h['per_query_us'] and all(h['per_query_us'].values()):
        per_q = h['per_query_us']
        print(f'Cache hits, DO/EDNS/plain, {result["config"]["rate"]} q/s, '
              f'{result["config"]["rounds"]} rounds of {result["config"]["seconds"]} s, '
              f'{h["queries"]} queries over {h["names"]} names of bulk.sec.')
        print(f'{"participant":<20} {"CPU us/q":>9} {"p25":>7} {"p75":>7} {"min":>7} '
              f'{"max":>7} {"/floor":>7}')
        floor = per_q.get('floor')
        stats = {}
        for label, values in per_q.items():
            s = summary(values)
            stats[label] = s
            fl = (f'{statistics.median(v / f for v, f in zip(values, floor)):7.3f}'
                  if floor else f'{"-":>7}')
            print(f'{label:<20} {s["median"]:9.2f} {s["p25"]:7.2f} {s["p75"]:7.2f} '
                  f'{s["min"]:7.2f} {s["max"]:7.2f} {fl}')
        print()
        print(f'{"per-round ratio":<42} {"median":>7} {"p25":>7} {"p75":>7} {"min":>7} '
              f'{"max":>7} {"mean":>7}')
        ratios = {}
        for name, a, b in ratio_rows(per_q):
            s = summary([x / y for x, y in zip(per_q[a], per_q[b])])
            ratios[name] = s
            print(f'{name:<42} {s["median"]:7.3f} {s["p25"]:7.3f} {s["p75"]:7.3f} '
                  f'{s["min"]:7.3f} {s["max"]:7.3f} {s["mean"]:7.3f}')
        out['hits'] = {'participants': stats, 'ratios': ratios}
        targets = []
        r = ratios.get('ours/do / ours/edns')
        if r:
            targets.append(f'ours DO / ours non-DO (EDNS) = {r["median"]:.3f} '
                           f'(target <= 1.10): {"met" if r["median"] <= 1.10 else "MISSED"}')
        r = ratios.get('knot-resolver/do / ours/do')
        if r:
            targets.append(f'Knot Resolver DO / ours DO = {r["median"]:.3f} '
                           f'(target >= 1.30): {"met" if r["median"] >= 1.30 else "MISSED"}')
        out['targets'] = targets
    c = result.get('cold')
    if c:
        print()
        print(f'Cold passes (fresh cache, DO, 16 sockets, 200 in flight), '
              f'{result["config"]["cold_names"]} names, {result["config"]["cold_runs"]} runs')
        print(f'{"kind":<9} {"resolver":<14} {"time s":>7} {"min":>7} {"max":>7} '
              f'{"CPU us/q":>9} {"min":>7} {"max":>7} {"lost":>5} {"wrong":>6} {"time/ours":>9} '
              f'{"upstream/q":>10}')
        out['cold'] = {}
        for ck, per_kind in c.items():
            meds, ups = {}, {}
            for kind, runs in per_kind.items():
                if not runs:
                    continue
                t = summary([r['run_time'] for r in runs])
                u = summary([r['cpu_us_per_query'] for r in runs])
                meds[kind] = (t, u, sum(r['lost'] for r in runs),
                              sum(r['wrong'] for r in runs))
                ups[kind] = statistics.median(sum(r['upstream'].values()) / r['completed']
                                              for r in runs)
            out['cold'][ck] = {k: {'time_s': t, 'cpu_us_per_query': u, 'lost': lost,
                                   'wrong_rcode': wrong, 'upstream_per_query': ups[k]}
                               for k, (t, u, lost, wrong) in meds.items()}
            for kind, (t, u, lost, wrong) in meds.items():
                rel = (f'{t["median"] / meds["ours"][0]["median"]:9.3f}' if 'ours' in meds
                       else f'{"-":>9}')
                print(f'{ck:<9} {kind:<14} {t["median"]:7.2f} {t["min"]:7.2f} {t["max"]:7.2f} '
                      f'{u["median"]:9.1f} {u["min"]:7.1f} {u["max"]:7.1f} {lost:5d} {wrong:6d} {rel} '
                      f'{ups[kind]:10.2f}')
            if 'ours' in meds and 'knot-resolver' in meds:
                tr = meds['ours'][0]['median'] / meds['knot-resolver'][0]['median']
                ur = meds['ours'][1]['median'] / meds['knot-resolver'][1]['median']
                out.setdefault('targets', []).append(
                    f'cold {ck}: ours / Knot Resolver time {tr:.3f}, CPU/q {ur:.3f} '
                    f'(target: not slower): {"met" if tr <= 1.0 else "MISSED"}')
    if out.get('targets'):
        print()
        for t in out['targets']:
            print('target:', t)
    return out


# ---------------------------------------------------------------- main

def main(argv=None):
    args = parse_args(argv)
    for tool in ('dnsperf', 'taskset'):
        if not shutil.which(tool):
            say(f'{tool} not found')
            return 1
    try:
        signedlib.check_signed_available()
    except lablib.LabUnavailable as e:
        say(f'the signed lab cannot run here: {e}')
        return 77
    t_start = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix='dnssec-bench-', dir='/tmp'))
    bulk = max(args.names, args.cold_names)
    slab = signedlib.SignedLab(workdir / 'lab', bulk_count=bulk)
    result = {'config': {k: getattr(args, k) for k in (
        'kresd', 'kinds', 'names', 'rounds', 'seconds', 'rate', 'our_vars', 'peer_vars',
        'cold_kinds', 'cold_names', 'cold_runs', 'resolver_cpu', 'client_cpu', 'quick',
        'smoke')}, 'commit': git_describe(), 'argv': sys.argv[1:]}
    status = 0
    try:
        try:
            slab.start()
        except (lablib.LabError, lablib.LabUnavailable) as e:
            say(f'the signed lab did not start: {e}')
            return 1
        say(f'signed lab up ({bulk} names in bulk.sec., signed in '
            f'{slab.signing_seconds:.1f} s)')
        pin_lab(slab, args.client_cpu)
        if args.rounds:
            hits(args, slab, workdir, result)
        if args.cold_kinds and args.cold_runs:
            cold(args, slab, workdir, result)
    except (BenchError, RuntimeError, OSError, subprocess.SubprocessError) as e:
        say(f'error: {e}')
        status = 1
    except KeyboardInterrupt:
        say('interrupted')
        status = 1
    finally:
        slab.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(workdir, ignore_errors=True)
    result['seconds'] = round(time.monotonic() - t_start, 1)
    result['status'] = status
    if args.json:
        with contextlib.redirect_stdout(sys.stderr):
            result['summary'] = report(result)
        print(json.dumps(result, indent=1))
    else:
        result['summary'] = report(result)
    say(f'done in {result["seconds"]} s')
    return status


if __name__ == '__main__':
    sys.exit(main())
