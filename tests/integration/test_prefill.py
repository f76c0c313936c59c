"""The module prefill (RFC 8806, a local copy of the root zone in the cache).

The root zone of the lab (tests/lab/zones.py) or of the signed lab is
written to a file with the root servers' addresses changed to 127.0.0.9,
where nothing answers, and the root hints point there too: every answer
below shows that the root zone came from the file, not from a root server.

* unsigned lab (the root trust anchor removed, as the lab needs): a name
  under a TLD resolves through the TLD's server taken from the file;
* signed lab (the lab's root trust anchor): the zone is validated on
  import; a TLD's DS and the NXDOMAIN of a TLD that does not exist (from
  the zone's NSEC chain, RFC 8198) are answered secure (AD) at once;
* errors: a missing or malformed file stops the config with the file's
  name (and line); an https:// URL is refused (no downloads here).

Knot Resolver 5.6 takes only https:// URLs, but it reuses the file it
downloads to (root.zone in its working directory) without downloading
while the file is younger than `interval`: so the tests that import run
against it with the zone written to <rundir>/root.zone and a dummy https
URL (KRESD_BIN=$PWD/tests/lab/knot_resolver_as_kresd.py; 5.6's prefill
needs the Lua library cqueues, Debian package lua-cqueues, else it logs
"Lua library cqueues is required" and imports nothing). All five import
tests pass on 5.6 that way; the error tests are ours only.
"""

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from conftest import Kresd, free_port

DEAD = '127.0.0.9'
RESOLVE_TIMEOUT = 10.0


def knot_resolver():
    return 'knot_resolver' in os.environ.get('KRESD_BIN', '')


def ask(port, name, rdtype='A', do=False):
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232, want_dnssec=do)
    r = dns.query.udp(q, '127.0.0.1', port=port, timeout=RESOLVE_TIMEOUT)
    if r.flags & dns.flags.TC:
        r = dns.query.tcp(q, '127.0.0.1', port=port, timeout=RESOLVE_TIMEOUT)
    return r


def rcode(r):
    return dns.rcode.to_text(r.rcode())


def dead_root_servers(text, names):
    """The zone text with the root servers' glue (A records of `names`)
    moved to DEAD; glue is not signed, so a signed zone stays valid."""
    out = []
    for line in text.splitlines():
        f = line.split()
        if f and f[0].lower() in names and 'A' in f[1:4] and f[-2] == 'A':
            line = re.sub(r'\S+$', DEAD, line)
        out.append(line)
    return '\n'.join(out) + '\n'


class Resolver:
    """A kresd (or KR 5.6) in its own rundir, prefill loaded from
    `zone_text` written to a file."""

    def __init__(self, binary, zone_text, head, extra='', load=True):
        self.dir = Path(tempfile.mkdtemp(prefix='kpf-', dir='/tmp'))
        self.port = free_port()
        rundir = self.dir / 'r'
        rundir.mkdir()
        if knot_resolver():
            # 5.6 reuses a fresh <cwd>/root.zone instead of downloading.
            zone = rundir / 'root.zone'
            source = "url = 'https://127.0.0.1/root.zone'"
        else:
            zone = self.dir / 'root.zone'
            source = f"file = '{zone}'"
        zone.write_text(zone_text)
        self.zone = zone
        self.prefill_lua = ("modules.load('prefill') "
                            f"prefill.config({{['.'] = {{{source}, interval = 86400}}}})")
        config = (f"net.listen('127.0.0.1', {self.port}, {{ kind = 'dns' }})\n" + head +
                  "option('ALLOW_LOCAL', true)\ncache.size = 10 * MB\n" +
                  (self.prefill_lua + '\n' if load else '') + extra)
        self.kresd = Kresd(binary, rundir, config)

    def start(self):
        self.kresd.start()
        return self

    def close(self):
        self.kresd.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_imported(port):
    """Ours imports at start, before it answers; 5.6 a moment after start
    (its timer, then a 100 ms pause between parsing and caching)."""
    if knot_resolver():
        time.sleep(1.5)


# ---------------------------------------------------------------- unsigned lab

@pytest.fixture
def unsigned(kresd_bin, lab):
    text = dead_root_servers((Path(lab.zonedir) / 'root.zone').read_text(),
                             {'a.root-servers.lab.', 'b.root-servers.lab.'})
    head = ("trust_anchors.remove('.')\n"
            f"hints.root({{['a.root-servers.lab.'] = {{'{DEAD}'}}}})\n")
    r = Resolver(kresd_bin, text, head).start()
    yield r
    r.close()


