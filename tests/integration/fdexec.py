#!/usr/bin/python3
"""Exec a program with sockets passed by the sd_listen_fds(3) protocol.

    fdexec.py [--pid-offset N] [--count N] [--names A:B] --fd SRC:NAME ... -- PROGRAM ARGS...

Each SRC (an fd number this helper inherited) becomes fd 3, 4, 5, ... in the
given order; LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID are set and the
program is exec'd in this very process, so LISTEN_PID (our PID) is the
program's PID.  --pid-offset adds N to LISTEN_PID (a "wrong" PID, as when
the variables leaked from a parent), --count and --names override the
computed LISTEN_FDS/LISTEN_FDNAMES values (to test bad input).

Used by the integration tests instead of a preexec_fn: all the fd shuffling
happens in an ordinary process, before exec, with no fork-safety caveats.
"""

import argparse
import fcntl
import os
import sys


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--fd', action='append', default=[], metavar='SRC:NAME')
    parser.add_argument('--pid-offset', type=int, default=0)
    parser.add_argument('--count')
    parser.add_argument('--names')
    parser.add_argument('command', nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command
    if command and command[0] == '--':
        command = command[1:]
    if not command:
        parser.error('no program given')

    sources, names = [], []
    for spec in args.fd:
        src, _, name = spec.partition(':')
        sources.append(int(src))
        names.append(name)

    # Move every source out of the way first, so that dup2() to 3, 4, ...
    # never overwrites a source that has not been placed yet.
    parked = [fcntl.fcntl(src, fcntl.F_DUPFD_CLOEXEC, 200) for src in sources]
    for src in sources:
        os.close(src)
    for i, fd in enumerate(parked):
        os.dup2(fd, 3 + i, inheritable=True)  # no FD_CLOEXEC, as systemd passes them
        os.close(fd)

    env = dict(os.environ)
    env['LISTEN_FDS'] = args.count if args.count is not None else str(len(sources))
    env['LISTEN_FDNAMES'] = args.names if args.names is not None else ':'.join(names)
    env['LISTEN_PID'] = str(os.getpid() + args.pid_offset)
    os.execve(command[0], command, env)


if __name__ == '__main__':
    main(sys.argv[1:])
