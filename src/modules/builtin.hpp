// Factories of the built-in modules (one file each).
#pragma once

#include "modules/module.hpp"

namespace kresd::modules {

std::unique_ptr<Module> make_nsid();
std::unique_ptr<Module> make_stats();
std::unique_ptr<Module> make_ta_sentinel();
std::unique_ptr<Module> make_ta_signal_query();
std::unique_ptr<Module> make_detect_time_skew();
std::unique_ptr<Module> make_priming();
std::unique_ptr<Module> make_bogus_log();
std::unique_ptr<Module> make_edns_keepalive();
std::unique_ptr<Module> make_refuse_nord();
std::unique_ptr<Module> make_dns64();
std::unique_ptr<Module> make_renumber();
std::unique_ptr<Module> make_rebinding();
std::unique_ptr<Module> make_workarounds();
std::unique_ptr<Module> make_predict();
std::unique_ptr<Module> make_prefill();
std::unique_ptr<Module> make_serve_stale();

} // namespace kresd::modules
