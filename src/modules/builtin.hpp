// Factories of the built-in modules (one file each).
#pragma once

#include "modules/module.hpp"

namespace kresd::modules {

std::unique_ptr<Module> make_nsid();
std::unique_ptr<Module> make_stats();

} // namespace kresd::modules
