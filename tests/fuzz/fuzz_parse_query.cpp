// libFuzzer target: parse_query on arbitrary bytes, then answer what parsed
// the way the daemon would. Beyond "no crash, no out-of-bounds access" it
// checks a few invariants and traps when one breaks.
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//       src/dns/wire.cpp tests/fuzz/fuzz_parse_query.cpp -o fuzz_parse_query
//   ./fuzz_parse_query -max_len=1500 corpus/
#include "dns/wire.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

using namespace kresd::dns;

namespace {

void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

void answer(const Query& q, ParseStatus st)
{
    std::array<uint8_t, 4096> buf{};
    // A UDP-like limit from the query, so that truncation is exercised too.
    size_t limit = kMinUdpSize;
    if (q.edns.present && q.edns.udp_size > limit)
        limit = q.edns.udp_size;
    ResponseBuilder rb(buf, limit);

    if (st == ParseStatus::formerr || st == ParseStatus::notimp) {
        check(rb.begin_header_only(q, st == ParseStatus::formerr ? rcode::FORMERR
                                                                 : rcode::NOTIMP));
        check(rb.finish() == kHeaderSize);
        return;
    }

    // ok or badvers: the question was read.
    check(q.qname.len >= 1 && name_labels(q.qname.view()) >= 0);
    check(q.qname.len == q.qname_lower.len);
    check(name_in_zone(q.qname.view(), q.qname_lower.view()));
    check(q.question_end == kHeaderSize + q.qname.len + 4); // never compressed

    const std::array<uint8_t, 16> nsid = {'f', 'u', 'z', 'z'};
    const size_t opt_reserve = q.edns.nsid ? 4 + nsid.size() : 0;
    if (!rb.begin(q, rcode::NOERROR, opt_reserve))
        return; // a limit too small for the question: the daemon sends TC/SERVFAIL
    if (st == ParseStatus::badvers) {
        rb.set_rcode(rcode::BADVERS);
    } else {
        const std::array<uint8_t, 4> addr = {192, 0, 2, 1};
        int added = 0;
        while (rb.add_rr(Section::answer, q.qname_lower.view(), type::A, klass::IN, 60, addr))
            ++added;
        rb.set_tc(true);
        // Each answer is 16 bytes (owner compressed to the question).
        const size_t opt_room = q.edns.present ? 11 + opt_reserve : 0;
        check(added > 0 || rb.size() + 16 + opt_room > limit);
        Name ns;
        check(name_from_text("ns.example", ns));
        (void)rb.add_rr(Section::authority, ns.view(), type::NS, klass::IN, 60, ns.view());
        if (q.edns.nsid)
            check(rb.add_option(edns_opt::NSID, std::span(nsid).first(4)));
    }
    const size_t n = rb.finish();
    check(n >= kHeaderSize && n <= limit);

    // The text form of the name round-trips when it has no special bytes.
    const std::string text = name_to_text(q.qname.view());
    Name back;
    if (text.find('\\') == std::string::npos) {
        check(name_from_text(text, back));
        check(back.len == q.qname.len);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    Query q;
    const ParseStatus st = parse_query(std::span<const uint8_t>(data, size), q);
    if (st != ParseStatus::drop)
        answer(q, st);
    else
        check(size < kHeaderSize || (data[2] & 0x80) != 0);
    return 0;
}
