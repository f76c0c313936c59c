"""Process lifecycle: readiness notification, signals, command line,
instance names and config errors."""

import os
import select
import signal
import socket
import time

import pytest

import dns.rcode

from conftest import (STOP_TIMEOUT, frame, free_port, make_query, run_kresd, tcp,
                      tcp_read_message, udp, udp_raw)

LISTEN = "net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})\n"


# ---------------------------------------------------------------- readiness

@pytest.mark.parametrize('notify', ['path', 'abstract'])
def test_ready_on_notify_socket(make_kresd, port, notify):
    k = make_kresd(LISTEN.format(port=port), instance='rdy', notify=notify)
    k.start(wait_ready=False)
    msg = k.wait_ready()
    # Ready means bound: the very first query after READY=1 is answered.
    assert udp(make_query(), port).rcode() == dns.rcode.NOERROR
    assert tcp(make_query(), port).rcode() == dns.rcode.NOERROR
    assert 'READY=1' in msg.splitlines()
    # READY=1 is sent once
    assert sum('READY=1' in m.splitlines() for m in k.notify.messages) == 1
    k.stop()
    assert k.notify.wait_for('STOPPING=1', 2.0) is not None, k.notify.messages


def test_ready_after_whole_config(make_kresd, port):
    """READY=1 only once every file has run and every socket is bound: the
    second config file's listener already answers."""
    port2 = free_port()
    k = make_kresd(None, instance='rdy2',
                   extra_configs={'a.lua': LISTEN.format(port=port),
                                  'b.lua': LISTEN.format(port=port2)},
                   args=['-c', 'a.lua', '-c', 'b.lua'])
    k.start()
    assert udp(make_query(), port2, timeout=1.0).rcode() == dns.rcode.NOERROR
    assert tcp(make_query(), port2, timeout=1.0).rcode() == dns.rcode.NOERROR
    k.stop()


def test_notify_fd_pipe_gets_a_line(make_kresd, port):
    r, w = os.pipe()
    try:
        k = make_kresd(LISTEN.format(port=port), instance='nfd', notify=None,
                       args=['--notify-fd', str(w)], pass_fds=[w])
        k.start(wait_ready=False)
        os.close(w)
        w = None
        ready, _, _ = select.select([r], [], [], 10)
        assert ready, f'no line on the notify fd within 10s\n{k.stderr()}'
        line = os.read(r, 4096)
        assert line.endswith(b'\n') and line.strip(), line
        # the daemon is listening by then
        assert udp(make_query(), port).rcode() == dns.rcode.NOERROR
        # and it closed its end: EOF follows
        ready, _, _ = select.select([r], [], [], 5)
        assert ready and os.read(r, 4096) == b''
        k.stop()
    finally:
        os.close(r)
        if w is not None:
            os.close(w)


def test_watchdog_pings(make_kresd, port):
    k = make_kresd(LISTEN.format(port=port), instance='wd',
                   env={'WATCHDOG_USEC': '400000'}).start()
    deadline = time.monotonic() + 2.0
    pings = 0
    while time.monotonic() < deadline and pings < 3:
        msg = k.notify.receive(deadline - time.monotonic())
        if msg and 'WATCHDOG=1' in msg.splitlines():
            pings += 1
    assert pings >= 3, k.notify.messages
    k.stop()


def test_watchdog_pid_not_ours(make_kresd, port):
    """WATCHDOG_PID names another process: we must not ping."""
    k = make_kresd(LISTEN.format(port=port), instance='wd2',
                   env={'WATCHDOG_USEC': '200000', 'WATCHDOG_PID': '1'}).start()
    assert k.notify.wait_for('WATCHDOG=1', 0.7) is None, k.notify.messages
    k.stop()


# ---------------------------------------------------------------- signals

@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_zero(make_kresd, port, sig):
    k = make_kresd(LISTEN.format(port=port), instance='sig').start()
    assert udp(make_query(), port).rcode() == dns.rcode.NOERROR
    start = time.monotonic()
    k.stop(sig, expect=0)
    assert time.monotonic() - start < STOP_TIMEOUT
    # the control socket is removed on a clean exit
    assert not (k.rundir / 'control' / 'sig').exists()


