// DNS over TLS to upstream servers; see upstream_tls.hpp.
#include "net/upstream_tls.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <mbedtls/net_sockets.h> // MBEDTLS_ERR_NET_* codes for the bio callbacks
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <sys/socket.h>
#include <unordered_map>

#include "net/compat.hpp"
#include "net/tls_context.hpp"
#include "util/log.hpp"

namespace kresd::net {

namespace {

constexpr const char* kGroup = "tlsclient";

std::string auth_key(const resolve::TlsAuth& a)
{
    std::string k = a.insecure ? "i|" : "v|";
    k += a.hostname + "|" + a.ca_file;
    for (const auto& p : a.pins) {
        k += '|';
        k.append(p.begin(), p.end());
    }
    return k;
}

std::string describe(const SockAddr& to, const resolve::TlsAuth* a)
{
    std::string s = to.to_string();
    if (a && !a->hostname.empty()) s += " (" + a->hostname + ")";
    return s;
}

// The question of a message: lower-cased QNAME, QTYPE and QCLASS; empty
// when there is none or it cannot be read (uncompressed names only: ours,
// and what servers echo).
std::vector<uint8_t> question_of(std::span<const uint8_t> m)
{
    if (m.size() < 12 || ((m[4] << 8) | m[5]) == 0) return {};
    size_t pos = 12;
    while (pos < m.size() && m[pos] != 0) {
        if (m[pos] > 63) return {};
        pos += 1 + m[pos];
    }
    if (pos + 5 > m.size()) return {};
    std::vector<uint8_t> q(m.begin() + 12, m.begin() + static_cast<long>(pos) + 5);
    for (auto& c : q)
        c = static_cast<uint8_t>(std::tolower(c));
    return q;
}

bool is_retry(int r)
{
    return r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE;
}

} // namespace

// ---------------------------------------------------------------- the pool

namespace {

struct ClientConf {
    std::shared_ptr<Rng> rng;
    X509Crt ca;
    SslConfig conf;
};

struct Session {
    Session() { mbedtls_ssl_session_init(&s); }
    ~Session() { mbedtls_ssl_session_free(&s); }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    mbedtls_ssl_session s;
};

const char* kAlpn[] = {"dot", nullptr};

} // namespace

struct Conn;

struct Query {
    TlsUpstreamPool::Impl* pool = nullptr;
    uint64_t ticket = 0;
    std::string key;
    SockAddr to;
    std::shared_ptr<const resolve::TlsAuth> auth;
    std::vector<uint8_t> framed;
    uint16_t id = 0;
    std::vector<uint8_t> question;
    uint32_t timeout_ms = 0;
    TlsUpstreamPool::OnReply on_reply;
    TlsUpstreamPool::OnFail on_fail;
    EventPtr timer;
    Conn* conn = nullptr;
    bool on_reused = false; // given to a connection that was open already
    bool retried = false;
    bool queued = false;  // could not be written at once: the timer restarts when it is
    std::string fail_why; // set: the timer reports this failure
};

struct Conn {
    enum class State { connecting, handshake, open, dead };

    TlsUpstreamPool::Impl& pool;
    std::string key;
    SockAddr to;
    std::shared_ptr<const resolve::TlsAuth> auth;
    std::string name;                 // for logs
    std::shared_ptr<ClientConf> conf; // before ssl: outlives it
    std::shared_ptr<Session> offered; // the session we tried to resume
    SslContext ssl;
    Fd fd;
    EventPtr read_ev, write_ev, timer, kick;
    State state = State::connecting;
    std::deque<uint64_t> waiting;
    std::vector<uint64_t> inflight;
    std::vector<uint8_t> out;
    size_t out_pos = 0, retry_len = 0;
    std::vector<uint8_t> in;
    bool want_write = false, write_armed = false, read_armed = false, idle_armed = false;
    std::string pending_error;

