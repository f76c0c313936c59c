// DNS wire format: query parsing and response writing, allocation free.
//
// parse_query() reads a client's query in place (RFC 1035 4.1, RFC 6891 for
// EDNS). It never allocates and never reads outside the span it is given.
// ResponseBuilder writes an answer into a caller-supplied buffer with a size
// limit; an RR that does not fit is refused (returns false) so the caller can
// set TC. Space for the OPT record is reserved up front when EDNS is used, so
// a truncated answer still carries its OPT (RFC 6891 7).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace kresd::dns {

namespace type {
inline constexpr uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, MX = 15, TXT = 16,
                          AAAA = 28, SRV = 33, DNAME = 39, OPT = 41, DS = 43, RRSIG = 46,
                          NSEC = 47, DNSKEY = 48, NSEC3 = 50, ANY = 255, AXFR = 252, IXFR = 251;
}
namespace klass {
inline constexpr uint16_t IN = 1, CH = 3, ANY = 255;
}
namespace rcode {
inline constexpr uint8_t NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4,
                         REFUSED = 5;
inline constexpr uint16_t BADVERS = 16; // extended: needs EDNS
}
namespace opcode {
inline constexpr uint8_t QUERY = 0;
}
namespace edns_opt {
inline constexpr uint16_t NSID = 3, COOKIE = 10, TCP_KEEPALIVE = 11, PADDING = 12, EDE = 15;
}

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxNameWire = 255;
inline constexpr uint16_t kDefaultEdnsSize = 1232; // what we advertise
inline constexpr uint16_t kMinUdpSize = 512;

// A domain name in uncompressed wire form, at most 255 bytes.
struct Name {
    // Not zeroed: only the first len bytes mean anything (every query
    // carries two Names, and zeroing them was a visible part of a cache
    // hit's cost).
    std::array<uint8_t, kMaxNameWire> wire;
    uint8_t len = 0; // bytes used, including the final root label

    std::span<const uint8_t> view() const { return {wire.data(), len}; }
};

// Text -> wire. Accepts "example.com", "example.com." and "."; escapes are
// not supported. Returns false for empty labels, labels over 63 bytes or
// names over 255 bytes.
bool name_from_text(std::string_view text, Name& out);
// Wire -> text with a trailing dot; "." for the root.
std::string name_to_text(std::span<const uint8_t> wire);
// ASCII lower-casing of a wire name (labels lengths untouched).
void name_lower(Name& n);
// Case-insensitive: is `name` equal to `zone` or below it (label-wise)?
bool name_in_zone(std::span<const uint8_t> name, std::span<const uint8_t> zone);
// Number of labels, not counting the root; -1 when `name` is not exactly one
// well-formed uncompressed wire name.
int name_labels(std::span<const uint8_t> name);

struct Edns {
    bool present = false;
    uint16_t udp_size = 0;   // as sent by the client (values < 512 mean 512)
    uint8_t version = 0;
    bool do_bit = false;
    bool nsid = false;       // NSID option present (RFC 5001)
    bool padding = false;    // Padding option present (RFC 7830)
    bool keepalive = false;  // edns-tcp-keepalive option present (RFC 7828)
    uint16_t ext_rcode_hi = 0;
};

struct Query {
    uint16_t id = 0;
    uint8_t opcode = 0;
    bool rd = false, cd = false, ad = false;
    Name qname;        // as received (case preserved), decompressed
    Name qname_lower;  // lower-cased copy for lookups
    uint16_t qtype = 0;
    uint16_t qclass = 0;
    size_t question_end = 0; // offset just after the question in the packet
    Edns edns;
    // Offset of the owner name of a TSIG record in the additional section
    // (0: none). Not verified; read it with read_name_at().
    uint16_t tsig_owner = 0;
};

enum class ParseStatus {
    ok,      // a well-formed query
    formerr, // answer FORMERR: header readable, rest not (id/opcode/rd filled in)
    notimp,  // opcode other than QUERY: answer NOTIMP
    badvers, // EDNS version > 0: answer BADVERS (RFC 6891 6.1.3)
    drop,    // not even a header, or QR=1: send nothing
};

// Reads one query. Checks: QR=0; QDCOUNT==1; ANCOUNT==0; a question that
// fits; names with at most 255 bytes, labels <= 63, compression pointers only
// backwards and bounded in number; NSCOUNT records skipped safely; ARCOUNT
// may hold at most one OPT (root owner) and it must be last-parsed sane;
// nothing after the last record.
//
// Order of checks: drop (short header, QR=1), then notimp (any opcode but
// QUERY, before the counts are looked at: other opcodes give the counts other
// meanings, e.g. DSO sends QDCOUNT=0), then formerr for everything else.
// badvers is returned only for an otherwise well-formed message; its options
// are not parsed (their format belongs to that version). `out` is reset
// first; on formerr/notimp only id, opcode, rd, ad and cd are meaningful.
ParseStatus parse_query(std::span<const uint8_t> wire, Query& out);

// Reads the (possibly compressed) name at `pos` of a message parse_query()
// accepted, lower-cased into `out`. False when it is not a valid name.
bool read_name_at(std::span<const uint8_t> wire, size_t pos, Name& out);

enum class Section { answer, authority, additional };

// Call order: begin() or begin_header_only(), then any of set_* / add_rr /
// add_option, then finish() once; the message is buf[0, finish()). begin()
// may be called again to reuse the builder. The Query passed to begin() need
// not outlive it (the question is compared from `buf`). RRs must be added in
// section order (answer, authority, additional); add_rr refuses going back.
class ResponseBuilder {
public:
    // `buf` is where the message is written; `limit` (<= buf.size()) is the
    // largest message the client can take (UDP: from EDNS or 512; TCP: 65535).
    // A larger limit is cut to buf.size() (and to 65535).
    ResponseBuilder(std::span<uint8_t> buf, size_t limit);

