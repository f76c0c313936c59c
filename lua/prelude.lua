-- SPDX-License-Identifier: GPL-3.0-or-later
-- Loaded once into every kresd Lua state, before any config.
-- Knot Resolver 5 names that are easiest to express in Lua live here; the
-- C++ bindings (net, worker, event, modules, option, ...) are already set.

-- Units: sizes in bytes, times in milliseconds.
kB = 1024
MB = 1024 * kB
GB = 1024 * MB
sec = 1000
second = sec
minute = 60 * sec
min = minute
hour = 60 * minute
day = 24 * hour

-- panic(fmt, ...): stop with a formatted message that names the config line.
function panic(fmt, ...)
	error(string.format(tostring(fmt), ...), 2)
end

-- env.NAME reads the process environment.
env = setmetatable({}, {
	__index = function (_, k) return os.getenv(k) end,
	__newindex = function () error('env is read-only', 2) end,
})

-- Serialises a value the way Knot Resolver's prompt shows it.
local function serialize(v, indent, seen)
	local t = type(v)
	if t == 'string' then
		return string.format('%q', v):gsub('\\\n', '\\n'):gsub("^\"(.*)\"$", function (s)
			return "'" .. s:gsub("'", "\\'") .. "'" end)
	elseif t ~= 'table' then
		return tostring(v)
	end
	local mt = getmetatable(v)
	if mt and mt.__tostring then return tostring(v) end
	if seen[v] then return '{...}' end
	seen[v] = true
	local keys = {}
	for k in pairs(v) do table.insert(keys, k) end
	table.sort(keys, function (a, b)
		local ta, tb = type(a), type(b)
		if ta ~= tb then return ta == 'number' end
		if ta == 'number' or ta == 'string' then return a < b end
		return tostring(a) < tostring(b)
	end)
	if #keys == 0 then seen[v] = nil; return '{}' end
	local pad = string.rep('    ', indent + 1)
	local out = {'{'}
	local n = #v
	for _, k in ipairs(keys) do
		local line
		if type(k) == 'number' and k >= 1 and k <= n and k % 1 == 0 then
			line = pad .. serialize(v[k], indent + 1, seen) .. ','
		else
			local key = type(k) == 'string' and serialize(k, 0, seen) or tostring(k)
			line = pad .. '[' .. key .. '] = ' .. serialize(v[k], indent + 1, seen) .. ','
		end
		table.insert(out, line)
	end
	table.insert(out, string.rep('    ', indent) .. '}')
	seen[v] = nil
	return table.concat(out, '\n')
end

function table_print(...)
	local parts = {}
	for i = 1, select('#', ...) do
		parts[#parts + 1] = serialize((select(i, ...)), 0, {})
	end
	return table.concat(parts, '\n')
end

-- The control prompt formats results with this.
function __kresd_format(...)
	if select('#', ...) == 0 then return '' end
	return table_print(...)
end

-- Configs run in a sandbox: assigning a table to `net` or `modules` feeds
-- its entries to those tables (Knot Resolver 5's `net = {'127.0.0.1'}` and
-- `modules = {'nsid', 'stats'}`); other globals are set as usual.
local protected = { net = true, modules = true, worker = true, env = true, event = true,
	cache = true, hints = true, trust_anchors = true }
__kresd_sandbox = setmetatable({}, {
	__index = _G,
	__newindex = function (_, k, v)
		if protected[k] then
			if type(v) ~= 'table' then
				error(string.format("'%s' cannot be replaced, assign a table of values to it", k), 2)
			end
			local target = rawget(_G, k)
			-- cache = {storage = ..., size = ...}: the place before the size,
			-- whatever order the table iterates in
			if k == 'cache' and v.storage ~= nil then target.storage = v.storage end
			for k2, v2 in pairs(v) do
				if not (k == 'cache' and k2 == 'storage') then target[k2] = v2 end
			end
		else
			rawset(_G, k, v)
		end
	end,
})

local help_text = [[
Configuration (Knot Resolver 5 names):
  net.listen(addr|{addrs}, [port], [{kind='dns'|'tls'|'doh2'|'control', freebind=bool}])
  net.close(addr, [port])   net.list()   net.interfaces()
  net.ipv4 = bool   net.ipv6 = bool   net.bufsize([size])
  net.outgoing_v4([addr])   net.outgoing_v6([addr])
  modules.load('name' | 'name > other' | 'name < other')   modules.unload(name)   modules.list()
  nsid.name([identifier])            (after modules.load('nsid'))
  stats.get(key)  stats.list([prefix])  (after modules.load('stats'))
  worker.id   worker.pid   worker.stats()
  event.after(ms, fn)   event.recurrent(ms, fn)   event.cancel(id)
  option(NAME, [bool])   verbose([bool])   log_level([level])   user(name, [group])
  cache.open(size, 'lmdb://dir')   cache.size = N*MB   cache.clear([name])   cache.count()
  cache.stats()   cache.max_ttl([s])   cache.min_ttl([s])   cache.backends()
  hints.root({name = addr})   hints.root_file(path)   hints['name'] = addr   hints.get([name])
  hints.set('name addr')   hints.del('name [addr]')   hints.add_hosts([path])   hints.config([path])
  hints.ttl([s])   hints.use_nodata(bool)
  policy.add(policy.all|suffix|suffix_common|pattern|domains(ACTION, ...) | function(req, query))
  policy.add(policy.rpz(ACTION, 'file.rpz', [watch]))   policy.add(policy.all(policy.REROUTE({...})), true)
  policy.add(rule, true)   policy.del(id)   policy.rules   policy.todnames({...})
    actions: PASS DENY DENY_MSG(msg[, ede]) DROP NO_ANSWER TC REFUSE FLAGS(set, clear)
             FORWARD({addrs}) STUB({addrs}) DEBUG_ALWAYS QTRACE REQTRACE MIRROR(addr)
             ANSWER({[kres.type.A] = {rdata=kres.str2ip('192.0.2.1'), ttl=300}}, [nodata])
  modules.load('view')   view:addr(subnet, rule)   view:tsig('\5mykey\0', rule)
  trust_anchors.add_file(path, [readonly])   trust_anchors.add('rr')   trust_anchors.remove(zone)
  trust_anchors.set_insecure({names})   trust_anchors.insecure   trust_anchors.summary()
  trust_anchors.keyfile_default   trust_anchors.hold_down_time|refresh_time|keep_removed = N
  mode(['strict'|'normal'|'permissive'])
  env.NAME   todname(name)   panic(fmt, ...)   table_print(v)   help()
Constants: kB MB GB  sec minute hour day]]

local help_obj = setmetatable({}, { __tostring = function () return help_text end })
function help()
	return help_obj
end
