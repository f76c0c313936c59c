#!/usr/bin/python3
"""Hard cases: scripted authoritative servers that replay real-world
misbehaviour (tests/integration/test_hard_cases.py).

One Python process (dnspython + sockets, like scripted.py) binds UDP and TCP
port 53 on every server address of the table below (127.73.x.y by default)
and answers, per address, from that address's zones with that address's
quirks.  A root zone on P.0.1 delegates the TLDs ``hc.`` and ``hcx.``; each
scenario has its own zones below them.

    from lab.hardcases import HardLab
    with HardLab() as H:                   # the process started, root answering
        H.hints_root_lua()                 # "hints.root({['ns.root.'] = {'127.73.0.1'}})"
        H.addr('z6-x')                     # '127.73.7.1'
        mark = H.mark()                    # position in the query log
        ...
        H.queries(mark)                    # [Query(addr, transport, qname, qtype)] since mark
        H.queries(mark, under='z10a.hc.')  # only those for names under z10a.hc.
        H.set_phase(2)                     # SIGUSR1: the second phase of data (domain sale)
        H.set_phase(1)                     # SIGUSR2: back to the first

Run as a process (HardLab does this; killed by its PID, SIGKILL when the
parent dies):

    hardcases.py --prefix 127.73 --log FILE

It prints "ready" once every socket is bound and appends one line per query
received to FILE: "ADDR udp|tcp QNAME QTYPE" (QNAME as received: resolvers
that randomise the case, as Knot Resolver does, get it logged so;
HardLab.queries() lower-cases it).  SIGUSR1 switches to phase 2,
SIGUSR2 back to phase 1 (zones with a phase-2 text change; see ZONES2).

Quirks (per server address, see SERVERS):
  silent            never answers (UDP or TCP; TCP connections held open)
  refused           REFUSED to everything
  servfail          SERVFAIL to everything
  lame              NOERROR, AA=0, nothing in any section (no referral)
  nxdomain-ent      NXDOMAIN for empty non-terminals (instead of NODATA)
  refuse-min-ns     REFUSED to NS queries below the apex that are not a cut
                    (QNAME-minimised queries: Knot Resolver minimises with NS)
  nodata-min-ns     the same queries: NOERROR, AA=0, no SOA
  wrongtype-min-ns  the same queries: AA, an A record for the name
  nodata-nosoa      every query below the apex that the zone answers
                    (data or NODATA): NOERROR, AA=1, empty, no SOA
  aaaa-as-a         AAAA queries for a name with A records: AA, the A set
  auth-ns           positive answers carry the apex NS set in the authority
                    section (and its addresses as additional data), as
                    BIND does for queries with RD=0
  raw-soa-ttl       negative answers carry the SOA with its own TTL (by
                    default, as RFC 2308 section 3 and real servers do, with
                    min(SOA TTL, SOA MINIMUM))

Otherwise a server answers as an authoritative server does: data with AA,
CNAME (not followed), DNAME with a synthesised CNAME (RFC 6672, not
followed), referrals with glue for delegated names, NXDOMAIN/NODATA with
the SOA, NS sets with their addresses as additional data.

Stdlib + dnspython only (the server part imports nothing of the lab).
"""

import argparse
import collections
import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

try:
    from .scripted import SocketLoop, fit
except ImportError:  # run as a script: the server process
    from scripted import SocketLoop, fit

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable or '/usr/bin/python3'
# 127.63 .. 127.72 are the signed lab's candidates, 127.53 .. 127.62 the lab's
PREFIX_CANDIDATES = [f'127.{n}' for n in range(73, 83)]
START_TIMEOUT = 10.0
ROOT_NS = 'ns.root.'

# ------------------------------------------------------------ the data
# {P} is the address prefix (e.g. 127.73).

ZONES = {}
ZONES2 = {}     # phase 2 texts of the zones that change

