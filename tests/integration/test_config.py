"""Lua configuration (Knot Resolver 5 names) and the control socket."""

import time
from pathlib import Path

import dns.rcode
import pytest

from conftest import (Control, assert_tls_serves, entries, free_port, make_query, nsid_of, tcp,
                      udp, udp_raw)

LISTEN = "net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})\n"


def test_default_config_file_in_rundir(make_kresd, port):
    """Without -c, ./config in the rundir is read."""
    k = make_kresd(LISTEN.format(port=port) + "modules.load('nsid')\nnsid.name('from-config')\n",
                   instance='dflt', config_name='config', use_config_arg=False)
    assert '-c' not in k.argv
    k.start()
    assert nsid_of(udp(make_query(nsid=True), port)) == 'from-config'
    k.stop()


def test_config_paths_relative_to_rundir(make_kresd, port):
    """-c is relative to the rundir, not to the caller's cwd, and dofile-style
    relative paths in the config see the rundir as cwd."""
    k = make_kresd(None, instance='rel',
                   extra_configs={'main.lua': "dofile('more.lua')\n",
                                  'more.lua': LISTEN.format(port=port)},
                   args=['-c', 'main.lua'])
    k.start()   # the Popen cwd is the rundir too; -c main.lua must not depend on it
    assert udp(make_query(), port).rcode() == dns.rcode.NOERROR
    k.stop()


def test_old_style_modules_table_and_listen_forms(make_kresd, port):
    """`modules = {...}` (Knot Resolver 4/5) and the net.listen forms."""
    p2, p3 = free_port(), free_port()
    config = (f"net.listen('127.0.0.1', {port})\n"
              f"net.listen({{'127.0.0.1'}}, {p2}, {{ kind = 'dns' }})\n"
              f"net.listen('127.0.0.1', {p3}, {{ kind = 'dns', freebind = true }})\n"
              "modules = { 'nsid', 'stats' }\n"
              "nsid.name('oldstyle')\n")
    k = make_kresd(config, instance='forms').start()
    for p in (port, p2, p3):
        for transport in (udp, tcp):
            r = transport(make_query(nsid=True), p)
            assert r.rcode() == dns.rcode.NOERROR and nsid_of(r) == 'oldstyle'
    modules = k.lua('modules.list()')
    assert "'nsid'" in modules and "'stats'" in modules, modules
    listed = k.lua('net.list()')
    assert "['freebind'] = true" in listed, listed
    k.stop()


def test_undefined_globals_are_nil(make_kresd, port):
    config = LISTEN.format(port=port) + """
if ta_update then error('ta_update should be nil') end
if not some_undefined_thing then seen_nil = true end
assert(undefined_a == nil and undefined_b == nil)
"""
    k = make_kresd(config, instance='nilg').start()
    assert k.lua('seen_nil') == 'true'
    assert k.lua('ta_update') == 'nil'
    k.stop()


def test_constants_and_helpers(make_kresd, port):
    config = LISTEN.format(port=port) + """
assert(kB == 1024 and MB == 1024 * kB and GB == 1024 * MB)
assert(sec == 1000 and minute == 60 * sec and hour == 60 * minute)
assert(todname('example.com') == '\\7example\\3com\\0')
assert(type(env.PATH) == 'string')
assert(net.ipv4 == true and net.ipv6 == true)
assert(type(net.interfaces()) == 'table')
assert(type(help) == 'function')
option('NO_MINIMIZE', true)
assert(option('NO_MINIMIZE') == true)
verbose(false)
"""
    k = make_kresd(config, instance='consts').start()
    assert k.lua('net.bufsize(4096)') == '4096'
    assert k.lua('net.bufsize()') == '4096'
    assert 'net.listen' in k.lua('help()')
    assert '127.0.0.1' in k.lua('net.interfaces()')    # lo exists everywhere
    k.stop()


def test_module_ordering_syntax(make_kresd, port):
    config = LISTEN.format(port=port) + "modules.load('stats')\nmodules.load('nsid < stats')\n"
    k = make_kresd(config, instance='order').start()
    modules = k.lua('modules.list()')
    assert "'nsid'" in modules and "'stats'" in modules
    assert k.lua("modules.unload('stats')") == 'true'
    assert "'stats'" not in k.lua('modules.list()')
    k.stop()


