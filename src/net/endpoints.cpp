#include "net/endpoints.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/tls.hpp"
#include "util/log.hpp"

namespace kresd::net {

using activation::Kind;

uint16_t default_port(Kind kind)
{
    switch (kind) {
    case Kind::dns: return 53;
    case Kind::tls: return 853;
    case Kind::doh2: return 443;
    case Kind::control: return 0;
    }
    return 53;
}

namespace {

[[noreturn]] void fail(const std::string& what, int err)
{
    throw std::runtime_error(what + ": " + std::strerror(err));
}

void set_opt(int fd, int level, int name, const char* label, bool required)
{
    int on = 1;
    if (setsockopt(fd, level, name, &on, sizeof(on)) != 0 && required)
        fail(std::string("setsockopt ") + label, errno);
}

// Binds a socket that shares its address with other kresd instances.
Fd bind_shared(const SockAddr& addr, int socktype, bool freebind)
{
    Fd fd(socket(addr.family(), socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) fail("socket", errno);
    if (socktype == SOCK_STREAM) set_opt(fd.get(), SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", true);
#if defined(SO_REUSEPORT_LB)
    // FreeBSD 12+: SO_REUSEPORT alone does not spread load between sockets.
    set_opt(fd.get(), SOL_SOCKET, SO_REUSEPORT_LB, "SO_REUSEPORT_LB", true);
#elif defined(SO_REUSEPORT)
    set_opt(fd.get(), SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", true);
#endif
    if (addr.family() == AF_INET6) set_opt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY", true);
    if (freebind) {
#if defined(IP_FREEBIND)
        if (addr.family() == AF_INET) set_opt(fd.get(), IPPROTO_IP, IP_FREEBIND, "IP_FREEBIND", true);
#endif
#if defined(IPV6_FREEBIND)
        if (addr.family() == AF_INET6)
            set_opt(fd.get(), IPPROTO_IPV6, IPV6_FREEBIND, "IPV6_FREEBIND", true);
#endif
#if defined(IP_BINDANY)
        set_opt(fd.get(), IPPROTO_IP, IP_BINDANY, "IP_BINDANY", true);
#endif
    }
    if (bind(fd.get(), addr.sa(), addr.len) != 0) fail("bind", errno);
    if (socktype == SOCK_STREAM && ::listen(fd.get(), SOMAXCONN) != 0) fail("listen", errno);
    return fd;
}

const char* family_name(int family)
{
    return family == AF_INET6 ? "inet6" : family == AF_UNIX ? "unix" : "inet4";
}

} // namespace

Endpoints::Endpoints(ServeContext& ctx) : ctx_(ctx) {}

Endpoints::~Endpoints()
{
    for (auto& e : entries_)
        if (e.info.kind == Kind::control && !e.info.inherited && !e.info.path.empty())
            ::unlink(e.info.path.c_str());
}

bool Endpoints::present(const SockAddr& addr, int socktype) const
{
    const char* proto = socktype == SOCK_DGRAM ? "udp" : "tcp";
    for (const auto& e : entries_)
        if (e.info.protocol == proto && e.addr.same(addr)) return true;
    return false;
}

void Endpoints::add(EndpointInfo info, SockAddr addr, Fd fd, int socktype)
{
    std::unique_ptr<Listener> l;
    switch (info.kind) {
    case Kind::dns:
        l = socktype == SOCK_DGRAM ? make_udp_listener(std::move(fd), ctx_)
                                   : make_tcp_listener(std::move(fd), ctx_);
        break;
    case Kind::tls: l = make_tls_listener(std::move(fd), ctx_, tls_settings().credentials()); break;
    case Kind::doh2: l = make_doh_listener(std::move(fd), ctx_, tls_settings().credentials()); break;
    case Kind::control: l = make_control_listener(std::move(fd), ctx_); break;
    }
    if (started_) l->start();
    entries_.push_back({std::move(info), addr, std::move(l)});
}

void Endpoints::listen(const std::string& ip, uint16_t port, Kind kind, bool freebind)
{
    if (kind == Kind::control)
        throw std::runtime_error("net.listen: kind 'control' takes a path, not an address");
    if (port == 0) port = default_port(kind);
    auto addr = parse_ip(ip, port);
    if (!addr) throw std::runtime_error("net.listen: '" + ip + "' is not an IP address");
    std::vector<int> types;
    if (kind == Kind::dns) types.push_back(SOCK_DGRAM);
    types.push_back(SOCK_STREAM);
    for (int t : types) {
        if (present(*addr, t)) {
            KR_LOG(debug, "net", "already listening on %s %s", addr->to_string().c_str(),
                   t == SOCK_DGRAM ? "UDP" : "TCP");
            continue;
        }
        Fd fd;
        if (reclaim) fd = reclaim(kind, t, *addr);
        const bool reclaimed = static_cast<bool>(fd);
        if (reclaimed) {
            KR_LOG(info, "net", "took %s %s back from a sibling instance",
                   addr->to_string().c_str(), t == SOCK_DGRAM ? "UDP" : "TCP");
            int flags = fcntl(fd.get(), F_GETFL);
            if (flags >= 0) fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK);
        }
        try {
            if (!fd) fd = bind_shared(*addr, t, freebind);
        } catch (const std::runtime_error& e) {
            throw std::runtime_error("net.listen " + addr->to_string() + " (" +
                                     activation::kind_name(kind) + ", " +
                                     (t == SOCK_DGRAM ? "UDP" : "TCP") + "): " + e.what());
        }
        EndpointInfo info;
        info.kind = kind;
        info.family = family_name(addr->family());
        info.protocol = t == SOCK_DGRAM ? "udp" : "tcp";
        info.ip = addr->ip();
        info.port = port;
        info.freebind = freebind;
        if (!reclaimed)
            KR_LOG(info, "net", "listening on %s %s (%s)", addr->to_string().c_str(),
                   info.protocol.c_str(), activation::kind_name(kind));
        add(std::move(info), *addr, std::move(fd), t);
    }
}

void Endpoints::adopt(const activation::Inherited& s)
{
    auto local = local_address(s.fd);
    EndpointInfo info;
    info.kind = s.kind;
    info.inherited = true;
    SockAddr addr;
    if (local) addr = *local;
    info.family = family_name(addr.family());
    if (addr.family() == AF_UNIX) {
        info.protocol = "stream";
        info.path = addr.ip();
    } else {
        info.protocol = s.socktype == SOCK_DGRAM ? "udp" : "tcp";
        info.ip = addr.ip();
        info.port = addr.port();
    }
    if (s.socktype == SOCK_STREAM) {
        // A service manager hands over listening sockets, but be sure.
        int on = 0;
        socklen_t len = sizeof(on);
        if (getsockopt(s.fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && !on)
            ::listen(s.fd, SOMAXCONN);
    }
    int flags = fcntl(s.fd, F_GETFL);
    if (flags >= 0) fcntl(s.fd, F_SETFL, flags | O_NONBLOCK);
    KR_LOG(info, "net", "serving inherited fd %d: %s %s (%s)", s.fd,
           info.path.empty() ? addr.to_string().c_str() : info.path.c_str(), info.protocol.c_str(),
           activation::kind_name(s.kind));
    add(std::move(info), addr, Fd(s.fd), s.socktype);
}

void Endpoints::listen_control(const std::string& path)
{
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (path.size() >= sizeof(sun.sun_path))
        throw std::runtime_error("control socket path too long: " + path);
    std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
    Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) fail("control socket", errno);
    if (access(path.c_str(), F_OK) == 0) {
        Fd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (probe && connect(probe.get(), reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) == 0)
            throw std::runtime_error("control socket " + path +
                                     " is in use: is this instance already running?");
        ::unlink(path.c_str()); // stale, left by a process that did not stop cleanly
    }
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) != 0)
        fail("control socket " + path, errno);
    if (::listen(fd.get(), 16) != 0) fail("control socket " + path, errno);
    EndpointInfo info;
    info.kind = Kind::control;
    info.family = "unix";
    info.protocol = "stream";
    info.path = path;
    SockAddr addr;
    add(std::move(info), addr, std::move(fd), SOCK_STREAM);
}

void Endpoints::adopt_held(Fd fd, Kind kind, int socktype)
{
    auto local = local_address(fd.get());
    if (!local || kind == Kind::control) return;
    int flags = fcntl(fd.get(), F_GETFL);
    if (flags >= 0) fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK);
    EndpointInfo info;
    info.kind = kind;
    info.family = family_name(local->family());
    info.protocol = socktype == SOCK_DGRAM ? "udp" : "tcp";
    info.ip = local->ip();
    info.port = local->port();
    info.held = true;
    KR_LOG(info, "net", "serving %s %s for a restarting sibling", local->to_string().c_str(),
           info.protocol.c_str());
    add(std::move(info), *local, std::move(fd), socktype);
}

