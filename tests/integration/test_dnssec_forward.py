"""DNSSEC validation of forwarded answers (policy.FORWARD, policy.TLS_FORWARD),
and none for policy.STUB, against the signed lab (tests/lab/signed.py).

The forwarding target is one Unbound per module (tests/lab/resolvers.py's
UNBOUND_CONF: ``module-config: "iterator"``, so it does not validate and
hands over bogus data as it is; the signed lab's root hints,
``do-not-query-localhost: no``), listening for plain DNS and, with a
certificate for dot.test made by openssl at test time, for DNS over TLS.
The resolver under test (KRESD_BIN) gets

    trust_anchors.remove('.')
    trust_anchors.add('. IN DS <lab root KSK>')
    policy.add(policy.all(policy.FORWARD({'127.0.0.1@<Unbound port>'})))

and no root hints of the lab: everything it learns comes through Unbound.
As Knot Resolver 5.6 does it, the forwarded queries carry RD, DO and CD
(CD: the target must hand over bogus data, we judge it), the DS and DNSKEY
records come through the target too, and an unsigned zone is found
insecure by following the DS records down from the trust anchor.
policy.STUB does not validate (Knot Resolver 5.6: "without attempting
DNSSEC validation"): no AD, bogus data is answered.

One forwarding resolver serves most tests (scope='module'); the tests that
need another config (negative trust anchor, STUB, TLS_FORWARD, a relay
that records what is forwarded) start their own.  The tests are checked
against Knot Resolver 5.6 (all pass):

    KRESD_BIN=$PWD/tests/lab/knot_resolver_as_kresd.py \\
        /usr/bin/python3 -m pytest -q tests/integration/test_dnssec_forward.py

Where Knot Resolver 5.6 differs from the RFCs, the test's docstring says so.
Each resolver logs at log_level('debug'); with KRESD_TEST_KEEP=1 its rundir
(/tmp/kdf-*/r/*.stderr) and the target's (/tmp/kfw-*/unbound) stay after
the tests.
"""

import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
from pathlib import Path

import pytest

import dns.flags
import dns.message
import dns.rdatatype

from conftest import free_port, make_pki
from dnssec_wire import (LabResolver, ask, assert_denial, assert_insecure, assert_secure, data,
                         ede_codes, has_ad, rcode, rrsets, www)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lab import resolvers as labresolvers  # noqa: E402  (tests/lab)

DOT_NAME = 'dot.test'         # the name in the target's certificate
KEEP = os.environ.get('KRESD_TEST_KEEP') == '1'   # keep the rundirs (logs)


# ---------------------------------------------------------------- the target

class Target:
    """The forwarding target: a non-validating Unbound that resolves the
    signed lab, plain DNS on .port, DNS over TLS on .tls_port (its
    certificate for dot.test is signed by the CA in .ca)."""

    def __init__(self, slab, workdir):
        self.dir = Path(workdir)
        pki = make_pki(self.dir / 'pki', f'DNS:{DOT_NAME}')
        self.ca = pki['ca']
        self.port = free_port()
        self.tls_port = free_port()
        extra = '\n    '.join([
            f'interface: 127.0.0.1@{self.tls_port}',
            f'tls-port: {self.tls_port}',
            f'tls-service-key: "{pki["key"]}"',
            f'tls-service-pem: "{pki["cert"]}"',
        ])
        self.unbound = labresolvers.Unbound(slab, self.dir / 'unbound', self.port,
                                            cache_mb=16, extra=extra)

    def start(self):
        why = self.unbound.available()
        if why:
            pytest.fail(why, pytrace=False)
        self.unbound.start()
        return self

    def stop(self):
        self.unbound.stop()


@pytest.fixture(scope='module')
def target(signed_lab):
    d = Path(tempfile.mkdtemp(prefix='kfw-', dir='/tmp'))
    t = Target(signed_lab, d)
    try:
        t.start()
        yield t
    finally:
        t.stop()
        if not KEEP:
            shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- resolvers under test

def forward_rule(kind, t, port=None):
    """The policy rule that sends everything to the target."""
    if kind == 'FORWARD':
        return f"policy.add(policy.all(policy.FORWARD({{'127.0.0.1@{port or t.port}'}})))"
    if kind == 'STUB':
        return f"policy.add(policy.all(policy.STUB({{'127.0.0.1@{port or t.port}'}})))"
    if kind == 'TLS_FORWARD':
        return ("policy.add(policy.all(policy.TLS_FORWARD({"
                f"{{'127.0.0.1@{t.tls_port}', hostname='{DOT_NAME}', ca_file='{t.ca}'}}"
                "})))")
    raise ValueError(kind)