def test_event_after_in_config(make_kresd, port):
    """Timers run on the event loop after the config."""
    config = LISTEN.format(port=port) + """
modules.load('nsid')
nsid.name('before')
event.after(100, function() nsid.name('after') end)
"""
    k = make_kresd(config, instance='evt').start()
    deadline = time.monotonic() + 5
    while nsid_of(udp(make_query(nsid=True), port)) != 'after':
        assert time.monotonic() < deadline, 'event.after callback never ran'
        time.sleep(0.05)
    k.stop()


def test_event_timers_via_control(make_kresd, port):
    k = make_kresd(LISTEN.format(port=port), instance='ctl-evt').start()
    c = k.control()
    try:
        c.send('fired = 0; ticks = 0')
        c.send('event.after(50, function() fired = fired + 1 end)')
        rid = c.send('rid = event.recurrent(20, function() ticks = ticks + 1 end); return rid')
        assert rid.isdigit(), rid
        deadline = time.monotonic() + 5
        while not (c.send('fired') == '1' and int(c.send('ticks')) >= 3):
            assert time.monotonic() < deadline, (c.send('fired'), c.send('ticks'))
            time.sleep(0.05)
        assert c.send('event.cancel(rid)') == 'true'
        after_cancel = int(c.send('ticks'))
        time.sleep(0.2)
        assert int(c.send('ticks')) <= after_cancel + 1
        assert c.send('fired') == '1'          # event.after fires once
    finally:
        c.close()
    k.stop()


def test_control_socket_repl(make_kresd, port):
    k = make_kresd(LISTEN.format(port=port), instance='repl').start()
    c = k.control()
    try:
        assert c.banner.endswith(b'> ')
        assert c.send('worker.id') == "'repl'"
        assert c.send('worker.pid') == str(k.pid)
        assert c.send('1 + 2') == '3'
        assert c.send('x = 41') == ''
        assert c.send('x + 1') == '42'
        assert c.send("'a', 'b'").splitlines() == ["'a'", "'b'"]
        # errors are reported and the prompt survives
        err = c.send('1 +')
        assert err, 'expected a syntax error message'
        err = c.send("error('oops')")
        assert 'oops' in err
        assert c.send('nil_thing') == 'nil'
        assert c.send('x') == '41'
        # the config runs in the same Lua state
        assert "['port'] = %d," % port in c.send('net.list()')
    finally:
        c.close()
    # several clients, one after the other and at once
    c1, c2 = k.control(), k.control()
    assert c1.send('worker.id') == c2.send('worker.id') == "'repl'"
    c1.close()
    c2.close()
    k.stop()


def test_worker_stats_via_control(make_kresd, port):
    k = make_kresd(LISTEN.format(port=port) + "modules.load('stats')\n", instance='wst').start()
    before = k.lua('worker.stats().queries')
    assert before.isdigit(), before
    for _ in range(7):
        udp(make_query(), port)
    for _ in range(3):
        tcp(make_query(), port)
    udp_raw(b'\x01\x02\x03', port, timeout=0.2)   # dropped
    stats = k.lua('worker.stats()')
    for key in ('queries', 'udp', 'tcp', 'dropped', 'ipv4', 'rss', 'usertime', 'systime'):
        assert f"['{key}']" in stats, (key, stats)
    assert int(k.lua('worker.stats().queries')) - int(before) == 10
    assert int(k.lua('worker.stats().udp')) >= 7
    assert int(k.lua('worker.stats().tcp')) >= 3
    assert int(k.lua('worker.stats().dropped')) >= 1
    assert int(k.lua("stats.get('answer.total')")) >= 10
    assert int(k.lua("stats.get('answer.noerror')")) >= 10
    k.stop()


def test_net_close_and_listen_at_runtime(make_kresd, port):
    k = make_kresd(LISTEN.format(port=port), instance='rt').start()
    p2 = free_port()
    assert k.lua(f"net.listen('127.0.0.1', {p2})") == 'true'
    assert udp(make_query(), p2).rcode() == dns.rcode.NOERROR
    assert tcp(make_query(), p2).rcode() == dns.rcode.NOERROR
    assert k.lua(f"net.close('127.0.0.1', {port})") == 'true'
    assert udp_raw(make_query().to_wire(), port, timeout=0.3) is None
    listed = k.lua('net.list()')
    assert f"['port'] = {port}," not in listed and f"['port'] = {p2}," in listed
    # a bad call at runtime is an error message, not a dead daemon
    out = k.lua("net.listen('not-an-ip', 53)")
    assert 'not-an-ip' in out
    assert k.running()
    k.stop()


