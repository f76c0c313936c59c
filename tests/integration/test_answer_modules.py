"""The Knot Resolver 5.6 modules that change answers (src/modules/): dns64,
renumber, rebinding and workarounds, loopback only.

Every resolver here forwards everything (policy.FORWARD) to one scripted
authoritative server (tests/lab/scripted.py, mode 'glue': the zones below,
with the A/AAAA of MX targets in the additional section) on 127.0.0.1 and
a free port, which logs the queries it gets.

The zones are made so that both resolvers give the same TTLs: the SOA TTL
is below the SOA MINIMUM (we serve a negative answer's SOA with
min(TTL, MINIMUM), Knot Resolver with its TTL), and DNS64 caps a
synthesised TTL by that SOA TTL.

Checked against Knot Resolver 5.6 too:

    KRESD_BIN=$PWD/tests/lab/knot_resolver_as_kresd.py \\
        /usr/bin/python3 -m pytest -q tests/integration/test_answer_modules.py

Where the two differ on purpose (docs/modules/*.rst), the test checks ours
only: renumber's EDE (Knot Resolver 5.6 loses the whole OPT record of a
renumbered answer).
"""

import os
import select
import sys
import time
from pathlib import Path

import pytest

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.reversename

from conftest import free_port, udp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import lab as labpkg  # noqa: E402  (tests/lab)

ZONE = 'mod.sim.'
FAR = 'far.lab.'
REV = '18.198.in-addr.arpa.'

ZONES = {
    ZONE: """$TTL 3600
@ 300 SOA ns.mod.sim. host.mod.sim. 1 3600 900 604800 3600
@ NS ns
ns A 198.18.0.53
v4only A 192.0.2.1
v4only A 192.0.2.11
v4short 60 A 192.0.2.5
both A 192.0.2.2
both AAAA 2001:db8::2
excl A 192.0.2.7
excl AAAA 2001:db8:bad::7
onlyexcl AAAA 2001:db8:bad::8
cname CNAME v4only
cnamefar CNAME target.far.lab.
none TXT "nothing"
pub A 198.18.0.1
pub6 AAAA 2001:db8::1
mix A 198.18.0.2
mix A 10.0.0.2
priv A 10.0.0.1
loop A 127.0.0.1
zero A 0.0.0.9
cgn A 100.64.0.1
link A 169.254.1.1
p172 A 172.16.5.5
p192 A 192.168.7.7
priv6 AAAA fd00::1
mapped AAAA ::ffff:192.168.1.1
unspec AAAA ::
loop6 AAAA ::1
ll6 AAAA fe80::1
cnpriv CNAME priv
mail MX 10 mx
mx A 10.0.0.25
mailok MX 10 mxok
mxok A 198.18.0.25
priv.allow A 10.0.0.3
""",
    FAR: """$TTL 3600
@ 120 SOA ns.far.lab. host.far.lab. 1 3600 900 604800 3600
@ NS ns
ns A 198.18.0.54
target 7200 A 192.0.2.4
""",
    REV: """$TTL 3600
@ 300 SOA ns.mod.sim. host.mod.sim. 1 3600 900 604800 3600
@ NS ns.mod.sim.
1.0 PTR pub.mod.sim.
""",
}

EDE = 15
BLOCKED = 'blocked by DNS rebinding protection'


def ours(kresd_bin):
    return 'knot_resolver_as_kresd' not in os.path.basename(str(kresd_bin))


