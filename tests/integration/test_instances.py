"""Several named instances on one address; instance names; NSID."""

import collections
import threading
import time

import pytest

import dns.exception
import dns.flags
import dns.rcode
import dns.reversename

from conftest import DATA, make_query, nsid_of, tcp, udp

NSID_CONFIG = """
net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})
modules.load('nsid')
nsid.name(worker.id)
"""

QUERIES = 200


def count_nsids(port, n=QUERIES, transport=udp):
    """n queries, each from a new socket (new source port); returns a
    Counter of the NSID values seen."""
    seen = collections.Counter()
    for _ in range(n):
        r = transport(make_query('localhost.', 'A', nsid=True), port)
        assert r.rcode() == dns.rcode.NOERROR
        seen[nsid_of(r)] += 1
    return seen


@pytest.mark.parametrize('rundir', ['separate', 'shared'])
def test_two_instances_share_a_port(make_kresd, port, short_tmp, rundir):
    config = NSID_CONFIG.format(port=port)
    shared = {'rundir': short_tmp / 'shared'} if rundir == 'shared' else {}
    k1 = make_kresd(config, instance='dns1', **shared).start()
    k2 = make_kresd(config, instance='dns2', **shared).start()

    seen = count_nsids(port)
    assert set(seen) == {'dns1', 'dns2'}, f'NSID values over UDP: {dict(seen)}'

    # TCP connections are spread by SO_REUSEPORT as well.
    seen_tcp = count_nsids(port, n=60, transport=tcp)
    assert set(seen_tcp) == {'dns1', 'dns2'}, f'NSID values over TCP: {dict(seen_tcp)}'

    # Each instance has its own control socket and knows its name.
    assert k1.lua('worker.id') == "'dns1'"
    assert k2.lua('worker.id') == "'dns2'"

    # When one instance stops, the other keeps serving the port alone.
    k1.stop()
    seen_after = count_nsids(port, n=30)
    assert set(seen_after) == {'dns2'}
    seen_after = count_nsids(port, n=10, transport=tcp)
    assert set(seen_after) == {'dns2'}
    k2.stop()


def test_rolling_restart_loses_nothing(make_kresd, port, short_tmp):
    """Instances in one rundir, restarted one at a time (what a sequential
    `systemctl restart kresd@N` loop does) while a client keeps asking over
    UDP: every query is answered, and afterwards both instances serve."""
    config = NSID_CONFIG.format(port=port)
    rundir = short_tmp / 'shared'
    live = {name: make_kresd(config, instance=name, rundir=rundir).start()
            for name in ('dns1', 'dns2')}

    stop = threading.Event()
    results = collections.Counter()

    def client():
        while not stop.is_set():
            try:
                r = udp(make_query(nsid=True), port, timeout=2.0)
                results[nsid_of(r)] += 1
            except dns.exception.Timeout:
                results['lost'] += 1

    t = threading.Thread(target=client)
    t.start()
    try:
        for name in ('dns1', 'dns2', 'dns1'):
            time.sleep(0.2)
            live[name].stop()
            live[name] = make_kresd(config, instance=name, rundir=rundir).start()
        time.sleep(0.2)
    finally:
        stop.set()
        t.join(10)
    print('rolling restart:', dict(results))
    assert results['lost'] == 0, dict(results)
    assert sum(results.values()) >= 50, dict(results)
    assert results['dns1'] and results['dns2'], dict(results)
    seen = count_nsids(port)
    assert set(seen) == {'dns1', 'dns2'}, f'after the restarts: {dict(seen)}'
    for k in live.values():
        k.stop()


def test_two_instances_via_systemd_instance_env(make_kresd, port):
    """The same without --instance: the name comes from SYSTEMD_INSTANCE."""
    config = NSID_CONFIG.format(port=port)
    k1 = make_kresd(config, env={'SYSTEMD_INSTANCE': 'dns1'})
    k2 = make_kresd(config, env={'SYSTEMD_INSTANCE': 'dns2'})
    k1.instance = 'dns1'   # for the control socket path only
    k2.instance = 'dns2'
    k1.start()
    k2.start()

    seen = count_nsids(port)
    assert set(seen) == {'dns1', 'dns2'}, f'NSID values: {dict(seen)}'
    assert k1.lua('worker.id') == "'dns1'"
    assert k2.lua('worker.id') == "'dns2'"
    assert (k1.rundir / 'control' / 'dns1').exists()
    k1.stop()
    k2.stop()


