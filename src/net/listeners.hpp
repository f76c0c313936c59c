// Listening sockets and the connections accepted on them.
//
// Each Listener owns its socket and its libevent events. Construction only
// wraps an already bound socket (see endpoints.hpp for binding); start()
// attaches it to the loop; stop() detaches it so a stopping instance takes
// no new work while in-flight TCP answers are written out.
#pragma once

#include <list>
#include <memory>
#include <string>

#include "net/event.hpp"
#include "net/handler.hpp"

namespace kresd::net {

class Connection; // a TCP DNS connection, private to stream.cpp

struct ServeContext {
    event_base* base = nullptr;
    QueryHandler* queries = nullptr;
    ControlHandler* control = nullptr;
    NetStats* stats = nullptr;
    size_t udp_max_answer = 1232;    // net.bufsize(): largest UDP answer we send
    int tcp_idle_timeout_ms = 10000; // a TCP client idle this long is closed
    size_t tcp_max_connections = 4096;
    std::list<Connection*> connections; // open TCP DNS connections, idle the longest first
    std::list<Connection*> control_connections;
};

class Listener {
public:
    virtual ~Listener() = default;
    virtual void start() = 0;
    virtual void stop() = 0;
    virtual int fd() const = 0;
};

// UDP DNS: batched receive and send.
std::unique_ptr<Listener> make_udp_listener(Fd fd, ServeContext& ctx);
// TCP DNS: RFC 7766 framing, pipelining, idle timeout.
std::unique_ptr<Listener> make_tcp_listener(Fd fd, ServeContext& ctx);
// Control socket: a line-based Lua prompt.
std::unique_ptr<Listener> make_control_listener(Fd fd, ServeContext& ctx);

// Closes every open connection (at exit, after the loop has stopped).
void close_connections(ServeContext& ctx);


} // namespace kresd::net
