"""A DNSSEC-signed local hierarchy for the validation tests.

    from lab.signed import SignedLab
    with SignedLab() as S:                  # keys made, zones signed, servers answering
        S.hints_root_lua()                  # "hints.root({['a.root-servers.sec.'] = {'127.63.0.1'}})"
        S.trust_anchor_ds()                 # ". IN DS 12345 13 2 ab12..."
        S.root_keys_file(path)              # the root KSK as a DNSKEY line (root.keys form)
        S.addresses['good']                 # '127.63.2.1'
        S.query_counts('good')              # {'A': 2, 'DNSKEY': 1, ...} what knotd was asked
        with S.offline(['good']): ...       # as lab.Lab

    Rolling the root's KSK (RFC 5011 tests; the lab's anchors stay as built):
        new = S.add_root_ksk()              # a second KSK for '.' (ldns-keygen base name)
        S.resign_root([S.root_ksk, new], ttl=1)   # '.' signed again, knotd reloaded
        S.resign_root([S.revoke_root_ksk(S.root_ksk), new])   # the old KSK revoked
        S.root_dnskey(new)                  # its DNSKEY rdata (dnspython)

Like ``lab.Lab`` (it is a subclass: same process handling, one knotd per
address, readiness by SOA with AA), but every zone is signed at start with
``ldns-keygen`` / ``ldns-signzone`` in the lab's temp dir, bottom-up (a
child's DS is computed from its KSK and put into the parent before the
parent is signed), and knotd only serves the pre-signed text
(``dnssec-signing: off``, ``semantic-checks: off``), so the intentionally
broken zones are served as they are.  Each knotd has ``mod-stats`` on its
zone, so ``query_counts()`` tells what a server was asked (``knotc
zone-stats <zone> mod-stats.query-type``).

The zones (``ZONES`` below; ``P`` is the prefix, default the first free of
127.63 .. 127.72, or ``KRESD_SIGNED_LAB_PREFIX``)::

    .             P.0.1   alg 13 KSK+ZSK, NSEC       NS a.root-servers.sec.
    sec.          P.1.1   alg 8, NSEC3 (salt, 1 iteration), no opt-out
    oo.           P.1.2   alg 13, NSEC3 opt-out; child.oo. is an unsigned
                          delegation covered by an opt-out span (no NSEC3
                          of its own)
    good.sec.     P.2.1   alg 13 NSEC: www A/AAAA, txt TXT, *.wild A,
                          cname CNAME www, v4only A (NODATA AAAA), x.y A
                          (y is an empty non-terminal)
    n3.sec.       P.2.2   alg 13 NSEC3 (salt, 5 iterations), same data
    ed.sec.       P.2.3   alg 15 (ED25519)
    p384.sec.     P.2.4   alg 14 (ECDSAP384SHA384)
    ed448.sec.    P.2.5   alg 16 (ED448)
    rsa.sec.      P.2.6   alg 10 (RSASHA512)
    unsigned.sec. P.2.7   unsigned, no DS (sec.'s NSEC3 proves it)
    child.oo.     P.2.8   unsigned, no DS (oo.'s opt-out NSEC3 covers it)
    dsbad.sec.    P.3.1   signed; the DS in sec. is of another key
    expired.sec.  P.3.2   signatures expired 30 days ago
    future.sec.   P.3.3   signatures valid from 30 days on
    nosig.sec.    P.3.4   the RRSIG of www.nosig.sec. A removed
    unkalg.sec.   P.3.5   signed alg 13, then DNSKEY/RRSIG/DS rewritten to
                          the unassigned algorithm 100 (key tags redone)
    md5.sec.      P.3.6   RSAMD5 (alg 1: must not be validated, RFC 8624)
    dsa.sec.      P.3.7   DSA (alg 3: must not be validated, RFC 8624)
    iter.sec.     P.3.8   alg 13 NSEC3 with 200 iterations
    bulk.sec.     P.4.1   only with SignedLab(bulk_count=N) (default 0: not
                          there): alg 13, NSEC3 (salt, 0 iterations), the A
                          records n0 .. n<N-1> (198.18.x.y, as bulk.sim. of
                          the unsigned lab), securely delegated from sec.;
                          for the DNSSEC benchmark (signed_bulk_names())

Every zone has ``www A`` (``www_address(zone)``); NS names are
``ns1.<zone>`` with glue in the parent.  Data use 192.0.2.0/24 and
2001:db8::/32 only.

Signing takes well under a second (keys for all zones are made in
parallel).  Needs root (port 53), knotd, knotc, ldns-keygen and
ldns-signzone (Debian: knot, ldnsutils); ``start()`` raises
``LabUnavailable`` otherwise.
"""

