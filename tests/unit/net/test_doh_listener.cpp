// DNS-over-HTTPS listener, end to end on loopback: an nghttp2 client over a
// blocking mbedTLS connection in a second thread, the server's event loop in
// the test's thread. Catch2 assertions run in the test's thread only.
#include "tls_test_helpers.hpp"

#include <list>
#include <nghttp2/nghttp2.h>

#include "net/doh_request.hpp"

using namespace kresd::net;
using namespace kresd::net::test;

namespace {

struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::vector<uint8_t> body;
    uint32_t reset = 0; // RST_STREAM error code
    bool closed = false;
};

struct RequestSpec {
    std::string method, path, content_type;
    std::vector<uint8_t> body;
};

// Sends requests on one HTTP/2 connection and collects the responses.
class H2Client {
public:
    explicit H2Client(uint16_t port) : tls_(port, "h2") {}
    ~H2Client()
    {
        if (h2_) nghttp2_session_del(h2_);
    }

    bool connect()
    {
        if (!tls_.handshake() || tls_.alpn() != "h2") return false;
        nghttp2_session_callbacks* cb;
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_header_callback(cb, &on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &on_data);
        nghttp2_session_callbacks_set_on_stream_close_callback(cb, &on_close);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &on_frame);
        nghttp2_session_client_new(&h2_, cb, this);
        nghttp2_session_callbacks_del(cb);
        nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, nullptr, 0);
        return true;
    }

    int32_t submit(const RequestSpec& r)
    {
        std::vector<nghttp2_nv> nv = {nv_of(":method", r.method), nv_of(":path", r.path),
                                      nv_of(":scheme", "https"), nv_of(":authority", "localhost")};
        if (!r.content_type.empty()) nv.push_back(nv_of("content-type", r.content_type));
        bodies_.push_back({r.body, 0});
        nghttp2_data_provider prov{};
        prov.source.ptr = &bodies_.back();
        prov.read_callback = &read_body;
        bool has_body = r.method == "POST";
        int32_t id = nghttp2_submit_request(h2_, nullptr, nv.data(), nv.size(),
                                            has_body ? &prov : nullptr, nullptr);
        responses[id];
        return id;
    }

    // Exchanges frames until every submitted stream is closed or the
    // connection ends. False on a connection error.
    bool run()
    {
        for (;;) {
            if (!flush()) return false;
            bool open = false;
            for (auto& [id, r] : responses)
                open |= !r.closed;
            if (!open) return true;
            uint8_t buf[16384];
            int n = tls_.read(buf, sizeof(buf));
            if (n <= 0) return false;
            if (nghttp2_session_mem_recv(h2_, buf, static_cast<size_t>(n)) < 0) return false;
        }
    }
    // Reads until the server closes the connection; true if it did.
    bool run_until_closed()
    {
        for (;;) {
            flush();
            uint8_t buf[16384];
            int n = tls_.read(buf, sizeof(buf));
            if (n == 0 || n == MBEDTLS_ERR_NET_CONN_RESET || n == MBEDTLS_ERR_SSL_CONN_EOF)
                return true;
            if (n < 0) return false;
            nghttp2_session_mem_recv(h2_, buf, static_cast<size_t>(n));
        }
    }
    bool flush()
    {
        const uint8_t* data;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(h2_, &data)) > 0)
            if (!tls_.write({data, static_cast<size_t>(n)})) return false;
        return n == 0;
    }

    void cancel(int32_t id)
    {
        nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        responses.erase(id);
    }
    TlsClient& tls() { return tls_; }
    std::map<int32_t, Response> responses;
    uint32_t goaway_error = 0;
    bool goaway = false;

private:
    struct Body {
        std::vector<uint8_t> data;
        size_t pos;
    };
    // Both strings must outlive the submit call.
    static nghttp2_nv nv_of(std::string_view n, std::string_view v)
    {
        return {(uint8_t*)n.data(), (uint8_t*)v.data(), n.size(), v.size(), NGHTTP2_NV_FLAG_NONE};
    }
    static ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t len, uint32_t* flags,
                             nghttp2_data_source* src, void*)
    {
        auto* b = static_cast<Body*>(src->ptr);
        size_t n = std::min(len, b->data.size() - b->pos);
        std::memcpy(buf, b->data.data() + b->pos, n);
        b->pos += n;
        if (b->pos == b->data.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
    }
    static int on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name, size_t nl,
                         const uint8_t* value, size_t vl, uint8_t, void* self)
    {
        auto& r = static_cast<H2Client*>(self)->responses[f->hd.stream_id];
        std::string n(reinterpret_cast<const char*>(name), nl),
            v(reinterpret_cast<const char*>(value), vl);
        if (n == ":status")
            r.status = std::atoi(v.c_str());
        else
            r.headers[n] = v;
        return 0;
    }
    static int on_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t len,
                       void* self)
    {
        auto& r = static_cast<H2Client*>(self)->responses[id];
        r.body.insert(r.body.end(), d, d + len);
        return 0;
    }
    static int on_close(nghttp2_session*, int32_t id, uint32_t err, void* self)
    {
        auto& r = static_cast<H2Client*>(self)->responses[id];
        r.closed = true;
        r.reset = err;
        return 0;
    }
    static int on_frame(nghttp2_session*, const nghttp2_frame* f, void* self)
    {
        if (f->hd.type == NGHTTP2_GOAWAY) {
            static_cast<H2Client*>(self)->goaway = true;
            static_cast<H2Client*>(self)->goaway_error = f->goaway.error_code;
        }
        return 0;
    }

    TlsClient tls_;
    nghttp2_session* h2_ = nullptr;
    std::list<Body> bodies_;
};

