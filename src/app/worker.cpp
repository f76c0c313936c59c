#include "app/worker.hpp"

#include <algorithm>

#include "policy/special_names.hpp"

namespace kresd::app {

size_t Worker::answer(std::span<const uint8_t> query, const net::ClientInfo& client,
                      std::span<uint8_t> out)
{
    dns::Query q;
    dns::ParseStatus st = dns::parse_query(query, q);
    if (st == dns::ParseStatus::drop) {
        ++stats_.dropped;
        return 0;
    }
    ++stats_.queries;

    // RFC 6891 6.2.5: over UDP, answer within the client's EDNS buffer (512
    // without EDNS) and our own limit (out.size(), from net.bufsize()).
    size_t limit = out.size();
    if (client.transport == net::Transport::udp) {
        size_t client_max = q.edns.present ? std::max<size_t>(q.edns.udp_size, dns::kMinUdpSize)
                                           : dns::kMinUdpSize;
        limit = std::min(limit, client_max);
    }

    dns::ResponseBuilder b(out, limit);
    const bool ok = st == dns::ParseStatus::ok;
    bool begun = false;
    switch (st) {
    case dns::ParseStatus::ok:
        begun = b.begin(q, dns::rcode::NOERROR, mods_.option_reserve(q));
        // A small client buffer may not hold the options too: answer without them.
        if (!begun) begun = b.begin(q, dns::rcode::NOERROR);
        // No resolution yet: what is not a special name is refused at once.
        if (begun && !policy::answer_special(q, b)) b.set_rcode(dns::rcode::REFUSED);
        break;
    case dns::ParseStatus::badvers: // RFC 6891 6.1.3
        begun = b.begin(q, dns::rcode::NOERROR);
        if (begun) b.set_rcode(dns::rcode::BADVERS);
        break;
    case dns::ParseStatus::notimp:
        begun = b.begin_header_only(q, dns::rcode::NOTIMP);
        break;
    default:
        begun = b.begin_header_only(q, dns::rcode::FORMERR);
        break;
    }
    if (!begun && b.begin_header_only(q, dns::rcode::NOERROR)) {
        b.set_tc(true); // not even the question fits: tell the client to use TCP
        return b.finish(edns_size_);
    }
    if (!begun) {
        ++stats_.dropped;
        return 0;
    }
    mods_.on_answer(q, ok, b.rcode(), b);
    return b.finish(edns_size_);
}

} // namespace kresd::app