import concurrent.futures
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone

from . import KNOTD, START_TIMEOUT, Lab, LabError, LabUnavailable, _bindable, _Running, spawn
from . import zones as _zones

__all__ = ['SignedLab', 'ZONES', 'check_signed_available']

LDNS_KEYGEN = shutil.which('ldns-keygen') or '/usr/bin/ldns-keygen'
LDNS_SIGNZONE = shutil.which('ldns-signzone') or '/usr/bin/ldns-signzone'
KNOTC = os.environ.get('KNOTC_BIN') or shutil.which('knotc') or '/usr/sbin/knotc'
SIGNED_PREFIX_CANDIDATES = [f'127.{n}' for n in range(63, 73)]
ROOT_SERVER = 'a.root-servers.sec.'
TTL = 3600
NEG_TTL = 300
UNKNOWN_ALGORITHM = 100          # unassigned in the IANA registry
DAY = 86400


class SZone:
    """One zone of the signed lab."""

    def __init__(self, origin, server, host, parent, alg=None, nsec3=None, optout=False,
                 breakage=None, records=(), bits=None, www='192.0.2.1'):
        self.origin = origin
        self.server = server          # server name (key of addresses)
        self.host = host              # 'X.Y' under the prefix
        self.parent = parent          # parent origin (None for the root)
        self.alg = alg                # ldns-keygen algorithm name; None: unsigned
        self.nsec3 = nsec3            # (salt, iterations) or None for NSEC
        self.optout = optout
        self.breakage = breakage      # None, 'dsbad', 'expired', 'future', 'nosig', 'unkalg'
        self.records = list(records)
        self.bits = bits
        self.www = www

    @property
    def signed(self):
        return self.alg is not None

    def __repr__(self):
        return f'SZone({self.origin!r}, {self.server!r}, alg={self.alg!r})'


_LEAF_DATA = [
    'www AAAA 2001:db8::1',
    'txt TXT "hello secure" "second string"',
    '*.wild A 192.0.2.4',
    'cname CNAME www',
    'v4only A 192.0.2.3',
    'x.y A 192.0.2.5',
]