ZONES['.'] = """\
$ORIGIN .
$TTL 86400
@        SOA ns.root. hostmaster.root. 1 3600 600 86400 300
@        NS  ns.root.
ns.root. A   {P}.0.1
hc.      NS  ns.hc.
ns.hc.   A   {P}.1.1
hcx.     NS  ns.hcx.
ns.hcx.  A   {P}.1.2
"""

_HC_HEAD = """\
$ORIGIN hc.
$TTL 86400
@        SOA ns.hc. hostmaster.hc. 1 3600 600 86400 300
@        NS  ns.hc.
ns       A   {P}.1.1
"""

_HC_COMMON = """\
; 1. other NS names: the glued server is silent / REFUSED / SERVFAIL / lame,
;    the other one (no glue, in hcx.) answers
z1       NS  ns1.z1
z1       NS  good-z1.ext.hcx.
ns1.z1   A   {P}.2.1
z1r      NS  ns1.z1r
z1r      NS  good-z1.ext.hcx.
ns1.z1r  A   {P}.2.2
z1s      NS  ns1.z1s
z1s      NS  good-z1.ext.hcx.
ns1.z1s  A   {P}.2.3
z1l      NS  ns1.z1l
z1l      NS  good-z1.ext.hcx.
ns1.z1l  A   {P}.2.4
; 2. parent fallback: the parent names the working server, the child's own
;    NS set a dead one (in the zone / in another zone)
z2       NS  ns-new.z2
ns-new.z2 A  {P}.3.1
z2o      NS  ns-new.z2o
ns-new.z2o A {P}.3.1
; 3. QNAME minimisation: broken ENT, REFUSED / NODATA without SOA /
;    another type for minimised NS queries
z3e      NS  ns.z3e
ns.z3e   A   {P}.4.1
z3r      NS  ns.z3r
ns.z3r   A   {P}.4.2
z3n      NS  ns.z3n
ns.z3n   A   {P}.4.3
z3t      NS  ns.z3t
ns.z3t   A   {P}.4.4
; 4. NODATA without SOA from the glued server (the other NS name has no
;    glue: a resolver asks the glued one first) / from every server
z4       NS  ns1.z4
z4       NS  good-z4.ext.hcx.
ns1.z4   A   {P}.5.1
z4b      NS  ns1.z4b
z4b      NS  ns2.z4b
ns1.z4b  A   {P}.5.3
ns2.z4b  A   {P}.5.4
; 5. an A set for an AAAA query from the glued server
z5       NS  ns1.z5
z5       NS  good-z5.ext.hcx.
ns1.z5   A   {P}.6.1
; 6. credibility: the parent's NS TTL 172800 and glue for ns1.z6 (.7.9)
;    differ from the child's (NS ns1+ns2 TTL 3600, ns1 = .7.1)
z6       172800 NS ns1.z6
ns1.z6   172800 A  {P}.7.9
z6b      172800 NS ns1.z6
; 8. NXDOMAIN: SOA TTL 3600, MINIMUM 300 (RFC 2308 TTL / raw TTL)
z8       NS  ns.z8
ns.z8    A   {P}.9.1
z8r      NS  ns.z8r
ns.z8r   A   {P}.9.2
; 9. DNAME loop
z9       NS  ns.z9
ns.z9    A   {P}.10.1
; 10. CNAME chain over three zones, DNAME to another zone
z10a     NS  ns.z10a
ns.z10a  A   {P}.11.1
z10b     NS  ns.z10b
ns.z10b  A   {P}.11.2
z10c     NS  ns.z10c
ns.z10c  A   {P}.11.3
; 11. NS loop, no glue
z11a     NS  ns.z11b
z11b     NS  ns.z11a
; 12. CNAME loop over two zones
z12a     NS  ns.z12a
ns.z12a  A   {P}.13.1
z12b     NS  ns.z12b
ns.z12b  A   {P}.13.2
"""

# 7. domain sale: the parent delegates z7 with NS TTL 2 to the old server
#    (phase 1), then to the new one (phase 2)
ZONES['hc.'] = _HC_HEAD + 'phase    TXT "1"\n' + _HC_COMMON + """\
z7       2   NS  ns.z7
ns.z7    2   A   {P}.8.1
"""
ZONES2['hc.'] = _HC_HEAD + 'phase    TXT "2"\n' + _HC_COMMON + """\
z7       2   NS  ns-b.z7
ns-b.z7  2   A   {P}.8.2
"""