def test_net_list_describes_kinds(make_kresd, port):
    p_tls, p_doh = free_port(), free_port()
    config = (LISTEN.format(port=port)
              + f"net.listen('127.0.0.1', {p_tls}, {{ kind = 'tls' }})\n"
              + f"net.listen('127.0.0.1', {p_doh}, {{ kind = 'doh2' }})\n")
    k = make_kresd(config, instance='kinds').start()
    eps = entries(k.lua('net.list()'))
    kinds = sorted((kind, 'udp' if "'udp'" in t else 'tcp' if "'tcp'" in t else 'unix')
                   for inh, kind, t in eps)
    assert kinds == [('control', 'unix'), ('dns', 'tcp'), ('dns', 'udp'),
                     ('doh2', 'tcp'), ('tls', 'tcp')], eps
    assert all(inh == 'false' for inh, _, _ in eps)
    assert assert_tls_serves(p_tls, 'dot')
    assert assert_tls_serves(p_doh, 'h2')
    k.stop()


def test_rundir_layout(make_kresd, port):
    k = make_kresd(LISTEN.format(port=port), instance='layout').start()
    ctl = k.rundir / 'control' / 'layout'
    assert ctl.is_socket()
    c = Control.connect(ctl)
    c.close()
    k.stop()
    assert not ctl.exists()


def test_stale_control_socket_is_replaced(make_kresd, port):
    """A control socket left by a killed process does not stop a restart."""
    k = make_kresd(LISTEN.format(port=port), instance='stale').start()
    k.kill()   # SIGKILL: the socket file stays
    assert (k.rundir / 'control' / 'stale').exists()
    k2 = make_kresd(LISTEN.format(port=port), instance='stale', rundir=k.rundir).start()
    assert k2.lua('worker.pid') == str(k2.pid)
    k2.stop()


def test_same_instance_twice_is_refused(make_kresd, port):
    """Two processes with one name in one rundir would fight over the control
    socket: the second is refused."""
    k = make_kresd(LISTEN.format(port=port), instance='twice').start()
    k2 = make_kresd(LISTEN.format(port=port), instance='twice', rundir=k.rundir)
    k2.start(wait_ready=False)
    assert k2.wait_exit(5) != 0
    assert 'twice' in k2.stderr()
    assert k.lua('worker.pid') == str(k.pid)
    k.stop()


def test_hints_from_a_hosts_file(make_kresd, port):
    """hints.add_hosts() reads a hosts file (relative to the rundir),
    hints.ttl() and hints.use_nodata() change the answers, and
    hints.del() at run time takes effect at once."""
    # (Not a documentation address: the reverse zones of those are answered
    # NXDOMAIN before the hints, as in Knot Resolver 5.6.)
    hosts = ("# the lab's names\n"
             "198.18.0.10  nas.lan  files.lan\n"
             "2001:db8::10 nas.lan\n")
    k = make_kresd(LISTEN.format(port=port) + "hints.add_hosts('hosts')\nhints.ttl(60)\n",
                   instance='hosts', extra_configs={'hosts': hosts})
    k.start()
    a = udp(make_query('NAS.lan.', 'A'), port)
    assert a.rcode() == dns.rcode.NOERROR
    assert [(str(rr.name).lower(), rr.ttl, [r.to_text() for r in rr]) for rr in a.answer] == \
        [('nas.lan.', 60, ['198.18.0.10'])]
    aaaa = udp(make_query('nas.lan.', 'AAAA'), port)
    assert [r.to_text() for rr in aaaa.answer for r in rr] == ['2001:db8::10']
    alias = udp(make_query('files.lan.', 'A'), port)
    assert [r.to_text() for rr in alias.answer for r in rr] == ['198.18.0.10']
    # The reverse name gets the line's first name; other types NODATA.
    ptr = udp(make_query('10.0.18.198.in-addr.arpa.', 'PTR'), port)
    assert [r.to_text() for rr in ptr.answer for r in rr] == ['nas.lan.']
    mx = udp(make_query('nas.lan.', 'MX'), port)
    assert mx.rcode() == dns.rcode.NOERROR and not mx.answer
    assert 'true' in k.lua("hints.del('files.lan').result")
    gone = udp(make_query('files.lan.', 'A'), port)
    assert not gone.answer
    assert '60' in k.lua('hints.ttl()')
    k.stop()


