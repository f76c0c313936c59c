#!/usr/bin/python3
"""Rolling restart under load: how many queries does a restart lose?

Starts N (default 4) resolver instances on one 127.0.0.1 port, sends them a
steady stream of queries with dnsperf at a fixed rate, and meanwhile restarts
the instances one at a time (SIGTERM, wait for the exit, start again, wait
until it serves, pause).  Reports, per set-up, the queries dnsperf sent,
completed and lost.

Set-ups (--setups, comma separated; default all three):

  activation     our kresd; a small supervisor (this script) binds UDP and
                 TCP once and passes the same two sockets to every instance
                 by the sd_listen_fds protocol (fds 3 and 4, LISTEN_FDS=2,
                 LISTEN_FDNAMES=dns:dns, LISTEN_PID = the instance's PID).
                 This is what systemd socket units (kresd.socket) do.
  reuseport      our kresd; every instance binds its own SO_REUSEPORT
                 sockets with net.listen(); all instances share ONE rundir,
                 so they are siblings (as kresd@N under systemd are).
  knot-resolver  Debian's Knot Resolver 5 (/usr/sbin/kresd, --knot), four
                 processes with net.listen() on the same port, one shared
                 rundir (as Debian's kresd@N share /var/lib/knot-resolver);
                 the reference.

Readiness: an instance counts as started when it sends READY=1 to its
NOTIFY_SOCKET (both our kresd and Knot Resolver 5 do, after the config has
run and the sockets are bound); a start that neither notifies nor exits
within --start-timeout is an error, not a hang.  For Knot Resolver, a
binary that never notifies can be handled with --knot-ready=control
(a probe on its control socket) or --knot-ready=sleep (a fixed 0.5 s).

Options that change the scenario: --tcp-clients N keeps N TCP connections
open to the port as well (an instance that stops with open connections
finishes them first, for up to 0.2 s); --rcvbuf BYTES sets the receive
buffer of the activation set-up's shared UDP socket (like ReceiveBuffer= in
a socket unit); --no-restart runs the load alone, as a control.  Beside
dnsperf's figures, each result has the growth of the kernel's UDP
RcvbufErrors counter during the run (host-wide): datagrams dropped because
a receive buffer was full, as opposed to those freed with a closing socket,
which no counter shows.

Everything is bounded: every wait has a timeout, dnsperf is killed if it
overruns, and every process this script started is killed by PID on the
way out.  Only 127.0.0.1 is used.

Examples:
    tests/bench/rolling_restart.py
    tests/bench/rolling_restart.py --setups activation,reuseport --rate 3000 -l 8
    tests/bench/rolling_restart.py --tcp-clients 32
    tests/bench/rolling_restart.py --json > result.json

Exit status: 0 when every set-up ran (whatever it lost), 1 on an error (an
instance that did not start or stop, dnsperf missing or failing), 2 on bad
arguments.  --fail-on-loss makes any lost query exit 3.

Stdlib only; also imported by tests/integration/test_rolling_restart.py.
"""

import argparse
import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchutil
from benchutil import git_describe

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

SETUPS = ('activation', 'reuseport', 'knot-resolver')
HOST = '127.0.0.1'   # never anything else

DEFAULTS = dict(
    instances=4,
    rate=10000,        # queries per second, fixed (dnsperf -Q)
    duration=12.0,     # dnsperf -l
    timeout=3.0,       # dnsperf -t: a query unanswered for this long is lost
    clients=16,        # dnsperf -c: source sockets (SO_REUSEPORT hashes on them)
    warmup=1.0,        # load before the first restart
    pause=1.5,         # after an instance is ready again, before the next
    start_timeout=20.0,
    stop_timeout=15.0,
)

QUERIES = ('localhost. A\n'
           '1.0.0.127.in-addr.arpa. PTR\n')

# Our kresd in the activation set-up: refuse to run without the two passed
# sockets, instead of falling back to the default 127.0.0.1@53.
ACTIVATION_CONFIG = """\
local inherited = 0
for _, ep in ipairs(net.list()) do
    if ep.inherited and ep.kind == 'dns' then inherited = inherited + 1 end
end
if inherited ~= 2 then
    error('rolling_restart: expected 2 inherited dns sockets, got ' .. inherited)
end
"""

REUSEPORT_CONFIG = "net.listen('{host}', {port}, {{ kind = 'dns' }})\n"

