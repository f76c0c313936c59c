"""The service-manager files: systemd units, OpenRC, FreeBSD and OpenBSD rc.d
scripts, launchd property lists, and their CMake install rules.

Nothing here boots a service manager or needs the kresd binary. The files
are configured and installed by cmake/ServiceFiles.cmake into a temporary
prefix, exactly as a package build would (prefix /usr), and then:

* the systemd units go through ``systemd-analyze verify`` (any line of
  output fails the test: it exits 0 on warnings) and ``systemd-analyze
  security --offline=yes``; the sysusers.d/tmpfiles.d snippets are applied
  to a scratch root;
* the shell scripts pass shellcheck and run under a stub of openrc-run,
  FreeBSD's rc.subr or OpenBSD's rc.subr, far enough to show the instance
  name and the kresd command line they produce;
* the launchd template and generator output parse with plistlib.

Tools that are missing (systemd-analyze, shellcheck, extra shells, groff,
docutils) skip only the tests that need them.
"""

import os
import plistlib
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# What a package build (CMAKE_INSTALL_PREFIX=/usr) writes into the files.
SBIN = '/usr/sbin/kresd'
CONFIG = '/etc/knot-resolver/kresd.conf'
UNIT_DIR = 'lib/systemd/system'
OPENBSD_DIR = 'openbsd/rc.d'   # FreeBSD's script takes etc/rc.d

INSTALLED = {
    f'{UNIT_DIR}/kresd@.service',
    f'{UNIT_DIR}/kresd.target',
    f'{UNIT_DIR}/kresd.socket',
    f'{UNIT_DIR}/kresd-tls.socket',
    f'{UNIT_DIR}/kresd-doh.socket',
    f'{UNIT_DIR}/kresd-control@.socket',
    'lib/sysusers.d/kresd.conf',
    'lib/tmpfiles.d/kresd.conf',
    'share/man/man7/kresd.systemd.7',
    'etc/init.d/kresd',
    'etc/conf.d/kresd',
    'etc/rc.d/kresd',
    f'{OPENBSD_DIR}/kresd',
    'share/kresd/launchd/org.knot-resolver.kresd.plist.template',
    'share/kresd/launchd/generate-plists',
}
EXECUTABLE = {'etc/init.d/kresd', 'etc/rc.d/kresd', f'{OPENBSD_DIR}/kresd',
              'share/kresd/launchd/generate-plists'}


def run(cmd, **kwargs):
    kwargs.setdefault('timeout', 60)
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)


def need(tool):
    path = shutil.which(tool)
    if not path:
        pytest.skip(f'{tool} is not installed')
    return path


def shells(*names):
    """The named shells that exist here, as argv prefixes; `names` may hold
    'busybox sh'."""
    found, seen = [], set()
    for name in names:
        argv = name.split()
        path = shutil.which(argv[0])
        if path and (key := os.path.realpath(path) + ' '.join(argv[1:])) not in seen:
            seen.add(key)
            found.append(pytest.param([path] + argv[1:], id=name))
    return found or [pytest.param(None, id='no-shell',
                                  marks=pytest.mark.skip(reason=f'none of {names} installed'))]


def cmake_project(base, *options):
    """Configure a throw-away project that includes ServiceFiles.cmake."""
    cmake = need('cmake')
    proj = base / 'proj'
    proj.mkdir(parents=True, exist_ok=True)
    (proj / 'CMakeLists.txt').write_text(
        'cmake_minimum_required(VERSION 3.18)\n'
        'project(service_files_test VERSION 9.8.7 LANGUAGES NONE)\n'
        f'include("{REPO}/cmake/ServiceFiles.cmake")\n')
    build = base / 'build'
    # cwd: a relative path given with -D must end up under the install
    # prefix, never under the current directory
    r = run([cmake, '-Wno-dev', '-S', proj, '-B', build, *options], cwd=base)
    assert r.returncode == 0, r.stdout + r.stderr
    return cmake, build


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    """Everything configured for prefix /usr, installed under a temp prefix."""
    base = tmp_path_factory.mktemp('service-files')
    cmake, build = cmake_project(
        base, '-DCMAKE_INSTALL_PREFIX=/usr',
        '-DKRESD_INSTALL_SYSTEMD=ON', '-DKRESD_INSTALL_OPENRC=ON',
        '-DKRESD_INSTALL_FREEBSD_RC=ON', '-DKRESD_INSTALL_OPENBSD_RC=ON',
        f'-DKRESD_OPENBSD_RCDIR={OPENBSD_DIR}', '-DKRESD_INSTALL_LAUNCHD=ON')
    prefix = base / 'inst'
    r = run([cmake, '--install', build, '--prefix', prefix], cwd=base)
    assert r.returncode == 0, r.stdout + r.stderr
    return SimpleNamespace(prefix=prefix, build=build, units=prefix / UNIT_DIR)


