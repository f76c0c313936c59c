// What the network layer hands queries and control commands to.
//
// Every transport ends in QueryHandler::answer(): one complete DNS message
// in, at most one DNS message out, written into a buffer the transport owns.
// The handler knows the transport (for TC decisions and statistics) and the
// largest message the transport can carry in `out.size()`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <sys/socket.h>

namespace kresd::net {

enum class Transport { udp, tcp, tls, https };

struct ClientInfo {
    const sockaddr* peer = nullptr;
    const sockaddr* local = nullptr; // may be null when unknown
    Transport transport = Transport::udp;
};

class QueryHandler {
public:
    virtual ~QueryHandler() = default;
    // Returns the answer's size in `out`, or 0 to send nothing (dropped).
    virtual size_t answer(std::span<const uint8_t> query, const ClientInfo& client,
                          std::span<uint8_t> out) = 0;
};

class ControlHandler {
public:
    virtual ~ControlHandler() = default;
    // Evaluates one line of Lua and returns the text to print (may be empty).
    virtual std::string eval(std::string_view line) = 0;
};

// Transport-level counters, read by worker.stats().
struct NetStats {
    uint64_t udp = 0, tcp = 0, tls = 0, http = 0; // queries per transport
    uint64_t ipv4 = 0, ipv6 = 0;
    uint64_t err_udp = 0, err_tcp = 0, err_tls = 0, err_http = 0;
    uint64_t tcp_conns = 0;
};

} // namespace kresd::net