def test_hosts_file_with_a_bad_line(make_kresd, port):
    """A line that is not 'address name...' stops the reading there, with
    the file and line in the log; the config goes on (as Knot Resolver)."""
    k = make_kresd(LISTEN.format(port=port) +
                   "assert(hints.add_hosts('hosts').result == false)\n",
                   instance='badhosts',
                   extra_configs={'hosts': "192.0.2.1 one.lan\nnot-an-ip two.lan\n"
                                           "192.0.2.3 three.lan\n"})
    k.start()
    assert [r.to_text() for rr in udp(make_query('one.lan.', 'A'), port).answer for r in rr] == \
        ['192.0.2.1']
    assert not udp(make_query('three.lan.', 'A'), port).answer
    k.stop()
    assert "hosts:2: 'not-an-ip' is not an IP address" in k.stderr()


# ---------------------------------------------------------------- trust anchors (DNSSEC)

ROOT_DS_20326 = ('. 3600 IN DS 20326 8 2 '
                 'E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D')


def _config_error(k):
    """Starts k, expects it to stop on its config; returns the one error line."""
    k.start(wait_ready=False)
    assert k.wait_exit(5) == 1, k.stderr()
    lines = [line for line in k.stderr().splitlines() if line.startswith('kresd: config error:')]
    assert len(lines) == 1, k.stderr()
    return lines[0]


def test_trust_anchors_missing_file_stops_the_start(make_kresd, port):
    """trust_anchors.add_file() of a file that is not there: no start, and one
    line naming the config line, the function and the file."""
    k = make_kresd(LISTEN.format(port=port) + "trust_anchors.add_file('no-such-root.key')\n",
                   instance='tamissing', config_name='ta.lua')
    line = _config_error(k)
    assert 'ta.lua:2: trust_anchors.add_file: ' in line, line
    assert 'no-such-root.key' in line, line
    assert k.notify.wait_for('READY=1', 0) is None


def test_trust_anchors_malformed_file_names_file_and_line(make_kresd, port):
    k = make_kresd(LISTEN.format(port=port) + "\ntrust_anchors.add_file('bad.key', true)\n",
                   instance='tabad', config_name='ta.lua',
                   extra_configs={'bad.key': ROOT_DS_20326 + '\n; comment\n. IN DS nonsense\n' +
                                  ROOT_DS_20326 + '\n'})
    line = _config_error(k)
    assert 'ta.lua:3: trust_anchors.add_file: ' in line, line
    assert 'bad.key:3:' in line, line


def test_trust_anchors_valid_configs_load(make_kresd, port):
    """The usual lines load: an empty NTA list and Debian's key file (as
    Debian's kresd 5.6 loads it), and the state is visible at run time."""
    key = Path('/usr/share/dns/root.key')
    if not key.exists():
        pytest.skip('no /usr/share/dns/root.key (Debian package dns-root-data)')
    config = (LISTEN.format(port=port) +
              "trust_anchors.set_insecure({})\n"
              f"trust_anchors.add_file('{key}')\n"
              "trust_anchors.set_insecure({'bad.example'})\n"
              "mode('strict')\n")
    k = make_kresd(config, instance='taok').start()
    summary = k.lua('trust_anchors.summary()')
    assert 'KeyTag:20326' in summary and 'bad.example. is negative trust anchor' in summary, summary
    assert "'bad.example.'" in k.lua('trust_anchors.insecure')
    assert k.lua('trust_anchors.keyfile_default') == "'/usr/share/dns/root.key'"
    assert k.lua('mode()') == "'strict'"
    assert k.lua("trust_anchors.remove('.')") == 'true'
    assert k.lua("trust_anchors.remove('.')") == 'false'
    assert 'No valid trust anchors' in k.lua('trust_anchors.summary()')
    assert udp(make_query('localhost.', 'A'), port).rcode() == dns.rcode.NOERROR
    k.stop()
