"""Fixtures and helpers for the kresd integration tests.

* ``KRESD_BIN`` (default ``<repo>/build/kresd``) is the binary under test.
  When it is missing, every test that needs it fails with a clear message:
  CI must never skip silently.
* Everything is bounded in time and uses loopback only.  Tests that need
  ports below 1024 (the seed configs use 53/853/443) run in a private
  network namespace that the test creates (root only; skipped otherwise).
"""

import base64
import contextlib
import ctypes
import hashlib
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import dns.edns
import dns.message
import dns.query

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = HERE / 'data'
FDEXEC = HERE / 'fdexec.py'
PYTHON = sys.executable or '/usr/bin/python3'

START_TIMEOUT = 10.0   # seconds until READY=1
STOP_TIMEOUT = 10.0    # seconds until exit after a signal
QUERY_TIMEOUT = 2.0    # seconds for one DNS query
TEST_TIMEOUT = 90      # safety net: no single test may run longer

IS_ROOT = os.geteuid() == 0


# ---------------------------------------------------------------- safety net

class OvertimeError(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Abort any test that runs longer than TEST_TIMEOUT seconds."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise OvertimeError(f'test exceeded {TEST_TIMEOUT}s')

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------- the binary

def kresd_path():
    return Path(os.environ.get('KRESD_BIN') or REPO / 'build' / 'kresd')


@pytest.fixture(scope='session')
def kresd_bin():
    path = kresd_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f'kresd binary not found or not executable: {path}\n'
                    f'build it (cmake -S . -B build && cmake --build build --target kresd) '
                    f'or point KRESD_BIN at it', pytrace=False)
    return str(path)


# ---------------------------------------------------------------- temp dirs

@pytest.fixture
def short_tmp():
    """A short directory under /tmp: unix socket paths must fit in 108 bytes,
    and pytest's tmp_path can be longer than that."""
    path = Path(tempfile.mkdtemp(prefix='kt-', dir='/tmp'))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- ports

_handed_out = set()


