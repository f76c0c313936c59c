"""Resolvers pointed at the lab: our kresd, Debian's Knot Resolver 5 and
Unbound, each one process on 127.0.0.1@PORT with its own work directory.

    r = KnotResolver(lab, workdir, port).start()   # waits until it serves
    ...
    r.stop()                                       # SIGTERM, SIGKILL after a timeout

Configs (the references must be right: they are what we compare with):

* ours (``kresd_config``): ``hints.root({...})`` with the lab's root
  servers, ``option('ALLOW_LOCAL', true)`` (the lab is on 127.x, which a
  resolver must not query when only glue or NS records point there),
  ``cache.size = N*MB`` (the cache in the rundir).
* Knot Resolver 5.6: the same, plus ``modules.load('hints > iterate')`` (a
  config given with -c starts without the hints module) and
  ``trust_anchors.remove('.')`` (the lab is unsigned; with the root trust
  anchor every answer would be bogus).  ``option('ALLOW_LOCAL', true)``
  works in 5.6 as it is (tried: without it every lab name is SERVFAIL).
* Unbound: ``module-config: "iterator"`` (no validator), ``root-hints`` from
  ``Lab.root_hints_file()``, ``do-not-query-localhost: no``, one thread,
  no chroot/user switch/pidfile/syslog, caches big enough for the bulk zone.

Readiness: kresd (ours and Knot Resolver) send READY=1 to NOTIFY_SOCKET
after the config ran and the sockets are bound; Unbound is polled with a
``version.server. CH TXT`` query (answered without recursion).
"""

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass

from . import spawn

REPO = Path(__file__).resolve().parents[2]
KNOT_RESOLVER_BIN = os.environ.get('KNOT_RESOLVER_BIN') or '/usr/sbin/kresd'
UNBOUND_BIN = os.environ.get('UNBOUND_BIN') or shutil.which('unbound') or '/usr/sbin/unbound'


def our_kresd_path():
    return Path(os.environ.get('KRESD_BIN') or REPO / 'build' / 'kresd')


def kresd_config(lab, port, *, cache_mb=100, extra='', knot_resolver=False,
                 cache_dir=None, host='127.0.0.1', allow_local=True):
    """The config of a kresd (ours or Knot Resolver 5) that resolves the
    lab's names on host@port (allow_local=False leaves out
    option('ALLOW_LOCAL', true): then only the root hints may be on 127.x)."""
    lines = [f"net.listen('{host}', {port}, {{ kind = 'dns' }})"]
    if knot_resolver:
        lines += ["modules.load('hints > iterate')",
                  "trust_anchors.remove('.')"]
    else:
        # No validation until the DNSSEC issue lands; then, as in Knot
        # Resolver, the unsigned lab needs the root trust anchor removed.
        lines += ["if trust_anchors ~= nil then trust_anchors.remove('.') end"]
    lines.append(lab.hints_root_lua())
    if allow_local:
        lines.append("option('ALLOW_LOCAL', true)")
    if cache_dir is not None:
        lines.append(f"cache.open({cache_mb} * MB, 'lmdb://{cache_dir}')")
    elif cache_mb is not None:
        lines.append(f'cache.size = {cache_mb} * MB')
    if extra:
        lines.append(extra)
    return '\n'.join(lines) + '\n'


UNBOUND_CONF = """\
server:
    interface: {host}@{port}
    port: {port}
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    do-not-query-localhost: no
    module-config: "iterator"
    root-hints: "{hints}"
    username: ""
    chroot: ""
    directory: "{workdir}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    so-reuseport: no
    access-control: 127.0.0.0/8 allow
    msg-cache-size: {msg_mb}m
    rrset-cache-size: {rrset_mb}m
    prefetch: no
    {extra}
remote-control:
    control-enable: no
"""