@pytest.fixture(scope='module')
def upstream(tmp_path_factory):
    """The scripted authoritative server: .port, .queries()."""
    d = tmp_path_factory.mktemp('am-zones')
    port = free_port()
    argv = [sys.executable, str(labpkg.HERE / 'scripted.py'), '--address', '127.0.0.1',
            '--port', str(port), '--mode', 'glue', '--log', str(d / 'queries.log')]
    for origin, text in ZONES.items():
        path = d / (origin.rstrip('.') + '.zone')
        path.write_text(text)
        argv += ['--zone', f'{origin}={path}']
    import subprocess
    proc = labpkg.spawn(argv, log_path=d / 'server.log', stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            left = deadline - time.monotonic()
            assert left > 0 and proc.poll() is None, (d / 'server.log').read_text()
            ready, _, _ = select.select([proc.stdout], [], [], min(left, 0.2))
            if ready and proc.stdout.readline().strip() == b'ready':
                break

        class Upstream:
            pass
        u = Upstream()
        u.port = port
        u.queries = lambda: (d / 'queries.log').read_text().splitlines() \
            if (d / 'queries.log').exists() else []
        yield u
    finally:
        labpkg.terminate(proc)


@pytest.fixture
def start(make_kresd, upstream):
    """start(config) -> a running resolver (.port) with `config` before the
    FORWARD rule."""
    def factory(extra=''):
        port = free_port()
        text = (f"net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})\n"
                "trust_anchors.remove('.')\n"
                + extra + '\n'
                + f"policy.add(policy.all(policy.FORWARD('127.0.0.1@{upstream.port}')))\n")
        k = make_kresd(text, instance='am').start()
        k.port = port
        return k
    return factory


def ask(k, name, rdtype='A', cd=False, do=False, edns=True):
    q = dns.message.make_query(name, rdtype, use_edns=0 if edns else False, want_dnssec=do)
    if cd:
        q.flags |= dns.flags.CD
    return udp(q, k.port, timeout=5.0)


def records(r, section='answer', rdtype=None):
    """{(owner, type, rdata)} of a section; TTLs separately (ttls())."""
    out = set()
    for rrset in getattr(r, section):
        if rdtype is not None and rrset.rdtype != dns.rdatatype.from_text(rdtype):
            continue
        for rd in rrset:
            out.add((rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), rd.to_text()))
    return out


def ttls(r, rdtype):
    return {rrset.ttl for rrset in r.answer if rrset.rdtype == dns.rdatatype.from_text(rdtype)}


def ede(r):
    return [(o.code, o.text) for o in r.options if o.otype == EDE]


# ---------------------------------------------------------------- dns64

SYNTH = (4, 'BHD4: DNS64 synthesis')


def test_dns64_synthesises_aaaa_from_a(start):
    """NODATA for AAAA: the A records under 64:ff9b::/96, TTL capped by the
    SOA TTL (RFC 6147 5.1.7), the SOA kept, EDE 4 'BHD4: DNS64 synthesis';
    from the cache the same."""
    k = start("modules = { dns64 = '64:ff9b::' }")
    for _ in range(2):  # resolved, then from the cache
        r = ask(k, 'v4only.mod.sim.', 'AAAA')
        assert r.rcode() == dns.rcode.NOERROR
        assert records(r) == {('v4only.mod.sim.', 'AAAA', '64:ff9b::c000:201'),
                              ('v4only.mod.sim.', 'AAAA', '64:ff9b::c000:20b')}
        assert all(290 <= t <= 300 for t in ttls(r, 'AAAA')), r
        assert records(r, 'authority', 'SOA'), r
        assert ede(r) == [SYNTH]
    r = ask(k, 'v4short.mod.sim.', 'AAAA')
    assert records(r) == {('v4short.mod.sim.', 'AAAA', '64:ff9b::c000:205')}
    assert all(50 <= t <= 60 for t in ttls(r, 'AAAA'))
    # A real AAAA is left alone.
    r = ask(k, 'both.mod.sim.', 'AAAA')
    assert records(r) == {('both.mod.sim.', 'AAAA', '2001:db8::2')} and ede(r) == []
    # No A either: NODATA, still marked.
    r = ask(k, 'none.mod.sim.', 'AAAA')
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and ede(r) == [SYNTH]
    # NXDOMAIN and other types are not touched.
    r = ask(k, 'nx.mod.sim.', 'AAAA')
    assert r.rcode() == dns.rcode.NXDOMAIN and ede(r) == []
    r = ask(k, 'v4only.mod.sim.', 'A')
    assert records(r) == {('v4only.mod.sim.', 'A', '192.0.2.1'),
                          ('v4only.mod.sim.', 'A', '192.0.2.11')}


def test_dns64_keeps_the_cname_chain(start):
    k = start("modules = { dns64 = '64:ff9b::' }")
    r = ask(k, 'cname.mod.sim.', 'AAAA')
    assert records(r) == {('cname.mod.sim.', 'CNAME', 'v4only.mod.sim.'),
                          ('v4only.mod.sim.', 'AAAA', '64:ff9b::c000:201'),
                          ('v4only.mod.sim.', 'AAAA', '64:ff9b::c000:20b')}
    assert [rrset.rdtype for rrset in r.answer][0] == dns.rdatatype.CNAME
    # Into another zone: capped by that zone's SOA TTL (120), not the A's 7200.
    r = ask(k, 'cnamefar.mod.sim.', 'AAAA')
    assert records(r) == {('cnamefar.mod.sim.', 'CNAME', 'target.far.lab.'),
                          ('target.far.lab.', 'AAAA', '64:ff9b::c000:204')}
    assert all(110 <= t <= 120 for t in ttls(r, 'AAAA'))
    assert ede(r) == [SYNTH]


