#include "net/handoff.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <dirent.h>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/compat.hpp"
#include "net/endpoints.hpp"
#include "util/log.hpp"

namespace kresd::net {

namespace {

constexpr size_t kMaxFds = 32;
constexpr size_t kMaxMsg = 4096;

bool unix_addr(const std::string& path, sockaddr_un& sun)
{
    sun = {};
    sun.sun_family = AF_UNIX;
    if (path.size() >= sizeof(sun.sun_path)) return false;
    std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
    return true;
}

bool send_fds(int sock, const std::string& to, const std::string& msg, const std::vector<int>& fds)
{
    sockaddr_un sun;
    if (!unix_addr(to, sun)) return false;
    iovec iov{const_cast<char*>(msg.data()), msg.size()};
    msghdr h{};
    h.msg_name = &sun;
    h.msg_namelen = sizeof(sun);
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    std::vector<char> ctl(CMSG_SPACE(sizeof(int) * kMaxFds), 0);
    if (!fds.empty()) {
        h.msg_control = ctl.data();
        h.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr* c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    return sendmsg(sock, &h, MSG_DONTWAIT | MSG_NOSIGNAL) == static_cast<ssize_t>(msg.size());
}

// Receives one message; fds arrive owned. Returns false when nothing came.
bool recv_fds(int sock, std::string& msg, std::vector<Fd>& fds, std::string& from)
{
    char buf[kMaxMsg];
    sockaddr_un sun{};
    iovec iov{buf, sizeof(buf)};
    std::vector<char> ctl(CMSG_SPACE(sizeof(int) * kMaxFds), 0);
    msghdr h{};
    h.msg_name = &sun;
    h.msg_namelen = sizeof(sun);
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = ctl.data();
    h.msg_controllen = ctl.size();
#ifdef MSG_CMSG_CLOEXEC
    ssize_t n = recvmsg(sock, &h, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
#else
    ssize_t n = recvmsg(sock, &h, MSG_DONTWAIT);
#endif
    if (n < 0) return false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            fds.emplace_back(fd);
        }
    }
    msg.assign(buf, static_cast<size_t>(n));
    from = h.msg_namelen > offsetof(sockaddr_un, sun_path) ? sun.sun_path : "";
    return true;
}

const char* proto_name(int socktype) { return socktype == SOCK_DGRAM ? "udp" : "tcp"; }

int socktype_of(int fd)
{
    int t = 0;
    socklen_t len = sizeof(t);
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &len) == 0 ? t : 0;
}

} // namespace

Handoff::Handoff(event_base* base, std::string dir, std::string name)
    : base_(base), dir_(std::move(dir)), name_(std::move(name)), path_(dir_ + "/" + name_)
{
}

Handoff::~Handoff() { close(); }

void Handoff::open(Endpoints& endpoints)
{
    endpoints_ = &endpoints;
    if (mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST) {
        KR_LOG(warning, "net", "socket hand-off off: cannot create %s: %s", dir_.c_str(),
               std::strerror(errno));
        return;
    }
    sockaddr_un sun;
    if (!unix_addr(path_, sun)) {
        KR_LOG(warning, "net", "socket hand-off off: path too long: %s", path_.c_str());
        return;
    }
    Fd s(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (s && access(path_.c_str(), F_OK) == 0) {
        // A live socket here means this instance name is already running:
        // never take its hand-off socket away.
        Fd probe(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (probe && connect(probe.get(), reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) == 0)
            throw std::runtime_error("hand-off socket " + path_ +
                                     " is in use: is this instance already running?");
        ::unlink(path_.c_str()); // left by a run of ours that did not stop cleanly
    }
    if (!s || bind(s.get(), reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) != 0) {
        KR_LOG(warning, "net", "socket hand-off off: %s: %s", path_.c_str(), std::strerror(errno));
        return;
    }
    sock_ = std::move(s);
    ev_.reset(event_new(base_, sock_.get(), EV_READ | EV_PERSIST, &Handoff::on_read, this));
    event_add(ev_.get(), nullptr);
}

void Handoff::chown_to(uid_t uid, gid_t gid) const
{
    if (::chown(dir_.c_str(), uid, gid) != 0)
        KR_LOG(warning, "net", "cannot hand %s to the new user: %s", dir_.c_str(), std::strerror(errno));
    if (sock_ && ::chown(path_.c_str(), uid, gid) != 0)
        KR_LOG(warning, "net", "cannot hand %s to the new user: %s", path_.c_str(), std::strerror(errno));
}

void Handoff::close()
{
    if (!sock_) return;
    ev_.reset();
    sock_.reset();
    ::unlink(path_.c_str());
}

std::vector<std::string> Handoff::siblings() const
{
    std::vector<std::string> out;
    DIR* d = opendir(dir_.c_str());
    if (!d) return out;
    while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == ".." || n == name_) continue;
        out.push_back(dir_ + "/" + n);
    }
    closedir(d);
    return out;
}

