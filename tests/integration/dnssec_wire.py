"""What the DNSSEC integration tests share: a kresd with a config of its
own in a /tmp rundir (LabResolver), and what they ask and check on the
wire (one query with DO/CD/AD as asked, over TCP after TC; the AD bit,
EDE codes, RRSIGs and denial proofs of an answer). Used by
test_dnssec.py, test_dnssec_forward.py and test_dnssec_modules.py."""

import shutil
import sys
import tempfile
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lab import signed as signedlib  # noqa: E402  (tests/lab)

from conftest import Kresd, free_port  # noqa: E402

RESOLVE_TIMEOUT = 10.0
EDE = 15                      # EDNS option code of Extended DNS Errors (RFC 8914)


class LabResolver:
    """A kresd in its own /tmp rundir (prefix `prefix`), listening on
    self.port with the config that make_config(port) returns; the rundir
    is removed on close() unless `keep`. Extra arguments go to Kresd."""

    def __init__(self, binary, make_config, prefix='kd-', keep=False, **kresd_args):
        self.dir = Path(tempfile.mkdtemp(prefix=prefix, dir='/tmp'))
        self.port = free_port()
        self.keep = keep
        self.kresd = Kresd(binary, self.dir / 'r', make_config(self.port), **kresd_args)

    def start(self):
        self.kresd.start()
        return self

    def close(self):
        self.kresd.kill()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def lua(self, line):
        return self.kresd.lua(line)

    def log(self):
        return self.kresd.stderr()


def ask(port, name, rdtype='A', *, do=True, cd=False, ad=False, timeout=RESOLVE_TIMEOUT):
    """One query with EDNS (DO as asked) over UDP, again over TCP if the
    answer is truncated."""
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232, want_dnssec=do)
    if cd:
        q.flags |= dns.flags.CD
    if ad:
        q.flags |= dns.flags.AD
    r = dns.query.udp(q, '127.0.0.1', port=port, timeout=timeout)
    if r.flags & dns.flags.TC:
        r = dns.query.tcp(q, '127.0.0.1', port=port, timeout=timeout)
    return r


def rcode(r):
    return dns.rcode.to_text(r.rcode())


def has_ad(r):
    return bool(r.flags & dns.flags.AD)


def ede_codes(r):
    return [int(o.code) for o in r.options if o.otype == EDE]


def rrsets(section, rdtype, covers=None):
    t = dns.rdatatype.from_text(rdtype)
    c = dns.rdatatype.from_text(covers) if covers else None
    return [rr for rr in section if rr.rdtype == t and (c is None or rr.covers == c)]


def data(r, rdtype='A'):
    return sorted(rd.to_text() for rr in rrsets(r.answer, rdtype) for rd in rr)


def www(zone):
    return signedlib.SignedLab.www_address(zone)


def assert_secure(r, what, rdtype='A', expected=None):
    assert rcode(r) == 'NOERROR', f'{what}: {rcode(r)}\n{r}'
    assert has_ad(r), f'{what}: AD not set on a secure answer\n{r}'
    if expected is not None:
        assert data(r, rdtype) == sorted(expected), f'{what}:\n{r}'


def assert_insecure(r, what, rdtype='A', expected=None, rc='NOERROR'):
    assert rcode(r) == rc, f'{what}: {rcode(r)}\n{r}'
    assert not has_ad(r), f'{what}: AD set on an insecure answer\n{r}'
    if expected is not None:
        assert data(r, rdtype) == sorted(expected), f'{what}:\n{r}'


def assert_denial(r, kind, zone):
    """Authority section of a signed negative answer (with DO): the zone's
    SOA with its RRSIG, and NSEC or NSEC3 records each with an RRSIG."""
    soa = rrsets(r.authority, 'SOA')
    assert soa and str(soa[0].name) == zone, f'no SOA of {zone} in authority:\n{r}'
    assert rrsets(r.authority, 'RRSIG', 'SOA'), f'no RRSIG of the SOA:\n{r}'
    proofs = rrsets(r.authority, kind)
    assert proofs, f'no {kind} in authority:\n{r}'
    signed = {rr.name for rr in rrsets(r.authority, 'RRSIG', kind)}
    for rr in proofs:
        assert rr.name in signed, f'{kind} {rr.name} without RRSIG:\n{r}'
        assert rr.name.is_subdomain(dns.name.from_text(zone))
