// DNSSEC in the request (RFC 4035 5): between classify() (what a reply
// claims) and the apply_* steps (what is used and cached), check_reply()
// judges every RRset the verdict uses with the keys of the zone that
// signed it, and the NSEC/NSEC3 proof of a denial or of a delegation
// without DS. The judgements themselves are src/dnssec's; this file finds
// the keys.
//
// Keys come from the chain of trust, walked lazily: a zone's status is
// known from the trust anchors and NTAs, from a referral this request
// validated (its DS, or the proof that there is none), or from the cache
// (a secure DNSKEY or DS RRset, or a DS NODATA). When a reply needs the
// keys of a zone whose status is unknown, the request pushes a DS
// sub-goal for it (asked of the parent's servers like any question, and
// validated with the parent's keys, which may need their own sub-goal);
// when only the keys are missing, a DNSKEY sub-goal. The reply waiting for
// them is dropped and its question asked again once they are known:
// simpler than parking it, and each zone's keys are fetched once per
// request and then cached.
//
// Forwarded answers (FORWARD, TLS_FORWARD) are validated the same way:
// the DS and DNSKEY sub-goals go to the forwarder too, and unsigned data
// is proven insecure by following DS from the closest secure zone down to
// it (find_insecure_cut()), as for child zones served by their parent's
// servers. STUB answers are not validated (as in Knot Resolver).
#include <algorithm>

#include "resolve/names.hpp"
#include "resolve/request_impl.hpp"

