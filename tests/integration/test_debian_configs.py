"""The configurations Debian's knot-resolver package ships load and act.

Debian's /etc/knot-resolver/kresd.conf and the examples in
/usr/share/doc/knot-resolver/examples/ run unchanged but for their ports
(53, 853 and 443 become free ones) and, for config.isp, its own quoting
mistake (''192.168.1.0/24'', which stops Knot Resolver 5.6 too). Each
test checks that the instance starts and answers, and what the file says
where that can be seen on loopback alone (the forwarding targets of
config.internal and config.privacy are not on loopback: nothing is sent
to them).

Skipped when the package's files are not installed (scripts/setup
installs knot-resolver for the reference tests).
"""

import re
import socket
from pathlib import Path

import pytest

import dns.edns
import dns.message
import dns.query
import dns.rcode

from conftest import free_port

EXAMPLES = Path('/usr/share/doc/knot-resolver/examples')
DEFAULT = Path('/etc/knot-resolver/kresd.conf')


def shipped(path):
    if not path.exists():
        pytest.skip(f'{path} is not installed (package knot-resolver)')
    return path.read_text()


def with_ports(text, dns_port, tls_port, doh_port):
    text = re.sub(r'(\bnet\.listen\([^)]*?,\s*)53\b', rf'\g<1>{dns_port}', text)
    text = re.sub(r'(\bnet\.listen\([^)]*?,\s*)853\b', rf'\g<1>{tls_port}', text)
    return re.sub(r'(\bnet\.listen\([^)]*?,\s*)443\b', rf'\g<1>{doh_port}', text)


def start(make_kresd, text, rundir_files=()):
    port = free_port()
    k = make_kresd(with_ports(text, port, free_port(), free_port()))
    for name in rundir_files:
        (Path(k.rundir) / name).parent.mkdir(parents=True, exist_ok=True)
        (Path(k.rundir) / name).write_text('')
    k.start()
    return k, port


def ask(port, name, rdtype='A'):
    q = dns.message.make_query(name, rdtype, use_edns=0)
    return dns.query.udp(q, '127.0.0.1', port=port, timeout=5)


def ede_codes(r):
    return [o.code for o in r.options if o.otype == dns.edns.EDE]


def assert_localhost(port):
    r = ask(port, 'localhost.')
    assert r.rcode() == dns.rcode.NOERROR, r
    assert [str(rd) for rrset in r.answer for rd in rrset] == ['127.0.0.1'], r


@pytest.mark.parametrize('path', [DEFAULT, EXAMPLES / 'config.personal'],
                         ids=['kresd.conf', 'config.personal'])
def test_default_and_personal(make_kresd, path):
    """hints > iterate, stats, predict and a 100 MB cache."""
    k, port = start(make_kresd, shipped(path))
    assert_localhost(port)
    assert k.lua("predict.window") == '15'
    assert 'predict' in k.lua("table.concat(modules.list(), ' ')")
    assert k.lua("cache.current_size") == str(100 * 1024 * 1024)


def test_internal(make_kresd):
    """Two internal domains forwarded to 192.168.1.2 (not asked here)."""
    k, port = start(make_kresd, shipped(EXAMPLES / 'config.internal'))
    assert_localhost(port)
    assert k.lua("#policy.rules") == '1'


def test_privacy(make_kresd):
    """The name space in slices by registrable domain, each forwarded over
    TLS; the example's placeholder pin 'YQ==' gets a warning and never
    matches. Nothing is sent to the targets (not on loopback)."""
    k, _ = start(make_kresd, shipped(EXAMPLES / 'config.privacy'))
    assert k.lua("#policy.rules") == '1'
    assert "pin_sha256 'YQ==' is not the base64" in k.stderr()
    # The slicing: every name of one registrable domain (public suffix
    # list) in the same slice; a seed gives the same split every time.
    pick = ("(function(name) local f = policy.slice_randomize_psl(42) "
            "return f({name = function() return kres.str2dname(name) end}, 8) end)('%s')")
    slices = {n: k.lua(pick % n) for n in ('a.example.co.uk', 'b.c.example.co.uk',
                                          'example.co.uk', 'x.example.org')}
    assert slices['a.example.co.uk'] == slices['b.c.example.co.uk'] == slices['example.co.uk']
    assert all(1 <= int(v) <= 8 for v in slices.values()), slices


def test_isp_with_its_quoting_fixed(make_kresd):
    """The RPZ (empty here) for everyone, 192.168.1.0/24 let through, every
    other client dropped: 127.0.0.1 gets Knot Resolver 5.6's DROP answer
    (SERVFAIL, EDE 18) for a name that would need resolving; special-use
    names are answered before the views, as in 5.6."""
    text = shipped(EXAMPLES / 'config.isp').replace("''192.168.1.0/24''", "'192.168.1.0/24'")
    k, port = start(make_kresd, text, rundir_files=['blacklist.rpz'])
    assert_localhost(port)
    r = ask(port, 'www.example.com.')
    assert r.rcode() == dns.rcode.SERVFAIL, r
    assert ede_codes(r) == [18], r


def test_isp_unchanged_stops_with_its_line(make_kresd):
    """The shipped file as it is: its syntax error, named by line."""
    k = make_kresd(with_ports(shipped(EXAMPLES / 'config.isp'), free_port(), free_port(),
                              free_port()))
    with pytest.raises(AssertionError, match=r'config.lua:60: malformed number'):
        k.start()