def config(slab, port, rule, extra=''):
    lines = [f"net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})",
             "log_level('debug')",
             "trust_anchors.remove('.')",
             f"trust_anchors.add('{slab.trust_anchor_ds()}')",
             'cache.size = 10 * MB']
    if extra:
        lines.append(extra)
    lines.append(rule)
    return '\n'.join(lines) + '\n'


def Resolver(binary, slab, rule, extra=''):
    """A kresd that forwards to the target, in its own /tmp rundir."""
    return LabResolver(binary, lambda port: config(slab, port, rule, extra), prefix='kdf-',
                       keep=KEEP)


@pytest.fixture(scope='module')
def fwd(kresd_bin, signed_lab, target):
    """The port of the module's forwarding resolver."""
    r = Resolver(kresd_bin, signed_lab, forward_rule('FORWARD', target)).start()
    try:
        yield r.port
    finally:
        r.close()


@pytest.fixture
def own_resolver(kresd_bin, signed_lab, target):
    """own_resolver(kind='FORWARD', extra='', port=None) -> port of a fresh
    resolver (port: forward to that port instead of the target's)."""
    made = []

    def factory(kind='FORWARD', extra='', port=None):
        r = Resolver(kresd_bin, signed_lab, forward_rule(kind, target, port), extra).start()
        made.append(r)
        return r.port

    yield factory
    for r in made:
        r.close()


# ---------------------------------------------------------------- a recording relay

