"""The view module (view:addr, view:tsig) and Lua-function policy rules,
as Knot Resolver 5.6 runs them (loopback only: allowed clients are answered
from hints, nothing reaches any other server).  The same tests pass
against Knot Resolver itself:

    KRESD_BIN=$PWD/tests/lab/knot_resolver_as_kresd.py \\
        /usr/bin/python3 -m pytest -q tests/integration/test_views.py
"""

import socket

import pytest

import dns.edns
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring

CONFIG = r"""
net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})
net.listen('::1', {port}, {{ kind = 'dns' }})
net.listen('127.0.0.40', {port}, {{ kind = 'dns' }})
trust_anchors.remove('.')
hints['ok.example'] = '192.0.2.1'
hints['fn.example'] = '192.0.2.2'
hints['custom.example'] = '192.0.2.3'
hints['pass.example'] = '192.0.2.4'
hints['gone.example'] = '192.0.2.5'
modules.load('view')
-- TSIG views come first; the key is the whole wire name, root label included
view:tsig('\5mykey\0', policy.all(policy.DENY_MSG('tsig view')))
-- in the order added: 127.0.0.2 is denied, 127.0.0.3 refused for one name
view:addr('127.0.0.2/32', policy.all(policy.DENY_MSG('denied subnet')))
view:addr('127.0.0.3', policy.suffix(policy.REFUSE, {{todname('ok.example.')}}))
view:addr('127.0.0.8/29', policy.all(policy.FLAGS('NO_CACHE')))  -- a chain action: go on
view:addr('127.0.0.8/30', policy.all(policy.DENY_MSG('wide first')))
view:addr('127.0.0.9/32', policy.all(policy.DENY_MSG('narrow later')))  -- never reached
view:addr('127.0.0.5', function(req, query)
    return policy.DENY_MSG('fn view ' .. tostring(req.qsource.flags.tcp))
end)
view:addr('::1/128', policy.suffix(policy.DENY_MSG('v6 view'), {{todname('ok.example.')}}))
-- destination views are accepted; as in 5.6 they never match a client
view:addr('127.0.0.1/32', policy.all(policy.DENY_MSG('dst view')), true)
-- a policy PASS does not exempt from the views (the policy module runs first)
policy.add(policy.suffix(policy.PASS, {{todname('pass.example.')}}))
-- a Lua filter function: returns an action or nil
fn_rule = policy.add(function(req, query)
    if query:name() == todname('fn.example.') and query.stype == kres.type.A then
        local ip = tostring(req.qsource.addr):match('^(.*)#')
        return policy.DENY_MSG('fn ' .. ip)
    end
end)
-- a custom action function(state, req)
policy.add(policy.suffix(function(state, req)
    req:set_extended_error(kres.extended_error.CENSORED, 'LUA1')
    return kres.FAIL
end, {{todname('custom.example.')}}))
-- a function that fails, or returns what is not an action: SERVFAIL
hints['err.example'] = '192.0.2.7'
policy.add(function(req, query)
    if query:name() == todname('err.example.') then error('boom') end
    if query:name() == todname('bad.example.') then return 42 end
end)
gone_rule = policy.add(policy.domains(policy.REFUSE, {{todname('gone.example.')}}))
-- postrules: run on the finished answer (even a hinted or a local one)
hints['post.example'] = '192.0.2.6'
post_rule = policy.add(policy.suffix(policy.DENY_MSG('post'), {{todname('post.example.')}}), true)
policy.add(policy.suffix(policy.REFUSE, {{todname('localhost.')}}), true)
-- view.rule_src / rule_dst: address filters for policy.add
policy.add(view.rule_src(policy.DENY_MSG('rule_src'), '127.0.0.30/31'))
policy.add(view.rule_dst(policy.DENY_MSG('rule_dst'), '127.0.0.40'))
"""


@pytest.fixture
def server(make_kresd, port):
    k = make_kresd(CONFIG.format(port=port), instance='views').start()
    k.port = port
    yield k
    if k.running():
        k.stop()


def ask(server, name, source='127.0.0.1', dest='127.0.0.1', tcp=False, keyname=None, edns=True):
    q = dns.message.make_query(name, 'A', use_edns=0 if edns else False)
    if keyname:
        q.use_tsig(dns.tsigkeyring.from_text({keyname: 'c2VjcmV0c2VjcmV0'}), keyname=keyname)
        # The answer is not signed (neither daemon verifies or signs): read it raw.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((source, 0))
            sock.settimeout(5)
            sock.sendto(q.to_wire(), (dest, server.port))
            return dns.message.from_wire(sock.recv(65535))
        finally:
            sock.close()
    if tcp:
        return dns.query.tcp(q, dest, port=server.port, source=source, timeout=5)
    return dns.query.udp(q, dest, port=server.port, source=source, timeout=5)


