"""Socket activation: LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES with real passed
sockets (systemd-socket-activate and our own fdexec.py), and -S."""

import os
import shutil
import socket
import time

import pytest

import dns.exception
import dns.rcode

from conftest import (FDEXEC, PYTHON, QUERY_TIMEOUT, Control, assert_tls_serves, entries,
                      free_port, make_query, nsid_of, tcp, udp, udp_raw)

NSID = "modules.load('nsid')\nnsid.name(worker.id)\n"
SANITIZER_ENV = ('ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS')


# ---------------------------------------------------------------- helpers

class Sockets:
    """Listening sockets made by the test, closed at teardown."""

    def __init__(self, directory):
        self.directory = directory
        self.all = []

    def udp(self, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(('127.0.0.1', port))
        self.all.append(s)
        return s

    def tcp(self, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(('127.0.0.1', port))
        s.listen(16)
        self.all.append(s)
        return s

    def unix(self, name='ctl.sock'):
        path = str(self.directory / name)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(4)
        self.all.append(s)
        return s, path

    def close(self):
        for s in self.all:
            s.close()


@pytest.fixture
def sockets(short_tmp):
    s = Sockets(short_tmp)
    yield s
    s.close()


def activated(make_kresd, config, fds, *, pid_offset=0, **kwargs):
    """A Kresd started through fdexec.py with fds = [(socket, name), ...]
    passed as 3, 4, ... (not started yet)."""
    prefix = [PYTHON, str(FDEXEC)]
    if pid_offset:
        prefix += ['--pid-offset', str(pid_offset)]
    for sock, name in fds:
        prefix += ['--fd', f'{sock.fileno()}:{name}']
    prefix.append('--')
    return make_kresd(config, prefix=prefix, pass_fds=[s.fileno() for s, _ in fds], **kwargs)


def fd_flags(pid, fd):
    with open(f'/proc/{pid}/fdinfo/{fd}') as f:
        for line in f:
            if line.startswith('flags:'):
                return int(line.split()[1], 8)
    raise AssertionError(f'no flags for fd {fd}')


O_CLOEXEC = 0o2000000


def query_both(port, expect_nsid=None):
    for transport in (udp, tcp):
        r = transport(make_query('localhost.', 'A', nsid=expect_nsid is not None), port)
        assert r.rcode() == dns.rcode.NOERROR, transport.__name__
        assert r.answer[0][0].address == '127.0.0.1'
        if expect_nsid is not None:
            assert nsid_of(r) == expect_nsid


# ---------------------------------------------------------------- fdexec.py

def test_fd_passing_dns_udp_tcp_and_control(make_kresd, sockets, port):
    u = sockets.udp(port)
    t = sockets.tcp(port)
    c, ctl_path = sockets.unix()
    k = activated(make_kresd, NSID, [(u, 'dns'), (t, 'dns'), (c, 'control')],
                  instance='act').start()

    query_both(port, expect_nsid='act')

    # The inherited control socket is a Lua prompt.
    ctl = Control.connect(ctl_path)
    try:
        assert ctl.send('worker.id') == "'act'"
        listed = ctl.send('net.list()')
        eps = entries(listed)
        assert len(eps) == 3, listed
        assert all(inherited == 'true' for inherited, _, _ in eps), listed
        kinds = sorted(kind for _, kind, _ in eps)
        assert kinds == ['control', 'dns', 'dns'], listed
        assert "'udp'" in listed and "'tcp'" in listed and ctl_path in listed
        # the LISTEN_* variables are gone once used
        for var in ('LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'):
            assert ctl.send(f'env.{var}') == 'nil', var
    finally:
        ctl.close()

    # It did not bind a control socket of its own in the rundir.
    assert not (k.rundir / 'control' / 'act').exists()
    # The passed fds get FD_CLOEXEC, so they do not leak into children.
    for fd in (3, 4, 5):
        assert fd_flags(k.pid, fd) & O_CLOEXEC, f'fd {fd} has no FD_CLOEXEC'
    k.stop()


def test_fd_kind_by_name_and_type_not_position(make_kresd, sockets, port):
    """control first, then TCP, then UDP: dispatch must follow names and
    SO_TYPE, not the order."""
    c, ctl_path = sockets.unix()
    t = sockets.tcp(port)
    u = sockets.udp(port)
    k = activated(make_kresd, NSID, [(c, 'control'), (t, 'dns'), (u, 'dns')],
                  instance='order').start()
    query_both(port, expect_nsid='order')
    ctl = Control.connect(ctl_path)
    assert ctl.send('worker.id') == "'order'"
    ctl.close()
    k.stop()


def test_inherited_address_is_not_bound_again(make_kresd, sockets, port):
    """A config that also says net.listen() on the inherited address must not
    bind it a second time (our test sockets have no SO_REUSEPORT, so a second
    bind would fail with EADDRINUSE)."""
    u = sockets.udp(port)
    t = sockets.tcp(port)
    config = f"net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})\n" + NSID
    k = activated(make_kresd, config, [(u, 'dns'), (t, 'dns')], instance='nodup').start()
    query_both(port, expect_nsid='nodup')
    eps = entries(k.lua('net.list()'))
    dns_eps = [(inh, kind) for inh, kind, _ in eps if kind == 'dns']
    assert dns_eps == [('true', 'dns'), ('true', 'dns')], eps
    k.stop()


def test_wrong_listen_pid_ignores_fds(make_kresd, sockets, port):
    """LISTEN_PID that is not ours: the fds are not for us (systemd's rule);
    the config's own listener is bound instead."""
    u = sockets.udp(port)
    t = sockets.tcp(port)
    own = free_port()
    config = f"net.listen('127.0.0.1', {own}, {{ kind = 'dns' }})\n" + NSID
    k = activated(make_kresd, config, [(u, 'dns'), (t, 'dns')], pid_offset=1,
                  instance='wrongpid').start()

    query_both(own, expect_nsid='wrongpid')
    listed = k.lua('net.list()')
    eps = entries(listed)
    assert eps and all(inh == 'false' for inh, _, _ in eps), listed
    assert str(port) not in listed

    # Nobody serves the passed UDP socket.
    assert udp_raw(make_query().to_wire(), port, timeout=0.5) is None
    assert 'LISTEN_PID' in k.stderr(), 'expected a warning about LISTEN_PID'
    k.stop()


def test_wrong_listen_pid_with_dash_a(make_kresd, sockets, port):
    """With ignored fds and -a, only the -a address is served."""
    u = sockets.udp(port)
    own = free_port()
    k = activated(make_kresd, None, [(u, 'dns')], pid_offset=-1, instance='wp2',
                  args=['-a', f'127.0.0.1@{own}']).start()
    assert udp(make_query(), own).rcode() == dns.rcode.NOERROR
    assert udp_raw(make_query().to_wire(), port, timeout=0.5) is None
    k.stop()


@pytest.mark.parametrize('name,kind', [('tls', 'tls'), ('doh2', 'doh2'), ('doh', 'doh2')])
def test_inherited_tls_and_doh_are_served(make_kresd, sockets, port, name, kind):
    t = sockets.tcp(port)
    k = activated(make_kresd, None, [(t, name)], instance='t' + name).start()
    assert assert_tls_serves(port, 'dot' if kind == 'tls' else 'h2')
    listed = k.lua('net.list()')
    eps = entries(listed)
    assert [(inh, kd) for inh, kd, _ in eps if kd != 'control'] == [('true', kind)], listed
    if name == 'doh':
        assert 'doh' in k.stderr() and 'doh2' in k.stderr(), 'expected a deprecation warning'
    # the daemon is still alive and the connection did not leak an error
    assert k.running()
    k.stop()


@pytest.mark.parametrize('names,message', [
    ('dns:bogus', "'bogus'"),
    ('dns', '2 fds'),                       # 1 name for 2 fds
    ('control:control', 'control'),         # at most one control
])
def test_bad_listen_fdnames_refused(make_kresd, sockets, port, names, message):
    u = sockets.udp(port)
    c, _ = sockets.unix()
    k = make_kresd(None, instance='badnames',
                   prefix=[PYTHON, str(FDEXEC), '--names', names,
                           '--fd', f'{u.fileno()}:x', '--fd', f'{c.fileno()}:y', '--'],
                   pass_fds=[u.fileno(), c.fileno()])
    k.start(wait_ready=False)
    rc = k.wait_exit()
    assert rc != 0
    err = k.stderr()
    assert 'LISTEN_FDNAMES' in err and message in err, err
    assert k.notify.wait_for('READY=1', 0) is None


def test_listen_fds_count_not_a_number(make_kresd, sockets, port):
    u = sockets.udp(port)
    k = make_kresd(None, instance='badcount',
                   prefix=[PYTHON, str(FDEXEC), '--count', 'x1', '--fd', f'{u.fileno()}:dns', '--'],
                   pass_fds=[u.fileno()])
    k.start(wait_ready=False)
    assert k.wait_exit() != 0
    assert 'LISTEN_FDS' in k.stderr()


# ---------------------------------------------------------------- -S

def test_dash_s_serves_inherited_fds(make_kresd, sockets, port):
    u = sockets.udp(port)
    t = sockets.tcp(port)
    c, ctl_path = sockets.unix()
    args = ['-S', f'{u.fileno()}', '-S', f'{t.fileno()}:dns', '-S', f'{c.fileno()}:control']
    k = make_kresd(NSID, instance='dashs', args=args,
                   pass_fds=[u.fileno(), t.fileno(), c.fileno()]).start()
    query_both(port, expect_nsid='dashs')
    ctl = Control.connect(ctl_path)
    eps = entries(ctl.send('net.list()'))
    ctl.close()
    assert len(eps) == 3 and all(inh == 'true' for inh, _, _ in eps), eps
    k.stop()


@pytest.mark.parametrize('spec', ['1', 'x', '7:bogus', '999'])
def test_dash_s_bad_values(make_kresd, spec):
    k = make_kresd(None, instance='dashsbad', args=['-S', spec])
    k.start(wait_ready=False)
    assert k.wait_exit() != 0
    assert k.stderr().strip(), 'expected an error message'


# ---------------------------------------------------------------- systemd-socket-activate

def socket_activate(make_kresd, port, *, datagram, instance):
    tool = shutil.which('systemd-socket-activate')
    if tool is None:
        pytest.fail('systemd-socket-activate is missing (Debian package: systemd)')
    k = make_kresd(NSID, instance=None)
    # systemd-socket-activate gives the child only the variables named by -E
    prefix = [tool, '-l', f'127.0.0.1:{port}', '--fdname=dns']
    if datagram:
        prefix.append('-d')
    prefix += ['-E', f'NOTIFY_SOCKET={k.notify.env_value}', '-E', f'SYSTEMD_INSTANCE={instance}']
    for var in SANITIZER_ENV:
        if var in os.environ:
            prefix += ['-E', var]
    k.argv = prefix + k.argv
    k.instance = instance
    return k


def first_answer(send, timeout=10.0):
    """systemd-socket-activate execs kresd only at the first packet or
    connection; retry until the daemon answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return send()
        except (dns.exception.Timeout, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_systemd_socket_activate_udp(make_kresd, port):
    k = socket_activate(make_kresd, port, datagram=True, instance='sa-udp')
    k.start(wait_ready=False)
    r = first_answer(lambda: udp(make_query(nsid=True), port, timeout=1.0))
    assert r.rcode() == dns.rcode.NOERROR and nsid_of(r) == 'sa-udp'
    k.wait_ready()
    listed = k.lua('net.list()')
    dns_eps = [(inh, t) for inh, kind, t in entries(listed) if kind == 'dns']
    assert len(dns_eps) == 1 and dns_eps[0][0] == 'true' and "'udp'" in dns_eps[0][1], listed
    k.stop()


def test_systemd_socket_activate_tcp(make_kresd, port):
    k = socket_activate(make_kresd, port, datagram=False, instance='sa-tcp')
    k.start(wait_ready=False)
    r = first_answer(lambda: tcp(make_query(nsid=True), port, timeout=QUERY_TIMEOUT))
    assert r.rcode() == dns.rcode.NOERROR and nsid_of(r) == 'sa-tcp'
    k.wait_ready()
    for _ in range(5):
        assert tcp(make_query(), port).rcode() == dns.rcode.NOERROR
    listed = k.lua('net.list()')
    dns_eps = [(inh, t) for inh, kind, t in entries(listed) if kind == 'dns']
    assert len(dns_eps) == 1 and dns_eps[0][0] == 'true' and "'tcp'" in dns_eps[0][1], listed
    k.stop()


def test_systemd_socket_activate_dns_tls_control(make_kresd, port):
    """One systemd-socket-activate run hands over three sockets by name; each
    is served as its kind says, whatever its position."""
    tls_port = free_port()
    k = make_kresd(NSID, instance=None)
    control_path = k.rundir / 'sa-control.sock'
    tool = shutil.which('systemd-socket-activate')
    if tool is None:
        pytest.fail('systemd-socket-activate is missing (Debian package: systemd)')
    prefix = [tool, '-l', f'127.0.0.1:{tls_port}', '-l', str(control_path),
              '-l', f'127.0.0.1:{port}', '--fdname=tls:control:dns',
              '-E', f'NOTIFY_SOCKET={k.notify.env_value}', '-E', 'SYSTEMD_INSTANCE=sa-all']
    for var in SANITIZER_ENV:
        if var in os.environ:
            prefix += ['-E', var]
    k.argv = prefix + k.argv
    k.instance = 'sa-all'
    k.start(wait_ready=False)
    r = first_answer(lambda: tcp(make_query(nsid=True), port, timeout=1.0))
    assert r.rcode() == dns.rcode.NOERROR and nsid_of(r) == 'sa-all'
    k.wait_ready()
    assert assert_tls_serves(tls_port, 'dot')
    c = Control.connect(control_path)
    try:
        assert c.send('worker.id').strip() == "'sa-all'"
        listed = c.send('net.list()')
    finally:
        c.sock.close()
    kinds = sorted((kind, inh) for inh, kind, _ in entries(listed))
    assert kinds == [('control', 'true'), ('dns', 'true'), ('tls', 'true')], kinds
    # no control socket of its own: the inherited one is the prompt
    assert not (k.rundir / 'control' / 'sa-all').exists()
    k.stop()