Fd Endpoints::release_held(Kind kind, int socktype, const SockAddr& addr)
{
    const char* proto = socktype == SOCK_DGRAM ? "udp" : "tcp";
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (!it->info.held || it->info.kind != kind || it->info.protocol != proto ||
            !it->addr.same(addr))
            continue;
        Fd copy(fcntl(it->listener->fd(), F_DUPFD_CLOEXEC, 3));
        if (!copy) return {};
        entries_.erase(it); // closes our descriptor; the socket lives on in `copy`
        return copy;
    }
    return {};
}

std::vector<SharedSocket> Endpoints::shareable() const
{
    std::vector<SharedSocket> out;
    for (const auto& e : entries_) {
        if (e.info.inherited || e.info.kind == Kind::control) continue;
        Fd copy(fcntl(e.listener->fd(), F_DUPFD_CLOEXEC, 3));
        if (!copy) continue;
        out.push_back({std::move(copy), e.info.kind, e.info.protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM});
    }
    return out;
}

size_t Endpoints::close(const std::string& ip, uint16_t port)
{
    size_t n = 0;
    for (auto it = entries_.begin(); it != entries_.end();) {
        bool match = (it->info.ip == ip || it->info.path == ip) && (port == 0 || it->info.port == port);
        if (!match) {
            ++it;
            continue;
        }
        if (it->info.kind == Kind::control && !it->info.inherited) ::unlink(it->info.path.c_str());
        it = entries_.erase(it);
        ++n;
    }
    return n;
}

std::vector<EndpointInfo> Endpoints::list() const
{
    std::vector<EndpointInfo> out;
    for (const auto& e : entries_) out.push_back(e.info);
    return out;
}

bool Endpoints::has_kind(Kind kind) const
{
    for (const auto& e : entries_)
        if (e.info.kind == kind) return true;
    return false;
}

void Endpoints::start()
{
    started_ = true;
    for (auto& e : entries_) e.listener->start();
}

void Endpoints::stop()
{
    for (auto& e : entries_)
        if (e.info.kind != Kind::control) e.listener->stop();
}

} // namespace kresd::net
