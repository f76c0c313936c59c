#!/usr/bin/python3
"""The performance benchmark: our kresd, Knot Resolver 5 and Unbound, one
process each on the same CPU core, under the same query lists, with a
trivial responder (the floor) for the kernel's share.

    tests/bench/perf.py                       # full run, about 10 minutes
    tests/bench/perf.py --smoke --json        # the CI version, ~30 s
    tests/bench/perf.py --runs 5 --duration 10 --rate 50000 \\
        --resolvers ours,knot-resolver --workloads hits,misses

Everything runs on this machine, on loopback only.  The script starts the
local authoritative hierarchy of tests/lab (knotd on 127.x addresses, port
53: needs root), whose bulk.sim. zone has the A records n0..n9999, and then
measures every workload for every resolver, --runs times, and reports
medians.

Placement (taskset): each resolver is ONE process (Unbound: one thread) on
core 1 (--resolver-cpu); dnsperf runs on core 0 (--client-cpu), and so do
the lab's knotd processes (moved there with taskset -a -p after the lab
started), so the resolver's core carries nothing of ours but the resolver.

Resolvers (configs from tests/lab/resolvers.py, all pointed at the lab's
root servers, never at the Internet):
  ours           --kresd (default $KRESD_BIN, else <repo>/build/kresd);
                 KRESD_LUA_DIR and the rest of the environment pass through
  knot-resolver  Debian's Knot Resolver 5 (/usr/sbin/kresd or
                 $KNOT_RESOLVER_BIN)
  unbound        Unbound, iterator only, num-threads 1, and
                 incoming-num-tcp 100 (its default of 10 would refuse
                 connections of the TCP and DoT workloads)
  floor          tests/bench/floor.c, built with `cc -O2` into a temp dir:
                 recvmmsg/sendmmsg in batches of 64, answers every query
                 from memory with the query plus one A record (46-byte
                 answers, the same size as the resolvers'); UDP workloads
                 only.  It blocks in recvmmsg(): its CPU per query is what
                 the kernel costs; resolver/floor ratios say how far above
                 that a resolver is.
  floor-loop     floor.c built with -DFLOOR_EVENT_LOOP -levent_core: the
                 same answers, but it waits in libevent's epoll loop
                 (edge-triggered) for the socket to become readable, as a
                 resolver with other sockets and timers must.  floor-loop/
                 floor is the event loop's share; ours/floor-loop what our
                 resolver adds above any event-loop server.

Workloads (--names N, default 10000 bulk names; smaller for --smoke):
  hits     10*N queries (each name 10 times, shuffled), cache warmed first
           by sending each name once; dnsperf loops over the list for
           --duration seconds
  misses   a fresh resolver (empty cache), each of the N names once
           (dnsperf -n 1), bounded by --pass-limit seconds
  mix      90 % hits, 10 % misses: a fresh resolver, the first 90 % of the
           names warmed, then all N names once, shuffled (-n 1)
  tcp      as hits, dnsperf -m tcp (warmed over UDP)
  dot      as hits, dnsperf -m dot: ours and Knot Resolver with a
           net.listen(..., {kind='tls'}) listener and the self-signed
           certificate they make themselves; Unbound with tls-port and a
           key/certificate made with openssl at run time
Every workload starts fresh resolver processes (misses and mix one for
each mode), so every figure is of one process under one workload.  For
hits, tcp and dot all resolvers of a run are started and warmed together,
each measured in turn in the peak mode, and the rate mode is measured in
--windows windows (default 5, --duration seconds in all per resolver)
that take turns across the resolvers: what else the machine does during
the run (this is a VM; the same binary's CPU per query varies by 10-15 %
between 5-second windows) then falls on all of them alike.

Modes, for each workload:
  peak     dnsperf unthrottled (-q --outstanding in flight, -c --clients
           sockets or connections) for --duration seconds
  rate     dnsperf -Q --rate (default 30000 queries/s: on the 2-core
           reference machine every resolver sustains it for cache hits over
           UDP, TCP and DoT, where Unbound tops out near 35,000 over TCP and
           DoT; cache misses are slower and their rate rows are peak
           figures).  The primary
           figure: the resolver's CPU time per answered query at this rate.
           When the rate is not reached (the resolver or dnsperf, which has
           one core, is too slow) the QPS column shows it and a note says so.

Figures for each (workload, mode, resolver), medians over --runs:
  QPS         answered queries per second (dnsperf "Queries per second")
  avg ms      average latency (dnsperf)
  p99 ms      99th percentile latency over the answered queries, computed
              from dnsperf -v per-query output (this dnsperf has no latency
              histogram option)
  lost        queries without an answer within -t --timeout seconds
  CPU s       resolver user+sys CPU time (utime+stime of /proc/PID/stat,
              10 ms ticks) over the dnsperf run; the warm-up is not counted
  CPU us/q    CPU time / answered queries, in microseconds, the CPU time
              taken from /proc/PID/task/*/schedstat (nanoseconds; JSON
              cpu_sched), or from CPU s where there is no schedstat
  q/wake      answered queries per voluntary context switch of the
              resolver, i.e. how many queries one wake-up handled; CPU per
              query at a fixed rate depends on it
  RSS MB      peak resident set (VmHWM of /proc/PID/status), reset with
              /proc/PID/clear_refs before each measured run (so it is the
              peak during that run; the cache's mapped pages count)
Then the ratios of CPU us/q in the rate mode: ours/Knot Resolver,
ours/Unbound, each/floor and ours/floor-loop (UDP workloads).  For hits,
tcp and dot each ratio is the median over all runs and windows of the
ratio of one window of the one resolver to the same window of the other
(they ran moments apart); for misses and mix the ratio of the medians.

Scaling (not with --smoke or --no-scaling): 1, 2 and 4 instances of ours
(--instance N, one shared rundir and cache) and of Knot Resolver (several
processes, one shared rundir and cache directory), every instance binding
127.0.0.1@PORT itself with SO_REUSEPORT.  The instances are NOT pinned
(they share both cores with dnsperf, which stays on core 0): on a 2-core
machine 4 instances are oversubscribed on purpose.  Figure: peak QPS of
the hits workload (UDP), its ratio to one instance, and ours/Knot Resolver.

Everything is bounded: each dnsperf has -l and a subprocess timeout, every
process is ours and is stopped by its PID (SIGTERM, then SIGKILL); the
resolvers only know the lab's loopback root servers.

--json prints the whole result (config, machine, results with every run,
ratios, scaling, errors) as JSON on stdout; progress goes to stderr.
--from-json FILE prints the table of such a saved result again.

Exit status: 0 when everything ran, 1 on an error (a resolver that did not
start or died, dnsperf failing, the floor not building), 2 on bad
arguments, 77 when the lab cannot run here (not root, knotd missing).
"""

