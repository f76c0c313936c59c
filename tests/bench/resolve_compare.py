#!/usr/bin/python3
"""Cold and warm resolution of the lab's 10,000-name list, side by side:
our kresd, Debian's Knot Resolver 5 and Unbound.

Starts the local authoritative hierarchy of tests/lab (root, TLDs and leaf
zones on 127.x addresses, port 53: needs root), then for each resolver in
turn, each on 127.0.0.1 with a fresh cache of --cache-mb:

  cold   dnsperf sends every name of the list once (-n 1): every answer
         needs iteration (the bulk.sim. zone cut is learned on the way)
  warm   the same list again: every answer comes from the cache
  sample a --sample of the names (fixed seed) plus the lab's feature
         queries (CNAME chain, DNAME, glue-less, NXDOMAIN, NODATA, TC,
         lame and NXNS-style delegations...) asked once each with
         dnspython; answers are compared between the resolvers (rcode and
         answer RRs, TTLs ignored) and, for bulk names, with the zone data

and prints one table (time, QPS, lost queries, resolver CPU seconds, peak
RSS) and the answers that differ. With --baseline PATH another build of
ours runs too, as resolver 'baseline': before/after figures from one run.

Resolver configs are those of tests/lab/resolvers.py (hints.root pointed at
the lab, ALLOW_LOCAL; Knot Resolver also loads 'hints > iterate' and removes
the root trust anchor; Unbound: iterator only, root-hints file,
do-not-query-localhost: no).

Our kresd (--kresd, default $KRESD_BIN or build/kresd) answers REFUSED
until recursion lands: it is then left out with a note when it is only in
the default list, and an error when --resolvers names it.

Everything is bounded: dnsperf runs with -l and a subprocess timeout, each
sample query has a timeout, every process is killed by its PID at the end.
Only 127.0.0.1 and the lab's 127.x addresses are used.

Examples:
    tests/bench/resolve_compare.py --resolvers knot-resolver,unbound
    tests/bench/resolve_compare.py --names 2000 --sample 200 --pin
    tests/bench/resolve_compare.py --json > result.json

Exit status: 0 when every chosen resolver ran, 1 on an error (a resolver
that did not start, dnsperf missing or failing), 2 on bad arguments, 77
when the lab cannot run here (not root, knotd missing).
"""

import argparse
import contextlib
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import dns.exception  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

import lab as lablib  # noqa: E402
from lab import resolvers  # noqa: E402
from benchutil import free_port, preflight, start_lab  # noqa: E402

ALL = ('ours', 'knot-resolver', 'unbound')
DEFAULT_RESOLVERS = ALL
HOST = '127.0.0.1'


def say(*args):
    print('resolve_compare:', *args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- dnsperf

def parse_dnsperf(text):
    def num(pattern, cast=float):
        m = re.search(pattern, text)
        return cast(m.group(1)) if m else None
    out = {
        'sent': num(r'Queries sent:\s+(\d+)', int),
        'completed': num(r'Queries completed:\s+(\d+)', int),
        'lost': num(r'Queries lost:\s+(\d+)', int),
        'run_time': num(r'Run time \(s\):\s+([\d.]+)'),
        'qps': num(r'Queries per second:\s+([\d.]+)'),
        'avg_latency': num(r'Average Latency \(s\):\s+([\d.]+)'),
        'max_latency': num(r'Average Latency \(s\):.*max ([\d.]+)'),
    }
    m = re.search(r'Response codes:\s+(.*)', text)
    out['rcodes'] = dict((k, int(v)) for k, v in re.findall(r'([A-Z]+) (\d+) \(', m.group(1))) if m else {}
    return out


def run_dnsperf(port, names_file, args, prefix=()):
    argv = list(prefix) + ['dnsperf', '-s', HOST, '-p', str(port), '-d', str(names_file),
                           '-n', '1', '-c', str(args.clients), '-q', str(args.outstanding),
                           '-t', str(args.timeout), '-l', str(args.limit)]
    if args.rate:
        argv += ['-Q', str(args.rate)]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=args.limit + 30,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f'dnsperf overran {args.limit + 30}s') from None
    if p.returncode != 0:
        raise RuntimeError(f'dnsperf failed ({p.returncode}):\n{p.stdout}\n{p.stderr}')
    res = parse_dnsperf(p.stdout)
    if res['completed'] is None:
        raise RuntimeError(f'could not read dnsperf output:\n{p.stdout}')
    return res