ZONES = [
    SZone('.', 'root', '0.1', None, 'ECDSAP256SHA256'),
    SZone('sec.', 'sec', '1.1', '.', 'RSASHA256', nsec3=('cafe', 1), bits=2048,
          www='192.0.2.100'),
    SZone('oo.', 'oo', '1.2', '.', 'ECDSAP256SHA256', nsec3=('0f', 1), optout=True,
          www='192.0.2.101'),
    SZone('good.sec.', 'good', '2.1', 'sec.', 'ECDSAP256SHA256', records=_LEAF_DATA),
    SZone('n3.sec.', 'n3', '2.2', 'sec.', 'ECDSAP256SHA256', nsec3=('beef', 5),
          records=_LEAF_DATA, www='192.0.2.2'),
    SZone('ed.sec.', 'ed', '2.3', 'sec.', 'ED25519', www='192.0.2.15'),
    SZone('p384.sec.', 'p384', '2.4', 'sec.', 'ECDSAP384SHA384', www='192.0.2.14'),
    SZone('ed448.sec.', 'ed448', '2.5', 'sec.', 'ED448', www='192.0.2.16'),
    SZone('rsa.sec.', 'rsa', '2.6', 'sec.', 'RSASHA512', bits=2048, www='192.0.2.10'),
    SZone('unsigned.sec.', 'unsigned', '2.7', 'sec.', None, www='192.0.2.20'),
    SZone('child.oo.', 'ooc', '2.8', 'oo.', None, www='192.0.2.21'),
    SZone('dsbad.sec.', 'dsbad', '3.1', 'sec.', 'ECDSAP256SHA256', breakage='dsbad',
          www='192.0.2.31'),
    SZone('expired.sec.', 'expired', '3.2', 'sec.', 'ECDSAP256SHA256', breakage='expired',
          www='192.0.2.32'),
    SZone('future.sec.', 'future', '3.3', 'sec.', 'ECDSAP256SHA256', breakage='future',
          www='192.0.2.33'),
    SZone('nosig.sec.', 'nosig', '3.4', 'sec.', 'ECDSAP256SHA256', breakage='nosig',
          www='192.0.2.34'),
    SZone('unkalg.sec.', 'unkalg', '3.5', 'sec.', 'ECDSAP256SHA256', breakage='unkalg',
          www='192.0.2.35'),
    SZone('md5.sec.', 'md5', '3.6', 'sec.', 'RSAMD5', bits=1024, www='192.0.2.36'),
    SZone('dsa.sec.', 'dsa', '3.7', 'sec.', 'DSA', bits=1024, www='192.0.2.37'),
    SZone('iter.sec.', 'iter', '3.8', 'sec.', 'ECDSAP256SHA256', nsec3=('ab', 200),
          records=['v4only A 192.0.2.3'], www='192.0.2.38'),
]

ZONE_BY_ORIGIN = {z.origin: z for z in ZONES}
ZONE_BY_SERVER = {z.server: z for z in ZONES}


BULK_ORIGIN = 'bulk.sec.'


def signed_bulk_name(i):
    return f'n{i}.{BULK_ORIGIN}'


def bulk_zone(count):
    """The opt-in zone bulk.sec. with the A records n0 .. n<count-1>."""
    return SZone(BULK_ORIGIN, 'bulk', '4.1', 'sec.', 'ECDSAP256SHA256', nsec3=('b0', 0),
                 records=[f'n{i} A {_zones.bulk_address(i)}' for i in range(count)],
                 www='192.0.2.40')


def servers(prefix, zones=None):
    """The lab's servers (zones.Server: one knotd per zone and address);
    zones: the SZones (default ZONES)."""
    return [_zones.Server(z.server, f'{prefix}.{z.host}', [z.origin])
            for z in (ZONES if zones is None else zones)]


def check_signed_available():
    """Raise LabUnavailable when the signed lab cannot run here."""
    from . import check_available
    check_available()
    for tool in (LDNS_KEYGEN, LDNS_SIGNZONE, KNOTC):
        if not (os.path.isfile(tool) and os.access(tool, os.X_OK)):
            raise LabUnavailable(f'{tool} not found: install the Debian packages '
                                 f'"ldnsutils" and "knot"')


def choose_signed_prefix(preferred=None, zones=None):
    candidates = [preferred] if preferred else SIGNED_PREFIX_CANDIDATES
    for prefix in candidates:
        if all(_bindable(s.address) for s in servers(prefix, zones)):
            return prefix
    raise LabUnavailable(f'port 53 is busy on every candidate signed-lab prefix '
                         f'({", ".join(candidates)}); set KRESD_SIGNED_LAB_PREFIX')


# ------------------------------------------------------------ knotd

SIGNED_KNOT_CONF = """\
server:
    rundir: "{rundir}"
    listen: {address}@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: "{rundir}/knot.sock"
database:
    storage: "{rundir}/db"
    journal-db-max-size: 8M
    kasp-db-max-size: 8M
    timer-db-max-size: 8M
    catalog-db-max-size: 8M
log:
  - target: stderr
    any: notice
mod-stats:
  - id: count
    request-protocol: on
    query-type: on
    response-code: on
template:
  - id: default
    storage: "{zonedir}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
    dnssec-signing: off
    module: mod-stats/count
zone:
{zones}
"""