def test_dns64_leaves_cd_queries_alone(start):
    """RFC 6147 5.5: with CD (with or without DO) the client gets NODATA;
    without CD the cached NODATA is completed."""
    k = start("modules = { dns64 = '64:ff9b::' }")
    for do in (False, True):
        r = ask(k, 'v4only.mod.sim.', 'AAAA', cd=True, do=do)
        assert r.rcode() == dns.rcode.NOERROR and not r.answer and ede(r) == []
    r = ask(k, 'v4only.mod.sim.', 'AAAA', do=True)
    assert records(r) == {('v4only.mod.sim.', 'AAAA', '64:ff9b::c000:201'),
                          ('v4only.mod.sim.', 'AAAA', '64:ff9b::c000:20b')}


def test_dns64_prefix_and_excluded_subnets(start):
    """An AAAA set with an excluded address is replaced by synthesis; with
    no SOA in that answer the TTL cap is 600 s."""
    k = start("modules = { dns64 = { prefix = '2001:db8:64::', "
              "exclude_subnets = { '2001:db8:bad::/48' } } }")
    r = ask(k, 'excl.mod.sim.', 'AAAA')
    assert records(r) == {('excl.mod.sim.', 'AAAA', '2001:db8:64::c000:207')}
    assert all(590 <= t <= 600 for t in ttls(r, 'AAAA'))
    assert ede(r) == [SYNTH]
    r = ask(k, 'onlyexcl.mod.sim.', 'AAAA')
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and ede(r) == [SYNTH]
    r = ask(k, 'both.mod.sim.', 'AAAA')
    assert records(r) == {('both.mod.sim.', 'AAAA', '2001:db8::2')}
    r = ask(k, 'v4only.mod.sim.', 'AAAA')
    assert records(r) == {('v4only.mod.sim.', 'AAAA', '2001:db8:64::c000:201'),
                          ('v4only.mod.sim.', 'AAAA', '2001:db8:64::c000:20b')}


def test_dns64_reverse_names(start):
    """PTR under the prefix's ip6.arpa: a CNAME (rev_ttl, default 60) to the
    in-addr.arpa name, followed."""
    k = start("modules = { dns64 = '64:ff9b::' }")
    rev = dns.reversename.from_address('64:ff9b::c612:1').to_text()
    r = ask(k, rev, 'PTR')
    assert r.rcode() == dns.rcode.NOERROR
    assert records(r) == {(rev, 'CNAME', '1.0.18.198.in-addr.arpa.'),
                          ('1.0.18.198.in-addr.arpa.', 'PTR', 'pub.mod.sim.')}
    assert ttls(r, 'CNAME') == {60}
    assert not r.flags & dns.flags.AA
    # Another type: the CNAME, then what the target has (nothing).
    r = ask(k, rev, 'A')
    assert r.rcode() == dns.rcode.NOERROR
    assert records(r) == {(rev, 'CNAME', '1.0.18.198.in-addr.arpa.')}
    # A target that does not exist.
    rev2 = dns.reversename.from_address('64:ff9b::c612:10').to_text()
    r = ask(k, rev2, 'PTR')
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert records(r) == {(rev2, 'CNAME', '16.0.18.198.in-addr.arpa.')}


def test_dns64_rev_ttl(start):
    k = start("modules = { dns64 = { prefix = '2001:db8:64::', rev_ttl = 30 } }")
    rev = dns.reversename.from_address('2001:db8:64::c612:1').to_text()
    r = ask(k, rev, 'PTR')
    assert records(r) == {(rev, 'CNAME', '1.0.18.198.in-addr.arpa.'),
                          ('1.0.18.198.in-addr.arpa.', 'PTR', 'pub.mod.sim.')}
    assert ttls(r, 'CNAME') == {30}