# Knot Resolver primes the root and refreshes trust anchors on its own at
# start: point its root hints at an unused loopback address and drop the
# anchor, so the reference never sends a packet off this machine.
KNOT_CONFIG = """\
modules.load('hints > iterate')
hints.root({{['no-root.invalid.'] = '127.0.0.9'}})
trust_anchors.remove('.')
net.listen('{host}', {port}, {{ kind = 'dns' }})
cache.size = 10 * MB
"""

# Run in place of the instance: moves the inherited sockets to fds 3, 4, ...,
# sets LISTEN_* with LISTEN_PID = its own PID, and execs the instance in the
# same process (so that LISTEN_PID is the instance's PID).  Doing this in a
# separate program, not in a preexec_fn, keeps all fd shuffling out of a
# forked copy of this script.
#   python3 -c FDEXEC SRC:NAME ... -- PROGRAM ARGS...
FDEXEC = r"""
import fcntl, os, sys
args = sys.argv[1:]
cut = args.index('--')
specs, command = args[:cut], args[cut + 1:]
srcs = [int(s.split(':', 1)[0]) for s in specs]
names = [s.split(':', 1)[1] for s in specs]
parked = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in srcs]
for fd in srcs:
    os.close(fd)
for i, fd in enumerate(parked):
    os.dup2(fd, 3 + i, inheritable=True)
    os.close(fd)
env = dict(os.environ)
env['LISTEN_FDS'] = str(len(srcs))
env['LISTEN_FDNAMES'] = ':'.join(names)
env['LISTEN_PID'] = str(os.getpid())
os.execve(command[0], command, env)
"""

ENV_SCRUB = ('SYSTEMD_INSTANCE', 'NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID',
             'LISTEN_FDNAMES', 'WATCHDOG_USEC', 'WATCHDOG_PID')


class BenchError(Exception):
    """A set-up could not be run as intended (not a measured loss)."""


class OverallTimeout(Exception):
    """The whole run took longer than its hard limit."""


def log(msg):
    print(f'[{time.strftime("%H:%M:%S")}] {msg}', file=sys.stderr, flush=True)


# ---------------------------------------------------------------- helpers

def free_port():
    """A 127.0.0.1 port that is free for both UDP and TCP right now."""
    try:
        return benchutil.free_port(HOST)
    except RuntimeError as e:
        raise BenchError(str(e)) from None
def tail(path, lines=30):
    try:
        text = Path(path).read_text(errors='replace')
    except OSError:
        return ''
    return '\n'.join(text.splitlines()[-lines:])


def dns_probe(port, timeout=1.0):
    """One `localhost. A` query over UDP; True when any answer came back."""
    query = (b'\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00'
             b'\x09localhost\x00\x00\x01\x00\x01')
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(query, (HOST, port))
            reply = s.recv(4096)
        except OSError:
            return False
    return reply[:2] == b'\x12\x34'


