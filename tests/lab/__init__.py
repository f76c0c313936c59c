"""A local authoritative DNS hierarchy for resolver tests and benchmarks.

    from lab import Lab
    with Lab() as lab:                      # starts every server, waits for answers
        lab.root_hints()                    # {'a.root-servers.lab.': '127.53.0.1', ...}
        lab.hints_root_lua()                # "hints.root({...})" for a kresd config
        lab.addresses['example']            # '127.53.3.1'
        with lab.offline():                 # every authoritative server stopped
            ...
    # everything stopped, temp dir removed

Each zone is served by its own Knot DNS (``knotd``) process on its own
127.x address, port 53, in the foreground (a child of ours, killed by its
PID); a few addresses are served by scripted misbehaving servers
(``scripted.py``: never answers, REFUSED, TC=1 over UDP).  The layout is in
``zones.py``.

Port 53 needs root (or CAP_NET_BIND_SERVICE): ``Lab.start()`` raises
``LabUnavailable`` with the reason when it cannot run here (not root, knotd
missing, every candidate address range busy); tests turn that into a skip.

The address prefix is the first free one of 127.53, 127.54, ... 127.62 (so
two labs on one machine do not collide), or ``KRESD_LAB_PREFIX`` / the
``prefix`` argument.  Loopback only; everything is bounded in time.

Stdlib + dnspython.  Also: ``query()`` for one bounded query and ``storm()``
for many distinct names with a bounded window of queries in flight.
"""

import collections
import contextlib
import ctypes
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

from . import zones as _zones
from .zones import (BULK_COUNT, FEATURE_QUERIES, NXNS_COUNT, ROOT_SERVER_NAMES,  # noqa: F401
                    bulk_address, bulk_name)

__all__ = ['BULK_COUNT', 'FEATURE_QUERIES', 'NXNS_COUNT', 'ROOT_SERVER_NAMES', 'bulk_address',
           'bulk_name', 'Lab', 'LabUnavailable', 'LabError', 'check_available', 'query',
           'answer_addresses', 'storm', 'spawn', 'terminate']

HERE = Path(__file__).resolve().parent
KNOTD = os.environ.get('KNOTD_BIN') or shutil.which('knotd') or '/usr/sbin/knotd'
PYTHON = sys.executable or '/usr/bin/python3'
PREFIX_CANDIDATES = [f'127.{n}' for n in range(53, 63)]

START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


class LabUnavailable(Exception):
    """The lab cannot run on this machine; the message says why."""


class LabError(Exception):
    """The lab failed to start or a server misbehaved unexpectedly."""


# ------------------------------------------------------------ processes

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when our (main) thread exits, so a
    crashed test run leaves no knotd behind."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def spawn(argv, *, log_path, cwd=None, env=None, stdout=None):
    """Start one child process (not daemonised) with stdout/stderr in
    log_path (stdout may be subprocess.PIPE)."""
    with open(log_path, 'ab') as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=log if stdout is None else stdout, stderr=log,
                                cwd=cwd, env=env, preexec_fn=_die_with_parent)


def terminate(proc, timeout=STOP_TIMEOUT, sig=signal.SIGTERM):
    """Stop one process that we started, by its PID: sig, then SIGKILL."""
    if proc is None:
        return None
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
    for f in (proc.stdout, proc.stderr):
        if f:
            f.close()
    return proc.returncode


