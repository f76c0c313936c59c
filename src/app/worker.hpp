// The worker answers client queries: the QueryHandler behind every listener.
//
// For each message: parse (malformed -> FORMERR, other opcodes -> NOTIMP,
// EDNS version > 0 -> BADVERS, unreadable -> nothing), answer names the
// resolver owns (RFC 6761 localhost and loopback reverse), else REFUSED
// until recursion is in place; then the loaded modules' answer hooks (NSID,
// stats), then truncation to what the client can take over UDP.
#pragma once

#include "modules/module.hpp"
#include "net/handler.hpp"

namespace kresd::app {

struct WorkerStats {
    uint64_t queries = 0;  // messages that parsed far enough to be answered
    uint64_t dropped = 0;  // messages that got no answer
};

class Worker final : public net::QueryHandler {
public:
    explicit Worker(const modules::Registry& mods) : mods_(mods) {}

    size_t answer(std::span<const uint8_t> query, const net::ClientInfo& client,
                  std::span<uint8_t> out) override;

    const WorkerStats& stats() const { return stats_; }
    // The EDNS buffer size we advertise (net.bufsize()).
    void set_edns_size(uint16_t size) { edns_size_ = size; }

private:
    const modules::Registry& mods_;
    uint16_t edns_size_ = dns::kDefaultEdnsSize;
    WorkerStats stats_;
};

} // namespace kresd::app
