// Trust anchors (RFC 4033 3, Knot Resolver 5's trust_anchors table) and
// negative trust anchors (RFC 7646).
//
// An anchor is a zone with DS records and/or DNSKEY records that are
// trusted without a parent. A name is validated from the closest anchor at
// or above it; with none, it is insecure. A negative trust anchor (NTA)
// makes its name and everything below it insecure, whatever the anchors.
//
// Single-threaded. The resolver reads the set on every request; the Lua
// bindings change it (at start and from the control socket). generation()
// grows with every change, so a reader can tell that what it derived from
// the anchors (validated keys) may be stale.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/record.hpp"

namespace kresd::dnssec {

struct Anchor {
    dns::Name zone;                // lower-cased
    std::vector<dns::Record> ds;   // DS records
    std::vector<dns::Record> keys; // DNSKEY records
};

class TrustAnchors {
public:
    // The built-in root anchors: the DS records of the root KSK-2017 (key
    // tag 20326) and KSK-2024 (key tag 38696), digest type 2.
    static TrustAnchors with_root_defaults();

    // One record in zone-file presentation form: "owner [TTL] [class] DS|DNSKEY rdata".
    // Returns an error text (nothing on success); the record is added to
    // the anchor of its owner.
    std::optional<std::string> add_text(std::string_view text);
    // A DS or DNSKEY record; false for any other type.
    bool add(const dns::Record& rr);
    // Reads a zone file (DS and/or DNSKEY records; $ORIGIN/$TTL, comments
    // and blank lines allowed). Returns "PATH:LINE: why" for a missing,
    // unreadable or malformed file, or when it holds no DS/DNSKEY; adds
    // nothing then.
    std::optional<std::string> add_file(const std::string& path);
    // Removes the anchor of `name`; false when there was none.
    bool remove(const dns::Name& name);
    void clear();

    // The closest anchor at or above `name` (case-insensitive), or null.
    const Anchor* closest(const dns::Name& name) const;
    const Anchor* find(const dns::Name& zone) const;
    const std::vector<Anchor>& all() const { return anchors_; }

    // Negative trust anchors: replaces the list (empty: none).
    void set_negative(std::vector<dns::Name> names);
    const std::vector<dns::Name>& negative() const { return negative_; }
    // Is `name` at or below a negative trust anchor?
    bool is_negative(const dns::Name& name) const;

    uint64_t generation() const { return generation_; }

private:
    std::vector<Anchor> anchors_;
    std::vector<dns::Name> negative_;
    uint64_t generation_ = 1;
};

} // namespace kresd::dnssec
