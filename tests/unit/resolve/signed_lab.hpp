// A DNSSEC-signed lab (lab.hpp) for the validation tests: the zones of
// the base hierarchy (root, com., example.com.) signed with ECDSA P-256
// keys made with ldns (tests/unit/dnssec/sign_helpers.hpp), an NSEC chain
// in each, the DS of every signed child in its parent, and the root's DS
// as the only trust anchor.
//
//   SignedLab lab;               // keys chosen, nothing signed yet
//   lab.add("example.com.", {...});   // change the zones first
//   lab.sign();                  // then sign, leaf zones first
//   auto r = lab.resolve_do("www.example.com.", "A");
//   CHECK(r.ad);
//
// Signing reads the zones as they are when sign() runs: records added
// afterwards are unsigned (tests use that, or resign()/unsign(), to break
// one RRset). The lab answers with the RRSIGs, DS and NSEC records only
// queries that carry DO (Lab::add_dnssec); show_do marks them in sent().
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dnssec/anchors.hpp"
#include "dnssec/sign_helpers.hpp"
#include "lab.hpp"
#include "resolve/names.hpp"

namespace kresd::resolve::test {

using dnssec::test::TestKey;

// "owner TTL IN TYPE rdata" of a record, without ldns's comments.
inline std::string rr_text(const dns::Record& r) {
    const dns::ldns::Rr rr = dnssec::test::to_ldns(r);
    std::string text =
        dns::ldns::take_text(ldns_rr2str_fmt(ldns_output_format_nocomments, rr.get()));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    return text;
}

// RRSIG validity, wall-clock seconds.
struct Validity {
    uint32_t inception = 0, expiration = 0;
};

class SignedLab : public Lab {
  public:
    // The zone keys (one key, flags 257, signs each zone: a CSK). Zones of
    // `keys` are signed by sign(); add a key to sign another zone.
    std::map<std::string, TestKey> keys;
    // The DS put in the parent for a zone, when it should not be its key's.
    std::map<std::string, TestKey> ds_keys;
    std::shared_ptr<dnssec::TrustAnchors> anchors = std::make_shared<dnssec::TrustAnchors>();
    Validity validity;

    SignedLab() {
        for (const char* z : {".", "com.", "example.com."})
            keys[z] = dnssec::test::cached_key(z, LDNS_SIGN_ECDSAP256SHA256);
        const auto now = static_cast<uint32_t>(wall_s);
        validity = {now - 3600, now + 30 * 86400};
        show_do = true;
        config.anchors = anchors;
    }

    // Signs the zones of `keys`, deepest first, putting each one's DS in
    // its parent zone before the parent is signed; the root's DS becomes
    // the trust anchor.
    void sign() {
        std::vector<std::string> order;
        for (const auto& [apex, key] : keys)
            order.push_back(apex);
        std::sort(order.begin(), order.end(), [](const std::string& a, const std::string& b) {
            return names::labels(name_of(a)) > names::labels(name_of(b));
        });
        for (const std::string& apex : order) {
            sign_zone(apex, keys.at(apex));
            const auto dsk = ds_keys.find(apex);
            const dns::Record ds = ds_of(apex, dsk != ds_keys.end() ? dsk->second : keys.at(apex));
            if (apex == ".") {
                REQUIRE(anchors->add(ds));
            } else {
                add(parent_zone(apex), {rr_text(ds)});
            }
        }
    }

    // The records of a zone as dns::Records.
    std::vector<dns::Record> records(const std::string& apex) const {
        std::vector<dns::Record> out;
        for (const ZoneRec& z : zones.at(apex))
            out.push_back(dnssec::test::rec(z.text));
        return out;
    }

    // The RRset (owner, type) of a zone.
    std::vector<dns::Record> rrset(const std::string& apex, const std::string& owner,
                                   uint16_t type) const {
        std::vector<dns::Record> out;
        for (const dns::Record& r : records(apex)) {
            if (r.type == type && names::equal(r.owner, name_of(owner))) out.push_back(r);
        }
        return out;
    }

    // Removes the RRSIGs over (owner, type) from a zone.
    void unsign(const std::string& apex, const std::string& owner, uint16_t type) {
        auto& recs = zones.at(apex);
        const dns::Name o = name_of(owner);
        std::erase_if(recs, [&](const ZoneRec& z) {
            return z.type == dns::type::RRSIG && z.covered == type && names::equal(z.owner, o);
        });
    }