class _SignedRunning(_Running):
    """A knotd of the signed lab: the lab's process handling (spawn,
    readiness, stop by PID), its own config (pre-signed zones, mod-stats,
    a control socket for knotc)."""

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            return
        spec = self.spec
        conf = self.dir / 'knot.conf'
        (self.dir / 'db').mkdir(exist_ok=True)
        zones = '\n'.join(f'  - domain: "{origin}"\n    file: "{_zones.zone_file_name(origin)}"'
                          for origin in spec.zones)
        conf.write_text(SIGNED_KNOT_CONF.format(rundir=self.dir, address=spec.address,
                                                port=self.port, zonedir=self.lab.zonedir,
                                                zones=zones))
        self.proc = spawn([KNOTD, '-c', str(conf)], log_path=self.log_path, cwd=str(self.dir))

    def zone_stats(self):
        """{counter: value} from knotc zone-stats (e.g.
        'mod-stats.query-type[A]': 3)."""
        out = {}
        for origin in self.spec.zones:
            r = subprocess.run([KNOTC, '-s', str(self.dir / 'knot.sock'), '-t', '5',
                                'zone-stats', origin, 'mod-stats'],
                               capture_output=True, text=True, timeout=10)
            if r.returncode != 0:
                raise LabError(f'knotc zone-stats {origin}: {r.stdout}{r.stderr}')
            for line in r.stdout.splitlines():
                m = re.match(r'^\[[^\]]*\]\s+(\S+)\s*=\s*(\d+)\s*$', line)
                if m:
                    out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
        return out


# ------------------------------------------------------------ keys and signing

def _run(argv, cwd):
    r = subprocess.run(argv, cwd=str(cwd), capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise LabError(f'{" ".join(argv)} failed ({r.returncode}):\n{r.stdout}{r.stderr}')
    return r.stdout


def _keygen(keydir, origin, alg, bits, ksk):
    argv = [LDNS_KEYGEN, '-r', '/dev/urandom', '-a', alg]
    if bits:
        argv += ['-b', str(bits)]
    if ksk:
        argv.append('-k')
    return _run(argv + [origin], keydir).strip().splitlines()[-1]


def _dnskey_of(keydir, base):
    """The DNSKEY rdata of a key made by ldns-keygen (<base>.key:
    'owner [TTL] IN DNSKEY flags proto alg key')."""
    text = (Path(keydir) / f'{base}.key').read_text()
    m = re.search(r'\sDNSKEY\s+(.*)$', text, re.M)
    if not m:
        raise LabError(f'no DNSKEY in {base}.key: {text!r}')
    return dns.rdata.from_text('IN', 'DNSKEY', m.group(1))


def _load(path, origin):
    return dns.zone.from_text(Path(path).read_text(), origin=origin, relativize=False,
                              check_origin=False)


def _save(zone, path):
    Path(path).write_text(zone.to_text(relativize=False) + '\n')


def _strip_rrsig(zone, owner, covered):
    node = zone.get_node(owner)
    if node is None:
        raise LabError(f'{owner} not in the zone')
    node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG,
                         dns.rdatatype.from_text(covered))


def _rewrite_algorithm(zone, new_alg):
    """DNSKEY and RRSIG algorithm numbers set to new_alg (key tags in the
    RRSIGs follow the rewritten keys); returns the rewritten DNSKEYs."""
    origin = zone.origin
    node = zone.get_node(origin)
    keys = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    tags = {}
    new_keys = []
    for k in keys:
        nk = k.replace(algorithm=new_alg)
        tags[dns.dnssec.key_id(k)] = dns.dnssec.key_id(nk)
        new_keys.append(nk)
    ttl = keys.ttl
    node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    rds = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY, create=True)
    for nk in new_keys:
        rds.add(nk, ttl)
    for name, nd in zone.nodes.items():
        for rdataset in list(nd.rdatasets):
            if rdataset.rdtype != dns.rdatatype.RRSIG:
                continue
            sigs = [s.replace(algorithm=new_alg, key_tag=tags.get(s.key_tag, s.key_tag))
                    for s in rdataset]
            covers, ttl = rdataset.covers, rdataset.ttl
            nd.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, covers)
            new = nd.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, covers, create=True)
            for s in sigs:
                new.add(s, ttl)
    return new_keys


