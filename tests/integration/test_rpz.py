"""policy.rpz() and policy.ANSWER(), as Knot Resolver 5.6 answers them
(loopback only: the root hints point at 127.0.0.9, where nothing listens).
The same tests run against Knot Resolver itself:

    KRESD_BIN=$PWD/tests/lab/knot_resolver_as_kresd.py \\
        /usr/bin/python3 -m pytest -q tests/integration/test_rpz.py

There test_rpz_file_change_takes_effect is skipped: 5.6 watches the file
with inotify through lua-cqueues, which Debian's knot-resolver package does
not pull in (without it, 5.6 logs that it does not watch and goes on).
"""

import os
import socket
import time

import pytest

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from conftest import make_query, tcp, udp

REFERENCE = 'knot_resolver_as_kresd' in os.environ.get('KRESD_BIN', '')

ZONE = """$TTL 300
$ORIGIN rpz.example.
@               SOA localhost. root.localhost. ( 1 3600
                    1200 604800 10800 )
                NS  localhost.
nx.example      CNAME .
*.wild.example  CNAME .
nodata.example  CNAME *.
pass.example    CNAME rpz-passthru.
drop.example    CNAME rpz-drop.
tc.example      CNAME rpz-tcp-only.
data.example    600 A 192.0.2.1
data.example    A 192.0.2.2
data.example    AAAA 2001:db8::1
data.example    TXT "hello world" "two"
mx.example      MX 10 mail.example.
Mixed.Example   A 192.0.2.9
*.wildata.example A 192.0.2.10
cust.example    CNAME other.example.
x.example       DNAME foo.
"""

CONFIG = """
net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})
trust_anchors.remove('.')
policy.add(policy.rpz(policy.DENY, '{zone}'))
policy.add(policy.suffix(policy.REFUSE, {{todname('other.example.')}}))
policy.add(policy.suffix(policy.ANSWER({{[kres.type.A] = {{rdata = kres.str2ip('192.0.2.7'), ttl = 300}}}}, true),
                         {{todname('answer.example.')}}))
policy.add(policy.suffix(policy.ANSWER({{[kres.type.A] = {{rdata = {{kres.str2ip('192.0.2.8'), kres.str2ip('198.51.100.1')}}}}}}),
                         {{todname('chain.example.')}}))
policy.add(policy.suffix(policy.REFUSE, {{todname('chain.example.')}}))
"""


def ede(msg):
    return [(o.code, o.text) for o in msg.options if o.otype == dns.edns.EDE]


@pytest.fixture
def server(make_kresd, port, short_tmp):
    rundir = short_tmp / 'rpz'
    rundir.mkdir()
    zone = rundir / 'block.rpz'
    zone.write_text(ZONE)
    k = make_kresd(CONFIG.format(port=port, zone=zone), rundir=rundir, instance='rpz').start()
    k.port = port
    k.zone = zone
    yield k
    if k.running():
        k.stop()


def ask(k, name, rdtype='A', transport=udp):
    return transport(make_query(name, rdtype, payload=1232), k.port, timeout=3)


def test_cname_dot_is_the_given_action(server):
    """`CNAME .` answers with policy.rpz's action: here DENY (NXDOMAIN, AA,
    the QNAME's SOA, EDE 15 'CR36'); `*.` triggers for every name below."""
    for name in ('nx.example.', 'NX.Example.', 'a.b.wild.example.', 'x.wild.example.'):
        r = ask(server, name)
        assert r.rcode() == dns.rcode.NXDOMAIN, name
        assert r.flags & dns.flags.AA
        (soa,) = r.authority
        assert soa.rdtype == dns.rdatatype.SOA and soa.ttl == 10800
        assert soa.name == dns.name.from_text(name)
        assert ede(r) == [(15, 'CR36')]


def test_triggers_are_exact_names_relative_to_the_zone(server):
    """wild.example itself (only *.wild.example is a trigger), a name below an
    exact trigger and the trigger's absolute owner go on to the next rules."""
    for name in ('wild.example.', 'a.nx.example.', 'nx.example.rpz.example.'):
        assert ask(server, name).rcode() == dns.rcode.SERVFAIL, name  # resolved
    # the next rule decides for a name the zone does not list
    assert ask(server, 'other.example.').rcode() == dns.rcode.REFUSED


def test_cname_star_is_nodata(server):
    """`CNAME *.`: NOERROR, AA, no answer, SOA with the TTL 1, EDE 4 '5DO5'."""
    for rdtype in ('A', 'TXT'):
        r = ask(server, 'nodata.example.', rdtype)
        assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
        assert not r.answer
        (soa,) = r.authority
        assert soa.ttl == 1 and soa.name == dns.name.from_text('nodata.example.')
        assert soa.to_text().split()[-7:-5] == ['nodata.example.', 'nobody.invalid.']
        assert ede(r) == [(4, '5DO5')]


