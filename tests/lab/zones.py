"""The lab's DNS hierarchy: which server has which address and serves which
zones, and the text of every zone.

Everything depends on one *prefix* (default ``127.53``): server addresses are
``<prefix>.X.Y`` on the loopback interface, port 53.  Data records (what the
resolvers are asked for) use the documentation ranges 192.0.2.0/24,
2001:db8::/32 and the benchmark range 198.18.0.0/15; nothing ever sends
traffic to those.

The TLDs are ``sim.`` and ``lab.``: not ``test.``, because Knot Resolver
(and Unbound, and so our kresd) answer every name under the special-use
``test.``, ``invalid.``, ``onion.`` and ``local.`` locally with NXDOMAIN and
never ask upstream for them.

Layout (``P`` is the prefix)::

    .                   P.0.1 (a.root-servers.lab.), P.0.2 (b.root-servers.lab.)
    sim.                P.1.1  ns1.sim.
    lab.                P.2.1  ns1.lab.       (also holds the root servers' names)
    example.sim.        P.3.1  A/AAAA/MX/TXT, NXDOMAIN/NODATA names, a CNAME into
                               other.lab., a DNAME to other.lab., a delegation
                               to sub.example.sim.
    other.lab.          P.3.2  ns.other.lab.; holds the NS name of noglue.sim.
    bulk.sim.           P.3.3  n0 .. n9999 A records (bulk and benchmarks)
    noglue.sim.         P.3.4  delegated from sim. to ns-noglue.other.lab.
                               with no glue (out of bailiwick)
    sub.example.sim.    P.3.5  third level of referrals
    flaky.sim.          P.3.6  the one good server of three (the others are
                               the timeout and REFUSED servers below)
    sink.lab.           P.3.7  empty: every name NXDOMAIN (targets of the
                               NXNS-style delegation nxns.sim.); a scripted
                               server that logs every query, so tests can
                               count what one client query cost
    (scripted)          P.9.1  never answers          (dead.sim., flaky.sim.)
    (scripted)          P.9.2  answers REFUSED        (lame.sim., flaky.sim.)
    (scripted)          P.9.3  TC=1 over UDP, answers over TCP (tc.sim.)
"""

DEFAULT_PREFIX = '127.53'
DEFAULT_TTL = 3600
NEG_TTL = 300          # SOA minimum: negative answers are cached this long
BULK_COUNT = 10000
NXNS_COUNT = 50        # NS names (without glue) of nxns.sim.

SOA_TIMERS = f'1 3600 900 604800 {NEG_TTL}'


class Server:
    """One authoritative server: a name (for the lab's maps), an address,
    its zones (origins) and its kind: 'knot' (a knotd process) or a scripted
    behaviour ('timeout', 'refused', 'tc', 'auth')."""

    def __init__(self, name, address, zones, kind='knot'):
        self.name = name
        self.address = address
        self.zones = list(zones)
        self.kind = kind

    def __repr__(self):
        return f'Server({self.name!r}, {self.address!r}, {self.zones!r}, {self.kind!r})'


def servers(prefix=DEFAULT_PREFIX):
    p = prefix
    return [
        Server('root1', f'{p}.0.1', ['.']),
        Server('root2', f'{p}.0.2', ['.']),
        Server('sim', f'{p}.1.1', ['sim.']),
        Server('lab', f'{p}.2.1', ['lab.']),
        Server('example', f'{p}.3.1', ['example.sim.']),
        Server('other', f'{p}.3.2', ['other.lab.']),
        Server('bulk', f'{p}.3.3', ['bulk.sim.']),
        Server('noglue', f'{p}.3.4', ['noglue.sim.']),
        Server('sub', f'{p}.3.5', ['sub.example.sim.']),
        Server('flaky', f'{p}.3.6', ['flaky.sim.']),
        Server('sink', f'{p}.3.7', ['sink.lab.'], kind='auth'),
        Server('timeout', f'{p}.9.1', [], kind='timeout'),
        Server('refused', f'{p}.9.2', [], kind='refused'),
        Server('tc', f'{p}.9.3', ['tc.sim.'], kind='tc'),
    ]


ROOT_SERVER_NAMES = {'root1': 'a.root-servers.lab.', 'root2': 'b.root-servers.lab.'}


def bulk_name(i):
    return f'n{i}.bulk.sim.'


def bulk_address(i):
    return f'198.18.{i // 256}.{i % 256}'


def _head(origin, ns_names, email):
    lines = [f'$ORIGIN {origin}', f'$TTL {DEFAULT_TTL}',
             f'@ SOA {ns_names[0]} {email} {SOA_TIMERS}']
    lines += [f'@ NS {n}' for n in ns_names]
    return lines


