"""The modules predict and serve_stale against the lab (tests/lab).

* predict: an answer about to expire (TTL 5 here: every cache hit of
  ttl5.example.sim. counts as expiring, less than 5 s + 1% left) is asked
  again in the background, so the next client, after the first copy's
  expiry, still gets a cache hit.  The upstream is a scripted
  authoritative server for example.sim. on 127.0.0.1 (reached with
  policy.STUB), whose query log counts what the resolver asked.  Loaded
  by the config or later through the control socket.  Prediction: a name
  learned in two windows in a row is resolved when the next window begins
  (libfaketime moves the wall clock 15 minutes at a time; ours only).
* serve_stale: with every authoritative server stopped, an expired record
  is answered with TTL 1 and EDE 3 (Stale Answer, text 6Q6X); a name never
  cached is SERVFAIL; data expired more than a day ago is SERVFAIL
  (libfaketime moves the resolver's wall clock on; ours only).

The configs set net.ipv6 = false: Knot Resolver 5.6's serve_stale only
serves stale data when the question itself finds no reachable server; with
IPv6 on it first looks up the AAAA of the stopped zone's NS name, that
sub-question fails, and the request ends SERVFAIL without stale data (ours
serves it either way; see docs/modules/serve_stale.rst).

Checked against Knot Resolver 5.6 (all but the two faketime tests, which
it does not start under, and the IPv6 case above):

    KRESD_BIN=$PWD/tests/lab/knot_resolver_as_kresd.py \\
        /usr/bin/python3 -m pytest -q tests/integration/test_predict_stale.py
"""

import os
import sys
import time
from pathlib import Path

import pytest

import dns.edns
import dns.exception
import dns.rcode
import dns.rdatatype

from conftest import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import lab as lablib  # noqa: E402  (tests/lab)
from lab import resolvers  # noqa: E402

RESOLVE_TIMEOUT = 10.0
FAKETIME_LIB = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1'
TTL5 = 'ttl5.example.sim.'


def ask(port, name, rdtype='A', timeout=RESOLVE_TIMEOUT):
    return lablib.query(name, rdtype, '127.0.0.1', port, timeout=timeout)


def rcode(r):
    return dns.rcode.to_text(r.rcode())


def a_ttls(r):
    return [rr.ttl for rr in r.answer if rr.rdtype == dns.rdatatype.A]


def ede(r):
    return [(int(o.code), o.text) for o in r.options if o.otype == dns.edns.EDE]


def asked_for(server, name, rdtype='A'):
    """How often a scripted server was asked (name, rdtype); any letter
    case (Knot Resolver randomises it, the 0x20 defence)."""
    return sum(1 for line in server.queries()
               if [w.lower() for w in line.split()[1:]] == [name.lower(), rdtype.lower()])


def faketime_env(offset_file):
    """libfaketime with the wall clock's offset read from a file at every
    call (write '+15m' into it to move the clock on); monotonic time real."""
    return {'LD_PRELOAD': FAKETIME_LIB, 'FAKETIME_TIMESTAMP_FILE': str(offset_file),
            'FAKETIME_DONT_FAKE_MONOTONIC': '1', 'FAKETIME_NO_CACHE': '1',
            'ASAN_OPTIONS': 'verify_asan_link_order=0'}


def knot_resolver():
    return 'knot_resolver' in os.environ.get('KRESD_BIN', '')


@pytest.fixture(scope='module', autouse=True)
def recursion(lab, kresd_bin, tmp_path_factory):
    why = resolvers.recursion_missing(lab, tmp_path_factory.mktemp('probe'), binary=kresd_bin)
    if why:
        pytest.skip(why)


@pytest.fixture
def start_kresd(make_kresd, lab):
    def factory(extra='', env=None):
        port = free_port()
        text = resolvers.kresd_config(lab, port, cache_mb=10, extra=extra)
        k = make_kresd(text, env=env) if env else make_kresd(text)
        k.start()
        return k, port
    return factory


# ---------------------------------------------------------------- predict

