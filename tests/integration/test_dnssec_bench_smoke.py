"""The DNSSEC benchmark still runs: tests/bench/dnssec_bench.py --smoke
--json (the signed lab with 200 names in bulk.sec., one round of 0.5 s of
cache hits with and without DO, one cold pass of each kind; our kresd,
Knot Resolver 5 and Unbound when installed, and the floor).

Behaviour only: the script exits 0 (so every resolver validated: AD on
every hit name asked with DO, SERVFAIL for a bogus name), every
participant has a CPU figure, and the report has the ratios and the cold
passes.  No speed is asserted.

Skipped when the signed lab cannot run here (not root, knotd or the ldns
tools missing) or dnsperf is missing.  The binary under test is
$KRESD_BIN."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BENCH = REPO / 'tests' / 'bench' / 'dnssec_bench.py'
PYTHON = sys.executable or '/usr/bin/python3'
SMOKE_TIMEOUT = 80          # about 15 s with a release build


def _installed(path):
    return bool(shutil.which(path)) or (os.path.isfile(path) and os.access(path, os.X_OK))


def test_dnssec_bench_smoke(kresd_bin):
    if os.geteuid() != 0:
        pytest.skip('lab unavailable: needs root (the lab serves port 53)')
    for tool in ('dnsperf', 'taskset', 'cc'):
        if not shutil.which(tool):
            pytest.skip(f'{tool} not installed')
    sys.path.insert(0, str(REPO / 'tests'))
    from lab import LabUnavailable, resolvers
    from lab.signed import check_signed_available
    try:
        check_signed_available()
    except LabUnavailable as e:
        pytest.skip(f'signed lab unavailable: {e}')
    kinds = ['ours'] + [k for k, b in (('knot-resolver', resolvers.KNOT_RESOLVER_BIN),
                                       ('unbound', resolvers.UNBOUND_BIN)) if _installed(b)]
    p = subprocess.run([PYTHON, str(BENCH), '--smoke', '--json', '--kresd', kresd_bin,
                        '--resolvers', ','.join(kinds)],
                       capture_output=True, text=True, timeout=SMOKE_TIMEOUT,
                       stdin=subprocess.DEVNULL)
    if p.returncode == 77:
        pytest.skip(f'lab unavailable: {p.stderr.strip()[-300:]}')
    assert p.returncode == 0, f'dnssec_bench.py --smoke failed ({p.returncode}):\n{p.stderr[-4000:]}'
    out = json.loads(p.stdout)
    per_q = out['hits']['per_query_us']
    want = {'floor', 'ours/do', 'ours/edns', 'ours/plain'}
    want |= {f'{k}/{v}' for k in kinds[1:] for v in ('do', 'edns')}
    assert set(per_q) == want, per_q.keys()
    assert all(len(v) == 1 and v[0] > 0 for v in per_q.values()), per_q
    assert 'ours/do / ours/edns' in out['summary']['hits']['ratios']
    for ck in ('positive', 'nxdomain'):
        for kind in kinds:
            runs = out['cold'][ck][kind]
            assert len(runs) == 1 and runs[0]['completed'] > 0, (ck, kind, runs)
