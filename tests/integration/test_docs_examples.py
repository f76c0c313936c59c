"""The Lua examples of the documentation, run as configurations of a real
kresd.

Every ``.. code-block:: lua`` of docs/*.rst becomes one test: the block,
after a ``net.listen()`` of the test and the harness's safe root hints,
is the config of a kresd that must start (READY=1), answer a query (with
whatever rcode: an example may forward everything) and exit cleanly on
SIGTERM.  Paths of the examples (RPZ files, certificates, cache
directories) are replaced by files the test makes (see substitute()).

Each kresd runs inside a private network namespace that the test creates
(root only): the examples may then listen on port 53, 853 or 443 and on
the documentation addresses (192.0.2.1, 2001:db8::1, an interface eth0),
and whatever they would send upstream (forwarders, root servers) cannot
leave the namespace.  Every kresd runs as instance ``dns1``
(SYSTEMD_INSTANCE), as the multi-instance examples expect.

Comment lines of the rst, right before a block (any number, in any
order), tell the test more:

``.. doc-test: skip (REASON)``
    do not run the block (keep these few);
``.. doc-test: expect NAME TYPE RCODE [DATA...]``
    after the start, ask NAME/TYPE from 127.0.0.1 and expect RCODE and,
    when given, exactly these records (their text) in the answer section.
    A name not answered locally gets SERVFAIL: nothing upstream is
    reachable.

Against Knot Resolver 5.6 (KRESD_BIN=$PWD/tests/lab/knot_resolver_as_kresd.py)
the examples load too, but for those of REFERENCE_SKIPS, whose differences
the pages document (5.6 needs lua-cqueues or lua-psl for them, which Debian
does not install; the wrapper does not pass SYSTEMD_INSTANCE).
"""

import os
import re
import shutil
import socket
import subprocess

import pytest

import dns.message
import dns.query
import dns.rcode

from conftest import IS_ROOT, REPO, SAFE_ROOTS, NetNS, make_pki, run_kresd

DOCS = REPO / 'docs'
REFERENCE = 'knot_resolver_as_kresd' in os.environ.get('KRESD_BIN', '')
# text in an example -> why Knot Resolver 5.6 (Debian) cannot load it
REFERENCE_SKIPS = {
    "blocklist.rpz', true)": 'watching an RPZ needs lua-cqueues',
    'slice_randomize_psl': 'needs lua-psl',
    'policy.MIRROR': 'needs lua-cqueues',
    'os.getenv("SYSTEMD_INSTANCE")': 'the wrapper drops --instance',
}
PORT = 5300

# documentation addresses the examples listen on or send from; they are put
# on the namespace's interfaces
NS_ADDRESSES = [
    ('lo', '192.0.2.1/32'), ('lo', '198.51.100.7/32'), ('lo', '192.0.2.10/32'),
    ('lo', '2001:db8::1/128'), ('lo', '2001:db8::10/128'),
]

RPZ = """$TTL 300
@                  SOA localhost. root.localhost. 1 3600 1200 604800 10800
                   NS  localhost.
ads.example        CNAME .
*.ads.example      CNAME .
cdn.ads.example    CNAME rpz-passthru.
tracker.example    CNAME *.
portal.example     A     192.0.2.80
"""


def find_blocks():
    """(page, line, code, markers) for every Lua code block of docs/*.rst
    and docs/modules/*.rst (one page per module)."""
    found = []
    for page in sorted(DOCS.glob('*.rst')) + sorted(DOCS.glob('modules/*.rst')):
        lines = page.read_text().splitlines()
        pending = []
        i = 0
        while i < len(lines):
            m = re.match(r'^\s*\.\. doc-test:\s*(.*?)\s*$', lines[i])
            if m:
                pending.append(m.group(1))
                i += 1
                continue
            m = re.match(r'^(\s*)\.\. code-block::\s*lua\s*$', lines[i])
            if not m:
                i += 1
                continue
            base = len(m.group(1))
            j = i + 1
            body = []
            while j < len(lines) and (not lines[j].strip()
                                      or len(lines[j]) - len(lines[j].lstrip()) > base):
                body.append(lines[j])
                j += 1
            while body and not body[-1].strip():
                body.pop()
            while body and not body[0].strip():
                body.pop(0)
            indent = min(len(l) - len(l.lstrip()) for l in body if l.strip())
            code = '\n'.join(l[indent:] for l in body)
            found.append((str(page.relative_to(DOCS)), i + 1, code, pending))
            pending = []
            i = j
    return found


BLOCKS = find_blocks()


def test_the_pages_have_examples():
    """The extraction itself: the pages the issue names have examples."""
    pages = {b[0] for b in BLOCKS}
    assert {'policy.rst', 'view.rst', 'modules.rst', 'modules/dns64.rst',
            'modules/predict.rst', 'modules/serve_stale.rst', 'modules/prefill.rst'} <= pages
    assert len(BLOCKS) >= 40


def test_markers_are_understood():
    for page, line, _, markers in BLOCKS:
        for m in markers:
            assert re.match(r'^(skip \(.+\)|expect \S+ \S+ [A-Z]+( .*)?)$', m), \
                f'{page}:{line}: doc-test marker not understood: {m!r}'


