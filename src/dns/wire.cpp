// DNS wire format: query parsing and response writing. See wire.hpp for the
// contract. Every read is bounds-checked against the span it is given, and
// nothing here allocates except name_to_text().
#include "dns/wire.hpp"

#include <algorithm>
#include <cstring>

namespace kresd::dns {
namespace {

constexpr size_t kMaxLabel = 63;     // RFC 1035 2.3.4
constexpr int kMaxPointerHops = 64;  // our bound; a legal name never needs this many
constexpr size_t kRrFixed = 10;      // TYPE, CLASS, TTL, RDLENGTH (RFC 1035 4.1.3)
constexpr uint16_t kTypeTsig = 250;   // RFC 8945
constexpr size_t kOptFixed = 1 + kRrFixed; // root owner + fixed part (RFC 6891 6.1.2)
constexpr size_t kOptionHeader = 4;  // OPTION-CODE, OPTION-LENGTH (RFC 6891 6.1.2)
constexpr size_t kMaxMessage = 65535;

// Header flag bits (RFC 1035 4.1.1, RFC 4035 3.2 for AD/CD).
constexpr uint8_t kFlagQr = 0x80, kFlagAa = 0x04, kFlagTc = 0x02, kFlagRd = 0x01;
constexpr uint8_t kFlagRa = 0x80, kFlagAd = 0x20, kFlagCd = 0x10;
constexpr uint16_t kEdnsDo = 0x8000; // RFC 3225 3

// Indexes into the four header counts.
constexpr uint8_t kQd = 0, kAn = 1, kNs = 2, kAr = 3;

uint16_t get16(std::span<const uint8_t> w, size_t pos)
{
    return static_cast<uint16_t>((w[pos] << 8) | w[pos + 1]);
}

uint32_t get32(std::span<const uint8_t> w, size_t pos)
{
    return (uint32_t{w[pos]} << 24) | (uint32_t{w[pos + 1]} << 16) | (uint32_t{w[pos + 2]} << 8) |
           uint32_t{w[pos + 3]};
}

void put16(std::span<uint8_t> w, size_t pos, uint16_t v)
{
    w[pos] = static_cast<uint8_t>(v >> 8);
    w[pos + 1] = static_cast<uint8_t>(v);
}

void put32(std::span<uint8_t> w, size_t pos, uint32_t v)
{
    put16(w, pos, static_cast<uint16_t>(v >> 16));
    put16(w, pos + 2, static_cast<uint16_t>(v));
}

uint8_t ascii_lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c - 'A' + 'a') : c;
}

// Byte-wise ASCII case-insensitive equality. On two well-formed wire names
// this is a label-wise comparison: length bytes are <= 63 and so never
// letters (RFC 4343 2 for the case rule).
bool equal_ci(std::span<const uint8_t> a, std::span<const uint8_t> b)
{
    if (a.size() != b.size())
        return false;
    if (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0)
        return true; // the common case (same case, often the same bytes)
    for (size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    }
    return true;
}

// Label count of an uncompressed wire name that fills `name` exactly, or -1.
int count_labels(std::span<const uint8_t> name)
{
    if (name.empty() || name.size() > kMaxNameWire)
        return -1;
    size_t pos = 0;
    int labels = 0;
    while (pos < name.size()) {
        const uint8_t len = name[pos];
        if (len == 0)
            return pos + 1 == name.size() ? labels : -1;
        if (len > kMaxLabel)
            return -1;
        pos += 1 + len;
        ++labels;
    }
    return -1; // ran off the end without a root label
}