const char* kDnsMessage = "application/dns-message";

std::string get_path(const std::vector<uint8_t>& q)
{
    return "/dns-query?dns=" + base64url_encode(q);
}

// Runs the requests on one connection; returns the responses in order.
std::vector<Response> exchange(Server& srv, std::vector<RequestSpec> specs, bool* ok = nullptr)
{
    std::vector<Response> out;
    bool good = false;
    ClientThread client([&] {
        H2Client c(srv.port);
        if (!c.connect()) return;
        std::vector<int32_t> ids;
        for (const auto& s : specs)
            ids.push_back(c.submit(s));
        good = c.run();
        for (int32_t id : ids)
            out.push_back(c.responses[id]);
    });
    REQUIRE(srv.run_until([&] { return client.done(); }, 10000));
    if (ok) *ok = good;
    return out;
}

} // namespace

TEST_CASE("DoH answers GET and POST with the DNS message and its max-age", "[tls]")
{
    Server srv(Server::Kind::doh);
    auto q1 = make_query("get", 0x1111), q2 = make_query("post", 0x2222);
    bool ok = false;
    auto rs = exchange(
        srv, {{"GET", get_path(q1), "", {}}, {"POST", "/dns-query", kDnsMessage, q2}}, &ok);
    CHECK(ok);
    REQUIRE(rs.size() == 2);
    for (auto& r : rs) {
        CHECK(r.status == 200);
        CHECK(r.headers["content-type"] == kDnsMessage);
        CHECK(r.headers["cache-control"] == "max-age=300");
        CHECK(r.headers["content-length"] == std::to_string(r.body.size()));
    }
    CHECK(id_of(rs[0].body) == 0x1111);
    CHECK(id_of(rs[1].body) == 0x2222);
    CHECK(srv.stats.http == 2);
    CHECK(srv.stats.err_http == 0);
    CHECK(srv.handler.transports.at(0) == Transport::https);
}

TEST_CASE("DoH answers bad requests with their HTTP status", "[tls]")
{
    Server srv(Server::Kind::doh);
    auto q = make_query("q", 1);
    std::vector<uint8_t> big(65536, 0);
    auto rs = exchange(srv, {
                                {"GET", "/elsewhere?dns=" + base64url_encode(q), "", {}},
                                {"PUT", "/dns-query", kDnsMessage, {}},
                                {"POST", "/dns-query", "text/plain", q},
                                {"GET", "/dns-query?dns=not+base64", "", {}},
                                {"GET", "/dns-query", "", {}},
                                {"POST", "/dns-query", kDnsMessage, big},
                                {"POST", "/dns-query", kDnsMessage, {1, 2, 3}},
                                {"GET", get_path(q), "", {}}, // and good ones still work
                            });
    REQUIRE(rs.size() == 8);
    CHECK(rs[0].status == 404);
    CHECK(rs[1].status == 405);
    CHECK(rs[1].headers["allow"] == "GET, POST");
    CHECK(rs[0].headers.count("allow") == 0);
    CHECK(rs[2].status == 415);
    CHECK(rs[3].status == 400);
    CHECK(rs[4].status == 400);
    CHECK(rs[5].status == 413);
    CHECK(rs[6].status == 400);
    CHECK(rs[7].status == 200);
    CHECK(srv.stats.err_http == 7);
    CHECK(srv.stats.http == 1);
}

TEST_CASE("DoH resets the stream of a query the resolver drops", "[tls]")
{
    Server srv(Server::Kind::doh);
    auto rs = exchange(srv, {{"GET", get_path(make_query("drop", 1)), "", {}},
                             {"GET", get_path(make_query("keep", 2)), "", {}}});
    REQUIRE(rs.size() == 2);
    CHECK(rs[0].status == 0);
    CHECK(rs[0].reset == NGHTTP2_REFUSED_STREAM);
    CHECK(rs[1].status == 200);
}

