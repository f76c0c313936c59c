"""DNS-over-TLS (RFC 7858) and DNS-over-HTTPS/2 (RFC 8484) listeners, with
kdig, curl and Python's ssl module as clients: certificates from net.tls()
(made with openssl at test time) and the shared self-signed one, session
resumption across instances, HTTP status codes, garbage that must close only
its own connection.

All names asked are under localhost., which kresd answers itself."""

import base64
import http.server
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import dns.message
import dns.rcode

from conftest import Kresd, free_port, make_pki, make_query, recv_exact, spki_pin

KDIG_TIMEOUT = 20


# ---------------------------------------------------------------- wired yet?

@pytest.fixture(scope='session')
def tls_wired(kresd_bin):
    """Skips the module while a `tls` listener still closes every connection
    at once (the placeholder of the daemon foundation)."""
    tmp = Path(tempfile.mkdtemp(prefix='kt-', dir='/tmp'))
    port = free_port()
    k = Kresd(kresd_bin, tmp / 'probe',
              f"net.listen('127.0.0.1', {port}, {{ kind = 'tls' }})\n", instance='probe')
    try:
        k.start()
        s = socket.create_connection(('127.0.0.1', port), timeout=2)
        s.settimeout(0.5)
        try:
            data = s.recv(1)
        except socket.timeout:
            data = None   # waiting for our ClientHello: a TLS server
        except ConnectionResetError:
            data = b''
        finally:
            s.close()
        if data == b'':
            pytest.skip('DoT/DoH listeners not wired yet')
    finally:
        k.kill()
        shutil.rmtree(tmp, ignore_errors=True)


pytestmark = pytest.mark.usefixtures('tls_wired')


# ---------------------------------------------------------------- helpers

def dot_config(port, extra=''):
    return f"net.listen('127.0.0.1', {port}, {{ kind = 'tls' }})\n{extra}"


def doh_config(port, extra=''):
    return f"net.listen('127.0.0.1', {port}, {{ kind = 'doh2' }})\n{extra}"


def client_context(alpn=('dot',), cafile=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def tls_connect(port, ctx=None, session=None, server_hostname=None, timeout=5):
    ctx = ctx or client_context()
    raw = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname=server_hostname, session=session)


def frame(wire):
    return struct.pack('!H', len(wire)) + wire


def read_frame(sock, timeout=5):
    deadline = time.monotonic() + timeout
    (length,) = struct.unpack('!H', recv_exact(sock, 2, deadline))
    return recv_exact(sock, length, deadline)


def dot_query(port, name='localhost.', ctx=None, server_hostname=None):
    with tls_connect(port, ctx, server_hostname=server_hostname) as s:
        q = make_query(name)
        s.sendall(frame(q.to_wire()))
        return dns.message.from_wire(read_frame(s))


