// DNS-over-HTTPS (RFC 8484) over HTTP/2 (RFC 9113) with nghttp2, on top of
// a TLS stream with ALPN "h2".
//
// Each HTTP/2 stream is one request. When it is complete (END_STREAM), it is
// judged by classify_doh_request() (doh_request.hpp); a good one goes to the
// QueryHandler and is answered 200 with `content-type:
// application/dns-message` and `cache-control: max-age=<doh_max_age()>`,
// at once or later through a DeferredReply that names the stream. A DNS
// message the handler drops gets RST_STREAM(REFUSED_STREAM), so the client
// does not wait for nothing. Many streams run concurrently (SETTINGS 100).
//
// nghttp2 enforces the protocol: a connection error (bad preface, frame
// larger than our SETTINGS_MAX_FRAME_SIZE, compression errors, floods)
// makes it send GOAWAY, which we log; once nghttp2 wants neither to read nor
// to write, the connection closes after its output is flushed.
#include <cstring>
#include <nghttp2/nghttp2.h>
#include <unordered_map>

#include "net/doh_request.hpp"
#include "net/tls.hpp"
#include "net/tls_stream.hpp"
#include "util/log.hpp"

namespace kresd::net {

namespace {

constexpr uint32_t kMaxConcurrentStreams = 100;

struct H2SessionFree {
    void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
};
struct H2CallbacksFree {
    void operator()(nghttp2_session_callbacks* c) const { nghttp2_session_callbacks_del(c); }
};
using H2SessionPtr = std::unique_ptr<nghttp2_session, H2SessionFree>;
using H2CallbacksPtr = std::unique_ptr<nghttp2_session_callbacks, H2CallbacksFree>;

nghttp2_nv header(std::string_view name, std::string_view value)
{
    return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
            reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
            NGHTTP2_NV_FLAG_NONE};
}

// One HTTP/2 stream: the request as it arrives, then the response body.
struct Request {
    int32_t id = 0;
    std::string method, path, content_type;
    std::vector<uint8_t> body;
    bool too_large = false;
    bool handled = false;   // judged and answered, or handed to the resolver
    bool responded = false; // a response (or reset) was submitted
    std::vector<uint8_t> response;
    size_t sent = 0;
};

class DohStream;

class DohReply final : public DeferredReply {
public:
    DohReply(std::shared_ptr<StreamHandle> h, int32_t stream) : h_(std::move(h)), stream_(stream) {}
    ~DohReply() override;
    size_t limit() const override { return kDohMaxMessage; }
    void send(std::span<const uint8_t> answer) override;

private:
    std::shared_ptr<StreamHandle> h_;
    int32_t stream_;
    bool done_ = false;
};

class DohStream final : public TlsStream {
public:
    explicit DohStream(TlsStreamParams p) : TlsStream(std::move(p)) {}

    // An answer for a deferred request (empty: the resolver dropped it).
    void deliver(int32_t stream, std::span<const uint8_t> answer)
    {
        --in_flight_;
        auto it = streams_.find(stream);
        if (it != streams_.end() && !it->second->responded) {
            if (answer.empty())
                refuse(*it->second);
            else
                respond_dns(*it->second, answer);
        }
        wake();
    }

private:
    // ---------------------------------------------------------- TlsStream hooks

