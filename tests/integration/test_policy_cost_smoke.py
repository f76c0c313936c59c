"""The policy cost benchmark (tests/bench/policy_cost.py) still runs: one
short round with tiny settings (200 names, 2,000 triggers, one load run),
our kresd and Debian's Knot Resolver 5.6 each plain and with 20 views and
the zone. Behaviour only: the script exits 0 (its warm-up has checked
that every participant answers the names NOERROR and that the zone's
probe trigger is NXDOMAIN exactly where the policy is loaded) and it
reports every participant, every ratio and both load times. No speed is
asserted: the numbers of a CI machine mean nothing.

The files it generates are checked without the lab: the zone's size and
forms, that no trigger covers a query name of the benchmark, and the
config's 20 view rules with only the last one for 127.0.0.1.

Skipped where the lab cannot run (not root, knotd, dnsperf or taskset
missing) or Knot Resolver is not installed."""

import ipaddress
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCRIPT = REPO / 'tests' / 'bench' / 'policy_cost.py'
PYTHON = sys.executable or '/usr/bin/python3'
SMOKE_TIMEOUT = 180     # about 10 s with a release build


@pytest.fixture(scope='module')
def bench():
    sys.path.insert(0, str(SCRIPT.parent))
    sys.path.insert(0, str(REPO / 'tests'))
    import policy_cost
    return policy_cost


def test_generated_zone_and_config(bench, tmp_path):
    path = bench.generate_rpz(tmp_path / 'z.rpz', 1000)
    lines = path.read_text().splitlines()
    assert len(lines) == 1003                       # $TTL, SOA, NS + the triggers
    owners = [ln.split()[0] for ln in lines[3:]]
    assert all(ln.endswith(' CNAME .') for ln in lines[3:])
    assert len(set(owners)) == len(owners)
    assert 90 <= sum(o.startswith('*.') for o in owners) <= 110
    assert {o.count('.') + 1 for o in owners if not o.startswith('*.')} >= {2, 3, 4}
    # nothing covers the bulk names n0.bulk.sim. ... but the probe name
    assert [o for o in owners if o.endswith('sim')] == [bench.TRIGGER_PROBE.rstrip('.')]
    assert not any(o in ('bulk.sim', '*.sim', '*.bulk.sim') for o in owners)

    conf = bench.policy_config(path)
    views = re.findall(r"view:addr\('([^']+)'", conf)
    assert len(views) == 20
    loopback = ipaddress.ip_address('127.0.0.1')
    holds = [loopback in ipaddress.ip_network(v, strict=False) for v in views]
    assert holds == [False] * 19 + [True]
    assert "modules.load('view')" in conf
    assert f"policy.rpz(policy.DENY, '{path}', false)" in conf


def test_smoke_run_reports_everything(kresd_bin, bench):
    if os.geteuid() != 0:
        pytest.skip('lab unavailable: needs root (the lab serves port 53)')
    for tool in ('dnsperf', 'taskset'):
        if not shutil.which(tool):
            pytest.skip(f'{tool} not installed')
    import lab as lab_pkg
    from lab import resolvers
    try:
        lab_pkg.check_available()
    except lab_pkg.LabUnavailable as e:
        pytest.skip(f'lab unavailable: {e}')
    kr = resolvers.KNOT_RESOLVER_BIN
    if not (os.path.isfile(kr) and os.access(kr, os.X_OK)):
        pytest.skip(f'Knot Resolver not installed ({kr})')
    p = subprocess.run([PYTHON, str(SCRIPT), '--rounds', '1', '--seconds', '0.5',
                        '--names', '200', '--triggers', '2000', '--load-runs', '1',
                        '--kresd', kresd_bin],
                       capture_output=True, text=True, timeout=SMOKE_TIMEOUT,
                       stdin=subprocess.DEVNULL)
    if p.returncode == 77:
        pytest.skip(f'lab unavailable: {p.stderr.strip()[-300:]}')
    assert p.returncode == 0, f'policy_cost.py failed ({p.returncode}):\n{p.stderr[-4000:]}'
    out = p.stdout.splitlines()
    assert out[0].startswith('policy_cost.py: 2003 RPZ lines (2000 triggers), '
                             '20 view:addr rules'), p.stdout
    rows = {ln.split()[0]: ln.split()[1:] for ln in out[1:]}
    for name in ('ours', 'ours+policy', 'kr', 'kr+policy'):
        assert name in rows, p.stdout
    for ratio in ('ours+policy/ours', 'kr+policy/kr', 'ours/kr', 'ours+policy/kr+policy'):
        values = rows[ratio]
        assert len(values) == 5 and all(float(v) > 0 for v in values), p.stdout
    load = [ln.split() for ln in out if ln.split()[:1] in (['ours'], ['kr'])
            and len(ln.split()) == 6]
    assert [r[0] for r in load] == ['ours', 'kr'], p.stdout
    for r in load:
        assert all(float(v) > 0 for v in r[1:]), p.stdout
