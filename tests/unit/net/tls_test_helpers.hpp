// Test helpers for the DoT and DoH listeners: a server side (event loop,
// listener on 127.0.0.1, a scripted QueryHandler) driven from the test's
// thread, and blocking mbedTLS / nghttp2 clients meant to run in a second
// thread, so partial writes, pipelining and deferred answers can be
// scripted exactly.
#pragma once

#include "catch.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mbedtls/net_sockets.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "net/listeners.hpp"
#include "net/tls.hpp"
#include "net/tls_context.hpp"

namespace kresd::net::test {

struct TempDir {
    std::string path;
    TempDir()
    {
        char tmpl[] = "/tmp/kresd-tls-XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        path = tmpl;
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

// A DNS query for `label`.example. A with the given ID.
inline std::vector<uint8_t> make_query(const std::string& label, uint16_t id)
{
    std::vector<uint8_t> q = {
        static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    q.push_back(static_cast<uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
    const char ex[] = "\7example";
    q.insert(q.end(), ex, ex + 8);
    q.insert(q.end(), {0, 0, 1, 0, 1});
    return q;
}

inline uint16_t id_of(const std::vector<uint8_t>& m)
{
    return m.size() >= 2 ? (m[0] << 8) | m[1] : 0;
}

// Answers every query with A 192.0.2.1 (TTL 300); labels starting with
// "slow" are deferred until release(), "drop" gets nothing.
class ScriptedHandler final : public QueryHandler {
public:
    size_t answer(std::span<const uint8_t> q, const ClientInfo& client,
                  std::span<uint8_t> out) override
    {
        transports.push_back(client.transport);
        if (q.size() < 17) return 0;
        std::string label(reinterpret_cast<const char*>(q.data()) + 13, 4);
        if (label == "drop") return 0;
        auto a = make_answer(q);
        if (label == "slow") {
            REQUIRE(client.defer);
            held.push_back({client.defer(), a});
            return kDeferred;
        }
        REQUIRE(a.size() <= out.size());
        std::memcpy(out.data(), a.data(), a.size());
        return a.size();
    }
    // Sends the held answers, the newest first.
    void release()
    {
        for (auto it = held.rbegin(); it != held.rend(); ++it)
            it->reply->send(it->answer);
        held.clear();
    }
    static std::vector<uint8_t> make_answer(std::span<const uint8_t> q)
    {
        std::vector<uint8_t> a(q.begin(), q.end());
        a[2] |= 0x80;
        a[3] = 0x80;
        a[6] = 0;
        a[7] = 1;
        a.insert(a.end(), {0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1});
        return a;
    }

    struct Held {
        std::unique_ptr<DeferredReply> reply;
        std::vector<uint8_t> answer;
    };
    std::vector<Held> held;
    std::vector<Transport> transports;
};

inline int listen_loopback(uint16_t* port)
{
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(::listen(fd, 64) == 0);
    socklen_t len = sizeof(a);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    *port = ntohs(a.sin_port);
    return fd;
}

// The server side: run only from the test's main thread.
struct Server {
    TempDir dir;
    EventBasePtr base{event_base_new()};
    NetStats stats;
    ScriptedHandler handler;
    ServeContext ctx;
    std::shared_ptr<TlsCredentials> creds;
    std::unique_ptr<Listener> listener;
    uint16_t port = 0;

    enum class Kind { dot, doh };
    explicit Server(Kind kind, std::string rundir = "")
    {
        ctx.base = base.get();
        ctx.queries = &handler;
        ctx.stats = &stats;
        ctx.tcp_idle_timeout_ms = 3000;
        creds = std::make_shared<TlsCredentials>(rundir.empty() ? dir.path : rundir);
        Fd fd(listen_loopback(&port));
        listener = kind == Kind::dot ? make_tls_listener(std::move(fd), ctx, creds)
                                     : make_doh_listener(std::move(fd), ctx, creds);
        listener->start();
    }
    ~Server() { listener.reset(); }

    // Runs the loop until `done()` or the timeout; returns done().
    bool run_until(const std::function<bool()>& done, int timeout_ms = 5000)
    {
        auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (!done()) {
            if (std::chrono::steady_clock::now() > end) return false;
            event_base_loop(base.get(), EVLOOP_NONBLOCK);
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        return true;
    }
};

// Runs `fn` in a thread while the server loop runs; joins at the end.
struct ClientThread {
    std::atomic<bool> finished{false};
    std::thread t;
    template <class F>
    explicit ClientThread(F fn)
        : t([this, fn]() mutable {
              fn();
              finished = true;
          })
    {
    }
    ~ClientThread()
    {
        if (t.joinable()) t.join();
    }
    bool done() const { return finished.load(); }
};

inline int connect_loopback(uint16_t port, int timeout_ms = 3000)
{
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        ::close(fd);
        return -1;
    }
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

// A blocking TLS client (verification off: the tests look at what they get).
class TlsClient {
public:
    explicit TlsClient(uint16_t port, const char* alpn, const mbedtls_ssl_session* resume = nullptr)
        : fd_(connect_loopback(port))
    {
        mbedtls_ssl_session_init(&session_);
        if (fd_ < 0) return;
        mbedtls_ssl_config_defaults(conf_.get(), MBEDTLS_SSL_IS_CLIENT,
                                    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
        mbedtls_ssl_conf_authmode(conf_.get(), MBEDTLS_SSL_VERIFY_NONE);
        mbedtls_ssl_conf_rng(conf_.get(), &Rng::random, &rng_);
        alpn_[0] = alpn;
        if (alpn) mbedtls_ssl_conf_alpn_protocols(conf_.get(), alpn_);
        mbedtls_ssl_setup(ssl_.get(), conf_.get());
        mbedtls_ssl_set_bio(ssl_.get(), this, &TlsClient::bio_send, &TlsClient::bio_recv, nullptr);
        if (resume) mbedtls_ssl_set_session(ssl_.get(), resume);
    }
    ~TlsClient()
    {
        mbedtls_ssl_session_free(&session_);
        close();
    }
    TlsClient(const TlsClient&) = delete;
    TlsClient& operator=(const TlsClient&) = delete;

    bool handshake()
    {
        if (fd_ < 0) return false;
        int r = mbedtls_ssl_handshake(ssl_.get());
        if (r != 0) return false;
        mbedtls_ssl_get_session(ssl_.get(), &session_);
        return true;
    }
    const mbedtls_ssl_session* session() const { return &session_; }
    std::string alpn() const
    {
        const char* p = mbedtls_ssl_get_alpn_protocol(ssl_.get());
        return p ? p : "";
    }
    const unsigned char* master() const { return session_.master; }

    bool write(std::span<const uint8_t> data)
    {
        size_t done = 0;
        while (done < data.size()) {
            int r = mbedtls_ssl_write(ssl_.get(), data.data() + done, data.size() - done);
            if (r <= 0) return false;
            done += static_cast<size_t>(r);
        }
        return true;
    }
    // > 0 bytes, 0 at a close, < 0 on errors and timeouts.
    int read(uint8_t* buf, size_t len)
    {
        int r = mbedtls_ssl_read(ssl_.get(), buf, len);
        if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) return 0;
        return r;
    }
    // Reads one RFC 7766 frame; empty at a close or an error.
    std::vector<uint8_t> read_frame()
    {
        while (true) {
            if (in_.size() >= 2) {
                size_t len = (size_t(in_[0]) << 8) | in_[1];
                if (in_.size() >= 2 + len) {
                    std::vector<uint8_t> m(in_.begin() + 2,
                                           in_.begin() + 2 + static_cast<long>(len));
                    in_.erase(in_.begin(), in_.begin() + 2 + static_cast<long>(len));
                    return m;
                }
            }
            uint8_t buf[4096];
            int r = read(buf, sizeof(buf));
            if (r <= 0) return {};
            in_.insert(in_.end(), buf, buf + r);
        }
    }
    // Bytes straight to the socket, under TLS.
    bool write_raw(std::span<const uint8_t> data)
    {
        return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) ==
               static_cast<ssize_t>(data.size());
    }
    // True when the server closes the connection within the socket timeout.
    bool closed_by_peer()
    {
        uint8_t buf[256];
        for (;;) {
            int r = read(buf, sizeof(buf));
            if (r > 0) continue;
            return r == 0 || r == MBEDTLS_ERR_NET_CONN_RESET || r == MBEDTLS_ERR_SSL_CONN_EOF ||
                   r == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE;
        }
    }
    void close()
    {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    int fd() const { return fd_; }

private:
    static int bio_send(void* self, const unsigned char* buf, size_t len)
    {
        ssize_t n = ::send(static_cast<TlsClient*>(self)->fd_, buf, len, MSG_NOSIGNAL);
        if (n >= 0) return static_cast<int>(n);
        return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                                     : MBEDTLS_ERR_NET_SEND_FAILED;
    }
    static int bio_recv(void* self, unsigned char* buf, size_t len)
    {
        ssize_t n = ::recv(static_cast<TlsClient*>(self)->fd_, buf, len, 0);
        if (n >= 0) return static_cast<int>(n);
        if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_TIMEOUT;
        return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
    }

    int fd_;
    Rng rng_;
    SslConfig conf_;
    SslContext ssl_;
    mbedtls_ssl_session session_;
    const char* alpn_[2] = {nullptr, nullptr};
    std::vector<uint8_t> in_;
};

inline std::vector<uint8_t> framed(const std::vector<uint8_t>& m)
{
    std::vector<uint8_t> f = {static_cast<uint8_t>(m.size() >> 8), static_cast<uint8_t>(m.size())};
    f.insert(f.end(), m.begin(), m.end());
    return f;
}

} // namespace kresd::net::test