    Conn(TlsUpstreamPool::Impl& p, std::string k, const SockAddr& a,
         std::shared_ptr<const resolve::TlsAuth> au)
        : pool(p), key(std::move(k)), to(a), auth(std::move(au)), name(describe(to, auth.get()))
    {
    }

    void start();
    void on_io(short what);
    void handshake();
    bool established();
    void read();
    void deliver(std::span<const uint8_t> msg);
    size_t deliver_frames();
    void pump();
    bool flush();
    void update_events();
    void fail(const std::string& why, bool retryable);
    void close_idle();
    void remove(uint64_t ticket);

    static int bio_send(void* self, const unsigned char* buf, size_t len);
    static int bio_recv(void* self, unsigned char* buf, size_t len);
    static void on_event(evutil_socket_t, short what, void* arg)
    {
        static_cast<Conn*>(arg)->on_io(what);
    }
    static void on_timer(evutil_socket_t, short, void* arg);
    static void on_kick(evutil_socket_t, short, void* arg);
};

struct TlsUpstreamPool::Impl {
    event_base* base;
    UpstreamSource src;
    std::shared_ptr<Rng> rng;
    Stats stats;
    uint64_t next_ticket = 1;
    std::unordered_map<uint64_t, std::unique_ptr<Query>> queries;
    std::map<std::string, std::unique_ptr<Conn>> conns;
    std::vector<std::unique_ptr<Conn>> graveyard; // dead, freed from the loop
    EventPtr reaper;
    std::map<std::string, std::shared_ptr<ClientConf>> confs; // by auth_key
    std::map<std::string, std::shared_ptr<Session>> sessions; // by connection key
    std::map<std::string, time_t> quiet_until;                // log throttling per key

    Impl(event_base* b, UpstreamSource s) : base(b), src(std::move(s))
    {
        reaper.reset(evtimer_new(
            base,
            [](evutil_socket_t, short, void* arg) { static_cast<Impl*>(arg)->graveyard.clear(); },
            this));
    }

    Query* find(uint64_t t)
    {
        auto it = queries.find(t);
        return it == queries.end() ? nullptr : it->second.get();
    }

    // The query ends without a callback (reply taken, cancelled).
    void drop(uint64_t t)
    {
        auto it = queries.find(t);
        if (it == queries.end()) return;
        if (it->second->conn) it->second->conn->remove(t);
        queries.erase(it);
    }

    void fail_query(uint64_t t, bool timed_out, const std::string& why)
    {
        auto it = queries.find(t);
        if (it == queries.end()) return;
        std::unique_ptr<Query> q = std::move(it->second);
        queries.erase(it);
        if (q->conn) q->conn->remove(t);
        ++(timed_out ? stats.timeouts : stats.failures);
        auto cb = std::move(q->on_fail);
        const std::string text = why; // `why` may live in what the callback frees
        cb(timed_out, text.c_str());
        // q (and its timer, possibly the one running now) goes here
    }

    // Reports a failure from the loop, never from inside query().
    void fail_soon(Query& q, std::string why)
    {
        q.fail_why = std::move(why);
        timeval now{0, 0};
        event_add(q.timer.get(), &now);
    }

    static void arm(Query& q, uint32_t ms)
    {
        timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
        event_add(q.timer.get(), &tv);
    }
    std::shared_ptr<ClientConf> client_conf(const resolve::TlsAuth& a, std::string& error);
    void dispatch(Query& q);
    void bury(Conn* c)
    {
        auto it = conns.find(c->key);
        if (it != conns.end() && it->second.get() == c) {
            graveyard.push_back(std::move(it->second));
            conns.erase(it);
        }
        timeval now{0, 0};
        event_add(reaper.get(), &now);
    }
    bool log_now(const std::string& key)
    {
        // One line per server and reason would be ideal; one per 10 s per
        // server keeps a broken upstream from flooding the log.
        time_t now = ::time(nullptr);
        auto& until = quiet_until[key];
        if (now < until) return false;
        until = now + 10;
        return true;
    }