def txt(r):
    return [rd.strings[0].decode() for rrs in r.additional
            if rrs.rdtype == dns.rdatatype.TXT for rd in rrs]


def addrs(r):
    return [rd.address for rrs in r.answer for rd in rrs]


def ede(r):
    return [(o.code, o.text) for o in r.options if o.otype == dns.edns.EDE]


def test_view_denies_one_subnet_others_answered(server):
    """view:addr('127.0.0.2/32', DENY): that client gets NXDOMAIN, the
    others the hinted address."""
    r = ask(server, 'ok.example.', source='127.0.0.2')
    assert r.rcode() == dns.rcode.NXDOMAIN and txt(r) == ['denied subnet']
    for src in ('127.0.0.1', '127.0.0.6', '127.0.0.20'):
        r = ask(server, 'ok.example.', source=src)
        assert r.rcode() == dns.rcode.NOERROR and addrs(r) == ['192.0.2.1'], src


def test_view_rules_filter_names(server):
    """A view's rule is a policy filter: 127.0.0.3 is refused ok.example
    only."""
    assert ask(server, 'ok.example.', source='127.0.0.3').rcode() == dns.rcode.REFUSED
    r = ask(server, 'pass.example.', source='127.0.0.3')
    assert r.rcode() == dns.rcode.NOERROR and addrs(r) == ['192.0.2.4']


def test_views_in_the_order_added(server):
    """Not the most specific subnet: the first matching view decides, as in
    5.6. 127.0.0.9 runs the /29 FLAGS chain, then the /30 DENY decides
    before its own /32 view is tried; 127.0.0.12 only gets the chain."""
    r = ask(server, 'ok.example.', source='127.0.0.9')
    assert r.rcode() == dns.rcode.NXDOMAIN and txt(r) == ['wide first']
    r = ask(server, 'ok.example.', source='127.0.0.12')
    assert r.rcode() == dns.rcode.NOERROR and addrs(r) == ['192.0.2.1']


def test_view_function_rule(server):
    r = ask(server, 'ok.example.', source='127.0.0.5')
    assert r.rcode() == dns.rcode.NXDOMAIN and txt(r) == ['fn view false']
    r = ask(server, 'ok.example.', source='127.0.0.5', tcp=True)
    assert txt(r) == ['fn view true']


def test_policy_pass_does_not_exempt_from_views(server):
    r = ask(server, 'pass.example.', source='127.0.0.2')
    assert r.rcode() == dns.rcode.NXDOMAIN and txt(r) == ['denied subnet']


def test_destination_views_never_match(server):
    r = ask(server, 'ok.example.', source='127.0.0.20', dest='127.0.0.1')
    assert r.rcode() == dns.rcode.NOERROR and addrs(r) == ['192.0.2.1']


def test_ipv6_view(server):
    try:
        r = ask(server, 'ok.example.', source='::1', dest='::1')
    except OSError:
        pytest.skip('no IPv6 loopback')
    assert r.rcode() == dns.rcode.NXDOMAIN and txt(r) == ['v6 view']
    r = ask(server, 'pass.example.', source='::1', dest='::1')
    assert addrs(r) == ['192.0.2.4']


def test_tsig_view(server):
    """Matched by the key's name (any case), signature not checked; a
    query signed with another key goes on to the address views."""
    r = ask(server, 'ok.example.', source='127.0.0.20', keyname='mykey')
    assert r.rcode() == dns.rcode.NXDOMAIN and txt(r) == ['tsig view']
    r = ask(server, 'ok.example.', source='127.0.0.20', keyname='MyKey')
    assert txt(r) == ['tsig view']
    r = ask(server, 'ok.example.', source='127.0.0.20', keyname='other')
    assert r.rcode() == dns.rcode.NOERROR and addrs(r) == ['192.0.2.1']
    r = ask(server, 'ok.example.', source='127.0.0.2', keyname='other')
    assert txt(r) == ['denied subnet']