class NotifySocket:
    """A unix datagram socket playing systemd's NOTIFY_SOCKET for one start."""

    def __init__(self, path):
        self.path = str(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def wait_ready(self, proc, timeout):
        """True once a datagram with the line READY=1 arrives; False when
        proc exits first or after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.sock], [], [], min(left, 0.05))
            if r:
                msg = self.sock.recv(65536).decode('utf-8', 'replace')
                if 'READY=1' in msg.splitlines():
                    return True
                continue
            if proc.poll() is not None:
                # whatever it sent before exiting
                r, _, _ = select.select([self.sock], [], [], 0)
                if r and 'READY=1' in self.sock.recv(65536).decode('utf-8', 'replace').splitlines():
                    return True
                return False

    def close(self):
        self.sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def udp_counters():
    """The kernel's UDP counters (/proc/net/snmp, this network namespace):
    RcvbufErrors counts datagrams dropped because a socket's receive buffer
    was full.  Datagrams freed with a closing socket are counted nowhere."""
    try:
        with open('/proc/net/snmp') as f:
            rows = [line.split() for line in f if line.startswith('Udp:')]
        return {k: int(v) for k, v in zip(rows[0][1:], rows[1][1:])}
    except (OSError, IndexError, ValueError):
        return {}


def counter_delta(before, after):
    return {k: after[k] - before[k] for k in ('InErrors', 'RcvbufErrors', 'NoPorts')
            if k in before and k in after}


def set_rcvbuf(sock, size):
    """SO_RCVBUF, beyond net.core.rmem_max when allowed (SO_RCVBUFFORCE
    needs CAP_NET_ADMIN), as systemd does for ReceiveBuffer=."""
    force = getattr(socket, 'SO_RCVBUFFORCE', 33)
    try:
        sock.setsockopt(socket.SOL_SOCKET, force, size)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


class TcpClients:
    """N TCP connections to the port, held open like those of real clients
    (an instance that stops with connections open finishes them first).
    refresh() sends one query on each and reconnects those that the server
    closed (because their instance stopped), which also keeps them from
    reaching the server's idle timeout."""

    QUERY = (b'\x00\x1b\x56\x78\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00'
             b'\x09localhost\x00\x00\x01\x00\x01')

    def __init__(self, port, n, timeout=2.0):
        self.port, self.n, self.timeout = port, n, timeout
        self.socks = []
        self.reconnects = 0
        self.failures = 0

    def _connect(self):
        s = socket.create_connection((HOST, self.port), timeout=self.timeout)
        s.settimeout(self.timeout)
        return s

    def _ask(self, s):
        s.sendall(self.QUERY)
        buf = b''
        while len(buf) < 2 or len(buf) < 2 + int.from_bytes(buf[:2], 'big'):
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionError('closed')
            buf += chunk

    def open(self):
        self.socks = [self._connect() for _ in range(self.n)]

    def refresh(self):
        for i, s in enumerate(self.socks):
            try:
                self._ask(s)
                continue
            except OSError:
                s.close()
            self.reconnects += 1
            try:
                self.socks[i] = self._connect()
                self._ask(self.socks[i])
            except OSError:
                self.failures += 1

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


# ---------------------------------------------------------------- processes

class Instance:
    """One resolver process, restartable.  Knows how to start itself and
    tell when it serves; every process it starts goes into `registry` so the
    caller can kill leftovers by PID."""

    def __init__(self, name, argv, *, env, cwd, workdir, registry, pass_fds=(),
                 ready='notify', port=None, control_dir=None):
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.cwd = str(cwd)
        self.workdir = Path(workdir)
        self.registry = registry
        self.pass_fds = tuple(pass_fds)
        self.ready = ready           # 'notify', 'control' or 'sleep'
        self.port = port
        self.control_dir = control_dir
        self.proc = None
        self.notify = None
        self.generation = 0
        self.log_path = None
        self.exit_codes = []

    def shown_argv(self):
        """The command line for messages, without the FDEXEC program text."""
        return ' '.join('<fdexec>' if a == FDEXEC else a for a in self.argv)

    def start(self, timeout):
        """Start and wait until it serves; returns the seconds it took."""
        self.generation += 1
        self.log_path = self.workdir / f'{self.name}.{self.generation}.log'
        env = dict(self.env)
        if self.ready == 'notify':
            self.notify = NotifySocket(self.workdir / f'n-{self.name}')
            env['NOTIFY_SOCKET'] = self.notify.path
        t0 = time.monotonic()
        try:
            with open(self.log_path, 'wb') as out:
                self.proc = subprocess.Popen(self.argv, env=env, cwd=self.cwd,
                                             stdin=subprocess.DEVNULL, stdout=out,
                                             stderr=subprocess.STDOUT, pass_fds=self.pass_fds)
        except OSError as e:
            if self.notify is not None:
                self.notify.close()
                self.notify = None
            raise BenchError(f'cannot start instance {self.name}: {e}\nargv: {self.shown_argv()}') from None
        self.registry.append(self.proc)
        try:
            ok = self._wait_ready(timeout)
        finally:
            if self.notify is not None:
                self.notify.close()
                self.notify = None
        if not ok:
            rc = self.proc.poll()
            state = f'exited with {rc}' if rc is not None else f'no sign of readiness after {timeout:g}s'
            raise BenchError(f'instance {self.name} did not start ({state})\n'
                             f'argv: {self.shown_argv()}\nlog {self.log_path}:\n{tail(self.log_path)}')
        return time.monotonic() - t0

    def _wait_ready(self, timeout):
        if self.ready == 'notify':
            return self.notify.wait_ready(self.proc, timeout)
        if self.ready == 'sleep':
            time.sleep(0.5)
            return self.proc.poll() is None
        # 'control': Knot Resolver 5 serves its control socket (control/PID)
        # only once the event loop runs, i.e. after the config has bound the
        # listeners; a reply to a probe means it serves.
        deadline = time.monotonic() + timeout
        path = Path(self.control_dir) / str(self.proc.pid)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if path.exists():
                with contextlib.suppress(OSError), \
                     socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(max(0.1, min(1.0, deadline - time.monotonic())))
                    s.connect(str(path))
                    s.sendall(b'1+1\n')
                    if b'2' in s.recv(4096):
                        return True
            time.sleep(0.02)
        return False

    def stop(self, timeout):
        """SIGTERM and wait for the exit; returns the seconds it took."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f'instance {self.name} (pid {self.proc.pid}) did not exit '
                             f'within {timeout:g}s of SIGTERM\n{tail(self.log_path)}') from None
        self.exit_codes.append(rc)
        return time.monotonic() - t0

    def running(self):
        return self.proc is not None and self.proc.poll() is None


def kill_all(procs):
    """SIGKILL (by PID) every process we started that still runs; reap them."""
    for p in procs:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(5)


# ---------------------------------------------------------------- dnsperf

DNSPERF_FIELDS = {
    'sent': r'Queries sent:\s+(\d+)',
    'completed': r'Queries completed:\s+(\d+)',
    'lost': r'Queries lost:\s+(\d+)',
    'qps': r'Queries per second:\s+([\d.]+)',
}


def dnsperf_argv(dnsperf, port, datafile, opts):
    # Enough outstanding slots that lost queries (which hold theirs until the
    # timeout) never throttle the sending rate, and so never hide losses.
    outstanding = int(min(65535, max(100, opts['rate'] * opts['timeout'] * 1.5)))
    return [dnsperf, '-s', HOST, '-p', str(port), '-d', str(datafile),
            '-Q', str(opts['rate']), '-l', f"{opts['duration']:g}",
            '-t', f"{opts['timeout']:g}", '-c', str(opts['clients']),
            '-q', str(outstanding)]


def parse_dnsperf(text):
    out = {}
    for key, rx in DNSPERF_FIELDS.items():
        m = re.search(rx, text)
        if m is None:
            raise BenchError(f'dnsperf output has no {key!r}:\n{text[-3000:]}')
        out[key] = float(m.group(1)) if key == 'qps' else int(m.group(1))
    m = re.search(r'Response codes:\s+(.*)', text)
    out['rcodes'] = m.group(1).strip() if m else ''
    return out


# ---------------------------------------------------------------- set-ups

def make_instances(setup, *, kresd, knot, port, workdir, n, registry, listen_socks,
                   knot_ready, extra_args=()):
    """The N Instance objects of one set-up (not started)."""
    rundir = workdir / 'rundir'
    rundir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ENV_SCRUB}
    instances = []
    if setup == 'activation':
        (rundir / 'config.lua').write_text(ACTIVATION_CONFIG)
        udp, tcp = listen_socks
        prefix = [sys.executable, '-I', '-c', FDEXEC,
                  f'{udp.fileno()}:dns', f'{tcp.fileno()}:dns', '--']
        for i in range(1, n + 1):
            argv = prefix + [kresd, '-n', '--instance', f'a{i}', '-c', 'config.lua',
                             *extra_args, str(rundir)]
            instances.append(Instance(f'a{i}', argv, env=env, cwd=rundir, workdir=workdir,
                                      registry=registry, port=port,
                                      pass_fds=(udp.fileno(), tcp.fileno())))
    elif setup == 'reuseport':
        (rundir / 'config.lua').write_text(REUSEPORT_CONFIG.format(host=HOST, port=port))
        for i in range(1, n + 1):
            argv = [kresd, '-n', '--instance', f'r{i}', '-c', 'config.lua', *extra_args,
                    str(rundir)]
            instances.append(Instance(f'r{i}', argv, env=env, cwd=rundir, workdir=workdir,
                                      registry=registry, port=port))
    elif setup == 'knot-resolver':
        (rundir / 'config').write_text(KNOT_CONFIG.format(host=HOST, port=port))
        for i in range(1, n + 1):
            kenv = dict(env, SYSTEMD_INSTANCE=f'k{i}')
            argv = [knot, '-n', '-c', 'config', str(rundir)]
            instances.append(Instance(f'k{i}', argv, env=kenv, cwd=rundir, workdir=workdir,
                                      registry=registry, port=port, ready=knot_ready,
                                      control_dir=rundir / 'control'))
    else:
        raise ValueError(setup)
    return instances


def run_setup(setup, opts, *, kresd, knot, dnsperf, keep=False):
    """Run one set-up; returns a result dict (raises BenchError when the
    set-up itself fails)."""
    n = opts['instances']
    kresd = os.path.abspath(kresd)   # the instances run in their rundir
    knot = os.path.abspath(knot)
    workdir = Path(tempfile.mkdtemp(prefix='krr-', dir='/tmp'))  # short: unix socket paths
    registry = []      # every Popen we start, killed by PID in finally
    listen_socks = []
    restarts = []
    dnsperf_proc = None
    tcp_clients = None
    try:
        if setup == 'activation':
            rcvbuf = opts.get('rcvbuf')
            udp, tcp, port = benchutil.bound_pair(
                HOST, prepare_udp=(lambda s: set_rcvbuf(s, rcvbuf)) if rcvbuf else None)
            listen_socks = [udp, tcp]
            tcp.listen(128)
        else:
            port = free_port()

        instances = make_instances(setup, kresd=kresd, knot=knot, port=port, workdir=workdir,
                                   n=n, registry=registry, listen_socks=listen_socks,
                                   knot_ready=opts.get('knot_ready', 'notify'),
                                   extra_args=opts.get('kresd_args', ()))
        for inst in instances:
            inst.start(opts['start_timeout'])
        deadline = time.monotonic() + opts['start_timeout']
        while not dns_probe(port):
            if time.monotonic() > deadline:
                raise BenchError(f'{setup}: nobody answers on {HOST}@{port}')
        log(f'{setup}: {n} instances serve {HOST}@{port}')
        if opts.get('tcp_clients'):
            tcp_clients = TcpClients(port, opts['tcp_clients'])
            tcp_clients.open()

        datafile = workdir / 'queries.txt'
        datafile.write_text(QUERIES)
        argv = dnsperf_argv(dnsperf, port, datafile, opts)
        perf_out = workdir / 'dnsperf.out'
        counters_before = udp_counters()
        with open(perf_out, 'wb') as out:
            dnsperf_proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT)
        registry.append(dnsperf_proc)
        t_load = time.monotonic()
        load_end = t_load + opts['duration']
        time.sleep(opts['warmup'])

        for i, inst in enumerate(instances if opts.get('restart', True) else ()):
            if dnsperf_proc.poll() is not None:
                raise BenchError(f'{setup}: dnsperf ended early:\n{tail(perf_out)}')
            if tcp_clients:
                tcp_clients.refresh()
            t0 = time.monotonic() - t_load
            stop_s = inst.stop(opts['stop_timeout'])
            start_s = inst.start(opts['start_timeout'])
            restarts.append(dict(instance=inst.name, at=round(t0, 3), stop_s=round(stop_s, 3),
                                 start_s=round(start_s, 3),
                                 exit_code=inst.exit_codes[-1],
                                 done_under_load=time.monotonic() < load_end))
            log(f'{setup}: restarted {inst.name} at {t0:.2f}s (stop {stop_s:.3f}s, '
                f'start {start_s:.3f}s, exit code {inst.exit_codes[-1]})')
            if i + 1 < len(instances):
                time.sleep(opts['pause'])

        try:
            dnsperf_proc.wait(max(0.0, load_end - time.monotonic()) + opts['timeout'] + 20)
        except subprocess.TimeoutExpired:
            raise BenchError(f'{setup}: dnsperf did not finish in time:\n{tail(perf_out)}') from None
        text = perf_out.read_text(errors='replace')
        if dnsperf_proc.returncode != 0:
            raise BenchError(f'{setup}: dnsperf exited with {dnsperf_proc.returncode}:\n{text[-3000:]}')
        stats = parse_dnsperf(text)
        kernel = counter_delta(counters_before, udp_counters())

        # Everyone still serves, and stops cleanly.
        dead = [inst.name for inst in instances if not inst.running()]
        if dead:
            raise BenchError(f'{setup}: instances died during the run: {dead}')
        for inst in instances:
            inst.stop(opts['stop_timeout'])

        sent = stats['sent']
        result = dict(
            setup=setup, port=port, instances=n, rate=opts['rate'],
            duration=opts['duration'], clients=opts['clients'], timeout=opts['timeout'],
            sent=sent, completed=stats['completed'], lost=stats['lost'],
            lost_pct=round(100.0 * stats['lost'] / sent, 4) if sent else 0.0,
            qps=stats['qps'], rcodes=stats['rcodes'], tcp_clients=opts.get('tcp_clients', 0),
            restarted=bool(opts.get('restart', True)),
            loadavg=os.getloadavg(),
            # host-wide during the run; other UDP traffic on the host counts too
            kernel_udp=kernel,
            tcp_reconnects=tcp_clients.reconnects if tcp_clients else 0,
            tcp_failures=tcp_clients.failures if tcp_clients else 0,
            restarts=restarts,
            all_restarts_under_load=all(r['done_under_load'] for r in restarts),
            exit_codes={inst.name: inst.exit_codes for inst in instances},
            binary=knot if setup == 'knot-resolver' else kresd,
            dnsperf_argv=argv,
        )
        if keep:
            result['workdir'] = str(workdir)
        return result
    finally:
        if tcp_clients:
            tcp_clients.close()
        kill_all(registry)
        for s in listen_socks:
            s.close()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------- reporting

def table(results):
    head = ('set-up', 'sent', 'completed', 'lost', 'lost %', 'rcvbuf drops')
    rows = [(r['setup'], str(r['sent']), str(r['completed']), str(r['lost']),
             f"{r['lost_pct']:.3f}", str(r['kernel_udp'].get('RcvbufErrors', '?')))
            if 'error' not in r
            else (r['setup'], '-', '-', '-', 'error', '-') for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    line = '  '.join('=' * w for w in widths)
    fmt = lambda row: '  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                                for i, (c, w) in enumerate(zip(row, widths)))
    return '\n'.join([line, fmt(head), line, *(fmt(r) for r in rows), line])


def parse_args(argv):
    p = argparse.ArgumentParser(
        description='Lost queries during a rolling restart of several instances on one port.',
        epilog='Set-ups: ' + ', '.join(SETUPS) + '. See the module docstring for details.')
    p.add_argument('--setups', default=','.join(SETUPS),
                   help='comma-separated set-ups to run (default: all)')
    p.add_argument('--kresd', default=str(REPO / 'build' / 'kresd'),
                   help='our kresd binary (default: build/kresd)')
    p.add_argument('--kresd-arg', dest='kresd_args', action='append', default=[],
                   metavar='ARG', help='extra argument for our kresd (repeatable; e.g. -v)')
    p.add_argument('--knot', default='/usr/sbin/kresd',
                   help="Knot Resolver 5's kresd (default: /usr/sbin/kresd)")
    p.add_argument('--knot-ready', choices=('notify', 'control', 'sleep'), default='notify',
                   help='how to tell that Knot Resolver serves: READY=1 (default), a '
                        'probe on its control socket, or a fixed 0.5 s')
    p.add_argument('--dnsperf', default=shutil.which('dnsperf') or 'dnsperf')
    p.add_argument('-n', '--instances', type=int, default=DEFAULTS['instances'])
    p.add_argument('-Q', '--rate', type=int, default=DEFAULTS['rate'],
                   help='queries per second (default %(default)s)')
    p.add_argument('-l', '--duration', type=float, default=DEFAULTS['duration'],
                   help='seconds of load (default %(default)s)')
    p.add_argument('-t', '--timeout', type=float, default=DEFAULTS['timeout'],
                   help='dnsperf query timeout: unanswered this long = lost (default %(default)s)')
    p.add_argument('-c', '--clients', type=int, default=DEFAULTS['clients'],
                   help='dnsperf source sockets (default %(default)s)')
    p.add_argument('--warmup', type=float, default=DEFAULTS['warmup'])
    p.add_argument('--pause', type=float, default=DEFAULTS['pause'],
                   help='seconds between one instance ready and the next restart')
    p.add_argument('--start-timeout', type=float, default=DEFAULTS['start_timeout'])
    p.add_argument('--stop-timeout', type=float, default=DEFAULTS['stop_timeout'])
    p.add_argument('--tcp-clients', type=int, default=0, metavar='N',
                   help='also keep N TCP connections open to the port (reconnected '
                        'and used once before every restart), as real clients do; '
                        'a stopping instance then has connections to finish')
    p.add_argument('--rcvbuf', type=int, default=0, metavar='BYTES',
                   help="SO_RCVBUF of the activation set-up's shared UDP socket, like "
                        "systemd's ReceiveBuffer= (default: the kernel's)")
    p.add_argument('--no-restart', dest='restart', action='store_false',
                   help='only the load, no restarts (a control run)')
    p.add_argument('--json', action='store_true', help='print the results as JSON')
    p.add_argument('--keep', action='store_true', help='keep the work directories (logs)')
    p.add_argument('--fail-on-loss', action='store_true', help='exit 3 when any query was lost')
    args = p.parse_args(argv)
    args.setups = [s.strip() for s in args.setups.split(',') if s.strip()]
    for s in args.setups:
        if s not in SETUPS:
            p.error(f'unknown set-up {s!r} (choose from {", ".join(SETUPS)})')
    if args.instances < 1 or args.rate < 1 or args.duration <= 0 or args.clients < 1:
        p.error('instances, rate, duration and clients must be positive')
    return args


def options(args):
    return dict(instances=args.instances, rate=args.rate, duration=args.duration,
                timeout=args.timeout, clients=args.clients, warmup=args.warmup,
                pause=args.pause, start_timeout=args.start_timeout,
                stop_timeout=args.stop_timeout, knot_ready=args.knot_ready,
                restart=args.restart, kresd_args=args.kresd_args, tcp_clients=args.tcp_clients,
                rcvbuf=args.rcvbuf)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # The instances run with their rundir as the working directory.
    args.kresd = os.path.abspath(args.kresd)
    args.knot = os.path.abspath(args.knot)
    if not shutil.which(args.dnsperf):
        print(f'rolling_restart: dnsperf not found ({args.dnsperf}); apt-get install dnsperf',
              file=sys.stderr)
        return 1
    ours = [s for s in args.setups if s != 'knot-resolver']
    if ours and not (os.path.isfile(args.kresd) and os.access(args.kresd, os.X_OK)):
        print(f'rolling_restart: kresd binary not found: {args.kresd}', file=sys.stderr)
        return 1
    if 'knot-resolver' in args.setups and not os.access(args.knot, os.X_OK):
        print(f'rolling_restart: Knot Resolver not found: {args.knot}', file=sys.stderr)
        return 1

    opts = options(args)
    # A hard stop for the whole run: every set-up is bounded on its own, this
    # only guards against a bug in the bounds.
    per_setup = (opts['start_timeout'] * (2 * opts['instances'] + 1) + opts['duration']
                 + opts['stop_timeout'] * 2 * opts['instances'] + opts['timeout'] + 60)

    def on_alarm(signum, frame):
        raise OverallTimeout(f'overall time limit reached; set-ups done: {len(results)}')

    results = []
    failed = False
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(per_setup * len(args.setups)) + 1)
    try:
        for setup in args.setups:
            log(f'{setup}: {opts["instances"]} instances, {opts["rate"]} qps for '
                f'{opts["duration"]:g}s' + (', restarting each in turn' if opts['restart'] else ''))
            try:
                results.append(run_setup(setup, opts, kresd=args.kresd, knot=args.knot,
                                         dnsperf=args.dnsperf, keep=args.keep))
            except (BenchError, OSError) as e:
                failed = True
                log(f'{setup}: ERROR: {e}')
                results.append(dict(setup=setup, error=str(e)))
    except OverallTimeout as e:
        log(f'ERROR: {e}')
        return 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)

    if args.json:
        print(json.dumps(dict(source_tree=git_describe(), kresd=args.kresd, knot=args.knot,
                                    dnsperf=args.dnsperf, options=opts, results=results), indent=2))
    else:
        what = 'no restarts' if not opts['restart'] else 'each restarted in turn'
        if opts['tcp_clients']:
            what += f', {opts["tcp_clients"]} TCP clients connected'
        print(f'{opts["instances"]} instances, {opts["rate"]} qps for {opts["duration"]:g}s, '
              f'{what}; kresd {args.kresd} (source tree at {git_describe()})')
        print(table(results))
    if failed:
        return 1
    if args.fail_on_loss and any(r.get('lost') for r in results):
        return 3
    return 0


if __name__ == '__main__':
    sys.exit(main())