def test_every_builtin_module_is_in_modules_rst(kresd_bin, short_tmp):
    """docs/modules.rst has an entry for each module kresd has built in (the
    list of its error for an unknown module), and for view."""
    if REFERENCE:
        pytest.skip("Knot Resolver's error for an unknown module does not list its modules")
    (short_tmp / 'c.lua').write_text(SAFE_ROOTS + "modules.load('no_such_module')\n")
    p = run_kresd(kresd_bin, ['-n', '-c', 'c.lua', str(short_tmp)], cwd=short_tmp)
    m = re.search(r'built in: ([\w, ]+)\)', p.stderr)
    assert p.returncode != 0 and m, p.stderr
    names = [n.strip() for n in m.group(1).split(',')] + ['view']
    text = (DOCS / 'modules.rst').read_text()
    missing = [n for n in names if f'``{n}``' not in text]
    assert not missing, f'docs/modules.rst does not describe: {missing}'


@pytest.fixture(scope='module')
def docs_ns():
    if not IS_ROOT:
        pytest.skip('needs root: the examples run in a private network namespace '
                    '(unshare --net), where they may listen on ports 53/853/443 and '
                    'send nothing beyond it')
    if not (shutil.which('unshare') and shutil.which('nsenter') and shutil.which('ip')):
        pytest.fail('unshare, nsenter and ip (util-linux, iproute2) are needed')
    ns = NetNS()
    try:
        def ip(*args):
            subprocess.run(ns.prefix + ['ip'] + list(args), check=True,
                           capture_output=True, timeout=10)
        # no duplicate address detection: addresses are usable at once
        subprocess.run(ns.prefix + ['sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0',
                                    'net.ipv6.conf.all.accept_dad=0'],
                       check=True, capture_output=True, timeout=10)
        # net.eth0 of an example: a veth pair, up, with addresses
        ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'veth1')
        ip('link', 'set', 'eth0', 'up')
        ip('link', 'set', 'veth1', 'up')
        ip('addr', 'add', '192.0.2.200/24', 'dev', 'eth0')
        for dev, addr in NS_ADDRESSES:
            ip('addr', 'add', addr, 'dev', dev, *(['nodad'] if ':' in addr else []))
        yield ns
    finally:
        ns.close()


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp('docpki') / 'pki', 'DNS:dns.example.net')


def substitute(code, rundir, pki):
    """Replace the paths of the examples by files made for the test."""
    rpz = rundir / 'zone.rpz'
    rpz.write_text(RPZ)
    (rundir / 'cache2').mkdir(exist_ok=True)
    paths = {
        '/var/cache/knot-resolver': rundir / 'cache2',
        '/etc/kresd/blocklist.rpz': rpz,
        '/tmp/big.rpz': rpz,
        '/etc/kresd/corp-ca.pem': pki['ca'],
        '/etc/knot-resolver/server.pem': pki['cert'],
        '/etc/knot-resolver/server.key': pki['key'],
        '/run/kresd/extra-control': rundir / 'extra-control',
    }
    for old, new in paths.items():
        code = code.replace(old, str(new))
    return code


def ns_query(ns, name, rdtype, port=PORT):
    s = ns.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        q = dns.message.make_query(name, rdtype, use_edns=0)
        return dns.query.udp(q, '127.0.0.1', port=port, timeout=5, sock=s)
    finally:
        s.close()


def check_expect(ns, spec, where):
    name, rdtype, rcode, *data = spec.split()
    r = ns_query(ns, name, rdtype)
    assert dns.rcode.to_text(r.rcode()) == rcode, f'{where}: {name} {rdtype}: {r}'
    if data:
        got = sorted(rd.to_text() for rrs in r.answer for rd in rrs)
        assert got == sorted(data), f'{where}: {name} {rdtype}: {r}'


@pytest.mark.parametrize('page,line,code,markers', BLOCKS,
                         ids=[f'{b[0]}:{b[1]}' for b in BLOCKS])
def test_example(page, line, code, markers, make_kresd, docs_ns, pki, short_tmp):
    where = f'docs/{page}:{line}'
    for m in markers:
        if m.startswith('skip'):
            pytest.skip(f'{where}: {m[4:].strip()}')
    for text, why in REFERENCE_SKIPS.items():
        if REFERENCE and text in code:
            pytest.skip(f'{where}: Knot Resolver 5.6: {why}')
    rundir = short_tmp / 'ex'
    rundir.mkdir()
    config = (f"net.listen('127.0.0.1', {PORT}, {{ kind = 'dns' }})\n"
              + substitute(code, rundir, pki) + '\n')
    k = make_kresd(config, rundir=rundir, instance='dns1', prefix=docs_ns.prefix)
    try:
        k.start()
    except AssertionError as e:
        pytest.fail(f'{where}: the example does not load:\n{code}\n\n{e}', pytrace=False)
    # it answers (what: a rule of the example may forward everything)
    ns_query(docs_ns, 'localhost.', 'A')
    for m in markers:
        if m.startswith('expect '):
            check_expect(docs_ns, m[len('expect '):], where)
    k.stop()
