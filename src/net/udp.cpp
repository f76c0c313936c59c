// UDP DNS listener.
//
// One readable event drains the socket in batches: recvmmsg() fills up to
// kBatch datagrams, each is answered into its own buffer, and sendmmsg()
// sends all answers of the batch in one call. Where the socket is bound to
// a wildcard address, IP_PKTINFO / IPV6_RECVPKTINFO tell which local address
// a query came to, and the answer is sent from that address (clients drop
// answers from another source).
#include <algorithm>
#include <array>
#include <memory>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <vector>

#include "net/address.hpp"
#include "net/compat.hpp"
#include "net/listeners.hpp"
#include "util/log.hpp"

namespace kresd::net {

namespace {

constexpr size_t kBatch = 64;
constexpr size_t kRecvSize = 4096;   // larger queries are not DNS we serve over UDP
constexpr size_t kAnswerSize = 65535; // bounded by udp_max_answer and the client's EDNS
constexpr size_t kCmsgSize = 128;
constexpr int kMaxBatchesPerWakeup = 16; // then yield to other events

// Reaches the listener's socket while it lives.
struct UdpSocketRef {
    int fd = -1; // -1 once the listener is gone
};

// A UDP answer given later: the peer and the local address are copied at
// defer time, the socket is looked up at send time.
class UdpReply final : public DeferredReply {
public:
    UdpReply(std::shared_ptr<UdpSocketRef> sock, const sockaddr_storage& peer, socklen_t peer_len,
             const void* control, size_t control_len, size_t limit)
        : sock_(std::move(sock)), peer_(peer), peer_len_(peer_len), limit_(limit)
    {
        control_len_ = std::min(control_len, control_.size());
        if (control_len_) std::memcpy(control_.data(), control, control_len_);
    }
    size_t limit() const override { return limit_; }
    void send(std::span<const uint8_t> answer) override
    {
        if (sock_->fd < 0) return;
        iovec iov{const_cast<uint8_t*>(answer.data()), answer.size()};
        msghdr h{};
        h.msg_name = &peer_;
        h.msg_namelen = peer_len_;
        h.msg_iov = &iov;
        h.msg_iovlen = 1;
        if (control_len_) {
            h.msg_control = control_.data();
            h.msg_controllen = control_len_;
        }
        if (sendmsg(sock_->fd, &h, MSG_DONTWAIT) < 0)
            KR_LOG(debug, "io", "UDP send failed: %s", std::strerror(errno));
    }

private:
    std::shared_ptr<UdpSocketRef> sock_;
    sockaddr_storage peer_;
    socklen_t peer_len_;
    std::array<uint8_t, kCmsgSize> control_{};
    size_t control_len_ = 0;
    size_t limit_;
};

class UdpListener final : public Listener {
public:
    UdpListener(Fd fd, ServeContext& ctx) : fd_(std::move(fd)), ctx_(ctx)
    {
        ref_ = std::make_shared<UdpSocketRef>();
        ref_->fd = fd_.get();
        auto local = local_address(fd_.get());
        wildcard_ = local && local->is_wildcard();
        // The queries' destination (the policy's dst_addr); for a wildcard
        // socket it differs per datagram and is left unknown.
        if (local && !wildcard_) local_ = *local;
        family_ = local ? local->family() : AF_INET;
        if (wildcard_) {
            int on = 1;
            if (family_ == AF_INET)
                setsockopt(fd_.get(), IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
            else
                setsockopt(fd_.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
        }
        rx_.resize(kBatch * kRecvSize);
        for (size_t i = 0; i < kBatch; ++i) {
            in_iov_[i] = {rx_.data() + i * kRecvSize, kRecvSize};
            auto& h = in_[i].msg_hdr;
            h.msg_name = &peers_[i];
            h.msg_iov = &in_iov_[i];
            h.msg_iovlen = 1;
            h.msg_control = wildcard_ ? cmsg_in_[i].data() : nullptr;
        }
        rearm(kBatch);
        // Edge-triggered: a level-triggered epoll puts the socket back on
        // its ready list after every wake-up and polls it again on the next
        // epoll_wait() only to find it drained (measured on a bare epoll +
        // recvmmsg responder at 30,000 q/s: epoll cost +0.8 us a query
        // level-triggered, +0.3 edge-triggered). on_read() drains the
        // socket (see there), so no edge is missed.
        ev_.reset(event_new(ctx_.base, fd_.get(), EV_READ | EV_PERSIST | EV_ET,
                            &UdpListener::on_read, this));
    }

    ~UdpListener() override { ref_->fd = -1; }

    void start() override { event_add(ev_.get(), nullptr); }
    void stop() override { event_del(ev_.get()); }
    int fd() const override { return fd_.get(); }

private:
    static void on_read(evutil_socket_t, short, void* arg)
    {
        auto* self = static_cast<UdpListener*>(arg);
        self->ctx_.queries->batch(true);
        bool drained = false;
        for (int i = 0; i < kMaxBatchesPerWakeup && !drained; ++i)
            drained = self->batch() < kBatch;
        self->ctx_.queries->batch(false);
        // A short batch means the queue was empty: recvmmsg() stops early
        // only there (an EINTR counts as a full batch, see batch()). After
        // kMaxBatchesPerWakeup full batches the rest waits for the next
        // loop pass: no new edge would announce it.
        if (!drained) event_active(self->ev_.get(), EV_READ, 0);
    }

    // Resets what recvmmsg() overwrote in the first n headers; the rest of
    // each header points at member buffers set up once (constructor).
    void rearm(size_t n)
    {
        for (size_t i = 0; i < n; ++i) {
            auto& h = in_[i].msg_hdr;
            h.msg_namelen = sizeof(peers_[i]);
            h.msg_controllen = wildcard_ ? kCmsgSize : 0;
            h.msg_flags = 0;
        }
    }

    // Receives and answers one batch; returns how many datagrams came in,
    // or kBatch when interrupted (the queue is not known to be empty).
    size_t batch()
    {
        // net.bufsize() may change while we run: size the answer buffers per batch.
        answer_size_ = std::min(kAnswerSize, std::max<size_t>(ctx_.udp_max_answer, 512));
        if (tx_.size() < kBatch * answer_size_) tx_.resize(kBatch * answer_size_);
        int got = recvmmsg(fd_.get(), in_.data(), kBatch, MSG_DONTWAIT, nullptr);
        if (got <= 0) {
            if (got < 0 && errno == EINTR) return kBatch;
            if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                ++ctx_.stats->err_udp;
                KR_LOG(debug, "io", "UDP receive failed: %s", std::strerror(errno));
            }
            return 0;
        }

        size_t n_out = 0;
        for (int i = 0; i < got; ++i) {
            auto& h = in_[i].msg_hdr;
            if (h.msg_flags & MSG_TRUNC) { // longer than any query we accept
                ++ctx_.stats->err_udp;
                continue;
            }
            const auto* peer = reinterpret_cast<const sockaddr*>(&peers_[i]);
            ++ctx_.stats->udp;
            ++(peer->sa_family == AF_INET6 ? ctx_.stats->ipv6 : ctx_.stats->ipv4);
            ClientInfo client{peer, local_.len ? local_.sa() : nullptr, Transport::udp, {}};
            // Captures two words: fits std::function's inline storage (no
            // allocation per datagram).
            client.defer = [this, i]() -> std::unique_ptr<DeferredReply> {
                const msghdr& src = in_[i].msg_hdr;
                msghdr tmp{};
                std::array<uint8_t, kCmsgSize> ctl{};
                if (wildcard_) set_source(src, tmp, ctl);
                return std::make_unique<UdpReply>(ref_, peers_[i], src.msg_namelen, tmp.msg_control,
                                                  tmp.msg_control ? tmp.msg_controllen : 0,
                                                  answer_size_);
            };
            std::span<const uint8_t> query(rx_.data() + i * kRecvSize, in_[i].msg_len);
            std::span<uint8_t> answer(tx_.data() + n_out * answer_size_, answer_size_);
            size_t len = ctx_.queries->answer(query, client, answer);
            if (len == 0 || len == kDeferred) continue;

            auto& o = out_[n_out].msg_hdr;
            out_iov_[n_out] = {answer.data(), len};
            o = msghdr{};
            o.msg_name = &peers_[i];
            o.msg_namelen = h.msg_namelen;
            o.msg_iov = &out_iov_[n_out];
            o.msg_iovlen = 1;
            if (wildcard_) set_source(h, o, cmsg_out_[n_out]);
            ++n_out;
        }
        send_all(out_.data(), n_out);
        rearm(static_cast<size_t>(got));
        return static_cast<size_t>(got);
    }

    // Copies the destination address of the query into the answer's source.
    void set_source(const msghdr& in, msghdr& out, std::array<uint8_t, kCmsgSize>& buf)
    {
        for (cmsghdr* c = CMSG_FIRSTHDR(const_cast<msghdr*>(&in)); c;
             c = CMSG_NXTHDR(const_cast<msghdr*>(&in), c)) {
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                in_pktinfo info;
                std::memcpy(&info, CMSG_DATA(c), sizeof(info));
                info.ipi_spec_dst = info.ipi_addr;
                info.ipi_ifindex = 0;
                put_cmsg(out, buf, IPPROTO_IP, IP_PKTINFO, &info, sizeof(info));
                return;
            }
            if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
                in6_pktinfo info;
                std::memcpy(&info, CMSG_DATA(c), sizeof(info));
                put_cmsg(out, buf, IPPROTO_IPV6, IPV6_PKTINFO, &info, sizeof(info));
                return;
            }
        }
    }