import argparse
import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import lab as lablib  # noqa: E402
from lab import resolvers  # noqa: E402
from benchutil import free_port, preflight, start_lab  # noqa: E402
from perf_tools import (HOST, BenchError, dnsperf, make_lists, merge_windows,  # noqa: E402
                        reset_peak_rss, say, sched_cpu, wakeups, write_list)
from perf_report import (UDP_WORKLOADS, fmt, machine, med, ratio, ratios,  # noqa: E402
                         report, summarize)

RESOLVERS = ('ours', 'knot-resolver', 'unbound')
WORKLOADS = ('hits', 'misses', 'mix', 'tcp', 'dot')
WARM_WORKLOADS = ('hits', 'tcp', 'dot')        # one process, warmed once, both modes
MODES = ('peak', 'rate')
SCALING_KINDS = ('ours', 'knot-resolver')
SCALING_COUNTS = (1, 2, 4)
SMOKE_WORKLOADS = ('hits', 'misses', 'mix', 'tcp')
FLOOR_SRC = HERE / 'floor.c'
FLOORS = ('floor', 'floor-loop')  # the plain floor first: the others' ratios are to it


# ---------------------------------------------------------------- servers

class Floor(resolvers.Resolver):
    """tests/bench/floor.c, built once per benchmark (both FLOORS)."""

    def __init__(self, *args, binary, name='floor', **kw):
        self.name = name
        super().__init__(*args, **kw)
        self.binary = str(binary)

    def start(self, timeout=10.0):
        self.proc = lablib.spawn(self.prefix + [self.binary, self.host, str(self.port)],
                                 log_path=self.log_path, cwd=str(self.workdir), env=self.env,
                                 stdout=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b''
        if line.strip() != b'ready':
            self.kill9()
            raise BenchError(f'floor did not start: {line!r}\n{self.log()}')
        return self

    def stop(self, timeout=10.0):
        rc = super().stop(timeout)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        return rc


def build_floor(workdir, kind='floor'):
    """floor.c built as `kind` (one of FLOORS) into workdir."""
    cc = shutil.which('cc') or shutil.which('gcc')
    if not cc:
        raise BenchError('no C compiler (cc) for the floor')
    out = workdir / kind
    flags = ['-DFLOOR_EVENT_LOOP'] if kind == 'floor-loop' else []
    libs = ['-levent_core'] if kind == 'floor-loop' else []
    argv = [cc, '-O2', *flags, '-o', str(out), str(FLOOR_SRC), *libs]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise BenchError(f'{" ".join(argv)} failed:\n{p.stderr}')
    return out


def make_cert(workdir):
    """A self-signed key and certificate for Unbound's DoT listener."""
    key, pem = workdir / 'tls.key', workdir / 'tls.pem'
    if not pem.exists():
        p = subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                            'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', str(key),
                            '-out', str(pem), '-days', '2', '-subj', '/CN=localhost'],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise BenchError(f'openssl could not make a certificate:\n{p.stderr}')
    return key, pem