def _port_free(port, host='127.0.0.1'):
    """True when both UDP and TCP can bind host:port right now."""
    socks = []
    try:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_INET, kind)
            socks.append(s)
            s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def free_port(host='127.0.0.1'):
    """A port on host that is free for UDP and TCP and not handed out before
    in this test session."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port in _handed_out:
            continue
        if _port_free(port, host):
            _handed_out.add(port)
            return port
    raise RuntimeError('no free port found on ' + host)


@pytest.fixture
def port():
    return free_port()


# ---------------------------------------------------------------- notify

class NotifySocket:
    """A datagram socket that plays systemd's NOTIFY_SOCKET."""

    def __init__(self, directory, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f'kresd-test-{os.getpid()}-{id(self)}-{time.monotonic_ns()}'
            self.sock.bind('\0' + name)
            self.env_value = '@' + name
            self.path = None
        else:
            self.path = str(Path(directory) / f'notify-{time.monotonic_ns()}')
            self.sock.bind(self.path)
            self.env_value = self.path
        self.messages = []   # every datagram received, decoded

    def receive(self, timeout):
        """One datagram or None after timeout seconds."""
        ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not ready:
            return None
        data = self.sock.recv(65536).decode('utf-8', 'replace')
        self.messages.append(data)
        return data

    def wait_for(self, assignment, timeout, proc=None):
        """Wait for a datagram containing the line `assignment` (e.g.
        'READY=1'); returns the datagram, or None after the timeout or when
        proc exits first."""
        for msg in self.messages:
            if assignment in msg.splitlines():
                return msg
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            msg = self.receive(min(left, 0.1))
            if msg is not None and assignment in msg.splitlines():
                return msg
            if proc is not None and proc.poll() is not None:
                # drain whatever was sent before the exit
                while (msg := self.receive(0)) is not None:
                    if assignment in msg.splitlines():
                        return msg
                return None

    def close(self):
        self.sock.close()
        if self.path:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


# ---------------------------------------------------------------- control

class Control:
    """A connection to kresd's control socket (a Lua prompt)."""

    PROMPT = b'> '

    def __init__(self, sock, timeout=5.0):
        self.sock = sock
        self.timeout = timeout
        self.banner = self._read_until(self.PROMPT)

    @classmethod
    def connect(cls, path, timeout=5.0):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                s.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    s.close()
                    raise
                time.sleep(0.05)
        return cls(s, timeout)

    def _read_until(self, terminator):
        buf = b''
        deadline = time.monotonic() + self.timeout
        while not buf.endswith(terminator):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f'control socket: no {terminator!r} after {buf!r}')
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f'control socket closed after {buf!r}')
            buf += chunk
        return buf

    def send(self, line):
        """Evaluate one line; returns the printed result without the prompt."""
        self.sock.sendall(line.encode() + b'\n')
        out = self._read_until(b'\n' + self.PROMPT)
        return out[:-len(b'\n' + self.PROMPT)].decode('utf-8', 'replace')

    def close(self, timeout=2.0):
        """Half-close and wait for the daemon to close its end, so that the
        connection is gone on the daemon's side too when we return (a test
        that stops the daemon right after must not race with it)."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                if not self.sock.recv(65536):
                    break
        except OSError:
            pass
        finally:
            self.sock.close()


# ---------------------------------------------------------------- kresd

# Every config the harness writes starts with this, on its first line (so
# line numbers in error messages stay those of the test's text): root hints
# on a loopback address where nothing listens. A name that is not local then
# fails at once with SERVFAIL instead of sending queries to the Internet's
# root servers. Tests that resolve set their own hints.root (the lab).
SAFE_ROOTS = "hints.root({['no-root.invalid.'] = '127.0.0.9'}) "


class Kresd:
    """One kresd process in its own rundir.

    config:   text of <rundir>/config.lua (passed with -c), or None
    extra_configs: {name: text} more files written into the rundir
    instance: --instance NAME (None: not given)
    args:     extra command line arguments (before the rundir)
    env:      extra environment variables (None value: remove)
    notify:   'path', 'abstract' or None (no NOTIFY_SOCKET)
    prefix:   argv put in front (e.g. nsenter, fdexec.py); it must exec kresd
              in the same process, so that self.pid is kresd's PID
    """

    def __init__(self, binary, rundir, config=None, *, instance=None, args=(),
                 env=None, notify='path', prefix=(), pass_fds=(),
                 extra_configs=None, config_name='config.lua', use_config_arg=True,
                 sockdir=None):
        self.binary = binary
        self.rundir = Path(rundir)
        self.rundir.mkdir(parents=True, exist_ok=True)
        self.instance = instance
        self.config_name = config_name
        if config is not None:
            (self.rundir / config_name).write_text(SAFE_ROOTS + config)
        for name, text in (extra_configs or {}).items():
            (self.rundir / name).write_text(SAFE_ROOTS + text if name.endswith('.lua') else text)
        self.argv = list(prefix) + [binary, '-n']
        if config is not None and use_config_arg:
            self.argv += ['-c', config_name]
        if instance is not None:
            self.argv += ['--instance', instance]
        self.argv += list(args) + [str(self.rundir)]
        self.env = dict(os.environ)
        for key in ('SYSTEMD_INSTANCE', 'NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID',
                    'LISTEN_FDNAMES', 'WATCHDOG_USEC', 'WATCHDOG_PID'):
            self.env.pop(key, None)
        self.notify = None
        if notify:
            self.notify = NotifySocket(sockdir or self.rundir, abstract=(notify == 'abstract'))
            self.env['NOTIFY_SOCKET'] = self.notify.env_value
        for key, value in (env or {}).items():
            if value is None:
                self.env.pop(key, None)
            else:
                self.env[key] = value
        self.pass_fds = tuple(pass_fds)
        # one pair of log files per process, also when rundirs are shared
        tag = instance if instance and '/' not in instance and '\0' not in instance else 'k'
        tag = ''.join(ch if ch.isalnum() or ch in '-_.' else '_' for ch in tag)[:40] or 'k'
        self.stderr_path = self.rundir / f'{tag}-{time.monotonic_ns()}.stderr'
        self.stdout_path = self.rundir / f'{tag}-{time.monotonic_ns()}.stdout'
        self.proc = None
        self.returncode = None

    # -- lifecycle

    def start(self, wait_ready=True, timeout=START_TIMEOUT):
        with open(self.stderr_path, 'wb') as err, open(self.stdout_path, 'wb') as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, pass_fds=self.pass_fds,
                                         cwd=str(self.rundir))
        if wait_ready:
            self.wait_ready(timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def wait_ready(self, timeout=START_TIMEOUT):
        assert self.notify is not None, 'wait_ready() needs a NOTIFY_SOCKET'
        msg = self.notify.wait_for('READY=1', timeout, self.proc)
        if msg is None:
            rc = self.proc.poll()
            state = f'exited with {rc}' if rc is not None else f'still running after {timeout}s'
            raise AssertionError(f'kresd did not send READY=1 ({state})\n'
                                 f'argv: {self.argv}\nstderr:\n{self.stderr()}')
        return msg

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for the process to exit on its own; returns the exit code."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f'kresd did not exit within {timeout}s\n'
                                 f'stderr:\n{self.stderr()}') from None
        return self.returncode

    def stop(self, sig=signal.SIGTERM, expect=0, timeout=STOP_TIMEOUT):
        """Send sig and wait for the exit; checks the exit code unless
        expect is None. Returns the exit code."""
        if self.proc.poll() is None:
            # Let the daemon see the closes of connections the test has just
            # finished with (dnspython closes right after the answer): a
            # connection still open at exit is a separate, explicit test.
            time.sleep(0.05)
            os.kill(self.proc.pid, sig)
        rc = self.wait_exit(timeout)
        if expect is not None:
            assert rc == expect, (f'kresd exited with {rc}, expected {expect}\n'
                                  f'stderr:\n{self.stderr()}')
        return rc

    def kill(self):
        """Teardown: SIGKILL by PID if still running, and reap."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        if self.notify is not None:
            self.notify.close()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- output

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors='replace')
        except FileNotFoundError:
            return ''

    # -- control socket

    @property
    def control_path(self):
        name = self.instance if self.instance is not None else str(self.pid)
        return self.rundir / 'control' / name

    def control(self, timeout=5.0):
        return Control.connect(self.control_path, timeout)

    def lua(self, line):
        """Evaluate one line through a fresh control connection."""
        c = self.control()
        try:
            return c.send(line)
        finally:
            c.close()


