"""DNS over UDP and TCP before recursion exists: malformed input, TCP
framing (pipelining, partial writes), truncation and robustness."""

import random
import socket
import struct
import threading
import time

import pytest

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode

from conftest import (frame, make_query, nsid_of, tcp, tcp_connect, tcp_read_message, udp,
                      udp_raw)

CONFIG = """
net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})
modules.load('nsid')
nsid.name('{nsid}')
"""


@pytest.fixture
def server(make_kresd, port):
    k = make_kresd(CONFIG.format(port=port, nsid='wire'), instance='wire').start()
    k.port = port
    yield k
    if k.running():
        k.stop()


def header(id_=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack('!HHHHHH', id_, flags, qd, an, ns, ar)


def question(name='localhost.', rdtype=1, rdclass=1):
    return dns.name.from_text(name).to_wire() + struct.pack('!HH', rdtype, rdclass)


def parse(wire):
    return dns.message.from_wire(wire)


def still_answers(port):
    r = udp(make_query(), port)
    assert r.rcode() == dns.rcode.NOERROR
    r = tcp(make_query(), port)
    assert r.rcode() == dns.rcode.NOERROR


# ---------------------------------------------------------------- malformed

MALFORMED = {
    'qdcount-2': header(qd=2) + question() + question('foo.localhost.'),
    'qdcount-2-one-question': header(qd=2) + question(),
    'qdcount-0': header(qd=0),
    'header-only': header(),
    'truncated-question': header() + question()[:-3],
    'trailing-garbage': header() + question() + b'\x00\x00\x00',
    'compression-loop': header() + b'\xc0\x0c\x00\x01\x00\x01',
    'two-opt-records': header(ar=2) + question() + 2 * (b'\x00' + struct.pack('!HHIH', 41, 1232, 0, 0)),
}


@pytest.mark.parametrize('key', list(MALFORMED))
def test_malformed_query_gets_formerr(server, key):
    wire = MALFORMED[key]
    reply = udp_raw(wire, server.port)
    assert reply is not None, 'no reply to a malformed query with a readable header'
    r = parse(reply)
    assert r.id == 0x1234
    assert r.flags & dns.flags.QR
    assert r.rcode() == dns.rcode.FORMERR
    # the same over TCP
    s = tcp_connect(server.port)
    try:
        s.sendall(frame(wire))
        r = parse(tcp_read_message(s))
        assert r.id == 0x1234 and r.rcode() == dns.rcode.FORMERR
    finally:
        s.close()
    still_answers(server.port)


@pytest.mark.parametrize('wire', [b'', b'\x12', b'\x12\x34\x01\x00\x00', b'\x00' * 11],
                         ids=['empty', '1-byte', '5-bytes', '11-bytes'])
def test_shorter_than_header_is_dropped(server, wire):
    assert udp_raw(wire, server.port, timeout=0.3) is None
    still_answers(server.port)


def test_response_is_not_answered(server):
    """A message with QR=1 is never answered (no reflection loops)."""
    wire = bytearray(make_query().to_wire())
    wire[2] |= 0x80
    assert udp_raw(bytes(wire), server.port, timeout=0.3) is None
    still_answers(server.port)


@pytest.mark.parametrize('opcode', [2, 4, 5])   # STATUS, NOTIFY, UPDATE
def test_other_opcodes_notimp(server, opcode):
    wire = bytearray(make_query().to_wire())
    wire[2] = (wire[2] & 0x87) | (opcode << 3)
    r = parse(udp_raw(bytes(wire), server.port))
    assert r.rcode() == dns.rcode.NOTIMP
    assert r.opcode() == opcode


def test_edns_version_1_gets_badvers(server):
    q = make_query()
    q.use_edns(1)
    r = udp(q, server.port)
    assert r.rcode() == dns.rcode.BADVERS
    assert r.edns == 0


def test_random_garbage_does_not_hurt(server):
    rng = random.Random(5353)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _ in range(500):
            n = rng.choice([0, 1, 5, 12, 13, 30, 100, 512, 1500])
            data = bytes(rng.getrandbits(8) for _ in range(n))
            s.sendto(data, ('127.0.0.1', server.port))
        # valid-looking headers with random bodies
        for i in range(300):
            body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 64)))
            s.sendto(header(id_=i, qd=rng.randrange(0, 3), an=rng.randrange(0, 2),
                            ar=rng.randrange(0, 2)) + body, ('127.0.0.1', server.port))
    finally:
        s.close()
    time.sleep(0.2)
    assert server.running()
    still_answers(server.port)
    stats = server.lua('worker.stats()')
    assert "['dropped']" in stats