UNBOUND_TCP = 'incoming-num-tcp: 100'


def new_server(kind, ctx, workdir, *, tls=False):
    """(server, dns port, tls port or None), not started."""
    port = free_port()
    tls_port = free_port() if tls else None
    prefix = ['taskset', '-c', str(ctx.args.resolver_cpu)]
    common = dict(cache_mb=ctx.args.cache_mb, prefix=prefix)
    if kind in FLOORS:
        return Floor(ctx.lab, workdir, port, binary=ctx.floor_bins[kind], name=kind,
                     prefix=prefix), port, None
    if kind in ('ours', 'knot-resolver'):
        extra = f"net.listen('{HOST}', {tls_port}, {{ kind = 'tls' }})" if tls else ''
        if kind == 'ours':
            srv = resolvers.OurKresd(ctx.lab, workdir, port, binary=ctx.args.kresd,
                                     extra=extra, **common)
        else:
            srv = resolvers.KnotResolver(ctx.lab, workdir, port, extra=extra, **common)
        return srv, port, tls_port
    lines = [UNBOUND_TCP]
    if tls:
        key, pem = make_cert(ctx.workdir)
        lines += [f'interface: {HOST}@{tls_port}', f'tls-port: {tls_port}',
                  f'tls-service-key: "{key}"', f'tls-service-pem: "{pem}"']
    srv = resolvers.Unbound(ctx.lab, workdir, port, extra='\n    '.join(lines), **common)
    return srv, port, tls_port


# ---------------------------------------------------------------- measuring

class Ctx:
    def __init__(self, args, lab, workdir, lists, files, floor_bins):
        self.args, self.lab, self.workdir = args, lab, workdir
        self.lists, self.files, self.floor_bins = lists, files, floor_bins


def perf_kw(ctx, **kw):
    a = ctx.args
    base = dict(clients=a.clients, outstanding=a.outstanding, timeout=a.timeout,
                cpu=a.client_cpu)
    base.update(kw)
    return base


