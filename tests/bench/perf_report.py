"""Summaries and the printed report of tests/bench/perf.py: medians over
runs, CPU-per-query ratios, the machine description and the tables."""

import contextlib
import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import lab as lablib  # noqa: E402
from lab import resolvers  # noqa: E402
from perf_tools import sum_rcodes  # noqa: E402

UDP_WORKLOADS = ('hits', 'misses', 'mix')


def med(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def summarize(runs):
    """Medians of the figures over the runs of one (workload, mode, resolver)."""
    ms = 1000.0
    pick = {
        'qps': lambda r: r['qps'],
        'avg_latency_ms': lambda r: r['avg_latency'] * ms if r['avg_latency'] is not None else None,
        'p99_latency_ms': lambda r: r['p99_latency'] * ms if r['p99_latency'] is not None else None,
        'lost': lambda r: r['lost'],
        'sent': lambda r: r['sent'],
        'completed': lambda r: r['completed'],
        'cpu_s': lambda r: r['cpu'],
        'cpu_us_per_query': lambda r: r['cpu_us_per_query'],
        'cpu_sched_s': lambda r: r.get('cpu_sched'),
        'peak_rss_kb': lambda r: r['peak_rss_kb'],
        'queries_per_wakeup': lambda r: r.get('queries_per_wakeup'),
    }
    out = {k: med([f(r) for r in runs]) for k, f in pick.items()}
    out['rcodes'] = sum_rcodes(runs)
    return out


def ratio(a, b):
    return a / b if a is not None and b else None


def paired_ratio(row_a, row_b):
    """Median over the rate windows of a / b, window by window: for the
    interleaved workloads a window of one resolver and the same window of
    the other ran moments apart, so the ratio of the pair is free of the
    machine's drift. None when the windows do not pair up."""
    if not row_a or not row_b:
        return None
    runs_a, runs_b = row_a.get('runs') or [], row_b.get('runs') or []
    if not runs_a or len(runs_a) != len(runs_b):
        return None
    pairs = []
    for ra, rb in zip(runs_a, runs_b):
        wa, wb = ra.get('window_cpu_us'), rb.get('window_cpu_us')
        if not wa or not wb or len(wa) != len(wb):
            return None
        pairs += [x / y for x, y in zip(wa, wb) if x and y]
    return statistics.median(pairs) if pairs else None


def ratios(rows, kinds, workloads):
    """CPU us/q in the rate mode: ours/knot, ours/unbound, each/floor (the
    event-loop floor too) and ours/floor-loop. For
    the interleaved workloads (hits, tcp, dot) the median of the window
    pairs (paired_ratio), otherwise the ratio of the medians."""
    rate = {(r['workload'], r['resolver']): r for r in rows if r['mode'] == 'rate'}

    def one(w, a, b):
        ra, rb = rate.get((w, a)), rate.get((w, b))
        paired = paired_ratio(ra, rb)
        if paired is not None:
            return paired
        return ratio(ra and ra['cpu_us_per_query'], rb and rb['cpu_us_per_query'])

    out = []
    for w in workloads:
        entry = {'workload': w}
        if 'ours' in kinds:
            for other in ('knot-resolver', 'unbound'):
                if other in kinds:
                    entry[f'ours/{other}'] = one(w, 'ours', other)
        if w in UDP_WORKLOADS and 'floor' in kinds:
            for k in kinds:
                if k != 'floor':
                    entry[f'{k}/floor'] = one(w, k, 'floor')
        if w in UDP_WORKLOADS and 'ours' in kinds and 'floor-loop' in kinds:
            entry['ours/floor-loop'] = one(w, 'ours', 'floor-loop')
        out.append(entry)
    return out


def fmt(v, spec):
    return '-' if v is None else format(v, spec)


def table(head, lines):
    lines = [tuple(str(x) for x in head)] + [tuple(str(x) for x in ln) for ln in lines]
    widths = [max(len(ln[i]) for ln in lines) for i in range(len(head))]
    return '\n'.join('  '.join(x.ljust(widths[i]) if i < 3 else x.rjust(widths[i])
                               for i, x in enumerate(ln)).rstrip() for ln in lines)


def command_version(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (p.stdout + p.stderr).strip()
    m = re.search(r'[Vv]ersion:?\s+(\S+)', text)
    return m.group(1) if m else (text.splitlines() or [None])[0]


def machine(args):
    info = {'kernel': platform.release(), 'cpus': os.cpu_count()}
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        lscpu = subprocess.run(['lscpu'], capture_output=True, text=True, timeout=10).stdout
        for key in ('Model name', 'Hypervisor vendor', 'Thread(s) per core', 'L3 cache'):
            m = re.search(rf'^{re.escape(key)}:\s+(.*)$', lscpu, re.M)
            if m:
                info[key.lower().replace('(s)', 's').replace(' ', '_')] = m.group(1).strip()
    info['versions'] = {
        'ours': command_version([args.kresd, '--version']),
        'knot-resolver': command_version([resolvers.KNOT_RESOLVER_BIN, '--version']),
        'unbound': command_version([resolvers.UNBOUND_BIN, '-V']),
        'dnsperf': command_version(['dnsperf', '-h']),
        'knotd': command_version([lablib.KNOTD, '--version']),
    }
    return info


def report(out):
    c = out['config']
    m = out['machine']
    print(f'machine: {m.get("model_name", "?")}, {m["cpus"]} CPUs, kernel {m["kernel"]}; '
          + ', '.join(f'{k} {v}' for k, v in m['versions'].items()))
    print(f'{c["names"]} names; {c["runs"]} run(s), medians; peak: {c["duration"]} s unthrottled, '
          f'rate: dnsperf -Q {c["rate"]}; dnsperf -c {c["clients"]} -q {c["outstanding"]} '
          f'on CPU {c["client_cpu"]}, each resolver one process on CPU {c["resolver_cpu"]}; '
          f'p99 from dnsperf -v per-query latencies')
    head = ('workload', 'mode', 'resolver', 'QPS', 'avg ms', 'p99 ms', 'lost', 'CPU s',
            'CPU us/q', 'q/wake', 'RSS MB')
    lines = []
    for r in out['results']:
        lines.append((r['workload'], r['mode'], r['resolver'], fmt(r['qps'], '.0f'),
                      fmt(r['avg_latency_ms'], '.3f'), fmt(r['p99_latency_ms'], '.3f'),
                      fmt(r['lost'], 'g'), fmt(r['cpu_s'], '.2f'),
                      fmt(r['cpu_us_per_query'], '.2f'), fmt(r.get('queries_per_wakeup'), '.1f'),
                      fmt(r['peak_rss_kb'] / 1024 if r['peak_rss_kb'] else None, '.1f')))
    print()
    print(table(head, lines))
    if out['ratios']:
        keys = []
        for e in out['ratios']:
            keys += [k for k in e if k != 'workload' and k not in keys]
        print(f'\nCPU per answered query at {c["rate"]} queries/s, ratios (lower is better for '
              f'the first named):')
        print(table(('workload', '', '') + tuple(keys),
                    [(e['workload'], '', '') + tuple(fmt(e.get(k), '.2f') for k in keys)
                     for e in out['ratios']]))
    slow = [r for r in out['results'] if r['mode'] == 'rate' and r['qps'] is not None
            and r['workload'] not in ('misses', 'mix') and r['qps'] < 0.9 * c['rate']]
    if slow:
        print(f'\nnote: the rate of {c["rate"]}/s was not reached for '
              + ', '.join(f'{r["workload"]}/{r["resolver"]} ({r["qps"]:.0f})' for r in slow)
              + ' (the resolver or the one-core dnsperf was too slow); those are peak figures')
    if out['scaling']:
        print(f'\nscaling, hits over UDP, peak QPS ({c["duration"]} s); instances not pinned, '
              f'dnsperf on CPU {c["client_cpu"]}, {m["cpus"]} CPUs:')
        lines = []
        for s in out['scaling']:
            lines.append((s['resolver'], str(s['instances']), '', fmt(s['qps'], '.0f'),
                          fmt(s['vs_one'], '.2f'), fmt(s.get('ours/knot-resolver'), '.2f'),
                          fmt(s['lost'], 'g'), fmt(s['cpu_s'], '.2f')))
        print(table(('resolver', 'instances', '', 'QPS', 'x one', 'ours/knot', 'lost', 'CPU s'),
                    lines))
    if out['errors']:
        print('\nerrors:')
        for e in out['errors']:
            print(f'  {e}')
