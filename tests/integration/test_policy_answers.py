"""The answers of policy.DENY, DENY_MSG, DROP, REFUSE and NO_ANSWER, as
Knot Resolver 5.6 sends them (loopback only: no rule here lets a query reach
any other server).  The same tests pass against Knot Resolver itself:

    KRESD_BIN=$PWD/tests/lab/knot_resolver_as_kresd.py \\
        /usr/bin/python3 -m pytest -q tests/integration/test_policy_answers.py
"""

import socket
import struct

import pytest

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from conftest import frame, tcp_connect, tcp_read_message, udp_raw

CONFIG = """
net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})
trust_anchors.remove('.')
policy.add(policy.suffix(policy.DENY, {{todname('deny.example.')}}))
policy.add(policy.suffix(policy.DENY_MSG('custom msg'), {{todname('msg.example.')}}))
policy.add(policy.suffix(policy.DENY_MSG('censored', 16), {{todname('cens.example.')}}))
policy.add(policy.suffix(policy.DROP, {{todname('drop.example.')}}))
policy.add(policy.suffix(policy.NO_ANSWER, {{todname('noans.example.')}}))
policy.add(policy.suffix(policy.REFUSE, {{todname('refuse.example.')}}))
"""

# Knot Resolver 5.6's answers to query(name, ...) below, byte for byte.
KR_DENY = bytes.fromhex(
    '12348583000100000001000101580444656e79074578616d706c650000010001c00c0006000100002a300026c00c'
    '066e6f626f647907696e76616c6964000000000100000e10000004b000093a8000002a3000002904d00000000000'
    '0a000f0006000f43523336')
KR_DENY_NO_EDNS = bytes.fromhex(
    '12348583000100000001000001580444656e79074578616d706c650000010001c00c0006000100002a300026c00c'
    '066e6f626f647907696e76616c6964000000000100000e10000004b000093a8000002a30')
KR_DENY_DO_AD_CD = bytes.fromhex(
    '12348593000100000001000101580444656e79074578616d706c650000010001c00c0006000100002a300026c00c'
    '066e6f626f647907696e76616c6964000000000100000e10000004b000093a8000002a3000002904d00000800000'
    '0a000f0006000f43523336')
KR_DROP = bytes.fromhex(
    '1234818200010000000000010464726f70076578616d706c65000001000100002904d000000000000a000f000600'
    '1255354b4c')
KR_DROP_NO_EDNS = bytes.fromhex('1234818200010000000000000464726f70076578616d706c650000010001')
KR_REFUSE = bytes.fromhex(
    '12348185000100000000000106726566757365076578616d706c65000001000100002904d000000000000a000f00'
    '06001245494d34')
KR_REFUSE_DO_AD_CD = bytes.fromhex(
    '12348195000100000000000106726566757365076578616d706c65000001000100002904d000008000000a000f00'
    '06001245494d34')


@pytest.fixture
def server(make_kresd, port):
    k = make_kresd(CONFIG.format(port=port), instance='pol').start()
    k.port = port
    yield k
    if k.running():
        k.stop()


def query(name, edns=True, do_ad_cd=False):
    """The query dnspython's make_query() writes: ID 0x1234, RD, type A."""
    flags = 0x0100 | (0x0030 if do_ad_cd else 0)
    w = struct.pack('!HHHHHH', 0x1234, flags, 1, 0, 0, 1 if edns else 0)
    w += dns.name.from_text(name).to_wire() + struct.pack('!HH', 1, 1)
    if edns:
        w += b'\x00' + struct.pack('!HHIH', 41, 1232, 0x8000 if do_ad_cd else 0, 0)
    return w


def ask_udp(port, wire, timeout=2.0):
    return udp_raw(wire, port, timeout=timeout)


def ask_tcp(port, wire, timeout=2.0):
    s = tcp_connect(port)
    try:
        s.settimeout(timeout)
        s.sendall(frame(wire))
        try:
            return tcp_read_message(s, timeout)
        except (socket.timeout, TimeoutError, ConnectionError):
            return None
    finally:
        s.close()


def same(a, b):
    """The same message, names compared in their case: Knot Resolver 5.6
    writes the SOA owner and MNAME of a mixed-case query now as a pointer to
    the question, now in full (not the same for the same query); ours always
    as a pointer."""
    assert a is not None and b is not None
    return dns.message.from_wire(a).to_text() == dns.message.from_wire(b).to_text()


