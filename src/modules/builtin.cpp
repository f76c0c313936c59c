#include "modules/builtin.hpp"

namespace kresd::modules {

namespace {

struct Entry {
    const char* name;
    std::unique_ptr<Module> (*make)();
};

constexpr Entry kBuiltin[] = {
    {"nsid", make_nsid},
    {"stats", make_stats},
    {"ta_sentinel", make_ta_sentinel},
    {"ta_signal_query", make_ta_signal_query},
    {"detect_time_skew", make_detect_time_skew},
    {"priming", make_priming},
    {"bogus_log", make_bogus_log},
    {"edns_keepalive", make_edns_keepalive},
    {"refuse_nord", make_refuse_nord},
    {"dns64", make_dns64},
    {"renumber", make_renumber},
    {"rebinding", make_rebinding},
    {"workarounds", make_workarounds},
    {"predict", make_predict},
    {"prefill", make_prefill},
    {"serve_stale", make_serve_stale},
};

} // namespace

std::unique_ptr<Module> create(std::string_view name)
{
    for (const auto& e : kBuiltin)
        if (name == e.name) return e.make();
    return nullptr;
}

std::vector<std::string> builtin_names()
{
    std::vector<std::string> out;
    for (const auto& e : kBuiltin) out.emplace_back(e.name);
    return out;
}

// Knot Resolver 5.6 loads (sandbox.lua) ta_update, ta_signal_query, policy,
// priming, detect_time_skew, detect_time_jump, ta_sentinel, edns_keepalive,
// refuse_nord, watchdog, extended_error; these are the ones built here as
// modules (policy is built into the daemon).
std::vector<std::string> default_names()
{
    return {"ta_signal_query", "priming", "detect_time_skew", "ta_sentinel", "edns_keepalive",
            "refuse_nord"};
}

} // namespace kresd::modules
