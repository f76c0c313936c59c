"""The DNSSEC modules Knot Resolver 5.6 has (src/modules/): ta_sentinel,
ta_signal_query, detect_time_skew and priming (loaded by default) and
bogus_log (loaded on request), against the signed lab (tests/lab/signed.py).

Each resolver here gets the lab's root DS as its trust anchor, the lab's
root hints (or, for the priming tests, a wrong name for the root server's
address), ALLOW_LOCAL and a control socket (--instance), so the tests can
read modules.list(), hints.root() and bogus_log.frequent().

Checked against Knot Resolver 5.6 too:

    KRESD_BIN=$PWD/tests/lab/knot_resolver_as_kresd.py \\
        /usr/bin/python3 -m pytest -q tests/integration/test_dnssec_modules.py

The detect_time_skew tests shift the resolver's clock with libfaketime
(Debian package "faketime"); they are skipped without it.
"""

import os
import re
import sys
import time
from pathlib import Path

import pytest

import dns.message
import dns.query
import dns.rcode

from dnssec_wire import LabResolver

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lab import signed as signedlib  # noqa: E402  (tests/lab)

RESOLVE_TIMEOUT = 10.0
FAKETIME_LIB = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1'
DEFAULTS = ('ta_signal_query', 'priming', 'detect_time_skew', 'ta_sentinel', 'edns_keepalive',
            'refuse_nord')


def config(slab, port, extra='', hints=None):
    root = slab.addresses['root']
    hints = hints or signedlib.ROOT_SERVER
    lines = [f"net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})",
             "trust_anchors.remove('.')",
             f"trust_anchors.add('{slab.trust_anchor_ds()}')",
             f"hints.root({{['{hints}'] = {{'{root}'}}}})",
             "option('ALLOW_LOCAL', true)",
             'cache.size = 10 * MB']
    if extra:
        lines.append(extra)
    return '\n'.join(lines) + '\n'


def Resolver(binary, slab, extra='', hints=None, env=None):
    """A kresd pointed at the signed lab, in its own /tmp rundir."""
    return LabResolver(binary, lambda port: config(slab, port, extra, hints), prefix='km-',
                       instance='mods', env=env)


@pytest.fixture
def resolver(kresd_bin, signed_lab):
    """resolver(extra='', hints=None, env=None) -> a started Resolver."""
    made = []

    def factory(extra='', hints=None, env=None):
        r = Resolver(kresd_bin, signed_lab, extra, hints, env)
        made.append(r)
        return r.start()

    yield factory
    for r in made:
        r.close()


@pytest.fixture(scope='module')
def shared(kresd_bin, signed_lab):
    """One resolver with the defaults, for the tests that can share it."""
    r = Resolver(kresd_bin, signed_lab).start()
    try:
        yield r
    finally:
        r.close()


def ask(port, name, rdtype='A', do=True):
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232, want_dnssec=do)
    r = dns.query.udp(q, '127.0.0.1', port=port, timeout=RESOLVE_TIMEOUT)
    return dns.rcode.to_text(r.rcode())


def root_tag(slab):
    return slab.ds['.'][0].key_tag


def eventually(check, timeout=8.0, step=0.2):
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(step)


def wait_for_log(r, pattern, timeout=8.0):
    return eventually(lambda: re.search(pattern, r.log()) is not None, timeout)


# ---------------------------------------------------------------- modules.list

def test_default_modules_listed(shared):
    listed = shared.lua('modules.list()')
    for name in DEFAULTS:
        assert f"'{name}'" in listed, listed
    assert "'bogus_log'" not in listed, listed


def test_validate_is_accepted_and_unknown_module_is_an_error(shared):
    assert shared.lua("modules.load('validate')") == 'true'
    out = shared.lua("modules.load('no_such_module')")
    # Knot Resolver 5.6: "ERROR: No such file or directory"; ours names the module.
    assert out.strip() != 'true' and 'no such' in out.lower(), out


