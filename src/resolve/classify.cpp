// See classify.hpp. The order of the checks follows RFC 1034 5.3.3 step 4:
// an answer (4a), a CNAME to follow (4c), a delegation (4b), else the
// server is of no use (4d). Negative answers are recognised as in RFC 2308
// 2.1 (NXDOMAIN) and 2.2 (NODATA).
#include "resolve/classify.hpp"

#include "resolve/names.hpp"

namespace kresd::resolve {
namespace {

using dns::type::CNAME;
using dns::type::DNAME;
using dns::type::NS;
using dns::type::SOA;

Classified verdict(Classified c, Verdict v, const char* why)
{
    c.verdict = v;
    c.why = why;
    return c;
}

const char* rcode_text(uint8_t rcode)
{
    switch (rcode) {
    case dns::rcode::FORMERR: return "FORMERR";
    case dns::rcode::SERVFAIL: return "SERVFAIL";
    case dns::rcode::NOTIMP: return "NOTIMP";
    case dns::rcode::REFUSED: return "REFUSED";
    default: return "unexpected RCODE";
    }
}

// Inside the bailiwick: right class, owner at or below the asked zone.
bool in_bailiwick(const Record& r, const AskContext& ctx)
{
    return r.klass == ctx.qclass && names::in_zone(r.owner, ctx.zone);
}

// An in-bailiwick SOA in the authority section whose zone covers `name`.
std::optional<Record> find_soa(const Message& m, const AskContext& ctx, const dns::Name& name)
{
    for (const Record& r : m.authority) {
        if (r.type == SOA && in_bailiwick(r, ctx) && names::in_zone(name, r.owner) &&
            soa_minimum(r.rdata))
            return r;
    }
    return std::nullopt;
}

bool has_soa(const Message& m)
{
    for (const Record& r : m.authority) {
        if (r.type == SOA)
            return true;
    }
    return false;
}

// A/AAAA for the NS names, from the additional section: by default inside
// the zone that was asked (glue for anything else could be a poisoning
// attempt); mode('strict') only inside the delegated zone (where the NS
// names cannot be reached without it), mode('permissive') any.
bool glue_ok(const Record& r, const AskContext& ctx, const Classified& c)
{
    switch (ctx.glue) {
    case GlueMode::strict: return r.klass == ctx.qclass && names::in_zone(r.owner, c.zone);
    case GlueMode::permissive: return r.klass == ctx.qclass;
    case GlueMode::normal: break;
    }
    return in_bailiwick(r, ctx);
}

void collect_glue(const Message& m, const AskContext& ctx, Classified& c)
{
    for (const Record& r : m.additional) {
        if ((r.type != dns::type::A && r.type != dns::type::AAAA) || !glue_ok(r, ctx, c))
            continue;
        for (const Record& ns : c.ns) {
            dns::Name target;
            if (rdata_name(ns, target) && names::equal(target, r.owner)) {
                c.glue.push_back(r);
                break;
            }
        }
    }
}

// Takes the NS RRset owned by `owner` from `section`.
void take_ns(const std::vector<Record>& section, const AskContext& ctx, const dns::Name& owner,
             Classified& c)
{
    c.zone = owner;
    for (const Record& r : section) {
        dns::Name target;
        if (r.type == NS && r.klass == ctx.qclass && names::equal(r.owner, owner) &&
            rdata_name(r, target))
            c.ns.push_back(r);
    }
}

// RFC 1034 4.2.1 / 5.3.3 4b: a delegation is an NS RRset in the authority
// section, no SOA, for a zone strictly below the one asked and at or above
// the name asked. One above or beside the cut is lame (upward referral).
bool find_referral(const Message& m, const AskContext& ctx, const dns::Name& asked, Classified& c)
{
    if (has_soa(m))
        return false;
    for (const Record& r : m.authority) {
        if (r.type != NS || r.klass != ctx.qclass || !names::below(r.owner, ctx.zone) ||
            !names::in_zone(asked, r.owner))
            continue;
        // DS lives in the parent (RFC 4035 3.1.4.1): a delegation to the
        // name itself cannot answer a DS question.
        if (ctx.qtype_sent == dns::type::DS && names::equal(r.owner, ctx.sname))
            return false;
        take_ns(m.authority, ctx, r.owner, c);
        collect_glue(m, ctx, c);
        return !c.ns.empty();
    }
    return false;
}

// A minimised query (RFC 9156 2.3): the answer only tells whether the
// asked name is a zone cut.
Classified classify_minimised(const Message& m, const AskContext& ctx, Classified c)
{
    if (m.rcode == dns::rcode::NXDOMAIN)
        return verdict(std::move(c), Verdict::minimised_nxdomain, "NXDOMAIN to a minimised query");
    if (find_referral(m, ctx, ctx.qname_sent, c))
        return verdict(std::move(c), Verdict::referral, "referral");
    // Some servers put the child's NS in the answer section without AA.
    if (!m.aa && names::below(ctx.qname_sent, ctx.zone)) {
        take_ns(m.answer, ctx, ctx.qname_sent, c);
        if (!c.ns.empty()) {
            collect_glue(m, ctx, c);
            return verdict(std::move(c), Verdict::referral, "referral in the answer section");
        }
    }
    bool answered = false;
    for (const Record& r : m.answer)
        answered = answered || in_bailiwick(r, ctx);
    if (m.aa || answered || find_soa(m, ctx, ctx.qname_sent))
        return verdict(std::move(c), Verdict::next_label, "no zone cut here");
    return verdict(std::move(c), Verdict::lame, "lame: neither authoritative nor a referral");
}

const Record* find_record(const Message& m, const AskContext& ctx, const dns::Name& owner,
                          uint16_t type)
{
    for (const Record& r : m.answer) {
        if (r.type == type && in_bailiwick(r, ctx) && names::equal(r.owner, owner))
            return &r;
    }
    return nullptr;
}

// The DNAME (RFC 6672 2.1) whose owner is strictly above `name`.
const Record* find_dname(const Message& m, const AskContext& ctx, const dns::Name& name)
{
    for (const Record& r : m.answer) {
        if (r.type == DNAME && in_bailiwick(r, ctx) && names::below(name, r.owner))
            return &r;
    }
    return nullptr;
}

} // namespace

Classified classify(const Message& m, const AskContext& ctx)
{
    Classified c;
    c.aa = m.aa;
    c.target = ctx.sname;
    if (m.rcode != dns::rcode::NOERROR && m.rcode != dns::rcode::NXDOMAIN)
        return verdict(std::move(c), Verdict::error, rcode_text(m.rcode));
    const bool minimised =
        !names::equal(ctx.qname_sent, ctx.sname) || ctx.qtype_sent != ctx.qtype;
    if (minimised)
        return classify_minimised(m, ctx, std::move(c));

    // 4a/4c: walk the answer section from sname through CNAMEs and DNAMEs.
    dns::Name cur = ctx.sname;
    for (;;) {
        for (const Record& r : m.answer) {
            const bool type_ok = r.type == ctx.qtype ||
                                 (ctx.qtype == dns::type::ANY && r.type != dns::type::RRSIG);
            if (type_ok && in_bailiwick(r, ctx) && names::equal(r.owner, cur))
                c.final_rrs.push_back(r);
        }
        if (!c.final_rrs.empty()) {
            c.target = cur;
            return verdict(std::move(c), Verdict::answer, "answer");
        }
        if (ctx.qtype == CNAME)
            break;
        // A DNAME above the name wins over any CNAME at it (RFC 6672 2.3:
        // nothing may exist below a DNAME owner).
        if (const Record* dname = ctx.qtype == DNAME ? nullptr : find_dname(m, ctx, cur)) {
            // RFC 6672 3.2: synthesise the CNAME from the DNAME ourselves; a
            // CNAME the server sent for it is then just another record.
            dns::Name dtarget;
            if (!rdata_name(*dname, dtarget))
                return verdict(std::move(c), Verdict::error, "malformed DNAME");
            if (++c.hops > ctx.hops_left)
                return verdict(std::move(c), Verdict::chain_too_long, "CNAME chain too long");
            const auto next = names::substitute(cur, dname->owner, dtarget);
            if (!next)
                return verdict(std::move(c), Verdict::bad_dname, "DNAME substitution too long");
            Record synth;
            synth.owner = cur;
            synth.type = CNAME;
            synth.klass = dname->klass;
            synth.ttl = dname->ttl;
            synth.rdata.assign(next->wire.begin(), next->wire.begin() + next->len);
            c.chain.push_back(*dname);
            c.chain.push_back(std::move(synth));
            // The new name is below the same DNAME again: every further
            // substitution only makes it longer.
            if (names::below(*next, dname->owner))
                return verdict(std::move(c), Verdict::dname_loop, "DNAME loop");
            cur = *next;
            continue;
        }
        if (const Record* cname = find_record(m, ctx, cur, CNAME)) {
            dns::Name next;
            if (!rdata_name(*cname, next))
                return verdict(std::move(c), Verdict::error, "malformed CNAME");
            if (++c.hops > ctx.hops_left)
                return verdict(std::move(c), Verdict::chain_too_long, "CNAME chain too long");
            c.chain.push_back(*cname);
            cur = next;
            continue;
        }
        break;
    }
    c.target = cur;
    // RFC 2308 2.1/2.2 (and RFC 6604 for the RCODE after a chain): the
    // negative answer is about the end of the chain, and only believed
    // when that name is inside the bailiwick.
    const bool target_inside = names::in_zone(cur, ctx.zone);
    c.soa = target_inside ? find_soa(m, ctx, cur) : std::nullopt;
    if (!c.chain.empty()) {
        if (target_inside && m.rcode == dns::rcode::NXDOMAIN) {
            c.nxdomain = true;
            return verdict(std::move(c), Verdict::negative, "NXDOMAIN after a chain");
        }
        if (c.soa)
            return verdict(std::move(c), Verdict::negative, "NODATA after a chain");
        return verdict(std::move(c), Verdict::restart, "chain continues elsewhere");
    }
    if (m.rcode == dns::rcode::NXDOMAIN) {
        // An authoritative server says so with AA or at least with the
        // zone's SOA (RFC 2308 2.1); one with neither does not serve the zone.
        if (!ctx.forwarding && !m.aa && !c.soa)
            return verdict(std::move(c), Verdict::lame, "lame: NXDOMAIN without AA or SOA");
        c.nxdomain = true;
        return verdict(std::move(c), Verdict::negative, "NXDOMAIN");
    }
    if (!ctx.forwarding && find_referral(m, ctx, ctx.sname, c))
        return verdict(std::move(c), Verdict::referral, "referral");
    if (c.soa)
        return verdict(std::move(c), Verdict::negative, "NODATA");
    bool ns_only = false; // a delegation where none was expected
    for (const Record& r : m.authority)
        ns_only = ns_only || r.type == NS;
    if (ctx.forwarding && !ns_only)
        return verdict(std::move(c), Verdict::negative, "NODATA without SOA");
    // RFC 2308 2.2 NODATA carries the SOA; without it (or with records of
    // another type only) the server is probably broken for this name.
    if (m.aa)
        return verdict(std::move(c), Verdict::nodata_nosoa, "NODATA without SOA");
    return verdict(std::move(c), Verdict::lame, "lame: neither authoritative nor a referral");
}

} // namespace kresd::resolve
