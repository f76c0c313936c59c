"""The seed document's instance-prefix config (unchanged, in
data/seed-instance-prefix.lua) and the default listener.  Both use ports
53/853/443 on 127.0.0.1, so they run in a private network namespace
(root only; see the netns fixture)."""

import socket

import pytest

import dns.query
import dns.rcode

from conftest import (DATA, QUERY_TIMEOUT, assert_tls_serves, entries, make_query, nsid_of,
                      udp_raw)

SEED = DATA / 'seed-instance-prefix.lua'
PANIC = 'Use kresd@dns*, kresd@tls* or kresd@doh* instance names'


def seed_text():
    return SEED.read_text()


def panic_line():
    for number, line in enumerate(seed_text().splitlines(), 1):
        if 'panic(' in line:
            return number
    raise AssertionError('no panic() in the seed config')


def ns_udp(netns, query, port, host='127.0.0.1'):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = netns.socket(family, socket.SOCK_DGRAM)
    try:
        s.setblocking(False)
        return dns.query.udp(query, host, port=port, timeout=QUERY_TIMEOUT, sock=s)
    finally:
        s.close()


def ns_tcp(netns, query, port, host='127.0.0.1'):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = netns.socket(family, socket.SOCK_STREAM)
    try:
        s.settimeout(QUERY_TIMEOUT)
        s.connect((host, port))
        s.setblocking(False)
        return dns.query.tcp(query, host, port=port, timeout=QUERY_TIMEOUT, sock=s)
    finally:
        s.close()


def seed_kresd(make_kresd, netns, instance, **kwargs):
    return make_kresd(seed_text(), instance=instance, prefix=netns.prefix,
                      config_name='seed-instance-prefix.lua', **kwargs)


def test_seed_instance_prefix_config(make_kresd, netns):
    dns1 = seed_kresd(make_kresd, netns, 'dns1').start()
    dns2 = seed_kresd(make_kresd, netns, 'dns2').start()
    tls1 = seed_kresd(make_kresd, netns, 'tls1').start()
    doh1 = seed_kresd(make_kresd, netns, 'doh1').start()

    # dns*: plain DNS on 53, UDP and TCP, shared by both instances
    for transport in (ns_udp, ns_tcp):
        r = transport(netns, make_query('localhost.', 'A'), 53)
        assert r.rcode() == dns.rcode.NOERROR, transport.__name__
        assert r.answer[0][0].address == '127.0.0.1'
    for k in (dns1, dns2):
        eps = entries(k.lua('net.list()'))
        assert sorted((kind, 'udp' if "'udp'" in t else 'tcp' if "'tcp'" in t else 'unix')
                      for _, kind, t in eps) == [
            ('control', 'unix'), ('dns', 'tcp'), ('dns', 'udp')], eps
        assert "['port'] = 53," in k.lua('net.list()')

    # tls*: DNS-over-TLS on 853 (kind tls); no UDP
    eps = entries(tls1.lua('net.list()'))
    assert [(kind, "['port'] = 853," in t, "'tcp'" in t) for _, kind, t in eps
            if kind != 'control'] == [('tls', True, True)], eps
    assert assert_tls_serves(853, 'dot', sock=netns.socket(socket.AF_INET, socket.SOCK_STREAM))

    # doh*: DNS-over-HTTPS on 443, kind doh2
    eps = entries(doh1.lua('net.list()'))
    assert [(kind, "['port'] = 443," in t, "'tcp'" in t) for _, kind, t in eps
            if kind != 'control'] == [('doh2', True, True)], eps
    assert assert_tls_serves(443, 'h2', sock=netns.socket(socket.AF_INET, socket.SOCK_STREAM))

    # nothing answers plain DNS on 853/443
    for p in (853, 443):
        s = netns.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            assert udp_raw(make_query().to_wire(), p, timeout=0.3, sock=s) is None
        finally:
            s.close()

    # everyone survived the closed connections and stops cleanly
    for k in (dns1, dns2, tls1, doh1):
        k.stop()


