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
	if type(a) == 'function' then return end -- a custom action function(state, req)
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
	-- 5.6 logs the query packet; here it turns on the request's debug log, as QTRACE
	REQTRACE = action('debug'),
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

-- policy.ANSWER({[kres.type.A] = {rdata = kres.str2ip('192.0.2.7'), ttl = 300}}, nodata):
-- local data for the query's type (rdata: wire form, or a list of them; ttl
-- 1 unless given); other types: NODATA when nodata is true, else the next
-- rule decides. NOERROR, AA, EDE 4 (Forged), as Knot Resolver 5.6.
function policy.ANSWER(rtable, nodata)
	if type(rtable) ~= 'table' then
		error('policy.ANSWER: first argument must be a table such as {[kres.type.A] = {rdata=kres.str2ip(\'192.0.2.1\'), ttl=300}}', 2)
	end
	return action('answer', { rtable = rtable, nodata = nodata == true })
end

-- policy.REROUTE({['192.0.2.0/24'] = '127.0.0.0', ...}): rewrites addresses
-- in answers; a postrule: policy.add(policy.all(policy.REROUTE(...)), true).
-- The renumber.config() form {{'192.0.2.0/24', '127.0.0.0'}, ...} works too.
function policy.REROUTE(tbl, names)
	if type(tbl) ~= 'table' then
		error("policy.REROUTE: expected a table such as {['192.0.2.0/24'] = '127.0.0.0'}", 2)
	end
	if names then error('policy.REROUTE: rerouting by name (second argument) is not supported', 2) end
	local prefixes = {}
	for from, to in pairs(tbl) do
		if type(from) == 'number' and type(to) == 'table' then from, to = to[1], to[2] end
		if type(from) ~= 'string' or type(to) ~= 'string' then
			error("policy.REROUTE: expected subnet = target strings such as ['192.0.2.0/24'] = '127.0.0.0'", 2)
		end
		table.insert(prefixes, { from, to })
	end
	return action('reroute', { prefixes = prefixes })
end

-- policy.MIRROR('127.0.0.2@5353'): a copy of each matching query goes there
-- over UDP (port 53 unless given); the query is answered as usual.
function policy.MIRROR(target)
	if type(target) ~= 'string' then
		error("policy.MIRROR: expected an address such as '127.0.0.2@5353'", 2)
	end
	return action('mirror', { targets = { target } })
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

-- policy.rpz(action, path, watch): a Response Policy Zone file (see
-- src/policy/rpz.hpp). The file is read now; an unreadable one is an error
-- here. Unless watch is false, it is checked every second and re-read when
-- it changed (5.6 watches it with inotify through lua-cqueues).
function policy.rpz(a, path, watch)
	check_action(a, 'policy.rpz')
	if type(path) ~= 'string' then error('policy.rpz: second argument must be a file name', 2) end
	local ok, zone = pcall(__kresd_rpz_load, path)
	if not ok then error(zone, 2) end
	if watch ~= false then
		event.recurrent(1000, function() __kresd_rpz_check(zone) end)
	end
	return { filter = 'rpz', rpz = zone, action = a }
end