def test_dns64_disable_flag(start):
    """policy.FLAGS('DNS64_DISABLE') turns it off for the names it matches
    (also along their CNAME chain)."""
    k = start("modules = { dns64 = '64:ff9b::' }\n"
              "policy.add(policy.suffix(policy.FLAGS('DNS64_DISABLE'), "
              "{todname('cname.mod.sim.')}))")
    r = ask(k, 'cname.mod.sim.', 'AAAA')
    assert records(r) == {('cname.mod.sim.', 'CNAME', 'v4only.mod.sim.')} and ede(r) == []
    r = ask(k, 'v4only.mod.sim.', 'AAAA')
    assert ede(r) == [SYNTH]


def test_dns64_off_until_configured(start):
    k = start("modules.load('dns64')")
    r = ask(k, 'v4only.mod.sim.', 'AAAA')
    assert r.rcode() == dns.rcode.NOERROR and not r.answer and ede(r) == []
    # dns64.config() with no argument: 64:ff9b::/96.
    assert k.lua('dns64.config()') == ''
    r = ask(k, 'v4only.mod.sim.', 'AAAA')
    assert ede(r) == [SYNTH]
    assert records(r, rdtype='AAAA') == {('v4only.mod.sim.', 'AAAA', '64:ff9b::c000:201'),
                                         ('v4only.mod.sim.', 'AAAA', '64:ff9b::c000:20b')}


def test_dns64_config_errors(start):
    k = start("modules.load('dns64')")
    assert 'is not a valid IPv6 address' in k.lua("dns64.config('192.0.2.1')")
    assert 'exclude_subnets is not a table' in k.lua("dns64.config({exclude_subnets = 'x'})")
    assert 'failed to parse IPv6 subnet' in \
        k.lua("dns64.config({exclude_subnets = {'10.0.0.0/8'}})")


# ---------------------------------------------------------------- renumber

RENUMBER = ("modules = { renumber = { {'192.0.2.0/24', '10.9.0.0'}, "
            "{'198.18.0.1', '10.1.2.3!'}, {'198.18.0.0/16', '172.16.0.0!'}, "
            "{'2001:db8::/32', 'fd00:1::'} } }")


def test_renumber_rewrites_addresses(start, kresd_bin):
    k = start(RENUMBER)
    for _ in range(2):  # resolved, then from the cache
        r = ask(k, 'v4only.mod.sim.')
        assert r.rcode() == dns.rcode.NOERROR
        assert records(r) == {('v4only.mod.sim.', 'A', '10.9.0.1'),
                              ('v4only.mod.sim.', 'A', '10.9.0.11')}
        if ours(kresd_bin):  # Knot Resolver 5.6 drops the OPT record here
            assert ede(r) == [(4, 'DUQR')]
    # '!': the whole address; the first matching rule wins.
    assert records(ask(k, 'pub.mod.sim.')) == {('pub.mod.sim.', 'A', '10.1.2.3')}
    assert records(ask(k, 'mix.mod.sim.')) == {('mix.mod.sim.', 'A', '10.0.0.2'),
                                               ('mix.mod.sim.', 'A', '172.16.0.0')}
    assert records(ask(k, 'both.mod.sim.', 'AAAA')) == {('both.mod.sim.', 'AAAA', 'fd00:1::2')}
    r = ask(k, 'cname.mod.sim.')
    assert records(r) == {('cname.mod.sim.', 'CNAME', 'v4only.mod.sim.'),
                          ('v4only.mod.sim.', 'A', '10.9.0.1'),
                          ('v4only.mod.sim.', 'A', '10.9.0.11')}
    # Outside every subnet: untouched, no EDE.
    r = ask(k, 'priv.mod.sim.')
    assert records(r) == {('priv.mod.sim.', 'A', '10.0.0.1')} and ede(r) == []
    r = ask(k, 'nx.mod.sim.')
    assert r.rcode() == dns.rcode.NXDOMAIN
    # Without EDNS.
    r = ask(k, 'v4only.mod.sim.', edns=False)
    assert records(r) == {('v4only.mod.sim.', 'A', '10.9.0.1'),
                          ('v4only.mod.sim.', 'A', '10.9.0.11')}


def test_renumber_config_errors(start):
    k = start("modules.load('renumber')")
    assert k.lua('renumber.config()') == ''
    assert 'expected { {prefix, target}, ... }' in k.lua('renumber.config({})')
    assert 'invalid subnet' in k.lua("renumber.config({{'10.0.0.0/33', '1.2.3.4'}})")
    assert 'invalid address' in k.lua("renumber.config({{'10.0.0.0/8', 'zzz'}})")
    assert '"!" symbol' in k.lua("renumber.config({{'10.0.0.0/8', '1.2.3.4!x'}})")


