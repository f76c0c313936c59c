"""The special-use names and reverse zones the resolver answers itself, and
where they stand among the policy rules and the hints, as in Knot Resolver
5.6 (its policy.special_names):

* test., invalid., onion., local., home.arpa., the private and special
  reverse zones and the documentation ranges: NXDOMAIN even at the apex,
  AA, the SOA of the query name (owner and MNAME), additional TXT
  explanation.invalid., EDE 21 (Not Supported) 'CR36';
* localhost. and the loopback reverse names: 5.6's small local zones;
* the configured policy rules come first (PASS, FORWARD, STUB on a special
  name let it resolve; a DENY beats localhost. and a hint), the hints after
  the special names (a hinted private address has no PTR);
* other classes and meta types (ANY, AXFR...) get SERVFAIL before all that.

Loopback only: the FORWARD/STUB target is a small answering server on
127.0.0.1 run by the test.  The same tests pass against Knot Resolver:

    KRESD_BIN=$PWD/tests/lab/knot_resolver_as_kresd.py \\
        /usr/bin/python3 -m pytest -q tests/integration/test_special_names.py
"""

import socket
import threading

import pytest

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from conftest import free_port, udp

SPECIAL_USE = ('Blocking is mandated by standards, see references on '
               'https://www.iana.org/assignments/special-use-domain-names/'
               'special-use-domain-names.xhtml')
LOCALLY_SERVED = ('Blocking is mandated by standards, see references on '
                  'https://www.iana.org/assignments/locally-served-dns-zones/'
                  'locally-served-dns-zones.xhtml')
FAKE_A = '192.0.2.53'
FAKE_PTR = 'fake.example.'
V6_LOOPBACK = '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.'

CONFIG = """
net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})
trust_anchors.remove('.')
hints['hinted.example'] = '198.18.0.2'
hints['denied.example'] = '198.18.0.3'
hints['privhost.example'] = '192.168.5.5'
policy.add(policy.suffix(policy.DENY, {{todname('blocked.localhost.'), todname('denied.example.')}}))
policy.add(policy.suffix(policy.PASS, {{todname('pass.test.')}}))
policy.add(policy.suffix(policy.FORWARD('127.0.0.1@{fake}'),
                         {{todname('fwd.test.'), todname('5.2.0.192.in-addr.arpa.')}}))
policy.add(policy.suffix(policy.STUB('127.0.0.1@{fake}'), {{todname('stub.local.')}}))
policy.add(policy.suffix(policy.FLAGS('NO_CACHE'), {{todname('flags.invalid.')}}))
hints['lanhost.example'] = '192.168.7.7'
hints['tv.local'] = '198.18.0.32'
hints['nas.local'] = '198.18.0.33'
hints['foo.example.arpa'] = '198.18.0.31'
policy.add(policy.suffix(policy.PASS, {{todname('tv.local.'), todname('7.168.192.in-addr.arpa.')}}))
"""


class FakeServer:
    """Answers every question over UDP, authoritatively: A with FAKE_A, PTR
    with FAKE_PTR, other types NODATA.  Records the names asked."""

    def __init__(self):
        self.port = free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', self.port))
        self.sock.settimeout(0.2)
        self.asked = []
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                wire, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            try:
                q = dns.message.from_wire(wire)
            except Exception:
                continue
            r = dns.message.make_response(q)
            r.flags |= dns.flags.AA
            question = q.question[0]
            self.asked.append(question.name.to_text().lower())
            if question.rdtype == dns.rdatatype.A:
                r.answer.append(dns.rrset.from_text(question.name, 300, 'IN', 'A', FAKE_A))
            elif question.rdtype == dns.rdatatype.PTR:
                r.answer.append(dns.rrset.from_text(question.name, 300, 'IN', 'PTR', FAKE_PTR))
            self.sock.sendto(r.to_wire(), peer)

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def server(make_kresd, port):
    fake = FakeServer()
    k = make_kresd(CONFIG.format(port=port, fake=fake.port), instance='special').start()
    k.port = port
    k.fake = fake
    yield k
    if k.running():
        k.stop()
    fake.stop()


def ask(k, name, rdtype='A', rdclass='IN', timeout=2.0):
    q = dns.message.make_query(name, rdtype, rdclass, use_edns=0)
    return udp(q, k.port, timeout=timeout)


