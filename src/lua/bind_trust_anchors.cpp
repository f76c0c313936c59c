// The `trust_anchors` table and mode(), as in Knot Resolver 5.6.
//
// The anchors live in one dnssec::TrustAnchors shared with the resolver
// (Host::resolve_config->anchors). bind_trust_anchors() creates it with the
// built-in root anchors before the config runs, because the daemon copies
// the resolve::Config (and so the shared_ptr) into the Resolver after the
// config: from then on the bindings mutate that same object and never
// replace the pointer. What RFC 5011 needs (which file each zone came
// from, whether it may be rewritten, the timers) is kept in
// Settings::trust_anchors; the daemon's app::TaUpdater (Knot Resolver's
// ta_update) reads it and keeps the managed files and anchors up to date.
#include <algorithm>
#include <lua.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "dnssec/anchors.hpp"
#include "dnssec/dnssec.hpp"
#include "lua/engine.hpp"
#include "util/log.hpp"

namespace kresd::lua {

namespace {

constexpr const char* kKeyfileDefault = "/usr/share/dns/root.key";

dnssec::TrustAnchors& anchors_of(lua_State* L, const char* fn) {
    resolve::Config* c = engine_of(L).host().resolve_config;
    if (!c || !c->anchors) luaL_error(L, "%s: no resolver configuration to hold trust anchors", fn);
    return *c->anchors;
}

TrustAnchorSettings& ta_settings(lua_State* L) {
    return engine_of(L).settings().trust_anchors;
}

dns::Name check_zone(lua_State* L, int idx, const char* fn) {
    const std::string text = check_string(L, idx, fn);
    dns::Name n;
    if (!dns::name_from_text(text, n))
        luaL_error(L, "%s: '%s' is not a domain name", fn, text.c_str());
    dns::name_lower(n);
    return n;
}

bool same_name(const dns::Name& a, const dns::Name& b) {
    return a.len == b.len && dns::name_in_zone(a.view(), b.view());
}

std::string zone_text(const dns::Name& n) {
    return dns::name_to_text(n.view());
}

// The managed (RFC 5011) file a zone's anchors came from, or null.
TrustAnchorFile* file_of(TrustAnchorSettings& s, const dns::Name& zone) {
    for (auto& f : s.files)
        if (same_name(f.zone, zone)) return &f;
    return nullptr;
}

void forget_file(TrustAnchorSettings& s, const dns::Name& zone) {
    std::erase_if(s.files, [&](const TrustAnchorFile& f) { return same_name(f.zone, zone); });
}

// Adds every record of `from` to `to` (the anchor of its owner grows).
void merge(dnssec::TrustAnchors& to, const dnssec::TrustAnchors& from) {
    for (const auto& a : from.all()) {
        for (const auto& rr : a.ds)
            to.add(rr);
        for (const auto& rr : a.keys)
            to.add(rr);
    }
}

// Knot Resolver keeps one zone per file or string ("do not mix").
std::optional<std::string> single_zone(const dnssec::TrustAnchors& set) {
    if (set.all().empty()) return "no DS or DNSKEY record";
    if (set.all().size() > 1)
        return "do not mix " + zone_text(set.all()[0].zone) + " and " +
               zone_text(set.all()[1].zone) + " anchors in one file or string";
    return std::nullopt;
}

// ---- summary() text, in Knot Resolver 5.6's layout ----

// "OWNER<pad to 20>\tTTL\tTYPE\tRDATA ; Valid: ; KeyTag:N": kresd 5.6 prints
// the RFC 5011 state there; without RFC 5011 every anchor is Valid.
std::string anchor_line(const dns::Record& rr) {
    const std::string text = dnssec::anchor_text(rr);
    if (text.empty()) return "";
    const unsigned tag = rr.type == dns::type::DS ? (rr.rdata[0] << 8) | rr.rdata[1]
                                                  : dnssec::key_tag(rr.rdata);
    return text + " ; Valid: ; KeyTag:" + std::to_string(tag) + "\n";
}

std::string zone_summary(const dnssec::TrustAnchors& ta, const dns::Name& zone) {
    const std::string name = zone_text(zone) + " ";
    std::string msg;
    for (const auto& nta : ta.negative())
        if (same_name(nta, zone)) msg = name + "is negative trust anchor\n";
    const dnssec::Anchor* a = ta.find(zone);
    if (!a) return msg.empty() ? name + "has no explicit trust anchors\n" : msg;
    if (!msg.empty()) msg += "WARNING! negative trust anchor also has an explicit TA\n";
    for (const auto& rr : a->ds)
        msg += anchor_line(rr);
    for (const auto& rr : a->keys)
        msg += anchor_line(rr);
    return msg;
}

std::string full_summary(const dnssec::TrustAnchors& ta) {
    auto is_nta = [&](const dns::Name& zone) {
        for (const auto& n : ta.negative())
            if (same_name(n, zone)) return true;
        return false;
    };
    std::string msg;
    for (const auto& nta : ta.negative())
        msg += zone_summary(ta, nta);
    size_t count = 0;
    for (const auto& a : ta.all()) {
        if (is_nta(a.zone)) continue; // printed with its NTA above
        ++count;
        msg += zone_summary(ta, a.zone);
    }
    if (count == 0) msg += "No valid trust anchors, DNSSEC validation is disabled\n";
    return msg;
}

// ---- the functions ----

// trust_anchors.add(rr_string): DS/DNSKEY records of one zone, one a line;
// not managed by RFC 5011.
int l_add(lua_State* L) {
    const char* fn = "trust_anchors.add";
    const std::string text = check_string(L, 1, fn);
    // The records, one a line; blank and comment lines skipped.
    std::vector<std::pair<int, std::string>> lines;
    for (size_t start = 0, lineno = 1; start <= text.size(); ++lineno) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        start = end + 1;
        const auto first = line.find_first_not_of(" \t\r");
        if (first != std::string::npos && line[first] != ';')
            lines.emplace_back(static_cast<int>(lineno), std::move(line));
    }
    dnssec::TrustAnchors fresh;
    std::string err;
    for (const auto& [lineno, line] : lines) {
        if (auto why = fresh.add_text(line)) {
            err = lines.size() > 1 ? "line " + std::to_string(lineno) + ": " + *why : *why;
            break;
        }
    }
    if (err.empty() && lines.empty()) err = "no DS or DNSKEY record given";
    if (err.empty())
        if (auto why = single_zone(fresh)) err = *why;
    if (!err.empty()) return luaL_error(L, "%s: %s", fn, err.c_str());