def _bindable(address, port=53):
    socks = []
    try:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_INET, kind)
            socks.append(s)
            if kind == socket.SOCK_STREAM:   # as servers do: TIME_WAIT is no conflict
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((address, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def choose_prefix(preferred=None):
    """The first address prefix whose lab addresses are all free on port 53."""
    candidates = [preferred] if preferred else PREFIX_CANDIDATES
    busy = []
    for prefix in candidates:
        if all(_bindable(s.address) for s in _zones.servers(prefix)):
            return prefix
        busy.append(prefix)
    raise LabUnavailable(f'port 53 is busy on every candidate lab prefix ({", ".join(busy)}); '
                         f'set KRESD_LAB_PREFIX to a free 127.N prefix')


def check_available():
    """Raise LabUnavailable when the lab cannot run here."""
    if os.geteuid() != 0:
        raise LabUnavailable('the lab binds 127.x addresses on port 53: needs root')
    if not (os.path.isfile(KNOTD) and os.access(KNOTD, os.X_OK)):
        raise LabUnavailable(f'knotd not found ({KNOTD}): install the Debian package "knot"')


# ------------------------------------------------------------ DNS helpers

def query(name, rdtype='A', server='127.0.0.1', port=53, *, timeout=2.0, tcp=False,
          rd=True, payload=1232, id_=None):
    """One query; returns the dns.message response (raises
    dns.exception.Timeout after timeout seconds)."""
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=payload)
    if id_ is not None:
        q.id = id_
    if not rd:
        q.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(q, server, port=port, timeout=timeout)
    return dns.query.udp(q, server, port=port, timeout=timeout, ignore_trailing=True)


def answer_addresses(response, rdtype='A'):
    """Sorted text of the final rdtype records in the answer section."""
    want = dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) else rdtype
    return sorted(rd.to_text() for rrset in response.answer if rrset.rdtype == want
                  for rd in rrset)


