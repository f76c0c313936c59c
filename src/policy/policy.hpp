// Query policy: Knot Resolver 5's policy.add() rules in a typed form.
//
// A rule is a filter (all, suffix, suffix_common, pattern, domains, rpz,
// or a Lua function) and an action (or a Lua action function).
// Rules are checked in the order they were added; the first matching rule
// with a final action decides (PASS, DENY, DROP, NO_ANSWER, TC, REFUSE,
// FORWARD, TLS_FORWARD, STUB);
// FLAGS and DEBUG_ALWAYS are chain actions: they change the request and the
// search goes on. No match means PASS (resolve normally).
//
// As in Knot Resolver 5.6, these rules come before everything the resolver
// answers by itself: only when no rule decided (Decision::decided() false)
// do the built-in special-use names (special_names.hpp) and then the local
// hints get their turn. A PASS, FORWARD or STUB rule on test. therefore lets
// test. resolve, and a DENY rule beats a hint or the localhost. answer.
// The view rules (view:addr, view:tsig; evaluate_views()) come after both,
// when the rules left the query to be resolved.
//
// Lua rules call back into the Lua state through LuaHooks, only when such
// a rule is reached: a policy without them never calls Lua (pattern rules
// aside).
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns/wire.hpp"
#include "policy/subnet.hpp"
#include "resolve/resolve.hpp"

namespace kresd::policy {

// lua: a custom action function(state, req) (Action::lua_ref); done and
// fail are what such a function decided (kres.DONE: the answer as it
// stands, NOERROR and empty; kres.FAIL: SERVFAIL, with the EDE it set).
enum class ActionKind {
    pass, deny, drop, no_answer, tc, refuse, flags, forward, stub, debug, answer, lua, done, fail,
    reroute, // REROUTE: rewrites addresses of the answer (a postrule; a rule: as PASS)
    mirror,  // MIRROR: a chain action; the worker sends a copy of the query to `targets`
};

// RFC 8914 Extended DNS Error codes of the policy answers.
inline constexpr uint16_t kEdeBlocked = 15;    // DENY, DENY_MSG (default)
inline constexpr uint16_t kEdeProhibited = 18; // DROP, REFUSE
inline constexpr uint16_t kEdeNotSupported = 21; // the special-use names' NXDOMAIN
inline constexpr uint16_t kEdeForged = 4;        // ANSWER and RPZ local data
inline constexpr uint16_t kNoEde = 0xffff;       // a custom action set no EDE
inline constexpr size_t kMaxEdeText = 64;        // longer EDE texts are cut

// Local data of policy.ANSWER and of an RPZ name (kind answer): records by
// type, each set with one TTL and rdata in wire form.
struct AnswerData {
    struct Set {
        uint16_t type = 0;
        uint32_t ttl = 1;
        std::vector<std::vector<uint8_t>> rdata;
    };
    std::vector<Set> sets;
    // Types without a set: answer NODATA (true) or let the next rule decide.
    bool nodata = false;
    const Set* find(uint16_t type) const
    {
        for (const auto& s : sets)
            if (s.type == type) return &s;
        return nullptr;
    }
};

class Rpz; // policy/rpz.hpp

// policy.REROUTE({['192.0.2.0/24'] = '127.0.0.0'}): for each A/AAAA record
// of an answer, the first prefix holding its address (of the target's
// family) replaces the address's first `bits` bits with the target's (the
// whole address when the target ends with '!'). See reroute_answer().
struct Reroute {
    struct Prefix {
        std::array<uint8_t, 16> subnet{}; // IPv4 in the first 4 bytes
        unsigned bits = 0;
        bool v6 = false;                  // the target's family (AAAA records)
        std::array<uint8_t, 16> target{};
        bool exact = false;
    };
    std::vector<Prefix> prefixes;
};

struct Action {
    ActionKind kind = ActionKind::pass;
    std::string message;                 // DENY_MSG text: TXT explanation.invalid.
    uint16_t ede = kEdeBlocked;          // DENY_MSG's second argument
    std::vector<std::string> set_flags;  // FLAGS: option names to set
    std::vector<std::string> clear_flags;
    std::vector<resolve::Address> targets; // FORWARD/STUB/TLS_FORWARD
    // TLS_FORWARD (kind forward): how to authenticate each of `targets`.
    std::vector<std::shared_ptr<const resolve::TlsAuth>> tls;
    std::shared_ptr<const AnswerData> answer; // kind answer
    std::shared_ptr<const Reroute> reroute;   // kind reroute
    int lua_ref = 0;       // lua: the function (a Lua registry reference)
    std::string ede_text;  // fail: the EDE text the function set (`ede`: its code, 0xffff none)
};

// domains: exact names (`names`); lua: a filter function(req, query)
// returning an action or nil (Rule::lua_ref).
enum class FilterKind { all, suffix, suffix_common, pattern, rpz, domains, lua };

struct Rule {
    FilterKind filter = FilterKind::all;
    std::vector<dns::Name> names; // suffix / suffix_common: lower-case wire names
    dns::Name common;             // suffix_common: the shared suffix checked first
    std::string pattern;          // pattern: a Lua pattern matched against the wire qname
    std::shared_ptr<const Rpz> rpz; // rpz: the zone picks the action (its own or `action`)
    int lua_ref = 0;                // lua: the filter function (a Lua registry reference)
    Action action;
    uint64_t id = 0;                // policy.add()'s id, for policy.del()
    mutable uint64_t count = 0;     // queries it matched (Knot Resolver 5.6's rule.count)
};

// Who asks: what view rules and Lua rules see of the client. Addresses are
// null for the daemon's own questions (`dst` also when unknown).
struct Client {
    const sockaddr* src = nullptr;
    const sockaddr* dst = nullptr;
    bool tcp = false;  // any stream: TCP, TLS, HTTPS (5.6's qsource.flags.tcp)
    bool tls = false;  // TLS or HTTPS
    bool http = false; // HTTPS (DoH)
    // Lower-case wire owner of the query's TSIG record; empty: none. Not
    // verified: Knot Resolver 5.6 does not verify it either.
    std::span<const uint8_t> tsig_key;
};

// The Lua side of Lua rules (lua/bind_lua_rules.cpp); used only while such
// rules exist. `filter` calls a filter function and returns the action it
// chose (valid until the next call) or null for none; `action` runs a
// custom action function and returns its outcome: null for a chain
// (nothing decided), else an action of kind pass, done or fail.
struct LuaHooks {
    std::function<const Action*(int ref, const dns::Query&, const Client&)> filter;
    std::function<const Action*(int ref, const dns::Query&, const Client&)> action;
};

struct Decision {
    ActionKind final = ActionKind::pass;
    const Action* action = nullptr; // the deciding rule's action (final kinds)
    // MIRROR rules that matched on the way (their `targets` get a copy of
    // the query); empty in the common case (nothing allocated).
    std::vector<const Action*> mirrors;
    // A rule with a final action matched (an explicit PASS too); false when
    // none matched or only chain actions did.
    bool decided() const { return action != nullptr; }
    // The request's options: the defaults given to evaluate() unless a rule
    // changed them (then a copy; the common no-rule case copies nothing).
    const resolve::RequestOptions& options() const { return changed ? *changed : *defaults; }

