// Stream listeners: TCP DNS (RFC 7766) and the control socket. (DNS over
// TLS and HTTPS have their own, in tls_stream.cpp.)
//
// Connections are bufferevents. Every open connection sits in one list
// ordered by last activity, so when the connection limit is reached the
// connection idle the longest is closed to make room (RFC 7766 6.2.3 lets a
// server close idle connections to protect itself).
#include <arpa/inet.h>
#include <cstring>
#include <event2/buffer.h>
#include <event2/listener.h>
#include <list>
#include <vector>

#include "net/address.hpp"
#include "net/compat.hpp"
#include "net/listeners.hpp"
#include "util/log.hpp"

namespace kresd::net {

namespace {

struct ListenerFree {
    void operator()(evconnlistener* l) const { evconnlistener_free(l); }
};
using ListenerPtr = std::unique_ptr<evconnlistener, ListenerFree>;

constexpr size_t kMaxPendingOutput = 256 * 1024; // stop reading while a client does not read
constexpr size_t kMaxControlLine = 1024 * 1024;
constexpr size_t kDnsHeader = 12; // RFC 1035 4.1.1

} // namespace

class Connection {
public:
    // `tracked` connections count against the TCP connection limit.
    Connection(ServeContext& ctx, evutil_socket_t fd, const sockaddr* peer, int peerlen,
               bool tracked)
        : ctx_(ctx), peer_(from_sockaddr(peer, static_cast<socklen_t>(peerlen))), tracked_(tracked)
    {
        bev_.reset(bufferevent_socket_new(ctx.base, fd, BEV_OPT_CLOSE_ON_FREE));
        auto& list = tracked_ ? ctx_.connections : ctx_.control_connections;
        pos_ = list.insert(list.end(), this);
    }
    virtual ~Connection()
    {
        if (handle_) handle_->conn = nullptr; // deferred answers now go nowhere
        (tracked_ ? ctx_.connections : ctx_.control_connections).erase(pos_);
    }

    // Lets a deferred answer find this connection while it lives.
    struct Handle {
        Connection* conn = nullptr;
    };
    std::shared_ptr<Handle> handle()
    {
        if (!handle_) {
            handle_ = std::make_shared<Handle>();
            handle_->conn = this;
        }
        return handle_;
    }

    // Writes one framed answer (RFC 7766 8).
    void write_framed(std::span<const uint8_t> msg)
    {
        uint8_t len[2] = {static_cast<uint8_t>(msg.size() >> 8), static_cast<uint8_t>(msg.size())};
        iovec iov[2] = {{len, 2}, {const_cast<uint8_t*>(msg.data()), msg.size()}};
        send_now(iov, 2);
    }

    // Sends what the socket takes at once and queues the rest in the
    // bufferevent (which then waits for the socket to become writable).
    // Going through the bufferevent every time cost two epoll_ctl() calls
    // (write event on, off) and a loop pass for each batch of answers.
    // Only with nothing queued: answers leave in order.
    void send_now(iovec* iov, int n)
    {
        size_t sent = 0;
        if (!closing_ && evbuffer_get_length(output()) == 0) {
            msghdr h{};
            h.msg_iov = iov;
            h.msg_iovlen = static_cast<decltype(h.msg_iovlen)>(n);
            const ssize_t r = sendmsg(bufferevent_getfd(bev_.get()), &h, MSG_DONTWAIT | MSG_NOSIGNAL);
            // On an error the bufferevent's own write meets it again and
            // closes the connection (on_event).
            if (r > 0) sent = static_cast<size_t>(r);
        }
        for (int i = 0; i < n; ++i) { // queue what was not sent
            if (sent >= iov[i].iov_len) {
                sent -= iov[i].iov_len;
                continue;
            }
            evbuffer_add(output(), static_cast<const uint8_t*>(iov[i].iov_base) + sent,
                         iov[i].iov_len - sent);
            sent = 0;
        }
    }

    bool ok() const { return bev_ != nullptr; }

    void begin(int idle_ms)
    {
        timeval tv{idle_ms / 1000, (idle_ms % 1000) * 1000};
        bufferevent_set_timeouts(bev_.get(), &tv, &tv);
        bufferevent_setcb(bev_.get(), &Connection::on_read, &Connection::on_write,
                          &Connection::on_event, this);
        bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
        on_open();
    }

