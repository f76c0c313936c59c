// TLS connections over raw sockets with mbedTLS, driven by libevent; see
// tls_stream.hpp for the states and the rules about deletion.
#include "net/tls_stream.hpp"

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <mbedtls/net_sockets.h> // MBEDTLS_ERR_NET_* codes for the bio callbacks
#include <sys/socket.h>
#include <unistd.h>

#include "net/compat.hpp"
#include "util/log.hpp"

namespace kresd::net {

namespace {

bool is_retry(int r)
{
    return r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE;
}

} // namespace

TlsStream::TlsStream(TlsStreamParams p)
    : ctx_(*p.ctx), scratch_(*p.scratch), peer_(p.peer), local_(p.local), group_(p.group),
      errors_(p.errors), registry_(*p.registry), fd_(p.fd), config_(std::move(p.config)),
      handshake_ms_(p.handshake_ms), last_active_(std::chrono::steady_clock::now())
{
    quickack_ = p.quickack;
    pos_ = registry_.insert(registry_.end(), this);
}

TlsStream::~TlsStream()
{
    if (handle_) handle_->conn = nullptr; // deferred answers now go nowhere
    registry_.erase(pos_);
    read_ev_.reset();
    write_ev_.reset();
    timer_ev_.reset();
    wake_ev_.reset();
    if (fd_ >= 0) ::close(fd_);
}

std::shared_ptr<StreamHandle> TlsStream::handle()
{
    if (!handle_) {
        handle_ = std::make_shared<StreamHandle>();
        handle_->conn = this;
    }
    return handle_;
}

bool TlsStream::start()
{
    evutil_make_socket_nonblocking(fd_);
#ifdef SO_NOSIGPIPE
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
    int r = mbedtls_ssl_setup(ssl_.get(), config_->get());
    if (r != 0) {
        KR_LOG(err, group_, "TLS setup for %s failed: %s", peer_.to_string().c_str(),
               mbedtls_error_text(r).c_str());
        return false;
    }
    mbedtls_ssl_set_bio(ssl_.get(), this, &TlsStream::bio_send, &TlsStream::bio_recv, nullptr);
    event_base* base = ctx_.base;
    read_ev_.reset(event_new(base, fd_, EV_READ | EV_PERSIST, &TlsStream::on_event, this));
    write_ev_.reset(event_new(base, fd_, EV_WRITE, &TlsStream::on_event, this));
    timer_ev_.reset(evtimer_new(base, &TlsStream::on_timer, this));
    wake_ev_.reset(event_new(base, -1, 0, &TlsStream::on_event, this));
    if (!read_ev_ || !write_ev_ || !timer_ev_ || !wake_ev_) {
        KR_LOG(err, group_, "cannot create events for %s", peer_.to_string().c_str());
        return false;
    }
    arm_timer(std::chrono::milliseconds(handshake_ms_));
    update_events();
    return true;
}

// ---------------------------------------------------------------- bio

int TlsStream::bio_send(void* arg, const unsigned char* buf, size_t len)
{
    auto* self = static_cast<TlsStream*>(arg);
    if (self->socket_failed_) return MBEDTLS_ERR_NET_SEND_FAILED;
    if (self->enc_.size() - self->enc_pos_ >= kMaxPendingOutput) {
        if (!self->flush_socket()) return MBEDTLS_ERR_NET_SEND_FAILED;
        if (self->enc_.size() - self->enc_pos_ >= kMaxPendingOutput)
            return MBEDTLS_ERR_SSL_WANT_WRITE;
    }
    if (self->enc_pos_ == self->enc_.size()) {
        self->enc_.clear();
        self->enc_pos_ = 0;
    }
    self->enc_.insert(self->enc_.end(), buf, buf + len);
    return static_cast<int>(len);
}

bool TlsStream::flush_socket()
{
    while (enc_pos_ < enc_.size()) {
        ssize_t n = ::send(fd_, enc_.data() + enc_pos_, enc_.size() - enc_pos_, MSG_NOSIGNAL);
        if (n > 0) {
            enc_pos_ += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want_write_ = true;
            return true;
        }
        socket_failed_ = true;
        return false;
    }
    enc_.clear();
    enc_pos_ = 0;
    want_write_ = false;
    return true;
}

int TlsStream::bio_recv(void* arg, unsigned char* buf, size_t len)
{
    auto* self = static_cast<TlsStream*>(arg);
    for (;;) {
        ssize_t n = ::recv(self->fd_, buf, len, 0);
        if (n > 0) {
            self->received_ = true;
#ifdef TCP_QUICKACK
            if (self->quickack_) { // the kernel clears it again: set after each read
                int on = 1;
                setsockopt(self->fd_, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
            }
#endif
        }
        if (n >= 0) return static_cast<int>(n); // 0: EOF
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
        if (errno == ECONNRESET || errno == EPIPE) return MBEDTLS_ERR_NET_CONN_RESET;
        return MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

// ---------------------------------------------------------------- events

void TlsStream::on_event(evutil_socket_t, short what, void* arg)
{
    static_cast<TlsStream*>(arg)->step(what);
}

void TlsStream::on_timer(evutil_socket_t, short, void* arg)
{
    auto* self = static_cast<TlsStream*>(arg);
    self->timer_fired();
    self->step(0);
}

void TlsStream::step(short what)
{
    in_step_ = true;
    if (what & EV_WRITE) write_armed_ = false;
    if (state_ == State::handshake) handshake();
    if (state_ == State::open) {
        if (!on_resume()) state_ = State::dead;
    }
    if (state_ == State::open && ((what & EV_READ) || more_input_)) read_input();
    if (state_ == State::open || state_ == State::draining) flush();
    // Also when dead: an alert mbedTLS wrote on failing is worth sending.
    if (!flush_socket() && state_ != State::dead) {
        KR_LOG(debug, group_, "cannot write to %s: %s", peer_.to_string().c_str(),
               std::strerror(errno));
        state_ = State::dead;
    }
    if (state_ == State::open && finished() && pending_output() == 0) close_quietly();
    if (state_ == State::draining && pending_output() == 0 && !busy()) close_quietly();
    in_step_ = false;
    if (state_ == State::dead) {
        delete this;
        return;
    }
    update_events();
}

void TlsStream::update_events()
{
    bool want_read = (state_ == State::handshake || state_ == State::open) && !more_input_;
    if (want_read != read_armed_) {
        if (want_read)
            event_add(read_ev_.get(), nullptr);
        else
            event_del(read_ev_.get());
        read_armed_ = want_read;
    }
    bool want_write = want_write_ && state_ != State::dead;
    if (want_write && !write_armed_) {
        event_add(write_ev_.get(), nullptr);
        write_armed_ = true;
    } else if (!want_write && write_armed_) {
        event_del(write_ev_.get());
        write_armed_ = false;
    }
    // Held-back input gets another chance on the next loop iteration.
    if (more_input_ && state_ == State::open && accepting_input() && !output_full()) wake();
}

void TlsStream::wake()
{
    if (wake_ev_ && !in_step_) event_active(wake_ev_.get(), 0, 0);
}

void TlsStream::arm_timer(std::chrono::milliseconds after)
{
    auto ms = after.count() < 1 ? 1 : after.count();
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    event_add(timer_ev_.get(), &tv);
}

void TlsStream::timer_fired()
{
    using namespace std::chrono;
    switch (state_) {
    case State::handshake:
        fail("TLS handshake with %s did not finish within %d ms", peer_.to_string().c_str(),
             handshake_ms_);
        return;
    case State::open: {
        auto idle = milliseconds(ctx_.tcp_idle_timeout_ms);
        auto quiet = duration_cast<milliseconds>(steady_clock::now() - last_active_);
        if (busy()) {
            arm_timer(idle);
        } else if (quiet >= idle) {
            KR_LOG(debug, group_, "closing idle connection from %s", peer_.to_string().c_str());
            close_quietly();
        } else {
            arm_timer(idle - quiet);
        }
        return;
    }
    case State::draining:
        KR_LOG(debug, group_, "connection from %s did not drain in time",
               peer_.to_string().c_str());
        state_ = State::dead;
        return;
    case State::dead: return;
    }
}

// ---------------------------------------------------------------- TLS

void TlsStream::handshake()
{
    int r = mbedtls_ssl_handshake(ssl_.get());
    if (r == 0) {
        state_ = State::open;
        touch();
        arm_timer(std::chrono::milliseconds(ctx_.tcp_idle_timeout_ms));
        if (!on_established() && state_ != State::dead) state_ = State::dead;
        // Data may have arrived together with the last handshake message.
        more_input_ = true;
        return;
    }
    if (is_retry(r)) return; // WANT_WRITE: the ciphertext buffer is full, step() flushes it
    if (r == MBEDTLS_ERR_NET_CONN_RESET || (r == MBEDTLS_ERR_SSL_CONN_EOF && !received_)) {
        // a connection probe, or a client that gave up
        KR_LOG(debug, group_, "%s closed the connection before the TLS handshake finished",
               peer_.to_string().c_str());
        ++(ctx_.stats->*errors_);
        state_ = State::dead;
        return;
    }
    if (r == MBEDTLS_ERR_SSL_CONN_EOF) {
        fail("%s closed the connection in the middle of the TLS handshake",
             peer_.to_string().c_str());
        return;
    }
    fail("TLS handshake with %s failed: %s", peer_.to_string().c_str(),
         mbedtls_error_text(r).c_str());
}

void TlsStream::read_input()
{
    more_input_ = false;
    uint8_t buf[kReadChunk];
    for (int round = 0; round < 64; ++round) {
        if (!accepting_input() || output_full()) {
            more_input_ = true; // resumed from update_events() when there is room
            return;
        }
        int r = mbedtls_ssl_read(ssl_.get(), buf, sizeof(buf));
        if (r > 0) {
            if (!on_input({buf, static_cast<size_t>(r)})) {
                state_ = State::dead;
                return;
            }
            if (state_ != State::open) return;
            continue;
        }
        if (r == MBEDTLS_ERR_SSL_WANT_READ) return;
        if (r == MBEDTLS_ERR_SSL_WANT_WRITE) return; // step() flushes the socket
        if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == MBEDTLS_ERR_SSL_CONN_EOF) {
            KR_LOG(debug, group_, "%s closed the connection", peer_.to_string().c_str());
            finish();
            return;
        }
        if (r == MBEDTLS_ERR_NET_CONN_RESET) {
            KR_LOG(debug, group_, "%s reset the connection", peer_.to_string().c_str());
            state_ = State::dead;
            return;
        }
        fail("TLS error on the connection from %s: %s", peer_.to_string().c_str(),
             mbedtls_error_text(r).c_str());
        return;
    }
    more_input_ = true; // let other connections have their turn first
}

void TlsStream::flush()
{
    for (;;) {
        if (!on_output_room()) {
            state_ = State::dead;
            return;
        }
        if (out_pos_ == out_.size() && retry_len_ == 0) return;
        while (out_pos_ < out_.size()) {
            // After WANT_WRITE, mbedTLS must be called again with the same length.
            size_t n = retry_len_;
            if (n == 0) {
                n = std::min(out_.size() - out_pos_, kReadChunk);
                uint64_t at = out_base_ + out_pos_;
                if (!record_ends_.empty() && record_ends_.front() > at)
                    n = std::min<uint64_t>(n, record_ends_.front() - at);
            }
            int r = mbedtls_ssl_write(ssl_.get(), out_.data() + out_pos_, n);
            if (is_retry(r)) {
                retry_len_ = n;
                if (!flush_socket()) {
                    KR_LOG(debug, group_, "cannot write to %s", peer_.to_string().c_str());
                    state_ = State::dead;
                    return;
                }
                if (want_write_) return; // the socket is full: wait for it
                continue;
            }
            if (r < 0) {
                if (r == MBEDTLS_ERR_NET_SEND_FAILED)
                    KR_LOG(debug, group_, "cannot write to %s", peer_.to_string().c_str());
                else
                    fail("TLS error writing to %s: %s", peer_.to_string().c_str(),
                         mbedtls_error_text(r).c_str());
                state_ = State::dead;
                return;
            }
            retry_len_ = 0;
            out_pos_ += static_cast<size_t>(r);
            while (!record_ends_.empty() && record_ends_.front() <= out_base_ + out_pos_)
                record_ends_.pop_front();
        }
        out_base_ += out_.size();
        out_.clear();
        out_pos_ = 0;
        // All encrypted: the protocol above may have more now (HTTP/2).
    }
}

void TlsStream::send(std::span<const uint8_t> plain)
{
    if (out_pos_ > 0 && out_pos_ >= out_.size() / 2) {
        out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_pos_));
        out_base_ += out_pos_;
        out_pos_ = 0;
    }
    out_.insert(out_.end(), plain.begin(), plain.end());
}

void TlsStream::end_record()
{
    uint64_t end = out_base_ + out_.size();
    if (end > out_base_ + out_pos_ && (record_ends_.empty() || record_ends_.back() < end))
        record_ends_.push_back(end);
}

void TlsStream::fail(const char* fmt, ...)
{
    if (state_ == State::dead) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    KR_LOG(notice, group_, "%s", buf);
    ++(ctx_.stats->*errors_);
    state_ = State::dead;
}

void TlsStream::finish()
{
    if (state_ == State::handshake || state_ == State::open) {
        state_ = State::draining;
        arm_timer(std::chrono::milliseconds(ctx_.tcp_idle_timeout_ms));
    }
}

void TlsStream::close_quietly()
{
    if (state_ == State::dead) return;
    mbedtls_ssl_close_notify(ssl_.get()); // best effort: the socket closes right after
    flush_socket();
    state_ = State::dead;
}

void TlsStream::touch()
{
    last_active_ = std::chrono::steady_clock::now();
    registry_.splice(registry_.end(), registry_, pos_);
}

const char* TlsStream::alpn() const
{
    return mbedtls_ssl_get_alpn_protocol(ssl_.get());
}

// ---------------------------------------------------------------- listener

TlsListener::TlsListener(Fd fd, ServeContext& ctx, std::shared_ptr<TlsCredentials> creds, Alpn alpn,
                         std::string what, const char* group, uint64_t NetStats::*errors,
                         Factory make)
    : fd_(std::move(fd)), ctx_(ctx), creds_(std::move(creds)), alpn_(alpn), what_(std::move(what)),
      group_(group), errors_(errors), make_(std::move(make))
{
    evutil_make_socket_nonblocking(fd_.get());
    // backlog 0: the socket is already listening (we bound it, or it was inherited)
    listener_.reset(evconnlistener_new(ctx.base, &TlsListener::on_accept, this,
                                       LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED, 0, fd_.get()));
    scratch_.resize(2 + 65535);
}

TlsListener::~TlsListener()
{
    listener_.reset();
    while (!registry_.empty())
        delete registry_.front();
}

void TlsListener::start()
{
    try {
        creds_->prepare();
    } catch (const std::exception& e) {
        KR_LOG(err, group_, "%s: %s", what_.c_str(), e.what());
    }
    if (listener_) evconnlistener_enable(listener_.get());
}

void TlsListener::stop()
{
    if (listener_) evconnlistener_disable(listener_.get());
}

void TlsListener::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int len, void* arg)
{
    auto* self = static_cast<TlsListener*>(arg);
    SockAddr peer_addr = from_sockaddr(peer, static_cast<socklen_t>(len));
    auto config = self->creds_->config(self->alpn_);
    if (!config) {
        time_t now = std::time(nullptr);
        if (now >= self->quiet_until_) { // once a minute is enough to be noticed
            KR_LOG(notice, self->group_, "%s: no certificate, closing connection from %s",
                   self->what_.c_str(), peer_addr.to_string().c_str());
            self->quiet_until_ = now + 60;
        }
        ++(self->ctx_.stats->*self->errors_);
        evutil_closesocket(fd);
        return;
    }
    if (self->registry_.size() >= self->ctx_.tcp_max_connections && !self->registry_.empty())
        delete self->registry_.front(); // the one idle the longest
    set_nodelay(fd);
    TlsStreamParams p;
    p.ctx = &self->ctx_;
    p.registry = &self->registry_;
    p.scratch = &self->scratch_;
    p.fd = fd;
    p.peer = peer_addr;
    if (auto local = local_address(fd)) p.local = *local;
    p.config = std::move(config);
    p.group = self->group_;
    p.errors = self->errors_;
    TlsStream* s = self->make_(std::move(p));
    if (!s->start()) delete s;
}

} // namespace kresd::net
