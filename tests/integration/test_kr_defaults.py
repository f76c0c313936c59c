"""Knot Resolver 5.6's default-loaded answer modules and a hints.root
leniency, on loopback:

* refuse_nord: a query without RD is REFUSED with EDE 20 (Not
  Authoritative) 'ABC4', even for a hinted name; modules.unload turns it off;
* edns_keepalive: a TCP query with the EDNS TCP keepalive option (RFC 7828)
  gets it back with 100 (the 10 s idle timeout); never over UDP;
* hints.root({...}): entries without a name or without addresses are
  skipped, not a configuration error.

Also meant to pass against Knot Resolver itself:
    KRESD_BIN=$PWD/tests/lab/knot_resolver_as_kresd.py \\
        /usr/bin/python3 -m pytest -q tests/integration/test_kr_defaults.py
"""

import os

import dns.edns
import dns.flags
import dns.message
import dns.rcode

import pytest

from conftest import tcp, udp

HINTED = 'hinted.example.'
HINT_ADDR = '198.18.0.2'
EDE = 15
KEEPALIVE = 11

CONFIG = """
net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})
hints['hinted.example'] = '{addr}'
"""


def ours(kresd_bin):
    return 'knot_resolver_as_kresd' not in os.path.basename(str(kresd_bin))


@pytest.fixture
def start(make_kresd, port):
    def factory(extra=''):
        k = make_kresd(CONFIG.format(port=port, addr=HINT_ADDR) + extra).start()
        k.port = port
        return k
    return factory


def query(name=HINTED, rd=True, options=None, edns=True):
    q = dns.message.make_query(name, 'A', use_edns=0 if edns else False,
                               options=options or [])
    if not rd:
        q.flags &= ~dns.flags.RD
    return q


def option(r, code):
    found = [o for o in r.options if o.otype == code]
    return found[0].to_wire() if found else None


def ede_of(r):
    raw = option(r, EDE)
    return None if raw is None else (int.from_bytes(raw[:2], 'big'), raw[2:].decode())


# ---------------------------------------------------------------- refuse_nord

def test_rd0_is_refused_with_ede_20(start):
    k = start()
    r = udp(query(rd=False), k.port)
    assert r.rcode() == dns.rcode.REFUSED
    assert not r.answer
    assert ede_of(r) == (20, 'ABC4')
    # An uncached name: refused at once, nothing is resolved first.
    r = udp(query('www.example.com.', rd=False), k.port)
    assert r.rcode() == dns.rcode.REFUSED
    assert ede_of(r) == (20, 'ABC4')
    # Without EDNS: REFUSED, no OPT record.
    r = udp(query(rd=False, edns=False), k.port)
    assert r.rcode() == dns.rcode.REFUSED and r.edns == -1
    # Over TCP as well.
    assert tcp(query(rd=False), k.port).rcode() == dns.rcode.REFUSED
    # With RD the hint is answered.
    r = udp(query(), k.port)
    assert r.rcode() == dns.rcode.NOERROR
    assert [rr.to_text() for rrs in r.answer for rr in rrs] == [HINT_ADDR]
    assert ede_of(r) is None


def test_rd0_answered_after_unload(start):
    k = start("modules.unload('refuse_nord')\n")
    r = udp(query(rd=False), k.port)
    assert r.rcode() == dns.rcode.NOERROR
    assert [rr.to_text() for rrs in r.answer for rr in rrs] == [HINT_ADDR]


# ---------------------------------------------------------------- edns_keepalive

def test_keepalive_over_tcp_only(start):
    k = start()
    ka = dns.edns.GenericOption(KEEPALIVE, b'')
    assert option(tcp(query(options=[ka]), k.port), KEEPALIVE) == b'\x00\x64'
    # A client's own value (not allowed in queries) does not change ours.
    ka5 = dns.edns.GenericOption(KEEPALIVE, b'\x00\x05')
    assert option(tcp(query(options=[ka5]), k.port), KEEPALIVE) == b'\x00\x64'
    assert option(tcp(query(), k.port), KEEPALIVE) is None
    assert option(udp(query(options=[ka]), k.port), KEEPALIVE) is None
    # The refused RD=0 answer carries it too.
    r = tcp(query(rd=False, options=[ka]), k.port)
    assert r.rcode() == dns.rcode.REFUSED
    assert option(r, KEEPALIVE) == b'\x00\x64'


def test_keepalive_unloaded(start):
    k = start("modules.unload('edns_keepalive')\n")
    ka = dns.edns.GenericOption(KEEPALIVE, b'')
    r = tcp(query(options=[ka]), k.port)
    assert r.rcode() == dns.rcode.NOERROR
    assert option(r, KEEPALIVE) is None


# ---------------------------------------------------------------- hints.root

def test_hints_root_skips_nameless_and_empty_entries(start, kresd_bin):
    k = start("hints.root({['a.root-servers.invalid.'] = {}, "
              "['b.root-servers.invalid.'] = '127.0.0.9', [''] = '127.0.0.8', "
              "'127.0.0.7'})\n")
    assert udp(query(), k.port).rcode() == dns.rcode.NOERROR
    if ours(kresd_bin):
        # (Knot Resolver loses the whole table to the list item: no roots.)
        roots = k.lua('hints.root()')
        assert 'b.root-servers.invalid.' in roots and 'a.root-servers' not in roots, roots
        err = k.stderr()
        assert 'without a name' in err and 'has no addresses' in err, err


def test_hints_root_nothing_usable_is_not_an_error(start, kresd_bin):
    k = start("hints.root({['a.root-servers.invalid.'] = {}})\n")
    assert udp(query(), k.port).rcode() == dns.rcode.NOERROR
    if ours(kresd_bin):
        roots = k.lua('hints.root()')
        assert 'no-root.invalid.' in roots, roots   # left as they were