class _Notify:
    def __init__(self, path):
        self.path = str(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def wait_ready(self, timeout, proc):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                return False
            ready, _, _ = select.select([self.sock], [], [], min(left, 0.1))
            if ready and 'READY=1' in self.sock.recv(65536).decode(errors='replace').splitlines():
                return True

    def close(self):
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class Resolver:
    """One resolver process.  Subclasses set name, argv() and the config."""

    name = 'resolver'

    def __init__(self, lab, workdir, port, *, cache_mb=100, extra='', host='127.0.0.1',
                 prefix=(), env=None):
        self.lab = lab
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.host = host
        self.cache_mb = cache_mb
        self.extra = extra
        self.prefix = list(prefix)      # e.g. ['taskset', '-c', '0'] (must exec)
        self.env = dict(os.environ)
        for key in ('NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES',
                    'SYSTEMD_INSTANCE'):
            self.env.pop(key, None)
        self.env.update(env or {})
        self.proc = None
        self.log_path = self.workdir / f'{self.name}.log'

    @property
    def pid(self):
        return self.proc.pid

    def available(self):
        """None when it can run here, else the reason why not."""
        return None

    def start(self, timeout=20.0):
        raise NotImplementedError

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after timeout; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        return self.proc.returncode

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)

    def log(self, tail=4000):
        try:
            return self.log_path.read_text(errors='replace')[-tail:]
        except FileNotFoundError:
            return ''

    # -- resource use, from /proc (Linux)

    def cpu_seconds(self):
        """user+sys CPU seconds of the process so far (None once it is gone)."""
        try:
            fields = Path(f'/proc/{self.proc.pid}/stat').read_text().rsplit(')', 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, AttributeError):
            return None
        ticks = os.sysconf('SC_CLK_TCK')
        return (int(fields[11]) + int(fields[12])) / ticks   # utime, stime

    def peak_rss_kb(self):
        try:
            for line in Path(f'/proc/{self.proc.pid}/status').read_text().splitlines():
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
        except (FileNotFoundError, AttributeError):
            return None
        return None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class _KresdLike(Resolver):
    binary = None
    knot_resolver = False

    def config(self):
        return kresd_config(self.lab, self.port, cache_mb=self.cache_mb, extra=self.extra,
                            knot_resolver=self.knot_resolver,
                            cache_dir=(self.workdir / 'cache') if self.knot_resolver else None,
                            host=self.host)

    def available(self):
        b = self.binary
        if not (os.path.isfile(b) and os.access(b, os.X_OK)):
            return f'{self.name}: binary not found: {b}'
        return None

    def start(self, timeout=20.0):
        rundir = self.workdir / 'run'
        rundir.mkdir(exist_ok=True)
        conf = self.workdir / 'config.lua'
        conf.write_text(self.config())
        notify = _Notify(self.workdir / 'notify')
        env = dict(self.env, NOTIFY_SOCKET=notify.path)
        try:
            self.proc = spawn(self.prefix + [str(self.binary), '-n', '-c', str(conf), str(rundir)],
                              log_path=self.log_path, cwd=str(rundir), env=env)
            if not notify.wait_ready(timeout, self.proc):
                rc = self.proc.poll()
                self.kill9()
                raise RuntimeError(f'{self.name} did not become ready '
                                   f'({"exited with %s" % rc if rc is not None else "timeout"}):\n'
                                   f'{self.log()}')
        finally:
            notify.close()
        return self


class OurKresd(_KresdLike):
    name = 'ours'

    def __init__(self, *args, binary=None, config_text=None, **kw):
        super().__init__(*args, **kw)
        self.binary = os.path.abspath(str(binary or our_kresd_path()))  # we chdir to the rundir
        self.config_text = config_text

    def config(self):
        return self.config_text if self.config_text is not None else super().config()


def recursion_missing(lab, workdir, binary=None, timeout=10.0):
    """Why our kresd cannot resolve the lab's names yet (a reason string),
    or None when it can (or fails in some other way: then the caller's
    tests should run and say what is wrong).

    The probe config needs nothing but net.listen; hints.root is used only
    when it exists, and when it does not the probe sends no query at all
    (a recursive kresd without hints would ask the real root servers)."""
    from . import query   # noqa: PLC0415 (the package imports this module lazily)
    workdir = Path(workdir)
    marker = workdir / 'no-hints'
    port = _free_port()
    text = (f"net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})\n"
            f"if hints ~= nil and hints.root ~= nil then {lab.hints_root_lua()}\n"
            f"else local f = io.open('{marker}', 'w'); f:write('no hints.root'); f:close() end\n"
            "option('ALLOW_LOCAL', true)\n")
    probe = OurKresd(lab, workdir, port, binary=binary, config_text=text)
    probe.start(timeout)
    try:
        if marker.exists():
            return 'recursion not implemented yet (no hints.root)'
        try:
            r = query('www.example.sim.', 'A', '127.0.0.1', port, timeout=timeout)
        except dns.exception.Timeout:
            return None
        if r.rcode() == dns.rcode.REFUSED:
            return 'recursion not implemented yet (REFUSED)'
        return None
    finally:
        probe.stop()


def _free_port():
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(('127.0.0.1', port))
            return port
        except OSError:
            continue
    raise RuntimeError('no free port on 127.0.0.1')


class KnotResolver(_KresdLike):
    name = 'knot-resolver'
    knot_resolver = True

    def __init__(self, *args, binary=None, **kw):
        super().__init__(*args, **kw)
        self.binary = str(binary or KNOT_RESOLVER_BIN)


class Unbound(Resolver):
    name = 'unbound'

    def __init__(self, *args, binary=None, **kw):
        super().__init__(*args, **kw)
        self.binary = str(binary or UNBOUND_BIN)

    def available(self):
        if not (os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)):
            return f'unbound: binary not found: {self.binary}'
        return None

    def config(self):
        hints = self.lab.root_hints_file(self.workdir / 'root.hints')
        mb = self.cache_mb or 100
        return UNBOUND_CONF.format(host=self.host, port=self.port, hints=hints,
                                   workdir=self.workdir, msg_mb=max(4, mb // 3),
                                   rrset_mb=max(4, mb * 2 // 3), extra=self.extra)

    def start(self, timeout=20.0):
        conf = self.workdir / 'unbound.conf'
        conf.write_text(self.config())
        self.proc = spawn(self.prefix + [self.binary, '-d', '-c', str(conf)],
                          log_path=self.log_path, cwd=str(self.workdir), env=self.env)
        deadline = time.monotonic() + timeout
        q = dns.message.make_query('version.server.', 'TXT', rdclass=dns.rdataclass.CH)
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                rc = self.proc.poll()
                self.kill9()
                raise RuntimeError(f'unbound did not become ready '
                                   f'({"exited with %s" % rc if rc is not None else "timeout"}):\n'
                                   f'{self.log()}')
            try:
                dns.query.udp(q, self.host, port=self.port, timeout=0.2)
                return self
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.05)


KINDS = {'ours': OurKresd, 'knot-resolver': KnotResolver, 'unbound': Unbound}