ZONES['hcx.'] = """\
$ORIGIN hcx.
$TTL 86400
@        SOA ns.hcx. hostmaster.hcx. 1 3600 600 86400 300
@        NS  ns.hcx.
ns       A   {P}.1.2
ext      NS  ns.ext
ns.ext   A   {P}.2.5
z2dead   NS  ns.z2dead
ns.z2dead A  {P}.3.4
"""


def _leaf(origin, ns_lines, body, ttl=3600, soa_ttl=None, minimum=300):
    soa_ttl = ttl if soa_ttl is None else soa_ttl
    return (f'$ORIGIN {origin}\n$TTL {ttl}\n'
            f'@ {soa_ttl} SOA ns.{origin} hostmaster.{origin} 1 3600 600 86400 {minimum}\n'
            + ''.join(f'@ NS {ns}\n' for ns in ns_lines) + body)


# 1.
# the NS names without glue of z1*, z4 and z5
ZONES['ext.hcx.'] = _leaf('ext.hcx.', ['ns.ext.hcx.'],
                          'ns A {P}.2.5\ngood-z1 A {P}.2.6\ngood-z4 A {P}.5.2\n'
                          'good-z5 A {P}.6.2\n')
for _z, _n in (('z1', 1), ('z1r', 2), ('z1s', 3), ('z1l', 4)):
    ZONES[f'{_z}.hc.'] = _leaf(f'{_z}.hc.', [f'ns1.{_z}.hc.', 'good-z1.ext.hcx.'],
                               f'ns1 A {{P}}.2.{_n}\nwww A 192.0.2.1{_n}\n')
# 2. the child's NS set names only the dead server; ns-new still exists
ZONES['z2.hc.'] = _leaf('z2.hc.', ['ns-old.z2.hc.'],
                        'ns-old A {P}.3.2\nns-new A {P}.3.1\nwww A 192.0.2.21\n')
ZONES['z2o.hc.'] = _leaf('z2o.hc.', ['dead.z2dead.hcx.'],
                         'ns-new A {P}.3.1\nwww A 192.0.2.22\n')
ZONES['z2dead.hcx.'] = _leaf('z2dead.hcx.', ['ns.z2dead.hcx.'], 'ns A {P}.3.4\ndead A {P}.3.3\n')
# 3. a.b.<zone> below the empty non-terminal b.<zone>
for _z, _n in (('z3e', 1), ('z3r', 2), ('z3n', 3), ('z3t', 4)):
    ZONES[f'{_z}.hc.'] = _leaf(f'{_z}.hc.', [f'ns.{_z}.hc.'],
                               f'ns A {{P}}.4.{_n}\na.b A 192.0.2.3{_n}\n')
# 4.
_Z4_NAMES = ''.join(f'{n} A 192.0.2.4{i}\n' for i, n in enumerate(('www', 'w1', 'w2', 'w3')))
ZONES['z4.hc.'] = _leaf('z4.hc.', ['ns1.z4.hc.', 'good-z4.ext.hcx.'],
                        'ns1 A {P}.5.1\n' + _Z4_NAMES)
ZONES['z4b.hc.'] = _leaf('z4b.hc.', ['ns1.z4b.hc.', 'ns2.z4b.hc.'],
                         'ns1 A {P}.5.3\nns2 A {P}.5.4\nwww A 192.0.2.49\n')
# 5.
ZONES['z5.hc.'] = _leaf('z5.hc.', ['ns1.z5.hc.', 'good-z5.ext.hcx.'],
                        'ns1 A {P}.6.1\n'
                        + ''.join(f'{n} A 192.0.2.5{i}\n{n} AAAA 2001:db8::5{i}\n'
                                  for i, n in enumerate(('www', 'w1', 'w2', 'w3'))))