    // Starts the answer to `q`: copies ID, RD, CD and opcode, sets QR and RA,
    // writes the question as received. When q.edns.present, reserves room for
    // an OPT record with `opt_reserve` bytes of options. Returns false when
    // even the header and question do not fit.
    bool begin(const Query& q, uint8_t rcode, size_t opt_reserve = 0);
    // For FORMERR/NOTIMP on a message whose question was unreadable: header
    // only (ID, opcode, RD copied; CD too), no question and no OPT record.
    bool begin_header_only(const Query& q, uint8_t rcode);

    void set_aa(bool on);
    void set_tc(bool on);
    // Authentic Data (RFC 4035 3.2.3): every RRset of the answer validated.
    void set_ad(bool on);
    // Low 4 bits into the header, high 8 bits into the OPT TTL at finish();
    // without EDNS the high bits are lost. Call before finish().
    void set_rcode(uint16_t rcode);
    // EDNS(0) Padding (RFC 7830, block-length strategy of RFC 8467 4.1):
    // finish() adds a Padding option that brings the message to a multiple
    // of `block` octets, when the answer has EDNS and the padded message
    // still fits the limit (else no padding). 0 (the default) or 1: none.
    void set_padding(uint16_t block) { pad_block_ = block; }

    // Appends one RR. An owner equal to the query name (case-insensitively)
    // is written as a compression pointer to the question. Returns false and
    // writes nothing when it does not fit in the limit (minus the OPT room),
    // and also when called out of section order, before begin(), after
    // finish(), or with an owner that is not a well-formed wire name.
    bool add_rr(Section s, std::span<const uint8_t> owner, uint16_t rrtype, uint16_t rrclass,
                uint32_t ttl, std::span<const uint8_t> rdata);

    // Adds an EDNS option to the OPT record written by finish(). The total
    // must have been reserved in begin(); returns false otherwise.
    bool add_option(uint16_t code, std::span<const uint8_t> data);

    // Writes the OPT record (when the query had EDNS) and the counts.
    // Returns the message size (0 if begin failed). A second call changes
    // nothing and returns the same size.
    size_t finish(uint16_t our_udp_size = kDefaultEdnsSize);

    size_t size() const { return pos_; }
    // The RCODE set so far (with its extended bits); 0 before begin().
    uint16_t rcode() const
    {
        return begun_ ? static_cast<uint16_t>((ext_rcode_ << 4) | (buf_[3] & 0x0F)) : 0;
    }
    // The question's name as written into the message (empty before
    // begin() or without a question). An owner given as this very span is
    // compressed without comparing it.
    std::span<const uint8_t> question_name() const { return qname_; }
    // Records written to a section so far.
    uint16_t count(Section s) const
    {
        return counts_[s == Section::answer ? 1 : s == Section::authority ? 2 : 3];
    }
    // The AD flag as set so far.
    bool ad() const { return begun_ && (buf_[3] & 0x20) != 0; }

    // For answer hooks that read or change what was written (the modules
    // renumber and dns64): one record written so far. `owner` is the
    // question's name where a compression pointer was written, else the
    // name as written (add_rr() writes no other pointers); the spans point
    // into the message and hold until the next change to it.
    struct WrittenRr {
        Section section = Section::answer;
        std::span<const uint8_t> owner;
        uint16_t type = 0, klass = 0;
        uint32_t ttl = 0;
        std::span<const uint8_t> rdata;
    };
    // Calls fn(const WrittenRr&) for each record written so far, in order
    // (not the OPT record, which finish() writes).
    template <class Fn>
    void for_each_rr(Fn&& fn) const
    {
        Cursor c = first_rr();
        WrittenRr rr;
        while (next_rr(c, rr))
            fn(static_cast<const WrittenRr&>(rr));
    }
    // Overwrites the RDATA of a record from for_each_rr() with `rdata` of
    // the same length (renumber); false (nothing changed) otherwise.
    bool rewrite_rdata(const WrittenRr& rr, std::span<const uint8_t> rdata);
    // Removes the records for which drop(const WrittenRr&) is true; those
    // after them move up. Returns how many were removed.
    template <class Pred>
    size_t remove_rrs(Pred&& drop)
    {
        Cursor c = first_rr();
        WrittenRr rr;
        size_t removed = 0;
        for (;;) {
            const Cursor at = c;
            if (!next_rr(c, rr))
                break;
            if (drop(static_cast<const WrittenRr&>(rr))) {
                erase_rr(at, c, rr.section);
                c = at;
                ++removed;
            }
        }
        return removed;
    }

private:
    // Where the next written record starts, and its index over all sections.
    struct Cursor {
        size_t pos = 0;
        size_t index = 0;
    };
    Cursor first_rr() const;
    bool next_rr(Cursor& c, WrittenRr& out) const;
    void erase_rr(const Cursor& at, const Cursor& next, Section s);

    void reset();
    bool write_header(const Query& q, uint8_t rcode);

    std::span<uint8_t> buf_;
    size_t limit_ = 0;
    size_t pos_ = 0;
    size_t opt_room_ = 0;
    bool edns_ = false;
    bool do_bit_ = false;
    uint16_t pad_block_ = 0;
    uint16_t ext_rcode_ = 0;
    uint16_t counts_[4] = {0, 0, 0, 0};
    std::span<const uint8_t> qname_;
    std::array<uint8_t, 512> opts_; // read only up to opts_len_: not zeroed per answer
    size_t opts_len_ = 0;
    bool begun_ = false;
    bool finished_ = false;
    uint8_t section_ = 0; // index into counts_ of the last section written
};

} // namespace kresd::dns