def closed_soon(sock, timeout=5):
    """True when the peer closes (EOF, reset or a TLS alert) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
        return True
    except socket.timeout:
        return False


def kdig(*args):
    cmd = ['kdig', '+retry=0', '+time=3'] + [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=KDIG_TIMEOUT)


def curl(*args):
    cmd = ['curl', '-sS', '--max-time', '10'] + [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, timeout=30)


@pytest.fixture
def certs(short_tmp):
    """A CA and a server certificate for dot.test / 127.0.0.1 it signed."""
    return make_pki(short_tmp / 'pki', 'DNS:dot.test,IP:127.0.0.1')


# ---------------------------------------------------------------- DoT

def test_dot_many_pipelined_queries_on_one_connection(make_kresd, port):
    k = make_kresd(dot_config(port), instance='dot').start()
    n = 300
    with tls_connect(port) as s:
        assert s.selected_alpn_protocol() == 'dot'
        assert s.version() in ('TLSv1.2', 'TLSv1.3')
        wires = []
        for i in range(n):
            q = make_query(f'q{i}.localhost.')
            q.id = i
            wires.append(frame(q.to_wire()))
        s.sendall(b''.join(wires))
        ids = set()
        for _ in range(n):
            r = dns.message.from_wire(read_frame(s))
            assert r.rcode() == dns.rcode.NOERROR
            assert r.answer[0][0].address == '127.0.0.1'
            ids.add(r.id)
        assert ids == set(range(n))
    stats = k.lua('worker.stats().tls')
    assert int(float(stats)) >= n, stats
    k.stop()


def test_dot_kdig_keeps_one_connection(make_kresd, port):
    k = make_kresd(dot_config(port), instance='kdig').start()
    names = [f'n{i}.localhost.' for i in range(20)]
    args = ['@127.0.0.1', '-p', port, '+tls', '+keepopen']
    for name in names:
        args += [name, 'A']
    r = kdig(*args)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count('status: NOERROR') == len(names), r.stdout
    assert 'TLS session (TLS1.' in r.stdout
    k.stop()


def received_bytes(out):
    m = re.search(r';; Received (\d+) B', out)
    assert m, out
    return int(m.group(1))


def test_padded_queries_get_padded_answers_over_tls_only(make_kresd, port):
    """RFC 7830 / RFC 8467: padded query over TLS or HTTPS -> answer padded to
    a multiple of the block (468 by default); never in the clear; the
    block from net.tls_padding()."""
    plain = free_port()
    doh = free_port()
    k = make_kresd(dot_config(port) + doh_config(doh) +
                   f"net.listen('127.0.0.1', {plain}, {{ kind = 'dns' }})\n",
                   instance='pad').start()
    r = kdig('@127.0.0.1', '-p', port, '+tls', '+padding', 'localhost.', 'A')
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'PADDING' in r.stdout and received_bytes(r.stdout) == 468, r.stdout
    r = kdig('@127.0.0.1', '-p', doh, '+https', '+padding', 'localhost.', 'A')
    assert r.returncode == 0, r.stdout + r.stderr
    assert received_bytes(r.stdout) == 468, r.stdout
    r = kdig('@127.0.0.1', '-p', port, '+tls', '+nopadding', 'localhost.', 'A')
    assert 'PADDING' not in r.stdout and received_bytes(r.stdout) < 468, r.stdout
    r = kdig('@127.0.0.1', '-p', plain, '+tcp', '+padding', 'localhost.', 'A')
    assert r.returncode == 0, r.stdout + r.stderr
    assert received_bytes(r.stdout) < 468, r.stdout

    assert k.lua('net.tls_padding()').strip().endswith('true')
    assert k.lua('net.tls_padding(64)').strip().endswith('64')
    r = kdig('@127.0.0.1', '-p', port, '+tls', '+padding', 'localhost.', 'A')
    assert received_bytes(r.stdout) % 64 == 0 and received_bytes(r.stdout) < 468, r.stdout
    assert k.lua('net.tls_padding(false)').strip().endswith('false')
    r = kdig('@127.0.0.1', '-p', port, '+tls', '+padding', 'localhost.', 'A')
    assert received_bytes(r.stdout) < 468 and received_bytes(r.stdout) % 64 != 0, r.stdout
    assert 'not an integer' in k.lua('net.tls_padding(2.5)')
    k.stop()


def test_dot_with_certificate_from_files(make_kresd, port, certs):
    config = dot_config(port, f"net.tls('{certs['cert']}', '{certs['key']}')\n")
    k = make_kresd(config, instance='files').start()

    # CA and host name
    r = kdig('@127.0.0.1', '-p', port, '+tls-ca=' + str(certs['ca']), '+tls-hostname=dot.test',
             'localhost.', 'A')
    assert r.returncode == 0 and 'status: NOERROR' in r.stdout, r.stdout + r.stderr
    # the wrong host name fails verification
    r = kdig('@127.0.0.1', '-p', port, '+tls-ca=' + str(certs['ca']), '+tls-hostname=other.test',
             'localhost.', 'A')
    assert 'status: NOERROR' not in r.stdout
    # SPKI pin, right and wrong
    pin = spki_pin(certs['cert'])
    r = kdig('@127.0.0.1', '-p', port, '+tls-pin=' + pin, 'localhost.', 'A')
    assert r.returncode == 0 and 'status: NOERROR' in r.stdout, r.stdout + r.stderr
    wrong = base64.b64encode(b'\0' * 32).decode()
    r = kdig('@127.0.0.1', '-p', port, '+tls-pin=' + wrong, 'localhost.', 'A')
    assert 'status: NOERROR' not in r.stdout

    # Python's ssl with the CA, by name and by IP address
    ctx = client_context(cafile=certs['ca'])
    assert dot_query(port, ctx=ctx, server_hostname='dot.test').rcode() == dns.rcode.NOERROR
    assert dot_query(port, ctx=ctx, server_hostname='127.0.0.1').rcode() == dns.rcode.NOERROR
    with pytest.raises(ssl.SSLCertVerificationError):
        dot_query(port, ctx=ctx, server_hostname='wrong.test')

    # net.tls() reports the paths
    out = k.lua('net.tls()')
    assert str(certs['cert']) in out and str(certs['key']) in out, out
    # a missing file is an error naming it, and the certificate stays
    out = k.lua(f"net.tls('{certs['dir']}/missing.pem', '{certs['key']}')")
    assert 'missing.pem' in out, out
    assert dot_query(port, ctx=ctx, server_hostname='dot.test').rcode() == dns.rcode.NOERROR
    # no ephemeral certificate was made
    assert not (k.rundir / 'tls' / 'ephemeral.crt').exists()
    k.stop()


def test_bad_certificate_paths_stop_the_config(make_kresd, port, certs):
    missing = certs['dir'] / 'nope.pem'
    k = make_kresd(dot_config(port, f"net.tls('{missing}', '{certs['key']}')\n"), instance='bad')
    k.start(wait_ready=False)
    assert k.wait_exit(10) != 0
    assert str(missing) in k.stderr()
    # a key that does not belong to the certificate
    k2 = make_kresd(dot_config(port, f"net.tls('{certs['cert']}', '{certs['dir'] / 'ca.key'}')\n"),
                    instance='bad2')
    k2.start(wait_ready=False)
    assert k2.wait_exit(10) != 0
    assert 'ca.key' in k2.stderr()


def test_doh_without_tls_is_refused_with_a_clear_error(make_kresd, port):
    """Knot Resolver's {kind = 'doh2', tls = false} (HTTP/2 in the clear) is
    not served: the config stops at that line instead of speaking TLS to a
    proxy that expects none. tls = true is what kresd does anyway."""
    k = make_kresd(f"net.listen('127.0.0.1', {port}, {{ kind = 'doh2', tls = false }})\n",
                   instance='h2c')
    k.start(wait_ready=False)
    assert k.wait_exit(10) != 0
    err = k.stderr()
    assert 'tls = false' in err and 'not supported' in err, err
    assert ':1:' in err, err
    ok = make_kresd(f"net.listen('127.0.0.1', {port}, {{ kind = 'doh2', tls = true }})\n",
                    instance='h2tls').start()
    r = kdig('@127.0.0.1', '-p', port, '+https', 'localhost.', 'A')
    assert r.returncode == 0 and 'status: NOERROR' in r.stdout, r.stdout + r.stderr
    ok.stop()


def test_self_signed_certificate_is_shared_by_instances(make_kresd, short_tmp):
    rundir = short_tmp / 'shared'
    p1, p2 = free_port(), free_port()
    k1 = make_kresd(dot_config(p1), instance='s1', rundir=rundir).start()
    k2 = make_kresd(dot_config(p2), instance='s2', rundir=rundir).start()
    # both present the certificate stored in the rundir
    with tls_connect(p1) as a, tls_connect(p2) as b:
        der1, der2 = a.getpeercert(True), b.getpeercert(True)
    assert der1 == der2
    crt = rundir / 'tls' / 'ephemeral.crt'
    key = rundir / 'tls' / 'ephemeral.key'
    assert ssl.PEM_cert_to_DER_cert(crt.read_text()) == der1
    assert crt.stat().st_mode & 0o777 == 0o600
    assert key.stat().st_mode & 0o777 == 0o600
    # clients may pin it
    pin = spki_pin(crt)
    for p in (p1, p2):
        r = kdig('@127.0.0.1', '-p', p, '+tls-pin=' + pin, 'localhost.', 'A')
        assert r.returncode == 0 and 'status: NOERROR' in r.stdout, r.stdout + r.stderr
    # net.tls() says no files are configured
    assert k1.lua('net.tls()') in ('nil', '')
    k1.stop()
    k2.stop()
    # a restart reuses it
    k3 = make_kresd(dot_config(p1), instance='s3', rundir=rundir).start()
    with tls_connect(p1) as c:
        assert c.getpeercert(True) == der1
    k3.stop()


def test_session_resumption_across_instances_of_a_rundir(make_kresd, short_tmp):
    rundir = short_tmp / 'resume'
    p1, p2 = free_port(), free_port()
    k1 = make_kresd(dot_config(p1), instance='r1', rundir=rundir).start()
    k2 = make_kresd(dot_config(p2), instance='r2', rundir=rundir).start()
    ctx = client_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2   # a ticket in the handshake itself
    with tls_connect(p1, ctx) as s:
        s.sendall(frame(make_query().to_wire()))
        read_frame(s)
        session = s.session
    assert session is not None and session.has_ticket
    with tls_connect(p1, ctx, session=session) as s:
        assert s.session_reused
    with tls_connect(p2, ctx, session=session) as s:
        assert s.session_reused
        s.sendall(frame(make_query().to_wire()))
        assert dns.message.from_wire(read_frame(s)).rcode() == dns.rcode.NOERROR
    k1.stop()
    k2.stop()


def test_sticket_secret_lets_separate_rundirs_resume(make_kresd):
    secret = 's' * 40
    p1, p2 = free_port(), free_port()
    k1 = make_kresd(dot_config(p1, f"net.tls_sticket_secret('{secret}')\n"), instance='k1').start()
    k2 = make_kresd(dot_config(p2, f"net.tls_sticket_secret('{secret}')\n"), instance='k2').start()
    k3 = make_kresd(dot_config(free_port()), instance='k3').start()
    assert k1.rundir != k2.rundir
    ctx = client_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with tls_connect(p1, ctx) as s:
        session = s.session
    with tls_connect(p2, ctx, session=session) as s:
        assert s.session_reused
    # too short a secret is refused with Knot Resolver's message
    out = k3.lua("net.tls_sticket_secret('short')")
    assert 'shorter than 32 bytes' in out, out
    for k in (k1, k2, k3):
        k.stop()


GARBAGE = {
    'plain-dns': frame(make_query().to_wire()),
    'random': bytes(range(256)) * 4,
    'http': b'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
    'truncated-record': b'\x16\x03\x01\x02\x00' + b'\x01' * 40,
}


@pytest.mark.parametrize('kind', list(GARBAGE))
def test_dot_garbage_closes_only_that_connection(make_kresd, port, kind):
    k = make_kresd(dot_config(port), instance='garbage').start()
    bystander = tls_connect(port)   # an established client that must keep working
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    s.sendall(GARBAGE[kind])
    if kind == 'truncated-record':
        s.shutdown(socket.SHUT_WR)
    assert closed_soon(s, 8), f'{kind}: connection left open'
    s.close()
    bystander.sendall(frame(make_query().to_wire()))
    assert dns.message.from_wire(read_frame(bystander)).rcode() == dns.rcode.NOERROR
    bystander.close()
    assert dot_query(port).rcode() == dns.rcode.NOERROR
    k.stop()
    assert re.search(r'\[tls\s*\].*127\.0\.0\.1', k.stderr()), k.stderr()


def test_dot_garbage_after_handshake(make_kresd, port):
    k = make_kresd(dot_config(port), instance='garbage2').start()
    # a frame too short to be DNS
    s = tls_connect(port)
    s.sendall(b'\x00\x03abc')
    assert closed_soon(s)
    s.close()
    # a forged record under TLS
    s = tls_connect(port)
    raw = socket.socket(fileno=os.dup(s.fileno()))
    raw.sendall(b'\x17\x03\x03\x00\x30' + b'\xaa' * 48)
    assert closed_soon(s)
    raw.close()
    s.close()
    assert dot_query(port).rcode() == dns.rcode.NOERROR
    k.stop()
    assert 'cannot hold a DNS message' in k.stderr()


def test_dot_silent_client_is_dropped_after_the_handshake_deadline(make_kresd, port):
    k = make_kresd(dot_config(port), instance='silent').start()
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    start = time.monotonic()
    assert closed_soon(s, 9)
    assert 3 < time.monotonic() - start < 9
    s.close()
    k.stop()


# ---------------------------------------------------------------- DoH

def b64url(wire):
    return base64.urlsafe_b64encode(wire).rstrip(b'=').decode()


def doh_url(port, path='/dns-query'):
    return f'https://127.0.0.1:{port}{path}'


def curl_status(*args):
    """(status, headers dict, body) of one curl --http2 -k request."""
    r = curl('--http2', '-k', '-D', '-', '-o', '/dev/stdout', *args)
    assert r.returncode == 0, r.stderr.decode(errors='replace')
    head, _, body = r.stdout.partition(b'\r\n\r\n')
    lines = head.decode().split('\r\n')
    assert lines[0].startswith('HTTP/2 '), lines[0]
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(':')
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def test_doh_get_and_post(make_kresd, port):
    k = make_kresd(doh_config(port), instance='doh').start()
    q = make_query('get.localhost.')
    status, headers, body = curl_status(doh_url(port) + '?dns=' + b64url(q.to_wire()))
    assert status == 200
    assert headers['content-type'] == 'application/dns-message'
    r = dns.message.from_wire(body)
    assert r.id == q.id and r.answer[0][0].address == '127.0.0.1'
    assert headers['cache-control'] == f'max-age={r.answer[0].ttl}'

    q = make_query('post.localhost.', 'AAAA')
    status, headers, body = _post(port, q.to_wire())
    assert status == 200
    assert dns.message.from_wire(body).answer[0][0].address == '::1'

    # a negative answer: max-age from the SOA (RFC 8484 5.1, RFC 2308)
    q = make_query('2.0.0.127.in-addr.arpa.', 'PTR')
    status, headers, body = curl_status(doh_url(port) + '?dns=' + b64url(q.to_wire()))
    r = dns.message.from_wire(body)
    assert status == 200 and r.rcode() == dns.rcode.NXDOMAIN
    soa = r.authority[0]
    assert headers['cache-control'] == f'max-age={min(soa.ttl, soa[0].minimum)}'
    k.stop()


def _post(port, body, content_type='application/dns-message', path='/dns-query'):
    with tempfile.NamedTemporaryFile() as f:
        f.write(body)
        f.flush()
        return curl_status('-H', f'content-type: {content_type}', '--data-binary', f'@{f.name}',
                           doh_url(port, path))


def test_doh_error_statuses(make_kresd, port):
    k = make_kresd(doh_config(port), instance='doherr').start()
    q = make_query('a.localhost.').to_wire()
    padded = base64.urlsafe_b64encode(q).decode()
    assert padded.endswith('=')
    assert curl_status(doh_url(port) + '?dns=' + padded)[0] == 200    # padding tolerated
    assert curl_status(doh_url(port) + '?dns=' + padded + '==')[0] == 400  # but not too much
    assert curl_status(doh_url(port) + '?dns=not*base64')[0] == 400
    assert curl_status(doh_url(port) + '?dns=' + base64.b64encode(b'\xfb\xff' * 10).decode())[0] == 400
    assert curl_status(doh_url(port))[0] == 400                      # GET without dns=
    assert curl_status(doh_url(port) + '?dns=' + b64url(b'\0' * 5))[0] == 400   # not DNS
    assert curl_status(doh_url(port, '/other') + '?dns=' + b64url(q))[0] == 404
    status, headers, _ = curl_status('-X', 'PUT', doh_url(port))
    assert status == 405 and headers['allow'] == 'GET, POST'
    assert _post(port, q, content_type='text/plain')[0] == 415
    assert _post(port, b'\0' * 70000)[0] == 413
    assert _post(port, b'\0' * 3)[0] == 400
    assert _post(port, q)[0] == 200
    assert int(float(k.lua('worker.stats().err_http'))) >= 10
    k.stop()


def test_doh_kdig(make_kresd, port):
    k = make_kresd(doh_config(port), instance='kdoh').start()
    for mode in ('+https', '+https-get'):
        r = kdig('@127.0.0.1', '-p', port, mode, 'localhost.', 'A')
        assert r.returncode == 0 and 'status: NOERROR' in r.stdout, r.stdout + r.stderr
        assert '127.0.0.1' in r.stdout
    k.stop()


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'hello via doh\n')

    def log_message(self, *args):
        pass


def test_curl_resolves_through_doh_url(make_kresd, port):
    """curl --doh-url: curl resolves the host name over DoH (POST), then
    fetches from the address kresd gave (127.0.0.1)."""
    k = make_kresd(doh_config(port), instance='curldoh').start()
    web = http.server.HTTPServer(('127.0.0.1', 0), _Hello)
    t = threading.Thread(target=web.serve_forever, daemon=True)
    t.start()
    try:
        # the trailing dot keeps curl from answering *.localhost itself
        r = curl('-v', '--doh-url', doh_url(port), '--doh-insecure',
                 f'http://www.localhost.:{web.server_port}/')
        assert r.returncode == 0, r.stderr.decode(errors='replace')
        assert r.stdout == b'hello via doh\n'
        assert b'DoH A: 127.0.0.1' in r.stderr, r.stderr.decode(errors='replace')
    finally:
        web.shutdown()
    k.stop()


def test_doh_many_concurrent_streams(make_kresd, port):
    k = make_kresd(doh_config(port), instance='streams').start()
    urls = []
    for i in range(60):
        q = make_query(f's{i}.localhost.')
        urls += ['-o', '/dev/null', doh_url(port) + '?dns=' + b64url(q.to_wire())]
    r = curl('--http2', '-k', '--parallel', '--parallel-max', '60', '-w', '%{http_code}\n', *urls)
    codes = r.stdout.decode().split()
    assert codes == ['200'] * 60, r.stdout + r.stderr
    k.stop()


# HTTP/2 frames by hand, for what clients never send.
H2_PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'


def h2_frame(ftype, flags, stream, payload):
    return struct.pack('!I', len(payload))[1:] + bytes([ftype, flags]) + struct.pack('!I', stream) + payload


def read_goaway(sock, timeout=5):
    """Reads frames until GOAWAY; returns its error code (None at EOF)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            head = recv_exact(sock, 9, deadline)
            length = int.from_bytes(head[:3], 'big')
            payload = recv_exact(sock, length, deadline)
            if head[3] == 7:
                return struct.unpack('!I', payload[4:8])[0]
    except (ConnectionError, ssl.SSLError):
        return None