    const resolve::RequestOptions* defaults = nullptr;
    std::optional<resolve::RequestOptions> changed;
    resolve::RequestOptions& change()
    {
        if (!changed) changed = *defaults;
        return *changed;
    }
};

// Matches a Lua pattern against the query name in wire form; supplied by
// the Lua side, used only when pattern rules exist.
using PatternMatcher = std::function<bool(const std::string& pattern, std::span<const uint8_t>)>;

// View rules (Knot Resolver 5.6's view module): a rule tied to a client
// subnet or a TSIG key name.
struct AddrView {
    Subnet subnet;
    Rule rule;
};
struct TsigView {
    dns::Name key; // lower-case wire name
    Rule rule;
};

class Policy {
public:
    // policy.add(rule[, postrule]): appends and returns the rule's id (from
    // 0, one sequence for both lists, as in Knot Resolver 5.6).
    uint64_t add(Rule r, bool post = false)
    {
        r.id = next_id_++;
        (post ? postrules_ : rules_).push_back(std::move(r));
        return next_id_ - 1;
    }
    // policy.del(id): removes the rule (or postrule); false when none has it.
    bool del(uint64_t id);
    void clear() { rules_.clear(); }
    size_t size() const { return rules_.size(); }
    const std::vector<Rule>& rules() const { return rules_; }
    const std::vector<Rule>& postrules() const { return postrules_; }
    bool has_postrules() const { return !postrules_.empty(); }
    void set_pattern_matcher(PatternMatcher m) { matcher_ = std::move(m); }
    void set_lua_hooks(LuaHooks h) { lua_ = std::move(h); }