def test_unload_each_default(resolver):
    r = resolver()
    for name in DEFAULTS:
        assert r.lua(f"modules.unload('{name}')") == 'true'
    listed = r.lua('modules.list()')
    for name in DEFAULTS:
        assert f"'{name}'" not in listed, listed


# ---------------------------------------------------------------- ta_sentinel (RFC 8509)

def sentinel(kind, tag):
    """A name whose A comes from the lab's wildcard *.wild.good.sec."""
    return f'root-key-sentinel-{kind}-{tag:05d}.wild.good.sec.'


def test_sentinel_is_ta(shared, signed_lab):
    tag = root_tag(signed_lab)
    other = (tag + 1) % 65536
    for _ in range(2):                     # the second time from the cache
        assert ask(shared.port, sentinel('is-ta', tag)) == 'NOERROR'
        assert ask(shared.port, sentinel('is-ta', other)) == 'SERVFAIL'


def test_sentinel_not_ta(shared, signed_lab):
    tag = root_tag(signed_lab)
    other = (tag + 7) % 65536
    for _ in range(2):
        assert ask(shared.port, sentinel('not-ta', tag)) == 'SERVFAIL'
        assert ask(shared.port, sentinel('not-ta', other)) == 'NOERROR'


def test_sentinel_other_names_and_types_unaffected(shared, signed_lab):
    other = (root_tag(signed_lab) + 3) % 65536
    assert ask(shared.port, f'root-key-sentinel-is-ta-{other:05d}.wild.good.sec.', 'TXT') == 'NOERROR'
    assert ask(shared.port, f'root-key-sentinel-is-tb-{other:05d}.wild.good.sec.') == 'NOERROR'


def test_sentinel_unloaded(resolver, signed_lab):
    r = resolver("modules.unload('ta_sentinel')")
    tag = root_tag(signed_lab)
    other = (tag + 1) % 65536
    assert ask(r.port, sentinel('is-ta', other)) == 'NOERROR'
    assert ask(r.port, sentinel('not-ta', tag)) == 'NOERROR'


def test_sentinel_unloaded_at_run_time(resolver, signed_lab):
    r = resolver()
    other = (root_tag(signed_lab) + 2) % 65536
    assert ask(r.port, sentinel('is-ta', other)) == 'SERVFAIL'
    assert r.lua("modules.unload('ta_sentinel')") == 'true'
    assert ask(r.port, sentinel('is-ta', other)) == 'NOERROR'


# ---------------------------------------------------------------- ta_signal_query (RFC 8145)

def null_queries(slab):
    return slab.query_counts('root').get('NULL', 0)


def test_ta_signal_query_sent_at_start(resolver, signed_lab):
    before = null_queries(signed_lab)
    r = resolver("log_level('info')")
    assert eventually(lambda: null_queries(signed_lab) > before), \
        f'the root got no NULL query\n{r.log()}'
    name = f'_ta-{root_tag(signed_lab):04x}.'
    assert name in r.log(), r.log()


def test_ta_signal_query_unloaded(resolver, signed_lab):
    before = null_queries(signed_lab)
    r = resolver("modules.unload('ta_signal_query')")
    assert ask(r.port, 'www.good.sec.') == 'NOERROR'
    time.sleep(1.0)
    assert null_queries(signed_lab) == before


# ---------------------------------------------------------------- priming (RFC 8109)

WRONG = 'wrong-name.invalid.'


def test_priming_replaces_root_hints(resolver, signed_lab):
    """The root server's address under a made-up name: after priming the
    hints hold the root zone's NS name (a.root-servers.sec.) instead."""
    ns_before = signed_lab.query_counts('root').get('NS', 0)
    r = resolver(hints=WRONG)
    assert eventually(lambda: signedlib.ROOT_SERVER in r.lua('hints.root()')), \
        f"{r.lua('hints.root()')}\n{r.log()}"
    hints = r.lua('hints.root()')
    assert WRONG not in hints and signed_lab.addresses['root'] in hints, hints
    assert signed_lab.query_counts('root').get('NS', 0) > ns_before
    assert ask(r.port, 'www.good.sec.') == 'NOERROR'