# 6. the child's view; served by .7.1 (ns1), .7.2 (ns2) and .7.9 (the
#    parent's glue for ns1)
ZONES['z6.hc.'] = _leaf('z6.hc.', ['ns1.z6.hc.', 'ns2.z6.hc.'],
                        'ns1 A {P}.7.1\nns2 A {P}.7.2\nwww A 192.0.2.61\n')
ZONES['z6b.hc.'] = _leaf('z6b.hc.', ['ns1.z6.hc.'], 'www A 192.0.2.62\n')
# 7. old owner: long NS TTL, short www TTL; new owner: other data
ZONES['z7.hc.'] = _leaf('z7.hc.', ['ns.z7.hc.'], 'ns A {P}.8.1\nwww 1 A 192.0.2.71\n',
                        ttl=86400)
ZONES['z7new.hc.'] = _leaf('z7.hc.', ['ns-b.z7.hc.'], 'ns-b A {P}.8.2\nwww 300 A 192.0.2.72\n')
# 8. SOA TTL 3600, MINIMUM 300
for _z, _n in (('z8', 1), ('z8r', 2)):
    ZONES[f'{_z}.hc.'] = _leaf(f'{_z}.hc.', [f'ns.{_z}.hc.'],
                               f'ns A {{P}}.9.{_n}\nwww A 192.0.2.81\n', ttl=3600, minimum=300)
# 9. a DNAME that rewrites into a name below itself
ZONES['z9.hc.'] = _leaf('z9.hc.', ['ns.z9.hc.'], 'ns A {P}.10.1\nd DNAME x.d.z9.hc.\n')
# 10.
ZONES['z10a.hc.'] = _leaf('z10a.hc.', ['ns.z10a.hc.'],
                          'ns A {P}.11.1\nc CNAME c.z10b.hc.\nold DNAME z10b.hc.\n')
ZONES['z10b.hc.'] = _leaf('z10b.hc.', ['ns.z10b.hc.'],
                          'ns A {P}.11.2\nc CNAME c.z10c.hc.\nx A 192.0.2.101\n')
ZONES['z10c.hc.'] = _leaf('z10c.hc.', ['ns.z10c.hc.'], 'ns A {P}.11.3\nc A 192.0.2.100\n')
# 12.
ZONES['z12a.hc.'] = _leaf('z12a.hc.', ['ns.z12a.hc.'], 'ns A {P}.13.1\na CNAME b.z12b.hc.\n')
ZONES['z12b.hc.'] = _leaf('z12b.hc.', ['ns.z12b.hc.'], 'ns A {P}.13.2\nb CNAME a.z12a.hc.\n')

# z7new is the zone z7.hc. as the new owner serves it
ZONE_ORIGIN = {'z7new.hc.': 'z7.hc.'}

