// The endpoint registry behind net.listen(), net.list() and net.close().
//
// An endpoint is one listening socket: bound here (SO_REUSEPORT, so several
// instances share an address) or inherited from a service manager (never
// bound again: a later net.listen() of the same address and protocol is a
// no-op). Binding errors are thrown as std::runtime_error with a one-line
// message, so a config that cannot listen stops the start.
//
// Sockets are attached to the event loop by start(); endpoints added after
// start() (from the control socket) serve at once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "activation/activation.hpp"
#include "net/address.hpp"
#include "net/handoff.hpp"
#include "net/listeners.hpp"

namespace kresd::net {

struct EndpointInfo {
    activation::Kind kind = activation::Kind::dns;
    std::string family;   // "inet4", "inet6", "unix"
    std::string protocol; // "udp", "tcp", "stream" (unix)
    std::string ip;       // empty for unix
    uint16_t port = 0;
    std::string path;     // unix sockets
    bool freebind = false;
    bool inherited = false; // from the service manager (LISTEN_FDS, launchd, -S)
    bool held = false;      // taken over from a stopping sibling instance
};

uint16_t default_port(activation::Kind kind);

class Endpoints {
public:
    explicit Endpoints(ServeContext& ctx);
    ~Endpoints();
    Endpoints(const Endpoints&) = delete;
    Endpoints& operator=(const Endpoints&) = delete;

    // dns: UDP and TCP; tls, doh2: TCP. port 0 means the kind's default.
    void listen(const std::string& ip, uint16_t port, activation::Kind kind, bool freebind);
    void adopt(const activation::Inherited& s);
    // Binds a unix stream socket for the control prompt. A live socket at
    // `path` (another process answers on it) is an error; a stale one is
    // replaced. The file is removed again when the endpoint closes.
    void listen_control(const std::string& path);

    // Closes the sockets on ip (and port, when not 0). Returns how many.
    size_t close(const std::string& ip, uint16_t port);

    std::vector<EndpointInfo> list() const;
    bool has_kind(activation::Kind kind) const;

    // Socket hand-off (see handoff.hpp). When set, listen() first asks
    // siblings for a socket on the address and binds only when none comes.
    std::function<Fd(activation::Kind, int socktype, const SockAddr&)> reclaim;
    // Serves a socket a sibling handed over.
    void adopt_held(Fd fd, activation::Kind kind, int socktype);
    // Stops serving a held socket on `addr` and returns it (invalid if none).
    Fd release_held(activation::Kind kind, int socktype, const SockAddr& addr);
    // Copies of every self-bound or held listening socket (not inherited,
    // not control), for handing to a sibling at stop.
    std::vector<SharedSocket> shareable() const;

    void start();
    void stop();

private:
    struct Entry {
        EndpointInfo info;
        SockAddr addr;
        std::unique_ptr<Listener> listener;
    };
    void add(EndpointInfo info, SockAddr addr, Fd fd, int socktype);
    bool present(const SockAddr& addr, int socktype) const;

    ServeContext& ctx_;
    std::vector<Entry> entries_;
    bool started_ = false;
};

} // namespace kresd::net