def warm_up(ctx, srv, port, workload, workdir):
    """Each warm-up name once over UDP (twice if the first pass lost some)."""
    if not ctx.lists[workload][0]:
        return None
    for _ in range(2):
        res = dnsperf(port, ctx.files[workload + '-warm'], duration=ctx.args.pass_limit,
                      single_pass=True, workdir=workdir, verbose=False, **perf_kw(ctx))
        if not res['lost']:
            break
    return res


def measure(ctx, srv, port, workload, mode, workdir, tls_port=None, duration=None):
    a = ctx.args
    single = ctx.lists[workload][2]
    reset_peak_rss(srv.pid)
    cpu0, sched0, wake0 = srv.cpu_seconds(), sched_cpu(srv.pid), wakeups(srv.pid)
    res = dnsperf(tls_port if workload == 'dot' else port, ctx.files[workload],
                  mode={'tcp': 'tcp', 'dot': 'dot'}.get(workload, 'udp'),
                  rate=a.rate if mode == 'rate' else 0,
                  duration=a.pass_limit if single else (duration or a.duration),
                  single_pass=single,
                  workdir=workdir, **perf_kw(ctx))
    cpu1, sched1, wake1 = srv.cpu_seconds(), sched_cpu(srv.pid), wakeups(srv.pid)
    if not srv.running() or cpu0 is None or cpu1 is None:
        raise BenchError(f'{srv.name} died during {workload}/{mode}:\n{srv.log()}')
    res['cpu'] = round(cpu1 - cpu0, 3)
    res['cpu_sched'] = round(sched1 - sched0, 6) if None not in (sched0, sched1) else None
    # schedstat counts nanoseconds; the 10 ms ticks of /proc/PID/stat are
    # the fallback (kernels without schedstats).
    cpu = res['cpu_sched'] if res['cpu_sched'] is not None else res['cpu']
    res['cpu_us_per_query'] = (cpu * 1e6 / res['completed']) if res['completed'] else None
    res['peak_rss_kb'] = srv.peak_rss_kb()
    woke = wake1 - wake0 if None not in (wake0, wake1) else None
    res['queries_per_wakeup'] = round(res['completed'] / woke, 2) if woke else None
    return res


def start_server(kind, ctx, workdir, workload):
    """(server, dns port, tls port or None), started."""
    srv, port, tls_port = new_server(kind, ctx, workdir, tls=(workload == 'dot'))
    why = srv.available()
    if why:
        raise BenchError(why)
    try:
        srv.start()
    except RuntimeError as e:
        raise BenchError(str(e)) from None
    return srv, port, tls_port


def tell(run, workload, mode, kind, res):
    say(f'run {run + 1} {workload:<6} {mode:<4} {kind:<13} '
        f'{res["completed"]}/{res["sent"]} answered, {res["qps"]:.0f} QPS, '
        f'lost {res["lost"]}, cpu {fmt(res["cpu_sched"] or res["cpu"], ".2f")}s, '
        f'{fmt(res["cpu_us_per_query"], ".2f")} us/q')


def run_workload(ctx, kind, workload, run):
    """{mode: result} of one resolver under a single-pass workload (misses,
    mix): a fresh process for each mode, since a second pass would find
    everything in the cache."""
    out = {}
    base = ctx.workdir / 'runs' / f'{run}-{workload}-{kind}'
    for mode in MODES:
        wd = base / mode
        srv, port, tls_port = start_server(kind, ctx, wd, workload)
        try:
            warm = warm_up(ctx, srv, port, workload, wd) if kind not in FLOORS else None
            res = measure(ctx, srv, port, workload, mode, wd, tls_port)
            res.pop('_latencies', None)
            if warm is not None:
                res['warmup_lost'] = warm['lost']
            out[mode] = res
            tell(run, workload, mode, kind, res)
        finally:
            srv.stop()
    return out


