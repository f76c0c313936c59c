"""The DoT/DoH benchmark (tests/bench/tls_compare.py) still runs: its
--smoke mode, next to Debian's Knot Resolver 5, must exit 0 and both
resolvers must have answered queries in every row.  No speed is asserted:
CI machines are too noisy for that, and the numbers are for people.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

SCRIPT = REPO / 'tests' / 'bench' / 'tls_compare.py'
KNOT_RESOLVER = '/usr/sbin/kresd'

MISSING = [name for name in ('dnsperf', 'kdig', 'openssl', 'taskset', 'cc')
           if shutil.which(name) is None]
if not (os.path.isfile(KNOT_RESOLVER) and os.access(KNOT_RESOLVER, os.X_OK)):
    MISSING.insert(0, f'knot-resolver ({KNOT_RESOLVER})')


@pytest.mark.skipif(bool(MISSING), reason='needs ' + ', '.join(MISSING) + ' (not installed)')
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason='needs 2 CPUs (resolver and load pinned apart)')
def test_tls_bench_smoke(kresd_bin):
    out = subprocess.run([sys.executable, str(SCRIPT), '--kresd', kresd_bin, '--smoke', '--json'],
                         capture_output=True, text=True, timeout=80, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, f'exit {out.returncode}\n{out.stderr[-4000:]}'
    result = json.loads(out.stdout)
    rows = result['rows']
    assert [r['row'] for r in rows] == ['dot-reuse-c1', 'dot-reuse-c8', 'doh-get-reuse',
                                        'doh-post-reuse', 'dot-new-full', 'dot-new-resume',
                                        'doh-new-full', 'doh-new-resume'], out.stderr
    for row in rows:
        for kind in ('ours', 'knot-resolver'):
            runs = row[kind]['runs']
            assert runs and all(r['answered'] > 0 for r in runs), \
                f"{row['row']}: {kind} answered nothing\n{out.stderr[-4000:]}"