@pytest.fixture
def make_kresd(kresd_bin, short_tmp):
    """Factory: make_kresd(config, **kwargs) -> Kresd (not started).
    Every process is killed by PID at teardown."""
    made = []
    counter = [0]

    def factory(config=None, **kwargs):
        counter[0] += 1
        rundir = kwargs.pop('rundir', None) or short_tmp / f'r{counter[0]}'
        k = Kresd(kresd_bin, rundir, config, **kwargs)
        made.append(k)
        return k

    yield factory
    for k in made:
        k.kill()


def run_kresd(kresd_bin, argv, *, cwd, env=None, timeout=10.0, pass_fds=()):
    """Run kresd to completion (for things that must exit on their own);
    returns CompletedProcess with text stdout/stderr."""
    full_env = dict(os.environ)
    for key in ('SYSTEMD_INSTANCE', 'NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID',
                'LISTEN_FDNAMES'):
        full_env.pop(key, None)
    full_env.update(env or {})
    return subprocess.run([kresd_bin] + list(argv), cwd=str(cwd), env=full_env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, pass_fds=pass_fds)


# ---------------------------------------------------------------- DNS helpers

def make_query(name='localhost.', rdtype='A', nsid=False, want_dnssec=False, **kw):
    """A query; EDNS only when nsid/want_dnssec/payload ask for it."""
    if nsid:
        kw['options'] = [dns.edns.GenericOption(dns.edns.NSID, b'')]
    use_edns = 0 if (nsid or want_dnssec or kw.get('payload')) else False
    q = dns.message.make_query(name, rdtype, use_edns=use_edns, want_dnssec=want_dnssec, **kw)
    if use_edns is False:
        assert q.edns == -1
    return q


def udp(query, port, host='127.0.0.1', timeout=QUERY_TIMEOUT, sock=None):
    """One query over UDP from a fresh socket (a new source port each time)."""
    return dns.query.udp(query, host, port=port, timeout=timeout, sock=sock)


def tcp(query, port, host='127.0.0.1', timeout=QUERY_TIMEOUT, sock=None):
    return dns.query.tcp(query, host, port=port, timeout=timeout, sock=sock)


def nsid_of(response):
    for opt in response.options:
        if opt.otype == dns.edns.NSID:
            return opt.to_wire().decode('utf-8', 'replace')
    return None