def run_warm_group(ctx, kinds, workload, run, errors):
    """{kind: {mode: result}} for a warmed workload (hits, tcp, dot): every
    resolver started and warmed at once, the peak mode measured for each in
    turn, and the rate mode in --windows windows interleaved across the
    resolvers, so that what the machine does meanwhile falls on all of
    them alike. A resolver that fails is left out (its error recorded)."""
    a = ctx.args
    live = {}
    for kind in kinds:
        wd = ctx.workdir / 'runs' / f'{run}-{workload}-{kind}'
        try:
            live[kind] = start_server(kind, ctx, wd, workload) + (wd,)
        except (BenchError, OSError, subprocess.SubprocessError) as e:
            errors.append(f'{workload}/{kind}: {str(e).strip()[:1500]}')
            say(f'{workload}/{kind}: {e}')
    out, rate_parts, warm = {}, {}, {}

    def attempt(kind, fn):
        try:
            return fn(*live[kind])
        except (BenchError, OSError, subprocess.SubprocessError) as e:
            errors.append(f'{workload}/{kind}: {str(e).strip()[:1500]}')
            say(f'{workload}/{kind}: {e}')
            live.pop(kind)[0].stop()
            return None

    try:
        for kind in list(live):
            warm[kind] = None if kind in FLOORS else attempt(
                kind, lambda srv, port, tls, wd: warm_up(ctx, srv, port, workload, wd))
        for kind in list(live):
            res = attempt(kind, lambda srv, port, tls, wd:
                          measure(ctx, srv, port, workload, 'peak', wd, tls))
            if res is not None:
                out.setdefault(kind, {})['peak'] = res
        window = a.duration / a.windows
        for _ in range(a.windows):
            for kind in list(live):
                res = attempt(kind, lambda srv, port, tls, wd:
                              measure(ctx, srv, port, workload, 'rate', wd, tls, duration=window))
                if res is not None:
                    rate_parts.setdefault(kind, []).append(res)
        for kind in list(live):
            if len(rate_parts.get(kind, [])) == a.windows:
                out.setdefault(kind, {})['rate'] = merge_windows(rate_parts[kind])
    finally:
        for srv, *_ in live.values():
            srv.stop()
    for kind, modes in out.items():
        for mode, res in modes.items():
            res.pop('_latencies', None)
            if warm.get(kind) is not None:
                res['warmup_lost'] = warm[kind]['lost']
            tell(run, workload, mode, kind, res)
    return out


# ---------------------------------------------------------------- scaling

class SharedKresd(resolvers.Resolver):
    """One of several kresd instances (ours or Knot Resolver) sharing a
    rundir, a config and the cache; each binds the port with SO_REUSEPORT."""

    def __init__(self, lab, workdir, port, *, binary, rundir, config, instance, knot, **kw):
        self.name = f'{"knot-resolver" if knot else "ours"}#{instance}'
        super().__init__(lab, workdir, port, **kw)
        self.binary, self.rundir, self.config = str(binary), Path(rundir), Path(config)
        self.instance, self.knot = instance, knot

    def start(self, timeout=20.0):
        notify = resolvers._Notify(self.workdir / 'notify')
        env = dict(self.env, NOTIFY_SOCKET=notify.path)
        argv = [self.binary, '-n']
        if self.knot:
            env['SYSTEMD_INSTANCE'] = str(self.instance)
        else:
            argv += ['--instance', str(self.instance)]
        argv += ['-c', str(self.config), str(self.rundir)]
        try:
            self.proc = lablib.spawn(self.prefix + argv, log_path=self.log_path,
                                     cwd=str(self.rundir), env=env)
            if not notify.wait_ready(timeout, self.proc):
                self.kill9()
                raise BenchError(f'{self.name} did not become ready:\n{self.log()}')
        finally:
            notify.close()
        return self