def ede(r):
    return [(o.code, o.text) for o in r.options if o.otype == dns.edns.EDE]


def records(section):
    return [(rrs.name.to_text(), rrs.ttl, dns.rdatatype.to_text(rrs.rdtype), rr.to_text())
            for rrs in section for rr in rrs]


def soa_text(owner, mname):
    return (owner, 10800, 'SOA', f'{mname} nobody.invalid. 1 3600 1200 604800 10800')


def assert_blocked(r, name, text):
    """5.6's policy.DENY_MSG(text, EDE 21) answer for `name`."""
    assert r.rcode() == dns.rcode.NXDOMAIN, r
    assert r.flags & dns.flags.AA and not r.flags & dns.flags.AD, r
    assert not r.answer, r
    assert records(r.authority) == [soa_text(name, name)], r
    assert records(r.additional) == [('explanation.invalid.', 10800, 'TXT', f'"{text}"')], r
    assert ede(r) == [(21, 'CR36')], r


# ---------------------------------------------------------------- blocked names

@pytest.mark.parametrize('name', [
    'test.', 'x.test.', 'invalid.', 'a.b.invalid.', 'onion.', 'abc.onion.', 'local.',
    'printer.local.'])
def test_special_use_names_are_nxdomain(server, name):
    """RFC 6761/7686/6762 names: NXDOMAIN at the apex too, for every type."""
    for rdtype in ('A', 'AAAA', 'SOA', 'NS', 'TXT'):
        assert_blocked(ask(server, name, rdtype), name, SPECIAL_USE)


@pytest.mark.parametrize('name', [
    'home.arpa.', 'nas.home.arpa.',
    '10.in-addr.arpa.', '1.0.0.10.in-addr.arpa.', '1.0.16.172.in-addr.arpa.',
    '1.0.31.172.in-addr.arpa.', '1.0.168.192.in-addr.arpa.', '0.in-addr.arpa.',
    '1.0.254.169.in-addr.arpa.', '255.255.255.255.in-addr.arpa.', '1.0.64.100.in-addr.arpa.',
    '1.0.127.100.in-addr.arpa.',
    # the documentation ranges (RFC 5737, RFC 3849)
    '1.2.0.192.in-addr.arpa.', '1.100.51.198.in-addr.arpa.', '113.0.203.in-addr.arpa.',
    '8.b.d.0.1.0.0.2.ip6.arpa.', '1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.',
    # unique-local, link-local and the unspecified address
    'x.d.f.ip6.arpa.', 'b.e.f.ip6.arpa.', '0.' * 32 + 'ip6.arpa.'])
def test_locally_served_zones_are_nxdomain(server, name):
    for rdtype in ('PTR', 'SOA', 'A'):
        assert_blocked(ask(server, name, rdtype), name, LOCALLY_SERVED)


def test_neighbours_are_not_blocked(server):
    """Just outside the zones: resolved (no root answers here), not blocked.
    Asked all at once: each may take the whole resolution time."""
    names = ['1.0.15.172.in-addr.arpa.', '1.0.32.172.in-addr.arpa.', '1.0.63.100.in-addr.arpa.',
             '1.0.18.198.in-addr.arpa.', 'in-addr.arpa.', 'x.test.example.',
             'localhost.example.']
    socks = []
    for name in names:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(15.0)
        s.sendto(dns.message.make_query(name, 'PTR', use_edns=0).to_wire(),
                 ('127.0.0.1', server.port))
        socks.append(s)
    for name, s in zip(names, socks):
        with s:
            r = dns.message.from_wire(s.recv(65535))
        assert r.question[0].name == dns.name.from_text(name)
        assert not r.flags & dns.flags.AA and (21, 'CR36') not in ede(r), r


def test_the_name_is_written_as_asked(server):
    """The SOA owner and MNAME are the question name in its own spelling."""
    r = ask(server, 'Foo.Test.')
    assert [(rrs.name.to_text(), rrs[0].mname.to_text()) for rrs in r.authority] == \
        [('Foo.Test.', 'Foo.Test.')]
    r = ask(server, 'X.Home.Arpa.', 'PTR')
    assert str(r.authority[0].name) == 'X.Home.Arpa.'


# ---------------------------------------------------------------- localhost