# (key, address suffix, zone keys, quirks): the zones are ZONES keys (ZONES2
# replaces some texts in phase 2)
SERVERS = [
    ('root', '0.1', ['.'], ()),
    ('hc', '1.1', ['hc.'], ()),
    ('hcx', '1.2', ['hcx.'], ()),
    ('z1-silent', '2.1', ['z1.hc.'], ('silent',)),
    ('z1-refused', '2.2', ['z1r.hc.'], ('refused',)),
    ('z1-servfail', '2.3', ['z1s.hc.'], ('servfail',)),
    ('z1-lame', '2.4', ['z1l.hc.'], ('lame',)),
    ('ext', '2.5', ['ext.hcx.'], ()),
    ('z1-good', '2.6', ['z1.hc.', 'z1r.hc.', 'z1s.hc.', 'z1l.hc.'], ()),
    ('z2-new', '3.1', ['z2.hc.', 'z2o.hc.'], ()),
    ('z2-old', '3.2', ['z2.hc.'], ('silent',)),
    ('z2-dead', '3.3', ['z2o.hc.'], ('silent',)),
    ('z2dead', '3.4', ['z2dead.hcx.'], ()),
    ('z3-ent', '4.1', ['z3e.hc.'], ('nxdomain-ent',)),
    ('z3-refused', '4.2', ['z3r.hc.'], ('refuse-min-ns',)),
    ('z3-nodata', '4.3', ['z3n.hc.'], ('nodata-min-ns',)),
    ('z3-type', '4.4', ['z3t.hc.'], ('wrongtype-min-ns',)),
    ('z4-lame', '5.1', ['z4.hc.'], ('nodata-nosoa',)),
    ('z4-good', '5.2', ['z4.hc.'], ()),
    ('z4b-1', '5.3', ['z4b.hc.'], ('nodata-nosoa',)),
    ('z4b-2', '5.4', ['z4b.hc.'], ('nodata-nosoa',)),
    ('z5-wrong', '6.1', ['z5.hc.'], ('aaaa-as-a',)),
    ('z5-good', '6.2', ['z5.hc.'], ()),
    ('z6-x', '7.1', ['z6.hc.', 'z6b.hc.'], ()),
    ('z6-y', '7.2', ['z6.hc.', 'z6b.hc.'], ()),
    ('z6-z', '7.9', ['z6.hc.', 'z6b.hc.'], ()),
    ('z7-old', '8.1', ['z7.hc.'], ('auth-ns',)),
    ('z7-new', '8.2', ['z7new.hc.'], ('auth-ns',)),
    ('z8', '9.1', ['z8.hc.'], ()),
    ('z8r', '9.2', ['z8r.hc.'], ('raw-soa-ttl',)),
    ('z9', '10.1', ['z9.hc.'], ()),
    ('z10a', '11.1', ['z10a.hc.'], ()),
    ('z10b', '11.2', ['z10b.hc.'], ()),
    ('z10c', '11.3', ['z10c.hc.'], ()),
    ('z12a', '13.1', ['z12a.hc.'], ()),
    ('z12b', '13.2', ['z12b.hc.'], ()),
]

QUIRKS = {'silent', 'refused', 'servfail', 'lame', 'nxdomain-ent', 'refuse-min-ns',
          'nodata-min-ns', 'wrongtype-min-ns', 'nodata-nosoa', 'aaaa-as-a', 'auth-ns',
          'raw-soa-ttl'}
WRONGTYPE_ADDRESS = '192.0.2.39'


def addresses(prefix):
    """{server key: address}."""
    return {key: f'{prefix}.{suffix}' for key, suffix, _, _ in SERVERS}


def zone_objects(prefix, texts):
    out = {}
    for key, text in texts.items():
        origin = ZONE_ORIGIN.get(key, key)
        out[key] = dns.zone.from_text(text.replace('{P}', prefix), origin=origin,
                                      relativize=False)
    return out


# ------------------------------------------------------------ answering

def _rrset(name, rds):
    return dns.rrset.from_rdata_list(name, rds.ttl, list(rds))


def _addresses_of(names, zones):
    """A/AAAA rrsets for the names found in any of zones (ignoring cuts:
    glue below a delegation counts)."""
    out = []
    for target in names:
        for zone in zones:
            if not target.is_subdomain(zone.origin):
                continue
            node = zone.get_node(target)
            if node is None:
                continue
            for t in (dns.rdatatype.A, dns.rdatatype.AAAA):
                rds = node.get_rdataset(dns.rdataclass.IN, t)
                if rds is not None:
                    out.append(_rrset(target, rds))
            break
    return out


def _add_additional(resp, rrsets, zones):
    targets = [rd.target for rrset in rrsets if rrset.rdtype == dns.rdatatype.NS for rd in rrset]
    for rrset in _addresses_of(targets, zones):
        if rrset not in resp.additional:
            resp.additional.append(rrset)


