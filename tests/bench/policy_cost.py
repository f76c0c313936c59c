#!/usr/bin/python3
"""What a realistic policy costs a cache hit: 20 views and a big response
policy zone, in our kresd and in Knot Resolver 5.6, on the same files.

    tests/bench/policy_cost.py --kresd build-bench/kresd
    tests/bench/policy_cost.py --rounds 40 --seconds 2 --kresd build-bench/kresd
    tests/bench/policy_cost.py --rounds 1 --seconds 0.5 --names 200 --triggers 2000 \\
        --load-runs 1 --kresd build/kresd          # the smoke version

The script writes, in its temp directory:

* ``policy.rpz``: a zone of --triggers QNAME triggers (default 100,000
  lines after the $TTL, SOA and NS lines), every one ``CNAME .``: names of
  two to four labels under made-up TLDs (``hN.dK.adnet``,
  ``hN.sK.dK.track``, ``dN.malware``...) and one in ten a wildcard
  (``*.dN.wK.adnet``...). None of them matches a query of the benchmark
  (``nN.bulk.sim.``); several have as many labels as the queries, so the
  lookups are done, not skipped.
* ``policy.lua``: ``modules.load('view')``, 19 ``view:addr`` rules for
  subnets that do not hold 127.0.0.1 (private IPv4 and IPv6 networks with
  DENY, REFUSE, DENY_MSG and suffix rules, as an ACL would), then
  ``view:addr('127.0.0.0/8', policy.all(policy.PASS))`` as the 20th, and
  ``policy.add(policy.rpz(policy.DENY, 'policy.rpz', false))`` (no
  watching: Knot Resolver 5.6 without lua-cqueues cannot watch a file).

Participants, each one process pinned to --resolver-cpu, all started at
once and warmed with every name once (as tests/bench/ab.py): ``ours``
and ``ours+policy`` (--kresd, the second with the policy config appended),
``kr`` and ``kr+policy`` (Knot Resolver 5.6, $KNOT_RESOLVER_BIN or
/usr/sbin/kresd, the same). The warm-up checks that every answer is
NOERROR and that ``www.example.sim.``, a name of the lab that the zone
also lists (the only trigger under ``sim.``), is NXDOMAIN from the policy
participants and NOERROR from the plain ones. Then --rounds rounds:
in each, every participant in turn (the order reversed every other
round) gets --seconds of ``dnsperf -Q --rate`` from --client-cpu (each
name ten times, shuffled, as ab.py), and its on-CPU time over that
window (schedstat) is divided by the answered queries.

Ratios are taken round by round (participants measured moments apart),
then the median and the spread (the 10th and 90th percentile, min and
max) over the rounds: ``ours+policy/ours``, ``kr+policy/kr``,
``ours/kr`` and ``ours+policy/kr+policy``.

Load time: --load-runs runs of each binary with a config that reads the
zone and exits (``os.exit(0)``): the CPU time of the ``policy.rpz()``
call (``os.clock()`` around it, printed by the config) and the wall time
from exec to exit, against the same config without the zone; medians.

Everything runs on loopback (the lab's knotd hierarchy on 127.x, port 53:
needs root) and is bounded: each dnsperf has -l and a timeout, every
load run a timeout, and every process started is stopped by its PID.
Exit status: 0, 1 on an error, 2 on bad arguments, 77 when the lab cannot
run here (or Knot Resolver is not installed).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.rcode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import lab as lablib  # noqa: E402
from lab import resolvers  # noqa: E402
from benchutil import free_port, git_describe, preflight, start_lab  # noqa: E402
from perf import pin_lab  # noqa: E402
from perf_tools import BenchError, dnsperf, make_lists, say, sched_cpu, write_list  # noqa: E402

PARTICIPANTS = ('ours', 'ours+policy', 'kr', 'kr+policy')
RATIOS = (('ours+policy', 'ours'), ('kr+policy', 'kr'), ('ours', 'kr'),
          ('ours+policy', 'kr+policy'))
# A name of the lab (NOERROR without the policy) that generate_rpz() makes
# a trigger: the warm-up checks that the zone is in force where it should be.
TRIGGER_PROBE = 'www.example.sim.'
LOAD_TIMEOUT = 60


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--kresd', default=str(resolvers.our_kresd_path()),
                    help='our kresd (default $KRESD_BIN, else build/kresd)')
    ap.add_argument('--knot-resolver', default=resolvers.KNOT_RESOLVER_BIN,
                    help='Knot Resolver 5.6 (default %(default)s)')
    ap.add_argument('--rounds', type=int, default=30, help='rounds (%(default)s)')
    ap.add_argument('--seconds', type=float, default=2.0,
                    help='seconds per participant and round (%(default)s)')
    ap.add_argument('--rate', type=int, default=30000, help='dnsperf -Q (%(default)s)')
    ap.add_argument('--names', type=int, default=10000, help='bulk names (%(default)s)')
    ap.add_argument('--triggers', type=int, default=100000,
                    help='RPZ trigger lines (%(default)s)')
    ap.add_argument('--load-runs', type=int, default=7,
                    help='runs of each load measurement (%(default)s)')
    ap.add_argument('--resolver-cpu', type=int, default=1)
    ap.add_argument('--client-cpu', type=int, default=0)
    args = ap.parse_args(argv)
    if (args.rounds < 1 or args.seconds <= 0 or args.rate < 1 or not 1 <= args.names <= 10000
            or args.triggers < 10 or args.load_runs < 1):
        ap.error('--rounds, --seconds, --rate and --load-runs must be positive, '
                 '--names 1..10000, --triggers at least 10')
    for opt in ('kresd', 'knot_resolver'):
        path = getattr(args, opt)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            if opt == 'knot_resolver':
                args.missing_kr = path
                continue
            ap.error(f'--{opt.replace("_", "-")}: {path}: not an executable')
        setattr(args, opt, os.path.abspath(path))
    return args


# ---------------------------------------------------------------- the files

def generate_rpz(path, count):
    """A zone file of `count` QNAME triggers, all `CNAME .`; one in ten a
    wildcard. Owners have 2 to 4 labels, none under sim. (the lab) but
    TRIGGER_PROBE, which the benchmark never asks for."""
    lines = ['$TTL 300',
             '@ SOA localhost. root.localhost. 1 3600 1200 604800 10800',
             '  NS localhost.']
    for i in range(count):
        k = i % 97
        kind = i % 10
        if kind == 0:
            owner = f'*.d{i}.w{k}.adnet' if i % 20 == 0 else f'*.d{i}.malware'
        elif kind < 5:
            owner = f'h{i}.d{k}.adnet'           # 3 labels, as the queries
        elif kind < 8:
            owner = f'h{i}.s{k}.d{k}.track'      # 4 labels
        else:
            owner = f'd{i}.malware'              # 2 labels
        lines.append(f'{owner} CNAME .')
    lines[3] = TRIGGER_PROBE.rstrip('.') + ' CNAME .'     # instead of i = 0
    path.write_text('\n'.join(lines) + '\n')
    return path


# 19 view:addr rules that 127.0.0.1 does not match, as an ACL would have
# them (narrow networks first), then the loopback one that does.
VIEW_RULES = [
    ("'10.0.0.0/24'", "policy.all(policy.PASS)"),
    ("'10.0.1.0/24'", "policy.suffix(policy.REFUSE, policy.todnames({'corp.example.'}))"),
    ("'10.1.0.0/16'", "policy.all(policy.DENY)"),
    ("'10.2.0.0/16'", "policy.all(policy.DENY_MSG('guest network'))"),
    ("'10.3.0.0/16'", "policy.suffix(policy.DENY, policy.todnames({'games.example.'}))"),
    ("'172.16.0.0/16'", "policy.all(policy.PASS)"),
    ("'172.17.0.0/16'", "policy.all(policy.REFUSE)"),
    ("'172.18.5.0/24'", "policy.all(policy.PASS)"),
    ("'192.168.0.0/24'", "policy.all(policy.PASS)"),
    ("'192.168.1.0/24'", "policy.all(policy.PASS)"),
    ("'192.168.100.0/24'", "policy.suffix(policy.DENY, policy.todnames({'internal.example.'}))"),
    ("'192.0.2.0/24'", "policy.all(policy.REFUSE)"),
    ("'198.51.100.7'", "policy.all(policy.DENY)"),
    ("'203.0.113.0/25'", "policy.all(policy.PASS)"),
    ("'2001:db8:1::/48'", "policy.all(policy.PASS)"),
    ("'2001:db8:2::/48'", "policy.all(policy.REFUSE)"),
    ("'fd00:1::/32'", "policy.all(policy.PASS)"),
    ("'fe80::/10'", "policy.all(policy.DENY)"),
    ("'100.64.0.0/10'", "policy.all(policy.REFUSE)"),
    ("'127.0.0.0/8'", "policy.all(policy.PASS)"),
]


def policy_config(rpz_path):
    """The config lines the +policy participants add (ours and 5.6 alike)."""
    lines = ["modules.load('view')"]
    lines += [f'view:addr({subnet}, {rule})' for subnet, rule in VIEW_RULES]
    lines.append(f"policy.add(policy.rpz(policy.DENY, '{rpz_path}', false))")
    return '\n'.join(lines)


# ---------------------------------------------------------------- load time

def load_once(binary, workdir, rpz_path, with_rpz):
    """(wall seconds from exec to exit, CPU ms of policy.rpz() or None)."""
    rundir = workdir / 'run'
    rundir.mkdir(parents=True, exist_ok=True)
    conf = workdir / ('load-rpz.lua' if with_rpz else 'load-plain.lua')
    body = ''
    if with_rpz:
        body = (f"local t0 = os.clock()\n"
                f"policy.add(policy.rpz(policy.DENY, '{rpz_path}', false))\n"
                "io.stderr:write(string.format('RPZ-LOAD-MS %.3f\\n', (os.clock() - t0) * 1000))\n")
    conf.write_text(body + 'io.stderr:flush()\nos.exit(0)\n')
    env = {k: v for k, v in os.environ.items()
           if k not in ('NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES')}
    t0 = time.monotonic()
    p = subprocess.run([binary, '-n', '-c', str(conf), str(rundir)], cwd=str(rundir), env=env,
                       capture_output=True, text=True, timeout=LOAD_TIMEOUT,
                       stdin=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise BenchError(f'{binary} -c {conf}: exit {p.returncode}\n{p.stderr[-2000:]}')
    cpu_ms = None
    for line in (p.stdout + p.stderr).splitlines():
        if 'RPZ-LOAD-MS' in line:
            cpu_ms = float(line.split('RPZ-LOAD-MS', 1)[1].split()[0])
    if with_rpz and cpu_ms is None:
        raise BenchError(f'{binary}: the load config printed no time:\n{p.stderr[-2000:]}')
    return wall, cpu_ms


def measure_load(args, binaries, workdir, rpz_path):
    """{name: {'cpu_ms', 'wall_ms', 'wall_plain_ms'}: medians}, runs interleaved."""
    runs = {name: {'cpu': [], 'wall': [], 'plain': []} for name in binaries}
    for _ in range(args.load_runs):
        for name, binary in binaries.items():
            wd = workdir / f'load-{name}'
            wall, cpu_ms = load_once(binary, wd, rpz_path, True)
            plain, _ = load_once(binary, wd, rpz_path, False)
            runs[name]['cpu'].append(cpu_ms)
            runs[name]['wall'].append(wall * 1000)
            runs[name]['plain'].append(plain * 1000)
    return {name: {'cpu_ms': statistics.median(r['cpu']),
                   'cpu_ms_max': max(r['cpu']),
                   'wall_ms': statistics.median(r['wall']),
                   'wall_ms_max': max(r['wall']),
                   'wall_plain_ms': statistics.median(r['plain'])}
            for name, r in runs.items()}


# ---------------------------------------------------------------- CPU per hit

def spread(values):
    """(median, p10, p90, min, max) of a list (nearest rank)."""
    s = sorted(values)

    def rank(p):
        return s[max(0, min(len(s) - 1, round(p * (len(s) - 1))))]
    return statistics.median(s), rank(0.1), rank(0.9), s[0], s[-1]


def start_participants(args, lab, workdir, policy_lines, live):
    prefix = ['taskset', '-c', str(args.resolver_cpu)]
    for name in PARTICIPANTS:
        port = free_port()
        extra = policy_lines if name.endswith('+policy') else ''
        wd = workdir / f'srv-{name.replace("+", "-")}'
        if name.startswith('kr'):
            srv = resolvers.KnotResolver(lab, wd, port, binary=args.knot_resolver,
                                         extra=extra, prefix=prefix)
        else:
            srv = resolvers.OurKresd(lab, wd, port, binary=args.kresd, extra=extra,
                                     prefix=prefix)
        srv.start(timeout=60.0)
        live[name] = (srv, port)


def check_answers(args, live, warm_file, workdir):
    """Warms every participant; every answer NOERROR, the trigger probe
    NXDOMAIN exactly where the policy is."""
    for name, (srv, port) in live.items():
        warm = dnsperf(port, warm_file, duration=60, single_pass=True, clients=16,
                       outstanding=200, timeout=2.0, cpu=args.client_cpu, workdir=workdir,
                       verbose=False)
        if warm['lost']:
            say(f'{name}: {warm["lost"]} of {warm["sent"]} warm-up queries lost')
        if set(warm['rcodes']) - {'NOERROR'} or not warm['completed']:
            raise BenchError(f'{name}: warm-up answers {warm["rcodes"]}, want NOERROR only')
        r = lablib.query(TRIGGER_PROBE, 'A', '127.0.0.1', port, timeout=3.0)
        got = dns.rcode.to_text(r.rcode())
        want = 'NXDOMAIN' if name.endswith('+policy') else 'NOERROR'
        if got != want:
            raise BenchError(f'{name}: {TRIGGER_PROBE} answered {got}, want {want}')


def measure_hits(args, lab, workdir, rpz_path):
    live = {}
    try:
        start_participants(args, lab, workdir, policy_config(rpz_path), live)
        names = lab.bulk_names(args.names)
        queries = make_lists(names, 53)['hits'][1]      # ab.py's shuffled list
        names_file = write_list(workdir / 'queries.txt', queries)
        warm_file = write_list(workdir / 'warm.txt', names)
        check_answers(args, live, warm_file, workdir)
        say(f'{len(live)} participants, {args.rounds} rounds of {args.seconds} s each, '
            f'{args.rate} q/s, {len(queries)} queries')
        per_q = {name: [] for name in live}
        for rnd in range(args.rounds):
            order = list(live.items())
            if rnd % 2:     # every other round backwards: no one is always first
                order.reverse()
            for name, (srv, port) in order:
                cpu0 = sched_cpu(srv.pid)
                res = dnsperf(port, names_file, rate=args.rate, duration=args.seconds,
                              single_pass=False, clients=16, outstanding=200, timeout=2.0,
                              cpu=args.client_cpu, workdir=workdir)
                cpu1 = sched_cpu(srv.pid)
                done = res['completed']
                if not srv.running() or cpu0 is None or cpu1 is None or not done:
                    raise BenchError(f'{name} stopped answering in round {rnd + 1}:\n{srv.log()}')
                per_q[name].append((cpu1 - cpu0) * 1e6 / done)
        return per_q
    finally:
        for srv, _ in live.values():
            srv.stop()


def report(args, per_q, load, rpz_lines):
    print(f'policy_cost.py: {rpz_lines} RPZ lines ({args.triggers} triggers), '
          f'{len(VIEW_RULES)} view:addr rules; {args.rounds} rounds x {args.seconds} s at '
          f'{args.rate} q/s; ours {git_describe() or "?"}')
    print(f'{"participant":<14} {"CPU us/q median":>16} {"p10":>8} {"p90":>8}')
    for name, values in per_q.items():
        med, p10, p90, _, _ = spread(values)
        print(f'{name:<14} {med:16.2f} {p10:8.2f} {p90:8.2f}')
    print(f'{"ratio":<24} {"median":>7} {"p10":>7} {"p90":>7} {"min":>7} {"max":>7}')
    for a, b in RATIOS:
        med, p10, p90, lo, hi = spread([x / y for x, y in zip(per_q[a], per_q[b])])
        print(f'{a + "/" + b:<24} {med:7.3f} {p10:7.3f} {p90:7.3f} {lo:7.3f} {hi:7.3f}')
    print(f'{"RPZ load":<14} {"CPU ms median":>14} {"max":>8} {"wall ms":>8} {"max":>8} '
          f'{"wall w/o RPZ":>13}')
    for name, r in load.items():
        print(f'{name:<14} {r["cpu_ms"]:14.1f} {r["cpu_ms_max"]:8.1f} {r["wall_ms"]:8.1f} '
              f'{r["wall_ms_max"]:8.1f} {r["wall_plain_ms"]:13.1f}')


def main(argv=None):
    args = parse_args(argv)
    if getattr(args, 'missing_kr', None):
        say(f'Knot Resolver not found: {args.missing_kr}')
        return 77
    status = preflight(say, ('dnsperf', 'taskset'))
    if status is not None:
        return status
    workdir = Path(tempfile.mkdtemp(prefix='policy-cost-', dir='/tmp'))
    rpz_path = generate_rpz(workdir / 'policy.rpz', args.triggers)
    rpz_lines = len(rpz_path.read_text().splitlines())
    lab = lablib.Lab(workdir / 'lab')
    try:
        load = measure_load(args, {'ours': args.kresd, 'kr': args.knot_resolver},
                            workdir, rpz_path)
        if not start_lab(lab, say):
            return 1
        pin_lab(lab, args.client_cpu)
        per_q = measure_hits(args, lab, workdir, rpz_path)
    except (BenchError, RuntimeError, OSError, subprocess.SubprocessError) as e:
        say(f'error: {e}')
        return 1
    finally:
        lab.stop()
    report(args, per_q, load, rpz_lines)
    return 0


if __name__ == '__main__':
    sys.exit(main())
