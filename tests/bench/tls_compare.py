#!/usr/bin/python3
"""DNS over TLS and DNS over HTTPS/2 throughput, side by side: our kresd and
Debian's Knot Resolver 5, in the same run.

Setup
-----
A certificate is made at run time with openssl (ECDSA P-256 by default,
--cert rsa for RSA 2048) and both resolvers load it with net.tls(). Each
resolver is one process pinned to core 1 (taskset -c 1), listening on
127.0.0.1 on free ports for plain DNS, DoT (kind 'tls') and DoH
(kind 'doh2', path /dns-query). The load generators run on core 0
(taskset -c 0). Nothing leaves loopback: both configs set loopback root
hints (a.root-servers.invalid. = 127.0.0.9) and answer the benchmark name
bench.example. A 192.0.2.1 from the hints table, so no query needs
recursion and the cache does not matter. Knot Resolver also gets
modules.load('hints > iterate') and trust_anchors.remove('.').
Before measuring, kdig must get 192.0.2.1 from each resolver over plain
DNS, +tls, +https (POST) and +https-get, or the script stops with exit 1.

Rows
----
  dot-reuse-c1      dnsperf -m dot -c 1: one TLS connection, up to 100
                    queries in flight (dnsperf -q 100)
  dot-reuse-c8      the same with 8 connections
  doh-get-reuse     dnsperf -m doh -O doh-method=GET -c 1: one HTTP/2
                    connection, up to 100 streams in flight
  doh-post-reuse    the same with POST
  dot-new-full      a new TCP+TLS connection per query, full handshake
  dot-new-resume    the same, each connection resuming the TLS session of
                    the worker's previous one (session ticket)
  doh-new-full      a new TCP+TLS+HTTP/2 connection per query (one POST)
  doh-new-resume    the same with session resumption

The new-connection rows use tls_newconn_client.c (next to this script),
compiled at run time with cc against OpenSSL: --workers processes, each in
a loop connect, handshake, one query, check the answer, close_notify,
close. Its DoH is a minimal HTTP/2 client (preface, SETTINGS, HEADERS with
literal HPACK fields, DATA). Every answer must carry the expected address.
The "resumed%" column says how many handshakes really were resumptions.

Every row is measured for both resolvers in the same run, --runs times
(the resolver that goes first alternates), for --seconds each; the table
shows medians.

Reading the table
-----------------
  qps        answered queries per second (median of the runs)
  ratio      ours / Knot Resolver qps: above 1 means ours is faster
  us/q       resolver CPU time (utime+stime from /proc/PID/stat) per
             answered query, in microseconds: the cost per query,
             independent of who the bottleneck was
  srv%       resolver CPU time / wall time: near 100 the resolver was the
             bottleneck (it has one core); well below 100 it was waiting
             for the client
  cli%       load generator CPU time / wall time (getrusage of the
             finished children): near 100 the client, on its one core,
             was the bottleneck and the qps says little about the server
  err        queries lost, answered with an error, or connections failed
  resumed%   (new-connection rows) share of the connections whose
             handshake resumed a session (each worker's first one cannot)

On a machine shared with other work the numbers are noisy; compare the
ratio and us/q rather than the absolute qps, and prefer more --runs.

Examples:
    KRESD_LUA_DIR=/work/snap/lua tests/bench/tls_compare.py --kresd /work/snap/kresd
    tests/bench/tls_compare.py --runs 5 --seconds 10 --json > result.json
    tests/bench/tls_compare.py --smoke --json

Everything is bounded: dnsperf runs with -l, the client with a time limit
and a count per worker, every subprocess with a timeout; both resolvers
are stopped by PID at the end (SIGTERM, then SIGKILL).

Exit status: 0 when every row ran and both resolvers answered in each,
1 on an error (missing tool, a resolver that did not start or did not
answer the benchmark name, a row with no answers), 2 on bad arguments.
"""

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchutil import free_port, git_describe

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CLIENT_SRC = HERE / 'tls_newconn_client.c'