def test_drop_and_tcp_only(server):
    """rpz-drop: SERVFAIL + EDE 18 'U5KL' (policy.DROP); rpz-tcp-only: TC
    over UDP."""
    r = ask(server, 'drop.example.')
    assert r.rcode() == dns.rcode.SERVFAIL and ede(r) == [(18, 'U5KL')]
    q = make_query('tc.example.', 'A', payload=1232)
    r = dns.query.udp(q, '127.0.0.1', port=server.port, timeout=3, ignore_trailing=True)
    assert r.flags & dns.flags.TC and not r.answer


def test_passthru_stops_the_rules(server):
    """rpz-passthru is PASS: the later REFUSE rule for chain.example does not
    apply to pass.example, and nothing blocks it (it is resolved: the root
    at 127.0.0.9 is unreachable, so SERVFAIL)."""
    r = ask(server, 'pass.example.')
    assert r.rcode() == dns.rcode.SERVFAIL
    assert (15, 'CR36') not in ede(r)


def test_local_data(server):
    """Records answer their type: NOERROR, AA, the set's smallest TTL, EDE 4
    '5DO5'; other types NODATA (SOA TTL 1). Owners are case-insensitive and
    `*.` owners answer for the names below, owned by the QNAME."""
    r = ask(server, 'data.example.')
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    (rrset,) = r.answer
    assert rrset.ttl == 300 and sorted(rd.to_text() for rd in rrset) == ['192.0.2.1', '192.0.2.2']
    assert ede(r) == [(4, '5DO5')]
    r = ask(server, 'data.example.', 'TXT', transport=tcp)
    assert [s for rd in r.answer[0] for s in rd.strings] == [b'hello world', b'two']
    assert ask(server, 'data.example.', 'AAAA').answer[0][0].to_text() == '2001:db8::1'
    r = ask(server, 'data.example.', 'MX')
    assert not r.answer and r.authority[0].ttl == 1 and ede(r) == [(4, '5DO5')]
    assert ask(server, 'mx.example.', 'MX').answer[0][0].to_text() == '10 mail.example.'
    assert ask(server, 'mixed.example.').answer[0][0].to_text() == '192.0.2.9'
    r = ask(server, 'Deep.X.Wildata.Example.')
    assert r.answer[0].name == dns.name.from_text('Deep.X.Wildata.Example.')
    assert r.answer[0][0].to_text() == '192.0.2.10'


def test_ignored_records_warn_with_file_and_line(server):
    """A custom CNAME target and a DNAME are ignored with a warning naming
    the file and the line; the rest of the zone works."""
    err = server.stderr()
    assert f'RPZ {server.zone}:19: CNAME with custom target in RPZ is not supported yet' in err
    assert f'RPZ {server.zone}:20 warning: RR type DNAME is not allowed in RPZ' in err
    assert f'RPZ {server.zone}:13 warning: different TTLs in a set (minimum taken)' in err
    assert ask(server, 'cust.example.').rcode() == dns.rcode.SERVFAIL  # resolved
    assert ask(server, 'x.example.').rcode() == dns.rcode.SERVFAIL


@pytest.mark.skipif(REFERENCE, reason='Knot Resolver 5.6 needs lua-cqueues to watch the file')
def test_rpz_file_change_takes_effect(server):
    """The file is re-read when it changes (checked every second): a new
    trigger blocks, a removed one no longer does, without a restart."""
    assert ask(server, 'data.example.').rcode() == dns.rcode.NOERROR
    server.zone.write_text(ZONE.replace('nx.example      CNAME .', 'new.example CNAME .')
                           .replace('data.example    600 A', 'data.example    CNAME rpz-drop.\n; ')
                           .replace('data.example    A 192.0.2.2\n', ''))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if ask(server, 'new.example.').rcode() == dns.rcode.NXDOMAIN:
            break
        time.sleep(0.2)
    assert ask(server, 'new.example.').rcode() == dns.rcode.NXDOMAIN
    assert ede(ask(server, 'nx.example.')) != [(15, 'CR36')]
    # local data still beats the CNAME action for the same name (AAAA, TXT stay)
    assert ask(server, 'data.example.', 'AAAA').answer[0][0].to_text() == '2001:db8::1'
    r = ask(server, 'data.example.')
    assert not r.answer and ede(r) == [(4, '5DO5')]
    assert server.running()


def test_malformed_line_warns(make_kresd, port, short_tmp):
    """A line zscanner cannot read: 5.6 warns with file:line and stops
    reading there; ours skips that line only. Both serve what came before."""
    rundir = short_tmp / 'bad'
    rundir.mkdir()
    zone = rundir / 'bad.rpz'
    zone.write_text('$ORIGIN rpz.\n@ SOA a. b. 1 2 3 4 5\nok CNAME .\n'
                    'broken A 999.1.1.1\nafter CNAME .\n')
    k = make_kresd(CONFIG.format(port=port, zone=zone), rundir=rundir, instance='bad').start()
    k.port = port
    assert f'RPZ {zone}:4: invalid IPv4 address' in k.stderr()
    assert ask(k, 'ok.').rcode() == dns.rcode.NXDOMAIN
    after = ask(k, 'after.').rcode()
    assert after == (dns.rcode.SERVFAIL if REFERENCE else dns.rcode.NXDOMAIN)
    k.stop()