def answer(query, zones, quirks=()):
    """(response, kind): what an authoritative server with these zones
    (dns.zone objects) answers, before the quirks that replace the whole
    reply.  kind: 'refused', 'referral', 'dname', 'answer', 'cname',
    'nodata', 'ent' (NODATA for an empty non-terminal), 'nxdomain'."""
    resp = dns.message.make_response(query)
    resp.flags &= ~dns.flags.RA
    q = query.question[0]
    best = None
    for zone in zones:
        if q.name.is_subdomain(zone.origin) and (best is None or
                                                  len(zone.origin) > len(best.origin)):
            best = zone
    if best is None or q.rdclass != dns.rdataclass.IN:
        resp.set_rcode(dns.rcode.REFUSED)
        return resp, 'refused'
    origin = best.origin
    zlist = list(zones)
    # names between the apex (excluded) and the qname, top down: the first
    # delegation or DNAME on the way decides
    for depth in range(len(origin) + 1, len(q.name) + 1):
        name = q.name.split(depth)[1]
        node = best.get_node(name)
        if node is None:
            continue
        ns = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS)
        if ns is not None and not (name == q.name and q.rdtype == dns.rdatatype.DS):
            rrset = _rrset(name, ns)
            resp.authority.append(rrset)
            _add_additional(resp, [rrset], [best])
            return resp, 'referral'
        dname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.DNAME)
        if dname is not None and name != q.name:
            resp.flags |= dns.flags.AA
            resp.answer.append(_rrset(name, dname))
            try:
                target = q.name.relativize(name).derelativize(dname[0].target)
            except dns.name.NameTooLong:
                resp.set_rcode(dns.rcode.YXDOMAIN)
                return resp, 'dname'
            resp.answer.append(dns.rrset.from_text_list(q.name, dname.ttl, 'IN', 'CNAME',
                                                        [target.to_text()]))
            return resp, 'dname'
    resp.flags |= dns.flags.AA
    soa = best.get_rdataset(origin, dns.rdatatype.SOA)
    neg_ttl = soa.ttl if 'raw-soa-ttl' in quirks else min(soa.ttl, soa[0].minimum)
    soa_rrset = dns.rrset.from_rdata_list(origin, neg_ttl, list(soa))
    node = best.get_node(q.name)
    if node is None:
        resp.authority.append(soa_rrset)
        if any(n.is_subdomain(q.name) and n != q.name for n in best.nodes):
            return resp, 'ent'
        resp.set_rcode(dns.rcode.NXDOMAIN)
        return resp, 'nxdomain'
    rds = node.get_rdataset(dns.rdataclass.IN, q.rdtype)
    if rds is not None:
        rrset = _rrset(q.name, rds)
        resp.answer.append(rrset)
        _add_additional(resp, [rrset], zlist)
        if 'auth-ns' in quirks and q.rdtype != dns.rdatatype.NS:
            apex = _rrset(origin, best.get_rdataset(origin, dns.rdatatype.NS))
            resp.authority.append(apex)
            _add_additional(resp, [apex], zlist)
        return resp, 'answer'
    cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
    if cname is not None:
        resp.answer.append(_rrset(q.name, cname))
        return resp, 'cname'
    resp.authority.append(soa_rrset)
    return resp, 'nodata'


def quirky_answer(query, zones, quirks):
    """The reply of a server with these zones and quirks: a dns.message, or
    None for silence."""
    if 'silent' in quirks:
        return None
    resp = dns.message.make_response(query)
    resp.flags &= ~dns.flags.RA
    if not query.question:
        resp.set_rcode(dns.rcode.FORMERR)
        return resp
    if 'refused' in quirks:
        resp.set_rcode(dns.rcode.REFUSED)
        return resp
    if 'servfail' in quirks:
        resp.set_rcode(dns.rcode.SERVFAIL)
        return resp
    if 'lame' in quirks:
        return resp
    q = query.question[0]
    full, kind = answer(query, zones, quirks)
    origin = None
    for zone in zones:
        if q.name.is_subdomain(zone.origin) and (origin is None or len(zone.origin) > len(origin)):
            origin = zone.origin
    below_apex = origin is not None and q.name != origin
    minimised_ns = (q.rdtype == dns.rdatatype.NS and below_apex
                    and kind not in ('referral', 'refused'))
    if minimised_ns and 'refuse-min-ns' in quirks:
        resp.set_rcode(dns.rcode.REFUSED)
        return resp
    if minimised_ns and 'nodata-min-ns' in quirks:
        return resp
    if minimised_ns and 'wrongtype-min-ns' in quirks:
        resp.flags |= dns.flags.AA
        resp.answer.append(dns.rrset.from_text(q.name, 300, 'IN', 'A', WRONGTYPE_ADDRESS))
        return resp
    if 'nodata-nosoa' in quirks and below_apex and kind in ('answer', 'nodata', 'ent'):
        resp.flags |= dns.flags.AA
        return resp
    if 'aaaa-as-a' in quirks and q.rdtype == dns.rdatatype.AAAA and kind in ('answer', 'nodata'):
        zone = next(z for z in zones if z.origin == origin)
        a = zone.get_rdataset(q.name, dns.rdatatype.A)
        if a is not None:
            resp.flags |= dns.flags.AA
            resp.answer.append(_rrset(q.name, a))
            return resp
    if 'nxdomain-ent' in quirks and kind == 'ent':
        full.set_rcode(dns.rcode.NXDOMAIN)
    return full


