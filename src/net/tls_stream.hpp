// One accepted TLS connection on a raw non-blocking socket, and the
// listener that accepts them. Private to src/net: the DoT (tls_listener.cpp)
// and DoH (doh.cpp) connections derive from TlsStream and only deal with
// plaintext.
//
// I/O: mbedTLS reads and writes the socket itself through bio callbacks
// (recv/send, EAGAIN becomes WANT_READ/WANT_WRITE). libevent watches the
// socket: a persistent read event, a write event armed only while mbedTLS
// has bytes it could not send, a timer (handshake deadline, then idle
// timeout), and a "wake" event that code outside the event callbacks (a
// deferred answer arriving) activates to get output flushed soon.
//
// States: handshake -> open -> (draining) -> dead. Every event callback runs
// step(), and step() is the only place a connection deletes itself, after
// everything else is done, so hooks may call fail()/finish() freely. The
// listener deletes connections directly only from its own callbacks
// (eviction) or its destructor.
//
// Backpressure: plaintext output is queued in one buffer; above
// kMaxPendingOutput reading stops until it drains. A subclass can also hold
// input back with accepting_input() (too many queries in flight); it is
// asked again, through on_resume(), at every step.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <event2/listener.h>
#include <functional>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "net/address.hpp"
#include "net/event.hpp"
#include "net/handler.hpp"
#include "net/listeners.hpp"
#include "net/tls_context.hpp"

namespace kresd::net {

class TlsStream;

// What a DeferredReply holds: the stream nulls `conn` when it goes away.
struct StreamHandle {
    TlsStream* conn = nullptr;
};

using TlsRegistry = std::list<TlsStream*>; // least recently active first

struct TlsStreamParams {
    ServeContext* ctx = nullptr;
    TlsRegistry* registry = nullptr;
    std::vector<uint8_t>* scratch = nullptr; // shared answer buffer (65535 + 2 bytes)
    int fd = -1;                             // owned from now on
    SockAddr peer, local;
    std::shared_ptr<ServerConfig> config;
    const char* group = "tls";                       // log group
    uint64_t NetStats::*errors = &NetStats::err_tls; // counted by fail()
    int handshake_ms = 5000;
    // Acknowledge every read at once (TCP_QUICKACK, Linux). HTTP/2 clients
    // write a POST's HEADERS and DATA frames separately; with Nagle on their
    // side, DATA waits for our ACK of HEADERS, which the kernel delays by
    // up to 40 ms when we have nothing to send yet.
    bool quickack = false;
};

class TlsStream {
public:
    static constexpr size_t kMaxPendingOutput = 256 * 1024;
    static constexpr size_t kReadChunk = 16 * 1024;

    explicit TlsStream(TlsStreamParams p);
    virtual ~TlsStream();
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    // Sets up TLS and the events; false (after a log line) when that fails,
    // and the caller then deletes the stream.
    bool start();
    std::shared_ptr<StreamHandle> handle();
    const SockAddr& peer() const { return peer_; }

protected:
    // The handshake is done; ALPN is known. Return false to close.
    virtual bool on_established() { return true; }
    // Decrypted bytes. Return false after fail() to close.
    virtual bool on_input(std::span<const uint8_t> data) = 0;
    // Called at every step while open: process held-back input. false closes.
    virtual bool on_resume() { return true; }
    // Called before output is flushed: queue more (HTTP/2 frames). false closes.
    virtual bool on_output_room() { return true; }
    // Whether reading more input is wanted now.
    virtual bool accepting_input() const { return true; }
    // Work in flight (deferred answers): the connection is not idle, and a
    // draining connection waits for it.
    virtual bool busy() const { return false; }
    // Whether the protocol above is done (HTTP/2 after GOAWAY): close once flushed.
    virtual bool finished() const { return false; }