void Handoff::on_read(evutil_socket_t, short, void* arg)
{
    auto* self = static_cast<Handoff*>(arg);
    for (int i = 0; i < 64 && self->sock_; ++i) {
        std::string msg, from;
        std::vector<Fd> fds;
        if (!recv_fds(self->sock_.get(), msg, fds, from)) break;
        self->handle(msg, fds, from);
    }
}

void Handoff::handle(const std::string& msg, std::vector<Fd>& fds, const std::string& from)
{
    std::istringstream in(msg);
    std::string verb;
    std::getline(in, verb);
    if (verb == "GIVE" || verb == "HAVE") {
        // Sockets from a stopping sibling (or a late answer): serve them.
        std::string line;
        for (auto& fd : fds) {
            std::string kind_text, proto;
            if (std::getline(in, line)) std::istringstream(line) >> kind_text >> proto;
            auto kind = activation::parse_kind(kind_text);
            int t = socktype_of(fd.get());
            if (!kind || t == 0) continue; // dropped: closes the fd
            endpoints_->adopt_held(std::move(fd), *kind, t);
        }
        return;
    }
    if (verb == "WANT") {
        std::string kind_text, proto, ip;
        unsigned port = 0;
        in >> kind_text >> proto >> ip >> port;
        auto kind = activation::parse_kind(kind_text);
        auto addr = parse_ip(ip, static_cast<uint16_t>(port));
        Fd fd;
        if (kind && addr && !from.empty())
            fd = endpoints_->release_held(*kind, proto == "udp" ? SOCK_DGRAM : SOCK_STREAM, *addr);
        if (fd) {
            std::string reply = "HAVE\n" + kind_text + " " + proto + "\n";
            if (send_fds(sock_.get(), from, reply, {fd.get()})) {
                KR_LOG(info, "net", "handed %s %s back to %s", addr->to_string().c_str(),
                       proto.c_str(), from.c_str());
                return;
            }
            // The asker is gone: keep serving the socket ourselves.
            endpoints_->adopt_held(std::move(fd), *kind, proto == "udp" ? SOCK_DGRAM : SOCK_STREAM);
            return;
        }
        if (!from.empty()) send_fds(sock_.get(), from, "NONE\n", {});
    }
}

Fd Handoff::reclaim(activation::Kind kind, int socktype, const SockAddr& addr, int timeout_ms)
{
    if (!sock_) return {};
    std::string want = std::string("WANT\n") + activation::kind_name(kind) + " " +
                       proto_name(socktype) + " " + addr.ip() + " " +
                       std::to_string(addr.port()) + "\n";
    size_t asked = 0;
    for (const auto& s : siblings())
        if (send_fds(sock_.get(), s, want, {})) ++asked;
    if (asked == 0) return {};

    using clock = std::chrono::steady_clock;
    auto deadline = clock::now() + std::chrono::milliseconds(timeout_ms);
    size_t answers = 0;
    Fd result;
    while (answers < asked) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        if (left.count() <= 0) break;
        pollfd p{sock_.get(), POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        std::string msg, from;
        std::vector<Fd> fds;
        if (!recv_fds(sock_.get(), msg, fds, from)) continue;
        if (msg.rfind("NONE", 0) == 0) {
            ++answers;
        } else if (msg.rfind("HAVE", 0) == 0) {
            ++answers;
            for (auto& fd : fds) {
                auto local = local_address(fd.get());
                if (!result && local && local->same(addr) && socktype_of(fd.get()) == socktype)
                    result = std::move(fd);
            }
            std::vector<Fd> rest;
            for (auto& fd : fds)
                if (fd) rest.push_back(std::move(fd));
            if (!rest.empty()) handle(msg, rest, from);
        } else {
            handle(msg, fds, from); // a sibling stopping or starting meanwhile
        }
    }
    return result;
}

bool Handoff::give(std::vector<SharedSocket>& sockets)
{
    if (sockets.empty()) return true;
    std::string msg = "GIVE\n";
    std::vector<int> fds;
    for (const auto& s : sockets) {
        msg += std::string(activation::kind_name(s.kind)) + " " + proto_name(s.socktype) + "\n";
        fds.push_back(s.fd.get());
    }
    if (fds.size() > kMaxFds) return false;
    // Our own socket may already be closed: send from a fresh one.
    Fd tmp(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!tmp) return false;
    for (const auto& s : siblings()) {
        if (send_fds(tmp.get(), s, msg, fds)) {
            KR_LOG(info, "net", "handed %zu listening sockets to %s", fds.size(), s.c_str());
            return true;
        }
    }
    return false;
}

} // namespace kresd::net