# ------------------------------------------------------------ the server process

class _Server(SocketLoop):
    def __init__(self, prefix, log_path):
        self.prefix = prefix
        self.zones = {1: zone_objects(prefix, ZONES),
                      2: zone_objects(prefix, {**ZONES, **ZONES2})}
        self.phase = 1
        self.log = open(log_path, 'a', buffering=1) if log_path else None
        self.servers = {}   # address -> (zone keys, quirks)
        for _, suffix, zone_keys, quirks in SERVERS:
            unknown = set(quirks) - QUIRKS
            if unknown:
                raise ValueError(f'unknown quirks {unknown}')
            self.servers[f'{prefix}.{suffix}'] = (zone_keys, frozenset(quirks))
        super().__init__(list(self.servers), 53)

    def set_phase(self, phase):
        self.phase = phase

    def note(self, address, transport, q):
        if self.log is None:
            return
        if q is None or not q.question:
            what = 'unparsable'
        else:
            what = f'{q.question[0].name} {dns.rdatatype.to_text(q.question[0].rdtype)}'
        self.log.write(f'{address} {transport} {what}\n')

    def handle(self, address, transport, wire):
        try:
            q = dns.message.from_wire(wire)
        except Exception:  # noqa: BLE001 - malformed: logged, no reply
            q = None
        self.note(address, transport, q)
        if q is None:
            return None
        try:
            zone_keys, quirks = self.servers[address]
            zones = [self.zones[self.phase][k] for k in zone_keys]
            r = quirky_answer(q, zones, quirks)
            return None if r is None else fit(r, q, transport)
        except Exception as e:  # noqa: BLE001 - the server never dies of a query
            print(f'reply failed: {e!r}', file=sys.stderr, flush=True)
            return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--prefix', required=True, help='e.g. 127.73')
    ap.add_argument('--log', help='append one line per query received')
    args = ap.parse_args(argv)
    server = _Server(args.prefix, args.log)
    signal.signal(signal.SIGUSR1, lambda *_: server.set_phase(2))
    signal.signal(signal.SIGUSR2, lambda *_: server.set_phase(1))
    print('ready', flush=True)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    return 0


# ------------------------------------------------------------ the test side

class HardLabUnavailable(Exception):
    """The hard-cases lab cannot run here; the message says why."""


Query = collections.namedtuple('Query', 'addr transport qname qtype')


def choose_prefix(preferred=None):
    """The first prefix whose addresses are all free on port 53."""
    from . import _bindable  # the lab's own test (tests/lab/__init__.py)
    candidates = [preferred] if preferred else PREFIX_CANDIDATES
    for prefix in candidates:
        if all(_bindable(a) for a in addresses(prefix).values()):
            return prefix
    raise HardLabUnavailable(f'port 53 is busy on every candidate prefix '
                             f'({", ".join(candidates)}); set KRESD_HARD_PREFIX')