    bool on_established() override
    {
        const char* proto = alpn();
        if (proto && std::strcmp(proto, "h2") != 0) {
            fail("DNS-over-HTTPS from %s: ALPN '%s' is not h2", peer_.to_string().c_str(), proto);
            return false;
        }
        nghttp2_session_callbacks* raw = nullptr;
        if (nghttp2_session_callbacks_new(&raw) != 0) return false;
        H2CallbacksPtr cbs(raw);
        nghttp2_session_callbacks_set_on_begin_headers_callback(cbs.get(), &on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cbs.get(), &on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs.get(), &on_data_chunk);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs.get(), &on_frame_recv);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs.get(), &on_stream_close);
        nghttp2_session_callbacks_set_on_frame_send_callback(cbs.get(), &on_frame_send);
        nghttp2_session_callbacks_set_error_callback2(cbs.get(), &on_error);
        // HTTP/2 semantics (pseudo-headers, content-length) are checked by nghttp2.
        nghttp2_session* s = nullptr;
        if (nghttp2_session_server_new(&s, cbs.get(), this) != 0) return false;
        h2_.reset(s);
        nghttp2_settings_entry settings[] = {
            {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
            {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        };
        if (nghttp2_submit_settings(h2_.get(), NGHTTP2_FLAG_NONE, settings,
                                    sizeof(settings) / sizeof(settings[0])) != 0)
            return false;
        return true;
    }

    bool on_input(std::span<const uint8_t> data) override
    {
        if (!h2_) return false;
        ssize_t r = nghttp2_session_mem_recv(h2_.get(), data.data(), data.size());
        if (r < 0) {
            fail("DNS-over-HTTPS from %s: %s%s%s, closing", peer_.to_string().c_str(),
                 nghttp2_strerror(static_cast<int>(r)), last_error_.empty() ? "" : ": ",
                 last_error_.c_str());
            return false;
        }
        return true;
    }

    bool on_output_room() override
    {
        if (!h2_) return true;
        while (!output_full()) {
            const uint8_t* data = nullptr;
            ssize_t n = nghttp2_session_mem_send(h2_.get(), &data);
            if (n < 0) {
                fail("DNS-over-HTTPS to %s: %s", peer_.to_string().c_str(),
                     nghttp2_strerror(static_cast<int>(n)));
                return false;
            }
            if (n == 0) break;
            queue_frames({data, static_cast<size_t>(n)});
        }
        return true;
    }

    // Queues serialised frames; the TLS record ends after each response's
    // last frame (DATA with END_STREAM). Frames may span calls.
    void queue_frames(std::span<const uint8_t> chunk)
    {
        size_t start = 0, pos = 0;
        while (pos < chunk.size()) {
            if (frame_left_ == 0) { // in a frame header
                size_t take = std::min<size_t>(9 - head_have_, chunk.size() - pos);
                std::memcpy(head_ + head_have_, chunk.data() + pos, take);
                head_have_ += take;
                pos += take;
                if (head_have_ < 9) break;
                head_have_ = 0;
                frame_left_ = (size_t(head_[0]) << 16) | (size_t(head_[1]) << 8) | head_[2];
                ends_response_ = head_[3] == NGHTTP2_DATA && (head_[4] & NGHTTP2_FLAG_END_STREAM);
                if (frame_left_ > 0) continue;
            } else {
                size_t take = std::min(frame_left_, chunk.size() - pos);
                frame_left_ -= take;
                pos += take;
                if (frame_left_ > 0) break;
            }
            if (ends_response_) {
                send(chunk.subspan(start, pos - start));
                end_record();
                start = pos;
                ends_response_ = false;
            }
        }
        if (start < chunk.size()) send(chunk.subspan(start));
    }

    bool busy() const override { return in_flight_ > 0; }

    bool finished() const override
    {
        return h2_ && !nghttp2_session_want_read(h2_.get()) &&
               !nghttp2_session_want_write(h2_.get());
    }

    // ---------------------------------------------------------- nghttp2 callbacks

    static DohStream* self(void* user) { return static_cast<DohStream*>(user); }

    Request* find(int32_t id)
    {
        auto it = streams_.find(id);
        return it == streams_.end() ? nullptr : it->second.get();
    }

    static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user)
    {
        if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
            return 0;
        auto req = std::make_unique<Request>();
        req->id = frame->hd.stream_id;
        self(user)->streams_[req->id] = std::move(req);
        return 0;
    }