    // Signs (owner, type) again with other validity dates.
    void resign(const std::string& apex, const std::string& owner, uint16_t type, Validity v) {
        unsign(apex, owner, type);
        const auto set = rrset(apex, owner, type);
        REQUIRE_FALSE(set.empty());
        add(apex, {rr_text(dnssec::test::sign(set, keys.at(apex), v.inception, v.expiration))});
    }

    Result resolve_do(const std::string& name, const std::string& type, ClientFlags f = {true}) {
        f.do_bit = true;
        return resolve(name, type, {}, 65535, f);
    }

    static dns::Record ds_of(const std::string& apex, const TestKey& key) {
        dns::Record ds;
        ds.owner = name_of(apex);
        ds.type = dns::type::DS;
        ds.klass = dns::klass::IN;
        ds.ttl = 3600;
        ds.rdata = dnssec::make_ds(ds.owner, key.dnskey.rdata, 2);
        return ds;
    }

  private:
    std::string parent_zone(const std::string& apex) const {
        const dns::Name child = name_of(apex);
        std::string best;
        int best_labels = -1;
        for (const auto& [z, recs] : zones) {
            const dns::Name n = name_of(z);
            if (names::below(child, n) && names::labels(n) > best_labels) {
                best = z;
                best_labels = names::labels(n);
            }
        }
        REQUIRE(best_labels >= 0);
        return best;
    }

    // RFC 4035 2: the DNSKEY RRset at the apex, an NSEC chain over the
    // authoritative names (delegation points included), and an RRSIG over
    // every authoritative RRset (not the NS RRsets of delegations, not glue).
    void sign_zone(const std::string& apex, const TestKey& key) {
        const dns::Name zone = name_of(apex);
        dns::Record dnskey = key.dnskey;
        dnskey.owner = zone;
        add(apex, {rr_text(dnskey)});
        const std::vector<dns::Record> all = records(apex);
        std::vector<dns::Name> cuts;
        for (const dns::Record& r : all) {
            if (r.type == dns::type::NS && !names::equal(r.owner, zone))
                cuts.push_back(names::lower(r.owner));
        }
        // At a cut only DS (and NSEC) belong to this zone; below it, nothing.
        auto authoritative = [&](const dns::Record& r) {
            for (const dns::Name& c : cuts) {
                if (names::below(r.owner, c)) return false;
                if (names::equal(r.owner, c) && r.type != dns::type::DS &&
                    r.type != dns::type::NSEC)
                    return false;
            }
            return true;
        };
        // The NSEC chain: owners and their types (RRSIG and NSEC everywhere).
        std::vector<std::pair<dns::Name, std::vector<uint16_t>>> owners;
        for (const dns::Record& r : all) {
            const bool at_cut = std::any_of(cuts.begin(), cuts.end(), [&](const dns::Name& c) {
                return names::equal(c, r.owner);
            });
            if (!authoritative(r) && !(at_cut && r.type == dns::type::NS)) continue;
            auto it = std::find_if(owners.begin(), owners.end(),
                                   [&](const auto& o) { return names::equal(o.first, r.owner); });
            if (it == owners.end()) {
                owners.push_back({names::lower(r.owner), {}});
                it = owners.end() - 1;
            }
            if (std::find(it->second.begin(), it->second.end(), r.type) == it->second.end())
                it->second.push_back(r.type);
        }
        dnssec::test::NameTypes chain;
        for (const auto& [owner, types] : owners) {
            std::string bitmap;
            for (uint16_t t : types)
                bitmap += type_name(t) + " ";
            chain.emplace_back(names::text(owner), bitmap + "RRSIG NSEC");
        }
        lines added;
        for (const dns::Record& n : dnssec::test::nsec_chain(chain))
            added.push_back(rr_text(n));
        add(apex, added);
        // One RRSIG per authoritative RRset.
        std::vector<std::vector<dns::Record>> sets;
        for (const dns::Record& r : records(apex)) {
            if (r.type == dns::type::RRSIG || !authoritative(r)) continue;
            auto it = std::find_if(sets.begin(), sets.end(), [&](const auto& s) {
                return s.front().type == r.type && names::equal(s.front().owner, r.owner);
            });
            if (it == sets.end())
                sets.push_back({r});
            else
                it->push_back(r);
        }
        lines sigs;
        for (const auto& set : sets)
            sigs.push_back(
                rr_text(dnssec::test::sign(set, key, validity.inception, validity.expiration)));
        add(apex, sigs);
    }
};

} // namespace kresd::resolve::test