def run_scaling(ctx, kind, count, run):
    a = ctx.args
    base = ctx.workdir / 'scaling' / f'{run}-{kind}-{count}'
    rundir = base / 'run'
    rundir.mkdir(parents=True)
    port = free_port()
    knot = kind == 'knot-resolver'
    conf = base / 'config.lua'
    conf.write_text(resolvers.kresd_config(ctx.lab, port, cache_mb=a.cache_mb, knot_resolver=knot,
                                           cache_dir=(base / 'cache') if knot else None))
    binary = resolvers.KNOT_RESOLVER_BIN if knot else os.path.abspath(a.kresd)
    insts = [SharedKresd(ctx.lab, base / f'i{i}', port, binary=binary, rundir=rundir, config=conf,
                         instance=i, knot=knot) for i in range(1, count + 1)]
    try:
        for inst in insts:
            inst.start()
        dnsperf(port, ctx.files['hits-warm'], duration=a.pass_limit, single_pass=True,
                workdir=base, verbose=False, **perf_kw(ctx))
        cpu0 = [i.cpu_seconds() for i in insts]
        res = dnsperf(port, ctx.files['hits'], duration=a.duration, single_pass=False,
                      workdir=base, verbose=False, **perf_kw(ctx))
        cpu1 = [i.cpu_seconds() for i in insts]
        dead = [i.name for i in insts if not i.running()]
        if dead or None in cpu0 or None in cpu1:
            raise BenchError(f'instance(s) died: {dead}')
        res['cpu'] = round(sum(cpu1) - sum(cpu0), 3)
        res['cpu_per_instance'] = [round(b - a, 3) for a, b in zip(cpu0, cpu1)]
        say(f'run {run + 1} scaling {kind} x{count}: {res["qps"]:.0f} QPS, lost {res["lost"]}, '
            f'cpu {res["cpu"]:.2f}s ({" + ".join(f"{c:.2f}" for c in res["cpu_per_instance"])})')
        return res
    finally:
        for inst in insts:
            inst.stop()


# ---------------------------------------------------------------- main

