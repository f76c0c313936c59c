// Trust anchors and negative trust anchors (see anchors.hpp). Records are
// read with ldns's zone-file parser; everything else is ours.
#include "dnssec/anchors.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "dns/ldns.hpp"
#include "dns/zone_file.hpp"
#include "dnssec/internal.hpp"

namespace kresd::dnssec {

namespace {

// RFC 4034 2.1, 5.1: the fixed fields and something after them.
bool rdata_ok(const dns::Record& rr) {
    if (rr.type == dns::type::DS) return rr.rdata.size() > 4;
    if (rr.type == dns::type::DNSKEY) return rr.rdata.size() > 4 && rr.rdata[2] == 3; // protocol 3
    return false;
}


} // namespace

TrustAnchors TrustAnchors::with_root_defaults() {
    TrustAnchors t;
    // IANA root-anchors.xml: KSK-2017 and KSK-2024.
    t.add_text(
        ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D");
    t.add_text(
        ". IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16");
    return t;
}

std::optional<std::string> TrustAnchors::add_text(std::string_view text) {
    const std::string line(text);
    ldns_rr* raw = nullptr;
    const ldns_status st = ldns_rr_new_frm_str(&raw, line.c_str(), 0, nullptr, nullptr);
    const dns::ldns::Rr rr(raw);
    if (st != LDNS_STATUS_OK || !rr)
        return std::string("cannot parse the record: ") + ldns_get_errorstr_by_id(st);
    auto rec = detail::record_from_ldns(rr.get());
    if (!rec) return std::string("cannot read the record");
    if (const char* why = detail::check_key_record(*rec)) return std::string(why);
    add(*rec);
    return std::nullopt;
}

bool TrustAnchors::add(const dns::Record& rr) {
    if (detail::check_key_record(rr) != nullptr) return false;
    dns::Record r = rr;
    dns::name_lower(r.owner);
    auto it = std::find_if(anchors_.begin(), anchors_.end(),
                           [&](const Anchor& a) { return detail::name_equal(a.zone, r.owner); });
    if (it == anchors_.end()) {
        anchors_.push_back(Anchor{r.owner, {}, {}});
        it = anchors_.end() - 1;
    }
    auto& list = r.type == dns::type::DS ? it->ds : it->keys;
    const bool dup = std::any_of(list.begin(), list.end(),
                                 [&](const dns::Record& o) { return o.rdata == r.rdata; });
    if (!dup) list.push_back(std::move(r));
    ++generation_;
    return true;
}

std::optional<std::string> TrustAnchors::add_file(const std::string& path) {
    const dns::ldns::File f(std::fopen(path.c_str(), "r"));
    if (!f) return path + ":0: cannot open: " + std::strerror(errno);
    std::vector<dns::Record> found;
    int lines = 0;
    auto err = dns::read_zone_file(f.get(), path, nullptr, 3600,
                                   [&](const ldns_rr* rr, int) -> std::string {
                                       auto rec = detail::record_from_ldns(rr);
                                       if (!rec) return "cannot read the record";
                                       if (const char* why = detail::check_key_record(*rec))
                                           return why;
                                       found.push_back(std::move(*rec));
                                       return {};
                                   },
                                   &lines);
    if (err) return err;
    if (found.empty()) return path + ":" + std::to_string(lines) + ": no DS or DNSKEY records";
    for (const auto& rr : found)
        add(rr);
    return std::nullopt;
}

bool TrustAnchors::remove(const dns::Name& name) {
    const auto it = std::find_if(anchors_.begin(), anchors_.end(),
                                 [&](const Anchor& a) { return detail::name_equal(a.zone, name); });
    if (it == anchors_.end()) return false;
    anchors_.erase(it);
    ++generation_;
    return true;
}

void TrustAnchors::clear() {
    anchors_.clear();
    ++generation_;
}

const Anchor* TrustAnchors::closest(const dns::Name& name) const {
    const Anchor* best = nullptr;
    for (const Anchor& a : anchors_)
        if (dns::name_in_zone(name.view(), a.zone.view()) &&
            (best == nullptr || a.zone.len > best->zone.len))
            best = &a;
    return best;
}

const Anchor* TrustAnchors::find(const dns::Name& zone) const {
    for (const Anchor& a : anchors_)
        if (detail::name_equal(a.zone, zone)) return &a;
    return nullptr;
}

void TrustAnchors::set_negative(std::vector<dns::Name> names) {
    for (auto& n : names)
        dns::name_lower(n);
    negative_ = std::move(names);
    ++generation_;
}

bool TrustAnchors::is_negative(const dns::Name& name) const {
    return std::any_of(negative_.begin(), negative_.end(), [&](const dns::Name& n) {
        return dns::name_in_zone(name.view(), n.view());
    });
}

std::optional<dns::Record> detail::record_from_ldns(const ldns_struct_rr* rr) {
    dns::Record out;
    const auto owner = dns::ldns::rdf_bytes(ldns_rr_owner(rr));
    size_t pos = 0;
    if (!detail::read_name(owner, pos, out.owner) || pos != owner.size()) return std::nullopt;
    out.type = static_cast<uint16_t>(ldns_rr_get_type(rr));
    out.klass = static_cast<uint16_t>(ldns_rr_get_class(rr));
    out.ttl = ldns_rr_ttl(rr);
    auto rdata = dns::ldns::rdata_wire(rr);
    if (!rdata) return std::nullopt;
    out.rdata = std::move(*rdata);
    return out;
}

const char* detail::check_key_record(const dns::Record& rr) {
    if (rr.type != dns::type::DS && rr.type != dns::type::DNSKEY)
        return "not a DS or DNSKEY record";
    if (rr.klass != dns::klass::IN) return "not of class IN";
    if (!rdata_ok(rr)) return "malformed rdata";
    return nullptr;
}

} // namespace kresd::dnssec
