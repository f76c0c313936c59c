// The built-in root hints: IANA's 13 root server names with their IPv4 and
// IPv6 addresses, as published in the root zone and in named.root. They are
// only where the first question goes; hints.root() / hints.root_file()
// replace them (Config::root_hints).
#include "resolve/resolve.hpp"

namespace kresd::resolve {
namespace {

struct Hint {
    const char* name;
    const char* v4;
    const char* v6;
};

constexpr Hint kRootServers[] = {
    {"a.root-servers.net.", "198.41.0.4", "2001:503:ba3e::2:30"},
    {"b.root-servers.net.", "170.247.170.2", "2801:1b8:10::b"},
    {"c.root-servers.net.", "192.33.4.12", "2001:500:2::c"},
    {"d.root-servers.net.", "199.7.91.13", "2001:500:2d::d"},
    {"e.root-servers.net.", "192.203.230.10", "2001:500:a8::e"},
    {"f.root-servers.net.", "192.5.5.241", "2001:500:2f::f"},
    {"g.root-servers.net.", "192.112.36.4", "2001:500:12::d0d"},
    {"h.root-servers.net.", "198.97.190.53", "2001:500:1::53"},
    {"i.root-servers.net.", "192.36.148.17", "2001:7fe::53"},
    {"j.root-servers.net.", "192.58.128.30", "2001:503:c27::2:30"},
    {"k.root-servers.net.", "193.0.14.129", "2001:7fd::1"},
    {"l.root-servers.net.", "199.7.83.42", "2001:500:9f::42"},
    {"m.root-servers.net.", "202.12.27.33", "2001:dc3::35"},
};

} // namespace

std::vector<std::pair<dns::Name, std::vector<Address>>> default_root_hints()
{
    std::vector<std::pair<dns::Name, std::vector<Address>>> out;
    out.reserve(std::size(kRootServers));
    for (const Hint& h : kRootServers) {
        dns::Name name;
        if (!dns::name_from_text(h.name, name))
            continue;
        std::vector<Address> addrs;
        for (const char* text : {h.v4, h.v6}) {
            if (auto a = parse_address(text))
                addrs.push_back(*a);
        }
        out.emplace_back(name, std::move(addrs));
    }
    return out;
}

} // namespace kresd::resolve

namespace kresd::resolve {

Config default_config()
{
    Config c;
    c.root_hints = default_root_hints();
    // Knot Resolver validates by default, from the root's built-in anchors.
    c.anchors = std::make_shared<dnssec::TrustAnchors>(dnssec::TrustAnchors::with_root_defaults());
    return c;
}

} // namespace kresd::resolve