def frame(wire):
    """A DNS message with its TCP length prefix."""
    return struct.pack('!H', len(wire)) + wire


def entries(net_list_text):
    """net.list() output -> [(inherited 'true'/'false', kind, transport text)]."""
    """Split net.list() output into one text per endpoint."""
    # each endpoint is a table with an ['inherited'] field
    return re.findall(r"\{\s*\['inherited'\] = (true|false),\s*\['kind'\] = '(\w+)',"
                      r"\s*\['transport'\] = \{(.*?)\}", net_list_text, re.S)


def udp_raw(payload, port, host='127.0.0.1', timeout=QUERY_TIMEOUT, sock=None):
    """Send raw bytes over UDP; returns the reply bytes or None on timeout."""
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    own = sock is None
    s = sock or socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(payload, (host, port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None
    finally:
        if own:
            s.close()


def recv_exact(sock, n, deadline):
    buf = b''
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f'wanted {n} bytes, got {len(buf)}')
        sock.settimeout(left)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f'connection closed after {len(buf)} of {n} bytes')
        buf += chunk
    return buf


def tcp_read_message(sock, timeout=QUERY_TIMEOUT):
    deadline = time.monotonic() + timeout
    (length,) = struct.unpack('!H', recv_exact(sock, 2, deadline))
    return recv_exact(sock, length, deadline)


def tcp_connect(port, host='127.0.0.1', timeout=QUERY_TIMEOUT, sock=None):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = sock or socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def assert_closes_at_once(port, host='127.0.0.1', timeout=3.0, sock=None):
    """Connect over TCP and expect the server to close the connection at
    once (EOF or reset), without waiting for us to send anything."""
    s = tcp_connect(port, host, timeout, sock)
    try:
        start = time.monotonic()
        s.settimeout(timeout)
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b''
        except socket.timeout:
            pytest.fail(f'{host}@{port}: the connection stayed open for {timeout}s')
        assert data == b'', f'{host}@{port}: expected a closed connection, got {data!r}'
        return time.monotonic() - start
    finally:
        s.close()


def assert_tls_serves(port, alpn, host='127.0.0.1', timeout=5.0, sock=None):
    """Connect, complete a TLS handshake offering `alpn` ('dot' or 'h2'),
    check the server chose it; for 'dot' also ask localhost. and get the
    answer. Certificates are not checked here (test_tls_doh.py does)."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols([alpn])
    raw = tcp_connect(port, host, timeout, sock)
    with ctx.wrap_socket(raw) as s:
        assert s.selected_alpn_protocol() == alpn, s.selected_alpn_protocol()
        if alpn == 'dot':
            s.sendall(frame(make_query().to_wire()))
            answer = dns.message.from_wire(tcp_read_message(s))
            assert answer.rcode() == dns.rcode.NOERROR
    return True


# ---------------------------------------------------------------- certificates

def make_pki(d, sans, other=False):
    """Made with openssl in directory d (created): a CA (ca.pem, ca.key) and a
    server certificate for /CN=dot.test it signed (server.pem, server.key)
    with the subjectAltName entries `sans` (e.g. 'DNS:dot.test,IP:127.0.0.1');
    with other=True also an unrelated self-signed other.pem / other.key.
    Returns {'dir', 'ca', 'cert', 'key'} (+ 'other')."""
    d.mkdir()

    def run(*args):
        subprocess.run(['openssl'] + [str(a) for a in args], check=True, capture_output=True,
                       cwd=d, timeout=30)
    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
    run('req', '-x509', *ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
        '-subj', '/CN=kresd test CA')
    run('req', *ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=dot.test')
    (d / 'ext.cnf').write_text(f'subjectAltName={sans}\n'
                               'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n')
    run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
        '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf')
    out = {'dir': d, 'ca': d / 'ca.pem', 'cert': d / 'server.pem', 'key': d / 'server.key'}
    if other:
        run('req', '-x509', *ec, '-keyout', 'other.key', '-out', 'other.pem', '-days', '2',
            '-subj', '/CN=other')
        out['other'] = d / 'other.pem'
    return out


def spki_pin(cert_pem_path):
    """base64(SHA-256(DER SubjectPublicKeyInfo)): kdig's +tls-pin and
    policy.TLS_FORWARD's pin_sha256, by the openssl pipeline of the docs."""
    pub = subprocess.run(['openssl', 'x509', '-in', str(cert_pem_path), '-noout', '-pubkey'],
                         check=True, capture_output=True, timeout=20).stdout
    der = subprocess.run(['openssl', 'pkey', '-pubin', '-outform', 'der'], input=pub,
                         check=True, capture_output=True, timeout=20).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