def test_tld_delegation_from_the_file(unsigned, lab):
    """www.example.sim. resolves: sim.'s servers come from the file."""
    wait_imported(unsigned.port)
    r = ask(unsigned.port, 'www.example.sim.')
    assert rcode(r) == 'NOERROR', r
    assert r.answer, r


def test_root_soa_from_the_file(unsigned):
    """The root's own data (SOA) is answered from the cache, as imported."""
    wait_imported(unsigned.port)
    r = ask(unsigned.port, '.', 'SOA')
    assert rcode(r) == 'NOERROR', r
    assert str(r.answer[0][0].mname) == 'a.root-servers.lab.', r


def test_loaded_from_the_control_socket(kresd_bin, lab):
    """modules.load + prefill.config on a running resolver import at once."""
    text = dead_root_servers((Path(lab.zonedir) / 'root.zone').read_text(),
                             {'a.root-servers.lab.', 'b.root-servers.lab.'})
    head = ("trust_anchors.remove('.')\n"
            f"hints.root({{['a.root-servers.lab.'] = {{'{DEAD}'}}}})\n")
    r = Resolver(kresd_bin, text, head, load=False).start()
    try:
        r.kresd.lua(r.prefill_lua)
        wait_imported(r.port)
        a = ask(r.port, 'www.example.sim.')
        assert rcode(a) == 'NOERROR' and a.answer, a
    finally:
        r.close()


# ---------------------------------------------------------------- signed lab

@pytest.fixture
def signed(kresd_bin, signed_lab):
    text = (Path(signed_lab.zonedir) / 'root.zone').read_text()
    text = dead_root_servers(text, {'a.root-servers.sec.'})
    head = ("trust_anchors.remove('.')\n"
            f"trust_anchors.add('{signed_lab.trust_anchor_ds()}')\n"
            f"hints.root({{['a.root-servers.sec.'] = {{'{DEAD}'}}}})\n")
    r = Resolver(kresd_bin, text, head).start()
    yield r
    r.close()


def test_signed_root_tld_ds_is_secure(signed):
    wait_imported(signed.port)
    r = ask(signed.port, 'sec.', 'DS', do=True)
    assert rcode(r) == 'NOERROR', r
    assert r.flags & dns.flags.AD, r
    assert any(rr.rdtype == dns.rdatatype.DS for rr in r.answer), r


def test_signed_root_nxdomain_of_missing_tld(signed):
    """RFC 8806's point: a TLD that does not exist is NXDOMAIN from the
    local copy (its NSEC chain), never asked of a root server."""
    wait_imported(signed.port)
    r = ask(signed.port, 'no-such-tld.', 'A', do=True)
    assert rcode(r) == 'NXDOMAIN', r
    assert r.flags & dns.flags.AD, r


def test_signed_root_then_resolution_below(signed, signed_lab):
    wait_imported(signed.port)
    r = ask(signed.port, 'www.good.sec.', 'A', do=True)
    assert rcode(r) == 'NOERROR', r
    assert r.flags & dns.flags.AD, r


# ---------------------------------------------------------------- errors (ours)

def start_failing(kresd_bin, tmp_path, prefill_line):
    if knot_resolver():
        pytest.skip('our errors: Knot Resolver 5.6 takes only https:// URLs')
    port = free_port()
    config = (f"net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})\n"
              "modules.load('prefill')\n" + prefill_line + "\n")
    k = Kresd(kresd_bin, tmp_path / 'r', config)
    k.start(wait_ready=False)
    code = k.wait_exit()
    return code, k.stderr()


def test_missing_file_is_a_config_error(kresd_bin, tmp_path):
    missing = tmp_path / 'nope.zone'
    code, err = start_failing(kresd_bin, tmp_path,
                              f"prefill.config({{['.'] = {{file = '{missing}'}}}})")
    assert code != 0
    assert f'{missing}: cannot open' in err, err


def test_malformed_file_names_the_line(kresd_bin, tmp_path):
    bad = tmp_path / 'bad.zone'
    bad.write_text('. 86400 IN SOA a. b. 1 2 3 4 5\n. 86400 IN NS a.\nx. IN A 1.2.3\n')
    code, err = start_failing(kresd_bin, tmp_path,
                              f"prefill.config({{['.'] = {{file = '{bad}'}}}})")
    assert code != 0
    assert f'{bad}:3:' in err, err


def test_https_url_is_refused(kresd_bin, tmp_path):
    code, err = start_failing(
        kresd_bin, tmp_path,
        "prefill.config({['.'] = {url = 'https://www.internic.net/domain/root.zone'}})")
    assert code != 0
    assert 'downloading is not supported' in err, err
