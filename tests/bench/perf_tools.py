"""The measuring tools of tests/bench/perf.py: query lists, one dnsperf run
and its parsing, merging the rate windows of one resolver, and what
/proc tells about a process (CPU time, wake-ups, peak RSS)."""

import contextlib
import random
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from resolve_compare import parse_dnsperf  # noqa: E402

HOST = '127.0.0.1'


class BenchError(Exception):
    pass


def say(*args):
    print('perf:', *args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- query lists

def make_lists(names, seed):
    """{workload: (warm-up names, query names, single pass?)}."""
    rng = random.Random(seed)
    hits = names * 10
    rng.shuffle(hits)
    misses = list(names)
    rng.shuffle(misses)
    warm_mix = names[:len(names) * 9 // 10]
    mix = list(names)
    rng.shuffle(mix)
    return {
        'hits': (names, hits, False),
        'tcp': (names, hits, False),
        'dot': (names, hits, False),
        'misses': ([], misses, True),
        'mix': (warm_mix, mix, True),
    }


def write_list(path, names, qtype='A'):
    path.write_text(''.join(f'{n} {qtype}\n' for n in names))
    return path


# ---------------------------------------------------------------- dnsperf

def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, -(-len(sorted_values) * p // 100) - 1))
    return sorted_values[int(k)]


def dnsperf(port, names_file, *, mode='udp', rate=0, duration, single_pass, clients,
            outstanding, timeout, cpu, workdir, verbose=True, flags=()):
    """One dnsperf run; returns the parse_dnsperf() dict plus p99 (s).
    flags: more dnsperf options (e.g. ('-D',) for the DNSSEC OK bit)."""
    argv = ['taskset', '-c', str(cpu)] if cpu is not None else []
    argv += ['dnsperf', '-m', mode, '-s', HOST, '-p', str(port), '-d', str(names_file),
             '-c', str(clients), '-q', str(outstanding), '-t', str(timeout),
             '-l', str(duration), '-O', 'suppress=timeouts,sockready,congestion']
    if single_pass:
        argv += ['-n', '1']
    if rate:
        argv += ['-Q', str(rate)]
    argv += list(flags)
    if verbose:
        argv.append('-v')
    out_path = workdir / 'dnsperf.out'
    bound = duration + timeout + 30
    try:
        with open(out_path, 'w') as out:
            p = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, text=True,
                               timeout=bound, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise BenchError(f'dnsperf overran {bound}s: {" ".join(argv)}') from None
    latencies, summary = [], []
    with open(out_path, errors='replace') as f:
        for line in f:
            if line.startswith('> '):
                with contextlib.suppress(ValueError, IndexError):
                    latencies.append(float(line.rsplit(None, 1)[1]))
            else:
                summary.append(line)
    text = ''.join(summary)
    out_path.unlink()
    if p.returncode != 0:
        raise BenchError(f'dnsperf failed ({p.returncode}): {" ".join(argv)}\n'
                         f'{text[-2000:]}\n{p.stderr[-2000:]}')
    res = parse_dnsperf(text)
    if res['completed'] is None:
        raise BenchError(f'could not read dnsperf output:\n{text[-2000:]}')
    latencies.sort()
    res['p99_latency'] = percentile(latencies, 99)
    res['latency_samples'] = len(latencies)
    res['_latencies'] = latencies  # for merge_windows(); not kept in results
    return res


def sched_cpu(pid):
    """On-CPU seconds of all threads of pid from /proc/PID/task/*/schedstat
    (nanoseconds: a precise cross-check of the 10 ms ticks of /proc/PID/stat)."""
    total = 0
    try:
        for task in Path(f'/proc/{pid}/task').iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int((task / 'schedstat').read_text().split()[0])
    except OSError:
        return None
    return total / 1e9


def wakeups(pid):
    """Voluntary context switches of all threads of pid: how often it slept
    (for an event loop, about one per wake-up)."""
    total = 0
    try:
        for task in Path(f'/proc/{pid}/task').iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                for line in (task / 'status').read_text().splitlines():
                    if line.startswith('voluntary_ctxt_switches:'):
                        total += int(line.split()[1])
    except OSError:
        return None
    return total


def reset_peak_rss(pid):
    """Start VmHWM again from the current RSS (Linux >= 4.0)."""
    with contextlib.suppress(OSError):
        Path(f'/proc/{pid}/clear_refs').write_text('5')


def sum_rcodes(results):
    """The dnsperf rcode counts of several results, added up."""
    rcodes = {}
    for r in results:
        for k, v in r['rcodes'].items():
            rcodes[k] = rcodes.get(k, 0) + v
    return rcodes


def merge_windows(parts):
    """One result from the rate windows of one resolver (same duration each)."""
    out = dict(parts[0])
    for key in ('sent', 'completed', 'lost', 'cpu', 'cpu_sched'):
        vals = [p.get(key) for p in parts]
        out[key] = None if None in vals else round(sum(vals), 6)
    out['qps'] = statistics.fmean(p['qps'] for p in parts)
    done = out['completed'] or 0
    lat = [p['avg_latency'] for p in parts]
    out['avg_latency'] = (sum(p['avg_latency'] * p['completed'] for p in parts) / done
                          if done and None not in lat else None)
    merged = sorted(x for p in parts for x in p['_latencies'])
    out['p99_latency'] = percentile(merged, 99)
    out['latency_samples'] = len(merged)
    out['rcodes'] = sum_rcodes(parts)
    cpu = out['cpu_sched'] if out['cpu_sched'] is not None else out['cpu']
    out['cpu_us_per_query'] = cpu * 1e6 / done if done and cpu is not None else None
    wakes = [p['completed'] / p['queries_per_wakeup'] for p in parts
             if p.get('queries_per_wakeup')]
    out['queries_per_wakeup'] = round(done / sum(wakes), 2) if wakes and done else None
    out['peak_rss_kb'] = max((p['peak_rss_kb'] or 0) for p in parts) or None
    out['windows'] = len(parts)
    out['window_cpu_us'] = [p['cpu_us_per_query'] for p in parts]
    return out