class SignedLab(Lab):
    """The signed hierarchy (see the module doc).  Use as a context
    manager or call start()/stop()."""

    def __init__(self, workdir=None, prefix=None, port=53, bulk_count=0):
        super().__init__(workdir=workdir, prefix=None, bulk_count=0, port=port)
        self.requested_prefix = prefix or os.environ.get('KRESD_SIGNED_LAB_PREFIX') or None
        # bulk_count > 0 adds the zone bulk.sec. (module doc); ZONES otherwise
        self.signed_bulk_count = bulk_count
        self.all_zones = list(ZONES) + ([bulk_zone(bulk_count)] if bulk_count else [])
        self.zones = {z.origin: z for z in self.all_zones}
        self.ksk = {}              # origin -> [DNSKEY rdata] the parent's DS is made of
        self.ds = {}               # origin -> [DS rdata] put into the parent
        self.signing_seconds = None

    # -- maps

    def root_hints(self):
        return {ROOT_SERVER: [self.addresses['root']]}

    def address_of(self, origin):
        return self.addresses[self.zones[origin].server]

    @staticmethod
    def www_address(origin):
        """The A of www.<origin>."""
        return ZONE_BY_ORIGIN[origin].www

    def trust_anchor_ds(self):
        """The root trust anchor as a DS line ('. IN DS tag 13 2 hex')."""
        return '\n'.join(f'. IN DS {ds.to_text()}' for ds in self.ds['.'])

    def signed_bulk_names(self, count=None):
        """n0.bulk.sec. .. : the names of the opt-in zone bulk.sec.
        (SignedLab(bulk_count=N)); count defaults to all of them."""
        n = self.signed_bulk_count if count is None else min(count, self.signed_bulk_count)
        return [signed_bulk_name(i) for i in range(n)]

    def root_keys_file(self, path=None):
        """Write the root KSK in DNSKEY form (a root.keys file, for
        trust_anchors.add_file / Unbound's trust-anchor-file); returns
        the path."""
        path = Path(path) if path else self.workdir / 'root.keys'
        path.write_text(''.join(f'. {TTL} IN DNSKEY {k.to_text()}\n' for k in self.ksk['.']))
        return path

    def query_counts(self, name):
        """{query type: count} of what the named server was asked since it
        started (knotd's mod-stats)."""
        stats = self.servers[name].zone_stats()
        out = {}
        for key, value in stats.items():
            m = re.match(r'mod-stats\.query-type\[(.+)\]$', key)
            if m:
                out[m.group(1)] = value
        return out

    def queries_total(self, name):
        """How many queries the named server got since it started."""
        return sum(self.query_counts(name).values())

    # -- building

    def _zone_text(self, z):
        p = self.prefix
        lines = [f'$ORIGIN {z.origin}', f'$TTL {TTL}']
        if z.origin == '.':
            lines += [f'@ SOA {ROOT_SERVER} hostmaster.sec. 1 3600 900 604800 {NEG_TTL}',
                      f'@ NS {ROOT_SERVER}', f'{ROOT_SERVER} A {self.address_of(".")}']
        else:
            lines += [f'@ SOA ns1 hostmaster 1 3600 900 604800 {NEG_TTL}',
                      '@ NS ns1', f'ns1 A {self.address_of(z.origin)}',
                      f'www A {z.www}']
        if z.origin == 'sec.':
            lines.append(f'a.root-servers A {p}.{self.zones["."].host}')
        lines += z.records
        return lines

    def _delegation(self, child):
        lines = [f'{child.origin} NS ns1.{child.origin}',
                 f'ns1.{child.origin} A {self.address_of(child.origin)}']
        lines += [f'{child.origin} DS {ds.to_text()}' for ds in self.ds.get(child.origin, [])]
        return lines

    def _make_keys(self, keydir):
        jobs = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            for z in self.all_zones:
                if not z.signed:
                    continue
                jobs[(z.origin, 'ksk')] = pool.submit(_keygen, keydir, z.origin, z.alg, z.bits, True)
                jobs[(z.origin, 'zsk')] = pool.submit(_keygen, keydir, z.origin, z.alg, z.bits, False)
                if z.breakage == 'dsbad':
                    jobs[(z.origin, 'other')] = pool.submit(_keygen, keydir, z.origin, z.alg,
                                                            z.bits, True)
            return {k: f.result() for k, f in jobs.items()}

    def _sign(self, z, keys, keydir):
        """Sign zone z (its children's DS are known by now); write the
        served file; set self.ksk/self.ds[z.origin]."""
        origin = z.origin
        children = [c for c in self.all_zones if c.parent == origin]
        lines = self._zone_text(z)
        late = []                  # added after signing (opt-out spans)
        for c in children:
            if z.optout and not c.signed:
                late += self._delegation(c)
            else:
                lines += self._delegation(c)
        unsigned_path = Path(keydir) / (_zones.zone_file_name(origin) + '.in')
        unsigned_path.write_text('\n'.join(lines) + '\n')
        out = Path(self.zonedir) / _zones.zone_file_name(origin)
        if not z.signed:
            out.write_text('\n'.join(lines + late) + '\n')
            return
        now = int(time.time())
        inception, expiration = now - 3600, now + 30 * DAY
        if z.breakage == 'expired':
            inception, expiration = now - 60 * DAY, now - 30 * DAY
        elif z.breakage == 'future':
            inception, expiration = now + 30 * DAY, now + 60 * DAY
        argv = [LDNS_SIGNZONE, '-i', str(inception), '-e', str(expiration),
                '-o', origin, '-f', str(out)]
        if z.nsec3:
            salt, iterations = z.nsec3
            argv += ['-n', '-s', salt, '-t', str(iterations)]
            if z.optout:
                argv.append('-p')
        argv += [str(unsigned_path), keys[(origin, 'ksk')], keys[(origin, 'zsk')]]
        _run(argv, keydir)
        ksk = [_dnskey_of(keydir, keys[(origin, 'ksk')])]
        if z.breakage in ('nosig', 'unkalg') or late:
            zone = _load(out, origin)
            if z.breakage == 'nosig':
                _strip_rrsig(zone, dns.name.from_text(f'www.{origin}'), 'A')
            if z.breakage == 'unkalg':
                new = _rewrite_algorithm(zone, UNKNOWN_ALGORITHM)
                ksk = [k for k in new if k.flags & 1]
            _save(zone, out)
            if late:
                with open(out, 'a') as f:
                    f.write('$ORIGIN .\n' + '\n'.join(late) + '\n')
        self.ksk[origin] = ksk
        ds_keys = ksk
        if z.breakage == 'dsbad':
            ds_keys = [_dnskey_of(keydir, keys[(origin, 'other')])]
        name = dns.name.from_text(origin)
        self.ds[origin] = [dns.dnssec.make_ds(name, k, 'SHA256') for k in ds_keys]

    def build(self):
        """Make keys and sign every zone into self.zonedir."""
        t0 = time.monotonic()
        keydir = self.workdir / 'keys'
        keydir.mkdir(exist_ok=True)
        keys = self._make_keys(keydir)
        self.keys, self.keydir = keys, keydir     # for resign_root()

        def depth(z):
            return 0 if z.origin == '.' else len(dns.name.from_text(z.origin).labels) - 1

        levels = sorted({depth(z) for z in self.all_zones}, reverse=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            for level in levels:        # bottom-up: the children's DS first
                list(pool.map(lambda z: self._sign(z, keys, keydir),
                              [z for z in self.all_zones if depth(z) == level]))
        self.signing_seconds = time.monotonic() - t0

    # -- rolling the root key (RFC 5011)

    @property
    def root_ksk(self):
        """The base name (in self.keydir) of the root KSK the lab was built with."""
        return self.keys[('.', 'ksk')]

    def add_root_ksk(self):
        """Make another KSK for '.' (same algorithm); returns its base name.
        Nothing is served until resign_root() is given it."""
        z = self.zones['.']
        return _keygen(self.keydir, '.', z.alg, z.bits, True)

    def revoke_root_ksk(self, base):
        """The key `base` with the REVOKE bit (RFC 5011 2.1: flags | 0x80),
        as a new base name (its .key rewritten, its .private copied)."""
        rev = f'{base}.revoked'
        key = _dnskey_of(self.keydir, base)
        key = key.replace(flags=key.flags | 0x80)
        (Path(self.keydir) / f'{rev}.key').write_text(f'. IN DNSKEY {key.to_text()}\n')
        shutil.copyfile(Path(self.keydir) / f'{base}.private',
                        Path(self.keydir) / f'{rev}.private')
        return rev

    def root_dnskey(self, base):
        """The DNSKEY rdata (dnspython) of the key `base`."""
        return _dnskey_of(self.keydir, base)

    def resign_root(self, ksks=None, ttl=TTL, timeout=10.0):
        """Sign '.' again with the KSKs `ksks` (base names; default the
        original one) and the original ZSK, every record with `ttl`, a new
        SOA serial; then knotc zone-reload and wait until the root server
        serves that serial.  self.ksk and self.ds keep the lab's original
        anchor (trust_anchor_ds(), root_keys_file())."""
        z = self.zones['.']
        ksks = list(ksks or [self.root_ksk])
        self._root_serial = getattr(self, '_root_serial', 1) + 1
        lines = self._zone_text(z)
        lines = [f'$TTL {ttl}' if ln.startswith('$TTL ') else ln for ln in lines]
        lines = [ln.replace(' hostmaster.sec. 1 ', f' hostmaster.sec. {self._root_serial} ')
                 for ln in lines]
        for c in ZONES:
            if c.parent == '.':
                lines += self._delegation(c)
        unsigned = Path(self.keydir) / f'root.resign.{self._root_serial}.in'
        unsigned.write_text('\n'.join(lines) + '\n')
        out = Path(self.zonedir) / _zones.zone_file_name('.')
        tmp = Path(self.keydir) / f'root.resign.{self._root_serial}.signed'
        now = int(time.time())
        _run([LDNS_SIGNZONE, '-i', str(now - 3600), '-e', str(now + 30 * DAY), '-o', '.',
              '-f', str(tmp), str(unsigned)] + ksks + [self.keys[('.', 'zsk')]], self.keydir)
        os.replace(tmp, out)
        running = self.servers['root']
        r = subprocess.run([KNOTC, '-s', str(running.dir / 'knot.sock'), '-t', '5',
                            'zone-reload', '.'], capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise LabError(f'knotc zone-reload .: {r.stdout}{r.stderr}')
        import dns.message
        import dns.query
        deadline = time.monotonic() + timeout
        while True:
            try:
                q = dns.message.make_query('.', 'SOA')
                a = dns.query.udp(q, running.spec.address, port=running.port, timeout=1)
                if any(rr.serial == self._root_serial for rrset in a.answer for rr in rrset
                       if rrset.rdtype == dns.rdatatype.SOA):
                    return
            except Exception:  # noqa: BLE001 (not up yet)
                pass
            if time.monotonic() > deadline:
                raise LabError(f'the root server does not serve serial {self._root_serial}')
            time.sleep(0.05)

    # -- lifecycle

    def start(self, timeout=START_TIMEOUT):
        check_signed_available()
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix='slab-', dir='/tmp'))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prefix = choose_signed_prefix(self.requested_prefix, self.all_zones)
        self.specs = servers(self.prefix, self.all_zones)
        self.zonedir = self.workdir / 'zones'
        self.zonedir.mkdir(exist_ok=True)
        try:
            self.build()
            self.servers = {s.name: _SignedRunning(s, self) for s in self.specs}
            self.start_servers(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self
