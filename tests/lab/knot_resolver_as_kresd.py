#!/usr/bin/python3
"""Run Knot Resolver 5 with the command line the integration tests give our
kresd, to check the tests themselves against the reference:

    KRESD_BIN=$PWD/tests/lab/knot_resolver_as_kresd.py \
        /usr/bin/python3 -m pytest -q tests/integration/test_resolution.py

(an absolute path: kresd is started in its rundir; all of
test_resolution.py passes that way).  It drops --instance NAME,
prepends to the config what Knot Resolver needs and our kresd does not
(modules.load('hints > iterate'); a control socket at
<rundir>/control/NAME, where the tests look for it), and execs
/usr/sbin/kresd in this same process (the PID stays the one the tests
started).  Only for test_resolution.py-style configs; not for other tests.
"""

import os
import sys


def main(argv):
    out = [os.environ.get('KNOT_RESOLVER_BIN', '/usr/sbin/kresd')]
    instance = conf = None
    i = 0
    while i < len(argv):
        if argv[i] == '--instance':
            instance = argv[i + 1]
            i += 2
        elif argv[i] == '-c':
            conf = argv[i + 1]
            i += 2
        else:
            out.append(argv[i])
            i += 1
    rundir = out[-1]
    name = instance or str(os.getpid())
    pre = "modules.load('hints > iterate')\n"
    if instance:
        pre += f"net.listen('{rundir}/control/{name}', nil, {{ kind = 'control' }})\n"
    os.makedirs(os.path.join(rundir, 'control'), exist_ok=True)
    with open(conf if os.path.isabs(conf) else os.path.join(rundir, conf)) as f:
        text = f.read()
    newconf = os.path.join(rundir, f'.knot-resolver-{name}-{os.getpid()}.lua')
    with open(newconf, 'w') as f:
        f.write(pre + text)
    os.execv(out[0], out[:-1] + ['-c', newconf, rundir])


if __name__ == '__main__':
    main(sys.argv[1:])