def test_debian_default_modules_load(start_kresd):
    """Debian's /etc/knot-resolver/kresd.conf loads predict (and stats)."""
    k, port = start_kresd("modules = { 'hints > iterate', 'stats', 'predict' }\n"
                          "predict.config({window = 15, period = 6*(60/15)})\n"
                          "modules.load('predict')\n")
    r = ask(port, 'www.example.sim.')
    assert rcode(r) == 'NOERROR', r
    assert k.lua('predict.window') == '15'
    assert k.lua('predict.period') == '24'
    assert k.lua('type(predict.epoch())').strip("'") == 'number'


@pytest.mark.parametrize('load', ['config', 'control'])
def test_predict_refreshes_an_expiring_answer(start_kresd, lab, load):
    """predict loaded by the config, or later through the control socket."""
    auth_port = free_port()
    auth = lab.start_scripted('auth', '127.0.0.1', auth_port, zones=['example.sim.'],
                              name=f'predict-auth-{auth_port}')
    try:
        k, port = start_kresd(
            f"policy.add(policy.suffix(policy.STUB('127.0.0.1@{auth_port}'),"
            " {todname('example.sim.')}))\n"
            + ("modules.load('predict')\n" if load == 'config' else ''))
        if load == 'control':
            k.lua("modules.load('predict')")
            assert k.lua('predict.window') == '15'
        t0 = time.monotonic()
        r = ask(port, TTL5)
        assert rcode(r) == 'NOERROR' and a_ttls(r) == [5], r
        asked = lambda: asked_for(auth, TTL5)  # noqa: E731
        assert asked() == 1

        # A cache hit with 5 s or less left: refreshed in the background.
        time.sleep(2.0)
        r = ask(port, TTL5)
        assert rcode(r) == 'NOERROR' and a_ttls(r)[0] < 5, r
        deadline = time.monotonic() + 3.0
        while asked() < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert asked() == 2, auth.queries()

        # After the first copy expired (t0 + 5 s), the refreshed one answers
        # from the cache: a TTL below 5.
        time.sleep(max(0.0, t0 + 5.6 - time.monotonic()))
        r = ask(port, TTL5)
        assert rcode(r) == 'NOERROR', r
        assert a_ttls(r)[0] < 5, f'not from the cache: {r}'
    finally:
        auth.stop()


def test_without_predict_the_name_is_asked_again_after_expiry(start_kresd, lab):
    auth_port = free_port()
    auth = lab.start_scripted('auth', '127.0.0.1', auth_port, zones=['example.sim.'],
                              name=f'predict-auth-{auth_port}')
    try:
        k, port = start_kresd(
            f"policy.add(policy.suffix(policy.STUB('127.0.0.1@{auth_port}'),"
            " {todname('example.sim.')}))\n")
        ask(port, TTL5)
        time.sleep(2.0)
        assert a_ttls(ask(port, TTL5))[0] < 5
        time.sleep(1.0)
        assert asked_for(auth, TTL5) == 1, auth.queries()
        time.sleep(3.0)
        assert a_ttls(ask(port, TTL5)) == [5]  # expired: asked again
    finally:
        auth.stop()