@pytest.mark.parametrize('kind', ['none', 'dns-tcp', 'control'])
def test_sigterm_with_open_connection(make_kresd, port, kind):
    """An idle client connection must not keep the daemon alive, and the
    exit stays clean (0, also under the sanitizers)."""
    k = make_kresd(LISTEN.format(port=port), instance='sigconn').start()
    held = []
    try:
        if kind == 'dns-tcp':
            s = socket.create_connection(('127.0.0.1', port), timeout=2)
            held.append(s)
            # one answered query first, so the connection is really set up
            s.sendall(frame(make_query().to_wire()))
            tcp_read_message(s)
        elif kind == 'control':
            c = k.control()
            held.append(c)
            assert c.send('worker.id') == "'sigconn'"
        k.stop(signal.SIGTERM, expect=0, timeout=5)
    finally:
        for h in held:
            h.close()


# ---------------------------------------------------------------- command line

@pytest.mark.parametrize('option', ['-V', '--version', '-h', '--help'])
def test_version_and_help_exit_zero(kresd_bin, short_tmp, option):
    p = run_kresd(kresd_bin, [option], cwd=short_tmp)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip()
    if option in ('-h', '--help'):
        assert '--instance' in p.stdout and '-c' in p.stdout
    else:
        assert 'kresd' in p.stdout
    assert not (short_tmp / 'control').exists()


@pytest.mark.parametrize('argv', [
    ['--bogus'],
    ['-Z'],
    ['-c'],                      # missing value
    ['--instance'],
    ['-a', '127.0.0.1@0'],
    ['-a', '127.0.0.1@70000'],
    ['--notify-fd', 'x'],
    ['-S', 'x'],
    ['rundir1', 'rundir2'],
])
def test_bad_command_line_exits_2(kresd_bin, short_tmp, argv):
    p = run_kresd(kresd_bin, ['-n'] + argv, cwd=short_tmp, timeout=5)
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith('kresd:'), p.stderr
    assert not (short_tmp / 'control').exists()


def test_bad_address_value_exits_2(kresd_bin, short_tmp):
    p = run_kresd(kresd_bin, ['-n', '-a', '300.1.1.1'], cwd=short_tmp, timeout=5)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert '-a' in p.stderr


def test_dash_a_listens(make_kresd, port):
    k = make_kresd(None, instance='dasha', args=['-a', f'127.0.0.1@{port}']).start()
    assert udp(make_query(), port).rcode() == dns.rcode.NOERROR
    assert tcp(make_query(), port).rcode() == dns.rcode.NOERROR
    listed = k.lua('net.list()')
    assert f"['port'] = {port}," in listed and "['port'] = 53," not in listed, listed
    k.stop()


def test_dash_a_repeatable_and_with_config(make_kresd, port):
    port2 = free_port()
    k = make_kresd("modules.load('nsid')\nnsid.name('both')\n", instance='dasha2',
                   args=['-a', f'127.0.0.1@{port}', '--addr', f'127.0.0.1@{port2}']).start()
    for p in (port, port2):
        assert udp(make_query(), p).rcode() == dns.rcode.NOERROR
    k.stop()


def test_missing_rundir(kresd_bin, short_tmp):
    p = run_kresd(kresd_bin, ['-n', '--instance', 'x', str(short_tmp / 'nope')], cwd=short_tmp)
    assert p.returncode != 0
    assert 'nope' in p.stderr


# ---------------------------------------------------------------- instance names

BAD_NAMES = {
    'slash': 'a/b',
    'dotdot': '..',
    'dot': '.',
    'long': 'a' * 65,
    'tab': 'a\tb',
    'newline': 'a\nb',
    'escape': 'x\x1b[31m',
    'empty': '',
}