TEST_CASE("DoH serves many concurrent streams with deferred answers", "[tls]")
{
    Server srv(Server::Kind::doh);
    std::vector<Response> out;
    ClientThread client([&] {
        H2Client c(srv.port);
        if (!c.connect()) return;
        std::vector<int32_t> ids;
        for (uint16_t i = 0; i < 60; ++i)
            ids.push_back(
                c.submit({"GET", get_path(make_query(i % 2 ? "slow" : "fast", i)), "", {}}));
        if (!c.run()) return;
        for (int32_t id : ids)
            out.push_back(c.responses[id]);
    });
    REQUIRE(srv.run_until([&] { return srv.handler.held.size() == 30; }));
    srv.handler.release();
    REQUIRE(srv.run_until([&] { return client.done(); }));
    REQUIRE(out.size() == 60);
    for (uint16_t i = 0; i < 60; ++i) {
        CHECK(out[i].status == 200);
        CHECK(id_of(out[i].body) == i);
    }
}

TEST_CASE("DoH closes connections on HTTP/2 protocol errors", "[tls]")
{
    Server srv(Server::Kind::doh);
    bool not_h2_closed = false, goaway = false, closed = false;
    uint32_t goaway_error = 0;
    int after = 0;
    ClientThread client([&] {
        {
            // HTTP/1.1 after the TLS handshake.
            TlsClient c(srv.port, "h2");
            if (!c.handshake()) return;
            std::string req = "GET /dns-query HTTP/1.1\r\nHost: x\r\n\r\n";
            c.write({reinterpret_cast<const uint8_t*>(req.data()), req.size()});
            not_h2_closed = c.closed_by_peer();
        }
        {
            // A frame larger than SETTINGS_MAX_FRAME_SIZE.
            H2Client c(srv.port);
            if (!c.connect() || !c.flush()) return;
            std::vector<uint8_t> frame = {0x00, 0x80, 0x00, 0x00 /*DATA*/, 0, 0, 0, 0, 1};
            frame.resize(9 + 0x8000, 0);
            c.tls().write(frame);
            closed = c.run_until_closed();
            goaway = c.goaway;
            goaway_error = c.goaway_error;
        }
        H2Client c(srv.port);
        if (!c.connect()) return;
        int32_t id = c.submit({"GET", get_path(make_query("q", 3)), "", {}});
        if (c.run()) after = c.responses[id].status;
    });
    REQUIRE(srv.run_until([&] { return client.done(); }, 10000));
    CHECK(not_h2_closed);
    CHECK(goaway);
    CHECK(closed);
    CHECK(goaway_error == NGHTTP2_FRAME_SIZE_ERROR);
    CHECK(after == 200);
    CHECK(srv.stats.err_http == 2);
}

TEST_CASE("DoH drops answers for streams the client cancelled", "[tls]")
{
    Server srv(Server::Kind::doh);
    std::atomic<bool> cancelled{false};
    int later = 0;
    ClientThread client([&] {
        H2Client c(srv.port);
        if (!c.connect()) return;
        int32_t slow = c.submit({"GET", get_path(make_query("slow", 1)), "", {}});
        c.flush();
        while (!cancelled)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        c.cancel(slow);
        int32_t id = c.submit({"GET", get_path(make_query("next", 2)), "", {}});
        c.run();
        later = c.responses[id].status;
    });
    REQUIRE(srv.run_until([&] { return srv.handler.held.size() == 1; }));
    // The client resets the stream: nghttp2 on our side closes it; the
    // answer sent afterwards must find nothing and do nothing.
    cancelled = true;
    srv.run_until([] { return false; }, 50);
    srv.handler.release();
    REQUIRE(srv.run_until([&] { return client.done(); }));
    CHECK(later == 200);
}

TEST_CASE("DoH ends a TLS record after each response", "[tls]")
{
    // Some clients (dnsperf) take one response per record they read.
    Server srv(Server::Kind::doh);
    std::vector<int> ends_per_record;
    ClientThread client([&] {
        H2Client c(srv.port);
        if (!c.connect()) return;
        for (uint16_t i = 0; i < 5; ++i)
            c.submit({"GET", get_path(make_query("q", i)), "", {}});
        if (!c.flush()) return;
        // Walk the server's frames record by record (mbedtls_ssl_read
        // returns data from one record at a time).
        std::vector<uint8_t> pending;
        int total = 0;
        while (total < 5) {
            uint8_t buf[20000];
            int n = c.tls().read(buf, sizeof(buf));
            if (n <= 0) return;
            pending.insert(pending.end(), buf, buf + n);
            int ends = 0;
            size_t pos = 0;
            while (pending.size() - pos >= 9) {
                size_t len =
                    (size_t(pending[pos]) << 16) | (pending[pos + 1] << 8) | pending[pos + 2];
                if (pending.size() - pos < 9 + len) break;
                if (pending[pos + 3] == NGHTTP2_DATA &&
                    (pending[pos + 4] & NGHTTP2_FLAG_END_STREAM))
                    ++ends;
                pos += 9 + len;
            }
            pending.erase(pending.begin(), pending.begin() + static_cast<long>(pos));
            if (ends) ends_per_record.push_back(ends);
            total += ends;
        }
    });
    REQUIRE(srv.run_until([&] { return client.done(); }));
    CHECK(ends_per_record == std::vector<int>(5, 1));
}