    void close() { delete this; }

protected:
    virtual void on_open() {}
    virtual void on_input(evbuffer* in) = 0;

    void touch()
    {
        if (tracked_) ctx_.connections.splice(ctx_.connections.end(), ctx_.connections, pos_);
    }
    evbuffer* output() { return bufferevent_get_output(bev_.get()); }
    bool output_full() { return evbuffer_get_length(output()) > kMaxPendingOutput; }
    void close_after_flush()
    {
        closing_ = true;
        bufferevent_disable(bev_.get(), EV_READ);
        if (evbuffer_get_length(output()) == 0) close();
    }

    ServeContext& ctx_;
    SockAddr peer_;
    BufferEventPtr bev_;
    bool closing_ = false;

private:
    static void on_read(bufferevent* bev, void* arg)
    {
        auto* self = static_cast<Connection*>(arg);
        self->touch();
        self->on_input(bufferevent_get_input(bev));
        // on_input may have closed us: it then returns right after close()
    }
    static void on_write(bufferevent* bev, void* arg)
    {
        auto* self = static_cast<Connection*>(arg);
        if (self->closing_) {
            self->close();
            return;
        }
        // Output drained: resume reading and process what was held back.
        bufferevent_enable(bev, EV_READ);
        if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
            self->on_input(bufferevent_get_input(bev));
    }
    static void on_event(bufferevent*, short what, void* arg)
    {
        auto* self = static_cast<Connection*>(arg);
        if (what & BEV_EVENT_TIMEOUT)
            KR_LOG(debug, "io", "closing idle connection from %s", self->peer_.to_string().c_str());
        else if (what & BEV_EVENT_ERROR)
            KR_LOG(debug, "io", "connection from %s failed: %s", self->peer_.to_string().c_str(),
                   std::strerror(EVUTIL_SOCKET_ERROR()));
        self->close();
    }

    bool tracked_;
    std::shared_ptr<Handle> handle_;
    std::list<Connection*>::iterator pos_;
};

namespace {

// RFC 1035 4.2.2 / RFC 7766: two-byte length, then the message. Queries are
// answered as they are read, so pipelined queries are all answered; answers
// leave in completion order, which lets the future asynchronous resolver
// answer out of order.
// A TCP answer given later; pipelined queries are thus answered out of
// order, as RFC 7766 6.2.1.1 allows.
class TcpReply final : public DeferredReply {
public:
    explicit TcpReply(std::shared_ptr<Connection::Handle> h) : h_(std::move(h)) {}
    size_t limit() const override { return 65535; }
    void send(std::span<const uint8_t> answer) override
    {
        if (h_->conn) h_->conn->write_framed(answer);
    }

private:
    std::shared_ptr<Connection::Handle> h_;
};

class DnsConnection final : public Connection {
public:
    DnsConnection(ServeContext& ctx, evutil_socket_t fd, const sockaddr* peer, int len)
        : Connection(ctx, fd, peer, len, true)
    {
        if (auto local = local_address(fd)) local_ = *local; // the policy's dst_addr
    }

private:
    void on_input(evbuffer* in) override
    {
        if (read_queries(in)) flush();
    }

    // Answers the complete queries in `in`; false when it closed the
    // connection (`this` is gone then).
    bool read_queries(evbuffer* in)
    {
        while (!closing_) {
            if (output_full()) {
                bufferevent_disable(bev_.get(), EV_READ); // resumes in on_write
                return true;
            }
            size_t have = evbuffer_get_length(in);
            if (have < 2) return true;
            uint8_t lenbuf[2];
            evbuffer_copyout(in, lenbuf, 2);
            size_t len = (size_t(lenbuf[0]) << 8) | lenbuf[1];
            if (len < kDnsHeader) { // cannot be a DNS message: the stream is not DNS
                ++ctx_.stats->err_tcp;
                close();
                return false;
            }
            if (have < 2 + len) return true;
            evbuffer_drain(in, 2);
            query_.resize(len);
            evbuffer_remove(in, query_.data(), len);
            ++ctx_.stats->tcp;
            ++(peer_.family() == AF_INET6 ? ctx_.stats->ipv6 : ctx_.stats->ipv4);
            ClientInfo client{peer_.sa(), local_.len ? local_.sa() : nullptr, Transport::tcp, {}};
            client.defer = [this]() -> std::unique_ptr<DeferredReply> {
                return std::make_unique<TcpReply>(handle());
            };
            answer_.resize(2 + 65535); // once: later calls find it sized
            size_t n = ctx_.queries->answer(query_, client, {answer_.data() + 2, 65535});
            if (n == 0 || n == kDeferred) continue; // deferred: answered out of order later
            answer_[0] = static_cast<uint8_t>(n >> 8);
            answer_[1] = static_cast<uint8_t>(n);
            // The answers of one read leave together (flush()).
            answers_.insert(answers_.end(), answer_.begin(), answer_.begin() + 2 + n);
            if (answers_.size() >= kFlushAt) flush();
        }
        return true;
    }

