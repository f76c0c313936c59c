// Queries to upstream servers: one message out, replies back, over UDP or
// TCP, with a timeout.
//
// UDP uses a new socket per query: the kernel picks a random source port
// (RFC 5452 9.2), and connect() makes it accept datagrams from the server's
// address only. Every datagram that arrives is offered to on_reply; the
// query stays open while on_reply returns false (a reply that did not match,
// e.g. a forgery) and ends when it returns true or at the timeout. TCP
// (RFC 7766) connects, writes the framed query and reads one framed reply.
//
// An UpstreamQuery must not be destroyed from inside its own callbacks
// except by returning true from on_reply / in on_timeout, which end it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "net/address.hpp"
#include "net/event.hpp"

namespace kresd::net {

struct UpstreamSource {
    std::string v4, v6; // net.outgoing_v4/v6: source address, empty for any
};

class UpstreamQuery {
public:
    using OnReply = std::function<bool(std::span<const uint8_t> reply, const SockAddr& from)>;
    using OnTimeout = std::function<void()>;

    UpstreamQuery(event_base* base, const UpstreamSource& src);
    ~UpstreamQuery();
    UpstreamQuery(const UpstreamQuery&) = delete;
    UpstreamQuery& operator=(const UpstreamQuery&) = delete;

    // Starts the query. Errors (no route, socket limits) surface as an
    // immediate timeout callback from the event loop, never as a throw.
    void start(const SockAddr& to, bool tcp, std::vector<uint8_t> wire, uint32_t timeout_ms,
               OnReply on_reply, OnTimeout on_timeout);
    void cancel();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace kresd::net