def test_seed_instance_prefix_via_systemd_instance(make_kresd, netns):
    """As systemd runs it: the name only in SYSTEMD_INSTANCE."""
    k = make_kresd(seed_text(), env={'SYSTEMD_INSTANCE': 'dns-a'}, prefix=netns.prefix,
                   config_name='seed-instance-prefix.lua')
    k.instance = 'dns-a'
    k.start()
    r = ns_udp(netns, make_query('localhost.', 'A'), 53)
    assert r.rcode() == dns.rcode.NOERROR
    k.stop()


@pytest.mark.parametrize('how', ['option', 'env'])
def test_seed_instance_prefix_refuses_other_names(make_kresd, how):
    """`foo` panics in the config: exit non-zero with the seed's message and
    the config line, and never report READY.  (It fails before binding
    anything, so no namespace is needed.)"""
    kwargs = {'instance': 'foo'} if how == 'option' else {'env': {'SYSTEMD_INSTANCE': 'foo'}}
    k = make_kresd(seed_text(), config_name='seed-instance-prefix.lua', **kwargs)
    k.start(wait_ready=False)
    rc = k.wait_exit()
    err = k.stderr()
    assert rc != 0, err
    assert PANIC in err, err
    assert f'seed-instance-prefix.lua:{panic_line()}' in err, err
    assert k.notify.wait_for('READY=1', 0) is None


NSID = "modules.load('nsid')\nnsid.name(worker.id)\n"


@pytest.mark.parametrize('config', [None, NSID], ids=['no-config', 'config-without-listener'])
def test_default_listener(make_kresd, netns, config):
    """No activation, no -a/-t, no net.listen: 127.0.0.1@53 and ::1@53."""
    k = make_kresd(config, instance='deflt', prefix=netns.prefix).start()
    for host in ('127.0.0.1', '::1'):
        for transport in (ns_udp, ns_tcp):
            r = transport(netns, make_query('localhost.', 'A', nsid=config is not None), 53, host)
            assert r.rcode() == dns.rcode.NOERROR, (host, transport.__name__)
            if config is not None:
                assert nsid_of(r) == 'deflt'
    listed = k.lua('net.list()')
    assert listed.count("['port'] = 53,") == 4, listed
    k.stop()


def test_old_style_net_table(make_kresd, netns):
    """Knot Resolver 4/5's `net = {'127.0.0.1'}` form listens on port 53 of
    the given address only (no default ::1)."""
    k = make_kresd("net = { '127.0.0.1' }\nmodules = { 'nsid', 'stats' }\nnsid.name('old')\n",
                   instance='old', prefix=netns.prefix).start()
    for transport in (ns_udp, ns_tcp):
        r = transport(netns, make_query('localhost.', 'A', nsid=True), 53)
        assert r.rcode() == dns.rcode.NOERROR
        assert nsid_of(r) == 'old'
    listed = k.lua('net.list()')
    assert "'::1'" not in listed, listed
    modules = k.lua('modules.list()')
    assert "'nsid'" in modules and "'stats'" in modules, modules
    k.stop()


def test_dash_a_default_port_53(make_kresd, netns):
    k = make_kresd(None, instance='dasha', prefix=netns.prefix, args=['-a', '127.0.0.1']).start()
    assert ns_udp(netns, make_query(), 53).rcode() == dns.rcode.NOERROR
    assert ns_tcp(netns, make_query(), 53).rcode() == dns.rcode.NOERROR
    assert "'::1'" not in k.lua('net.list()')
    k.stop()


def test_dash_t_default_port_853(make_kresd, netns):
    k = make_kresd(None, instance='dasht', prefix=netns.prefix, args=['-t', '127.0.0.1']).start()
    eps = entries(k.lua('net.list()'))
    kinds = [(kind, "['port'] = 853," in t) for _, kind, t in eps if kind != 'control']
    assert kinds == [('tls', True)], eps
    assert assert_tls_serves(853, 'dot', sock=netns.socket(socket.AF_INET, socket.SOCK_STREAM))
    k.stop()
