"""RFC 5011 automated trust anchor updates (Knot Resolver 5's ta_update),
on the wire: a root KSK rollover in a signed lab of our own
(tests/lab/signed.py; not the session's, whose root must not change).

kresd gets the lab's root KSK in a writable key file loaded with
``trust_anchors.add_file(path)`` (managed, as in Knot Resolver), and
accelerated timers (``trust_anchors.hold_down_time = 3 * sec``,
``trust_anchors.refresh_time = 1 * sec``).  The root is then signed

    1. with the old KSK only (TTL 1, so refreshes are not answered from the cache),
    2. with the old and a new KSK: the new key is AddPend in the file
       (commented out), then Valid after the hold-down,
    3. with the old KSK revoked (self-signed) and the new one: the old key
       is Revoked (commented out) and only the new one is trusted,

and www.good.sec. must stay secure throughout.  Two instances share the
rundir and the key file (as kresd@1 and kresd@2 would); at the end both
trust the same keys.  The file is Knot
Resolver's format: ``[; ]OWNER TTL DNSKEY RDATA ; STATE:TIMER ; KeyTag:N``.
"""

import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

import dns.dnssec
import dns.flags
import dns.message
import dns.query
import dns.rcode

from conftest import Kresd, free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import lab as labpkg  # noqa: E402  (tests/lab)
from lab import signed as signedlib  # noqa: E402

HOLD_DOWN_S = 3
STEP_TIMEOUT = 15.0
LINE = re.compile(r'^(?P<commented>; )?\S+\s+\d+\s+DNSKEY\s+.*?;\s*(?P<state>[A-Za-z]+):'
                  r'(?P<timer>\d*)\s*;\s*KeyTag:(?P<tag>\d+)\s*$')


@pytest.fixture(scope='module')
def roll_lab():
    try:
        lab = signedlib.SignedLab().start()
    except labpkg.LabUnavailable as e:
        pytest.skip(f'signed lab unavailable: {e}')
    try:
        yield lab
    finally:
        lab.stop()


def key_states(path):
    """{key tag: (state, commented)} from the key file."""
    out = {}
    for line in Path(path).read_text().splitlines():
        m = LINE.match(line)
        if m:
            out[int(m.group('tag'))] = (m.group('state'), bool(m.group('commented')))
    return out


def wait_for(kresd, path, want, what):
    """Until key_states(path) has every (tag: state) of `want`."""
    deadline = time.monotonic() + STEP_TIMEOUT
    states = {}
    while time.monotonic() < deadline:
        try:
            states = key_states(path)
        except FileNotFoundError:
            states = {}
        if all(states.get(tag, (None,))[0] == st for tag, st in want.items()):
            return states
        time.sleep(0.2)
    raise AssertionError(f'{what}: wanted {want}, the file says {states}:\n'
                         f'{Path(path).read_text()}\nstderr:\n{kresd.stderr()[-4000:]}')


def assert_secure(port, what):
    q = dns.message.make_query('www.good.sec.', 'A', use_edns=0, payload=1232,
                               want_dnssec=True)
    r = dns.query.udp(q, '127.0.0.1', port=port, timeout=10)
    assert dns.rcode.to_text(r.rcode()) == 'NOERROR', f'{what}:\n{r}'
    assert r.flags & dns.flags.AD, f'{what}: not secure:\n{r}'


def test_root_ksk_rollover_updates_the_key_file(kresd_bin, roll_lab):
    lab = roll_lab
    old = lab.root_ksk
    old_tag = dns.dnssec.key_id(lab.root_dnskey(old))
    lab.resign_root([old], ttl=1)           # same key, short TTLs

    tmp = Path(tempfile.mkdtemp(prefix='k5011-', dir='/tmp'))
    try:
        rundir = tmp / 'r'
        rundir.mkdir()
        keyfile = rundir / 'root.keys'
        lab.root_keys_file(keyfile)
        port = free_port()
        cfg = '\n'.join([
            f"net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})",
            "trust_anchors.remove('.')",
            f"trust_anchors.hold_down_time = {HOLD_DOWN_S} * sec",
            "trust_anchors.refresh_time = 1 * sec",
            f"trust_anchors.add_file('{keyfile}')",
            lab.hints_root_lua(),
            "option('ALLOW_LOCAL', true)",
            "cache.min_ttl(0)",
            'cache.size = 10 * MB',
        ]) + '\n'
        k = Kresd(kresd_bin, rundir, cfg, instance='1')
        k2 = Kresd(kresd_bin, rundir, cfg, instance='2')
        k.start()
        k2.start()
        try:
            t0 = time.monotonic()
            assert_secure(port, 'before the rollover')
            # The first refresh rewrites the plain file in Knot Resolver's form.
            states = wait_for(k, keyfile, {old_tag: 'Valid'}, 'the old key, Valid')
            assert states[old_tag] == ('Valid', False)

            new = lab.add_root_ksk()
            new_tag = dns.dnssec.key_id(lab.root_dnskey(new))
            lab.resign_root([old, new], ttl=1)
            added = time.monotonic()
            states = wait_for(k, keyfile, {new_tag: 'AddPend'}, 'the new key, pending')
            assert states[new_tag] == ('AddPend', True), 'pending keys are commented out'
            assert states[old_tag] == ('Valid', False)
            assert_secure(port, 'new key published')

            states = wait_for(k, keyfile, {new_tag: 'Valid'}, 'the new key, valid')
            assert time.monotonic() - added >= HOLD_DOWN_S - 1, 'trusted before the hold-down'
            assert states[new_tag] == ('Valid', False)
            assert_secure(port, 'new key valid')

            revoked = lab.revoke_root_ksk(old)
            lab.resign_root([revoked, new], ttl=1)
            states = wait_for(k, keyfile, {old_tag: 'Revoked', new_tag: 'Valid'},
                              'the old key, revoked')
            assert states[old_tag] == ('Revoked', True)
            assert_secure(port, 'old key revoked')
            for inst in (k, k2):
                summary = inst.lua("trust_anchors.summary('.')")
                assert f'KeyTag:{new_tag}' in summary, summary
                assert f'KeyTag:{old_tag}' not in summary, summary

            # Signed by the new key alone, still secure.
            lab.resign_root([new], ttl=1)
            time.sleep(1.5)
            assert_secure(port, 'old key gone')
            assert time.monotonic() - t0 < 60
            k.stop()
            k2.stop()
        finally:
            k.kill()
            k2.kill()
    finally:
        lab.resign_root([lab.root_ksk])
        shutil.rmtree(tmp, ignore_errors=True)
