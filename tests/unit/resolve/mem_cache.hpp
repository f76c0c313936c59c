// An in-memory cache::Cache for the resolver tests: the same contract as
// the LMDB cache (ranks, wall-clock expiry, aged TTLs, NXDOMAIN covering
// every type), in a std::map. Test-only.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <tuple>

#include "cache/cache.hpp"
#include "dns/wire.hpp"

namespace kresd::resolve::test {

class MemCache final : public cache::Cache {
public:
    struct Positive {
        cache::Rank rank;
        uint64_t expire;
        std::vector<std::vector<uint8_t>> rdatas;
        cache::Security security = cache::Security::unknown;
        std::vector<std::vector<uint8_t>> sigs;
    };
    struct Neg {
        bool nxdomain;
        uint64_t expire;
        std::vector<uint8_t> soa_owner, soa_rdata;
        cache::Security security = cache::Security::unknown;
        std::vector<dns::Record> proof;
    };

    const std::string& dir() const override { return dir_; }
    uint64_t map_size() const override { return 0; }
    void set_ttl_bounds(uint32_t min_ttl, uint32_t max_ttl) override
    {
        min_ttl_ = min_ttl;
        max_ttl_ = max_ttl;
    }

    bool put_rrset(std::span<const uint8_t> owner, uint16_t type, uint32_t ttl,
                   const std::vector<std::span<const uint8_t>>& rdatas, cache::Rank rank,
                   uint64_t now, cache::Security security,
                   const std::vector<std::span<const uint8_t>>& sigs) override
    {
        const auto k = key(owner, type);
        auto it = rrsets.find(k);
        if (it != rrsets.end() && it->second.expire > now) {
            const bool old_secure = it->second.security == cache::Security::secure;
            const bool new_secure = security == cache::Security::secure;
            if (old_secure != new_secure ? old_secure : it->second.rank > rank)
                return false;
        }
        Positive p{rank, now + bound(ttl), {}, security, {}};
        for (auto rd : rdatas)
            p.rdatas.emplace_back(rd.begin(), rd.end());
        for (auto rd : sigs)
            p.sigs.emplace_back(rd.begin(), rd.end());
        rrsets[k] = std::move(p);
        negatives.erase(key(owner, type));
        negatives.erase(key(owner, 0));
        ++inserts;
        return true;
    }

    std::optional<cache::RRset> get_rrset(std::span<const uint8_t> owner, uint16_t type,
                                          uint64_t now) override
    {
        auto it = rrsets.find(key(owner, type));
        if (it == rrsets.end() || it->second.expire <= now)
            return std::nullopt;
        cache::RRset out;
        out.type = type;
        out.ttl = static_cast<uint32_t>(it->second.expire - now);
        out.rank = it->second.rank;
        out.rdatas = it->second.rdatas;
        out.security = it->second.security;
        out.sigs = it->second.sigs;
        return out;
    }

    bool put_negative(std::span<const uint8_t> owner, uint16_t type, bool nxdomain,
                      std::span<const uint8_t> soa_owner, std::span<const uint8_t> soa_rdata,
                      uint32_t ttl, uint64_t now, cache::Security security,
                      std::span<const dns::Record> proof) override
    {
        negatives[key(owner, nxdomain ? 0 : type)] =
            Neg{nxdomain, now + bound(ttl), {soa_owner.begin(), soa_owner.end()},
                {soa_rdata.begin(), soa_rdata.end()}, security, {proof.begin(), proof.end()}};
        ++inserts;
        return true;
    }

    std::optional<cache::Negative> get_negative(std::span<const uint8_t> owner, uint16_t type,
                                                uint64_t now) override
    {
        for (uint16_t t : {uint16_t{0}, type}) {
            auto it = negatives.find(key(owner, t));
            if (it == negatives.end() || it->second.expire <= now)
                continue;
            cache::Negative n;
            n.nxdomain = it->second.nxdomain;
            n.ttl = static_cast<uint32_t>(it->second.expire - now);
            n.soa_owner = it->second.soa_owner;
            n.soa_rdata = it->second.soa_rdata;
            n.security = it->second.security;
            n.proof = it->second.proof;
            return n;
        }
        return std::nullopt;
    }

    uint64_t clear(std::span<const uint8_t>) override
    {
        const uint64_t n = rrsets.size() + negatives.size();
        rrsets.clear();
        negatives.clear();
        return n;
    }
    uint64_t count() override { return rrsets.size() + negatives.size(); }
    cache::Stats stats() override
    {
        cache::Stats s;
        s.inserts = inserts;
        s.entries = count();
        return s;
    }

    // Test helpers, names in text form.
    const Positive* find(const std::string& name, uint16_t type) const
    {
        dns::Name n;
        if (!dns::name_from_text(name, n))
            return nullptr;
        auto it = rrsets.find(key(n.view(), type));
        return it == rrsets.end() ? nullptr : &it->second;
    }
    bool has(const std::string& name, uint16_t type) const { return find(name, type) != nullptr; }
    void erase(const std::string& name, uint16_t type)
    {
        dns::Name n;
        if (dns::name_from_text(name, n))
            rrsets.erase(key(n.view(), type));
    }
    // Is anything at all stored for `name` (any type, positive or negative)?
    bool knows(const std::string& name) const
    {
        dns::Name n;
        if (!dns::name_from_text(name, n))
            return false;
        dns::name_lower(n);
        const std::string owner(n.wire.begin(), n.wire.begin() + n.len);
        auto same = [&](const auto& kv) { return std::get<0>(kv.first) == owner; };
        return std::any_of(rrsets.begin(), rrsets.end(), same) ||
               std::any_of(negatives.begin(), negatives.end(), same);
    }

    using Key = std::tuple<std::string, uint16_t>;
    std::map<Key, Positive> rrsets;
    std::map<Key, Neg> negatives;
    uint64_t inserts = 0;

private:
    static Key key(std::span<const uint8_t> owner, uint16_t type)
    {
        std::string k(owner.begin(), owner.end());
        for (char& c : k)
            c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        return {k, type};
    }
    uint32_t bound(uint32_t ttl) const { return std::clamp(ttl, min_ttl_, max_ttl_); }

    std::string dir_ = "(memory)";
    uint32_t min_ttl_ = 0, max_ttl_ = 6 * 86400;
};

} // namespace kresd::resolve::test