// Checks and skips a possibly compressed name at `pos` (RFC 1035 3.1,
// 4.1.4). `next` becomes the offset just after the name as it sits at `pos`
// (after its first pointer, if any); `wire_len` the uncompressed length.
//
// A pointer must point strictly before the start of the labels being read
// (the name's start, or the previous pointer's target), and not into the
// header. Positions then strictly decrease with each hop, so loops are
// impossible; the hop count is bounded as well.
// Always inlined: read_qname() runs it for every query, and the call was a
// fifth of parsing one.
[[gnu::always_inline]] inline bool skip_name(std::span<const uint8_t> wire, size_t pos,
                                             size_t& next, size_t& wire_len)
{
    size_t len = 0;
    size_t run_start = pos;
    int hops = 0;
    bool jumped = false;
    while (pos < wire.size()) {
        const uint8_t b = wire[pos];
        if ((b & 0xC0) == 0xC0) {
            if (wire.size() - pos < 2)
                return false;
            const size_t target = (size_t{b & 0x3Fu} << 8) | wire[pos + 1];
            if (target < kHeaderSize || target >= run_start || ++hops > kMaxPointerHops)
                return false;
            if (!jumped) {
                next = pos + 2;
                jumped = true;
            }
            pos = run_start = target;
            continue;
        }
        // Prefixes 0x40 (extended label types, RFC 6891 5) and 0x80
        // (reserved, RFC 1035 4.1.4) are not accepted.
        if (b > kMaxLabel)
            return false;
        if (len + 1 + b > kMaxNameWire || wire.size() - pos < size_t{1} + b)
            return false;
        len += 1 + b;
        pos += 1 + b;
        if (b == 0) {
            if (!jumped)
                next = pos;
            wire_len = len;
            return true;
        }
    }
    return false;
}

// Copies n bytes from src to dst with A-Z lowered, 8 bytes a step. A byte
// is upper case when its low 7 bits are >= 'A' and <= 'Z' and its high bit
// is clear; adding 0x80 - 'A' (or 0x80 - 'Z' - 1) to the low 7 bits of
// every byte at once sets a byte's high bit exactly when it is >= 'A'
// (> 'Z'), with no carry into the next byte.
void lower_copy(const uint8_t* src, uint8_t* dst, size_t n)
{
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    constexpr uint64_t kHigh = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, src + i, 8);
        const uint64_t low7 = w & ~kHigh;
        const uint64_t ge_a = low7 + (0x80 - 'A') * kOnes;
        const uint64_t gt_z = low7 + (0x80 - 'Z' - 1) * kOnes;
        const uint64_t upper = ge_a & ~gt_z & ~w & kHigh;
        w |= upper >> 2; // 0x80 >> 2 == 0x20, the case bit
        std::memcpy(dst + i, &w, 8);
    }
    for (; i < n; ++i)
        dst[i] = ascii_lower(src[i]);
}

// Reads the question's name, which starts right after the header: a
// compression pointer there could only point into the header, which
// skip_name() refuses, so a name it accepts is plain labels and as long as
// the bytes it skipped. It is copied as received into `name` and
// lower-cased into `lower` (the two copies every query needs; length bytes
// are <= 63, never letters).
bool read_qname(std::span<const uint8_t> wire, size_t& pos, Name& name, Name& lower)
{
    const size_t start = pos;
    size_t len = 0;
    if (!skip_name(wire, start, pos, len))
        return false;
    std::memcpy(name.wire.data(), wire.data() + start, len);
    lower_copy(wire.data() + start, lower.wire.data(), len);
    name.len = lower.len = static_cast<uint8_t>(len);
    return true;
}

// The parts of one resource record that the query parser looks at.
struct RrView {
    size_t owner_len = 0;
    uint16_t type = 0;
    uint16_t klass = 0;
    uint32_t ttl = 0;
    std::span<const uint8_t> rdata;
};

// Reads one RR at `pos` (RFC 1035 4.1.3) and moves `pos` past it.
bool read_rr(std::span<const uint8_t> wire, size_t& pos, RrView& rr)
{
    size_t next = 0;
    if (!skip_name(wire, pos, next, rr.owner_len))
        return false;
    if (wire.size() - next < kRrFixed)
        return false;
    rr.type = get16(wire, next);
    rr.klass = get16(wire, next + 2);
    rr.ttl = get32(wire, next + 4);
    const size_t rdlen = get16(wire, next + 8);
    next += kRrFixed;
    if (wire.size() - next < rdlen)
        return false;
    rr.rdata = wire.subspan(next, rdlen);
    pos = next + rdlen;
    return true;
}