def test_instance_option_wins_over_env(make_kresd, port):
    k = make_kresd(NSID_CONFIG.format(port=port), instance='fromflag',
                   env={'SYSTEMD_INSTANCE': 'fromenv'}).start()
    assert nsid_of(udp(make_query(nsid=True), port)) == 'fromflag'
    assert k.lua('worker.id') == "'fromflag'"
    # --instance is exported as SYSTEMD_INSTANCE for the config
    assert k.lua('os.getenv("SYSTEMD_INSTANCE")') == "'fromflag'"
    k.stop()


def test_seed_nsid_example(make_kresd, port):
    """The seed's per-instance NSID config, unchanged, next to a file that
    only adds a listener (-c is repeatable; files run in order)."""
    seed = (DATA / 'seed-nsid.lua').read_text()
    listen = f"net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})\n"
    k = make_kresd(None, instance='dns7',
                   extra_configs={'listen.lua': listen, 'seed-nsid.lua': seed},
                   args=['-c', 'listen.lua', '-c', 'seed-nsid.lua']).start()
    r = udp(make_query(nsid=True), port)
    assert nsid_of(r) == 'dns7'
    assert k.lua('nsid.name()') == "'dns7'"
    k.stop()


def test_nsid_only_when_asked(make_kresd, port):
    k = make_kresd(NSID_CONFIG.format(port=port), instance='n1').start()
    # EDNS without the NSID option: no NSID in the answer
    r = udp(make_query(payload=1232), port)
    assert r.edns >= 0
    assert nsid_of(r) is None
    # no EDNS at all: no OPT
    r = udp(make_query(), port)
    assert r.edns == -1
    # with NSID over TCP as well
    assert nsid_of(tcp(make_query(nsid=True), port)) == 'n1'
    k.stop()


def test_unnamed_instance_uses_pid(make_kresd, port):
    k = make_kresd(NSID_CONFIG.format(port=port)).start()
    assert k.instance is None
    path = k.rundir / 'control' / str(k.pid)
    assert path.exists(), f'no control socket at {path}: {list((k.rundir / "control").iterdir())}'
    assert k.lua('worker.pid') == str(k.pid)
    # worker.id is the PID too (kresd 5 gives it as a string)
    assert k.lua('worker.id').strip("'") == str(k.pid)
    assert nsid_of(udp(make_query(nsid=True), port)) == str(k.pid)
    k.stop()


def test_local_answers(make_kresd, port):
    k = make_kresd(NSID_CONFIG.format(port=port), instance='ans').start()

    r = udp(make_query('localhost.', 'A'), port)
    assert r.rcode() == dns.rcode.NOERROR
    assert r.flags & dns.flags.AA
    assert [rr.address for rr in r.answer[0]] == ['127.0.0.1']

    r = tcp(make_query('foo.bar.localhost.', 'AAAA'), port)
    assert r.rcode() == dns.rcode.NOERROR
    assert [rr.address for rr in r.answer[0]] == ['::1']

    r = udp(make_query('1.0.0.127.in-addr.arpa.', 'PTR'), port)
    assert r.rcode() == dns.rcode.NOERROR
    assert [rr.target.to_text() for rr in r.answer[0]] == ['localhost.']

    r = udp(make_query('2.0.0.127.in-addr.arpa.', 'PTR'), port)
    assert r.rcode() == dns.rcode.NXDOMAIN

    r = udp(make_query(dns.reversename.from_address('::1'), 'PTR'), port)
    assert r.rcode() == dns.rcode.NOERROR
    assert [rr.target.to_text() for rr in r.answer[0]] == ['localhost.']

    r = udp(make_query('example.com.', 'A'), port)
    assert r.rcode() in (dns.rcode.REFUSED, dns.rcode.SERVFAIL)
    assert not r.answer

    # the answer echoes the question and the ID
    q = make_query('localhost.', 'A')
    r = udp(q, port)
    assert r.id == q.id and r.question == q.question
    assert r.flags & dns.flags.QR
    k.stop()