def ede(msg):
    return [(o.code, o.text) for o in msg.options if o.otype == dns.edns.EDE]


@pytest.mark.parametrize('ask', [ask_udp, ask_tcp], ids=['udp', 'tcp'])
def test_deny(server, ask):
    """NXDOMAIN, AA; authority: the query name's SOA (MNAME = the name,
    nobody.invalid., 1 3600 1200 604800 10800, TTL 10800); EDE 15 'CR36'.
    The name is the query's own spelling (0x20 case kept); AD is cleared.
    A lower-case query gets exactly Knot Resolver's bytes."""
    assert same(ask(server.port, query('X.Deny.Example.')), KR_DENY)
    assert same(ask(server.port, query('X.Deny.Example.', edns=False)), KR_DENY_NO_EDNS)
    assert same(ask(server.port, query('X.Deny.Example.', do_ad_cd=True)), KR_DENY_DO_AD_CD)
    lower = KR_DENY.replace(b'\x01X\x04Deny\x07Example', b'\x01x\x04deny\x07example')
    assert lower != KR_DENY
    assert ask(server.port, query('x.deny.example.')) == lower
    r = dns.message.from_wire(ask(server.port, query('deny.example.')))
    assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AA
    assert not r.answer and not r.additional
    (soa,) = r.authority
    assert soa.name == dns.name.from_text('deny.example.') and soa.ttl == 10800
    assert soa.to_text().split()[-7:] == ['deny.example.', 'nobody.invalid.', '1', '3600', '1200',
                                         '604800', '10800']
    assert ede(r) == [(15, 'CR36')]


def test_deny_msg(server):
    """DENY_MSG(msg): as DENY plus additional `explanation.invalid. 10800
    TXT "msg"`; the EDE text stays 'CR36'. DENY_MSG(msg, 16): EDE 16."""
    for name, text, code in (('www.msg.example.', 'custom msg', 15),
                             ('cens.example.', 'censored', 16)):
        for ask in (ask_udp, ask_tcp):
            r = dns.message.from_wire(ask(server.port, query(name)))
            assert r.rcode() == dns.rcode.NXDOMAIN
            assert r.flags & (dns.flags.QR | dns.flags.AA | dns.flags.RD | dns.flags.RA | dns.flags.AD) \
                == dns.flags.QR | dns.flags.AA | dns.flags.RD | dns.flags.RA
            assert not r.answer
            (soa,) = r.authority
            assert soa.name == dns.name.from_text(name) and soa.rdtype == dns.rdatatype.SOA
            assert soa.to_text().split()[-7:-5] == [name, 'nobody.invalid.']
            (txt,) = r.additional
            assert txt.name == dns.name.from_text('explanation.invalid.')
            assert (txt.rdtype, txt.rdclass, txt.ttl) == (dns.rdatatype.TXT, dns.rdataclass.IN, 10800)
            assert [s for rd in txt for s in rd.strings] == [text.encode()]
            assert ede(r) == [(code, 'CR36')]


@pytest.mark.parametrize('ask', [ask_udp, ask_tcp], ids=['udp', 'tcp'])
def test_drop_is_servfail_prohibited(server, ask):
    """DROP answers (Knot Resolver 5 drops nothing): SERVFAIL, EDE 18 'U5KL'."""
    assert ask(server.port, query('drop.example.')) == KR_DROP
    assert ask(server.port, query('drop.example.', edns=False)) == KR_DROP_NO_EDNS
    r = dns.message.from_wire(ask(server.port, query('a.b.Drop.Example.')))
    assert r.rcode() == dns.rcode.SERVFAIL and ede(r) == [(18, 'U5KL')]


@pytest.mark.parametrize('ask', [ask_udp, ask_tcp], ids=['udp', 'tcp'])
def test_refuse(server, ask):
    """REFUSED, EDE 18 'EIM4', no AA, AD cleared."""
    assert ask(server.port, query('refuse.example.')) == KR_REFUSE
    assert ask(server.port, query('refuse.example.', do_ad_cd=True)) == KR_REFUSE_DO_AD_CD


def test_no_answer(server):
    """NO_ANSWER sends nothing, over UDP and over TCP; the server goes on."""
    assert ask_udp(server.port, query('noans.example.'), timeout=1.0) is None
    assert ask_tcp(server.port, query('www.noans.example.'), timeout=1.0) is None
    assert same(ask_udp(server.port, query('X.Deny.Example.')), KR_DENY)