def zone_texts(prefix=DEFAULT_PREFIX, bulk_count=BULK_COUNT):
    """{origin: zone file text} for every zone of the lab (knotd's and the
    scripted servers' alike)."""
    p = prefix
    z = {}

    z['.'] = '\n'.join(_head('.', ['a.root-servers.lab.', 'b.root-servers.lab.'],
                             'hostmaster.lab.') + [
        f'a.root-servers.lab. A {p}.0.1',
        f'b.root-servers.lab. A {p}.0.2',
        'sim. NS ns1.sim.',
        f'ns1.sim. A {p}.1.1',
        'lab. NS ns1.lab.',
        f'ns1.lab. A {p}.2.1',
    ]) + '\n'

    sim = _head('sim.', ['ns1.sim.'], 'hostmaster.sim.') + [
        f'ns1 A {p}.1.1',
        # ordinary delegation with in-bailiwick glue
        'example NS ns1.example',
        f'ns1.example A {p}.3.1',
        'bulk NS ns1.bulk',
        f'ns1.bulk A {p}.3.3',
        # glue-less: the NS name lives in another TLD
        'noglue NS ns-noglue.other.lab.',
        # one server times out, one refuses, one answers
        'flaky NS ns1.flaky',
        'flaky NS ns2.flaky',
        'flaky NS ns3.flaky',
        f'ns1.flaky A {p}.9.1',
        f'ns2.flaky A {p}.9.2',
        f'ns3.flaky A {p}.3.6',
        # only a server that never answers
        'dead NS ns1.dead',
        f'ns1.dead A {p}.9.1',
        # only a server that refuses
        'lame NS ns1.lame',
        f'ns1.lame A {p}.9.2',
        # TC=1 over UDP, the answer over TCP
        'tc NS ns1.tc',
        f'ns1.tc A {p}.9.3',
        # a name that policy tests deny; without the policy it resolves
        'www.bad A 192.0.2.66',
    ]
    # NXNS-style: many NS names without glue, all NXDOMAIN in sink.lab.
    sim += [f'nxns NS ns{i}.sink.lab.' for i in range(NXNS_COUNT)]
    z['sim.'] = '\n'.join(sim) + '\n'

    z['lab.'] = '\n'.join(_head('lab.', ['ns1.lab.'], 'hostmaster.lab.') + [
        f'ns1 A {p}.2.1',
        f'a.root-servers A {p}.0.1',
        f'b.root-servers A {p}.0.2',
        'other NS ns.other',
        f'ns.other A {p}.3.2',
        'sink NS ns1.sink',
        f'ns1.sink A {p}.3.7',
    ]) + '\n'

    z['example.sim.'] = '\n'.join(_head('example.sim.', ['ns1'], 'hostmaster') + [
        f'ns1 A {p}.3.1',
        '@ MX 10 mail',
        '@ TXT "v=lab1"',
        'www A 192.0.2.1',
        'www AAAA 2001:db8::1',
        'mail A 192.0.2.2',
        'txt TXT "hello lab" "second string"',
        'v4only A 192.0.2.3',              # NODATA for AAAA
        'ttl5 5 A 192.0.2.5',              # short TTL
        # CNAME chain across three zones
        'cname CNAME alias.other.lab.',
        # DNAME: *.old.example.sim. -> *.other.lab.
        'old DNAME other.lab.',
        # third level of delegation
        'sub NS ns1.sub',
        f'ns1.sub A {p}.3.5',
    ]) + '\n'

    z['other.lab.'] = '\n'.join(_head('other.lab.', ['ns'], 'hostmaster') + [
        f'ns A {p}.3.2',
        f'ns-noglue A {p}.3.4',
        'host A 192.0.2.20',
        'alias CNAME c3.noglue.sim.',
    ]) + '\n'

    bulk = _head('bulk.sim.', ['ns1'], 'hostmaster') + [f'ns1 A {p}.3.3']
    bulk += [f'n{i} A {bulk_address(i)}' for i in range(bulk_count)]
    z['bulk.sim.'] = '\n'.join(bulk) + '\n'

    z['noglue.sim.'] = '\n'.join(_head('noglue.sim.', ['ns-noglue.other.lab.'],
                                        'hostmaster') + [
        'www A 192.0.2.40',
        'c3 A 192.0.2.41',
    ]) + '\n'

    z['sub.example.sim.'] = '\n'.join(_head('sub.example.sim.', ['ns1'], 'hostmaster') + [
        f'ns1 A {p}.3.5',
        'deep A 192.0.2.30',
        'x.y.z A 192.0.2.31',              # empty non-terminals y.z and z
    ]) + '\n'

    z['flaky.sim.'] = '\n'.join(_head('flaky.sim.', ['ns1', 'ns2', 'ns3'], 'hostmaster') + [
        f'ns1 A {p}.9.1',
        f'ns2 A {p}.9.2',
        f'ns3 A {p}.3.6',
        'www A 192.0.2.50',
    ]) + '\n'

    z['sink.lab.'] = '\n'.join(_head('sink.lab.', ['ns1'], 'hostmaster') + [
        f'ns1 A {p}.3.7',
    ]) + '\n'

    z['tc.sim.'] = '\n'.join(_head('tc.sim.', ['ns1'], 'hostmaster') + [
        f'ns1 A {p}.9.3',
        'www A 192.0.2.60',
        'big TXT ' + ' '.join(f'"{"x" * 200}-{i}"' for i in range(8)),
    ]) + '\n'

    return z


def zone_file_name(origin):
    return 'root.zone' if origin == '.' else origin.rstrip('.') + '.zone'


# Queries that exercise the hierarchy's features (for answer comparisons
# between resolvers): (name, type).
FEATURE_QUERIES = [
    ('www.example.sim.', 'A'),
    ('www.example.sim.', 'AAAA'),
    ('example.sim.', 'MX'),
    ('example.sim.', 'TXT'),
    ('txt.example.sim.', 'TXT'),
    ('cname.example.sim.', 'A'),
    ('host.old.example.sim.', 'A'),
    ('www.noglue.sim.', 'A'),
    ('deep.sub.example.sim.', 'A'),
    ('x.y.z.sub.example.sim.', 'A'),
    ('y.z.sub.example.sim.', 'A'),
    ('nx.example.sim.', 'A'),
    ('nothere.sim.', 'A'),
    ('v4only.example.sim.', 'AAAA'),
    ('host.other.lab.', 'A'),
    ('www.flaky.sim.', 'A'),
    ('www.tc.sim.', 'A'),
    ('www.lame.sim.', 'A'),
    ('www.nxns.sim.', 'A'),
]
