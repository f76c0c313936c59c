#include "modules/builtin.hpp"

namespace kresd::modules {

std::unique_ptr<Module> create(std::string_view name)
{
    if (name == "nsid") return make_nsid();
    if (name == "stats") return make_stats();
    return nullptr;
}

std::vector<std::string> builtin_names() { return {"nsid", "stats"}; }

} // namespace kresd::modules