# ---------------------------------------------------------------- TCP framing

def test_tcp_pipelining(server):
    """20 framed queries in one write: 20 answers, IDs matching (in any
    order)."""
    queries = []
    for i in range(20):
        name = 'localhost.' if i % 2 == 0 else f'q{i}.localhost.'
        q = make_query(name, 'A' if i % 3 else 'AAAA')
        q.id = 1000 + i
        queries.append(q)
    s = tcp_connect(server.port)
    try:
        s.sendall(b''.join(frame(q.to_wire()) for q in queries))
        answers = {}
        for _ in range(20):
            r = parse(tcp_read_message(s, timeout=3))
            answers[r.id] = r
    finally:
        s.close()
    assert sorted(answers) == [q.id for q in queries]
    for q in queries:
        r = answers[q.id]
        assert r.question == q.question
        assert r.rcode() == dns.rcode.NOERROR


def test_tcp_partial_writes(server):
    """A query sent one byte at a time is still answered."""
    q = make_query('localhost.', 'A', nsid=True)
    data = frame(q.to_wire())
    s = tcp_connect(server.port)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
            time.sleep(0.002)
        r = parse(tcp_read_message(s))
    finally:
        s.close()
    assert r.id == q.id and r.rcode() == dns.rcode.NOERROR
    assert nsid_of(r) == 'wire'


def test_tcp_two_queries_split_across_writes(server):
    """Frame boundaries that do not match write boundaries."""
    q1, q2 = make_query('localhost.'), make_query('x.localhost.')
    data = frame(q1.to_wire()) + frame(q2.to_wire())
    s = tcp_connect(server.port)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cut = len(frame(q1.to_wire())) + 1    # first frame + 1 byte of the second
        s.sendall(data[:cut])
        time.sleep(0.05)
        s.sendall(data[cut:])
        ids = {parse(tcp_read_message(s)).id for _ in range(2)}
    finally:
        s.close()
    assert ids == {q1.id, q2.id}


def test_tcp_half_close_still_answered(server):
    q = make_query()
    s = tcp_connect(server.port)
    try:
        s.sendall(frame(q.to_wire()))
        s.shutdown(socket.SHUT_WR)
        r = parse(tcp_read_message(s))
        assert r.id == q.id
    finally:
        s.close()


def test_tcp_many_connections(server):
    socks = [tcp_connect(server.port) for _ in range(50)]
    try:
        qs = []
        for s in socks:
            q = make_query()
            qs.append(q)
            s.sendall(frame(q.to_wire()))
        for s, q in zip(socks, qs):
            assert parse(tcp_read_message(s)).id == q.id
    finally:
        for s in socks:
            s.close()
    still_answers(server.port)


@pytest.mark.parametrize('payload', [b'\x00\x00', b'\x00\x05\x12\x34\x01\x00\x00',
                                     b'\x00\x40' + b'\x00' * 10],
                         ids=['zero-length-frame', 'frame-shorter-than-header',
                              'incomplete-frame-then-close'])
def test_tcp_bad_frames_do_not_hurt(server, payload):
    s = tcp_connect(server.port)
    try:
        s.sendall(payload)
        s.settimeout(1)
        try:
            s.recv(4096)      # a close, a reset or nothing: all fine
        except (socket.timeout, ConnectionResetError):
            pass
    finally:
        s.close()
    assert server.running()
    still_answers(server.port)


@pytest.mark.parametrize('payload', [b'\x00\x00', b'\x00\x05\x12\x34\x01\x00\x00'],
                         ids=['zero-length-frame', 'frame-shorter-than-header'])