def test_doh_protocol_errors_close_that_connection(make_kresd, port):
    k = make_kresd(doh_config(port), instance='h2err').start()
    ctx = client_context(alpn=('h2',))
    bystander = tls_connect(port, ctx)
    bystander.sendall(H2_PREFACE + h2_frame(4, 0, 0, b''))

    # HTTP/1.1 where HTTP/2 is expected
    s = tls_connect(port, ctx)
    s.sendall(b'GET /dns-query HTTP/1.1\r\nHost: x\r\n\r\n')
    assert closed_soon(s)
    s.close()
    # a DATA frame larger than SETTINGS_MAX_FRAME_SIZE (16384): FRAME_SIZE_ERROR (6)
    s = tls_connect(port, ctx)
    s.sendall(H2_PREFACE + h2_frame(4, 0, 0, b'') + h2_frame(0, 0, 1, b'\0' * 20000))
    assert read_goaway(s) == 6
    assert closed_soon(s)
    s.close()
    # HEADERS on stream 0: PROTOCOL_ERROR (1)
    s = tls_connect(port, ctx)
    s.sendall(H2_PREFACE + h2_frame(4, 0, 0, b'') + h2_frame(1, 5, 0, b'\x82'))
    assert read_goaway(s) == 1
    s.close()
    # garbage instead of TLS
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    s.sendall(H2_PREFACE)
    assert closed_soon(s)
    s.close()

    # the established connection still works
    q = make_query()
    path = '/dns-query?dns=' + b64url(q.to_wire())
    # HPACK: :method GET (idx 2), :scheme https (idx 7), :path literal (idx 4, not indexed),
    # :authority literal (idx 1)
    def literal(index, value):
        v = value.encode()
        assert len(v) < 127
        return bytes([index]) + bytes([len(v)]) + v
    block = b'\x82\x87' + literal(0x04, path) + literal(0x01, 'localhost')
    bystander.sendall(h2_frame(1, 5, 1, block))   # END_STREAM | END_HEADERS
    deadline = time.monotonic() + 5
    body = b''
    while True:
        head = recv_exact(bystander, 9, deadline)
        payload = recv_exact(bystander, int.from_bytes(head[:3], 'big'), deadline)
        if head[3] == 0 and int.from_bytes(head[5:9], 'big') == 1:   # DATA on stream 1
            body += payload
            if head[4] & 1:
                break
    assert dns.message.from_wire(body).id == q.id
    bystander.close()
    k.stop()
    assert 'GOAWAY' in k.stderr(), k.stderr()