def storm(names, server, port, *, rdtype='A', window=100, timeout=4.0, deadline=120.0,
          stop=None, stats=None):
    """Send one UDP query per name with at most `window` in flight; a query
    unanswered after `timeout` seconds counts as lost.  Stops at `deadline`
    seconds in any case, and sends nothing more once the threading.Event
    `stop` (if given) is set.  Returns {'sent', 'answered', 'lost' (not
    answered, sent or not), 'unsent', 'rcodes': {rcode text: count},
    'responses': {qname text: dns.message}, 'elapsed' (seconds)}: the dict
    `stats` if given, updated as replies come (progress for another thread)."""
    want = dns.rdatatype.from_text(rdtype)
    sock = socket.socket(socket.AF_INET6 if ':' in server else socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    pending = {}            # id -> (name, sent at)
    todo = list(names)[::-1]
    total = len(todo)
    free_ids = collections.deque(random.sample(range(1, 65536), 65535))  # reuse an ID last
    if stats is None:
        stats = {}
    stats.update({'sent': 0, 'answered': 0, 'lost': 0, 'rcodes': {}, 'responses': {}})
    start = time.monotonic()
    end = start + deadline
    try:
        while (todo or pending) and time.monotonic() < end:
            if stop is not None and stop.is_set():
                todo = []
            while todo and len(pending) < window:
                name = todo.pop()
                qid = free_ids.popleft()
                q = dns.message.make_query(name, want, use_edns=0, payload=1232)
                q.id = qid
                try:
                    sock.sendto(q.to_wire(), (server, port))
                except BlockingIOError:
                    todo.append(name)
                    free_ids.appendleft(qid)
                    break
                pending[qid] = (name, time.monotonic())
                stats['sent'] += 1
            ready, _, _ = select.select([sock], [], [], 0.05)
            if ready:
                while True:
                    try:
                        wire = sock.recv(65535)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:        # ICMP unreachable: nothing listens
                        break
                    try:
                        r = dns.message.from_wire(wire, ignore_trailing=True)
                    except Exception:  # noqa: BLE001 - a broken reply is not an answer
                        continue
                    if r.id not in pending or not r.question or \
                            r.question[0].name != dns.name.from_text(pending[r.id][0]):
                        continue
                    name, _ = pending.pop(r.id)
                    free_ids.append(r.id)
                    stats['answered'] += 1
                    rc = dns.rcode.to_text(r.rcode())
                    stats['rcodes'][rc] = stats['rcodes'].get(rc, 0) + 1
                    stats['responses'][str(name)] = r
            now = time.monotonic()
            for qid, (name, sent) in list(pending.items()):
                if now - sent > timeout:
                    del pending[qid]
                    free_ids.append(qid)
    finally:
        sock.close()
    stats['lost'] = total - stats['answered']
    stats['unsent'] = total - stats['sent']
    stats['elapsed'] = time.monotonic() - start
    return stats


# ------------------------------------------------------------ servers

KNOT_CONF = """\
server:
    rundir: "{rundir}"
    listen: {address}@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{rundir}/db"
    journal-db-max-size: 32M
    kasp-db-max-size: 8M
    timer-db-max-size: 8M
    catalog-db-max-size: 8M
log:
  - target: stderr
    any: notice
template:
  - id: default
    storage: "{zonedir}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
{zones}
"""


class _Running:
    """One server process of the lab."""

    def __init__(self, spec, lab, port=None):
        self.spec = spec
        self.lab = lab
        self.port = lab.port if port is None else port
        self.proc = None
        self.dir = lab.workdir / spec.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.dir / 'server.log'
        self.query_log = self.dir / 'queries.log'

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            return
        spec = self.spec
        if spec.kind == 'knot':
            conf = self.dir / 'knot.conf'
            (self.dir / 'db').mkdir(exist_ok=True)
            zones = '\n'.join(f'  - domain: "{origin}"\n    file: "{_zones.zone_file_name(origin)}"'
                              for origin in spec.zones)
            conf.write_text(KNOT_CONF.format(rundir=self.dir, address=spec.address,
                                             port=self.port, zonedir=self.lab.zonedir,
                                             zones=zones))
            self.proc = spawn([KNOTD, '-c', str(conf)], log_path=self.log_path, cwd=str(self.dir))
        else:
            argv = [PYTHON, str(HERE / 'scripted.py'), '--address', spec.address,
                    '--port', str(self.port), '--mode', spec.kind, '--log', str(self.query_log)]
            for origin in spec.zones:
                argv += ['--zone', f'{origin}={self.lab.zonedir / _zones.zone_file_name(origin)}']
            self.proc = spawn(argv, log_path=self.log_path, cwd=str(self.dir),
                              stdout=subprocess.PIPE)

    def wait_ready(self, deadline):
        spec = self.spec
        if spec.kind != 'knot':
            while True:
                left = deadline - time.monotonic()
                if self.proc.poll() is not None or left <= 0:
                    raise LabError(f'{spec.name} ({spec.address}) did not start:\n{self.log()}')
                ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.2))
                if ready and self.proc.stdout.readline().strip() == b'ready':
                    return
        for origin in spec.zones:
            while True:
                if self.proc.poll() is not None:
                    raise LabError(f'knotd for {spec.name} ({spec.address}) exited with '
                                   f'{self.proc.returncode}:\n{self.log()}')
                if time.monotonic() > deadline:
                    raise LabError(f'knotd for {spec.name} ({spec.address}) does not answer '
                                   f'for {origin}:\n{self.log()}')
                try:
                    r = query(origin, 'SOA', spec.address, self.port, timeout=0.3, rd=False)
                    if r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA and r.answer:
                        break
                except Exception:  # noqa: BLE001 - not up yet
                    pass
                time.sleep(0.05)

    def stop(self):
        terminate(self.proc)

    def queries(self):
        """Lines logged by a scripted server ('udp|tcp QNAME QTYPE')."""
        try:
            return self.query_log.read_text().splitlines()
        except FileNotFoundError:
            return []

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            return self.log_path.read_text(errors='replace')[-4000:]
        except FileNotFoundError:
            return ''