# ---------------------------------------------------------------- answers

def normalize(r):
    """(rcode, sorted answer RRs without TTL), comparable across resolvers."""
    if r is None:
        return ('TIMEOUT', ())
    rrs = sorted(f'{rr.name.to_text().lower()} {dns.rdatatype.to_text(rr.rdtype)} '
                 f'{rd.to_text().lower()}' for rr in r.answer for rd in rr)
    return (dns.rcode.to_text(r.rcode()), tuple(rrs))


def ask_all(port, queries, timeout, budget, tries=2):
    """{(name, type): normalized answer}, each asked like a stub resolver
    does (up to `tries` times, `timeout` each); stops asking after budget
    seconds (the rest count as TIMEOUT)."""
    out = {}
    end = time.monotonic() + budget
    for name, rdtype in queries:
        r = None
        for _ in range(tries):
            if time.monotonic() >= end:
                break
            try:
                r = lablib.query(name, rdtype, HOST, port, timeout=timeout)
                break
            except (dns.exception.Timeout, OSError):
                r = None
        out[(name, rdtype)] = normalize(r)
    return out


def expected_bulk(name):
    i = int(name[1:name.index('.')])
    return ('NOERROR', (f'{name} A {lablib.bulk_address(i)}',))


def short(ans):
    rc, rrs = ans
    return rc + ('' if not rrs else ' ' + '; '.join(rrs)[:120])


# ---------------------------------------------------------------- one resolver

def median_run(runs):
    """One dnsperf result whose numbers are the medians over the runs."""
    out = {}
    for key in runs[0]:
        values = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
        if values and len(values) == len(runs):
            out[key] = statistics.median(values)
        else:
            out[key] = runs[0][key]
    return out


def bench_one(kind, lab, workdir, names_file, sample, args):
    """Cold and warm runs (--repeat times, a fresh resolver and cache each
    time) and, on the first, the answer sample.  Returns (row, answers);
    answers is None when the resolver is skipped."""
    ours = kind in ('ours', 'baseline')
    cls = resolvers.KINDS['ours' if ours else kind]
    prefix = ['taskset', '-c', '0'] if args.pin else []
    perf_prefix = ['taskset', '-c', '1'] if args.pin else []
    binary = args.baseline if kind == 'baseline' else args.kresd
    kw = {'binary': binary} if ours and binary else {}
    row = {'resolver': kind}
    runs = {'cold': [], 'warm': []}
    answers = None
    rss = []
    for rep in range(args.repeat):
        res = cls(lab, workdir / kind / f'run{rep}', free_port(), cache_mb=args.cache_mb,
                  prefix=prefix, **kw)
        why = res.available()
        if why:
            raise RuntimeError(why)
        if ours and rep == 0:
            why = resolvers.recursion_missing(lab, workdir / kind / 'probe', binary=res.binary)
            if why:
                row['skipped'] = why
                return row, None
        res.start()
        try:
            for phase in ('cold', 'warm'):
                cpu0 = res.cpu_seconds()
                perf = run_dnsperf(res.port, names_file, args, perf_prefix)
                cpu1 = res.cpu_seconds()
                perf['cpu'] = None if cpu0 is None or cpu1 is None else round(cpu1 - cpu0, 3)
                runs[phase].append(perf)
                say(f'{kind} #{rep + 1} {phase}: {perf["completed"]}/{perf["sent"]} in '
                    f'{perf["run_time"]:.3f}s ({perf["qps"]:.0f} QPS), lost {perf["lost"]}, '
                    f'cpu {perf["cpu"]}s')
            if rep == 0:
                answers = ask_all(res.port, sample, args.sample_timeout, args.sample_budget)
            rss.append(res.peak_rss_kb())
            if not res.running():
                raise RuntimeError(f'{kind} died during the run:\n{res.log()}')
        finally:
            res.stop()
    for phase in ('cold', 'warm'):
        row[phase] = median_run(runs[phase])
        row[phase + '_runs'] = runs[phase]
    row['peak_rss_kb'] = max((x for x in rss if x is not None), default=None)
    return row, answers