HOST = '127.0.0.1'
QNAME = 'bench.example.'
ADDR = '192.0.2.1'
ROOT_HINT = "hints.root({['a.root-servers.invalid.'] = '127.0.0.9'})"
SERVER_CORE = '1'
CLIENT_CORE = '0'
RESOLVERS = ('ours', 'knot-resolver')

ROWS = {
    'dot-reuse-c1': 'DoT, 1 connection reused',
    'dot-reuse-c8': 'DoT, 8 connections reused',
    'doh-get-reuse': 'DoH GET, 1 connection reused',
    'doh-post-reuse': 'DoH POST, 1 connection reused',
    'dot-new-full': 'DoT, new connection per query, full handshake',
    'dot-new-resume': 'DoT, new connection per query, resumed session',
    'doh-new-full': 'DoH POST, new connection per query, full handshake',
    'doh-new-resume': 'DoH POST, new connection per query, resumed session',
}

CLK_TCK = os.sysconf('SC_CLK_TCK')


class BenchError(Exception):
    pass


def say(*args):
    print('tls_compare:', *args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- resolvers

def resolver_config(kind, ports, cert, key):
    lines = [f"net.listen('{HOST}', {ports['dns']}, {{ kind = 'dns' }})",
             f"net.listen('{HOST}', {ports['dot']}, {{ kind = 'tls' }})",
             f"net.listen('{HOST}', {ports['doh']}, {{ kind = 'doh2' }})",
             f"net.tls('{cert}', '{key}')"]
    if kind == 'knot-resolver':
        lines += ["modules.load('hints > iterate')",
                  "trust_anchors.remove('.')"]
    else:
        lines += ["if trust_anchors ~= nil then trust_anchors.remove('.') end"]
    lines += [ROOT_HINT, f"hints['{QNAME}'] = '{ADDR}'"]
    return '\n'.join(lines) + '\n'


def dns_query_wire(qid, name):
    wire = struct.pack('!HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip('.').split('.'):
        wire += bytes([len(label)]) + label.encode()
    return wire + b'\0' + struct.pack('!HH', 1, 1)


class Resolver:
    def __init__(self, kind, binary, workdir, cert, key, env):
        self.kind = kind
        self.binary = binary
        self.rundir = workdir / kind
        self.rundir.mkdir()
        self.ports = {'dns': free_port(), 'dot': free_port(), 'doh': free_port()}
        self.conf = 'config' if kind == 'knot-resolver' else 'config.lua'
        (self.rundir / self.conf).write_text(resolver_config(kind, self.ports, cert, key))
        self.env = env
        self.proc = None
        self.log = None
        self.tls_session = None
        self.https_session = None

    def start(self):
        self.log = open(self.rundir / 'log', 'wb')
        argv = ['taskset', '-c', SERVER_CORE, self.binary, '-n', '-c', self.conf,
                str(self.rundir)]
        # taskset execs the resolver: the PID is the resolver's.
        self.proc = subprocess.Popen(argv, cwd=self.rundir, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        query = dns_query_wire(4242, QNAME)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise BenchError(f'{self.kind} exited with {self.proc.returncode} '
                                     f'at start:\n{self.log_tail()}')
                try:
                    s.sendto(query, (HOST, self.ports['dns']))
                    answer = s.recv(4096)
                    if answer[:2] == query[:2] and ADDR_WIRE in answer:
                        return self
                except OSError:
                    pass
                time.sleep(0.1)
        raise BenchError(f'{self.kind} does not answer {QNAME} on UDP '
                         f'{HOST}@{self.ports["dns"]}:\n{self.log_tail()}')

    def log_tail(self, n=15):
        try:
            lines = (self.rundir / 'log').read_text(errors='replace').splitlines()
        except OSError:
            return ''
        return '\n'.join('    ' + line for line in lines[-n:])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self):
        with open(f'/proc/{self.proc.pid}/stat') as f:
            stat = f.read()
        fields = stat[stat.rindex(')') + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK   # utime + stime

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self.log:
            self.log.close()


ADDR_WIRE = socket.inet_aton(ADDR)


def kdig_check(res, kdig):
    """kdig must get ADDR for QNAME over plain DNS, DoT, DoH POST and GET."""
    checks = [('plain DNS', ['-p', str(res.ports['dns'])]),
              ('+tls', ['-p', str(res.ports['dot']), '+tls']),
              ('+https', ['-p', str(res.ports['doh']), '+https']),
              ('+https-get', ['-p', str(res.ports['doh']), '+https-get'])]
    for what, opts in checks:
        argv = [kdig, f'@{HOST}', *opts, '+time=3', '+retry=0', QNAME, 'A']
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=15)
        except subprocess.TimeoutExpired:
            raise BenchError(f'{res.kind}: kdig {what} timed out') from None
        ok = out.returncode == 0 and re.search(
            rf'^{re.escape(QNAME)}\s+\d+\s+IN\s+A\s+{re.escape(ADDR)}\s*$',
            out.stdout, re.M) and 'status: NOERROR' in out.stdout
        if not ok:
            raise BenchError(f'{res.kind} does not answer {QNAME} A {ADDR} over {what} '
                             f'({" ".join(argv)}):\n{out.stdout}{out.stderr}')
        m = re.search(r'^;; TLS session (.*)$', out.stdout, re.M)
        if m and what == '+tls':
            res.tls_session = m.group(1).strip()
        m = re.search(r'^;; HTTP session (.*)$', out.stdout, re.M)
        if m and what == '+https':
            res.https_session = m.group(1).strip()


# ---------------------------------------------------------------- load

def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_dnsperf(dnsperf, res, row, opts, datafile):
    if row.startswith('dot-'):
        mode = ['-m', 'dot', '-p', str(res.ports['dot'])]
        clients = 8 if row == 'dot-reuse-c8' else 1
    else:
        method = 'GET' if row == 'doh-get-reuse' else 'POST'
        mode = ['-m', 'doh', '-p', str(res.ports['doh']),
                '-O', f'doh-uri=https://{HOST}:{res.ports["doh"]}/dns-query',
                '-O', f'doh-method={method}']
        clients = 1
    argv = ['taskset', '-c', CLIENT_CORE, dnsperf, '-s', HOST, *mode, '-d', str(datafile),
            '-c', str(clients), '-q', '100', '-t', '5', '-l', f"{opts['seconds']:g}"]
    out = subprocess.run(argv, capture_output=True, text=True,
                         timeout=opts['seconds'] + 30, stdin=subprocess.DEVNULL)
    text = out.stdout + out.stderr

    def grab(pattern, conv=int):
        m = re.search(pattern, text)
        return conv(m.group(1)) if m else None

    sent = grab(r'Queries sent:\s+(\d+)')
    completed = grab(r'Queries completed:\s+(\d+)')
    noerror = grab(r'Response codes:.*?NOERROR (\d+)') or 0
    runtime = grab(r'Run time \(s\):\s+([\d.]+)', float)
    if out.returncode != 0 or sent is None or completed is None or not runtime:
        raise BenchError(f'{res.kind} {row}: dnsperf failed ({out.returncode}): '
                         f'{" ".join(argv)}\n{text[-2000:]}')
    return dict(answered=noerror, errors=sent - noerror, seconds=runtime,
                argv=' '.join(argv[3:]))


def run_client(client, res, row, opts):
    proto = 'dot' if row.startswith('dot-') else 'doh'
    resume = '1' if row.endswith('-resume') else '0'
    argv = ['taskset', '-c', CLIENT_CORE, str(client), HOST, str(res.ports[proto]), proto,
            str(opts['workers']), f"{opts['seconds']:g}", str(opts['max_per_worker']),
            resume, QNAME.rstrip('.'), ADDR]
    out = subprocess.run(argv, capture_output=True, text=True,
                         timeout=opts['seconds'] + 40, stdin=subprocess.DEVNULL)
    m = re.search(r'ok=(\d+) errors=(\d+) resumed=(\d+) seconds=([\d.]+) '
                  r'failed_workers=(\d+) first_error=(.*)$', out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise BenchError(f'{res.kind} {row}: client failed ({out.returncode}): '
                         f'{" ".join(argv)}\n{out.stdout}{out.stderr}')
    r = dict(answered=int(m.group(1)), errors=int(m.group(2)), resumed=int(m.group(3)),
             seconds=float(m.group(4)), argv=' '.join(argv[3:]))
    if m.group(6).strip() != '-':
        r['first_error'] = m.group(6).strip()
    return r


def measure(row, res, tools, opts):
    if not res.alive():
        raise BenchError(f'{res.kind} is no longer running:\n{res.log_tail()}')
    cpu0, cli0, t0 = res.cpu_seconds(), children_cpu(), time.monotonic()
    if row.startswith(('dot-reuse', 'doh-get-reuse', 'doh-post-reuse')):
        r = run_dnsperf(tools['dnsperf'], res, row, opts, tools['datafile'])
    else:
        r = run_client(tools['client'], res, row, opts)
    wall = time.monotonic() - t0
    if not res.alive():
        raise BenchError(f'{res.kind} died during {row}:\n{res.log_tail()}')
    cpu = res.cpu_seconds() - cpu0
    cli = children_cpu() - cli0
    secs = r['seconds'] or wall
    r.update(qps=r['answered'] / secs, server_cpu_s=cpu, client_cpu_s=cli,
             server_cpu_pct=100 * cpu / secs, client_cpu_pct=100 * cli / secs,
             us_per_query=(1e6 * cpu / r['answered']) if r['answered'] else None)
    if 'resumed' in r:
        r['resumed_pct'] = 100 * r['resumed'] / r['answered'] if r['answered'] else 0.0
    return r


# ---------------------------------------------------------------- report

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(runs):
    keys = ('qps', 'us_per_query', 'server_cpu_pct', 'client_cpu_pct', 'answered',
            'errors', 'resumed', 'resumed_pct')
    out = {k: median([r.get(k) for r in runs]) for k in keys}
    out['runs'] = runs
    return out


def fmt(v, spec):
    return '-' if v is None else format(v, spec)


def print_table(result, file):
    head = (f"{'row':<16} {'ours qps':>9} {'KR qps':>9} {'ratio':>6} "
            f"{'ours us/q':>9} {'KR us/q':>8} {'srv% o/KR':>10} {'cli% o/KR':>10} "
            f"{'err o/KR':>9} {'resumed% o/KR':>13}")
    print(head, file=file)
    print('-' * len(head), file=file)
    for row in result['rows']:
        o, k = row['ours'], row['knot-resolver']
        new_conn = '-new-' in row['row']
        resumed = (f"{fmt(o['resumed_pct'], '.0f')}/{fmt(k['resumed_pct'], '.0f')}"
                   if new_conn else '')
        print(f"{row['row']:<16} {fmt(o['qps'], '9.0f')} {fmt(k['qps'], '9.0f')} "
              f"{fmt(row['ratio'], '6.2f')} {fmt(o['us_per_query'], '9.1f')} "
              f"{fmt(k['us_per_query'], '8.1f')} "
              f"{fmt(o['server_cpu_pct'], '.0f'):>4}/{fmt(k['server_cpu_pct'], '.0f'):<5} "
              f"{fmt(o['client_cpu_pct'], '.0f'):>4}/{fmt(k['client_cpu_pct'], '.0f'):<5} "
              f"{fmt(o['errors'], '.0f'):>4}/{fmt(k['errors'], '.0f'):<4} {resumed:>13}",
              file=file)


# ---------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(
        description='DoT and DoH queries per second, our kresd next to Knot Resolver 5.',
        epilog='See the module docstring (head of this file) for the rows and columns.')
    p.add_argument('--kresd', default=os.environ.get('KRESD_BIN') or str(REPO / 'build' / 'kresd'),
                   help='our kresd (default: $KRESD_BIN or build/kresd); KRESD_LUA_DIR '
                        'is passed through when set')
    p.add_argument('--knot', default='/usr/sbin/kresd',
                   help="Knot Resolver 5's kresd (default: /usr/sbin/kresd)")
    p.add_argument('--runs', type=int, default=3, help='repetitions, medians shown (default 3)')
    p.add_argument('--seconds', type=float, default=5.0,
                   help='length of each measurement (default 5)')
    p.add_argument('--workers', type=int, default=8,
                   help='client processes for the new-connection rows (default 8)')
    p.add_argument('--max-per-worker', type=int, default=200000,
                   help='new-connection rows: at most this many connections per worker')
    p.add_argument('--rows', default=','.join(ROWS),
                   help='comma-separated subset of: ' + ', '.join(ROWS))
    p.add_argument('--cert', choices=('ec', 'rsa'), default='ec',
                   help='ec: ECDSA P-256 (default); rsa: RSA 2048')
    p.add_argument('--smoke', action='store_true',
                   help='tiny counts (1 run, 0.3 s, 2 workers, 20 connections each)')
    p.add_argument('--json', action='store_true', help='JSON on stdout instead of the table')
    p.add_argument('--keep', action='store_true', help='keep the work directory')
    args = p.parse_args(argv)
    rows = [r.strip() for r in args.rows.split(',') if r.strip()]
    bad = [r for r in rows if r not in ROWS]
    if bad or not rows:
        p.error(f'unknown rows: {", ".join(bad) or "(none)"}')
    args.rows = rows
    if args.smoke:
        args.runs, args.seconds, args.workers, args.max_per_worker = 1, 0.3, 2, 20
    if args.runs < 1 or args.runs > 50:
        p.error('--runs must be 1..50')
    if not 0.1 <= args.seconds <= 600:
        p.error('--seconds must be 0.1..600')
    if not 1 <= args.workers <= 256:
        p.error('--workers must be 1..256')
    if args.max_per_worker < 1:
        p.error('--max-per-worker must be positive')
    return args


def find_tools(args):
    tools = {}
    missing = []
    for name in ('dnsperf', 'kdig', 'openssl', 'taskset', 'cc'):
        tools[name] = shutil.which(name)
        if not tools[name]:
            missing.append(name)
    for what, path in (('our kresd', args.kresd), ('Knot Resolver', args.knot)):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            missing.append(f'{what} ({path})')
    if missing:
        raise BenchError('missing: ' + ', '.join(missing))
    if (os.cpu_count() or 1) < 2:
        raise BenchError('needs at least 2 CPUs (resolver on core 1, load on core 0)')
    return tools


def make_cert(openssl, workdir, kind):
    key, cert = workdir / 'server.key', workdir / 'server.pem'
    newkey = (['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] if kind == 'ec'
              else ['-newkey', 'rsa:2048'])
    out = subprocess.run([openssl, 'req', '-x509', *newkey, '-nodes', '-keyout', str(key),
                          '-out', str(cert), '-days', '2', '-subj', '/CN=bench.invalid',
                          '-addext', f'subjectAltName=IP:{HOST}'],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise BenchError(f'openssl req failed:\n{out.stderr}')
    return cert, key


def build_client(cc, workdir):
    exe = workdir / 'tls_newconn_client'
    out = subprocess.run([cc, '-O2', '-o', str(exe), str(CLIENT_SRC), '-lssl', '-lcrypto'],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise BenchError(f'cannot compile {CLIENT_SRC} (needs OpenSSL headers, '
                         f'libssl-dev):\n{out.stderr}')
    return exe


def run(args):
    tools = find_tools(args)
    workdir = Path(tempfile.mkdtemp(prefix='tls_compare.'))
    resolvers = {}
    try:
        cert, key = make_cert(tools['openssl'], workdir, args.cert)
        tools['client'] = build_client(tools['cc'], workdir)
        tools['datafile'] = workdir / 'queries.txt'
        tools['datafile'].write_text(f'{QNAME} A\n')

        env_ours = dict(os.environ)
        env_knot = {k: v for k, v in os.environ.items() if k != 'KRESD_LUA_DIR'}
        for env in (env_ours, env_knot):
            env.pop('NOTIFY_SOCKET', None)
            env.pop('LISTEN_FDS', None)
            env.pop('LISTEN_PID', None)
        resolvers['ours'] = Resolver('ours', os.path.abspath(args.kresd), workdir,
                                     cert, key, env_ours)
        resolvers['knot-resolver'] = Resolver('knot-resolver', args.knot, workdir,
                                              cert, key, env_knot)
        for res in resolvers.values():
            res.start()
            kdig_check(res, tools['kdig'])
            say(f'{res.kind}: pid {res.proc.pid}, dns {res.ports["dns"]}, '
                f'dot {res.ports["dot"]}, doh {res.ports["doh"]}; '
                f'TLS {res.tls_session}; HTTP {res.https_session}')

        opts = dict(seconds=args.seconds, workers=args.workers,
                    max_per_worker=args.max_per_worker)
        per_row = {row: {k: [] for k in RESOLVERS} for row in args.rows}
        for i in range(args.runs):
            order = RESOLVERS if i % 2 == 0 else tuple(reversed(RESOLVERS))
            for row in args.rows:
                for kind in order:
                    r = measure(row, resolvers[kind], tools, opts)
                    per_row[row][kind].append(r)
                    say(f'run {i + 1}/{args.runs} {row:<15} {kind:<13} '
                        f'{r["qps"]:9.0f} qps  {fmt(r["us_per_query"], ".1f"):>7} us/q  '
                        f'srv {r["server_cpu_pct"]:3.0f}%  cli {r["client_cpu_pct"]:3.0f}%  '
                        f'err {r["errors"]}' +
                        (f'  resumed {r["resumed"]}' if 'resumed' in r else '') +
                        (f'  ({r["first_error"]})' if 'first_error' in r else ''))

        rows = []
        for row in args.rows:
            o = summarize(per_row[row]['ours'])
            k = summarize(per_row[row]['knot-resolver'])
            ratio = o['qps'] / k['qps'] if o['qps'] and k['qps'] else None
            rows.append({'row': row, 'description': ROWS[row], 'ours': o,
                         'knot-resolver': k, 'ratio': ratio})
        result = dict(
            source_tree=git_describe(), kresd=os.path.abspath(args.kresd), knot=args.knot,
            certificate='ECDSA P-256' if args.cert == 'ec' else 'RSA 2048',
            runs=args.runs, seconds=args.seconds, workers=args.workers, smoke=args.smoke,
            server_core=SERVER_CORE, client_core=CLIENT_CORE, query=f'{QNAME} A',
            tls={k: r.tls_session for k, r in resolvers.items()},
            http={k: r.https_session for k, r in resolvers.items()},
            rows=rows)
        empty = [f"{row['row']} ({kind})" for row in rows for kind in RESOLVERS
                 if not all(r['answered'] > 0 for r in row[kind]['runs'])]
        return result, empty
    finally:
        for res in resolvers.values():
            res.stop()
        if args.keep:
            say(f'work directory kept: {workdir}')
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv=None):
    args = parse_args(argv)
    try:
        result, empty = run(args)
    except BenchError as e:
        say(f'error: {e}')
        return 1
    except subprocess.TimeoutExpired as e:
        say(f'error: timed out: {e}')
        return 1
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print(f"# {result['runs']} run(s) x {result['seconds']:g} s, medians; "
              f"certificate {result['certificate']}; resolver on core {SERVER_CORE}, "
              f"load on core {CLIENT_CORE}; new-connection workers: {result['workers']}")
        for kind in RESOLVERS:
            print(f"# {kind}: TLS {result['tls'][kind]}; HTTP {result['http'][kind]}")
        print(f"# ours: {result['kresd']} (source tree {result['source_tree']}); "
              f"Knot Resolver: {result['knot']}")
        print_table(result, sys.stdout)
    if empty:
        say('error: no answers in: ' + ', '.join(empty))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
