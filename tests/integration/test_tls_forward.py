"""policy.TLS_FORWARD: a kresd forwards over DNS-over-TLS to a second kresd
(the "upstream", with a DoT listener and a certificate for dot.test signed
by a CA made with openssl at test time) that answers fwd.example. from its
hints. Authentication by CA and hostname, by SPKI pin, failures (wrong pin,
wrong hostname, dead target) with fallback to the next target, connection
reuse, reconnection after the upstream restarts, and config errors.

Everything is on 127.0.0.1; both kresd keep the loopback root hints that
conftest puts in front of every config."""

import re
import subprocess
import time

import pytest

import dns.message
import dns.query
import dns.rcode

from conftest import QUERY_TIMEOUT, free_port, make_pki, make_query, spki_pin

ANSWER = '192.0.2.7'
NAME = 'fwd.example.'


# ---------------------------------------------------------------- helpers

@pytest.fixture
def pki(short_tmp):
    """A CA and a server certificate for dot.test and upstream.example, and
    the pins of that certificate and of an unrelated one."""
    p = make_pki(short_tmp / 'pki', 'DNS:dot.test,DNS:upstream.example', other=True)
    p['pin'] = spki_pin(p['cert'])
    p['other_pin'] = spki_pin(p['other'])
    return p


def upstream_config(pki, port, *more_ports):
    return (f"net.tls('{pki['cert']}', '{pki['key']}')\n" +
            ''.join(f"net.listen('127.0.0.1', {p}, {{ kind = 'tls' }})\n"
                    for p in (port,) + more_ports) +
            f"hints['fwd.example'] = '{ANSWER}'\n")


def forwarder_config(port, targets):
    """targets: Lua text of the list given to TLS_FORWARD."""
    # The upstream answers from hints, unsigned and without a root zone:
    # validation (on by default, as in Knot Resolver) is turned off.
    return (f"net.listen('127.0.0.1', {port})\n"
            "trust_anchors.remove('.')\n"
            "log_level('debug')\n"
            "policy.add(policy.all(policy.FLAGS('NO_CACHE')))\n"
            f"policy.add(policy.all(policy.TLS_FORWARD({targets})))\n")


def by_ca(up_port, ca, hostname='dot.test'):
    """TLS_FORWARD's list with one target checked by CA file and hostname."""
    return f"{{{{'127.0.0.1@{up_port}', hostname='{hostname}', ca_file='{ca}'}}}}"


def by_pin(up_port, pin):
    """TLS_FORWARD's list with one target checked by an SPKI pin."""
    return f"{{{{'127.0.0.1@{up_port}', pin_sha256='{pin}'}}}}"


def start_forwarding(make_kresd, port, targets):
    """A forwarder to `targets`, started, and answering through them."""
    k = make_kresd(forwarder_config(port, targets)).start()
    r = ask(port)
    assert r.rcode() == dns.rcode.NOERROR, k.stderr()
    assert addresses(r) == [ANSWER]
    return k


def ask(port, name=NAME, timeout=QUERY_TIMEOUT * 3):
    return dns.query.udp(make_query(name), '127.0.0.1', port=port, timeout=timeout)


def addresses(answer):
    return sorted(rr.address for rrset in answer.answer for rr in rrset)


def connections_to(port):
    """Established TCP connections towards 127.0.0.1:port."""
    out = subprocess.run(['ss', '-tnH', 'state', 'established', f'( dport = :{port} )'],
                         check=True, capture_output=True, text=True, timeout=10).stdout
    return [line for line in out.splitlines() if line.strip()]


def connects_logged(k, up_port):
    return len(re.findall(rf'connected to 127\.0\.0\.1@{up_port}\b', k.stderr()))


@pytest.fixture
def upstream(make_kresd, pki):
    up_port = free_port()
    up = make_kresd(upstream_config(pki, up_port), instance='up').start()
    return up, up_port


# ---------------------------------------------------------------- authentication

def test_hostname_and_ca_file(make_kresd, pki, upstream, port):
    up, up_port = upstream
    k = start_forwarding(make_kresd, port, by_ca(up_port, pki['ca']))
    # the other name of the certificate works too
    k.lua(f"policy.add(policy.suffix(policy.TLS_FORWARD("
          f"{by_ca(up_port, pki['ca'], 'upstream.example')}), {{todname('x.example.')}}))")
    k.stop()
    up.stop()