# ---------------------------------------------------------------- report

def fmt(v, spec):
    return '-' if v is None else format(v, spec)


def table(rows):
    head = ('resolver', 'cold s', 'cold QPS', 'cold lost', 'warm s', 'warm QPS', 'warm lost',
            'cpu cold s', 'cpu warm s', 'peak RSS MB', 'wrong')
    lines = [head]
    for r in rows:
        if 'skipped' in r:
            lines.append((r['resolver'], 'skipped: ' + r['skipped']) + ('',) * (len(head) - 2))
            continue
        c, w = r['cold'], r['warm']
        lines.append((r['resolver'],
                      fmt(c['run_time'], '.3f'), fmt(c['qps'], '.0f'), fmt(c['lost'], 'g'),
                      fmt(w['run_time'], '.3f'), fmt(w['qps'], '.0f'), fmt(w['lost'], 'g'),
                      fmt(c['cpu'], '.2f'), fmt(w['cpu'], '.2f'),
                      fmt(r['peak_rss_kb'] / 1024 if r.get('peak_rss_kb') else None, '.1f'),
                      str(r.get('wrong_bulk', '-'))))
    widths = [max(len(str(line[i])) for line in lines if not str(line[1]).startswith('skipped'))
              for i in range(len(head))]
    out = []
    for line in lines:
        if str(line[1]).startswith('skipped'):
            out.append(f'{line[0]:<{widths[0]}}  {line[1]}')
        else:
            out.append('  '.join(f'{str(x):>{widths[i]}}' if i else f'{str(x):<{widths[i]}}'
                                 for i, x in enumerate(line)))
    return '\n'.join(out)


