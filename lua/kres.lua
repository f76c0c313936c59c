-- SPDX-License-Identifier: GPL-3.0-or-later
-- The `kres` table of Knot Resolver 5 as far as policy functions use it:
-- DNS constants (IANA numbers), layer states, and name/address helpers.
-- Also what require('kres') returns.

local function invert(t)
	local out = {}
	for k, v in pairs(t) do out[v] = k end
	return out
end

local class = { IN = 1, CH = 3, NONE = 254, ANY = 255 }

-- RFC 1035 and the IANA "Resource Record (RR) TYPEs" registry.
local rrtype = {
	A = 1, NS = 2, MD = 3, MF = 4, CNAME = 5, SOA = 6, MB = 7, MG = 8, MR = 9, NULL = 10,
	WKS = 11, PTR = 12, HINFO = 13, MINFO = 14, MX = 15, TXT = 16, RP = 17, AFSDB = 18,
	X25 = 19, ISDN = 20, RT = 21, NSAP = 22, ['NSAP-PTR'] = 23, SIG = 24, KEY = 25, PX = 26,
	GPOS = 27, AAAA = 28, LOC = 29, NXT = 30, EID = 31, NIMLOC = 32, SRV = 33, ATMA = 34,
	NAPTR = 35, KX = 36, CERT = 37, A6 = 38, DNAME = 39, SINK = 40, OPT = 41, APL = 42,
	DS = 43, SSHFP = 44, IPSECKEY = 45, RRSIG = 46, NSEC = 47, DNSKEY = 48, DHCID = 49,
	NSEC3 = 50, NSEC3PARAM = 51, TLSA = 52, SMIMEA = 53, HIP = 55, NINFO = 56, RKEY = 57,
	TALINK = 58, CDS = 59, CDNSKEY = 60, OPENPGPKEY = 61, CSYNC = 62, ZONEMD = 63,
	SVCB = 64, HTTPS = 65, SPF = 99, UINFO = 100, UID = 101, GID = 102, UNSPEC = 103,
	NID = 104, L32 = 105, L64 = 106, LP = 107, EUI48 = 108, EUI64 = 109, TKEY = 249,
	TSIG = 250, IXFR = 251, AXFR = 252, MAILB = 253, MAILA = 254, ANY = 255, URI = 256,
	CAA = 257, AVC = 258, DOA = 259, TA = 32768, DLV = 32769,
}

local section = { ANSWER = 0, AUTHORITY = 1, ADDITIONAL = 2 }
local opcode = { QUERY = 0, IQUERY = 1, STATUS = 2, NOTIFY = 4, UPDATE = 5 }
local rcode = {
	NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMPL = 4, REFUSED = 5,
	YXDOMAIN = 6, YXRRSET = 7, NXRRSET = 8, NOTAUTH = 9, NOTZONE = 10, BADVERS = 16,
	BADCOOKIE = 23,
}
-- RFC 8914 Extended DNS Error codes, by Knot Resolver 5's names.
local extended_error = {
	NONE = -1, OTHER = 0, DNSKEY_ALG = 1, DS_DIGEST = 2, STALE = 3, FORGED = 4,
	INDETERMINATE = 5, BOGUS = 6, SIG_EXPIRED = 7, SIG_NOTYET = 8, DNSKEY_MISS = 9,
	RRSIG_MISS = 10, DNSKEY_BIT = 11, NSEC_MISS = 12, CACHED_ERR = 13, NOT_READY = 14,
	BLOCKED = 15, CENSORED = 16, FILTERED = 17, PROHIBITED = 18, STALE_NXD = 19,
	NOTAUTH = 20, NOTSUP = 21, NREACH_AUTH = 22, NETWORK = 23, INV_DATA = 24,
}

kres = {
	class = class, type = rrtype, section = section, opcode = opcode, rcode = rcode,
	extended_error = extended_error,
	tostring = {
		class = invert(class), type = invert(rrtype), section = invert(section),
		opcode = invert(opcode), rcode = invert(rcode),
		extended_error = invert(extended_error),
	},
	-- Layer states: what a custom action function(state, req) returns
	-- (DONE: answer as it stands; FAIL: SERVFAIL; nil: go on).
	CONSUME = 1, PRODUCE = 2, DONE = 4, FAIL = 8, YIELD = 16,
}

-- 'example.com' -> lower-case wire form (nil when not a name).
function kres.str2dname(name)
	if type(name) ~= 'string' then return nil end
	local ok, wire = pcall(todname, name)
	if not ok then return nil end
	return wire:lower()
end

-- Wire form -> 'example.com.' (nil when not a name).
function kres.dname2str(dname)
	if type(dname) ~= 'string' then return nil end
	return __kresd_dname2str(dname)
end

function kres.dname2wire(name) return name end

-- '192.0.2.1' or '2001:db8::1' -> the address's bytes (nil otherwise).
function kres.str2ip(text)
	if type(text) ~= 'string' then return nil end
	return __kresd_str2ip(text)
end

package.loaded.kres = kres