def test_right_pin(make_kresd, pki, upstream, port):
    up, up_port = upstream
    k = start_forwarding(make_kresd, port, by_pin(up_port, pki['pin']))
    # a list of pins, one of them right
    k2_port = free_port()
    k2 = make_kresd(forwarder_config(
        k2_port, f"{{{{'127.0.0.1@{up_port}', hostname='dot.test', "
                 f"pin_sha256={{'{pki['other_pin']}', '{pki['pin']}'}}}}}}")).start()
    assert addresses(ask(k2_port)) == [ANSWER]
    k.stop()
    k2.stop()
    up.stop()


def test_wrong_pin_servfail_quickly(make_kresd, pki, upstream, port):
    up, up_port = upstream
    k = make_kresd(forwarder_config(port, by_pin(up_port, pki['other_pin']))).start()
    for _ in range(3):
        t0 = time.monotonic()
        r = ask(port)
        took = time.monotonic() - t0
        assert r.rcode() == dns.rcode.SERVFAIL
        assert took < 1.0, took
    err = k.stderr()
    assert re.search(rf'TLS_FORWARD to 127\.0\.0\.1@{up_port}: certificate verification '
                     r'failed: public key matches no pin_sha256', err), err
    k.stop()
    up.stop()


def test_wrong_hostname_servfail(make_kresd, pki, upstream, port):
    up, up_port = upstream
    k = make_kresd(forwarder_config(port, by_ca(up_port, pki['ca'], 'wrong.test'))).start()
    t0 = time.monotonic()
    r = ask(port)
    assert r.rcode() == dns.rcode.SERVFAIL
    assert time.monotonic() - t0 < 1.0
    err = k.stderr()
    assert re.search(rf'TLS_FORWARD to 127\.0\.0\.1@{up_port} \(wrong\.test\): certificate '
                     r'verification failed: .*CN', err), err
    k.stop()
    up.stop()


def test_untrusted_ca_servfail(make_kresd, pki, upstream, port, short_tmp):
    """The server certificate is not signed by the CA given: no answer."""
    up, up_port = upstream
    other_ca = pki['ca'].parent / 'other.pem'
    k = make_kresd(forwarder_config(port, by_ca(up_port, other_ca))).start()
    assert ask(port).rcode() == dns.rcode.SERVFAIL
    k.stop()
    up.stop()


# ---------------------------------------------------------------- fallback

@pytest.mark.parametrize('bad', ['dead', 'pin'])
def test_first_target_bad_second_good(make_kresd, pki, port, bad):
    # two ports of one upstream: targets are told apart by address and port
    up_port, up_port2 = free_port(), free_port()
    up = make_kresd(upstream_config(pki, up_port, up_port2), instance='up').start()
    if bad == 'dead':
        first = f"{{'127.0.0.1@{free_port()}', pin_sha256='{pki['pin']}'}}"
    else:
        first = f"{{'127.0.0.1@{up_port2}', pin_sha256='{pki['other_pin']}'}}"
    second = f"{{'127.0.0.1@{up_port}', hostname='dot.test', ca_file='{pki['ca']}'}}"
    k = make_kresd(forwarder_config(port, f"{{{first}, {second}}}")).start()
    for _ in range(3):
        t0 = time.monotonic()
        r = ask(port)
        assert r.rcode() == dns.rcode.NOERROR, k.stderr()
        assert addresses(r) == [ANSWER]
        assert time.monotonic() - t0 < 2.0
    k.stop()
    up.stop()


def test_all_targets_dead_servfail_with_ede(make_kresd, pki, port):
    k = make_kresd(forwarder_config(
        port, f"{{{{'127.0.0.1@{free_port()}', pin_sha256='{pki['pin']}'}}, "
              f"{{'127.0.0.1@{free_port()}', pin_sha256='{pki['pin']}'}}}}")).start()
    q = dns.message.make_query(NAME, 'A', use_edns=0)
    r = dns.query.udp(q, '127.0.0.1', port=port, timeout=QUERY_TIMEOUT * 3)
    assert r.rcode() == dns.rcode.SERVFAIL
    codes = [o.code for o in r.options if hasattr(o, 'code')]
    assert 22 in [int(c) for c in codes], r.options   # No Reachable Authority
    k.stop()


# ---------------------------------------------------------------- connections