    // Queues plaintext. Consecutive sends share TLS records (up to 16 KiB)
    // unless end_record() is called in between.
    void send(std::span<const uint8_t> plain);
    // Ends the TLS record after what has been queued so far. DoH does this
    // after each response, as Knot Resolver does: some clients (dnsperf)
    // handle one response per record read.
    void end_record();
    // Asks for a step soon; for callers outside the event callbacks.
    void wake();
    // Logs (notice), counts an error, and closes without flushing.
    void fail(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
    // Closes once the output is flushed and nothing is busy.
    void finish();
    // A complete request arrived: the idle clock restarts, and the stream
    // moves to the end of the eviction order.
    void touch();
    bool output_full() const
    {
        return out_.size() - out_pos_ + enc_.size() - enc_pos_ > kMaxPendingOutput;
    }
    // Plaintext and ciphertext not yet handed to the socket.
    size_t pending_output() const { return out_.size() - out_pos_ + enc_.size() - enc_pos_; }
    bool open() const { return state_ == State::open; }
    const char* alpn() const; // negotiated protocol, or nullptr

    ServeContext& ctx_;
    std::vector<uint8_t>& scratch_;
    SockAddr peer_, local_;
    const char* group_;

private:
    enum class State { handshake, open, draining, dead };

    static void on_event(evutil_socket_t, short what, void* arg);
    static void on_timer(evutil_socket_t, short, void* arg);
    static int bio_send(void* self, const unsigned char* buf, size_t len);
    static int bio_recv(void* self, unsigned char* buf, size_t len);

    void step(short what);
    void handshake();
    void read_input();
    void flush();
    bool flush_socket(); // ciphertext to the socket; false on a socket error
    void update_events();
    void arm_timer(std::chrono::milliseconds after);
    void timer_fired();
    void close_quietly(); // close_notify, then dead

    uint64_t NetStats::*errors_;
    TlsRegistry& registry_;
    TlsRegistry::iterator pos_;
    int fd_;
    std::shared_ptr<ServerConfig> config_;
    SslContext ssl_;
    EventPtr read_ev_, write_ev_, timer_ev_, wake_ev_;
    State state_ = State::handshake;
    int handshake_ms_;
    bool want_write_ = false; // ciphertext waits for the socket to take it
    bool read_armed_ = false;
    bool write_armed_ = false;
    bool more_input_ = false; // stopped reading with data possibly left
    size_t retry_len_ = 0;    // length of an mbedtls_ssl_write() to repeat
    // Plaintext waiting for mbedtls_ssl_write(); record ends as absolute
    // offsets (bytes ever queued), so compaction does not move them.
    std::vector<uint8_t> out_;
    size_t out_pos_ = 0;
    uint64_t out_base_ = 0; // absolute offset of out_[0]
    std::deque<uint64_t> record_ends_;
    // Ciphertext from mbedTLS (bio_send) waiting for one send() call, so
    // many records cost one system call.
    std::vector<uint8_t> enc_;
    size_t enc_pos_ = 0;
    bool socket_failed_ = false;
    std::chrono::steady_clock::time_point last_active_;
    std::shared_ptr<StreamHandle> handle_;
    bool in_step_ = false;
    bool received_ = false; // any byte from the peer yet
    bool quickack_ = false;
};

// Accepts connections and owns them.
class TlsListener final : public Listener {
public:
    using Factory = std::function<TlsStream*(TlsStreamParams)>;

    TlsListener(Fd fd, ServeContext& ctx, std::shared_ptr<TlsCredentials> creds, Alpn alpn,
                std::string what, const char* group, uint64_t NetStats::*errors, Factory make);
    ~TlsListener() override;

    void start() override;
    void stop() override;
    int fd() const override { return fd_.get(); }

    size_t connections() const { return registry_.size(); }

private:
    struct EvListenerFree {
        void operator()(evconnlistener* l) const { evconnlistener_free(l); }
    };
    static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int len, void* arg);

    Fd fd_;
    ServeContext& ctx_;
    std::shared_ptr<TlsCredentials> creds_;
    Alpn alpn_;
    std::string what_;
    const char* group_;
    uint64_t NetStats::*errors_;
    Factory make_;
    TlsRegistry registry_;
    std::vector<uint8_t> scratch_;
    time_t quiet_until_ = 0; // repeated "no certificate" lines are not logged before
    std::unique_ptr<evconnlistener, EvListenerFree> listener_;
};

} // namespace kresd::net