    const dns::Name zone = fresh.all()[0].zone;
    auto& s = ta_settings(L);
    if (const TrustAnchorFile* f = file_of(s, zone); f && !f->readonly)
        return luaL_error(L, "%s: %s has anchors managed by RFC 5011 from %s; remove them first",
                          fn, zone_text(zone).c_str(), f->path.c_str());
    auto& ta = anchors_of(L, fn);
    if (ta.find(zone))
        KR_LOG(warning, "ta", "extending the trust anchors of %s", zone_text(zone).c_str());
    merge(ta, fresh);
    return 0;
}

// trust_anchors.add_file(path, [readonly]): replaces the anchors of the
// file's zone. readonly false (the default) marks the file as managed by
// RFC 5011: kept with its path for ta_update.
int l_add_file(lua_State* L) {
    const char* fn = "trust_anchors.add_file";
    const std::string path = check_string(L, 1, fn);
    const bool readonly = lua_toboolean(L, 2) != 0;
    dnssec::TrustAnchors fresh;
    if (auto why = fresh.add_file(path)) return luaL_error(L, "%s: %s", fn, why->c_str());
    if (auto why = single_zone(fresh))
        return luaL_error(L, "%s: %s: %s", fn, path.c_str(), why->c_str());

    const dns::Name zone = fresh.all()[0].zone;
    auto& ta = anchors_of(L, fn);
    if (ta.remove(zone))
        KR_LOG(info, "ta", "the anchors of %s from %s replace the previous ones",
               zone_text(zone).c_str(), path.c_str());
    merge(ta, fresh);
    auto& s = ta_settings(L);
    forget_file(s, zone);
    s.files.push_back({zone, path, readonly});
    return 0;
}

// trust_anchors.remove(zone) -> true when it had anchors.
int l_remove(lua_State* L) {
    const char* fn = "trust_anchors.remove";
    const dns::Name zone = check_zone(L, 1, fn);
    forget_file(ta_settings(L), zone);
    lua_pushboolean(L, anchors_of(L, fn).remove(zone));
    return 1;
}

// trust_anchors.set_insecure({names}): replaces the negative trust anchors.
void set_insecure(lua_State* L, int idx) {
    const char* fn = "trust_anchors.set_insecure";
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: expected a list of domain names, got %s", fn, luaL_typename(L, idx));
    auto& ta = anchors_of(L, fn);
    std::vector<dns::Name> names;
    for (int i = 1;; ++i) {
        lua_rawgeti(L, idx, i);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        dns::Name n = check_zone(L, lua_gettop(L), fn);
        lua_pop(L, 1);
        if (ta.find(n))
            luaL_error(L, "%s: %s has trust anchors; use trust_anchors.remove() instead", fn,
                       zone_text(n).c_str());
        names.push_back(n);
    }
    // What the cache holds below a name whose NTA comes or goes was judged
    // under the old rule (insecure, or secure with AD): forget it, so the
    // next answer is judged anew. Only names whose status changes.
    std::vector<dns::Name> changed;
    auto listed = [](const std::vector<dns::Name>& list, const dns::Name& n) {
        return std::any_of(list.begin(), list.end(), [&](const dns::Name& o) {
            return dns::name_in_zone(n.view(), o.view()) && dns::name_in_zone(o.view(), n.view());
        });
    };
    for (const auto& n : ta.negative())
        if (!listed(names, n)) changed.push_back(n);
    for (const auto& n : names)
        if (!listed(ta.negative(), n)) changed.push_back(n);
    ta.set_negative(std::move(names));
    Engine& e = engine_of(L);
    if (cache::Cache* c = e.host().cache_get ? e.host().cache_get() : nullptr)
        for (const auto& n : changed) c->clear(n.view());
}

int l_set_insecure(lua_State* L) {
    set_insecure(L, 1);
    return 0;
}

// trust_anchors.summary([zone])
int l_summary(lua_State* L) {
    const char* fn = "trust_anchors.summary";
    auto& ta = anchors_of(L, fn);
    const std::string text =
        lua_isnoneornil(L, 1) ? full_summary(ta) : zone_summary(ta, check_zone(L, 1, fn));
    lua_pushlstring(L, text.data(), text.size());
    return 1;
}

int l_config(lua_State* L) {
    return luaL_error(L, "trust_anchors.config() was removed in Knot Resolver 5, use "
                         "trust_anchors.add_file()");
}

// ---- properties: insecure, keyfile_default and the RFC 5011 timers ----

int l_index(lua_State* L) {
    const std::string k = lua_isstring(L, 2) ? lua_tostring(L, 2) : "";
    auto& s = ta_settings(L);
    if (k == "insecure") {
        lua_newtable(L);
        int i = 0;
        for (const auto& n : anchors_of(L, "trust_anchors.insecure").negative()) {
            lua_pushstring(L, zone_text(n).c_str());
            lua_rawseti(L, -2, ++i);
        }
    } else if (k == "keyfile_default") {
        lua_pushstring(L, kKeyfileDefault);
    } else if (k == "hold_down_time") {
        lua_pushnumber(L, static_cast<lua_Number>(s.hold_down_time_ms));
    } else if (k == "refresh_time") {
        if (!s.refresh_time_ms) return 0;
        lua_pushnumber(L, static_cast<lua_Number>(*s.refresh_time_ms));
    } else if (k == "keep_removed") {
        lua_pushnumber(L, s.keep_removed);
    } else {
        return 0;
    }
    return 1;
}

uint64_t check_count(lua_State* L, const std::string& k, bool positive) {
    const lua_Number v = lua_isnumber(L, 3) ? lua_tonumber(L, 3) : -1;
    if (!(v >= (positive ? 1 : 0) && v <= 9007199254740992.0) ||
        v != static_cast<lua_Number>(static_cast<uint64_t>(v)))
        luaL_error(L, "trust_anchors.%s: expected a whole number%s, got %s", k.c_str(),
                   positive ? " above 0" : " (0 or more)",
                   lua_tostring(L, 3) ? lua_tostring(L, 3) : luaL_typename(L, 3));
    return static_cast<uint64_t>(v);
}

int l_newindex(lua_State* L) {
    const std::string k = lua_isstring(L, 2) ? lua_tostring(L, 2) : "";
    auto& s = ta_settings(L);
    if (k == "insecure") {
        set_insecure(L, 3);
    } else if (k == "hold_down_time") {
        s.hold_down_time_ms = check_count(L, k, false);
    } else if (k == "refresh_time") {
        if (lua_isnil(L, 3))
            s.refresh_time_ms.reset();
        else
            s.refresh_time_ms = check_count(L, k, true);
    } else if (k == "keep_removed") {
        s.keep_removed = static_cast<unsigned>(check_count(L, k, false));
    } else if (k == "keyfile_default") {
        return luaL_error(L, "trust_anchors.keyfile_default cannot be set (it is compiled in); use "
                             "trust_anchors.remove('.') and trust_anchors.add_file(path)");
    } else if (k == "file") {
        return luaL_error(L, "trust_anchors.file was removed in Knot Resolver 5, use "
                             "trust_anchors.add_file(path)");
    } else if (k == "negative") {
        return luaL_error(L, "trust_anchors.negative was removed in Knot Resolver 5, use "
                             "trust_anchors.set_insecure({names})");
    } else {
        lua_rawset(L, 1); // anything else: a plain field, as in Knot Resolver
    }
    return 0;
}

// mode(['strict'|'normal'|'permissive']): the current mode, or true after
// setting it (as Knot Resolver 5.6 answers).
int l_mode(lua_State* L) {
    Engine& e = engine_of(L);
    if (lua_isnoneornil(L, 1)) {
        lua_pushstring(L, e.settings().mode.c_str());
        return 1;
    }
    std::string m = check_string(L, 1, "mode");
    if (m != "strict" && m != "normal" && m != "permissive")
        return luaL_error(L, "mode: '%s' is not strict, normal or permissive", m.c_str());
    e.settings().mode = m;
    lua_pushboolean(L, 1);
    return 1;
}

} // namespace

void bind_trust_anchors(lua_State* L) {
    // Knot Resolver 5 validates by default from the root anchors.
    if (resolve::Config* c = engine_of(L).host().resolve_config; c && !c->anchors)
        c->anchors =
            std::make_shared<dnssec::TrustAnchors>(dnssec::TrustAnchors::with_root_defaults());

    lua_newtable(L);
    for (const luaL_Reg& f : std::initializer_list<luaL_Reg>{{"add", l_add},
                                                             {"add_file", l_add_file},
                                                             {"remove", l_remove},
                                                             {"set_insecure", l_set_insecure},
                                                             {"summary", l_summary},
                                                             {"config", l_config}}) {
        lua_pushcfunction(L, f.func);
        lua_setfield(L, -2, f.name);
    }
    lua_newtable(L);
    lua_pushcfunction(L, l_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    lua_setglobal(L, "trust_anchors");

    lua_pushcfunction(L, l_mode);
    lua_setglobal(L, "mode");
}

} // namespace kresd::lua
