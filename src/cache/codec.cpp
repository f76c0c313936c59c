#include "cache/codec.hpp"

#include <bit>
#include <cstring>

namespace kresd::cache::codec {

namespace {

void put_u8(std::vector<uint8_t>& out, uint8_t v) {
    out.push_back(v);
}
void put_u16(std::vector<uint8_t>& out, uint16_t v) {
    out.push_back(static_cast<uint8_t>(v));
    out.push_back(static_cast<uint8_t>(v >> 8));
}
void put_u32(std::vector<uint8_t>& out, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
    for (int i = 0; i < 8; ++i)
        out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_bytes(std::vector<uint8_t>& out, std::span<const uint8_t> b) {
    out.insert(out.end(), b.begin(), b.end());
}

// Bounds-checked little-endian reader over a span.
class Reader {
  public:
    explicit Reader(std::span<const uint8_t> s) : s_(s) {}
    bool u8(uint8_t& v) {
        if (left() < 1) return false;
        v = s_[pos_++];
        return true;
    }
    bool u16(uint16_t& v) {
        if (left() < 2) return false;
        v = static_cast<uint16_t>(s_[pos_] | (s_[pos_ + 1] << 8));
        pos_ += 2;
        return true;
    }
    bool u32(uint32_t& v) {
        if (left() < 4) return false;
        v = load_le<uint32_t>(s_.data() + pos_);
        pos_ += 4;
        return true;
    }
    bool bytes(size_t n, std::span<const uint8_t>& out) {
        if (left() < n) return false;
        out = s_.subspan(pos_, n);
        pos_ += n;
        return true;
    }
    size_t left() const { return s_.size() - pos_; }
    size_t pos() const { return pos_; }

  private:
    std::span<const uint8_t> s_;
    size_t pos_ = 0;
};

void put_header(const Header& h, std::vector<uint8_t>& out) {
    out.clear();
    put_u8(out, kVersion);
    put_u8(out, static_cast<uint8_t>(h.kind));
    put_u8(out, h.rank);
    put_u8(out, h.security);
    put_u64(out, h.expire);
    put_u32(out, h.ttl);
    put_u16(out, h.type);
}

void finish(std::vector<uint8_t>& out) {
    put_u32(out, checksum(out));
}

bool known_kind(uint8_t k) {
    return k == static_cast<uint8_t>(keys::Kind::rrset) ||
           k == static_cast<uint8_t>(keys::Kind::nodata) ||
           k == static_cast<uint8_t>(keys::Kind::nxdomain);
}

} // namespace

uint32_t checksum(std::span<const uint8_t> bytes) {
    // Eight bytes a step (a byte-wise hash was a tenth of a cache hit's
    // instructions): xor a little-endian word in, multiply by an odd
    // constant, fold the high half down; the length seeds it, so values
    // that differ only by trailing zero bytes differ.
    constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
    uint64_t h = 0x6A09E667F3BCC909ull ^ (bytes.size() * kMul);
    auto mix = [&](uint64_t w) {
        h ^= w;
        h *= kMul;
        h ^= h >> 29;
    };
    auto word = [](const uint8_t* p, size_t n) { // n <= 8 bytes, little-endian
        uint64_t w = 0;
        std::memcpy(&w, p, n);
        if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
        return w;
    };
    size_t i = 0;
    for (; i + 8 <= bytes.size(); i += 8) mix(word(bytes.data() + i, 8));
    if (i < bytes.size()) mix(word(bytes.data() + i, bytes.size() - i));
    h *= kMul;
    return static_cast<uint32_t>(h >> 32) ^ static_cast<uint32_t>(h);
}

bool encode_rrset(const Header& h, const std::vector<std::span<const uint8_t>>& rdatas,
                  std::vector<uint8_t>& out, const std::vector<std::span<const uint8_t>>& sigs) {
    if (rdatas.empty() || rdatas.size() > 0xffff || sigs.size() > 0xffff) return false;
    size_t total = kHeaderSize + 4 + kChecksumSize;
    for (const auto& rd : rdatas) {
        if (rd.size() > 0xffff) return false;
        total += 2 + rd.size();
    }
    for (const auto& rd : sigs) {
        if (rd.size() > 0xffff) return false;
        total += 2 + rd.size();
    }
    Header hh = h;
    hh.kind = keys::Kind::rrset;
    out.reserve(total);
    put_header(hh, out);
    put_u16(out, static_cast<uint16_t>(rdatas.size()));
    for (const auto& rd : rdatas) {
        put_u16(out, static_cast<uint16_t>(rd.size()));
        put_bytes(out, rd);
    }
    put_u16(out, static_cast<uint16_t>(sigs.size()));
    for (const auto& rd : sigs) {
        put_u16(out, static_cast<uint16_t>(rd.size()));
        put_bytes(out, rd);
    }
    finish(out);
    return true;
}

bool encode_negative(const Header& h, std::span<const uint8_t> soa_owner,
                     std::span<const uint8_t> soa_rdata, std::vector<uint8_t>& out,
                     std::span<const dns::Record> proof) {
    if (h.kind == keys::Kind::rrset) return false;
    if (!soa_owner.empty() && !keys::valid_name(soa_owner)) return false;
    if (soa_rdata.size() > 0xffff || proof.size() > 0xffff) return false;
    for (const auto& rr : proof)
        if (rr.rdata.size() > 0xffff || !keys::valid_name(rr.owner.view())) return false;
    out.reserve(kHeaderSize + 1 + soa_owner.size() + 2 + soa_rdata.size() + kChecksumSize);
    put_header(h, out);
    put_u8(out, static_cast<uint8_t>(soa_owner.size()));
    put_bytes(out, soa_owner);
    put_u16(out, static_cast<uint16_t>(soa_rdata.size()));
    put_bytes(out, soa_rdata);
    put_u16(out, static_cast<uint16_t>(proof.size()));
    for (const auto& rr : proof) {
        put_u8(out, rr.owner.len);
        put_bytes(out, rr.owner.view());
        put_u16(out, rr.type);
        put_u32(out, rr.ttl);
        put_u16(out, static_cast<uint16_t>(rr.rdata.size()));
        put_bytes(out, rr.rdata);
    }
    finish(out);
    return true;
}

bool decode(std::span<const uint8_t> value, Decoded& out) {
    if (value.size() < kHeaderSize + kChecksumSize) return false;
    const auto body = value.first(value.size() - kChecksumSize);
    if (load_le<uint32_t>(body.data() + body.size()) != checksum(body)) return false;

    // The fixed header is there (size checked above): read it in place.
    const uint8_t* p = body.data();
    const uint8_t version = p[0], kind = p[1], rank = p[2], flags = p[3];
    if (version != kVersion || flags > 3 || !known_kind(kind)) return false;
    Header h;
    h.kind = static_cast<keys::Kind>(kind);
    h.rank = rank;
    h.expire = load_le<uint64_t>(p + 4);
    h.ttl = load_le<uint32_t>(p + 12);
    h.type = load_le<uint16_t>(p + 16);
    h.security = flags;
    out = Decoded{};
    out.h = h;
    Reader r(body.subspan(kHeaderSize));

    if (h.kind == keys::Kind::rrset) {
        if (rank < 1 || rank > 4) return false;
        if (!r.u16(out.rdata_count) || out.rdata_count == 0) return false;
        const size_t list_start = kHeaderSize + r.pos();
        for (unsigned i = 0; i < out.rdata_count; ++i) {
            uint16_t len = 0;
            std::span<const uint8_t> rd;
            if (!r.u16(len) || !r.bytes(len, rd)) return false;
        }
        out.rdata_list = body.subspan(list_start, kHeaderSize + r.pos() - list_start);
        if (!r.u16(out.sig_count)) return false;
        const size_t sigs_start = kHeaderSize + r.pos();
        for (unsigned i = 0; i < out.sig_count; ++i) {
            uint16_t len = 0;
            std::span<const uint8_t> rd;
            if (!r.u16(len) || !r.bytes(len, rd)) return false;
        }
        out.sig_list = body.subspan(sigs_start, kHeaderSize + r.pos() - sigs_start);
    } else {
        if (rank != 0) return false;
        if (h.kind == keys::Kind::nxdomain && h.type != 0) return false;
        uint8_t olen = 0;
        uint16_t rlen = 0;
        if (!r.u8(olen) || !r.bytes(olen, out.soa_owner)) return false;
        if (olen != 0 && !keys::valid_name(out.soa_owner)) return false;
        if (!r.u16(rlen) || !r.bytes(rlen, out.soa_rdata)) return false;
        if (!r.u16(out.proof_count)) return false;
        const size_t proof_start = kHeaderSize + r.pos();
        for (unsigned i = 0; i < out.proof_count; ++i) {
            uint8_t nlen = 0;
            uint16_t type = 0, len = 0;
            uint32_t ttl = 0;
            std::span<const uint8_t> owner, rd;
            if (!r.u8(nlen) || !r.bytes(nlen, owner) || !keys::valid_name(owner) ||
                !r.u16(type) || !r.u32(ttl) || !r.u16(len) || !r.bytes(len, rd))
                return false;
        }
        out.proof_list = body.subspan(proof_start, kHeaderSize + r.pos() - proof_start);
    }
    return r.left() == 0;
}

bool RdataIter::next(std::span<const uint8_t>& rdata) {
    if (left_ == 0) return false;
    Reader r(rest_);
    uint16_t len = 0;
    if (!r.u16(len) || !r.bytes(len, rdata)) {
        left_ = 0;
        return false;
    }
    rest_ = rest_.subspan(r.pos());
    --left_;
    return true;
}

bool ProofIter::next(dns::Record& rr) {
    if (left_ == 0) return false;
    Reader r(rest_);
    uint8_t nlen = 0;
    uint16_t len = 0;
    std::span<const uint8_t> owner, rd;
    if (!r.u8(nlen) || !r.bytes(nlen, owner) || !r.u16(rr.type) || !r.u32(rr.ttl) ||
        !r.u16(len) || !r.bytes(len, rd) || owner.size() > rr.owner.wire.size()) {
        left_ = 0;
        return false;
    }
    std::memcpy(rr.owner.wire.data(), owner.data(), owner.size());
    rr.owner.len = static_cast<uint8_t>(owner.size());
    rr.klass = 1; // the cache holds class IN only
    rr.rdata.assign(rd.begin(), rd.end());
    rest_ = rest_.subspan(r.pos());
    --left_;
    return true;
}

} // namespace kresd::cache::codec