-- policy.slice(slice_func, action, ...): a rule that splits the name space:
-- slice_func(query, n) picks which of the n actions a query gets.
function policy.slice(slice_func, ...)
	local actions = {...}
	if type(slice_func) ~= 'function' then
		error('policy.slice: first argument must be a function such as policy.slice_randomize_psl()', 2)
	end
	if #actions == 0 then error('policy.slice: at least one action is needed', 2) end
	for _, a in ipairs(actions) do check_action(a, 'policy.slice') end
	return function(_, query)
		return actions[slice_func(query, #actions)] or actions[1]
	end
end

-- policy.slice_randomize_psl([seed]): every registrable domain (public
-- suffix list) to one slice, shuffled by the seed (default: the week).
function policy.slice_randomize_psl(seed)
	seed = math.floor(seed or os.time() / (7 * 24 * 3600))
	__kresd_psl_slice('example', seed, 1) -- reads the list now: a missing one stops the config
	return function(query, n)
		local ok, name = pcall(kres.dname2str, query:name())
		if not ok or name == nil then return 1 end
		return __kresd_psl_slice(name, seed, n)
	end
end

-- policy.todnames({'example.com', ...}) converts names to wire form in place.
function policy.todnames(names)
	for i, n in ipairs(names) do names[i] = todname(n) end
	return names
end

-- policy.domains(action, names): the query name is exactly one of names.
function policy.domains(a, names)
	check_action(a, 'policy.domains')
	if type(names) ~= 'table' then error('policy.domains: second argument must be a table of names', 2) end
	return { filter = 'domains', names = names, action = a }
end

-- What policy.add() returns, as in Knot Resolver 5.6: {id, cb, count};
-- count is read from the running rule. Kept by id for policy.rules.
local rule_descs = {}
local desc_mt = {
	__index = function (d, k)
		if k == 'count' then return __kresd_policy_count(rawget(d, 'id')) or 0 end
	end,
}

-- policy.add(rule[, postrule]); policy:add(rule) works too. A rule is a
-- filter (policy.all(...), policy.suffix(...), ...) or a Lua function
-- function(req, query) returning an action or nil.
function policy.add(rule, postrule)
	if rule == policy then rule, postrule = postrule, nil end
	if type(rule) ~= 'function' and (type(rule) ~= 'table' or not rule.filter) then
		error('policy.add: expected a rule such as policy.all(policy.DENY) or a function', 2)
	end
	local id = __kresd_policy_add(rule, postrule and true or false)
	local desc = setmetatable({ id = id, cb = rule }, desc_mt)
	rule_descs[id] = desc
	return desc
end

-- policy.del(id): removes a rule added by policy.add(); false if none has it.
function policy.del(id)
	if type(id) ~= 'number' then error('policy.del: expected a rule id', 2) end
	local ok = __kresd_policy_del(id)
	if ok then rule_descs[id] = nil end
	return ok
end

-- policy.rules and policy.postrules: the rules' {id, cb, count}, in order.
setmetatable(policy, {
	__index = function (_, k)
		if k ~= 'rules' and k ~= 'postrules' then return nil end
		local out = {}
		for _, id in ipairs(__kresd_policy_ids(k == 'postrules')) do
			out[#out + 1] = rule_descs[id]
		end
		return out
	end,
})

-- Lua rules, per query (called by the C++ side, src/lua/bind_lua_rules.cpp):
-- builds read-only-by-convention req and query objects in Knot Resolver
-- 5.6's shape, runs the filter (mode 'filter') or the action function
-- (mode 'action'), and returns ('action', table), ('state', state, ede,
-- ede_text), or nothing (no match, or a chain action).
local addr_mt = {
	__index = {
		ip = function (a) return a._raw end,
		family = function (a) return a._family end,
		port = function (a) return a._port end,
	},
	__tostring = function (a) return a._text end,
}
local function mkaddr(text, raw, family, port)
	if text == nil then return nil end
	return setmetatable({ _text = text, _raw = raw, _family = family, _port = port }, addr_mt)
end
local query_mt = { __index = { name = function (q) return q.sname end } }
local req_mt = {
	__index = {
		current = function (r) return r._query end,
		initial = function (r) return r._query end,
		set_extended_error = function (r, code, msg) r._ede = code; r._ede_text = msg end,
	},
}
function __kresd_policy_call(mode, fn, state, qname, qtype, qclass,
		st, sr, sf, sp, dt, dr, df, dp, tcp, tls, http)
	local query = setmetatable({ sname = qname, stype = qtype, sclass = qclass, flags = {} }, query_mt)
	local req = setmetatable({
		qsource = {
			addr = mkaddr(st, sr, sf, sp),
			dst_addr = mkaddr(dt, dr, df, dp),
			flags = { tcp = tcp, tls = tls, http = http },
		},
		options = {}, state = state, _query = query,
	}, req_mt)
	local a = fn
	if mode == 'filter' then
		a = fn(req, query)
		if a == nil then return end
		if type(a) == 'table' then return 'action', a end
		if type(a) ~= 'function' then
			error('a policy rule returned a ' .. type(a) .. ', not an action')
		end
	end
	local s = a(state, req)
	if s == nil then return end
	return 'state', s, req._ede, req._ede_text
end

-- Used by the C++ side for pattern rules.
function __kresd_policy_match(pattern, wire_name)
	return string.find(wire_name, pattern) ~= nil
end