# ---------------------------------------------------------------- netns

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


class NetNS:
    """A private network namespace with lo up, held by a `sleep` process.

    .prefix is the argv that runs a program inside it (nsenter execs, so the
    PID stays the program's).  .socket(...) creates a socket inside it (a
    socket keeps the namespace it was created in, so the test can use it
    from any thread afterwards)."""

    def __init__(self):
        self.holder = subprocess.Popen(
            ['unshare', '--net', 'sh', '-c', 'ip link set lo up && echo up && exec sleep 600'],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready, _, _ = select.select([self.holder.stdout], [], [], 10)
        line = self.holder.stdout.readline() if ready else b''
        if line.strip() != b'up':
            self.close()
            err = self.holder.stderr.read().decode(errors='replace') if self.holder.poll() is not None else ''
            raise RuntimeError(f'could not create a network namespace: {err}')
        self.path = f'/proc/{self.holder.pid}/ns/net'
        self.prefix = ['nsenter', f'--net={self.path}', '--']

    def socket(self, family=socket.AF_INET, kind=socket.SOCK_DGRAM):
        result = {}

        def inside():
            try:
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        e = ctypes.get_errno()
                        raise OSError(e, 'setns: ' + os.strerror(e))
                finally:
                    os.close(fd)
                result['sock'] = socket.socket(family, kind)
            except BaseException as e:  # reported in the calling thread
                result['error'] = e

        # A fresh thread that ends right after: setns() only changes the
        # calling thread, so the rest of the test stays in our namespace.
        t = threading.Thread(target=inside)
        t.start()
        t.join(10)
        if 'error' in result:
            raise result['error']
        return result['sock']

    def close(self):
        if self.holder.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.holder.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.holder.wait(5)
        for f in (self.holder.stdout, self.holder.stderr):
            if f:
                f.close()


@pytest.fixture
def netns():
    if not IS_ROOT:
        pytest.skip('needs root: creates a private network namespace (unshare --net) '
                    'to listen on ports 53/853/443 without touching the host')
    if not (shutil.which('unshare') and shutil.which('nsenter') and shutil.which('ip')):
        pytest.fail('unshare, nsenter and ip (util-linux, iproute2) are needed for netns tests')
    ns = NetNS()
    try:
        yield ns
    finally:
        ns.close()


# ---------------------------------------------------------------- lab

@pytest.fixture(scope='session')
def lab():
    """The local authoritative DNS hierarchy of tests/lab (a root zone on two
    servers, TLDs and leaf zones, each zone served by its own knotd on a
    127.x address, port 53, plus scripted misbehaving servers), started
    once per session and stopped at the end.  Skipped with the reason when
    it cannot run here (not root: port 53; knotd missing)."""
    tests_dir = str(REPO / 'tests')
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    import lab as lab_pkg
    try:
        lab_pkg.check_available()
        hierarchy = lab_pkg.Lab().start()
    except lab_pkg.LabUnavailable as e:
        pytest.skip(f'lab unavailable: {e}')
    try:
        yield hierarchy
    finally:
        hierarchy.stop()


# ---------------------------------------------------------------- signed lab

@pytest.fixture(scope='session')
def signed_lab():
    """The DNSSEC-signed hierarchy of tests/lab/signed.py (root, sec. and
    oo. TLDs, a secure zone per algorithm, an unsigned and an opt-out
    delegation, intentionally broken zones), keys made and zones signed at
    start, each zone served by its own knotd on a 127.x address, port 53
    (its own prefix: it runs beside the unsigned lab).  Started once per
    session; skipped with the reason when it cannot run here (not root;
    knotd, knotc or ldnsutils missing)."""
    tests_dir = str(REPO / 'tests')
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    import lab as lab_pkg
    from lab import signed as signed_pkg
    try:
        hierarchy = signed_pkg.SignedLab().start()
    except lab_pkg.LabUnavailable as e:
        pytest.skip(f'signed lab unavailable: {e}')
    try:
        yield hierarchy
    finally:
        hierarchy.stop()