class Lab:
    """The hierarchy.  Use as a context manager or call start()/stop()."""

    def __init__(self, workdir=None, prefix=None, bulk_count=BULK_COUNT, port=53):
        self.requested_prefix = prefix or os.environ.get('KRESD_LAB_PREFIX') or None
        self.prefix = None
        self.bulk_count = bulk_count
        self.port = port
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else None
        self.servers = {}          # name -> _Running
        self.specs = []
        self._extra = 0

    # -- maps

    @property
    def addresses(self):
        """{server name: address}, e.g. {'root1': '127.53.0.1', ...}."""
        return {s.name: s.address for s in self.specs}

    def zone_servers(self):
        """{zone origin: [addresses]} of every served zone."""
        out = {}
        for s in self.specs:
            for z in s.zones:
                out.setdefault(z, []).append(s.address)
        return out

    def root_hints(self):
        """{root server name: [address]} for hints.root()."""
        return {ROOT_SERVER_NAMES[n]: [self.addresses[n]] for n in ('root1', 'root2')}

    def hints_root_lua(self):
        """The Lua call that points Knot Resolver 5 (and our kresd) at the lab."""
        items = ', '.join(f"['{name}'] = {{{', '.join(repr(a) for a in addrs)}}}"
                          for name, addrs in self.root_hints().items())
        return f'hints.root({{{items}}})'

    def root_hints_file(self, path=None):
        """Write a named.root style file (for Unbound's root-hints and
        hints.root_file); returns its path."""
        path = Path(path) if path else self.workdir / 'root.hints'
        lines = []
        for name, addrs in self.root_hints().items():
            lines.append(f'.\t3600000\tNS\t{name}')
            lines += [f'{name}\t3600000\tA\t{a}' for a in addrs]
        path.write_text('\n'.join(lines) + '\n')
        return path

    def bulk_names(self, count=None):
        return [bulk_name(i) for i in range(self.bulk_count if count is None else count)]

    # -- lifecycle

    def start(self, timeout=START_TIMEOUT):
        check_available()
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix='lab-', dir='/tmp'))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prefix = choose_prefix(self.requested_prefix)
        self.specs = _zones.servers(self.prefix)
        self.zonedir = self.workdir / 'zones'
        self.zonedir.mkdir(exist_ok=True)
        for origin, text in _zones.zone_texts(self.prefix, self.bulk_count).items():
            (self.zonedir / _zones.zone_file_name(origin)).write_text(text)
        self.servers = {s.name: _Running(s, self) for s in self.specs}
        try:
            self.start_servers(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def start_servers(self, names=None, timeout=START_TIMEOUT):
        """(Re)start the named servers (default: those of the hierarchy
        that are not running) and wait until each answers."""
        chosen = [self.servers[n] for n in (names or self.hierarchy())]
        for s in chosen:
            s.start()
        deadline = time.monotonic() + timeout
        for s in chosen:
            s.wait_ready(deadline)

    def stop_servers(self, names=None):
        """Stop the named servers (default: all of the hierarchy), by PID:
        SIGTERM to all of them first, then wait for each (SIGKILL after
        STOP_TIMEOUT)."""
        chosen = [self.servers[n] for n in (names or self.hierarchy())]
        for s in chosen:
            if s.running():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(s.proc.pid, signal.SIGTERM)
        for s in chosen:
            s.stop()

    @contextlib.contextmanager
    def offline(self, names=None):
        """Every authoritative server of the hierarchy (or the named ones)
        stopped inside the block, started again after it."""
        self.stop_servers(names)
        try:
            yield self
        finally:
            self.start_servers(names)

    def start_scripted(self, mode, address='127.0.0.1', port=None, zones=(), name=None,
                       timeout=10.0):
        """An extra scripted server (see scripted.py: 'marker' plays a
        forwarding target) on address@port, stopped with the lab or by
        .stop() on the returned handle (.queries() lists what it got)."""
        if port is None:
            raise ValueError('start_scripted needs a port')
        self._extra += 1
        name = name or f'{mode}-{self._extra}'
        spec = _zones.Server(name, address, zones, kind=mode)
        run = _Running(spec, self, port=port)
        self.servers[name] = run
        run.start()
        run.wait_ready(time.monotonic() + timeout)
        return run

    def queries_seen(self, name):
        """Lines logged by the named scripted server ('udp|tcp QNAME QTYPE')."""
        return self.servers[name].queries()

    def hierarchy(self):
        """Names of the hierarchy's servers (not the start_scripted() ones)."""
        return [s.name for s in self.specs]

    def stop(self):
        """Stop every process of the lab (extra scripted servers too)."""
        if self.servers:
            self.stop_servers(list(self.servers))
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