class HardLab:
    """The hard-cases servers (one process).  Context manager, or
    start()/stop()."""

    def __init__(self, prefix=None, workdir=None):
        self.requested_prefix = prefix or os.environ.get('KRESD_HARD_PREFIX') or None
        self.prefix = None
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else None
        self.proc = None
        self.log_path = None
        self.query_log = None

    # -- maps

    def addr(self, key):
        return addresses(self.prefix)[key]

    def root_hints(self):
        return {ROOT_NS: [self.addr('root')]}

    def hints_root_lua(self):
        """The Lua call that points a kresd (ours or Knot Resolver 5) here."""
        return f"hints.root({{['{ROOT_NS}'] = {{'{self.addr('root')}'}}}})"

    # -- lifecycle

    def start(self, timeout=START_TIMEOUT):
        from . import spawn    # noqa: PLC0415 - the server side imports nothing of the lab
        if os.geteuid() != 0:
            raise HardLabUnavailable('binds 127.x addresses on port 53: needs root')
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix='hardlab-', dir='/tmp'))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prefix = choose_prefix(self.requested_prefix)
        self.log_path = self.workdir / 'server.log'
        self.query_log = self.workdir / 'queries.log'
        self.query_log.write_text('')
        self.proc = spawn([PYTHON, str(Path(__file__).resolve()), '--prefix', self.prefix,
                           '--log', str(self.query_log)],
                          log_path=self.log_path, cwd=str(self.workdir),
                          stdout=subprocess.PIPE)
        try:
            self._wait_ready(time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, deadline):
        while True:
            left = deadline - time.monotonic()
            if self.proc.poll() is not None or left <= 0:
                raise HardLabUnavailable(f'hardcases.py did not start:\n{self.server_log()}')
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.2))
            if ready and self.proc.stdout.readline().strip() == b'ready':
                break
        # one answer from the root, then the log is ours again
        while True:
            try:
                q = dns.message.make_query('.', 'SOA')
                q.flags &= ~dns.flags.RD
                r = dns.query.udp(q, self.addr('root'), timeout=0.3)
                if r.rcode() == dns.rcode.NOERROR and r.answer:
                    return
            except Exception:  # noqa: BLE001 - not answering yet
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise HardLabUnavailable(f'hardcases.py does not answer:\n{self.server_log()}')
            time.sleep(0.05)

    def stop(self):
        from . import terminate  # noqa: PLC0415
        terminate(self.proc)
        self.proc = None
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def server_log(self):
        try:
            return self.log_path.read_text(errors='replace')[-4000:]
        except (FileNotFoundError, AttributeError):
            return ''

    # -- phases

    def set_phase(self, phase, timeout=5.0):
        """Switch every server to the data of phase 1 or 2 and wait until the
        hc. server says so (phase.hc. TXT)."""
        os.kill(self.proc.pid, signal.SIGUSR1 if phase == 2 else signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        want = f'"{phase}"'
        while True:
            q = dns.message.make_query('phase.hc.', 'TXT')
            q.flags &= ~dns.flags.RD
            with contextlib.suppress(dns.exception.Timeout):
                r = dns.query.udp(q, self.addr('hc'), timeout=0.3)
                if any(rd.to_text() == want for rrset in r.answer for rd in rrset):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f'hardcases.py did not switch to phase {phase}')
            time.sleep(0.02)

    # -- the query log

    def _lines(self):
        return self.query_log.read_text().splitlines()

    def mark(self):
        """The current end of the query log (for queries(mark))."""
        return len(self._lines())

    def queries(self, mark=0, under=None):
        """[Query(addr, transport, qname, qtype)] logged since mark; with
        under='zone.' only those for names at or below it (qname lower
        case, absolute)."""
        out = []
        suffix = dns.name.from_text(under) if under else None
        for line in self._lines()[mark:]:
            parts = line.split()
            if len(parts) != 4:
                continue
            q = Query(parts[0], parts[1], parts[2].lower(), parts[3])
            if suffix is not None and not dns.name.from_text(q.qname).is_subdomain(suffix):
                continue
            out.append(q)
        return out

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == '__main__':
    sys.exit(main())
