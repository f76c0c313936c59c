// DNS-over-TLS (RFC 7858): after the TLS handshake, RFC 7766 framing
// exactly as over TCP: a two-byte length, then the message. Pipelined
// queries are all read and handed to the QueryHandler in order; answers
// leave as they are ready, so deferred ones come out of order (RFC 7766
// 6.2.1.1). A frame too short for a DNS header means the peer does not
// speak DNS: the connection is closed with a log line.
#include <cstring>

#include "net/tls.hpp"
#include "net/tls_stream.hpp"
#include "util/log.hpp"

namespace kresd::net {

namespace {

constexpr size_t kDnsHeader = 12;    // RFC 1035 4.1.1
constexpr size_t kMaxInFlight = 100; // deferred queries per connection before reading pauses

class DotStream;

// A DoT answer given later; dropped when the connection is gone.
class DotReply final : public DeferredReply {
public:
    explicit DotReply(std::shared_ptr<StreamHandle> h) : h_(std::move(h)) {}
    ~DotReply() override;
    size_t limit() const override { return 65535; }
    void send(std::span<const uint8_t> answer) override;

private:
    std::shared_ptr<StreamHandle> h_;
    bool done_ = false;
};

class DotStream final : public TlsStream {
public:
    explicit DotStream(TlsStreamParams p) : TlsStream(std::move(p)) {}

    void deliver(std::span<const uint8_t> answer)
    {
        --in_flight_;
        if (!answer.empty() && answer.size() <= 65535) {
            uint8_t len[2] = {static_cast<uint8_t>(answer.size() >> 8),
                              static_cast<uint8_t>(answer.size())};
            TlsStream::send(len);
            TlsStream::send(answer);
        }
        wake();
    }

private:
    bool on_input(std::span<const uint8_t> data) override
    {
        in_.insert(in_.end(), data.begin(), data.end());
        return process();
    }
    bool on_resume() override { return process(); }
    bool accepting_input() const override { return in_flight_ < kMaxInFlight; }
    bool busy() const override { return in_flight_ > 0; }

    bool process()
    {
        while (open() && in_flight_ < kMaxInFlight && !output_full()) {
            size_t have = in_.size() - in_pos_;
            if (have < 2) break;
            size_t len = (size_t(in_[in_pos_]) << 8) | in_[in_pos_ + 1];
            if (len < kDnsHeader) { // cannot be a DNS message: the peer does not speak DNS
                fail("DNS-over-TLS from %s: a %zu-byte frame cannot hold a DNS message, closing",
                     peer_.to_string().c_str(), len);
                return false;
            }
            if (have < 2 + len) break;
            query({in_.data() + in_pos_ + 2, len});
            in_pos_ += 2 + len;
        }
        if (in_pos_ == in_.size()) {
            in_.clear();
            in_pos_ = 0;
        } else if (in_pos_ > 64 * 1024) {
            in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(in_pos_));
            in_pos_ = 0;
        }
        return true;
    }

    void query(std::span<const uint8_t> q)
    {
        touch();
        ++ctx_.stats->tls;
        ++(peer_.family() == AF_INET6 ? ctx_.stats->ipv6 : ctx_.stats->ipv4);
        ClientInfo client;
        client.peer = peer_.sa();
        client.local = local_.len ? local_.sa() : nullptr;
        client.transport = Transport::tls;
        client.defer = [this]() -> std::unique_ptr<DeferredReply> {
            ++in_flight_;
            return std::make_unique<DotReply>(handle());
        };
        // The query lives in in_, the answer goes to the listener's scratch buffer.
        std::span<uint8_t> out{scratch_.data() + 2, 65535};
        size_t n = ctx_.queries->answer(q, client, out);
        if (n == 0 || n == kDeferred) return;
        if (n > 65535) return; // a handler bug; never send a broken frame
        scratch_[0] = static_cast<uint8_t>(n >> 8);
        scratch_[1] = static_cast<uint8_t>(n);
        send({scratch_.data(), n + 2});
    }

    std::vector<uint8_t> in_;
    size_t in_pos_ = 0;
    size_t in_flight_ = 0;
};

DotReply::~DotReply()
{
    // Never answered: the query no longer holds the connection busy.
    if (!done_ && h_->conn) static_cast<DotStream*>(h_->conn)->deliver({});
}

void DotReply::send(std::span<const uint8_t> answer)
{
    if (done_) return;
    done_ = true;
    if (h_->conn) static_cast<DotStream*>(h_->conn)->deliver(answer);
}

} // namespace

std::shared_ptr<TlsCredentials> TlsSettings::credentials()
{
    if (!creds_) creds_ = std::make_shared<TlsCredentials>();
    return creds_;
}

void TlsSettings::reset()
{
    creds_.reset();
}

TlsSettings& tls_settings()
{
    static TlsSettings settings;
    return settings;
}

std::unique_ptr<Listener> make_tls_listener(Fd fd, ServeContext& ctx,
                                            std::shared_ptr<TlsCredentials> creds)
{
    return std::make_unique<TlsListener>(
        std::move(fd), ctx, std::move(creds), Alpn::dot, "DNS-over-TLS", "tls", &NetStats::err_tls,
        [](TlsStreamParams p) -> TlsStream* { return new DotStream(std::move(p)); });
}

} // namespace kresd::net