def test_priming_unloaded_keeps_hints(resolver):
    r = resolver("modules.unload('priming')", hints=WRONG)
    assert ask(r.port, 'www.good.sec.') == 'NOERROR'
    time.sleep(1.0)
    hints = r.lua('hints.root()')
    assert WRONG in hints and signedlib.ROOT_SERVER not in hints, hints


# ---------------------------------------------------------------- detect_time_skew

SKEW = 'seems to be at least'


def faketime_env(offset):
    if not os.path.exists(FAKETIME_LIB):
        pytest.skip('libfaketime not installed (Debian package "faketime")')
    if 'knot_resolver' in os.environ.get('KRESD_BIN', ''):
        # Knot Resolver 5.6 under libfaketime: "Unexpected recursive calls
        # to clock_gettime()", and it never gets ready.
        pytest.skip('Knot Resolver 5.6 does not start under libfaketime')
    # An AddressSanitizer build wants its runtime first in the library
    # list; libfaketime preloaded comes before it, which is harmless here.
    asan = os.environ.get('ASAN_OPTIONS', '')
    asan = (asan + ':' if asan else '') + 'verify_asan_link_order=0'
    return {'LD_PRELOAD': FAKETIME_LIB, 'FAKETIME': offset,
            'FAKETIME_DONT_FAKE_MONOTONIC': '1', 'FAKETIME_NO_CACHE': '1',
            'ASAN_OPTIONS': asan}


def test_time_skew_warns_when_clock_is_ahead(resolver):
    """The lab's root signatures expire 30 days after signing: a clock 40
    days ahead is outside every RRSIG validity period of '.' NS."""
    r = resolver(env=faketime_env('+40d'))
    assert wait_for_log(r, SKEW + r'.*future'), r.log()
    assert 'Please check your system clock' in r.log()


def test_time_skew_warns_when_clock_is_behind(resolver):
    """Signed an hour ago: a clock two days behind is before the inception."""
    r = resolver(env=faketime_env('-2d'))
    assert wait_for_log(r, SKEW + r'.*past'), r.log()


def test_time_skew_silent_when_clock_is_right(shared):
    assert ask(shared.port, 'www.good.sec.') == 'NOERROR'
    assert SKEW not in shared.log()


def test_time_skew_unloaded(resolver):
    r = resolver("modules.unload('detect_time_skew')", env=faketime_env('+40d'))
    time.sleep(2.0)
    assert SKEW not in r.log(), r.log()


# ---------------------------------------------------------------- bogus_log

def test_bogus_log(resolver):
    r = resolver("modules.load('bogus_log')")
    assert ask(r.port, 'www.dsbad.sec.') == 'SERVFAIL'
    assert ask(r.port, 'www.expired.sec.') == 'SERVFAIL'
    assert wait_for_log(r, r'validation failure: \S*dsbad\.sec\.'), r.log()
    assert wait_for_log(r, r'validation failure: \S*expired\.sec\.'), r.log()
    frequent = r.lua('bogus_log.frequent()')
    assert 'dsbad.sec.' in frequent and 'expired.sec.' in frequent, frequent
    assert 'count' in frequent and 'type' in frequent, frequent
    # A secure answer is not logged.
    assert ask(r.port, 'www.good.sec.') == 'NOERROR'
    time.sleep(0.3)
    assert 'good.sec.' not in r.log().replace('dsbad.sec.', '').replace('expired.sec.', '')


def test_bogus_log_not_loaded_by_default(resolver):
    r = resolver()
    assert ask(r.port, 'www.dsbad.sec.') == 'SERVFAIL'
    time.sleep(0.5)
    assert 'validation failure' not in r.log()
    assert r.lua('bogus_log') in ('nil', ''), r.lua('bogus_log')


def test_bogus_log_unloaded(resolver):
    r = resolver("modules.load('bogus_log')")
    assert r.lua("modules.unload('bogus_log')") == 'true'
    assert ask(r.port, 'www.dsbad.sec.') == 'SERVFAIL'
    time.sleep(0.5)
    assert 'validation failure' not in r.log()
