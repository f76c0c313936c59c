// Query policy: Knot Resolver 5's policy.add() rules in a typed form.
//
// A rule is a filter (all, suffix, suffix_common, pattern) and an action.
// Rules are checked in the order they were added; the first matching rule
// with a final action decides (PASS, DENY, DROP, NO_ANSWER, TC, REFUSE,
// FORWARD, TLS_FORWARD, STUB);
// FLAGS and DEBUG_ALWAYS are chain actions: they change the request and the
// search goes on. No match means PASS (resolve normally).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns/wire.hpp"
#include "resolve/resolve.hpp"

namespace kresd::policy {

enum class ActionKind { pass, deny, drop, no_answer, tc, refuse, flags, forward, stub, debug };

// RFC 8914 Extended DNS Error codes of the policy answers.
inline constexpr uint16_t kEdeBlocked = 15;    // DENY, DENY_MSG (default)
inline constexpr uint16_t kEdeProhibited = 18; // DROP, REFUSE

struct Action {
    ActionKind kind = ActionKind::pass;
    std::string message;                 // DENY_MSG text: TXT explanation.invalid.
    uint16_t ede = kEdeBlocked;          // DENY_MSG's second argument
    std::vector<std::string> set_flags;  // FLAGS: option names to set
    std::vector<std::string> clear_flags;
    std::vector<resolve::Address> targets; // FORWARD/STUB/TLS_FORWARD
    // TLS_FORWARD (kind forward): how to authenticate each of `targets`.
    std::vector<std::shared_ptr<const resolve::TlsAuth>> tls;
};

enum class FilterKind { all, suffix, suffix_common, pattern };

struct Rule {
    FilterKind filter = FilterKind::all;
    std::vector<dns::Name> names; // suffix / suffix_common: lower-case wire names
    dns::Name common;             // suffix_common: the shared suffix checked first
    std::string pattern;          // pattern: a Lua pattern matched against the wire qname
    Action action;
};

struct Decision {
    ActionKind final = ActionKind::pass;
    const Action* action = nullptr; // the deciding rule's action (final kinds)
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

class Policy {
public:
    void add(Rule r) { rules_.push_back(std::move(r)); }
    void clear() { rules_.clear(); }
    size_t size() const { return rules_.size(); }
    void set_pattern_matcher(PatternMatcher m) { matcher_ = std::move(m); }

    // `defaults` carries the global options (option('NO_MINIMIZE') etc.).
    Decision evaluate(const dns::Query& q, const resolve::RequestOptions& defaults) const;
    // The Decision refers to `defaults`: no temporaries.
    Decision evaluate(const dns::Query& q, resolve::RequestOptions&& defaults) const = delete;

private:
    bool matches(const Rule& r, const dns::Query& q) const;
    std::vector<Rule> rules_;
    PatternMatcher matcher_;
};

// Writes the answer of a final DENY, DROP or REFUSE decision into `b`
// (after begin()), as Knot Resolver 5.6's policy module forms it:
//  DENY / DENY_MSG(msg, ede): NXDOMAIN, AA; authority
//    `QNAME 10800 SOA QNAME nobody.invalid. 1 3600 1200 604800 10800`;
//    with a message also additional `explanation.invalid. 10800 TXT "msg"`;
//    EDE `ede` (15 Blocked unless given) with extra text "CR36".
//  DROP: SERVFAIL, EDE 18 (Prohibited) "U5KL".
//  REFUSE: REFUSED, EDE 18 (Prohibited) "EIM4".
// The records take the query's class. AD is cleared in all three. The EDE needs EDNS in the query and room
// reserved in begin(). Returns false (and writes nothing) for other kinds.
bool write_answer(ActionKind kind, const Action* action, const dns::Query& q,
                  dns::ResponseBuilder& b);

// Applies option names (Knot Resolver's flag names) to request options;
// unknown names are ignored here (the binding rejects them up front).
void apply_flag(resolve::RequestOptions& o, const std::string& name, bool on);

} // namespace kresd::policy