    void flush()
    {
        if (answers_.empty()) return;
        iovec iov{answers_.data(), answers_.size()};
        send_now(&iov, 1);
        answers_.clear();
    }

    static constexpr size_t kFlushAt = 16 * 1024;
    std::vector<uint8_t> query_, answer_, answers_;
    SockAddr local_; // len 0: unknown
};

// A line-based Lua prompt, like kresd's control socket: "> " is the prompt,
// each line is evaluated and its result printed before the next prompt.
class ControlConnection final : public Connection {
public:
    ControlConnection(ServeContext& ctx, evutil_socket_t fd, const sockaddr* peer, int len)
        : Connection(ctx, fd, peer, len, false)
    {
    }

private:
    void on_open() override { evbuffer_add(output(), "> ", 2); }

    void on_input(evbuffer* in) override
    {
        while (!closing_) {
            size_t n = 0;
            char* line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
            if (!line) {
                if (evbuffer_get_length(in) > kMaxControlLine) {
                    KR_LOG(warning, "contrl", "control command longer than %zu bytes, closing",
                           kMaxControlLine);
                    close();
                }
                return;
            }
            std::string cmd(line, n);
            std::free(line);
            std::string result = ctx_.control->eval(cmd);
            result += "\n> ";
            evbuffer_add(output(), result.data(), result.size());
        }
    }
};

enum class StreamKind { dns, control };

class StreamListener final : public Listener {
public:
    StreamListener(Fd fd, ServeContext& ctx, StreamKind kind)
        : fd_(std::move(fd)), ctx_(ctx), kind_(kind)
    {
        evutil_make_socket_nonblocking(fd_.get());
        // backlog 0: the socket is already listening (we bound it, or it was inherited)
        listener_.reset(evconnlistener_new(ctx.base, &StreamListener::on_accept, this,
                                           LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED, 0,
                                           fd_.get()));
    }

    void start() override { evconnlistener_enable(listener_.get()); }
    void stop() override { evconnlistener_disable(listener_.get()); }
    int fd() const override { return fd_.get(); }

private:
    static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int len, void* arg)
    {
        auto* self = static_cast<StreamListener*>(arg);
        if (self->kind_ == StreamKind::dns) {
            set_nodelay(fd);
            ++self->ctx_.stats->tcp_conns;
            auto& conns = self->ctx_.connections;
            if (conns.size() >= self->ctx_.tcp_max_connections && !conns.empty())
                conns.front()->close(); // the one idle the longest
        }
        Connection* c = nullptr;
        if (self->kind_ == StreamKind::dns)
            c = new DnsConnection(self->ctx_, fd, peer, len);
        else
            c = new ControlConnection(self->ctx_, fd, peer, len);
        if (!c->ok()) {
            c->close();
            return;
        }
        // The control prompt waits for a person: no idle timeout worth having there.
        c->begin(self->kind_ == StreamKind::dns ? self->ctx_.tcp_idle_timeout_ms : 3600 * 1000);
    }

    Fd fd_;
    ServeContext& ctx_;
    StreamKind kind_;
    ListenerPtr listener_;
};

} // namespace

std::unique_ptr<Listener> make_tcp_listener(Fd fd, ServeContext& ctx)
{
    return std::make_unique<StreamListener>(std::move(fd), ctx, StreamKind::dns);
}

std::unique_ptr<Listener> make_control_listener(Fd fd, ServeContext& ctx)
{
    return std::make_unique<StreamListener>(std::move(fd), ctx, StreamKind::control);
}

void close_connections(ServeContext& ctx)
{
    while (!ctx.connections.empty()) ctx.connections.front()->close();
    while (!ctx.control_connections.empty()) ctx.control_connections.front()->close();
}

} // namespace kresd::net