def test_unreadable_file_is_a_config_error(make_kresd, port, short_tmp):
    """A file that cannot be read stops the start with an error naming it."""
    missing = short_tmp / 'missing.rpz'
    k = make_kresd(CONFIG.format(port=port, zone=missing), instance='missing')
    k.start(wait_ready=False)
    assert k.wait_exit(10) != 0
    assert f'failed to parse "{missing}"' in k.stderr()


def test_answer(server):
    """policy.ANSWER: the type's records (NOERROR, AA, EDE 4 '5DO5', the TTL
    given); other types NODATA when nodata is true. Without nodata, other
    types and a missing ttl (1) go to the next rule."""
    r = ask(server, 'answer.example.')
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert r.answer[0].ttl == 300 and r.answer[0][0].to_text() == '192.0.2.7'
    assert ede(r) == [(4, '5DO5')]
    r = ask(server, 'answer.example.', 'AAAA')
    assert not r.answer and r.authority[0].ttl == 1 and ede(r) == [(4, '5DO5')]
    r = ask(server, 'www.chain.example.')
    assert r.answer[0].ttl == 1
    assert sorted(rd.to_text() for rd in r.answer[0]) == ['192.0.2.8', '198.51.100.1']
    assert ask(server, 'chain.example.', 'AAAA').rcode() == dns.rcode.REFUSED


REROUTE_CONFIG = """
net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})
trust_anchors.remove('.')
policy.add(policy.suffix(policy.ANSWER({{[kres.type.A] = {{rdata = kres.str2ip('192.0.2.7'), ttl = 300}}}}, true),
                         {{todname('answer.example.')}}))
policy.add(policy.suffix(policy.ANSWER({{[kres.type.A] = {{rdata = kres.str2ip('198.51.100.7'), ttl = 300}}}}, true),
                         {{todname('other.example.')}}))
policy.add(policy.suffix(policy.REROUTE({{['192.0.2.0/24'] = '127.0.0.0'}}), {{todname('answer.example.')}}), true)
policy.add(policy.all(policy.REROUTE({{['198.51.100.0/24'] = '10.0.0.1!', ['192.0.2.0/24'] = '10.9.0.0'}})), true)
"""


def test_reroute_postrule(make_kresd, port):
    """policy.REROUTE as a postrule rewrites the addresses of the answer:
    the subnet's bits from the target, the rest kept ('!': the whole
    target). The first matching postrule decides. 5.6 drops the OPT record
    of a rewritten answer; ours keeps it and adds EDE 4 'DUQR'."""
    k = make_kresd(REROUTE_CONFIG.format(port=port), instance='reroute').start()
    k.port = port
    r = ask(k, 'answer.example.')
    assert r.flags & dns.flags.AA and r.answer[0][0].to_text() == '127.0.0.7'
    assert r.answer[0].ttl == 300
    r = ask(k, 'other.example.')
    assert r.answer[0][0].to_text() == '10.0.0.1'
    if REFERENCE:
        assert r.edns < 0
    else:
        assert (4, 'DUQR') in ede(r)
    # NODATA has no address to rewrite
    r = ask(k, 'answer.example.', 'AAAA')
    assert not r.answer and ede(r) == [(4, '5DO5')]
    k.stop()


@pytest.mark.skipif(REFERENCE, reason='Knot Resolver 5.6 needs lua-cqueues for MIRROR')
def test_mirror(make_kresd, port):
    """policy.MIRROR sends the query as received to the target over UDP and
    lets the next rule answer it."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(('127.0.0.1', 0))
    sink.settimeout(3)
    target = f'127.0.0.1@{sink.getsockname()[1]}'
    config = (f"net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})\n"
              f"policy.add(policy.suffix(policy.MIRROR('{target}'), {{todname('mirror.example.')}}))\n"
              "policy.add(policy.all(policy.REFUSE))\n")
    k = make_kresd(config, instance='mirror').start()
    try:
        q = make_query('www.Mirror.example.', 'TXT', payload=1232)
        r = udp(q, port, timeout=3)
        assert r.rcode() == dns.rcode.REFUSED
        got, _ = sink.recvfrom(4096)
        assert got == q.to_wire()
        assert udp(make_query('other.example.', 'A'), port, timeout=3).rcode() == dns.rcode.REFUSED
        sink.settimeout(0.3)
        with pytest.raises(socket.timeout):
            sink.recvfrom(4096)
    finally:
        sink.close()
        k.stop()