class Relay:
    """UDP and TCP on 127.0.0.1:.port, each message relayed to the target
    as it is; .queries is what was relayed: (qname, qtype, RD, CD, DO)."""

    def __init__(self, upstream_port):
        self.upstream = ('127.0.0.1', upstream_port)
        self.port = free_port()
        self.queries = []
        self.lock = threading.Lock()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(('127.0.0.1', self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(('127.0.0.1', self.port))
        self.tcp.listen(16)
        self.closed = False
        for fn in (self._udp_loop, self._tcp_loop):
            threading.Thread(target=fn, daemon=True).start()

    def _record(self, wire):
        try:
            q = dns.message.from_wire(wire)
        except Exception:  # noqa: BLE001 - recorded as unparsable
            with self.lock:
                self.queries.append(('?', '?', False, False, False))
            return
        qn = q.question[0]
        with self.lock:
            self.queries.append((str(qn.name).lower(), dns.rdatatype.to_text(qn.rdtype),
                                 bool(q.flags & dns.flags.RD), bool(q.flags & dns.flags.CD),
                                 bool(q.ednsflags & dns.flags.DO)))

    def _udp_one(self, wire, client):
        self._record(wire)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(wire, self.upstream)
            try:
                answer = s.recv(65535)
            except OSError:
                return
        try:
            self.udp.sendto(answer, client)
        except OSError:
            pass

    def _udp_loop(self):
        while not self.closed:
            try:
                wire, client = self.udp.recvfrom(65535)
            except OSError:
                return
            threading.Thread(target=self._udp_one, args=(wire, client), daemon=True).start()

    @staticmethod
    def _read(sock, n):
        buf = b''
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError
            buf += chunk
        return buf

    def _tcp_conn(self, conn):
        try:
            with conn, socket.create_connection(self.upstream, timeout=5) as up:
                conn.settimeout(10)
                while True:
                    (n,) = struct.unpack('!H', self._read(conn, 2))
                    wire = self._read(conn, n)
                    self._record(wire)
                    up.sendall(struct.pack('!H', n) + wire)
                    (m,) = struct.unpack('!H', self._read(up, 2))
                    conn.sendall(struct.pack('!H', m) + self._read(up, m))
        except (OSError, ConnectionError, struct.error):
            return

    def _tcp_loop(self):
        while not self.closed:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def close(self):
        self.closed = True
        for s in (self.udp, self.tcp):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


@pytest.fixture
def relay(target):
    r = Relay(target.port)
    try:
        yield r
    finally:
        r.close()


# ---------------------------------------------------------------- helpers

# ---------------------------------------------------------------- secure

def test_secure_answer_with_do(fwd):
    """www.good.sec. A (alg 13, NSEC) through the forwarder: NOERROR, AD,
    and the RRSIG with DO."""
    r = ask(fwd, 'www.good.sec.')
    assert_secure(r, 'www.good.sec. A +do', expected=[www('good.sec.')])
    sigs = rrsets(r.answer, 'RRSIG', 'A')
    assert sigs and str(sigs[0].name) == 'www.good.sec.', f'no RRSIG A with DO:\n{r}'


def test_ad_only_when_asked(fwd):
    """RFC 4035 3.2.3 / RFC 6840 5.7: no AD (and no RRSIG) without DO or
    AD in the query; AD without DO asks for AD."""
    r = ask(fwd, 'www.good.sec.', do=False)
    assert rcode(r) == 'NOERROR' and data(r) == [www('good.sec.')], str(r)
    assert not has_ad(r), f'AD without DO or AD in the query:\n{r}'
    assert not rrsets(r.answer, 'RRSIG'), f'RRSIG without DO:\n{r}'
    r = ask(fwd, 'www.good.sec.', do=False, ad=True)
    assert_secure(r, 'www.good.sec. A +ad', expected=[www('good.sec.')])


def test_secure_answer_from_cache_stays_secure(fwd):
    """Asked again, a secure answer comes from the cache and is still
    secure: AD with DO, and with AD without DO (RFC 6840 5.7)."""
    for i, (do, ad) in enumerate([(True, False), (True, False), (False, True), (True, False)]):
        r = ask(fwd, 'txt.good.sec.', 'TXT', do=do, ad=ad)
        assert_secure(r, f'txt.good.sec. TXT, query {i + 1} (DO={do}, AD={ad})', 'TXT',
                      ['"hello secure" "second string"'])


def test_secure_nxdomain_from_cache_stays_secure(fwd):
    """The same for a secure NXDOMAIN (NSEC), asked with DO, then with AD
    without DO, then with DO again."""
    for i, (do, ad) in enumerate([(True, False), (False, True), (True, False)]):
        r = ask(fwd, 'nx2.good.sec.', do=do, ad=ad)
        assert rcode(r) == 'NXDOMAIN', f'nx2.good.sec., query {i + 1}: {rcode(r)}\n{r}'
        assert has_ad(r), f'nx2.good.sec., query {i + 1} (DO={do}, AD={ad}): no AD\n{r}'


@pytest.mark.parametrize('zone', ['n3.sec.', 'sec.', 'oo.', 'rsa.sec.'])
def test_secure_answer_nsec3_and_other_algorithms(fwd, zone):
    """n3.sec. (alg 13, NSEC3), sec. (alg 8, NSEC3), oo. (alg 13, NSEC3
    opt-out), rsa.sec. (alg 10): www.<zone> A is secure."""
    r = ask(fwd, f'www.{zone}')
    assert_secure(r, f'www.{zone} A', expected=[www(zone)])
    assert rrsets(r.answer, 'RRSIG', 'A'), f'no RRSIG with DO:\n{r}'


@pytest.mark.parametrize('name,kind,zone', [
    ('nothere.good.sec.', 'NSEC', 'good.sec.'),
    ('nothere.n3.sec.', 'NSEC3', 'n3.sec.'),
])
def test_secure_nxdomain(fwd, name, kind, zone):
    """A forwarded NXDOMAIN, proven by NSEC / NSEC3: AD, and the proof in
    the authority section with DO."""
    r = ask(fwd, name)
    assert rcode(r) == 'NXDOMAIN', f'{name}: {rcode(r)}\n{r}'
    assert has_ad(r), f'AD not set on a secure NXDOMAIN:\n{r}'
    assert_denial(r, kind, zone)


def test_secure_nodata(fwd):
    r = ask(fwd, 'v4only.good.sec.', 'AAAA')
    assert_secure(r, 'v4only.good.sec. AAAA', 'AAAA', [])
    assert_denial(r, 'NSEC', 'good.sec.')


# ---------------------------------------------------------------- insecure

def test_insecure_delegation_answers_without_ad(fwd):
    """unsigned.sec. has no DS (sec.'s NSEC3 proves it, fetched through
    the forwarder): NOERROR, no AD."""
    r = ask(fwd, 'www.unsigned.sec.')
    assert_insecure(r, 'www.unsigned.sec. A', expected=[www('unsigned.sec.')])


def test_opt_out_insecure_delegation_answers_without_ad(fwd):
    """child.oo. has no DS; an opt-out NSEC3 of oo. covers it (RFC 5155
    6, 8.9): NOERROR, no AD."""
    r = ask(fwd, 'www.child.oo.')
    assert_insecure(r, 'www.child.oo. A', expected=[www('child.oo.')])


def test_nxdomain_in_opt_out_span_is_not_secure(fwd):
    """RFC 5155 9.2: an NXDOMAIN whose next closer name is covered by an
    opt-out NSEC3 may hide an unsigned delegation: no AD."""
    r = ask(fwd, 'nothere.oo.')
    assert_insecure(r, 'nothere.oo. A', rc='NXDOMAIN')


def test_unsupported_algorithm_answers_insecure(fwd):
    """RFC 4035 5.2 / RFC 6840 5.2: unkalg.sec.'s DS names only the
    unassigned algorithm 100: insecure, NOERROR, no AD.  Knot Resolver
    5.6 adds EDE 0 (Other) "unsupported digest/key" with DO; RFC 8914
    would have 1 (Unsupported DNSKEY Algorithm).  The EDE is not checked
    beyond these."""
    r = ask(fwd, 'www.unkalg.sec.')
    assert_insecure(r, 'www.unkalg.sec. A', expected=[www('unkalg.sec.')])
    assert set(ede_codes(r)) <= {0, 1, 2}, f'unexpected EDE {ede_codes(r)}:\n{r}'


# ---------------------------------------------------------------- bogus

BROKEN = [
    # zone, EDE codes accepted (RFC 8914), as in test_dnssec.py
    pytest.param('dsbad.sec.', {6, 9}, id='ds-mismatch'),
    pytest.param('expired.sec.', {7}, id='expired'),
    pytest.param('future.sec.', {8}, id='not-yet-valid'),
    pytest.param('nosig.sec.', {10}, id='rrsig-missing'),
]


@pytest.mark.parametrize('zone,codes', BROKEN)
def test_bogus_answer_is_servfail_with_ede(fwd, zone, codes):
    """The forwarder (which does not validate) hands the bogus data over;
    we judge it: SERVFAIL, no data, the EDE that says why (RFC 8914).
    dsbad.sec.: 9 (DNSKEY Missing) fits best, 6 (DNSSEC Bogus) is right
    too (Knot Resolver 5.6 sends 6); expired: 7; future: 8; nosig: 10."""
    name = f'www.{zone}'
    for do in (True, False, True):      # the third from what the first two left
        r = ask(fwd, name, do=do)
        assert rcode(r) == 'SERVFAIL', f'{name} (DO={do}): {rcode(r)}\n{r}'
        assert not has_ad(r)
        assert not data(r), f'{name}: bogus data returned without CD:\n{r}'
        got = ede_codes(r)
        assert set(got) & codes, f'{name}: EDE {got}, expected one of {sorted(codes)}\n{r}'


@pytest.mark.parametrize('zone,codes', BROKEN)
def test_bogus_data_returned_with_cd(fwd, zone, codes):
    """CD (RFC 4035 3.2.2): the data comes back, NOERROR, without AD."""
    name = f'www.{zone}'
    ask(fwd, name)                      # the bogus answer first (then cached as such)
    for do in (True, False):
        r = ask(fwd, name, do=do, cd=True)
        assert_insecure(r, f'{name} +cd (DO={do})', expected=[www(zone)])


def test_bogus_asked_with_cd_first_is_still_refused_without(own_resolver):
    """A cold resolver asked with CD first hands the bogus data over; the
    same names asked without CD afterwards are SERVFAIL all the same (what
    the CD query left in the cache is not taken as validated)."""
    p = own_resolver()
    for zone in ('expired.sec.', 'nosig.sec.', 'dsbad.sec.'):
        name = f'www.{zone}'
        r = ask(p, name, cd=True)
        assert_insecure(r, f'{name} +cd (cold)', expected=[www(zone)])
        for do in (True, False):
            r = ask(p, name, do=do)
            assert rcode(r) == 'SERVFAIL', f'{name} after +cd (DO={do}): {rcode(r)}\n{r}'
            assert not data(r), f'{name}: bogus data returned without CD:\n{r}'


def test_negative_trust_anchor_makes_broken_zone_resolve(own_resolver):
    """trust_anchors.set_insecure({'dsbad.sec.'}) (RFC 7646): the zone is
    insecure: NOERROR, no AD; the other zones are validated as before."""
    p = own_resolver(extra="trust_anchors.set_insecure({'dsbad.sec.'})")
    for do in (True, False):
        r = ask(p, 'www.dsbad.sec.', do=do)
        assert_insecure(r, f'www.dsbad.sec. under NTA (DO={do})', expected=[www('dsbad.sec.')])
    r = ask(p, 'www.expired.sec.')
    assert rcode(r) == 'SERVFAIL', f'the NTA covers dsbad.sec. only:\n{r}'
    r = ask(p, 'www.good.sec.')
    assert_secure(r, 'www.good.sec. A beside the NTA', expected=[www('good.sec.')])


# ---------------------------------------------------------------- what is forwarded

def test_forwarded_queries_carry_rd_do_cd_and_fetch_keys_through_target(own_resolver, relay):
    """A client query without DO: every query to the target still has RD,
    DO and CD (as Knot Resolver 5.6 sends them),
    and the DNSKEYs of '.', sec. and good.sec. and the DS records of sec.
    and good.sec. are asked of the target (there is nowhere else to ask)."""
    p = own_resolver(port=relay.port)
    r = ask(p, 'www.good.sec.', do=False, ad=True)
    assert_secure(r, 'www.good.sec. A through the relay', expected=[www('good.sec.')])
    with relay.lock:
        seen = list(relay.queries)
    assert seen, 'nothing was forwarded'
    bad = [q for q in seen if not (q[2] and q[3] and q[4])]
    assert not bad, f'forwarded without RD, CD or DO (name, type, RD, CD, DO): {bad}'
    asked = {(q[0], q[1]) for q in seen}
    for want in [('www.good.sec.', 'A'), ('.', 'DNSKEY'), ('sec.', 'DS'), ('sec.', 'DNSKEY'),
                 ('good.sec.', 'DS'), ('good.sec.', 'DNSKEY')]:
        assert want in asked, f'{want} not asked of the target: {sorted(asked)}'


def test_unsigned_zone_found_insecure_through_ds(own_resolver, relay):
    """www.unsigned.sec.: the DS of unsigned.sec. is asked of the target
    (its NSEC3 NODATA proves the delegation insecure)."""
    p = own_resolver(port=relay.port)
    r = ask(p, 'www.unsigned.sec.')
    assert_insecure(r, 'www.unsigned.sec. A through the relay',
                    expected=[www('unsigned.sec.')])
    with relay.lock:
        asked = {(q[0], q[1]) for q in relay.queries}
    assert ('unsigned.sec.', 'DS') in asked, f'no DS unsigned.sec. asked: {sorted(asked)}'


# ---------------------------------------------------------------- TLS_FORWARD

def test_tls_forward_validates(own_resolver):
    """policy.TLS_FORWARD to the target's DNS-over-TLS port: validated as
    FORWARD is."""
    p = own_resolver('TLS_FORWARD')
    r = ask(p, 'www.good.sec.')
    assert_secure(r, 'www.good.sec. A over TLS', expected=[www('good.sec.')])
    assert rrsets(r.answer, 'RRSIG', 'A'), f'no RRSIG with DO:\n{r}'
    r = ask(p, 'www.unsigned.sec.')
    assert_insecure(r, 'www.unsigned.sec. A over TLS', expected=[www('unsigned.sec.')])
    r = ask(p, 'www.expired.sec.')
    assert rcode(r) == 'SERVFAIL', f'www.expired.sec. over TLS: {rcode(r)}\n{r}'
    assert 7 in ede_codes(r), f'EDE {ede_codes(r)}, expected 7\n{r}'
    r = ask(p, 'www.expired.sec.', cd=True)
    assert_insecure(r, 'www.expired.sec. +cd over TLS', expected=[www('expired.sec.')])


# ---------------------------------------------------------------- STUB

def test_stub_does_not_validate(own_resolver):
    """policy.STUB to the same target: no validation (as Knot Resolver
    5.6): no AD on the secure name, the bogus zones answer their data."""
    p = own_resolver('STUB')
    for do in (True, False):
        r = ask(p, 'www.good.sec.', do=do, ad=not do)
        assert_insecure(r, f'www.good.sec. A via STUB (DO={do})', expected=[www('good.sec.')])
    for zone in ('dsbad.sec.', 'expired.sec.', 'nosig.sec.'):
        r = ask(p, f'www.{zone}')
        assert_insecure(r, f'www.{zone} A via STUB', expected=[www(zone)])
