-- SPDX-License-Identifier: GPL-3.0-or-later
-- Knot Resolver 5.6's view module: policy rules for some clients only.
-- modules.load('view') publishes this table as `view`; the rules are kept
-- and run by the C++ side (src/policy/policy.hpp, evaluate_views()).

local view = {}

local function check_rule(rule, fn)
	if type(rule) ~= 'function' and (type(rule) ~= 'table' or not rule.filter) then
		error(string.format('%s: expected a rule such as policy.all(policy.DENY) or a function', fn), 3)
	end
end

-- view:addr(subnet, rule[, dst]): rule applies to clients from subnet
-- ('192.0.2.0/24', '2001:db8::/32', or one address). With dst, to queries
-- sent to that subnet instead (accepted; as in 5.6, never matches a
-- client's query).
function view.addr(_, subnet, rule, dst)
	check_rule(rule, 'view:addr')
	if type(subnet) ~= 'string' then error('view:addr: expected a subnet such as 192.0.2.0/24', 2) end
	local id = __kresd_policy_add(rule, { view = 'addr', subnet = subnet, dst = dst and true or false })
	return { id = id, subnet = subnet, cb = rule }
end

-- view:tsig(key, rule): rule applies to queries that carry a TSIG record
-- owned by key, a name in wire form with its root label, as 5.6 compares
-- it ('\5mykey\0'). The signature is not checked (nor is it in 5.6).
function view.tsig(_, key, rule)
	check_rule(rule, 'view:tsig')
	if type(key) ~= 'string' then error('view:tsig: expected a key name in wire form', 2) end
	local id = __kresd_policy_add(rule, { view = 'tsig', key = key })
	return { id = id, cb = rule }
end

-- A matcher of address bytes (req.qsource.addr:ip()) for one subnet.
local function subnet_matcher(subnet, fn)
	local text, len = tostring(subnet):match('^([^/]+)/?(%d*)$')
	local raw = text and __kresd_str2ip(text)
	local bits = raw and (len ~= '' and tonumber(len) or #raw * 8)
	if not raw or bits > #raw * 8 then
		error(string.format('%s: failed to parse subnet %s', fn, tostring(subnet)), 3)
	end
	local full, rest = math.floor(bits / 8), bits % 8
	local prefix = raw:sub(1, full)
	local mask = rest > 0 and bit.band(0xff, bit.lshift(0xff, 8 - rest)) or nil
	local last = mask and bit.band(raw:byte(full + 1), mask)
	return function (ip)
		if ip == nil or #ip ~= #raw or ip:sub(1, full) ~= prefix then return false end
		return mask == nil or bit.band(ip:byte(full + 1), mask) == last
	end
end

-- view.rule_src(action, subnet), view.rule_dst(action, subnet): policy
-- filters by the client's (the query's destination) address, for
-- policy.add().
function view.rule_src(action, subnet)
	local match = subnet_matcher(subnet, 'view.rule_src')
	return function (req, _)
		local a = req.qsource.addr
		if a ~= nil and match(a:ip()) then return action end
	end
end

function view.rule_dst(action, subnet)
	local match = subnet_matcher(subnet, 'view.rule_dst')
	return function (req, _)
		local a = req.qsource.dst_addr
		if a ~= nil and match(a:ip()) then return action end
	end
end

__kresd_view_module = view