    // view:addr(subnet, rule[, dst]) and view:tsig(key, rule); return the
    // rule's id (from kFirstViewId: the ids of add() stay 5.6's).
    uint64_t add_view(const Subnet& s, Rule r, bool dst);
    uint64_t add_tsig_view(const dns::Name& key, Rule r);
    // Whether a view may match a client query (a check of two containers:
    // the cost of views to a policy without any).
    bool has_views() const { return views_on_ && (!addr_views_.empty() || !tsig_views_.empty()); }
    // modules.unload('view') switches the view rules off, modules.load('view')
    // on again with the same rules, as 5.6 (its module keeps them).
    void set_views_on(bool on) { views_on_ = on; }
    const std::vector<AddrView>& addr_views() const { return addr_views_; }
    const std::vector<AddrView>& dst_views() const { return dst_views_; }
    const std::vector<TsigView>& tsig_views() const { return tsig_views_; }

    // The rules (policy.add) for a client's query. `defaults` carries the
    // global options (option('NO_MINIMIZE') etc.).
    Decision evaluate(const dns::Query& q, const resolve::RequestOptions& defaults,
                      const Client& c = {}) const;
    // The Decision refers to `defaults`: no temporaries.
    Decision evaluate(const dns::Query& q, resolve::RequestOptions&& defaults,
                      const Client& c = {}) const = delete;
    // The postrules, the same way, for a query whose answer is written
    // (the worker applies the final decision to the answer).
    Decision evaluate_post(const dns::Query& q, const resolve::RequestOptions& defaults,
                           const Client& c) const;
    // The view rules, as Knot Resolver 5.6's view module runs them after
    // the policy module: only when the rules and the special names let the
    // query go on (views_apply()). TSIG views first, then the source-subnet
    // views, each list in the order added (not the most specific subnet
    // first); chain actions carry on to the next match, the first final
    // action decides and replaces `d`'s. Destination views (view:addr's
    // third argument) never match a client's query, as in 5.6, whose view
    // module tries them only for a request without a source address.
    void evaluate_views(const dns::Query& q, const Client& c, Decision& d) const;
    // Whether the view rules get their turn after `d` (5.6: the policy
    // module did not finish the request: PASS, FORWARD, STUB, chain only).
    static bool views_apply(const Decision& d);

private:
    bool matches(const Rule& r, const dns::Query& q, const Client& c) const;
    // One rule against the query: applies a chain action to `d` and goes
    // on (false), or records a final decision (true).
    bool step(const Rule& r, const dns::Query& q, const Client& c, Decision& d) const;
    std::vector<Rule> rules_, postrules_;
    std::vector<AddrView> addr_views_, dst_views_;
    std::vector<TsigView> tsig_views_;
    static constexpr uint64_t kFirstViewId = uint64_t{1} << 40;
    uint64_t next_id_ = 0, next_view_id_ = kFirstViewId;
    bool views_on_ = true;
    PatternMatcher matcher_;
    LuaHooks lua_;
};

// Writes the answer of a final DENY, DROP or REFUSE decision into `b`
// (after begin()), as Knot Resolver 5.6's policy module forms it:
//  DENY / DENY_MSG(msg, ede): NXDOMAIN, AA; authority
//    `QNAME 10800 SOA QNAME nobody.invalid. 1 3600 1200 604800 10800`;
//    with a message also additional `explanation.invalid. 10800 TXT "msg"`;
//    EDE `ede` (15 Blocked unless given) with extra text "CR36".
//  DROP: SERVFAIL, EDE 18 (Prohibited) "U5KL".
//  REFUSE: REFUSED, EDE 18 (Prohibited) "EIM4".
//  ANSWER (and RPZ local data): NOERROR, AA, EDE 4 (Forged) "5DO5"; the
//    set of the query's type as answer records owned by the QNAME, or
//    NODATA with the DENY SOA in authority at the TTL 1 (a SOA set of the
//    data, if any, instead).
//  done (a custom action's kres.DONE): nothing more: NOERROR, empty.
//  fail (kres.FAIL): SERVFAIL, with the EDE code and text the function set.
// The records take the query's class. AD is cleared in all three. The EDE needs EDNS in the query and room
// reserved in begin(). Returns false (and writes nothing) for other kinds.
// REROUTE: rewrites the A/AAAA records of `b`'s answer section that a
// prefix holds. When one changed, only the answer section stays (RRSIGs
// dropped: rewritten data cannot validate), AD is cleared and EDE 4
// (Forged) "DUQR" is added if it fits. Returns whether a record changed.
bool reroute_answer(const Reroute& r, dns::ResponseBuilder& b);

bool write_answer(ActionKind kind, const Action* action, const dns::Query& q,
                  dns::ResponseBuilder& b);

// Applies option names (Knot Resolver's flag names) to request options;
// unknown names are ignored here (the binding rejects them up front).
void apply_flag(resolve::RequestOptions& o, const std::string& name, bool on);

} // namespace kresd::policy
