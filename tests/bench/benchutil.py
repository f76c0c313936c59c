"""Small helpers the benchmarks in tests/bench share (not a benchmark)."""

import shutil
import socket
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port(host='127.0.0.1'):
    """A port on host that is free for both UDP and TCP right now."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
                 socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                u.bind((host, port))
                t.bind((host, port))
            return port
        except OSError:
            continue
    raise RuntimeError('no free port on ' + host)


def bound_pair(host='127.0.0.1', prepare_udp=None):
    """(udp, tcp, port): a UDP and a TCP socket bound to the same free port
    on host and kept bound (no window for another process to take the
    port). A port free for UDP may be taken for TCP, e.g. by a connection
    of an earlier test in TIME_WAIT: then another port is tried.
    prepare_udp(sock) runs on each UDP socket before it is bound."""
    for _ in range(100):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if prepare_udp is not None:
                prepare_udp(udp)
            udp.bind((host, 0))
            port = udp.getsockname()[1]
            tcp.bind((host, port))
            return udp, tcp, port
        except OSError:
            udp.close()
            tcp.close()
    raise RuntimeError('no port free for both UDP and TCP on ' + host)


def git_describe():
    """The short commit of the source tree, '+dirty-src' when src/ has
    uncommitted changes; None outside a git checkout."""
    try:
        out = subprocess.run(['git', '-C', str(REPO), 'rev-parse', '--short', 'HEAD'],
                             capture_output=True, text=True, timeout=5)
        rev = out.stdout.strip()
        dirty = subprocess.run(['git', '-C', str(REPO), 'status', '--porcelain', '--', 'src'],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return rev + ('+dirty-src' if dirty else '') if rev else None
    except (OSError, subprocess.SubprocessError):
        return None


PACKAGES = {'dnsperf': 'Debian package dnsperf', 'taskset': 'util-linux'}


def preflight(say, tools):
    """Checks that `tools` are on the PATH and that the lab of tests/lab
    can run here. None when all is well, else the exit status (1: a tool
    is missing, 77: no lab here) after saying why with say()."""
    import lab as lablib  # tests/ is on sys.path in every benchmark
    for tool in tools:
        if not shutil.which(tool):
            hint = PACKAGES.get(tool)
            say(f'{tool} not found' + (f' ({hint})' if hint else ''))
            return 1
    try:
        lablib.check_available()
    except lablib.LabUnavailable as e:
        say(f'the lab cannot run here: {e}')
        return 77
    return None


def start_lab(lab, say):
    """Starts the lab (tests/lab); False after saying why when it did not
    start (the caller exits 1)."""
    import lab as lablib
    try:
        lab.start()
    except (lablib.LabError, lablib.LabUnavailable) as e:
        say(f'the lab did not start: {e}')
        return False
    return True
