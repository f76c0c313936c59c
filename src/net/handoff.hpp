// Hand-off of listening sockets between sibling instances (same rundir).
//
// With self-bound SO_REUSEPORT sockets the kernel drops whatever is queued
// in a socket when its last descriptor closes, and keeps hashing new
// datagrams to it until then. A stopping instance therefore never closes
// its listening sockets while a sibling runs: it sends them (SCM_RIGHTS) to
// a sibling, which serves them too. A starting instance first asks its
// siblings for sockets they hold on the address it wants, and takes them
// back instead of binding new ones, so the group stays one socket per
// instance and no datagram is lost on either side of a restart.
//
// Transport: one unix datagram socket per instance at <rundir>/handoff/<name>.
// Messages are text with the descriptors attached:
//   "GIVE\n" + one line "<kind> <udp|tcp>" per attached fd
//   "WANT\n<kind> <udp|tcp> <ip> <port>\n"  -> answered with GIVE or "NONE\n"
// Sockets from a service manager (LISTEN_FDS) are never handed off: the
// manager holds them already.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

#include "activation/activation.hpp"
#include "net/address.hpp"
#include "net/event.hpp"

namespace kresd::net {

class Endpoints;

struct SharedSocket {
    Fd fd;
    activation::Kind kind = activation::Kind::dns;
    int socktype = 0;
};

class Handoff {
public:
    Handoff(event_base* base, std::string dir, std::string name);
    ~Handoff();
    Handoff(const Handoff&) = delete;
    Handoff& operator=(const Handoff&) = delete;

    // Binds our socket (failure only disables the hand-off, with a warning).
    // Throws std::runtime_error when a live instance of the same name holds it.
    void open(Endpoints& endpoints);
    // Hands the socket files to the user the config switches to.
    void chown_to(uid_t uid, gid_t gid) const;
    // Stops accepting sockets from siblings and removes our socket file.
    void close();

    // Asks every live sibling for a socket of this kind, type and address.
    // Waits at most `timeout_ms` in total. Returns an invalid Fd when none.
    Fd reclaim(activation::Kind kind, int socktype, const SockAddr& addr, int timeout_ms = 500);

    // Sends the sockets to one live sibling. Returns false when no sibling
    // took them (the caller then just closes them).
    bool give(std::vector<SharedSocket>& sockets);

private:
    static void on_read(evutil_socket_t, short, void* arg);
    void handle(const std::string& msg, std::vector<Fd>& fds, const std::string& from);
    std::vector<std::string> siblings() const;

    event_base* base_;
    std::string dir_, name_, path_;
    Fd sock_;
    EventPtr ev_;
    Endpoints* endpoints_ = nullptr;
};

} // namespace kresd::net