def test_lua_filter_function(server):
    r = ask(server, 'fn.example.', source='127.0.0.20')
    assert r.rcode() == dns.rcode.NXDOMAIN and txt(r) == ['fn 127.0.0.20']
    r = ask(server, 'fn.example.', source='127.0.0.6')
    assert txt(r) == ['fn 127.0.0.6']


def test_lua_custom_action(server):
    r = ask(server, 'custom.example.', source='127.0.0.20')
    assert r.rcode() == dns.rcode.SERVFAIL and ede(r) == [(16, 'LUA1')]


def val(server, expr):
    """The value of a Lua expression, as text (the two daemons print
    strings with and without quotes)."""
    return server.lua(f'tostring({expr})').strip().strip('\'"')


def test_policy_add_shape_and_del(server):
    """policy.add returns {id, cb, count}; policy.del(id) removes the rule
    (true once, then false); policy.rules lists the rules."""
    assert val(server, 'type(fn_rule.id)') == 'number'
    assert val(server, 'type(fn_rule.cb)') == 'function'
    assert val(server, 'policy.rules[1].id') == '0'  # ids count from 0 (the PASS rule)
    assert val(server, 'fn_rule.id') == '1'
    ask(server, 'fn.example.', source='127.0.0.20')
    assert int(val(server, 'fn_rule.count')) >= 1
    assert ask(server, 'gone.example.', source='127.0.0.20').rcode() == dns.rcode.REFUSED
    n = int(val(server, '#policy.rules'))
    assert val(server, 'policy.rules[#policy.rules - 2].id == gone_rule.id') == 'true'
    assert val(server, 'policy.del(gone_rule.id)') == 'true'
    assert val(server, 'policy.del(gone_rule.id)') == 'false'
    assert int(val(server, '#policy.rules')) == n - 1
    r = ask(server, 'gone.example.', source='127.0.0.20')
    assert r.rcode() == dns.rcode.NOERROR and addrs(r) == ['192.0.2.5']


def test_kres_table(server):
    assert val(server, "require('kres') == kres") == 'true'
    assert val(server, 'kres.type.AAAA') == '28'
    assert val(server, 'kres.rcode.NXDOMAIN') == '3'
    assert val(server, 'kres.section.ADDITIONAL') == '2'
    assert val(server, 'kres.class.IN') == '1'
    assert val(server, 'kres.extended_error.BLOCKED') == '15'
    assert val(server, "kres.dname2str(kres.str2dname('Www.Example.COM'))") == 'www.example.com.'
    assert val(server, "kres.str2dname('a.b') == todname('a.b.')") == 'true'
    assert val(server, "#kres.str2ip('192.0.2.1')") == '4'
    assert val(server, "#kres.str2ip('2001:db8::1')") == '16'


def test_view_rule_src_and_dst(server):
    """view.rule_src/rule_dst are policy filters by address, for
    policy.add: policy rules, so before the views."""
    r = ask(server, 'ok.example.', source='127.0.0.31')
    assert r.rcode() == dns.rcode.NXDOMAIN and txt(r) == ['rule_src']
    r = ask(server, 'ok.example.', source='127.0.0.2', dest='127.0.0.40')
    assert txt(r) == ['rule_dst']
    r = ask(server, 'ok.example.', source='127.0.0.20', dest='127.0.0.40')
    assert txt(r) == ['rule_dst']
    r = ask(server, 'ok.example.', source='127.0.0.32')
    assert addrs(r) == ['192.0.2.1']


def test_postrules_replace_the_answer(server):
    """policy.add(rule, true): 5.6 runs postrules when the answer is ready;
    a DENY replaces a hinted answer, a REFUSE the localhost. answer."""
    r = ask(server, 'post.example.', source='127.0.0.20')
    assert r.rcode() == dns.rcode.NXDOMAIN and txt(r) == ['post']
    assert ask(server, 'localhost.', source='127.0.0.20').rcode() == dns.rcode.REFUSED
    r = ask(server, 'ok.example.', source='127.0.0.20')
    assert r.rcode() == dns.rcode.NOERROR and addrs(r) == ['192.0.2.1']
    assert val(server, '#policy.postrules') == '2'
    assert val(server, 'policy.postrules[1].id == post_rule.id') == 'true'
    assert int(val(server, 'post_rule.count')) >= 1


def test_lua_rule_errors_fail_the_query(server):
    assert ask(server, 'err.example.', source='127.0.0.20').rcode() == dns.rcode.SERVFAIL
    assert ask(server, 'bad.example.', source='127.0.0.20').rcode() == dns.rcode.SERVFAIL
