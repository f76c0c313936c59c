// libFuzzer target for the RPZ zone-file reader (policy/rpz.cpp): any bytes
// as the file must give rules and warnings, never a crash, a hang or a
// leak; a lookup of a few names then works on whatever was loaded.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "policy/rpz.hpp"

namespace {

std::string zone_path()
{
    return "/tmp/kresd-fuzz-rpz-" + std::to_string(getpid()) + ".rpz";
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    static const std::string path = zone_path();
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return 0;
    std::fwrite(data, 1, size, f);
    std::fclose(f);
    try {
        kresd::policy::Rpz z(path, [](const std::string&) {});
        kresd::policy::Action given;
        const uint8_t names[][16] = {{1, 'a', 0}, {1, '*', 1, 'a', 0}, {0}};
        for (const auto& n : names) {
            size_t len = 0;
            while (n[len] != 0) len += 1 + n[len];
            z.lookup({n, len + 1}, given);
        }
    } catch (const kresd::policy::RpzError&) {
    }
    return 0;
}