// Fills `edns` from an OPT RR (RFC 6891 6.1.2, 6.1.3). Returns false when its
// options are malformed. For a version we do not speak, the options are left
// unparsed: their format is that version's business.
bool read_opt(const RrView& rr, Edns& edns)
{
    edns.present = true;
    edns.udp_size = rr.klass;
    edns.ext_rcode_hi = static_cast<uint16_t>(rr.ttl >> 24);
    edns.version = static_cast<uint8_t>(rr.ttl >> 16);
    edns.do_bit = (rr.ttl & kEdnsDo) != 0;
    if (edns.version != 0)
        return true;
    // RDATA is a sequence of {code, length, data}; it must be used up exactly.
    const auto opts = rr.rdata;
    size_t pos = 0;
    while (pos < opts.size()) {
        if (opts.size() - pos < kOptionHeader)
            return false;
        const uint16_t code = get16(opts, pos);
        const size_t len = get16(opts, pos + 2);
        pos += kOptionHeader;
        if (opts.size() - pos < len)
            return false;
        if (code == edns_opt::NSID)
            edns.nsid = true; // RFC 5001 2.1: empty in queries; we do not insist
        else if (code == edns_opt::PADDING)
            edns.padding = true;
        else if (code == edns_opt::TCP_KEEPALIVE)
            edns.keepalive = true; // RFC 7828 3.2.1: empty in queries; we do not insist
        pos += len;
    }
    return true;
}

} // namespace

// ---- names ----