namespace kresd::resolve {
namespace {

uint16_t covered_type(const Record& sig)
{
    return sig.rdata.size() >= 2 ? static_cast<uint16_t>((sig.rdata[0] << 8) | sig.rdata[1]) : 0;
}

// Splits records into RRsets (owner and type), in order of first appearance.
std::vector<std::vector<const Record*>> group(const std::vector<const Record*>& rrs)
{
    std::vector<std::vector<const Record*>> out;
    for (const Record* r : rrs) {
        auto it = std::find_if(out.begin(), out.end(), [&](const auto& set) {
            return set.front()->type == r->type && names::equal(set.front()->owner, r->owner);
        });
        if (it == out.end())
            out.push_back({r});
        else
            it->push_back(r);
    }
    return out;
}

// The RRSIGs in `section` that may cover (owner, type).
std::vector<const Record*> sigs_for(const std::vector<Record>& section, const dns::Name& owner,
                                    uint16_t type)
{
    std::vector<const Record*> out;
    for (const Record& r : section) {
        if (r.type == dns::type::RRSIG && covered_type(r) == type && names::equal(r.owner, owner))
            out.push_back(&r);
    }
    return out;
}

std::vector<Record> copy_records(const std::vector<std::vector<uint8_t>>& rdatas,
                                 const dns::Name& owner, uint16_t type, uint32_t ttl)
{
    std::vector<Record> out;
    for (const auto& rd : rdatas)
        out.push_back({owner, type, dns::klass::IN, ttl, rd});
    return out;
}

} // namespace

const SetVerdict* ReplyCheck::find(const dns::Name& owner, uint16_t type) const
{
    for (const SetVerdict& s : sets) {
        if (s.type == type && names::equal(s.owner, owner))
            return &s;
    }
    return nullptr;
}

bool Request::Impl::validating() const
{
    return res.validates(opts, goals.front().qclass);
}

ZoneSec* Request::Impl::known_zone(const dns::Name& zone)
{
    for (ZoneSec& z : zones) {
        if (names::equal(z.zone, zone))
            return &z;
    }
    return nullptr;
}

ZoneSec& Request::Impl::zone_entry(const dns::Name& zone)
{
    if (ZoneSec* z = known_zone(zone))
        return *z;
    zones.push_back({});
    zones.back().zone = names::lower(zone);
    return zones.back();
}

ZoneSec* Request::Impl::zone_sec(const dns::Name& zone_in)
{
    const dns::Name zone = names::lower(zone_in);
    if (ZoneSec* z = known_zone(zone))
        return z;
    const dnssec::TrustAnchors& ta = *res.config().anchors;
    ZoneSec z;
    z.zone = zone;
    const dnssec::Anchor* a = ta.closest(zone);
    if (ta.is_negative(zone)) {
        z.sec = Security::insecure;
        z.why = "negative trust anchor";
    } else if (a == nullptr) {
        z.sec = Security::insecure;
        z.why = "no trust anchor";
    } else if (names::equal(a->zone, zone)) {
        z.sec = Security::secure;
        z.ds = a->ds;
        z.anchor_keys = a->keys;
    } else {
        if (!cache_enabled())
            return nullptr;
        cache::Cache* c = res.cache();
        const uint64_t now = now_s();
        if (auto k = c->get_rrset(zone.view(), dns::type::DNSKEY, now);
            k && k->security == Security::secure) {
            z.sec = Security::secure;
            z.keys = copy_records(k->rdatas, zone, dns::type::DNSKEY, k->ttl);
            z.have_keys = true;
        } else if (auto d = c->get_rrset(zone.view(), dns::type::DS, now);
                   d && d->security == Security::secure) {
            z.sec = Security::secure;
            z.ds = copy_records(d->rdatas, zone, dns::type::DS, d->ttl);
        } else if (auto n = c->get_negative(zone.view(), dns::type::DS, now);
                   n && !n->nxdomain &&
                   (n->security == Security::secure || n->security == Security::insecure)) {
            // A validated DS NODATA: an insecure delegation when its proof
            // shows one (NS without DS, or an opt-out span), else a name
            // inside its parent's zone.
            bool delegation = n->security == Security::insecure;
            if (!delegation) {
                dns::Name signer;
                for (const Record& r : n->proof) {
                    if (r.type != dns::type::RRSIG)
                        continue;
                    if (auto info = dnssec::parse_rrsig(r.rdata)) {
                        signer = info->signer;
                        break;
                    }
                }
                delegation = signer.len > 0 &&
                             dnssec::prove_no_ds(zone, signer, n->proof, res.config().dnssec_limits)
                                     .status != Security::bogus;
            }
            if (delegation) {
                z.sec = Security::insecure;
                z.why = "no DS (cached)";
            } else {
                z.not_cut = true;
            }
        } else {
            return nullptr;
        }
    }
    zones.push_back(std::move(z));
    return &zones.back();
}

void Request::Impl::push_key_goal(Goal& g, const dns::Name& zone, uint16_t qtype)
{
    Goal sub;
    sub.sname = names::lower(zone);
    sub.qtype = qtype;
    sub.qclass = dns::klass::IN;
    sub.purpose = qtype == dns::type::DS ? Purpose::ds : Purpose::dnskey;
    REQ_LOG("DNSSEC: fetching %s of '%s'", qtype == dns::type::DS ? "DS" : "DNSKEY",
        names::text(zone).c_str());
    g.state = GoalState::await_subgoal;
    goals.push_back(std::move(sub)); // `g` is invalid from here on
}

Request::Impl::KeyState Request::Impl::need_keys(Goal& g, const dns::Name& zone, ZoneSec*& out)
{
    out = zone_sec(zone);
    uint16_t qtype = dns::type::DS;
    if (out != nullptr) {
        if (out->not_cut) {
            // Signed by a name that is no zone: cannot be.
            return KeyState::bogus;
        }
        switch (out->sec) {
        case Security::insecure: return KeyState::insecure;
        case Security::bogus: return KeyState::bogus;
        default: break;
        }
        if (out->have_keys)
            return KeyState::ready;
        qtype = dns::type::DNSKEY;
    }
    // A goal that already waits for this would wait for itself.
    const bool looping = std::any_of(goals.begin(), goals.end(), [&](const Goal& o) {
        return o.purpose != Purpose::client && o.qtype == qtype && names::equal(o.sname, zone);
    });
    if (looping || goals.size() >= kMaxKeyGoalDepth) {
        if (out == nullptr)
            out = &zone_entry(zone);
        out->sec = Security::bogus;
        out->ede = dnssec::ede::DNSKEY_MISSING;
        out->why = looping ? "keys depend on themselves" : "limit: DNSSEC sub-request depth";
        return KeyState::bogus;
    }
    push_key_goal(g, zone, qtype);
    return KeyState::pending;
}

Request::Impl::KeyState Request::Impl::find_insecure_cut(Goal& g, const dns::Name& from,
                                                         const dns::Name& name)
{
    // RFC 4035 5.2: a zone below a secure one is insecure only where a
    // validated answer says its delegation has no DS. Each name between
    // `from` and `name`, from the top: a secure DS goes on (a signed zone
    // in between), "no NS here" goes on, a delegation without DS ends it.
    const int top = names::labels(from), bottom = names::labels(name);
    for (int n = top + 1; n <= bottom; ++n) {
        const dns::Name step = names::suffix(name, n);
        ZoneSec* z = zone_sec(step);
        if (z == nullptr) {
            ZoneSec* ignored = nullptr;
            return need_keys(g, step, ignored); // pushes the DS goal (or reports a loop)
        }
        if (z->not_cut || z->sec == Security::secure)
            continue;
        return z->sec == Security::insecure ? KeyState::insecure : KeyState::bogus;
    }
    return KeyState::bogus; // signed all the way down: the signatures are missing
}

// A DS or DNSKEY sub-goal ended: what it found is the zone's status now.
void Request::Impl::key_goal_done(const Goal& sub)
{
    ZoneSec* z = &zone_entry(sub.sname);
    auto fail = [&](const char* why) {
        z->sec = Security::bogus;
        z->ede = sub.outcome == Outcome::failed && sub.ede_code != ede::OTHER &&
                         sub.ede_code != ede::NO_REACHABLE_AUTHORITY
                     ? sub.ede_code
                     : dnssec::ede::DNSKEY_MISSING;
        z->why = sub.ede_text.empty() ? why : sub.ede_text;
    };
    std::vector<Record> rrs;
    for (const AnswerRr& a : sub.final_rrs)
        rrs.push_back({a.owner, a.type, a.klass, a.ttl, a.rdata});
    if (sub.purpose == Purpose::dnskey) {
        if (sub.outcome == Outcome::positive && sub.sec == Security::secure) {
            z->keys = std::move(rrs);
            z->have_keys = true;
        } else if (sub.outcome == Outcome::positive && sub.sec == Security::insecure) {
            z->sec = Security::insecure;
            z->why = "no usable key algorithm";
            z->ede = sub.info_ede;
        } else {
            fail("no valid DNSKEY");
        }
    } else {
        if (sub.outcome == Outcome::positive && sub.sec == Security::secure) {
            z->sec = Security::secure;
            z->ds = std::move(rrs);
        } else if (sub.outcome == Outcome::positive && sub.sec == Security::insecure) {
            z->sec = Security::insecure;
            z->why = "parent insecure";
        } else if (sub.outcome == Outcome::negative && !sub.nxdomain &&
                   sub.sec == Security::secure && !sub.ds_delegation) {
            z->not_cut = true; // no NS here: the zone above goes on
            z->sec = Security::unknown;
        } else if (sub.outcome == Outcome::negative && !sub.nxdomain &&
                   sub.sec != Security::bogus) {
            z->sec = Security::insecure;
            z->why = "no DS";
        } else {
            fail("no valid DS");
        }
    }
    REQ_LOG("DNSSEC: '%s' is %s%s%s", names::text(z->zone).c_str(),
        z->not_cut ? "no zone cut" : dnssec::to_text(z->sec), z->why.empty() ? "" : ": ",
        z->why.c_str());
}

ReplyCheck Request::Impl::check_reply(Goal& g, const Message& m, Classified& c)
{
    ReplyCheck v;
    if (!validating()) {
        v.sec = Security::insecure;
        return v;
    }
    const uint64_t now = now_s();
    const dnssec::Limits& lim = res.config().dnssec_limits;
    const dns::Name cut = g.cut.zone;
    bool first_bad = true;
    auto judge = [&](Security s, uint16_t code, const std::string& why) {
        if (s == Security::bogus && first_bad) {
            v.ede = code;
            v.why = why;
            first_bad = false;
        }
        v.sec = worse(v.sec, s);
    };
    v.sec = Security::secure;
    bool pending = false;

    // One RRset: its status (and, secure, its TTL cap and wildcard labels).
    struct One {
        Security sec = Security::bogus;
        bool wildcard = false;
        uint8_t labels = 0;
        dns::Name zone;
    };
    auto check_set = [&](const std::vector<const Record*>& rrs,
                         const std::vector<Record>& section) -> One {
        One o;
        const Record& first = *rrs.front();
        dnssec::RRsetRef ref;
        ref.rrs = rrs;
        ref.sigs = sigs_for(section, first.owner, first.type);
        SetVerdict sv;
        sv.owner = first.owner;
        sv.type = first.type;
        // Bogus sets are kept too (never cached): a CD client gets them
        // with their RRSIGs.
        auto keep_bogus = [&] {
            sv.sec = Security::bogus;
            for (const Record* sg : ref.sigs) {
                if (covered_type(*sg) == first.type)
                    sv.sigs.push_back(*sg);
            }
            v.sets.push_back(std::move(sv));
        };
        const auto signer = dnssec::signer_of(ref);
        o.zone = signer ? *signer : cut;
        if (signer && !names::in_zone(first.owner, *signer)) {
            judge(Security::bogus, dnssec::ede::DNSSEC_BOGUS, "RRSIG signer above its records");
            keep_bogus();
            return o;
        }
        const bool apex_keys =
            first.type == dns::type::DNSKEY && names::equal(first.owner, o.zone);
        ZoneSec* z = nullptr;
        // Signed data below a zone known insecure (an island of security
        // without a trust anchor) is insecure: no key fetches for it.
        if (ZoneSec* cz = zone_sec(cut);
            cz != nullptr && cz->sec == Security::insecure && names::in_zone(o.zone, cut)) {
            o.sec = Security::insecure;
            sv.sec = o.sec;
            v.sets.push_back(std::move(sv));
            judge(o.sec, 0, "");
            if (cz->ede != 0 && v.info_ede == 0)
                v.info_ede = cz->ede;
            return o;
        }
        if (apex_keys) {
            // The zone's own keys: validated against its DS (or anchor),
            // not with themselves (RFC 4035 5.2).
            z = zone_sec(o.zone);
            if (z == nullptr || (z->sec == Security::secure && z->ds.empty() &&
                                 z->anchor_keys.empty() && !z->have_keys)) {
                ZoneSec* ignored = nullptr;
                if (need_keys(g, o.zone, ignored) == KeyState::pending) {
                    pending = true;
                    return o;
                }
                z = zone_sec(o.zone);
            }
        } else {
            switch (need_keys(g, o.zone, z)) {
            case KeyState::pending: pending = true; return o;
            case KeyState::insecure:
                o.sec = Security::insecure;
                sv.sec = o.sec;
                v.sets.push_back(std::move(sv));
                judge(o.sec, 0, "");
                // Insecure because of an algorithm or digest we cannot use:
                // the client is told which (RFC 8914 1, 2).
                if (z != nullptr && z->ede != 0 && v.info_ede == 0)
                    v.info_ede = z->ede;
                return o;
            case KeyState::bogus:
                judge(Security::bogus, z != nullptr && z->ede ? z->ede : dnssec::ede::DNSSEC_BOGUS,
                      z != nullptr && !z->why.empty() ? z->why : "zone keys bogus");
                keep_bogus();
                return o;
            case KeyState::ready: break;
            }
        }
        if (z == nullptr || z->sec == Security::bogus) {
            judge(Security::bogus, z && z->ede ? z->ede : dnssec::ede::DNSKEY_MISSING,
                  z && !z->why.empty() ? z->why : "no keys");
            keep_bogus();
            return o;
        }
        if (z->sec == Security::insecure) {
            o.sec = Security::insecure;
        } else if (apex_keys && !z->have_keys) {
            const dnssec::Judgement j =
                dnssec::verify_dnskeys(o.zone, ref, z->ds, z->anchor_keys, now, budget, lim,
                                       &res.verified());
            o.sec = j.status;
            if (j.status == Security::bogus) {
                judge(j.status, j.ede, j.why);
                keep_bogus();
                return o;
            }
            if (j.status == Security::insecure && j.ede != 0 && v.info_ede == 0)
                v.info_ede = j.ede; // unsupported algorithm (1) or digest (2)
        } else {
            if (ref.sigs.empty()) {
                // Perhaps from an unsigned zone below the secure one (its
                // parent's servers serve it too, or a forwarder answered).
                const dns::Name upto =
                    first.type == dns::type::DS ? names::parent(first.owner) : first.owner;
                const KeyState ks = names::below(upto, o.zone)
                                        ? find_insecure_cut(g, o.zone, upto)
                                        : KeyState::bogus;
                if (ks == KeyState::pending) {
                    pending = true;
                    return o;
                }
                if (ks == KeyState::insecure) {
                    o.sec = Security::insecure;
                    sv.sec = o.sec;
                    v.sets.push_back(std::move(sv));
                    judge(o.sec, 0, "");
                    return o;
                }
                judge(Security::bogus, dnssec::ede::RRSIGS_MISSING, "RRSIGs missing");
                keep_bogus();
                return o;
            }
            const dnssec::Verified vr =
                dnssec::verify_rrset(ref, o.zone, z->keys, now, budget, lim, &res.verified());
            o.sec = vr.j.status;
            if (vr.j.status == Security::bogus) {
                judge(vr.j.status, vr.j.ede, vr.j.why);
                keep_bogus();
                return o;
            }
            sv.ttl_cap = vr.ttl;
            sv.wildcard = vr.wildcard;
            o.wildcard = vr.wildcard;
            o.labels = vr.labels;
        }
        sv.sec = o.sec;
        for (const Record* s : ref.sigs) {
            if (covered_type(*s) == first.type)
                sv.sigs.push_back(*s);
        }
        v.sets.push_back(std::move(sv));
        judge(o.sec, 0, "");
        return o;
    };

    // The NSEC/NSEC3 RRsets of the authority section that verify (and
    // the SOA's signature): the material of denial proofs.
    std::vector<Record> proof;
    dns::Name proof_zone = cut;
    bool proof_insecure = false;
    auto collect_proof = [&]() -> bool {
        std::vector<const Record*> nsecs;
        for (const Record& r : m.authority) {
            if ((r.type == dns::type::NSEC || r.type == dns::type::NSEC3) &&
                r.klass == dns::klass::IN && names::in_zone(r.owner, cut))
                nsecs.push_back(&r);
        }
        for (const auto& set : group(nsecs)) {
            const Security before = v.sec;
            const One o = check_set(set, m.authority);
            if (pending)
                return false;
            if (o.sec == Security::bogus) {
                v.sec = before; // an NSEC that fails proves nothing; the proof decides
                first_bad = true;
                continue;
            }
            proof_insecure = proof_insecure || o.sec == Security::insecure;
            proof_zone = o.zone;
            for (const Record* r : set)
                proof.push_back(*r);
            for (const Record* s : sigs_for(m.authority, set.front()->owner, set.front()->type))
                proof.push_back(*s);
        }
        return true;
    };
    auto add_proof = [&] {
        v.proof.insert(v.proof.end(), proof.begin(), proof.end());
    };

    // Answer-section RRsets the verdict uses: the chain (the CNAMEs we
    // synthesised from DNAMEs are not signed: the DNAME is) and the final RRset.
    std::vector<const Record*> used;
    for (size_t i = 0; i < c.chain.size(); ++i) {
        const bool synthesised = i > 0 && c.chain[i].type == dns::type::CNAME &&
                                 c.chain[i - 1].type == dns::type::DNAME;
        if (!synthesised)
            used.push_back(&c.chain[i]);
    }
    for (const Record& r : c.final_rrs)
        used.push_back(&r);

    std::vector<std::pair<dns::Name, One>> wildcards;
    switch (c.verdict) {
    case Verdict::answer:
    case Verdict::restart:
    case Verdict::negative:
        for (const auto& set : group(used)) {
            const One o = check_set(set, m.answer);
            if (pending)
                break;
            if (o.sec == Security::secure && o.wildcard)
                wildcards.emplace_back(set.front()->owner, o);
        }
        if (pending)
            break;
        if (c.verdict == Verdict::negative || !wildcards.empty()) {
            if (c.verdict == Verdict::negative && c.soa) {
                std::vector<const Record*> soa;
                for (const Record& r : m.authority) {
                    if (r.type == dns::type::SOA && names::equal(r.owner, c.soa->owner))
                        soa.push_back(&r);
                }
                if (!soa.empty()) {
                    check_set(soa, m.authority);
                    if (pending)
                        break;
                    for (const Record* s : sigs_for(m.authority, c.soa->owner, dns::type::SOA))
                        proof.push_back(*s);
                }
            }
            if (!collect_proof())
                break;
        }
        for (const auto& [owner, o] : wildcards) {
            const dnssec::Judgement j = dnssec::prove_wildcard(owner, o.labels, o.zone, proof, lim);
            judge(j.status, j.status == Security::bogus ? dnssec::ede::NSEC_MISSING : 0,
                  "wildcard expansion without proof");
        }
        if (c.verdict == Verdict::negative) {
            ZoneSec* z = zone_sec(proof_zone);
            if (z != nullptr && z->sec == Security::insecure) {
                judge(Security::insecure, 0, "");
            } else if (proof.empty()) {
                // Nothing signed came: the status of the zone that said so
                // decides (its SOA's owner, below the zone asked).
                ZoneSec* zz = nullptr;
                KeyState ks = need_keys(g, proof_zone, zz);
                const dns::Name apex = c.soa ? c.soa->owner : c.target;
                if (ks == KeyState::ready && names::below(apex, proof_zone))
                    ks = find_insecure_cut(g, proof_zone, apex);
                switch (ks) {
                case KeyState::pending: pending = true; break;
                case KeyState::insecure: judge(Security::insecure, 0, ""); break;
                default:
                    judge(Security::bogus, dnssec::ede::NSEC_MISSING, "denial without NSEC");
                    break;
                }
            } else {
                const dnssec::Judgement j =
                    c.nxdomain ? dnssec::prove_nxdomain(c.target, proof_zone, proof, lim)
                               : dnssec::prove_nodata(c.target, g.qtype, proof_zone, proof, lim);
                judge(j.status, j.status == Security::bogus ? dnssec::ede::NSEC_MISSING : j.ede,
                      j.why.empty() ? "denial not proven" : j.why);
                if (j.status == Security::insecure && j.ede != 0 && v.info_ede == 0)
                    v.info_ede = j.ede; // NSEC3 iterations over the limit (27)
                // A DS NODATA also tells whether the name is a delegation
                // (NS at it, or an opt-out span) or just a name in the zone.
                if (g.qtype == dns::type::DS && !c.nxdomain && j.status != Security::bogus)
                    g.ds_delegation =
                        dnssec::prove_no_ds(c.target, proof_zone, proof, lim).status !=
                        Security::bogus;
            }
        }
        if (c.verdict == Verdict::negative || !wildcards.empty())
            add_proof();
        break;
    case Verdict::referral: {
        ZoneSec* parent = nullptr;
        switch (need_keys(g, cut, parent)) {
        case KeyState::pending: pending = true; break;
        case KeyState::insecure: v.child_sec = Security::insecure; break;
        case KeyState::bogus:
            v.child_sec = Security::bogus;
            judge(Security::bogus, parent && parent->ede ? parent->ede : dnssec::ede::DNSKEY_MISSING,
                  parent && !parent->why.empty() ? parent->why : "parent keys bogus");
            break;
        case KeyState::ready: {
            std::vector<const Record*> ds;
            for (const Record& r : m.authority) {
                if (r.type == dns::type::DS && names::equal(r.owner, c.zone))
                    ds.push_back(&r);
            }
            if (!ds.empty()) {
                const One o = check_set(ds, m.authority);
                if (pending)
                    break;
                v.child_sec = o.sec;
                if (o.sec == Security::secure) {
                    for (const Record* r : ds)
                        v.child_ds.push_back(*r);
                }
            } else {
                if (!collect_proof())
                    break;
                const dnssec::Judgement j = dnssec::prove_no_ds(c.zone, cut, proof, lim);
                v.child_sec = j.status == Security::bogus ? Security::bogus : Security::insecure;
                if (j.status == Security::bogus) {
                    judge(Security::bogus, dnssec::ede::NSEC_MISSING,
                          "delegation without DS or proof");
                } else {
                    // The DS NODATA itself is secure when an NSEC/NSEC3 at
                    // the child proves it, insecure when only an opt-out
                    // span covers it (RFC 5155 8.6, 9.2.1).
                    v.no_ds_sec =
                        dnssec::prove_nodata(c.zone, dns::type::DS, cut, proof, lim).status;
                }
                add_proof();
            }
            break;
        }
        }
        if (pending)
            break;
        // The child's status, for the answers its servers give.
        const dns::Name cz = names::lower(c.zone);
        ZoneSec* child = known_zone(cz);
        const bool anchored = child != nullptr && (!child->anchor_keys.empty() ||
                                                  (child->sec == Security::secure &&
                                                   child->ds.empty() && child->have_keys));
        const dnssec::TrustAnchors& ta = *res.config().anchors;
        const dnssec::Anchor* own = ta.find(cz);
        if (own == nullptr && !ta.is_negative(cz) && !anchored) {
            if (child == nullptr)
                child = &zone_entry(cz);
            child->sec = v.child_sec;
            child->ds = v.child_ds;
            child->keys.clear();
            child->have_keys = false;
            child->ede = v.ede;
            child->why = v.child_sec == Security::bogus ? v.why : "";
        }
        break;
    }
    default: break; // next_label, lame...: nothing from the reply is used
    }
    if (pending) {
        v.result = ReplyCheck::Result::pending;
        return v;
    }
    if (v.sec == Security::bogus && v.ede == 0)
        v.ede = dnssec::ede::DNSSEC_BOGUS;
    return v;
}

void Request::Impl::merge_security(Goal& g, const ReplyCheck& v)
{
    g.sec = g.sec_set ? worse(g.sec, v.sec) : v.sec;
    g.sec_set = true;
    if (g.info_ede == 0)
        g.info_ede = v.info_ede;
    const uint64_t now = now_s();
    for (const SetVerdict& s : v.sets) {
        for (const Record& r : s.sigs) {
            const bool in_answer =
                s.type != dns::type::NSEC && s.type != dns::type::NSEC3 && s.type != dns::type::SOA;
            if (in_answer)
                g.sigs.push_back({r.owner, r.type, r.klass, std::min(r.ttl, s.ttl_cap), now, r.rdata});
        }
    }
    for (const Record& r : v.proof)
        g.proof.push_back({r.owner, r.type, r.klass, r.ttl, now, r.rdata});
}

} // namespace kresd::resolve