    static void on_query_timer(evutil_socket_t, short, void* arg)
    {
        auto* q = static_cast<Query*>(arg);
        Impl* self = q->pool;
        if (!q->fail_why.empty()) {
            std::string why = q->fail_why;
            self->fail_query(q->ticket, false, why);
        } else {
            self->fail_query(q->ticket, true, "timed out");
        }
    }
};

std::shared_ptr<ClientConf> TlsUpstreamPool::Impl::client_conf(const resolve::TlsAuth& a,
                                                               std::string& error)
{
    const std::string k = auth_key(a);
    auto it = confs.find(k);
    if (it != confs.end()) return it->second;
    if (!rng) {
        try {
            rng = std::make_shared<Rng>();
        } catch (const std::exception& e) {
            error = e.what();
            return nullptr;
        }
    }
    auto cc = std::make_shared<ClientConf>();
    cc->rng = rng;
    mbedtls_ssl_config* c = cc->conf.get();
    int r = mbedtls_ssl_config_defaults(c, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT);
    if (r != 0) {
        error = "TLS configuration failed: " + mbedtls_error_text(r);
        return nullptr;
    }
    mbedtls_ssl_conf_rng(c, &Rng::random, cc->rng.get());
    mbedtls_ssl_conf_min_version(c, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#if defined(MBEDTLS_SSL_RENEGOTIATION)
    mbedtls_ssl_conf_renegotiation(c, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
    mbedtls_ssl_conf_session_tickets(c, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
#endif
    r = mbedtls_ssl_conf_alpn_protocols(c, kAlpn);
    if (r != 0) {
        error = "TLS ALPN setup failed: " + mbedtls_error_text(r);
        return nullptr;
    }
    if (a.insecure || !a.pins.empty()) {
        // Pins are checked after the handshake (Conn::established).
        mbedtls_ssl_conf_authmode(c, MBEDTLS_SSL_VERIFY_NONE);
    } else {
        const std::string file = a.ca_file.empty() ? std::string(kSystemCaFile) : a.ca_file;
        r = mbedtls_x509_crt_parse_file(cc->ca.get(), file.c_str());
        if (r < 0 || cc->ca.get()->version == 0) {
            error = "cannot read CA file " + file + ": " +
                    (r < 0 ? mbedtls_error_text(r) : std::string("no certificate in it"));
            return nullptr;
        }
        mbedtls_ssl_conf_ca_chain(c, cc->ca.get(), nullptr);
        mbedtls_ssl_conf_authmode(c, MBEDTLS_SSL_VERIFY_REQUIRED);
    }
    confs.emplace(k, cc);
    return cc;
}

void TlsUpstreamPool::Impl::dispatch(Query& q)
{
    q.conn = nullptr;
    if (!q.auth) return fail_soon(q, "no TLS settings for this server");
    auto it = conns.find(q.key);
    Conn* c = nullptr;
    if (it != conns.end()) {
        c = it->second.get();
    } else {
        if (conns.size() >= kMaxConnections)
            return fail_soon(q, "too many upstream TLS connections");
        auto fresh = std::make_unique<Conn>(*this, q.key, q.to, q.auth);
        c = fresh.get();
        conns.emplace(q.key, std::move(fresh));
        c->start();
    }
    if (c->waiting.size() >= kMaxQueued) return fail_soon(q, "too many queries waiting");
    q.conn = c;
    q.on_reused = c->state == Conn::State::open;
    c->waiting.push_back(q.ticket);
    // A query that must wait (handshake, or a full pipeline) gets more time
    // for the wait, and its own timeout again once it is written.
    q.queued = c->state != Conn::State::open || c->waiting.size() > 1 ||
               c->inflight.size() >= kMaxInFlight;
    const uint32_t ms = q.queued ? std::max(q.timeout_ms, kMinFirstQueryMs) : q.timeout_ms;
    arm(q, ms);
    event_active(c->kick.get(), 0, 0);
}

// ---------------------------------------------------------------- Conn

void Conn::start()
{
    timer.reset(evtimer_new(pool.base, &Conn::on_timer, this));
    kick.reset(event_new(pool.base, -1, 0, &Conn::on_kick, this));
    ++pool.stats.connects;
    timeval tv{TlsUpstreamPool::kHandshakeMs / 1000, (TlsUpstreamPool::kHandshakeMs % 1000) * 1000};
    event_add(timer.get(), &tv);
    std::string error;
    conf = pool.client_conf(*auth, error);
    if (!conf) {
        pending_error = error;
        return;
    }
    int r = mbedtls_ssl_setup(ssl.get(), conf->conf.get());
    if (r == 0 && !auth->hostname.empty())
        r = mbedtls_ssl_set_hostname(ssl.get(), auth->hostname.c_str());
    if (r != 0) {
        pending_error = "TLS setup failed: " + mbedtls_error_text(r);
        return;
    }
    auto saved = pool.sessions.find(key);
    if (saved != pool.sessions.end() && mbedtls_ssl_set_session(ssl.get(), &saved->second->s) == 0)
        offered = saved->second;
    mbedtls_ssl_set_bio(ssl.get(), this, &Conn::bio_send, &Conn::bio_recv, nullptr);

    fd.reset(::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        pending_error = std::string("socket: ") + std::strerror(errno);
        return;
    }
    set_nodelay(fd.get()); // pipelined queries must not wait for ACKs
#ifdef SO_NOSIGPIPE
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
    const std::string& src = to.family() == AF_INET6 ? pool.src.v6 : pool.src.v4;
    if (!src.empty()) {
        if (auto a = parse_ip(src, 0); a && ::bind(fd.get(), a->sa(), a->len) != 0) {
            pending_error = std::string("bind to the source address: ") + std::strerror(errno);
            return;
        }
    }
    if (::connect(fd.get(), to.sa(), to.len) != 0 && errno != EINPROGRESS) {
        pending_error = std::string("connect: ") + std::strerror(errno);
        return;
    }
    read_ev.reset(event_new(pool.base, fd.get(), EV_READ | EV_PERSIST, &Conn::on_event, this));
    write_ev.reset(event_new(pool.base, fd.get(), EV_WRITE, &Conn::on_event, this));
    event_add(write_ev.get(), nullptr); // the connect completes
    write_armed = true;
}

int Conn::bio_send(void* self, const unsigned char* buf, size_t len)
{
    auto* c = static_cast<Conn*>(self);
    for (;;) {
        ssize_t n = ::send(c->fd.get(), buf, len, MSG_NOSIGNAL);
        if (n >= 0) return static_cast<int>(n);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->want_write = true;
            return MBEDTLS_ERR_SSL_WANT_WRITE;
        }
        if (errno == EPIPE || errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
        return MBEDTLS_ERR_NET_SEND_FAILED;
    }
}

int Conn::bio_recv(void* self, unsigned char* buf, size_t len)
{
    auto* c = static_cast<Conn*>(self);
    for (;;) {
        ssize_t n = ::recv(c->fd.get(), buf, len, 0);
        if (n >= 0) return static_cast<int>(n); // 0: EOF
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
        if (errno == ECONNRESET || errno == EPIPE) return MBEDTLS_ERR_NET_CONN_RESET;
        return MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

void Conn::on_timer(evutil_socket_t, short, void* arg)
{
    auto* c = static_cast<Conn*>(arg);
    if (c->state == State::open)
        c->close_idle();
    else if (c->state != State::dead)
        c->fail("connection or TLS handshake timed out", false);
}

void Conn::on_kick(evutil_socket_t, short, void* arg)
{
    auto* c = static_cast<Conn*>(arg);
    if (!c->pending_error.empty()) return c->fail(c->pending_error, false);
    c->on_io(0);
}

void Conn::on_io(short what)
{
    if (state == State::dead) return;
    if (what & EV_WRITE) write_armed = false;
    if (state == State::connecting) {
        if (!(what & EV_WRITE)) return update_events();
        int err = 0;
        socklen_t len = sizeof(err);
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) return fail(std::string("connect: ") + std::strerror(err), false);
        state = State::handshake;
        event_add(read_ev.get(), nullptr);
        read_armed = true;
    }
    if (state == State::handshake) {
        handshake();
        if (state != State::open) return update_events();
    }
    if (what & EV_READ) {
        read();
        if (state == State::dead) return;
    }
    pump();
    if (!flush()) return fail("cannot write to the server", true);
    update_events();
}

void Conn::handshake()
{
    want_write = false;
    int r = mbedtls_ssl_handshake(ssl.get());
    if (is_retry(r)) return;
    if (r == 0) {
        if (!established()) return;
        state = State::open;
        return;
    }
    std::string why;
    if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        ++pool.stats.verify_failures;
        char info[512];
        int n = mbedtls_x509_crt_verify_info(info, sizeof(info), "",
                                             mbedtls_ssl_get_verify_result(ssl.get()));
        std::string text = n > 0 ? std::string(info, static_cast<size_t>(n)) : "unknown reason";
        while (!text.empty() && text.back() == '\n')
            text.pop_back();
        std::replace(text.begin(), text.end(), '\n', ';');
        why = "certificate verification failed: " + text;
    } else {
        why = "TLS handshake failed: " + mbedtls_error_text(r);
    }
    fail(why, false);
}

// The handshake is done: check pins, keep the session for resumption.
bool Conn::established()
{
    ++pool.stats.handshakes;
    if (!auth->pins.empty() && !auth->insecure) {
        const mbedtls_x509_crt* peer = mbedtls_ssl_get_peer_cert(ssl.get());
        unsigned char hash[kPinLen];
        if (!peer || !spki_sha256(*peer, hash)) {
            ++pool.stats.verify_failures;
            fail("certificate verification failed: no usable certificate to check the pin", false);
            return false;
        }
        const bool match = std::any_of(auth->pins.begin(), auth->pins.end(), [&](const auto& p) {
            return p.size() == kPinLen && std::memcmp(p.data(), hash, kPinLen) == 0;
        });
        if (!match) {
            ++pool.stats.verify_failures;
            fail("certificate verification failed: public key matches no pin_sha256 (it has " +
                     spki_pin(*peer) + ")",
                 false);
            return false;
        }
    }
    // A resumed session keeps the master secret of the one we offered.
    const mbedtls_ssl_session* now = ssl.get()->session;
    const bool resumed =
        offered && now && std::memcmp(now->master, offered->s.master, sizeof(now->master)) == 0;
    if (resumed) ++pool.stats.resumed;
    auto fresh = std::make_shared<Session>();
    if (mbedtls_ssl_get_session(ssl.get(), &fresh->s) == 0) pool.sessions[key] = fresh;
    const char* alpn = mbedtls_ssl_get_alpn_protocol(ssl.get());
    KR_LOG(debug, kGroup, "connected to %s, %s, %s, ALPN %s", name.c_str(),
           mbedtls_ssl_get_version(ssl.get()), resumed ? "resumed" : "new session",
           alpn ? alpn : "none");
    return true;
}

void Conn::read()
{
    unsigned char buf[16384];
    for (;;) {
        int r = mbedtls_ssl_read(ssl.get(), buf, sizeof(buf));
        if (r > 0) {
            in.insert(in.end(), buf, buf + r);
            continue;
        }
        if (is_retry(r)) break;
        // Deliver what came before the close, then go.
        deliver_frames();
        in.clear();
        if (state == State::dead) return;
        if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == MBEDTLS_ERR_NET_CONN_RESET)
            return fail("closed by the server", true);
        return fail("TLS read failed: " + mbedtls_error_text(r), true);
    }
    const size_t used = deliver_frames();
    if (state == State::dead) return;
    in.erase(in.begin(), in.begin() + static_cast<long>(used));
}

// Hands every complete frame (RFC 7858 3.3: two-byte length, message) of
// `in` to deliver(); stops early when that kills the connection. Returns
// the bytes taken.
size_t Conn::deliver_frames()
{
    size_t pos = 0;
    while (in.size() - pos >= 2) {
        const size_t len = (size_t(in[pos]) << 8) | in[pos + 1];
        if (in.size() - pos < 2 + len) break;
        // A copy: the callbacks deliver() runs may change this connection.
        std::vector<uint8_t> msg(in.begin() + static_cast<long>(pos + 2),
                                 in.begin() + static_cast<long>(pos + 2 + len));
        pos += 2 + len;
        deliver(msg);
        if (state == State::dead) break;
    }
    return pos;
}

void Conn::deliver(std::span<const uint8_t> msg)
{
    if (msg.size() < 12) return;
    const uint16_t id = static_cast<uint16_t>((msg[0] << 8) | msg[1]);
    const auto question = question_of(msg);
    const std::vector<uint64_t> candidates = inflight; // callbacks change the list
    for (uint64_t t : candidates) {
        Query* q = pool.find(t);
        if (!q || q->conn != this || q->id != id) continue;
        if (!question.empty() && question != q->question) continue;
        auto cb = q->on_reply;
        if (!cb(msg)) continue;
        ++pool.stats.replies;
        pool.drop(t);
    }
}

void Conn::remove(uint64_t t)
{
    if (auto it = std::find(inflight.begin(), inflight.end(), t); it != inflight.end())
        inflight.erase(it);
    else if (auto w = std::find(waiting.begin(), waiting.end(), t); w != waiting.end())
        waiting.erase(w);
    update_events(); // the last query gone: the idle clock starts
}

void Conn::pump()
{
    if (state != State::open) return;
    while (!waiting.empty() && inflight.size() < TlsUpstreamPool::kMaxInFlight) {
        uint64_t t = waiting.front();
        waiting.pop_front();
        Query* q = pool.find(t);
        if (!q) continue;
        out.insert(out.end(), q->framed.begin(), q->framed.end());
        inflight.push_back(t);
        if (q->queued) {
            q->queued = false;
            TlsUpstreamPool::Impl::arm(*q, q->timeout_ms);
        }
    }
}

bool Conn::flush()
{
    want_write = false;
    while (out_pos < out.size()) {
        size_t len = retry_len ? retry_len : std::min<size_t>(out.size() - out_pos, 16384);
        int r = mbedtls_ssl_write(ssl.get(), out.data() + out_pos, len);
        if (is_retry(r)) {
            retry_len = len;
            want_write = true;
            return true;
        }
        if (r < 0) return false;
        retry_len = 0;
        out_pos += static_cast<size_t>(r);
    }
    out.clear();
    out_pos = 0;
    return true;
}

void Conn::update_events()
{
    if (state == State::dead) return;
    if (want_write && !write_armed && write_ev) {
        event_add(write_ev.get(), nullptr);
        write_armed = true;
    }
    if (state == State::open) {
        const bool idle = waiting.empty() && inflight.empty() && out.empty();
        if (idle && !idle_armed) {
            timeval tv{TlsUpstreamPool::kIdleMs / 1000, (TlsUpstreamPool::kIdleMs % 1000) * 1000};
            event_add(timer.get(), &tv);
            idle_armed = true;
        } else if (!idle && idle_armed) {
            event_del(timer.get());
            idle_armed = false;
        } else if (!idle && !idle_armed && event_pending(timer.get(), EV_TIMEOUT, nullptr)) {
            event_del(timer.get()); // the handshake deadline
        }
    }
}

void Conn::close_idle()
{
    KR_LOG(debug, kGroup, "closing idle connection to %s", name.c_str());
    want_write = false;
    mbedtls_ssl_close_notify(ssl.get()); // best effort
    fail("idle", false);
}

void Conn::fail(const std::string& why, bool retryable)
{
    if (state == State::dead) return;
    const bool was_open = state == State::open;
    state = State::dead;
    read_ev.reset();
    write_ev.reset();
    timer.reset();
    fd.reset();
    pool.bury(this); // new queries for this server get a new connection
    if (why != "idle") {
        const bool verify = why.starts_with("certificate verification");
        if (verify && pool.log_now(key + "|v"))
            KR_LOG(warning, kGroup, "TLS_FORWARD to %s: %s", name.c_str(), why.c_str());
        else if (!verify && !(was_open && retryable))
            KR_LOG(info, kGroup, "TLS_FORWARD to %s: %s", name.c_str(), why.c_str());
        else
            KR_LOG(debug, kGroup, "TLS_FORWARD to %s: %s", name.c_str(), why.c_str());
    }
    std::vector<uint64_t> tickets(inflight.begin(), inflight.end());
    tickets.insert(tickets.end(), waiting.begin(), waiting.end());
    inflight.clear();
    waiting.clear();
    for (uint64_t t : tickets) {
        Query* q = pool.find(t);
        if (!q || q->conn != this) continue;
        q->conn = nullptr;
        if (retryable && q->on_reused && !q->retried) {
            // The server may have closed an idle connection as we wrote.
            q->retried = true;
            event_del(q->timer.get());
            pool.dispatch(*q);
            continue;
        }
        pool.fail_query(t, false, "TLS to " + name + ": " + why);
    }
}

// ---------------------------------------------------------------- public face

TlsUpstreamPool::TlsUpstreamPool(event_base* base, UpstreamSource src)
    : impl_(std::make_unique<Impl>(base, std::move(src)))
{
}

TlsUpstreamPool::~TlsUpstreamPool()
{
    // Connections first: their events point at them; queries keep no
    // callbacks alive past this.
    impl_->conns.clear();
    impl_->graveyard.clear();
    impl_->queries.clear();
}

void TlsUpstreamPool::set_source(UpstreamSource src)
{
    impl_->src = std::move(src);
}

uint64_t TlsUpstreamPool::query(const SockAddr& to, std::shared_ptr<const resolve::TlsAuth> auth,
                                std::vector<uint8_t> wire, uint32_t timeout_ms, OnReply on_reply,
                                OnFail on_fail)
{
    Impl& p = *impl_;
    auto q = std::make_unique<Query>();
    q->pool = &p;
    q->ticket = p.next_ticket++;
    q->to = to;
    q->auth = std::move(auth);
    q->key = to.to_string() + "|" + (q->auth ? auth_key(*q->auth) : std::string());
    q->id = wire.size() >= 2 ? static_cast<uint16_t>((wire[0] << 8) | wire[1]) : 0;
    q->question = question_of(wire);
    q->framed.resize(2 + wire.size());
    q->framed[0] = static_cast<uint8_t>(wire.size() >> 8);
    q->framed[1] = static_cast<uint8_t>(wire.size());
    std::copy(wire.begin(), wire.end(), q->framed.begin() + 2);
    q->timeout_ms = timeout_ms;
    q->on_reply = std::move(on_reply);
    q->on_fail = std::move(on_fail);
    q->timer.reset(evtimer_new(p.base, &Impl::on_query_timer, q.get()));
    ++p.stats.queries;
    Query& ref = *q;
    p.queries.emplace(ref.ticket, std::move(q));
    p.dispatch(ref);
    return ref.ticket;
}

void TlsUpstreamPool::cancel(uint64_t ticket)
{
    impl_->drop(ticket);
}

size_t TlsUpstreamPool::connections() const
{
    return impl_->conns.size();
}

const TlsUpstreamPool::Stats& TlsUpstreamPool::stats() const
{
    return impl_->stats;
}

} // namespace kresd::net
