// Query policy: Knot Resolver 5's policy.add() rules in a typed form.
//
// A rule is a filter (all, suffix, suffix_common, pattern) and an action.
// Rules are checked in the order they were added; the first matching rule
// with a final action decides (PASS, DENY, DROP, TC, REFUSE, FORWARD,
// TLS_FORWARD, STUB);
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

enum class ActionKind { pass, deny, drop, tc, refuse, flags, forward, stub, debug };

struct Action {
    ActionKind kind = ActionKind::pass;
    std::string message;                 // DENY_MSG text (sent as EDE extra text)
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

// Applies option names (Knot Resolver's flag names) to request options;
// unknown names are ignored here (the binding rejects them up front).
void apply_flag(resolve::RequestOptions& o, const std::string& name, bool on);

} // namespace kresd::policy