@pytest.mark.parametrize('name', list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_bad_instance_name_refused(make_kresd, port, name):
    k = make_kresd(LISTEN.format(port=port), instance=name)
    k.start(wait_ready=False)
    rc = k.wait_exit(5)
    err = k.stderr()
    assert rc == 2, (rc, err)
    assert 'instance name' in err, err
    # readable: one line, no raw control characters
    text = err.strip()
    assert '\n' not in text, err
    assert not any(ord(ch) < 32 and ch != '\n' for ch in err), repr(err)
    # nothing started
    assert k.notify.wait_for('READY=1', 0) is None
    assert not (k.rundir / 'control').exists() or not any((k.rundir / 'control').iterdir())
    assert udp_raw_silent(port)


def udp_raw_silent(port):
    return udp_raw(make_query().to_wire(), port, timeout=0.2) is None


@pytest.mark.parametrize('name', ['a/b', '..', 'a' * 65])
def test_bad_instance_name_from_env_refused(make_kresd, port, name):
    k = make_kresd(LISTEN.format(port=port), env={'SYSTEMD_INSTANCE': name})
    k.start(wait_ready=False)
    assert k.wait_exit(5) == 2
    err = k.stderr()
    assert 'instance name' in err and 'SYSTEMD_INSTANCE' in err, err


@pytest.mark.parametrize('name', ['a' * 64, 'dns1', 'my-inst_2.x', '42'])
def test_good_instance_names(make_kresd, port, name):
    k = make_kresd(LISTEN.format(port=port), instance=name).start()
    assert k.lua('worker.id') == repr(name)
    k.stop()


# ---------------------------------------------------------------- broken configs

BROKEN = {
    'syntax': ("net.listen('127.0.0.1', {port})\nlocal x = = 1\n", 2, None),
    'unclosed': ("net.listen('127.0.0.1', {port})\nif true then\n", 3, None),
    'runtime': ("net.listen('127.0.0.1', {port})\n\nerror('boom here')\n", 3, 'boom here'),
    'nil-index': ("local t = nil\nnet.listen('127.0.0.1', {port})\nprint(t.x)\n", 3, None),
    'unknown-module': ("net.listen('127.0.0.1', {port})\nmodules.load('no_such_module')\n", 2,
                       'no_such_module'),
    'bad-address': ("modules.load('nsid')\nnet.listen('300.1.2.3', {port})\n", 2, '300.1.2.3'),
    'bad-port': ("net.listen('127.0.0.1', 99999)\n", 1, '99999'),
    'bad-kind': ("net.listen('127.0.0.1', {port}, {{ kind = 'gopher' }})\n", 1, 'gopher'),
    'panic': ("net.listen('127.0.0.1', {port})\npanic('stop %s', 'now')\n", 2, 'stop now'),
    'non-loopback-unbindable': ("net.listen('192.0.2.1', {port})\n", 1, '192.0.2.1'),
}


@pytest.mark.parametrize('key', list(BROKEN))
def test_broken_config_exits_with_file_and_line(make_kresd, port, key):
    text, line, needle = BROKEN[key]
    k = make_kresd(text.format(port=port), instance='broken', config_name='broken.lua')
    k.start(wait_ready=False)
    rc = k.wait_exit(5)
    err = k.stderr()
    assert rc != 0, err
    assert f'broken.lua:{line}' in err, err
    if needle:
        assert needle in err, err
    assert k.notify.wait_for('READY=1', 0) is None
    # nothing is served after a config error, not even what an earlier line bound
    assert udp_raw_silent(port)


def test_port_in_use_is_a_config_error(make_kresd, port):
    """A non-SO_REUSEPORT socket already holds the port."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(('127.0.0.1', port))
    try:
        k = make_kresd("modules.load('nsid')\nnet.listen('127.0.0.1', %d)\n" % port,
                       instance='inuse', config_name='inuse.lua')
        k.start(wait_ready=False)
        assert k.wait_exit(5) != 0
        err = k.stderr()
        assert 'inuse.lua:2' in err, err
    finally:
        holder.close()


def test_error_in_second_config_file_names_it(make_kresd, port):
    k = make_kresd(None, instance='second',
                   extra_configs={'first.lua': LISTEN.format(port=port),
                                  'second.lua': "\n\nerror('in the second')\n"},
                   args=['-c', 'first.lua', '-c', 'second.lua'])
    k.start(wait_ready=False)
    assert k.wait_exit(5) != 0
    err = k.stderr()
    assert 'second.lua:3' in err and 'in the second' in err, err


def test_missing_config_file(make_kresd):
    k = make_kresd(None, instance='missing', args=['-c', 'does-not-exist.lua'])
    k.start(wait_ready=False)
    assert k.wait_exit(5) != 0
    assert 'does-not-exist.lua' in k.stderr()


def test_config_error_message_format(make_kresd, port):
    """The documented one-line form: kresd: config error: FILE:LINE: msg"""
    k = make_kresd("\nerror('x marks')\n", instance='fmt', config_name='fmt.lua')
    k.start(wait_ready=False)
    assert k.wait_exit(5) == 1
    assert 'kresd: config error: fmt.lua:2: x marks' in k.stderr(), k.stderr()
