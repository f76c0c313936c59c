-- SPDX-License-Identifier: GPL-3.0-or-later
-- Knot Resolver 5's policy constructors. Each returns a plain description
-- table; policy.add() hands it to the C++ side, which keeps typed rules and
-- evaluates them per query without calling Lua (except pattern rules).

local function action(kind, extra)
	local a = extra or {}
	a.__policy_action = kind
	return a
end

local function check_action(a, fn)
	if type(a) ~= 'table' or not a.__policy_action then
		error(string.format('%s: first argument must be a policy action such as policy.DENY', fn), 3)
	end
end

local function target_list(targets, fn)
	if type(targets) == 'string' then targets = { targets } end
	if type(targets) ~= 'table' or #targets == 0 then
		error(string.format('%s: expected an address or a list of addresses', fn), 3)
	end
	local out = {}
	for i, t in ipairs(targets) do
		if type(t) == 'table' then t = t[1] end -- {'addr', hostname=...} forms
		if type(t) ~= 'string' then
			error(string.format('%s: target %d is not an address string', fn, i), 3)
		end
		out[i] = t
	end
	return out
end

policy = {
	PASS = action('pass'),
	DENY = action('deny'),
	DROP = action('drop'),
	NO_ANSWER = action('no_answer'),
	TC = action('tc'),
	REFUSE = action('refuse'),
	DEBUG_ALWAYS = action('debug'),
	QTRACE = action('debug'),
}

-- policy.DENY_MSG(msg, extended_error): as Knot Resolver 5.6, msg (optional,
-- under 255 bytes) goes into a TXT record explanation.invalid., and
-- extended_error (default 15, Blocked) is the EDE code.
function policy.DENY_MSG(msg, extended_error)
	if msg ~= nil and (type(msg) ~= 'string' or #msg >= 255) then
		error('DENY_MSG: optional msg must be string shorter than 256 characters', 2)
	end
	if extended_error ~= nil and (type(extended_error) ~= 'number' or extended_error < 0
			or extended_error > 65535 or extended_error % 1 ~= 0) then
		error('DENY_MSG: extended_error must be an EDE code (0-65535)', 2)
	end
	return action('deny', { message = msg, ede = extended_error })
end

function policy.FLAGS(set, clear)
	if type(set) == 'string' then set = { set } end
	if type(clear) == 'string' then clear = { clear } end
	return action('flags', { set = set or {}, clear = clear or {} })
end

function policy.FORWARD(targets)
	return action('forward', { targets = target_list(targets, 'policy.FORWARD') })
end

-- policy.TLS_FORWARD({{'192.0.2.1', hostname='dns.example'},
--                     {'2001:db8::1@853', pin_sha256='base64...'}})
-- Checked here (addresses, pins, CA files), so a mistake names the config line.
function policy.TLS_FORWARD(targets)
	if type(targets) ~= 'table' or #targets == 0 then
		error("policy.TLS_FORWARD: expected a non-empty list of targets such as {{'192.0.2.1', hostname='dns.example'}}", 2)
	end
	__kresd_tls_forward_check(targets)
	return action('tls_forward', { targets = targets })
end

function policy.STUB(targets)
	return action('stub', { targets = target_list(targets, 'policy.STUB') })
end

function policy.all(a)
	check_action(a, 'policy.all')
	return { filter = 'all', action = a }
end

function policy.suffix(a, names)
	check_action(a, 'policy.suffix')
	if type(names) ~= 'table' then error('policy.suffix: second argument must be a table of names', 2) end
	return { filter = 'suffix', names = names, action = a }
end

function policy.suffix_common(a, names, common)
	check_action(a, 'policy.suffix_common')
	if type(names) ~= 'table' then error('policy.suffix_common: second argument must be a table of names', 2) end
	return { filter = 'suffix_common', names = names, common = common, action = a }
end

function policy.pattern(a, pattern)
	check_action(a, 'policy.pattern')
	if type(pattern) ~= 'string' then error('policy.pattern: second argument must be a Lua pattern', 2) end
	return { filter = 'pattern', pattern = pattern, action = a }
end

-- policy.todnames({'example.com', ...}) converts names to wire form in place.
function policy.todnames(names)
	for i, n in ipairs(names) do names[i] = todname(n) end
	return names
end

-- policy.add(rule) and policy:add(rule) both work.
function policy.add(self, rule)
	if rule == nil then rule = self end
	if type(rule) ~= 'table' or not rule.filter then
		error('policy.add: expected a rule such as policy.all(policy.DENY)', 2)
	end
	__kresd_policy_add(rule)
	return rule
end

-- Used by the C++ side for pattern rules.
function __kresd_policy_match(pattern, wire_name)
	return string.find(wire_name, pattern) ~= nil
end
