// edns_keepalive: the EDNS TCP keepalive option (RFC 7828), loaded by
// default as in Knot Resolver 5.6. A query that carries the option and
// comes over a stream (TCP, TLS; HTTPS too, as Knot Resolver counts it as
// TCP) gets it back with the server's idle timeout, in units of 100 ms:
// the 10 s after which an idle client connection is closed
// (net::ServeContext::tcp_idle_timeout_ms), i.e. 100, what Knot Resolver
// sends with its default. Over UDP nothing is added (RFC 7828 3.3.2).
// modules.unload('edns_keepalive') stops it.
#include <lua.hpp>

#include "modules/builtin.hpp"

namespace kresd::modules {

namespace {

constexpr uint16_t kIdleTimeoutMs = 10000; // net::ServeContext::tcp_idle_timeout_ms
constexpr uint16_t kTimeout = kIdleTimeoutMs / 100;
constexpr uint8_t kOption[] = {kTimeout >> 8, kTimeout & 0xff};

class EdnsKeepalive final : public Module {
public:
    const char* name() const override { return "edns_keepalive"; }
    // The transport is not known here: room is kept for any query with the
    // option (a UDP one should not carry it, RFC 7828 3.2.1).
    size_t option_reserve(const dns::Query& q) const override
    {
        return q.edns.present && q.edns.keepalive ? 4 + sizeof(kOption) : 0;
    }
    void on_answer(const dns::Query&, bool, uint16_t, dns::ResponseBuilder&) override {}
    void on_answer_to(const dns::Query& q, bool query_ok, uint16_t, bool stream,
                      dns::ResponseBuilder& out) override
    {
        if (!query_ok || !stream || !q.edns.present || !q.edns.keepalive) return;
        out.add_option(dns::edns_opt::TCP_KEEPALIVE, kOption);
    }
    void bind_lua(lua_State* L) override
    {
        lua_newtable(L); // no configuration names, as in Knot Resolver
        lua_setglobal(L, "edns_keepalive");
    }
};

} // namespace

std::unique_ptr<Module> make_edns_keepalive() { return std::make_unique<EdnsKeepalive>(); }

} // namespace kresd::modules