def compare(all_answers, sample):
    """[(query, {resolver: answer})] where the resolvers disagree."""
    kinds = list(all_answers)
    diffs = []
    for q in sample:
        seen = {k: all_answers[k][q] for k in kinds}
        if len(set(seen.values())) > 1:
            diffs.append((q, seen))
    return diffs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('--resolvers', default=None,
                    help=f'comma separated, of {", ".join(ALL)} (default: all)')
    ap.add_argument('--names', type=int, default=lablib.BULK_COUNT,
                    help='names in the list (n0..nN-1.bulk.sim.; default %(default)s)')
    ap.add_argument('--sample', type=int, default=1000,
                    help='bulk names asked one by one for the answer comparison')
    ap.add_argument('--clients', type=int, default=20, help='dnsperf -c')
    ap.add_argument('--outstanding', type=int, default=100, help='dnsperf -q')
    ap.add_argument('--rate', type=int, default=0, help='dnsperf -Q (0: as fast as it goes)')
    ap.add_argument('--timeout', type=float, default=5.0, help='dnsperf -t: lost after this')
    ap.add_argument('--limit', type=float, default=120.0, help='dnsperf -l: bound of one run')
    ap.add_argument('--sample-timeout', type=float, default=5.0)
    ap.add_argument('--sample-budget', type=float, default=120.0,
                    help='seconds for the whole sample of one resolver')
    ap.add_argument('--cache-mb', type=int, default=100)
    ap.add_argument('--kresd', help='our kresd binary (default $KRESD_BIN or build/kresd)')
    ap.add_argument('--baseline', metavar='PATH',
                    help="another build of our kresd (e.g. the previous commit's), run in the "
                         "same way as resolver 'baseline' for a before/after comparison")
    ap.add_argument('--pin', action='store_true',
                    help='taskset: the resolver on CPU 0, dnsperf on CPU 1')
    ap.add_argument('--json', action='store_true', help='print the results as JSON')
    ap.add_argument('--repeat', type=int, default=1,
                    help='runs per resolver (fresh cache each); medians are reported')
    ap.add_argument('--seed', type=int, default=53)
    args = ap.parse_args(argv)

    explicit = args.resolvers is not None
    kinds = [k.strip() for k in (args.resolvers or ','.join(DEFAULT_RESOLVERS)).split(',') if k.strip()]
    if args.baseline and 'baseline' not in kinds:
        kinds.append('baseline')
    bad = [k for k in kinds if k not in ALL and k != 'baseline']
    if bad or not kinds:
        ap.error(f'unknown resolver(s) {bad}; choose from {", ".join(ALL)}')
    if args.repeat < 1:
        ap.error('--repeat must be at least 1')
    if not 1 <= args.names <= lablib.BULK_COUNT:
        ap.error(f'--names must be 1..{lablib.BULK_COUNT}')
    status = preflight(say, ('dnsperf', 'taskset') if args.pin else ('dnsperf',))
    if status is not None:
        return status

    workdir = Path(tempfile.mkdtemp(prefix='rcmp-', dir='/tmp'))
    lab = lablib.Lab(workdir / 'lab')
    rows, all_answers, failed = [], {}, False
    try:
        if not start_lab(lab, say):
            return 1
        say(f'lab up on {lab.prefix}.x.x:53; {args.names} names')
        names = lab.bulk_names(args.names)
        names_file = workdir / 'names.txt'
        names_file.write_text(''.join(f'{n} A\n' for n in names))
        rng = random.Random(args.seed)
        sample = [(n, 'A') for n in rng.sample(names, min(args.sample, len(names)))]
        sample += list(lablib.FEATURE_QUERIES)
        for kind in kinds:
            try:
                row, answers = bench_one(kind, lab, workdir, names_file, sample, args)
            except RuntimeError as e:
                say(f'{kind}: {e}')
                rows.append({'resolver': kind, 'skipped': f'error: {str(e).splitlines()[0]}'})
                failed = True
                continue
            if answers is None:
                say(f'{kind}: {row["skipped"]}')
                failed = failed or explicit
            else:
                all_answers[kind] = answers
                row['wrong_bulk'] = sum(1 for (n, t), a in answers.items()
                                        if n.endswith('.bulk.sim.') and a != expected_bulk(n))
            rows.append(row)
        diffs = compare(all_answers, sample) if len(all_answers) > 1 else []
    finally:
        lab.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    if args.json:
        print(json.dumps({
            'names': args.names, 'sample': len(sample), 'clients': args.clients,
            'outstanding': args.outstanding, 'rate': args.rate, 'pin': args.pin,
            'repeat': args.repeat, 'cache_mb': args.cache_mb,
            'results': rows,
            'differences': [{'query': f'{n} {t}', 'answers': {k: short(a) for k, a in seen.items()}}
                            for (n, t), seen in diffs],
        }, indent=2))
    else:
        print(f'{args.names} names (n0..n{args.names - 1}.bulk.sim. A), dnsperf -n 1 -c {args.clients} '
              f'-q {args.outstanding}{" -Q %d" % args.rate if args.rate else ""}; '
              f'cache {args.cache_mb} MB; {"pinned" if args.pin else "not pinned"}; '
              f'median of {args.repeat} run(s) with a fresh cache each; '
              f'wrong = sampled bulk names whose answer is not the zone data')
        print(table(rows))
        compared = list(all_answers)
        print(f'\nanswers compared: {len(sample)} queries ({len(sample) - len(lablib.FEATURE_QUERIES)} '
              f'sampled bulk names + {len(lablib.FEATURE_QUERIES)} feature queries) '
              f'between {", ".join(compared) or "nobody"}: {len(diffs)} differ')
        for (n, t), seen in diffs[:20]:
            print(f'  {n} {t}')
            for k, a in seen.items():
                print(f'      {k:<14} {short(a)}')
        if len(diffs) > 20:
            print(f'  ... and {len(diffs) - 20} more')
    return 1 if failed else 0


if __name__ == '__main__':
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
