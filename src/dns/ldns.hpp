// Thin RAII wrappers over ldns objects: each C handle lives in exactly one
// owning type, freed by its ldns destructor, never by hand.
//
//   Pkt     ldns_pkt*      ldns_pkt_free (frees its sections and records)
//   Rr      ldns_rr*       ldns_rr_free (frees its owner and rdata fields)
//   RrList  ldns_rr_list*  ldns_rr_list_deep_free (the list and its records)
//   Rdf     ldns_rdf*      ldns_rdf_deep_free
//   Buffer  ldns_buffer*   ldns_buffer_free
//   Bytes   uint8_t* from ldns (ldns_pkt2wire, ldns_*2wire)   free()
//   Text    char* from ldns (ldns_rr2str, ldns_rdf2str...)     free()
//   File    std::FILE* read by ldns_rr_new_frm_fp_l          fclose()
//   ParserNames  the $ORIGIN and previous-owner rdfs ldns keeps between
//           records while reading a zone file              ldns_rdf_deep_free
//
// Ownership moves into ldns on calls such as ldns_pkt_push_rr(): call
// release() on the wrapper then. Pointers obtained from accessors
// (ldns_pkt_answer(), ldns_rr_owner()...) are borrowed: they live as long as
// the object they were read from.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <ldns/ldns.h>

namespace kresd::dns::ldns {

struct PktFree {
    void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
struct RrFree {
    void operator()(ldns_rr* p) const { ldns_rr_free(p); }
};
struct RrListFree {
    void operator()(ldns_rr_list* p) const { ldns_rr_list_deep_free(p); }
};
struct RdfFree {
    void operator()(ldns_rdf* p) const { ldns_rdf_deep_free(p); }
};
struct BufferFree {
    void operator()(ldns_buffer* p) const { ldns_buffer_free(p); }
};
struct BytesFree {
    void operator()(uint8_t* p) const { std::free(p); }
};
struct TextFree {
    void operator()(char* p) const { std::free(p); }
};

using Pkt = std::unique_ptr<ldns_pkt, PktFree>;
using Rr = std::unique_ptr<ldns_rr, RrFree>;
using RrList = std::unique_ptr<ldns_rr_list, RrListFree>;
using Rdf = std::unique_ptr<ldns_rdf, RdfFree>;
using Buffer = std::unique_ptr<ldns_buffer, BufferFree>;
using Bytes = std::unique_ptr<uint8_t, BytesFree>;
using Text = std::unique_ptr<char, TextFree>; // from ldns_*2str

struct FileClose {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileClose>;

// ldns_rr_new_frm_fp_l() replaces these itself between records; the last
// ones are freed here.
struct ParserNames {
    ldns_rdf* origin = nullptr;
    ldns_rdf* prev = nullptr;
    ParserNames() = default;
    ParserNames(const ParserNames&) = delete;
    ParserNames& operator=(const ParserNames&) = delete;
    ~ParserNames() { const Rdf o(origin), p(prev); }
};

// Takes a string allocated by ldns (ldns_rr2str, ldns_rdf2str...).
inline std::string take_text(char* raw)
{
    const Text owned(raw);
    return raw != nullptr ? std::string(raw) : std::string();
}

// Parses a whole DNS message; nullopt when ldns refuses it (malformed,
// truncated, trailing garbage is tolerated by ldns).
inline std::optional<Pkt> parse(std::span<const uint8_t> wire)
{
    ldns_pkt* raw = nullptr;
    if (ldns_wire2pkt(&raw, wire.data(), wire.size()) != LDNS_STATUS_OK || raw == nullptr) {
        if (raw != nullptr)
            ldns_pkt_free(raw);
        return std::nullopt;
    }
    return Pkt(raw);
}

// Writes a packet to wire form (names compressed as ldns does it).
inline std::vector<uint8_t> to_wire(const ldns_pkt* pkt)
{
    uint8_t* raw = nullptr;
    size_t size = 0;
    if (ldns_pkt2wire(&raw, pkt, &size) != LDNS_STATUS_OK) {
        std::free(raw);
        return {};
    }
    const Bytes bytes(raw);
    return {raw, raw + size};
}

// One record from its presentation form ("example.com. 300 IN A 192.0.2.1");
// nullptr when ldns cannot read it.
inline Rr rr_from_text(const std::string& text)
{
    ldns_rr* raw = nullptr;
    if (ldns_rr_new_frm_str(&raw, text.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK) {
        if (raw != nullptr)
            ldns_rr_free(raw);
        return nullptr;
    }
    return Rr(raw);
}

// The wire bytes held by an rdf (a name is uncompressed wire form).
inline std::span<const uint8_t> rdf_bytes(const ldns_rdf* rdf)
{
    if (rdf == nullptr)
        return {};
    return {ldns_rdf_data(rdf), ldns_rdf_size(rdf)};
}

// A record's RDATA in wire form, names uncompressed and case preserved.
inline std::optional<std::vector<uint8_t>> rdata_wire(const ldns_rr* rr)
{
    const Buffer buf(ldns_buffer_new(64));
    if (!buf || ldns_rr_rdata2buffer_wire(buf.get(), rr) != LDNS_STATUS_OK)
        return std::nullopt;
    const uint8_t* begin = ldns_buffer_begin(buf.get());
    return std::vector<uint8_t>(begin, begin + ldns_buffer_position(buf.get()));
}

} // namespace kresd::dns::ldns