# ---------------------------------------------------------------- rebinding

def assert_blocked(r, edns=True):
    assert r.rcode() == dns.rcode.REFUSED, r
    assert not r.answer and not r.authority
    assert not r.flags & dns.flags.AA
    assert records(r, 'additional') == {('explanation.invalid.', 'TXT', f'"{BLOCKED}"')}
    assert {rrset.ttl for rrset in r.additional} == {10800}
    if edns:
        assert ede(r) == [(18, 'EIM4')]
    else:
        assert r.edns == -1


@pytest.mark.parametrize('name,rdtype', [
    ('priv', 'A'), ('loop', 'A'), ('zero', 'A'), ('cgn', 'A'), ('link', 'A'), ('p172', 'A'),
    ('p192', 'A'), ('mix', 'A'), ('cnpriv', 'A'), ('priv6', 'AAAA'), ('mapped', 'AAAA'),
    ('unspec', 'AAAA'), ('loop6', 'AAAA'), ('ll6', 'AAAA'), ('mail', 'MX')])
def test_rebinding_refuses_private_addresses(start, name, rdtype):
    k = start("modules.load('rebinding < iterate')")
    assert_blocked(ask(k, f'{name}.{ZONE}', rdtype))


def test_rebinding_passes_public_addresses(start):
    k = start("modules.load('rebinding < iterate')")
    assert records(ask(k, 'pub.mod.sim.')) == {('pub.mod.sim.', 'A', '198.18.0.1')}
    assert records(ask(k, 'pub6.mod.sim.', 'AAAA')) == {('pub6.mod.sim.', 'AAAA', '2001:db8::1')}
    r = ask(k, 'mailok.mod.sim.', 'MX')
    assert r.rcode() == dns.rcode.NOERROR
    assert records(r) == {('mailok.mod.sim.', 'MX', '10 mxok.mod.sim.')}
    # NODATA for AAAA of a name with a private A: its reply has no address.
    r = ask(k, 'priv.mod.sim.', 'AAAA')
    assert r.rcode() == dns.rcode.NOERROR and not r.answer


def test_rebinding_answer_shape_and_nothing_cached(start, upstream):
    """Without EDNS no OPT; with DO+CD the same; the refused data is not
    cached: after unloading the module the name is asked upstream again."""
    k = start("modules.load('rebinding < iterate')")
    name = 'p192.mod.sim.'
    assert_blocked(ask(k, name))
    assert_blocked(ask(k, name, edns=False), edns=False)
    assert_blocked(ask(k, name, do=True, cd=True))
    # (Knot Resolver randomises the case of the names it sends: 0x20.)
    asked = sum(1 for line in upstream.queries() if line.lower().endswith(f' {name} a'))
    assert asked >= 3
    k.lua("modules.unload('rebinding')")
    r = ask(k, name)
    assert records(r) == {(name, 'A', '192.168.7.7')}
    assert sum(1 for line in upstream.queries()
               if line.lower().endswith(f' {name} a')) > asked


def test_rebinding_not_for_allow_local(start):
    k = start("modules.load('rebinding < iterate')\n"
              "policy.add(policy.suffix(policy.FLAGS('ALLOW_LOCAL'), "
              "{todname('allow.mod.sim.')}))")
    r = ask(k, 'priv.allow.mod.sim.')
    assert records(r) == {('priv.allow.mod.sim.', 'A', '10.0.0.3')}
    assert_blocked(ask(k, 'priv.mod.sim.'))
    k2 = start("modules.load('rebinding')\noption('ALLOW_LOCAL', true)")
    assert records(ask(k2, 'priv.mod.sim.')) == {('priv.mod.sim.', 'A', '10.0.0.1')}


# ---------------------------------------------------------------- workarounds

def test_workarounds_config(start):
    k = start("modules.load('workarounds')")
    assert k.lua('workarounds.config()') == ''
    assert 'workarounds' in k.lua('modules.list()')
    # The NO_0X20 rule is a chain action: resolution goes on.
    assert records(ask(k, 'pub.mod.sim.')) == {('pub.mod.sim.', 'A', '198.18.0.1')}


# ---------------------------------------------------------------- errors

def test_unknown_module_stops_the_config(make_kresd):
    k = make_kresd("modules.load('nonexistent_mod')\n", instance='am')
    k.start(wait_ready=False)
    assert k.wait_exit(10) != 0
    assert 'nonexistent_mod' in k.stderr()
