// Test helpers for src/cache: names from text, a temporary cache directory.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kresd::cache::test {

// The "now" of the tests (seconds), and sizes and types they use.
inline constexpr uint64_t T0 = 1700000000;
inline constexpr uint64_t MiB = 1024 * 1024;
inline constexpr uint16_t A = 1, NS = 2, CNAME = 5, MX = 15, TXT = 16, AAAA = 28;

// "www.Example.com" -> wire; "." -> root. No escapes.
inline std::vector<uint8_t> wire(std::string_view text) {
    std::vector<uint8_t> out;
    if (!text.empty() && text.back() == '.') text.remove_suffix(1);
    while (!text.empty()) {
        const size_t dot = text.find('.');
        const std::string_view label = text.substr(0, dot);
        out.push_back(static_cast<uint8_t>(label.size()));
        out.insert(out.end(), label.begin(), label.end());
        if (dot == std::string_view::npos) break;
        text.remove_prefix(dot + 1);
    }
    out.push_back(0);
    return out;
}

inline std::span<const uint8_t> sp(const std::vector<uint8_t>& v) {
    return {v.data(), v.size()};
}

inline std::vector<uint8_t> bytes(std::initializer_list<uint8_t> b) {
    return b;
}

// A minimal SOA rdata: MNAME RNAME and five counters, MINIMUM last.
inline std::vector<uint8_t> soa_rdata(uint32_t minimum) {
    std::vector<uint8_t> rd = wire("ns.example");
    const auto rname = wire("hostmaster.example");
    rd.insert(rd.end(), rname.begin(), rname.end());
    for (uint32_t v : {2024010101u, 3600u, 600u, 86400u, minimum})
        for (int s = 24; s >= 0; s -= 8)
            rd.push_back(static_cast<uint8_t>(v >> s));
    return rd;
}

// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
  public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "kresd-cache-XXXXXX").string();
        if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string sub(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

} // namespace kresd::cache::test