def parse_args(argv):
    first, rest = __doc__.split('\n\n', 1)
    ap = argparse.ArgumentParser(description=first, epilog=rest,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--runs', type=int, default=None, help='repetitions, medians reported (3)')
    ap.add_argument('--duration', type=float, default=None,
                    help='seconds of each looping dnsperf run: hits, tcp, dot, scaling (5)')
    ap.add_argument('--pass-limit', type=float, default=None,
                    help='bound in seconds of a single pass: misses, mix, warm-ups (30)')
    ap.add_argument('--windows', type=int, default=None,
                    help='the rate mode of hits/tcp/dot is measured in this many windows '
                         '(--duration in all), interleaved across the resolvers (5)')
    ap.add_argument('--rate', type=int, default=30000,
                    help='dnsperf -Q of the rate mode (%(default)s)')
    ap.add_argument('--names', type=int, default=None,
                    help=f'bulk names in the lists (default {lablib.BULK_COUNT}, smoke 200)')
    ap.add_argument('--resolvers', default=','.join(RESOLVERS),
                    help='comma separated, of %(default)s')
    ap.add_argument('--workloads', default=None,
                    help=f'comma separated, of {",".join(WORKLOADS)} (default all; smoke '
                         f'{",".join(SMOKE_WORKLOADS)})')
    ap.add_argument('--no-floor', action='store_true', help='leave the floor out')
    ap.add_argument('--no-scaling', action='store_true', help='leave the scaling runs out')
    ap.add_argument('--smoke', action='store_true',
                    help='the CI version: 200 names, 1 s, 1 run, no scaling, '
                         f'{",".join(SMOKE_WORKLOADS)}')
    ap.add_argument('--json', action='store_true', help='print the results as JSON')
    ap.add_argument('--from-json', metavar='FILE',
                    help='measure nothing: print the table of a saved --json result')
    ap.add_argument('--kresd', default=None,
                    help='our kresd binary (default $KRESD_BIN, else <repo>/build/kresd)')
    ap.add_argument('--clients', type=int, default=16, help='dnsperf -c (%(default)s)')
    ap.add_argument('--outstanding', type=int, default=200, help='dnsperf -q (%(default)s)')
    ap.add_argument('--timeout', type=float, default=2.0,
                    help='dnsperf -t: a query is lost after this (%(default)s s)')
    ap.add_argument('--cache-mb', type=int, default=100)
    ap.add_argument('--resolver-cpu', type=int, default=1)
    ap.add_argument('--client-cpu', type=int, default=0)
    ap.add_argument('--seed', type=int, default=53)
    args = ap.parse_args(argv)

    smoke = args.smoke
    for key, full, small in (('runs', 3, 1), ('duration', 5.0, 1.0), ('windows', 5, 1),
                             ('pass_limit', 30.0, 10.0),
                             ('names', lablib.BULK_COUNT, 200)):
        if getattr(args, key) is None:
            setattr(args, key, small if smoke else full)
    if smoke:
        args.no_scaling = True
    args.kinds = [k.strip() for k in args.resolvers.split(',') if k.strip()]
    bad = [k for k in args.kinds if k not in RESOLVERS]
    if bad or not args.kinds:
        ap.error(f'unknown resolver(s) {bad}; choose from {", ".join(RESOLVERS)}')
    wl = args.workloads or ','.join(SMOKE_WORKLOADS if smoke else WORKLOADS)
    args.workload_list = [w.strip() for w in wl.split(',') if w.strip()]
    bad = [w for w in args.workload_list if w not in WORKLOADS]
    if bad or not args.workload_list:
        ap.error(f'unknown workload(s) {bad}; choose from {", ".join(WORKLOADS)}')
    if (args.runs < 1 or args.duration <= 0 or args.pass_limit <= 0 or args.rate < 1
            or args.windows < 1):
        ap.error('--runs, --duration, --windows, --pass-limit and --rate must be positive')
    if not 10 <= args.names <= lablib.BULK_COUNT:
        ap.error(f'--names must be 10..{lablib.BULK_COUNT}')
    ncpu = os.cpu_count() or 1
    if not (0 <= args.resolver_cpu < ncpu and 0 <= args.client_cpu < ncpu):
        ap.error(f'CPU numbers must be below {ncpu}')
    args.kresd = str(args.kresd or resolvers.our_kresd_path())
    return args


def pin_lab(lab, cpu):
    """Move the lab's servers (and all their threads) to the client's CPU."""
    for srv in lab.servers.values():
        if srv.proc is not None and srv.proc.poll() is None:
            subprocess.run(['taskset', '-a', '-p', '-c', str(cpu), str(srv.proc.pid)],
                           capture_output=True, timeout=10)


def main(argv=None):
    args = parse_args(argv)
    if args.from_json:
        try:
            report(json.loads(Path(args.from_json).read_text()))
        except (OSError, ValueError, KeyError, TypeError) as e:
            say(f'{args.from_json}: not a perf.py --json result: {e!r}')
            return 1
        return 0
    status = preflight(say, ('dnsperf', 'taskset'))
    if status is not None:
        return status

    t0 = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix='perf-', dir='/tmp'))
    lab = lablib.Lab(workdir / 'lab')
    errors, rows, scaling = [], [], []
    kinds = list(args.kinds)
    try:
        floor_bins = {}
        if not args.no_floor and any(w in UDP_WORKLOADS for w in args.workload_list):
            for kind in FLOORS:
                try:
                    floor_bins[kind] = build_floor(workdir, kind)
                    kinds.append(kind)
                except (BenchError, OSError, subprocess.TimeoutExpired) as e:
                    errors.append(f'{kind}: {e}')
        if not start_lab(lab, say):
            return 1
        pin_lab(lab, args.client_cpu)
        say(f'lab up on {lab.prefix}.x.x:53; {args.names} names; resolvers {", ".join(kinds)}')

        names = lab.bulk_names(args.names)
        lists = make_lists(names, args.seed)
        files = {}
        for w, (warm, queries, _) in lists.items():
            files[w] = write_list(workdir / f'{w}.txt', queries)
            files[w + '-warm'] = write_list(workdir / f'{w}-warm.txt', warm)
        ctx = Ctx(args, lab, workdir, lists, files, floor_bins)

        raw = {}          # (workload, mode, kind) -> [run results]
        failed = set()    # (workload, kind) that failed once: not retried
        for run in range(args.runs):
            for w in args.workload_list:
                if w in WARM_WORKLOADS:
                    group = [k for k in kinds if (k not in FLOORS or w in UDP_WORKLOADS)
                             and (w, k) not in failed]
                    res_by_kind = run_warm_group(ctx, group, w, run, errors)
                    for kind in group:
                        if kind not in res_by_kind or len(res_by_kind[kind]) < len(MODES):
                            failed.add((w, kind))
                        for mode, r in res_by_kind.get(kind, {}).items():
                            raw.setdefault((w, mode, kind), []).append(r)
                    continue
                for kind in kinds:
                    if kind in FLOORS and w not in UDP_WORKLOADS or (w, kind) in failed:
                        continue
                    try:
                        res = run_workload(ctx, kind, w, run)
                    except (BenchError, OSError, subprocess.SubprocessError) as e:
                        errors.append(f'{w}/{kind}: {str(e).strip()[:1500]}')
                        say(f'{w}/{kind}: {e}')
                        failed.add((w, kind))
                        continue
                    for mode, r in res.items():
                        raw.setdefault((w, mode, kind), []).append(r)
        for w in args.workload_list:
            for mode in MODES:
                for kind in kinds:
                    runs = raw.get((w, mode, kind))
                    if runs:
                        rows.append(dict(workload=w, mode=mode, resolver=kind, **summarize(runs),
                                         runs=runs))

        if not args.no_scaling and 'hits' in args.workload_list:
            sraw = {}
            for run in range(args.runs):
                for kind in SCALING_KINDS:
                    if kind not in kinds:
                        continue
                    for n in SCALING_COUNTS:
                        try:
                            sraw.setdefault((kind, n), []).append(run_scaling(ctx, kind, n, run))
                        except (BenchError, OSError, subprocess.SubprocessError) as e:
                            errors.append(f'scaling {kind} x{n}: {str(e).strip()[:1500]}')
                            say(f'scaling {kind} x{n}: {e}')
            for (kind, n), runs in sraw.items():
                scaling.append({'resolver': kind, 'instances': n,
                                'qps': med([r['qps'] for r in runs]),
                                'lost': med([r['lost'] for r in runs]),
                                'cpu_s': med([r['cpu'] for r in runs]), 'runs': runs})
            qps = {(s['resolver'], s['instances']): s['qps'] for s in scaling}
            for s in scaling:
                s['vs_one'] = ratio(s['qps'], qps.get((s['resolver'], 1)))
                if s['resolver'] == 'ours':
                    s['ours/knot-resolver'] = ratio(s['qps'],
                                                    qps.get(('knot-resolver', s['instances'])))
    finally:
        lab.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    for r in rows:
        if not r['completed']:
            errors.append(f'{r["workload"]}/{r["mode"]}/{r["resolver"]}: no query answered')
    out = {
        'config': {'names': args.names, 'runs': args.runs, 'duration': args.duration,
                   'pass_limit': args.pass_limit, 'rate': args.rate, 'windows': args.windows,
                   'clients': args.clients,
                   'outstanding': args.outstanding, 'timeout': args.timeout,
                   'cache_mb': args.cache_mb, 'resolver_cpu': args.resolver_cpu,
                   'client_cpu': args.client_cpu, 'smoke': args.smoke, 'resolvers': kinds,
                   'workloads': args.workload_list, 'kresd': args.kresd,
                   'p99_source': 'dnsperf -v per-query latencies (nearest rank)',
                   'seconds': round(time.monotonic() - t0, 1)},
        'machine': machine(args),
        'results': rows,
        'ratios': ratios(rows, kinds, args.workload_list),
        'scaling': scaling,
        'errors': errors,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        report(out)
    say(f'done in {out["config"]["seconds"]:.0f} s' + (f', {len(errors)} error(s)' if errors else ''))
    return 1 if errors else 0


if __name__ == '__main__':
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