def test_tcp_frame_that_cannot_be_dns_closes_the_connection(server, payload):
    """A frame that cannot hold a DNS header means the stream is not DNS:
    the connection is closed at once, as Knot Resolver does, not left to idle."""
    s = tcp_connect(server.port)
    try:
        s.sendall(payload)
        s.settimeout(2)
        start = time.monotonic()
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            data = b''
        assert data == b''
        assert time.monotonic() - start < 2
    finally:
        s.close()
    still_answers(server.port)


def test_client_closes_without_reading(server):
    s = tcp_connect(server.port)
    s.sendall(b''.join(frame(make_query().to_wire()) for _ in range(100)))
    s.close()
    time.sleep(0.1)
    assert server.running()
    still_answers(server.port)


# ---------------------------------------------------------------- sizes

LONG_NAME = '.'.join(['a' * 60] * 4)[:240] + '.localhost.'


@pytest.fixture
def big_nsid_server(make_kresd, port):
    """An NSID of 255 bytes: the answer to a long name with NSID is ~550
    bytes, over the 512 bytes a client may offer."""
    k = make_kresd(CONFIG.format(port=port, nsid='n' * 255), instance='bignsid').start()
    k.port = port
    yield k
    if k.running():
        k.stop()


def test_big_answer_fits_large_buffer(big_nsid_server):
    q = make_query(LONG_NAME, 'A', nsid=True, payload=1232)
    r = udp(q, big_nsid_server.port)
    assert r.rcode() == dns.rcode.NOERROR
    assert nsid_of(r) == 'n' * 255
    assert not r.flags & dns.flags.TC


def test_big_answer_over_tcp(big_nsid_server):
    q = make_query(LONG_NAME, 'A', nsid=True, payload=512)
    r = tcp(q, big_nsid_server.port)
    assert r.rcode() == dns.rcode.NOERROR and nsid_of(r) == 'n' * 255


@pytest.mark.parametrize('payload', [512, 100])
def test_too_big_for_udp_is_truncated_not_dropped(big_nsid_server, payload):
    q = make_query(LONG_NAME, 'A', nsid=True, payload=payload)
    wire = udp_raw(q.to_wire(), big_nsid_server.port, timeout=1.0)
    assert wire is not None, 'no answer at all'
    assert len(wire) <= 512
    r = parse(wire)
    assert r.id == q.id
    assert (r.flags & dns.flags.TC) or nsid_of(r) is None


def test_answer_without_edns_fits_512(big_nsid_server):
    r = udp(make_query(LONG_NAME, 'A'), big_nsid_server.port)
    assert r.rcode() == dns.rcode.NOERROR
    assert len(r.to_wire()) <= 512


def test_tcp_slow_reader_gets_every_answer_in_one_piece(big_nsid_server):
    """A client that sends 12,000 pipelined queries for ~550-byte answers
    with a small receive buffer and reads only later: 6.6 MB of answers
    outgrow the socket's send buffer (4 MiB at most here), so part of a
    batch is sent and the rest queued, and reading pauses while 256 KiB
    are queued; yet every answer arrives once, framed intact."""
    N = 12000
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(('127.0.0.1', big_nsid_server.port))
    queries = []
    for i in range(N):
        q = make_query(LONG_NAME, 'A', nsid=True)
        q.id = i
        queries.append(frame(q.to_wire()))
    # The server stops reading while answers pile up: send from a thread.
    sender = threading.Thread(target=s.sendall, args=(b''.join(queries),), daemon=True)
    try:
        sender.start()
        time.sleep(0.5)  # answers pile up on the server's side
        seen = set()
        for _ in range(N):
            r = parse(tcp_read_message(s, timeout=10))
            assert r.rcode() == dns.rcode.NOERROR and nsid_of(r) == 'n' * 255
            assert r.id not in seen
            seen.add(r.id)
        sender.join(10)
    finally:
        s.close()
    assert seen == set(range(N))
    still_answers(big_nsid_server.port)
