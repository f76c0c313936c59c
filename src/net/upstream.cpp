#include "net/upstream.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <unistd.h>

#include "net/compat.hpp"
#include "util/log.hpp"

namespace kresd::net {

struct UpstreamQuery::Impl {
    event_base* base;
    UpstreamSource src;
    SockAddr to;
    bool tcp = false;
    std::vector<uint8_t> out; // for TCP: framed
    size_t written = 0;
    std::vector<uint8_t> in;
    Fd fd;
    EventPtr ev, timer;
    OnReply on_reply;
    OnTimeout on_timeout;
    bool connected = false;

    void finish_timeout()
    {
        ev.reset();
        timer.reset();
        fd.reset();
        auto cb = std::move(on_timeout);
        if (cb) cb(); // may destroy us: nothing after this
    }

    // Returns true when the query ended (callback fired).
    bool deliver(std::span<const uint8_t> msg)
    {
        OnReply cb = on_reply; // the callback may destroy us: use copies only
        SockAddr from = to;
        return cb(msg, from);
    }

    static void on_event(evutil_socket_t, short what, void* arg)
    {
        auto* self = static_cast<Impl*>(arg);
        if (what & EV_TIMEOUT) return self->finish_timeout();
        if (self->tcp)
            self->tcp_io(what);
        else
            self->udp_read();
    }

    static void on_timer(evutil_socket_t, short, void* arg)
    {
        static_cast<Impl*>(arg)->finish_timeout();
    }

    void udp_read()
    {
        uint8_t buf[65535];
        for (int i = 0; i < 16; ++i) {
            ssize_t n = recv(fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
                // ICMP unreachable and friends: the server is not there.
                return finish_timeout();
            }
            if (deliver({buf, static_cast<size_t>(n)})) return;
        }
    }

    void tcp_io(short what)
    {
        if (what & EV_WRITE) {
            while (written < out.size()) {
                ssize_t n = send(fd.get(), out.data() + written, out.size() - written, MSG_NOSIGNAL);
                if (n < 0) {
                    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
                    return finish_timeout();
                }
                written += static_cast<size_t>(n);
            }
            // All written: now only read.
            ev.reset(event_new(base, fd.get(), EV_READ | EV_PERSIST, &Impl::on_event, this));
            event_add(ev.get(), nullptr);
            return;
        }
        uint8_t buf[16384];
        ssize_t n = recv(fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
        if (n <= 0) return finish_timeout(); // closed or failed before a whole reply
        in.insert(in.end(), buf, buf + n);
        while (in.size() >= 2) {
            size_t len = (size_t(in[0]) << 8) | in[1];
            if (in.size() < 2 + len) return;
            std::vector<uint8_t> msg(in.begin() + 2, in.begin() + 2 + static_cast<long>(len));
            in.erase(in.begin(), in.begin() + 2 + static_cast<long>(len));
            if (deliver(msg)) return;
        }
    }
};

UpstreamQuery::UpstreamQuery(event_base* base, const UpstreamSource& src)
    : impl_(std::make_unique<Impl>())
{
    impl_->base = base;
    impl_->src = src;
}

UpstreamQuery::~UpstreamQuery() = default;

void UpstreamQuery::cancel()
{
    impl_->ev.reset();
    impl_->timer.reset();
    impl_->fd.reset();
}

void UpstreamQuery::start(const SockAddr& to, bool tcp, std::vector<uint8_t> wire,
                          uint32_t timeout_ms, OnReply on_reply, OnTimeout on_timeout)
{
    Impl& q = *impl_;
    cancel();
    q.to = to;
    q.tcp = tcp;
    q.on_reply = std::move(on_reply);
    q.on_timeout = std::move(on_timeout);
    q.in.clear();
    q.written = 0;
    if (tcp) {
        q.out.resize(2 + wire.size());
        q.out[0] = static_cast<uint8_t>(wire.size() >> 8);
        q.out[1] = static_cast<uint8_t>(wire.size());
        std::memcpy(q.out.data() + 2, wire.data(), wire.size());
    } else {
        q.out = std::move(wire);
    }

    timeval tv{static_cast<time_t>(timeout_ms / 1000),
               static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
    q.timer.reset(evtimer_new(q.base, &Impl::on_timer, &q));
    auto fail_soon = [&q](const char* what) {
        KR_LOG(debug, "io", "upstream %s %s: %s", q.to.to_string().c_str(), what,
               std::strerror(errno));
        q.fd.reset();
        timeval now{0, 0};
        event_add(q.timer.get(), &now); // report as a timeout from the loop
    };

    q.fd.reset(socket(to.family(), (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!q.fd) return fail_soon("socket");
    const std::string& src = to.family() == AF_INET6 ? q.src.v6 : q.src.v4;
    if (!src.empty()) {
        if (auto a = parse_ip(src, 0); a && bind(q.fd.get(), a->sa(), a->len) != 0)
            return fail_soon("bind source");
    }
    if (connect(q.fd.get(), to.sa(), to.len) != 0 && errno != EINPROGRESS)
        return fail_soon("connect");
    event_add(q.timer.get(), &tv);
    if (tcp) {
        q.ev.reset(event_new(q.base, q.fd.get(), EV_WRITE | EV_PERSIST, &Impl::on_event, &q));
    } else {
        if (send(q.fd.get(), q.out.data(), q.out.size(), MSG_NOSIGNAL) < 0)
            return fail_soon("send");
        q.ev.reset(event_new(q.base, q.fd.get(), EV_READ | EV_PERSIST, &Impl::on_event, &q));
    }
    event_add(q.ev.get(), nullptr);
}

} // namespace kresd::net
