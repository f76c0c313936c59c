// What the network layer hands queries and control commands to.
//
// Every transport ends in QueryHandler::answer(): one complete DNS message
// in, at most one DNS message out, written into a buffer the transport owns.
// The handler knows the transport (for TC decisions and statistics) and the
// largest message the transport can carry in `out.size()`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <sys/socket.h>

namespace kresd::net {

enum class Transport { udp, tcp, tls, https };

// An answer that will be sent later (the query needs upstream work). The
// transport keeps what it needs to reach the client; when the client is
// gone (TCP connection closed, listener closed) send() does nothing.
class DeferredReply {
public:
    virtual ~DeferredReply() = default;
    virtual size_t limit() const = 0; // largest message the transport carries
    virtual void send(std::span<const uint8_t> answer) = 0;
};

struct ClientInfo {
    const sockaddr* peer = nullptr;
    const sockaddr* local = nullptr; // may be null when unknown
    Transport transport = Transport::udp;
    // Takes the query over for a later answer; call at most once, from
    // inside answer(), which then returns kDeferred.
    std::function<std::unique_ptr<DeferredReply>()> defer;
};

inline constexpr size_t kDeferred = static_cast<size_t>(-1);

class QueryHandler {
public:
    virtual ~QueryHandler() = default;
    // Returns the answer's size in `out`, 0 to send nothing (dropped), or
    // kDeferred after taking client.defer().
    virtual size_t answer(std::span<const uint8_t> query, const ClientInfo& client,
                          std::span<uint8_t> out) = 0;
    // A listener about to hand over several queries at once brackets them
    // with batch(true) ... batch(false), so the handler may share work
    // between them (one cache snapshot). batch(false) comes before the
    // listener returns to the event loop.
    virtual void batch(bool) {}
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