def test_fifty_queries_one_connection(make_kresd, pki, upstream, port):
    up, up_port = upstream
    k = make_kresd(forwarder_config(port, by_ca(up_port, pki['ca']))).start()
    for i in range(50):
        r = ask(port)
        assert r.rcode() == dns.rcode.NOERROR, (i, k.stderr())
        assert addresses(r) == [ANSWER]
    assert len(connections_to(up_port)) == 1, connections_to(up_port)
    assert connects_logged(k, up_port) == 1, k.stderr()
    # pipelined: many at once from several clients, still one connection
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(lambda _: ask(port), range(40)))
    assert all(addresses(r) == [ANSWER] for r in results)
    assert connects_logged(k, up_port) == 1, k.stderr()
    k.stop()
    up.stop()


def test_upstream_restart_reconnects_and_resumes(make_kresd, pki, port):
    up_port = free_port()
    up = make_kresd(upstream_config(pki, up_port), instance='up').start()
    k = start_forwarding(make_kresd, port, by_ca(up_port, pki['ca']))
    rundir = up.rundir
    up.kill()
    # same rundir: the restarted upstream has the same ticket secret
    up2 = make_kresd(upstream_config(pki, up_port), instance='up', rundir=rundir).start()
    t0 = time.monotonic()
    r = ask(port)
    assert r.rcode() == dns.rcode.NOERROR, k.stderr()
    assert addresses(r) == [ANSWER]
    assert time.monotonic() - t0 < 2.0
    assert connects_logged(k, up_port) == 2, k.stderr()
    assert re.search(rf'connected to 127\.0\.0\.1@{up_port} \(dot\.test\), TLSv1\.2, resumed',
                     k.stderr()), k.stderr()
    k.stop()
    up2.stop()


# ---------------------------------------------------------------- config errors

@pytest.mark.parametrize('targets,message', [
    ("{{'127.0.0.1@853'}}",
     "policy.TLS_FORWARD: target 127.0.0.1@853 needs hostname (to check the certificate "
     "against ca_file or the system CA bundle) or pin_sha256"),
    ("{{'dns.example', hostname='dns.example'}}",
     "policy.TLS_FORWARD: 'dns.example' is not an address (IP, IP@port or IP#port)"),
    ("{{'127.0.0.1', hostname='dot.test', ca_file='/nonexistent/ca.pem'}}",
     "policy.TLS_FORWARD: target 127.0.0.1@853: cannot read ca_file /nonexistent/ca.pem"),
    ("{}", "policy.TLS_FORWARD: expected a non-empty list of targets"),
    ("{{'127.0.0.1', hostname='dot.test', pin='x'}}", "unknown option 'pin'"),
])
def test_config_errors(make_kresd, port, targets, message):
    k = make_kresd(f"net.listen('127.0.0.1', {port})\n"
                   f"policy.add(policy.all(policy.TLS_FORWARD({targets})))\n")
    k.start(wait_ready=False)
    rc = k.wait_exit()
    assert rc != 0
    err = k.stderr()
    assert message in err, err
    # the line of the config, not of policy.lua
    assert re.search(r'config\.lua:2: policy\.TLS_FORWARD', err), err


def test_insecure_warns(make_kresd, upstream, port):
    up, up_port = upstream
    k = make_kresd(forwarder_config(port, f"{{{{'127.0.0.1@{up_port}', insecure=true}}}}")).start()
    assert addresses(ask(port)) == [ANSWER]
    assert 'insecure=true, the server is not authenticated' in k.stderr()
    k.stop()
    up.stop()


def test_idle_connection_closes_then_resumes(make_kresd, pki, upstream, port):
    """After 10 s without queries the connection goes (we close it, or the
    upstream kresd, whose idle timeout is about the same, does); the next
    query opens a new one and resumes the TLS session."""
    up, up_port = upstream
    k = start_forwarding(make_kresd, port, by_ca(up_port, pki['ca']))
    assert len(connections_to(up_port)) == 1
    deadline = time.monotonic() + 15
    while connections_to(up_port) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert connections_to(up_port) == []
    err = k.stderr()
    assert 'closing idle connection' in err or 'closed by the server' in err, err
    assert addresses(ask(port)) == [ANSWER]
    assert connects_logged(k, up_port) == 2
    assert ', resumed, ' in k.stderr(), k.stderr()
    k.stop()
    up.stop()