def test_localhost_zone(server):
    def answer(name, rdtype):
        r = ask(server, name, rdtype)
        assert r.flags & dns.flags.AA and not ede(r), r
        return dns.rcode.to_text(r.rcode()), records(r.answer), records(r.authority)

    nodata = ('NOERROR', [], [soa_text('localhost.', 'localhost.')])
    assert answer('localhost.', 'A') == ('NOERROR', [('localhost.', 900, 'A', '127.0.0.1')], [])
    assert answer('localhost.', 'AAAA') == ('NOERROR', [('localhost.', 900, 'AAAA', '::1')], [])
    assert answer('a.b.localhost.', 'A') == \
        ('NOERROR', [('a.b.localhost.', 900, 'A', '127.0.0.1')], [])
    assert answer('localhost.', 'NS') == \
        ('NOERROR', [('localhost.', 900, 'NS', 'localhost.')], [])
    assert answer('localhost.', 'SOA') == ('NOERROR', [soa_text('localhost.', 'localhost.')], [])
    assert answer('localhost.', 'MX') == nodata
    assert answer('x.localhost.', 'SOA') == nodata
    assert answer('x.localhost.', 'NS') == nodata
    # Names below the question are written in its spelling.
    r = ask(server, 'Foo.LocalHost.', 'MX')
    assert records(r.authority) == [soa_text('LocalHost.', 'LocalHost.')]
    r = ask(server, 'LocalHost.', 'NS')
    assert records(r.answer) == [('LocalHost.', 900, 'NS', 'LocalHost.')]


def test_loopback_reverse_zones(server):
    def answer(name, rdtype):
        r = ask(server, name, rdtype)
        assert r.flags & dns.flags.AA and not ede(r), r
        return dns.rcode.to_text(r.rcode()), records(r.answer), records(r.authority)

    soa = soa_text('127.in-addr.arpa.', 'localhost.')
    ptr = ('1.0.0.127.in-addr.arpa.', 900, 'PTR', 'localhost.')
    assert answer('1.0.0.127.in-addr.arpa.', 'PTR') == ('NOERROR', [ptr], [])
    assert answer('127.in-addr.arpa.', 'SOA') == ('NOERROR', [soa], [])
    assert answer('127.in-addr.arpa.', 'NS') == \
        ('NOERROR', [('127.in-addr.arpa.', 900, 'NS', 'localhost.')], [])
    # Empty non-terminals above the PTR name: NODATA; other names and
    # other types of the PTR name (5.6's rule): NXDOMAIN.
    assert answer('0.0.127.in-addr.arpa.', 'PTR') == ('NOERROR', [], [soa])
    assert answer('0.127.in-addr.arpa.', 'A') == ('NOERROR', [], [soa])
    assert answer('2.0.0.127.in-addr.arpa.', 'PTR') == ('NXDOMAIN', [], [soa])
    assert answer('1.0.0.127.in-addr.arpa.', 'A') == ('NXDOMAIN', [], [soa])
    assert answer('127.in-addr.arpa.', 'PTR') == ('NXDOMAIN', [], [soa])
    # ::1: its PTR; its SOA and NS are those of 127.in-addr.arpa.
    assert answer(V6_LOOPBACK, 'PTR') == ('NOERROR', [(V6_LOOPBACK, 900, 'PTR', 'localhost.')], [])
    assert answer(V6_LOOPBACK, 'SOA') == ('NOERROR', [soa], [])
    assert answer(V6_LOOPBACK, 'A') == ('NXDOMAIN', [], [soa])


# ---------------------------------------------------------------- policy first

def test_deny_rule_beats_localhost(server):
    for name in ('blocked.localhost.', 'x.Blocked.localhost.'):
        r = ask(server, name)
        assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AA, r
        assert records(r.authority) == [soa_text(name, name)], r
        assert not r.additional and ede(r) == [(15, 'CR36')], r
    assert records(ask(server, 'other.localhost.').answer) == \
        [('other.localhost.', 900, 'A', '127.0.0.1')]