def test_predict_resolves_names_predicted_for_the_next_window(start_kresd, lab, tmp_path):
    """A name asked in two windows in a row is resolved again when the
    next window begins, without a client asking.  libfaketime moves the
    wall clock (which picks the window) 15 minutes at a time; the samples
    are taken with predict.process() instead of waiting minutes for the
    timer (ours only: Knot Resolver 5.6 does not start under libfaketime)."""
    if not os.path.exists(FAKETIME_LIB):
        pytest.skip('libfaketime not installed (Debian package "faketime")')
    if knot_resolver():
        pytest.skip('Knot Resolver 5.6 does not start under libfaketime')
    offset = tmp_path / 'faketime'
    offset.write_text('+0\n')
    auth_port = free_port()
    auth = lab.start_scripted('auth', '127.0.0.1', auth_port, zones=['example.sim.'],
                              name=f'predict-auth-{auth_port}')
    name = 'www.example.sim.'
    try:
        k, port = start_kresd(
            f"policy.add(policy.suffix(policy.STUB('127.0.0.1@{auth_port}'),"
            " {todname('example.sim.')}))\n"
            "modules.load('predict')\n"
            "predict.config({window = 15, period = 24})\n",
            env=faketime_env(offset))

        def learn():
            # One in ten questions resolved upstream is sampled: ten misses.
            for _ in range(10):
                k.lua('cache.clear()')
                assert rcode(ask(port, name)) == 'NOERROR'
            k.lua('predict.process()')

        learn()                          # window E
        offset.write_text('+15m\n')
        learn()                          # window E+1: seen in E and E+1
        before = asked_for(auth, name)
        offset.write_text('+30m\n')
        k.lua('predict.process()')       # window E+2 begins: predicted
        deadline = time.monotonic() + 5.0
        while asked_for(auth, name) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert asked_for(auth, name) == before + 1, auth.queries()
        assert k.lua('predict.queue_len') == '0'
    finally:
        auth.stop()


# ---------------------------------------------------------------- serve_stale

STALE_CONFIG = "net.ipv6 = false\nmodules.load('serve_stale < cache')\n"


def test_serve_stale_answers_expired_data_while_servers_are_down(start_kresd, lab):
    k, port = start_kresd(STALE_CONFIG)
    r = ask(port, TTL5)
    assert rcode(r) == 'NOERROR' and a_ttls(r) == [5], r
    time.sleep(6.0)  # expired
    with lab.offline():
        r = ask(port, TTL5)
        assert rcode(r) == 'NOERROR', r
        assert lablib.answer_addresses(r) == ['192.0.2.5']
        assert a_ttls(r) == [1], r
        assert ede(r) == [(3, '6Q6X')], r
        # again: the same
        r = ask(port, TTL5)
        assert rcode(r) == 'NOERROR' and a_ttls(r) == [1], r
        # a name that was never cached
        r = ask(port, 'never.example.sim.')
        assert rcode(r) == 'SERVFAIL', r


def test_without_serve_stale_expired_data_is_not_used(start_kresd, lab):
    k, port = start_kresd("net.ipv6 = false\n")
    assert rcode(ask(port, TTL5)) == 'NOERROR'
    time.sleep(6.0)
    with lab.offline():
        r = ask(port, TTL5)
        assert rcode(r) == 'SERVFAIL', r


def test_serve_stale_gives_up_after_a_day(start_kresd, lab, tmp_path):
    if not os.path.exists(FAKETIME_LIB):
        pytest.skip('libfaketime not installed (Debian package "faketime")')
    if knot_resolver():
        pytest.skip('Knot Resolver 5.6 does not start under libfaketime')
    offset = tmp_path / 'faketime'
    offset.write_text('+0\n')
    k, port = start_kresd(STALE_CONFIG, env=faketime_env(offset))
    assert rcode(ask(port, TTL5)) == 'NOERROR'
    with lab.offline():
        offset.write_text('+23h\n')  # expired 23 hours ago: still served
        r = ask(port, TTL5)
        assert rcode(r) == 'NOERROR' and a_ttls(r) == [1], r
        offset.write_text('+2d\n')  # two days: too old
        r = ask(port, TTL5)
        assert rcode(r) == 'SERVFAIL', r


def test_serve_stale_when_name_server_address_lookups_fail(start_kresd, lab):
    """With IPv6 on, the stopped zone's NS name is also looked up (AAAA),
    and that fails too: kresd still answers the stale record. Knot Resolver
    5.6 answers SERVFAIL here (see the module docstring)."""
    if knot_resolver():
        pytest.skip('Knot Resolver 5.6 gives up when the NS address lookup fails')
    k, port = start_kresd("modules.load('serve_stale < cache')\n")
    assert rcode(ask(port, TTL5)) == 'NOERROR'
    time.sleep(6.0)
    with lab.offline():
        r = ask(port, TTL5)
        assert rcode(r) == 'NOERROR' and a_ttls(r) == [1], r
        assert ede(r) == [(3, '6Q6X')], r