def parse_unit(path):
    """{section: {key: [values]}} of a systemd unit file."""
    sections, current = {}, None
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line[0] in '#;':
            continue
        if line.startswith('['):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition('=')
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


# ------------------------------------------------------------------ install

def test_install_puts_everything_under_the_prefix(built):
    found = {str(p.relative_to(built.prefix)) for p in built.prefix.rglob('*') if p.is_file()}
    assert found == INSTALLED
    for rel in EXECUTABLE:
        assert os.access(built.prefix / rel, os.X_OK), rel
    for rel in INSTALLED - EXECUTABLE:
        assert not os.access(built.prefix / rel, os.X_OK), rel


def test_no_placeholder_left(built):
    for rel in INSTALLED:
        text = (built.prefix / rel).read_text()
        assert not re.search(r'@[A-Za-z_]+@', text), rel


@pytest.mark.skipif(os.uname().sysname != 'Linux', reason='default selection checked on Linux')
def test_linux_default_installs_systemd_and_openrc_only(tmp_path):
    cmake, build = cmake_project(tmp_path)
    prefix = tmp_path / 'inst'
    r = run([cmake, '--install', build, '--component', 'service-files', '--prefix', prefix],
            cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    found = {str(p.relative_to(prefix)) for p in prefix.rglob('*') if p.is_file()}
    assert f'{UNIT_DIR}/kresd@.service' in found
    assert 'etc/init.d/kresd' in found
    assert 'etc/rc.d/kresd' not in found
    assert not any('launchd' in f for f in found)
    # the default prefix is /usr/local: paths inside the files follow it
    unit = (prefix / UNIT_DIR / 'kresd@.service').read_text()
    assert 'ExecStart=/usr/local/sbin/kresd -n -c /usr/local/etc/knot-resolver/kresd.conf' in unit


def test_freebsd_and_openbsd_scripts_cannot_overwrite_each_other(tmp_path):
    cmake = need('cmake')
    (tmp_path / 'p').mkdir()
    (tmp_path / 'p' / 'CMakeLists.txt').write_text(
        'cmake_minimum_required(VERSION 3.18)\nproject(x LANGUAGES NONE)\n'
        f'include("{REPO}/cmake/ServiceFiles.cmake")\n')
    r = run([cmake, '-Wno-dev', '-S', tmp_path / 'p', '-B', tmp_path / 'b',
             '-DKRESD_INSTALL_FREEBSD_RC=ON', '-DKRESD_INSTALL_OPENBSD_RC=ON'], cwd=tmp_path)
    assert r.returncode != 0
    assert 'KRESD_OPENBSD_RCDIR' in r.stderr


# ------------------------------------------------------------------ systemd

def test_service_unit_settings(built):
    u = parse_unit(built.units / 'kresd@.service')
    svc, unit, inst = u['Service'], u['Unit'], u['Install']
    assert svc['Type'] == ['notify']
    assert svc['Environment'] == ['SYSTEMD_INSTANCE=%i']
    assert svc['ExecStart'] == [f'{SBIN} -n -c {CONFIG} /run/knot-resolver']
    assert svc['Restart'] == ['on-abnormal']
    assert svc['WatchdogSec']
    assert svc['User'] == ['knot-resolver'] and svc['Group'] == ['knot-resolver']
    assert svc['CapabilityBoundingSet'] == ['CAP_NET_BIND_SERVICE']
    assert svc['AmbientCapabilities'] == ['CAP_NET_BIND_SERVICE']
    assert svc['RuntimeDirectory'] == ['knot-resolver']
    assert svc['RuntimeDirectoryPreserve'] == ['yes']
    assert svc['CacheDirectory'] == ['knot-resolver']
    assert 'MemoryDenyWriteExecute' not in svc   # breaks LuaJIT's JIT
    for key in ('NoNewPrivileges', 'ProtectHome', 'PrivateTmp', 'PrivateDevices',
                'ProtectKernelTunables', 'ProtectKernelModules', 'ProtectKernelLogs',
                'ProtectControlGroups', 'ProtectClock', 'ProtectHostname',
                'RestrictNamespaces', 'LockPersonality', 'RestrictRealtime',
                'RestrictSUIDSGID'):
        assert svc[key] == ['yes'], key
    assert svc['ProtectSystem'] == ['strict']
    assert svc['ProtectProc'] == ['invisible']
    assert svc['SystemCallFilter'] == ['@system-service']
    assert svc['RestrictAddressFamilies'] == ['AF_INET AF_INET6 AF_UNIX AF_NETLINK']
    assert svc['UMask'] == ['0077']
    # socket activation is optional: Sockets= (weak), never a hard dependency
    assert svc['Sockets'] == ['kresd.socket', 'kresd-tls.socket', 'kresd-control@%i.socket']
    for hard in ('Requires', 'Requisite', 'BindsTo'):
        assert not any('socket' in v for v in unit.get(hard, [])), hard
    assert inst['WantedBy'] == ['kresd.target']
    assert parse_unit(built.units / 'kresd.target')['Install']['WantedBy'] == ['multi-user.target']


@pytest.mark.parametrize('name, fdname, streams, datagrams', [
    ('kresd.socket', 'dns', ['127.0.0.1:53', '[::1]:53'], ['127.0.0.1:53', '[::1]:53']),
    ('kresd-tls.socket', 'tls', ['127.0.0.1:853', '[::1]:853'], []),
    ('kresd-doh.socket', 'doh2', ['127.0.0.1:443', '[::1]:443'], []),
])
def test_shared_socket_units(built, name, fdname, streams, datagrams):
    sock = parse_unit(built.units / name)['Socket']
    assert sock['FileDescriptorName'] == [fdname]
    assert sock.get('ListenStream', []) == streams
    assert sock.get('ListenDatagram', []) == datagrams
    # a template cannot be a socket's Service=; one concrete instance is
    assert sock['Service'] == ['kresd@1.service']


def test_control_socket_unit(built):
    u = parse_unit(built.units / 'kresd-control@.socket')
    assert u['Socket']['ListenStream'] == ['/run/knot-resolver/control/%i']
    assert u['Socket']['FileDescriptorName'] == ['control']
    assert u['Socket']['Service'] == ['kresd@%i.service']
    assert u['Unit']['PartOf'] == ['kresd@%i.service']


@pytest.fixture
def unit_dir(built, tmp_path):
    """The installed units, with ExecStart pointing at a real executable so
    that verify checks everything else."""
    true = shutil.which('true') or '/bin/true'
    d = tmp_path / 'units'
    d.mkdir()
    for f in built.units.iterdir():
        (d / f.name).write_text(f.read_text().replace(SBIN, true))
    return d


def verify(built, unit_dir, *units):
    """Run systemd-analyze verify; returns (exit code, all output)."""
    analyze = need('systemd-analyze')
    env = dict(os.environ)
    man = 'no'
    if shutil.which('man'):
        # Documentation=man:kresd.systemd(7) must resolve to our page.
        man = 'yes'
        env['MANPATH'] = str(built.prefix / 'share/man')
    r = run([analyze, 'verify', f'--man={man}', *[unit_dir / u for u in units]],
            env=env, cwd=unit_dir)
    return r.returncode, (r.stdout + r.stderr).strip()


@pytest.mark.parametrize('unit', [
    'kresd@1.service', 'kresd@dns-2.service', 'kresd.target', 'kresd.socket',
    'kresd-tls.socket', 'kresd-doh.socket', 'kresd-control@1.socket'])
def test_systemd_analyze_verify(built, unit_dir, unit):
    rc, out = verify(built, unit_dir, unit)
    assert rc == 0 and out == '', out


def test_service_starts_with_socket_units_masked(built, unit_dir):
    for name in ('kresd.socket', 'kresd-tls.socket', 'kresd-control@.socket'):
        (unit_dir / name).unlink()
        (unit_dir / name).symlink_to('/dev/null')
    rc, out = verify(built, unit_dir, 'kresd@1.service')
    assert rc == 0 and out == '', out
    # The check is real: a hard dependency on a masked socket is reported.
    svc = unit_dir / 'kresd@.service'
    svc.write_text(svc.read_text().replace('[Unit]\n', '[Unit]\nRequires=kresd.socket\n', 1))
    rc, out = verify(built, unit_dir, 'kresd@1.service')
    assert 'masked' in out


def test_doh_socket_drop_in(built, unit_dir):
    dropin = unit_dir / 'kresd@.service.d'
    dropin.mkdir()
    (dropin / 'doh.conf').write_text('[Service]\nSockets=kresd-doh.socket\n')
    rc, out = verify(built, unit_dir, 'kresd@1.service')
    assert rc == 0 and out == '', out


def test_security_exposure(built, unit_dir):
    analyze = need('systemd-analyze')
    r = run([analyze, 'security', '--offline=yes', '--no-pager', unit_dir / 'kresd@1.service'])
    if r.returncode != 0 and 'offline' in r.stderr:
        pytest.skip('this systemd-analyze has no --offline')
    m = re.search(r'Overall exposure level for kresd@1\.service: ([0-9.]+)', r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout


def test_sysusers_and_tmpfiles(built, tmp_path):
    sysusers = need('systemd-sysusers')
    tmpfiles = need('systemd-tmpfiles')
    root = tmp_path / 'root'
    (root / 'etc').mkdir(parents=True)
    r = run([sysusers, f'--root={root}', built.prefix / 'lib/sysusers.d/kresd.conf'])
    assert r.returncode == 0, r.stderr
    passwd = {line.split(':')[0]: line.split(':') for line in
              (root / 'etc/passwd').read_text().splitlines()}
    user = passwd['knot-resolver']
    assert user[5] == '/var/cache/knot-resolver'
    assert 'knot-resolver:' in (root / 'etc/group').read_text()
    if os.geteuid() != 0:
        pytest.skip('applying tmpfiles.d (chown) needs root')
    r = run([tmpfiles, f'--root={root}', '--create', built.prefix / 'lib/tmpfiles.d/kresd.conf'])
    assert r.returncode == 0, r.stderr
    for d in ('run/knot-resolver', 'run/knot-resolver/control', 'var/cache/knot-resolver'):
        st = (root / d).stat()
        assert st.st_uid == int(user[2]) and (st.st_mode & 0o777) == 0o750, d


def test_man_page(built):
    page = built.prefix / 'share/man/man7/kresd.systemd.7'
    text = page.read_text()
    for section in ('INSTANCES', 'ROLLING RESTART', 'SOCKET ACTIVATION', 'LOGS'):
        assert f'.SH {section}' in text
    assert CONFIG in text.replace('\\-', '-')
    groff = need('groff')
    r = run([groff, '-man', '-ww', '-z', page])
    assert r.returncode == 0 and r.stderr == '', r.stderr


# ------------------------------------------------------------------ shellcheck

@pytest.mark.parametrize('rel, dialect', [
    ('etc/init.d/kresd', 'sh'),
    ('etc/conf.d/kresd', 'sh'),
    ('etc/rc.d/kresd', 'sh'),
    (f'{OPENBSD_DIR}/kresd', 'ksh'),
    ('share/kresd/launchd/generate-plists', 'sh'),
])
def test_shellcheck(built, rel, dialect):
    shellcheck = need('shellcheck')
    r = run([shellcheck, '-s', dialect, built.prefix / rel])
    assert r.returncode == 0, r.stdout + r.stderr


# ------------------------------------------------------------------ OpenRC

# Enough of openrc-run: its output functions, checkpath, the conf.d files
# (base name first, then the full service name), the script, depend() and
# start_pre(); then the variables supervise-daemon would be started with.
OPENRC_HARNESS = r'''
ebegin() { :; }
eend() { return "${1:-0}"; }
einfo() { :; }
ewarn() { echo "ewarn: $*" >&2; }
eerror() { echo "eerror: $*" >&2; }
checkpath() { echo "checkpath $*"; }
_deps=""
need() { _deps="${_deps} need:$*"; }
use() { _deps="${_deps} use:$*"; }
after() { _deps="${_deps} after:$*"; }
before() { _deps="${_deps} before:$*"; }
provide() { _deps="${_deps} provide:$*"; }
_c="${RC_SVCNAME%%.*}"
if [ "${_c}" != "${RC_SVCNAME}" ] && [ -f "${CONFD}/${_c}" ]; then . "${CONFD}/${_c}"; fi
if [ -f "${CONFD}/${RC_SVCNAME}" ]; then . "${CONFD}/${RC_SVCNAME}"; fi
. "${SCRIPT}"
depend
start_pre
echo "start_pre=$?"
for _v in command command_user supervisor notify ready capabilities description \
		kresd_instance umask _deps; do
	eval "_val=\${${_v}-}"
	printf '%s=%s\n' "${_v}" "${_val}"
done
# supervise-daemon.sh passes command_args through eval
eval "set -- ${command_args}"
for _a in "$@"; do printf 'arg=%s\n' "${_a}"; done
'''

SUPERVISE_DAEMON_HELP = {
    'notify': 'Usage: supervise-daemon [options]\n      --notify <arg>   readiness\n',
    'ready': 'Usage: supervise-daemon [options]\n      --ready <arg>    readiness\n',
    'old': 'Usage: supervise-daemon [options]\n  -S, --start   Start daemon\n',
}


def run_openrc(built, tmp_path, shell, svcname, sd='notify', confd=None):
    """Run the OpenRC script as service `svcname`; returns (vars, args)."""
    bindir = tmp_path / 'bin'
    bindir.mkdir(exist_ok=True)
    stub = bindir / 'supervise-daemon'
    stub.write_text('#!/bin/sh\ncat <<"EOF"\n' + SUPERVISE_DAEMON_HELP[sd] + 'EOF\n')
    stub.chmod(0o755)
    confdir = tmp_path / 'conf.d'
    confdir.mkdir(exist_ok=True)
    shutil.copy(built.prefix / 'etc/conf.d/kresd', confdir / 'kresd')
    for name, text in (confd or {}).items():
        with open(confdir / name, 'a') as f:
            f.write(text)
    harness = tmp_path / 'harness.sh'
    harness.write_text(OPENRC_HARNESS)
    env = {'PATH': f'{bindir}:/usr/bin:/bin', 'RC_SVCNAME': svcname,
           'CONFD': str(confdir), 'SCRIPT': str(built.prefix / 'etc/init.d/kresd')}
    r = run([*shell, harness], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    values, args = {}, []
    for line in r.stdout.splitlines():
        key, _, value = line.partition('=')
        if key == 'arg':
            args.append(value)
        elif not line.startswith('checkpath'):
            values[key] = value
    values['stderr'] = r.stderr
    return values, args


OPENRC_SHELLS = shells('sh', 'dash', 'bash', 'busybox sh', 'mksh')


@pytest.mark.parametrize('shell', OPENRC_SHELLS)
def test_openrc_instance_from_service_name(built, tmp_path, shell):
    v, args = run_openrc(built, tmp_path, shell, 'kresd.dns1')
    assert v['start_pre'] == '0'
    assert v['kresd_instance'] == 'dns1'
    assert v['supervisor'] == 'supervise-daemon'
    assert v['command'] == SBIN
    assert v['command_user'] == 'knot-resolver:knot-resolver'
    assert v['capabilities'] == '^cap_net_bind_service'
    assert v['notify'] == 'fd:4'
    assert args == ['--notify-fd', '4', '-n', '--instance', 'dns1', '-c', CONFIG,
                    '/run/knot-resolver']
    deps = v['_deps'].split()
    assert 'need:net' in deps and 'provide:dns' in deps


@pytest.mark.parametrize('shell', OPENRC_SHELLS)
def test_openrc_readiness_follows_supervise_daemon(built, tmp_path, shell):
    v, args = run_openrc(built, tmp_path, shell, 'kresd.2', sd='old')
    assert v['notify'] == '' and v['ready'] == ''
    assert args == ['-n', '--instance', '2', '-c', CONFIG, '/run/knot-resolver']
    v, args = run_openrc(built, tmp_path, shell, 'kresd.2', sd='ready')   # OpenRC 0.60
    assert v['ready'] == 'fd:4' and args[:2] == ['--notify-fd', '4']
    v, args = run_openrc(built, tmp_path, shell, 'kresd.2',
                         confd={'kresd': 'kresd_notify=no\n'})
    assert v['notify'] == '' and '--notify-fd' not in args


@pytest.mark.parametrize('shell', OPENRC_SHELLS)
def test_openrc_shared_and_per_instance_confd(built, tmp_path, shell):
    confd = {'kresd': 'kresd_args="-v"\n',
             'kresd.tls1': 'kresd_configs="/etc/a.conf /etc/b.conf"\n'}
    _, args = run_openrc(built, tmp_path, shell, 'kresd.tls1', sd='old', confd=confd)
    assert args == ['-n', '--instance', 'tls1', '-c', '/etc/a.conf', '-c', '/etc/b.conf',
                    '-v', '/run/knot-resolver']
    _, args = run_openrc(built, tmp_path, shell, 'kresd.dns1', sd='old', confd=confd)
    assert args == ['-n', '--instance', 'dns1', '-c', CONFIG, '-v', '/run/knot-resolver']


@pytest.mark.parametrize('shell', OPENRC_SHELLS)
def test_openrc_plain_and_empty_names(built, tmp_path, shell):
    v, args = run_openrc(built, tmp_path, shell, 'kresd', sd='old')
    assert v['kresd_instance'] == 'kresd' and args[:3] == ['-n', '--instance', 'kresd']
    v, _ = run_openrc(built, tmp_path, shell, 'kresd.', sd='old')
    assert v['start_pre'] != '0' and 'cannot be an instance name' in v['stderr']


# ------------------------------------------------------------------ FreeBSD

FREEBSD_RC_SUBR = r'''
load_rc_config() { if [ -n "${STUB_RC_CONF}" ]; then . "${STUB_RC_CONF}"; fi; }
warn() { echo "warn: $*" >&2; }
err() { echo "err: $*" >&2; exit "$1"; }
run_rc_command() {
	echo "action=$1"
	for _v in command command_args pidfile kresd_enable kresd_flags kresd_user \
			kresd_program required_files start_precmd; do
		eval "_val=\${${_v}-}"
		printf '%s=%s\n' "${_v}" "${_val}"
	done
}
'''


def run_freebsd(built, tmp_path, shell, rc_conf, *argv):
    """Run the rc.d script with a stub rc.subr; returns {profile: vars}."""
    stub = tmp_path / 'rc.subr'
    stub.write_text(FREEBSD_RC_SUBR)
    script = tmp_path / 'kresd'
    text = (built.prefix / 'etc/rc.d/kresd').read_text()
    assert '. /etc/rc.subr' in text and '_kresd_rcscript="/usr/etc/rc.d/kresd"' in text
    text = text.replace('. /etc/rc.subr', f'. {stub}')
    # the script runs itself once per profile, by its installed path
    text = text.replace('_kresd_rcscript="/usr/etc/rc.d/kresd"',
                        f'_kresd_rcscript="{shell[0]} {script}"')
    text = text.replace('"${_kresd_rcscript}" "$1"', '${_kresd_rcscript} "$1"')
    script.write_text(text)
    conf = tmp_path / 'rc.conf'
    conf.write_text(rc_conf)
    r = run([*shell, script, *argv], env={'PATH': '/usr/bin:/bin', 'STUB_RC_CONF': str(conf)})
    result, current = {'rc': r.returncode, 'stderr': r.stderr}, None
    for line in r.stdout.splitlines():
        if line.startswith('===> kresd profile: '):
            current = result.setdefault(line.split(': ', 1)[1], {})
        elif '=' in line:
            if current is None:
                current = result.setdefault('', {})
            key, _, value = line.partition('=')
            current[key] = value
    return result


def daemon_args(profile, instance, extra_daemon=(), extra_kresd=()):
    tag = 'kresd' if instance == 'kresd' else f'kresd.{instance}'
    return ['-R', '1', '-P', f'/var/run/{tag}.pid', '-t', tag, '-S', '-T', tag,
            *extra_daemon, SBIN, '-n', '--instance', instance, '-c', CONFIG,
            *extra_kresd, '/var/db/knot-resolver']


FREEBSD_SHELLS = shells('sh', 'dash', 'bash')


@pytest.mark.parametrize('shell', FREEBSD_SHELLS)
def test_freebsd_profiles(built, tmp_path, shell):
    rc_conf = ('kresd_enable="YES"\nkresd_profiles="dns1 dns2 dns3"\n'
               'kresd_dns2_enable="NO"\nkresd_dns3_flags="-v"\nkresd_dns3_user="kresd"\n')
    out = run_freebsd(built, tmp_path, shell, rc_conf, 'start')
    assert out['rc'] == 0, out
    assert set(out) - {'rc', 'stderr'} == {'dns1', 'dns3'}
    dns1, dns3 = out['dns1'], out['dns3']
    assert dns1['action'] == 'start' and dns1['command'] == '/usr/sbin/daemon'
    assert dns1['command_args'].split() == daemon_args('dns1', 'dns1')
    assert dns3['command_args'].split() == daemon_args('dns3', 'dns3', ['-u', 'kresd'], ['-v'])
    assert dns1['pidfile'] == '/var/run/kresd.dns1.pid' != dns3['pidfile']
    # rc.subr must not apply these a second time (to daemon(8) itself)
    for v in (dns1, dns3):
        assert v['kresd_flags'] == v['kresd_user'] == v['kresd_program'] == ''
        assert v['required_files'] == CONFIG and v['start_precmd'] == 'kresd_prestart'


@pytest.mark.parametrize('shell', FREEBSD_SHELLS)
def test_freebsd_one_profile_and_bad_values(built, tmp_path, shell):
    rc_conf = 'kresd_enable="YES"\nkresd_profiles="a b"\nkresd_b_enable="NO"\n'
    out = run_freebsd(built, tmp_path, shell, rc_conf, 'restart', 'b')
    v = out['']
    assert v['action'] == 'restart' and v['kresd_enable'] == 'NO'
    assert v['command_args'].split() == daemon_args('b', 'b')
    out = run_freebsd(built, tmp_path, shell, 'kresd_enable=YES\nkresd_profiles="x"\n'
                      'kresd_x_enable="maybe"\n', 'start')
    assert 'x' not in out and 'Bad value' in out['stderr']


@pytest.mark.parametrize('shell', FREEBSD_SHELLS)
def test_freebsd_profile_names_become_variable_names(built, tmp_path, shell):
    out = run_freebsd(built, tmp_path, shell,
                      'kresd_enable=YES\nkresd_profiles="ok_1 dns-2"\n', 'start')
    assert out['rc'] == 0 and 'ok_1' in out and 'dns-2' not in out
    assert "'dns-2' cannot be a profile name" in out['stderr']
    out = run_freebsd(built, tmp_path, shell, 'kresd_profiles="x"\n', 'start', 'a;b')
    assert out['rc'] != 0 and '' not in out


@pytest.mark.parametrize('shell', FREEBSD_SHELLS)
def test_freebsd_without_profiles(built, tmp_path, shell):
    out = run_freebsd(built, tmp_path, shell, 'kresd_enable="YES"\n', 'start')
    v = out['']
    assert v['kresd_enable'] == 'YES'
    assert v['command_args'].split() == daemon_args('', 'kresd')
    assert v['pidfile'] == '/var/run/kresd.pid'


# ------------------------------------------------------------------ OpenBSD

# The part of OpenBSD's rc.subr that matters here: the script name, the
# <name>_flags override and pexp, which rc.d matches with pgrep -xf.
OPENBSD_RC_SUBR = r'''
_name=${0##*/}
case "${_name}" in
[_A-Za-z]*) ;;
*) echo "invalid rc.d script name: ${_name}" >&2; exit 1 ;;
esac
case "${_name}" in
*[!_A-Za-z0-9]*) echo "invalid rc.d script name: ${_name}" >&2; exit 1 ;;
esac
eval _rcflags=\${${_name}_flags}
[ -n "${_rcflags}" ] && daemon_flags=${_rcflags}
pexp="$(eval echo ${daemon}${daemon_flags:+ ${daemon_flags}})"
rc_cmd() {
	echo "action=$1"
	for _v in daemon daemon_flags daemon_logger pexp rc_bg rc_reload; do
		eval "_val=\${${_v}-}"
		printf '%s=%s\n' "${_v}" "${_val}"
	done
}
'''


@pytest.fixture
def openbsd_dir(built, tmp_path):
    stub = tmp_path / 'rc.subr'
    stub.write_text(OPENBSD_RC_SUBR)
    text = (built.prefix / OPENBSD_DIR / 'kresd').read_text()
    assert '. /etc/rc.d/rc.subr' in text
    rcd = tmp_path / 'rc.d'
    rcd.mkdir()
    (rcd / 'kresd').write_text(text.replace('. /etc/rc.d/rc.subr', f'. {stub}'))
    for name in ('kresd_dns1', 'kresd_dns2'):
        (rcd / name).symlink_to('kresd')
    return rcd


def run_openbsd(shell, rcd, name, action, **env):
    r = run([*shell, rcd / name, action], env={'PATH': '/usr/bin:/bin', **env})
    assert r.returncode == 0, r.stdout + r.stderr
    return dict(line.partition('=')[::2] for line in r.stdout.splitlines())


OPENBSD_SHELLS = shells('ksh', 'mksh', 'bash')


@pytest.mark.parametrize('shell', OPENBSD_SHELLS)
def test_openbsd_instance_in_flags(openbsd_dir, shell):
    one = run_openbsd(shell, openbsd_dir, 'kresd_dns1', 'start')
    two = run_openbsd(shell, openbsd_dir, 'kresd_dns2', 'check')
    assert one['daemon'] == SBIN
    assert one['daemon_flags'] == f'-n --instance dns1 -c {CONFIG} /var/knot-resolver'
    assert one['pexp'] == f'{SBIN} {one["daemon_flags"]}'
    assert two['pexp'] == one['pexp'].replace('dns1', 'dns2')
    assert one['rc_bg'] == 'YES' and one['rc_reload'] == 'NO'
    assert one['daemon_logger'] == 'daemon.info'
    plain = run_openbsd(shell, openbsd_dir, 'kresd', 'start')
    assert plain['daemon_flags'].startswith('-n --instance kresd ')


@pytest.mark.parametrize('shell', OPENBSD_SHELLS)
def test_openbsd_user_flags_keep_the_instance(openbsd_dir, shell):
    v = run_openbsd(shell, openbsd_dir, 'kresd_dns2', 'start',
                    kresd_dns2_flags='-c /etc/other.conf -v /srv/kr')
    assert v['daemon_flags'] == '-n --instance dns2 -c /etc/other.conf -v /srv/kr'
    assert v['pexp'] == f'{SBIN} -n --instance dns2 -c /etc/other.conf -v /srv/kr'
    # "NO" (not enabled) must reach rc.subr untouched
    v = run_openbsd(shell, openbsd_dir, 'kresd_dns2', 'start', kresd_dns2_flags='NO')
    assert v['daemon_flags'] == 'NO'


# ------------------------------------------------------------------ launchd

LAUNCHD_DIR = 'share/kresd/launchd'
RUNDIR = '/var/knot-resolver'   # LOCALSTATEDIR of prefix /usr is /var


def load_plist(path):
    with open(path, 'rb') as f:
        return plistlib.load(f)


def check_job(job, instance, sockets):
    assert job['Label'] == f'org.knot-resolver.kresd.{instance}'
    assert job['ProgramArguments'] == [SBIN, '-n', '--instance', instance, '-c', CONFIG, RUNDIR]
    assert job['RunAtLoad'] is True
    assert job['KeepAlive'] == {'SuccessfulExit': False}
    assert job['StandardErrorPath'] == f'/var/log/kresd.{instance}.log'
    assert ('Sockets' in job) == sockets


def test_launchd_template(built, tmp_path):
    text = (built.prefix / LAUNCHD_DIR / 'org.knot-resolver.kresd.plist.template').read_text()
    assert '%INSTANCE%' in text
    path = tmp_path / 'one.plist'
    path.write_text(text.replace('%INSTANCE%', 'dns1'))
    job = load_plist(path)
    check_job(job, 'dns1', sockets=True)
    socks = job['Sockets']
    assert set(socks) == {'dns', 'tls', 'doh2'}
    assert {(s['SockNodeName'], s['SockServiceName'], s['SockType']) for s in socks['dns']} == {
        (a, '53', t) for a in ('127.0.0.1', '::1') for t in ('dgram', 'stream')}
    assert {(s['SockServiceName'], s['SockType']) for s in socks['tls']} == {('853', 'stream')}
    assert {(s['SockServiceName'], s['SockType']) for s in socks['doh2']} == {('443', 'stream')}


def generate(built, *args):
    return run([built.prefix / LAUNCHD_DIR / 'generate-plists', *args])


def test_launchd_generator_writes_n_jobs(built, tmp_path):
    out = tmp_path / 'jobs'
    r = generate(built, '-o', out, '-n', '4', 'tls1')
    assert r.returncode == 0, r.stderr
    files = sorted(out.glob('*.plist'))
    assert [f.name for f in files] == [f'org.knot-resolver.kresd.{n}.plist'
                                       for n in ('1', '2', '3', '4', 'tls1')]
    assert r.stdout.split() == [str(out / f.name) for f in
                                [out / f'org.knot-resolver.kresd.{n}.plist'
                                 for n in ('1', '2', '3', '4', 'tls1')]]
    jobs = [load_plist(f) for f in files]
    assert len({j['Label'] for j in jobs}) == 5
    for job, name in zip(jobs, ('1', '2', '3', '4', 'tls1')):
        # several jobs cannot share launchd sockets: none of them gets any
        check_job(job, name, sockets=False)


def test_launchd_generator_sockets_only_for_one_job(built, tmp_path):
    r = generate(built, '-o', tmp_path / 'one', '-s', 'dns')
    assert r.returncode == 0, r.stderr
    check_job(load_plist(tmp_path / 'one/org.knot-resolver.kresd.dns.plist'), 'dns', sockets=True)
    r = generate(built, '-o', tmp_path / 'two', '-s', '-n', '2')
    assert r.returncode == 2 and 'exactly one instance' in r.stderr
    assert not (tmp_path / 'two').exists()


@pytest.mark.parametrize('args', [['a b'], [''], ['../x'], ['.hidden'], ['1', '1'],
                                  ['-n', '0'], ['-n', 'x'], []])
def test_launchd_generator_refuses_bad_names(built, tmp_path, args):
    r = generate(built, '-o', tmp_path / 'out', *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert not (tmp_path / 'out').exists()


# ------------------------------------------------------------------ docs

DOCS = ['systemd', 'openrc', 'freebsd', 'openbsd', 'launchd', 'rolling-restart']


@pytest.mark.parametrize('page', DOCS)
def test_docs_page(page):
    text = (REPO / 'docs' / f'{page}.rst').read_text()
    assert 'rolling' in text.lower()
    try:
        import docutils.core
        import docutils.utils
    except ImportError:
        pytest.skip('docutils is not installed')
    docutils.core.publish_doctree(text, settings_overrides={
        'report_level': docutils.utils.Reporter.WARNING_LEVEL,
        'halt_level': docutils.utils.Reporter.WARNING_LEVEL,
        'warning_stream': False, 'syntax_highlight': 'none'})