    static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                         size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user)
    {
        if (frame->hd.type != NGHTTP2_HEADERS) return 0;
        Request* req = self(user)->find(frame->hd.stream_id);
        if (!req || req->handled) return 0;
        std::string_view n(reinterpret_cast<const char*>(name), namelen);
        std::string_view v(reinterpret_cast<const char*>(value), valuelen);
        // nghttp2 gives names in lower case (HTTP/2 requires it)
        if (n == ":method")
            req->method = v;
        else if (n == ":path")
            req->path = v;
        else if (n == "content-type")
            req->content_type = v;
        return 0;
    }

    static int on_data_chunk(nghttp2_session*, uint8_t, int32_t stream, const uint8_t* data,
                             size_t len, void* user)
    {
        Request* req = self(user)->find(stream);
        if (!req || req->handled || req->too_large) return 0;
        if (req->body.size() + len > kDohMaxMessage) {
            req->too_large = true; // answered 413 at the end; the rest is not kept
            req->body.clear();
            req->body.shrink_to_fit();
            return 0;
        }
        req->body.insert(req->body.end(), data, data + len);
        return 0;
    }

    static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user)
    {
        if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
        if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
        DohStream* s = self(user);
        Request* req = s->find(frame->hd.stream_id);
        if (req && !req->handled) s->handle_request(*req);
        return 0;
    }

    static int on_stream_close(nghttp2_session*, int32_t stream, uint32_t, void* user)
    {
        // A deferred answer for it finds nothing and is dropped.
        self(user)->streams_.erase(stream);
        return 0;
    }

    static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user)
    {
        if (frame->hd.type != NGHTTP2_GOAWAY || frame->goaway.error_code == NGHTTP2_NO_ERROR)
            return 0;
        DohStream* s = self(user);
        KR_LOG(notice, "doh", "HTTP/2 error from %s: %s%s%s, closing the connection (GOAWAY)",
               s->peer_.to_string().c_str(), nghttp2_http2_strerror(frame->goaway.error_code),
               s->last_error_.empty() ? "" : ": ", s->last_error_.c_str());
        ++s->ctx_.stats->err_http;
        return 0;
    }

    static int on_error(nghttp2_session*, int, const char* msg, size_t len, void* user)
    {
        DohStream* s = self(user);
        s->last_error_.assign(msg, len);
        KR_LOG(debug, "doh", "%s: %s", s->peer_.to_string().c_str(), s->last_error_.c_str());
        return 0;
    }

    static ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                             uint32_t* flags, nghttp2_data_source* source, void*)
    {
        auto* req = static_cast<Request*>(source->ptr);
        size_t n = std::min(length, req->response.size() - req->sent);
        std::memcpy(buf, req->response.data() + req->sent, n);
        req->sent += n;
        if (req->sent == req->response.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
    }

    // ---------------------------------------------------------- requests

    void handle_request(Request& req)
    {
        req.handled = true;
        touch();
        DohVerdict v = classify_doh_request(req.method, req.path, req.content_type);
        if (v.status) return respond_error(req, v.status, v.reason);
        std::vector<uint8_t> msg;
        if (v.method == DohMethod::get) {
            auto decoded = base64url_decode(v.dns_param);
            if (!decoded) return respond_error(req, 400, "the dns parameter is not base64url");
            msg = std::move(*decoded);
        } else {
            if (req.too_large)
                return respond_error(req, 413, "a DNS message has at most 65535 bytes");
            msg = std::move(req.body);
        }
        if (int status = doh_message_status(msg.size()))
            return respond_error(req, status,
                                 status == 413 ? "a DNS message has at most 65535 bytes"
                                               : "the body is too short for a DNS message");
        ++ctx_.stats->http;
        ++(peer_.family() == AF_INET6 ? ctx_.stats->ipv6 : ctx_.stats->ipv4);
        ClientInfo client;
        client.peer = peer_.sa();
        client.local = local_.len ? local_.sa() : nullptr;
        client.transport = Transport::https;
        int32_t id = req.id;
        client.defer = [this, id]() -> std::unique_ptr<DeferredReply> {
            ++in_flight_;
            return std::make_unique<DohReply>(handle(), id);
        };
        std::span<uint8_t> out{scratch_.data(), kDohMaxMessage};
        size_t n = ctx_.queries->answer(msg, client, out);
        if (n == kDeferred) return;
        // `req` is still valid: nghttp2 closes streams only inside its own calls.
        if (n == 0 || n > kDohMaxMessage)
            refuse(req);
        else
            respond_dns(req, {scratch_.data(), n});
    }

    void respond_dns(Request& req, std::span<const uint8_t> answer)
    {
        req.response.assign(answer.begin(), answer.end());
        std::string len = std::to_string(answer.size());
        std::string cache = "max-age=" + std::to_string(doh_max_age(answer));
        nghttp2_nv hdrs[] = {
            header(":status", "200"),
            header("content-type", "application/dns-message"),
            header("content-length", len),
            header("cache-control", cache),
        };
        submit(req, hdrs, sizeof(hdrs) / sizeof(hdrs[0]));
    }

    void respond_error(Request& req, int status, const char* reason)
    {
        ++ctx_.stats->err_http;
        KR_LOG(debug, "doh", "%s: %s %s -> %d (%s)", peer_.to_string().c_str(), req.method.c_str(),
               req.path.substr(0, 64).c_str(), status, reason);
        std::string text =
            std::to_string(status) + " " + http_status_text(status) + ": " + reason + "\n";
        req.response.assign(text.begin(), text.end());
        std::string code = std::to_string(status);
        std::string len = std::to_string(text.size());
        nghttp2_nv hdrs[] = {
            header(":status", code),
            header("content-type", "text/plain; charset=utf-8"),
            header("content-length", len),
            header("allow", "GET, POST"),
        };
        submit(req, hdrs, status == 405 ? 4 : 3);
    }

    void submit(Request& req, const nghttp2_nv* hdrs, size_t n)
    {
        req.responded = true;
        req.sent = 0;
        nghttp2_data_provider body;
        body.source.ptr = &req;
        body.read_callback = &read_body;
        int r = nghttp2_submit_response(h2_.get(), req.id, hdrs, n, &body);
        if (r != 0)
            KR_LOG(debug, "doh", "%s: cannot answer stream %d: %s", peer_.to_string().c_str(),
                   req.id, nghttp2_strerror(r));
    }

    void refuse(Request& req)
    {
        req.responded = true;
        nghttp2_submit_rst_stream(h2_.get(), NGHTTP2_FLAG_NONE, req.id, NGHTTP2_REFUSED_STREAM);
    }

    // Declared first so it is destroyed last: nghttp2 may call back into
    // streams_ while the session is deleted.
    std::unordered_map<int32_t, std::unique_ptr<Request>> streams_;
    H2SessionPtr h2_;
    size_t in_flight_ = 0;
    std::string last_error_;
    // Where queue_frames() is in the outgoing frame stream.
    uint8_t head_[9] = {};
    size_t head_have_ = 0, frame_left_ = 0;
    bool ends_response_ = false;
};

DohReply::~DohReply()
{
    if (!done_ && h_->conn) static_cast<DohStream*>(h_->conn)->deliver(stream_, {});
}

void DohReply::send(std::span<const uint8_t> answer)
{
    if (done_) return;
    done_ = true;
    if (h_->conn) static_cast<DohStream*>(h_->conn)->deliver(stream_, answer);
}

} // namespace

std::unique_ptr<Listener> make_doh_listener(Fd fd, ServeContext& ctx,
                                            std::shared_ptr<TlsCredentials> creds)
{
    return std::make_unique<TlsListener>(
        std::move(fd), ctx, std::move(creds), Alpn::h2, "DNS-over-HTTPS", "doh",
        &NetStats::err_http,
        [](TlsStreamParams p) -> TlsStream* {
            p.quickack = true;
            return new DohStream(std::move(p));
        });
}

} // namespace kresd::net