def test_forward_and_stub_rules_let_special_names_resolve(server):
    for name, rdtype, data in (('fwd.test.', 'A', FAKE_A), ('www.fwd.test.', 'A', FAKE_A),
                               ('stub.local.', 'A', FAKE_A),
                               ('5.2.0.192.in-addr.arpa.', 'PTR', FAKE_PTR)):
        r = ask(server, name, rdtype, timeout=5.0)
        assert r.rcode() == dns.rcode.NOERROR and not ede(r), r
        assert [rr.to_text() for rrs in r.answer for rr in rrs] == [data], r
    assert {'fwd.test.', 'www.fwd.test.', 'stub.local.', '5.2.0.192.in-addr.arpa.'} <= \
        set(server.fake.asked)
    # The rest of the zones stays blocked.
    assert_blocked(ask(server, 'other.test.'), 'other.test.', SPECIAL_USE)
    assert_blocked(ask(server, '6.2.0.192.in-addr.arpa.', 'PTR'), '6.2.0.192.in-addr.arpa.',
                   LOCALLY_SERVED)


def test_pass_rule_lets_a_special_name_resolve(server):
    """PASS is a final decision: the name is resolved (no root answers here),
    not blocked."""
    r = ask(server, 'www.pass.test.', timeout=15.0)
    assert r.rcode() == dns.rcode.SERVFAIL, r
    assert not r.flags & dns.flags.AA and (21, 'CR36') not in ede(r), r


def test_chain_rules_do_not_exempt(server):
    """FLAGS goes on to the next rule: the name is still blocked."""
    assert_blocked(ask(server, 'flags.invalid.'), 'flags.invalid.', SPECIAL_USE)


# ---------------------------------------------------------------- hints after

def test_hints_come_after_policy_and_special_names(server):
    r = ask(server, 'hinted.example.')
    assert records(r.answer) == [('hinted.example.', 5, 'A', '198.18.0.2')], r
    assert not r.flags & dns.flags.AA
    r = ask(server, 'hinted.example.', 'MX')
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and not r.authority, r
    r = ask(server, '2.0.18.198.in-addr.arpa.', 'PTR')
    assert records(r.answer) == [('2.0.18.198.in-addr.arpa.', 5, 'PTR', 'hinted.example.')], r
    # A DENY rule on a hinted name.
    r = ask(server, 'denied.example.')
    assert r.rcode() == dns.rcode.NXDOMAIN and ede(r) == [(15, 'CR36')], r
    # The name of a private address is blocked before the hints see it.
    assert records(ask(server, 'privhost.example.').answer) == \
        [('privhost.example.', 5, 'A', '192.168.5.5')]
    assert_blocked(ask(server, '5.5.168.192.in-addr.arpa.', 'PTR'), '5.5.168.192.in-addr.arpa.',
                   LOCALLY_SERVED)


def test_pass_rules_let_hints_through(server):
    """PASS skips the special names, not the hints."""
    r = ask(server, 'tv.local.')
    assert records(r.answer) == [('tv.local.', 5, 'A', '198.18.0.32')], r
    assert_blocked(ask(server, 'nas.local.'), 'nas.local.', SPECIAL_USE)
    r = ask(server, '7.7.168.192.in-addr.arpa.', 'PTR')
    assert records(r.answer) == [('7.7.168.192.in-addr.arpa.', 5, 'PTR', 'lanhost.example.')], r


def test_hinted_names_under_arpa_are_reverse_only(server):
    """A hint for a name under arpa. gives its address a PTR, but the name
    itself is not answered from the hints (it is resolved)."""
    r = ask(server, '31.0.18.198.in-addr.arpa.', 'PTR')
    assert records(r.answer) == [('31.0.18.198.in-addr.arpa.', 5, 'PTR', 'foo.example.arpa.')], r
    for rdtype in ('A', 'MX'):
        r = ask(server, 'foo.example.arpa.', rdtype, timeout=15.0)
        assert not r.answer and r.rcode() != dns.rcode.NOERROR, r
        assert not r.flags & dns.flags.AA and (21, 'CR36') not in ede(r), r


# ---------------------------------------------------------------- not resolvable

@pytest.mark.parametrize('name', ['hinted.example.', 'localhost.', 'blocked.localhost.',
                                  'x.test.', 'denied.example.', '1.0.0.127.in-addr.arpa.'])
def test_meta_types_and_other_classes_are_servfail(server, name):
    """Before any rule, special name or hint: SERVFAIL, nothing else."""
    for rdtype, rdclass in (('ANY', 'IN'), ('AXFR', 'IN'), ('A', 'CH'), ('A', 'ANY')):
        r = ask(server, name, rdtype, rdclass)
        assert r.rcode() == dns.rcode.SERVFAIL, r
        assert not r.answer and not r.authority and not r.additional, r
        assert not r.flags & dns.flags.AA and not ede(r), r