bool name_from_text(std::string_view text, Name& out)
{
    Name n;
    if (text == ".") {
        n.wire[0] = 0;
        n.len = 1;
        out = n;
        return true;
    }
    if (!text.empty() && text.back() == '.')
        text.remove_suffix(1);
    if (text.empty())
        return false;
    size_t len = 0;
    size_t start = 0;
    for (;;) {
        const size_t dot = text.find('.', start);
        const size_t end = dot == std::string_view::npos ? text.size() : dot;
        const size_t label = end - start;
        // RFC 1035 2.3.4: labels 1..63 bytes, names (with the root) <= 255.
        if (label == 0 || label > kMaxLabel || len + 1 + label + 1 > kMaxNameWire)
            return false;
        n.wire[len] = static_cast<uint8_t>(label);
        std::memcpy(n.wire.data() + len + 1, text.data() + start, label);
        len += 1 + label;
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    n.wire[len++] = 0;
    n.len = static_cast<uint8_t>(len);
    out = n;
    return true;
}

std::string name_to_text(std::span<const uint8_t> wire)
{
    // RFC 1035 5.1 presentation form: '.' and '\' inside a label are escaped
    // with '\', bytes that are not printable as \DDD. A malformed tail is cut.
    std::string out;
    size_t pos = 0;
    while (pos < wire.size()) {
        const uint8_t len = wire[pos];
        if (len == 0 || len > kMaxLabel || len >= wire.size() - pos)
            break;
        for (size_t i = pos + 1; i <= pos + len; ++i) {
            const uint8_t c = wire[i];
            if (c == '.' || c == '\\') {
                out += '\\';
                out += static_cast<char>(c);
            } else if (c < 0x21 || c > 0x7E) {
                out += '\\';
                out += static_cast<char>('0' + c / 100);
                out += static_cast<char>('0' + c / 10 % 10);
                out += static_cast<char>('0' + c % 10);
            } else {
                out += static_cast<char>(c);
            }
        }
        out += '.';
        pos += 1 + len;
    }
    if (out.empty())
        out.assign(1, '.'); // not = ".": GCC 12 -O2 warns falsely (-Wrestrict)
    return out;
}

void name_lower(Name& n)
{
    // Length bytes are 0..63 and never letters, so every byte can be mapped.
    lower_copy(n.wire.data(), n.wire.data(), std::min<size_t>(n.len, n.wire.size()));
}

bool name_in_zone(std::span<const uint8_t> name, std::span<const uint8_t> zone)
{
    const int name_count = count_labels(name);
    const int zone_count = count_labels(zone);
    if (name_count < 0 || zone_count < 0 || name_count < zone_count)
        return false;
    size_t pos = 0;
    for (int i = 0; i < name_count - zone_count; ++i)
        pos += size_t{1} + name[pos];
    return equal_ci(name.subspan(pos), zone);
}

int name_labels(std::span<const uint8_t> name)
{
    return count_labels(name);
}

// ---- query parsing ----

ParseStatus parse_query(std::span<const uint8_t> wire, Query& out)
{
    // Field by field: the name arrays (2 x 255 bytes) need only their length.
    out.id = 0;
    out.opcode = 0;
    out.rd = out.cd = out.ad = false;
    out.qname.len = out.qname_lower.len = 0;
    out.qtype = out.qclass = 0;
    out.question_end = 0;
    out.edns = Edns{};
    out.tsig_owner = 0;
    // RFC 1035 4.1.1: without a whole header there is no ID to answer to.
    if (wire.size() < kHeaderSize)
        return ParseStatus::drop;
    const uint8_t flags1 = wire[2];
    const uint8_t flags2 = wire[3];
    // A response (QR=1) is never answered: that could start a loop.
    if ((flags1 & kFlagQr) != 0)
        return ParseStatus::drop;
    out.id = get16(wire, 0);
    out.opcode = static_cast<uint8_t>((flags1 >> 3) & 0x0F);
    out.rd = (flags1 & kFlagRd) != 0;
    out.ad = (flags2 & kFlagAd) != 0;
    out.cd = (flags2 & kFlagCd) != 0;
    // RFC 1035 4.1.1: NOTIMP for kinds of query we do not support. Checked
    // before the counts, which other opcodes use differently (UPDATE,
    // RFC 2136 2; DSO, RFC 8490).
    if (out.opcode != opcode::QUERY)
        return ParseStatus::notimp;

    const uint16_t qdcount = get16(wire, 4);
    const uint16_t ancount = get16(wire, 6);
    const uint16_t nscount = get16(wire, 8);
    const uint16_t arcount = get16(wire, 10);
    // RFC 1035 4.1.2 and RFC 9619: a query carries exactly one question,
    // and no answers.
    if (qdcount != 1 || ancount != 0)
        return ParseStatus::formerr;

    // The question (RFC 1035 4.1.2).
    size_t pos = kHeaderSize;
    if (!read_qname(wire, pos, out.qname, out.qname_lower))
        return ParseStatus::formerr;
    if (wire.size() - pos < 4)
        return ParseStatus::formerr;
    out.qtype = get16(wire, pos);
    out.qclass = get16(wire, pos + 2);
    pos += 4;
    out.question_end = pos;

    // Authority records are skipped, but must be well-formed. An OPT RR
    // belongs in the additional section only (RFC 6891 6.1.1).
    RrView rr;
    for (uint16_t i = 0; i < nscount; ++i) {
        if (!read_rr(wire, pos, rr) || rr.type == type::OPT)
            return ParseStatus::formerr;
    }

    // Additional records: at most one OPT, owned by the root (RFC 6891
    // 6.1.1, 6.1.2). Others (e.g. TSIG) are skipped here.
    bool bad_version = false;
    for (uint16_t i = 0; i < arcount; ++i) {
        const size_t owner = pos;
        if (!read_rr(wire, pos, rr))
            return ParseStatus::formerr;
        if (rr.type == kTypeTsig && owner <= 0xffff)
            out.tsig_owner = static_cast<uint16_t>(owner);
        if (rr.type != type::OPT)
            continue;
        if (out.edns.present || rr.owner_len != 1)
            return ParseStatus::formerr;
        if (!read_opt(rr, out.edns))
            return ParseStatus::formerr;
        bad_version = out.edns.version != 0;
    }

    // Nothing may follow the last record counted in the header.
    if (pos != wire.size())
        return ParseStatus::formerr;
    // RFC 6891 6.1.3: a version we do not implement gets BADVERS.
    return bad_version ? ParseStatus::badvers : ParseStatus::ok;
}

bool read_name_at(std::span<const uint8_t> wire, size_t pos, Name& out)
{
    size_t next = 0, len = 0;
    if (!skip_name(wire, pos, next, len))
        return false;
    // skip_name() checked every label and pointer: follow them again.
    size_t n = 0;
    while (true) {
        const uint8_t b = wire[pos];
        if ((b & 0xC0) == 0xC0) {
            pos = (size_t{b & 0x3Fu} << 8) | wire[pos + 1];
            continue;
        }
        lower_copy(wire.data() + pos, out.wire.data() + n, size_t{1} + b);
        n += size_t{1} + b;
        pos += size_t{1} + b;
        if (b == 0)
            break;
    }
    out.len = static_cast<uint8_t>(n);
    return true;
}

// ---- response writing ----

ResponseBuilder::ResponseBuilder(std::span<uint8_t> buf, size_t limit)
    : buf_(buf), limit_(std::min({limit, buf.size(), kMaxMessage}))
{
}

void ResponseBuilder::reset()
{
    pos_ = 0;
    opt_room_ = 0;
    edns_ = false;
    do_bit_ = false;
    pad_block_ = 0;
    ext_rcode_ = 0;
    std::fill(std::begin(counts_), std::end(counts_), uint16_t{0});
    qname_ = {};
    opts_len_ = 0;
    begun_ = false;
    finished_ = false;
    section_ = kAn;
}

bool ResponseBuilder::write_header(const Query& q, uint8_t rcode)
{
    // RFC 1035 4.1.1: ID, OPCODE and RD are copied from the query; QR set;
    // RA set since we recurse. CD is copied (RFC 4035 3.2.2).
    put16(buf_, 0, q.id);
    buf_[2] = static_cast<uint8_t>(kFlagQr | ((q.opcode & 0x0F) << 3) | (q.rd ? kFlagRd : 0));
    buf_[3] = static_cast<uint8_t>(kFlagRa | (q.cd ? kFlagCd : 0));
    std::fill(buf_.begin() + 4, buf_.begin() + kHeaderSize, uint8_t{0});
    pos_ = kHeaderSize;
    begun_ = true;
    set_rcode(rcode);
    return true;
}

bool ResponseBuilder::begin(const Query& q, uint8_t rcode, size_t opt_reserve)
{
    reset();
    const size_t qlen = q.qname.len;
    if (qlen != 0 && count_labels(q.qname.view()) < 0)
        return false;
    const size_t question = qlen != 0 ? qlen + 4 : 0;
    const size_t room =
        q.edns.present ? kOptFixed + std::min(opt_reserve, opts_.size()) : 0;
    if (kHeaderSize + question + room > limit_)
        return false;
    write_header(q, rcode);
    edns_ = q.edns.present;
    do_bit_ = q.edns.do_bit;
    opt_room_ = room;
    if (qlen != 0) {
        // RFC 1035 4.1.2: the question as received, case preserved.
        std::memcpy(buf_.data() + pos_, q.qname.wire.data(), qlen);
        qname_ = std::span<const uint8_t>(buf_.data() + pos_, qlen);
        pos_ += qlen;
        put16(buf_, pos_, q.qtype);
        put16(buf_, pos_ + 2, q.qclass);
        pos_ += 4;
        counts_[kQd] = 1;
    }
    return true;
}

bool ResponseBuilder::begin_header_only(const Query& q, uint8_t rcode)
{
    reset();
    if (limit_ < kHeaderSize)
        return false;
    return write_header(q, rcode);
}

void ResponseBuilder::set_aa(bool on)
{
    if (!begun_)
        return;
    buf_[2] = static_cast<uint8_t>(on ? (buf_[2] | kFlagAa) : (buf_[2] & ~kFlagAa));
}

void ResponseBuilder::set_ad(bool on)
{
    if (!begun_)
        return;
    buf_[3] = static_cast<uint8_t>(on ? (buf_[3] | kFlagAd) : (buf_[3] & ~kFlagAd));
}

void ResponseBuilder::set_tc(bool on)
{
    if (!begun_)
        return;
    buf_[2] = static_cast<uint8_t>(on ? (buf_[2] | kFlagTc) : (buf_[2] & ~kFlagTc));
}

void ResponseBuilder::set_rcode(uint16_t rcode)
{
    if (!begun_)
        return;
    // RFC 6891 6.1.3: a 12-bit RCODE; the upper 8 bits go into the OPT TTL.
    buf_[3] = static_cast<uint8_t>((buf_[3] & 0xF0) | (rcode & 0x0F));
    ext_rcode_ = static_cast<uint16_t>((rcode >> 4) & 0xFF);
}

bool ResponseBuilder::add_rr(Section s, std::span<const uint8_t> owner, uint16_t rrtype,
                             uint16_t rrclass, uint32_t ttl, std::span<const uint8_t> rdata)
{
    if (!begun_ || finished_)
        return false;
    const uint8_t index = s == Section::answer      ? kAn
                          : s == Section::authority ? kNs
                                                    : kAr;
    // RFC 1035 4.1: sections follow each other; we cannot go back.
    if (index < section_ || counts_[index] == 0xFFFF)
        return false;
    if (rdata.size() > 0xFFFF)
        return false;
    // RFC 1035 4.1.4: the query name is at offset 12, point there. An owner
    // equal to it is a name begin() has checked; any other is checked here.
    const bool compress = !qname_.empty() && (owner.data() == qname_.data()
                                                  ? owner.size() == qname_.size()
                                                  : equal_ci(owner, qname_));
    if (!compress && count_labels(owner) < 0)
        return false;
    const size_t owner_len = compress ? 2 : owner.size();
    const size_t need = owner_len + kRrFixed + rdata.size();
    if (need > limit_ - pos_ - opt_room_)
        return false;
    if (compress) {
        put16(buf_, pos_, static_cast<uint16_t>(0xC000 | kHeaderSize));
    } else {
        std::memcpy(buf_.data() + pos_, owner.data(), owner.size());
    }
    pos_ += owner_len;
    put16(buf_, pos_, rrtype);
    put16(buf_, pos_ + 2, rrclass);
    put32(buf_, pos_ + 4, ttl);
    put16(buf_, pos_ + 8, static_cast<uint16_t>(rdata.size()));
    pos_ += kRrFixed;
    if (!rdata.empty())
        std::memcpy(buf_.data() + pos_, rdata.data(), rdata.size());
    pos_ += rdata.size();
    section_ = index;
    ++counts_[index];
    return true;
}

bool ResponseBuilder::add_option(uint16_t code, std::span<const uint8_t> data)
{
    if (!begun_ || finished_ || !edns_)
        return false;
    const size_t reserved = opt_room_ - kOptFixed;
    if (data.size() > reserved || kOptionHeader + data.size() > reserved - opts_len_)
        return false;
    // RFC 6891 6.1.2: {OPTION-CODE, OPTION-LENGTH, OPTION-DATA}.
    const std::span<uint8_t> opts(opts_);
    put16(opts, opts_len_, code);
    put16(opts, opts_len_ + 2, static_cast<uint16_t>(data.size()));
    if (!data.empty())
        std::memcpy(opts_.data() + opts_len_ + kOptionHeader, data.data(), data.size());
    opts_len_ += kOptionHeader + data.size();
    return true;
}

size_t ResponseBuilder::finish(uint16_t our_udp_size)
{
    if (!begun_)
        return 0;
    if (finished_)
        return pos_;
    if (edns_) {
        // RFC 6891 6.1.2: root owner, TYPE=OPT, CLASS=our UDP payload size
        // (never below 512, 6.2.5), TTL = EXTENDED-RCODE | VERSION 0 | DO
        // (copied from the query, RFC 3225 3) | Z. It fits: begin() kept
        // opt_room_ free, and add_option() stays inside it.
        buf_[pos_] = 0;
        put16(buf_, pos_ + 1, type::OPT);
        put16(buf_, pos_ + 3, std::max(our_udp_size, kMinUdpSize));
        const uint32_t ttl = (uint32_t{ext_rcode_} << 24) | (do_bit_ ? kEdnsDo : 0u);
        put32(buf_, pos_ + 5, ttl);
        // Padding goes last, after every other option (RFC 7830 3): its
        // zero octets make the whole message a multiple of the block.
        size_t pad = 0;
        if (pad_block_ > 1) {
            const size_t bare = pos_ + kOptFixed + opts_len_ + kOptionHeader;
            const size_t want = (bare + pad_block_ - 1) / pad_block_ * pad_block_;
            if (want <= limit_ && opts_len_ + kOptionHeader + (want - bare) <= 0xFFFF)
                pad = kOptionHeader + (want - bare);
        }
        put16(buf_, pos_ + 9, static_cast<uint16_t>(opts_len_ + pad));
        pos_ += kOptFixed;
        if (opts_len_ != 0)
            std::memcpy(buf_.data() + pos_, opts_.data(), opts_len_);
        pos_ += opts_len_;
        if (pad != 0) {
            put16(buf_, pos_, edns_opt::PADDING);
            put16(buf_, pos_ + 2, static_cast<uint16_t>(pad - kOptionHeader));
            std::memset(buf_.data() + pos_ + kOptionHeader, 0, pad - kOptionHeader);
            pos_ += pad;
        }
        ++counts_[kAr];
    }
    for (size_t i = 0; i < 4; ++i)
        put16(buf_, 4 + 2 * i, counts_[i]);
    finished_ = true;
    return pos_;
}


// ---- reading back what was written (answer hooks) ----

ResponseBuilder::Cursor ResponseBuilder::first_rr() const
{
    if (!begun_)
        return {pos_, 0};
    const size_t start =
        qname_.empty() ? kHeaderSize : static_cast<size_t>(qname_.data() - buf_.data()) + qname_.size() + 4;
    return {start, 0};
}

bool ResponseBuilder::next_rr(Cursor& c, WrittenRr& out) const
{
    const size_t total = size_t{counts_[kAn]} + counts_[kNs] + counts_[kAr];
    if (!begun_ || c.index >= total || c.pos >= pos_)
        return false;
    const std::span<const uint8_t> w(buf_.data(), pos_);
    size_t p = c.pos;
    // add_rr() writes an owner either in full or as a pointer to the question.
    if ((w[p] & 0xC0) == 0xC0) {
        if (p + 2 > w.size() || qname_.empty())
            return false;
        out.owner = qname_;
        p += 2;
    } else {
        const size_t start = p;
        while (p < w.size() && w[p] != 0)
            p += 1 + w[p];
        if (p >= w.size())
            return false;
        ++p;
        out.owner = w.subspan(start, p - start);
    }
    if (p + kRrFixed > w.size())
        return false;
    out.type = get16(w, p);
    out.klass = get16(w, p + 2);
    out.ttl = get32(w, p + 4);
    const size_t len = get16(w, p + 8);
    p += kRrFixed;
    if (p + len > w.size())
        return false;
    out.rdata = w.subspan(p, len);
    out.section = c.index < counts_[kAn]                  ? Section::answer
                  : c.index < size_t{counts_[kAn]} + counts_[kNs] ? Section::authority
                                                                  : Section::additional;
    c.pos = p + len;
    ++c.index;
    return true;
}

bool ResponseBuilder::rewrite_rdata(const WrittenRr& rr, std::span<const uint8_t> rdata)
{
    if (!begun_ || finished_ || rr.rdata.size() != rdata.size() || rr.rdata.data() < buf_.data() ||
        rr.rdata.data() + rr.rdata.size() > buf_.data() + pos_)
        return false;
    const size_t at = static_cast<size_t>(rr.rdata.data() - buf_.data());
    std::copy(rdata.begin(), rdata.end(), buf_.begin() + static_cast<std::ptrdiff_t>(at));
    return true;
}

void ResponseBuilder::erase_rr(const Cursor& at, const Cursor& next, Section s)
{
    if (finished_ || next.pos <= at.pos || next.pos > pos_)
        return;
    std::memmove(buf_.data() + at.pos, buf_.data() + next.pos, pos_ - next.pos);
    pos_ -= next.pos - at.pos;
    --counts_[s == Section::answer ? kAn : s == Section::authority ? kNs : kAr];
}

} // namespace kresd::dns