    static void put_cmsg(msghdr& out, std::array<uint8_t, kCmsgSize>& buf, int level, int type,
                         const void* data, size_t len)
    {
        std::memset(buf.data(), 0, buf.size());
        out.msg_control = buf.data();
        out.msg_controllen = CMSG_SPACE(len);
        cmsghdr* c = CMSG_FIRSTHDR(&out);
        c->cmsg_level = level;
        c->cmsg_type = type;
        c->cmsg_len = CMSG_LEN(len);
        std::memcpy(CMSG_DATA(c), data, len);
    }

    void send_all(mmsghdr* msgs, size_t n)
    {
        size_t done = 0;
        while (done < n) {
            int sent = sendmmsg(fd_.get(), msgs + done, n - done, MSG_DONTWAIT);
            if (sent < 0) {
                if (errno == EINTR) continue;
                // The failed message is dropped (the client will retry); go on with the rest.
                ++ctx_.stats->err_udp;
                KR_LOG(debug, "io", "UDP send failed: %s", std::strerror(errno));
                ++done;
                continue;
            }
            done += static_cast<size_t>(sent);
        }
    }

    Fd fd_;
    ServeContext& ctx_;
    std::shared_ptr<UdpSocketRef> ref_;
    EventPtr ev_;
    bool wildcard_ = false;
    int family_ = AF_INET;
    SockAddr local_; // len 0: unknown (wildcard)
    size_t answer_size_ = 0;
    std::vector<uint8_t> rx_, tx_;
    std::array<std::array<uint8_t, kCmsgSize>, kBatch> cmsg_in_{}, cmsg_out_{};
    std::array<mmsghdr, kBatch> in_{}, out_{};
    std::array<iovec, kBatch> in_iov_{}, out_iov_{};
    std::array<sockaddr_storage, kBatch> peers_{};
};

} // namespace

std::unique_ptr<Listener> make_udp_listener(Fd fd, ServeContext& ctx)
{
    return std::make_unique<UdpListener>(std::move(fd), ctx);
}

} // namespace kresd::net
