// See lab.hpp.
#include "lab.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "dns/ldns.hpp"
#include "dnssec/dnssec.hpp"
#include "resolve/names.hpp"

namespace kresd::resolve::test {
namespace {

std::string lower(std::string s)
{
    for (char& c : s)
        c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    return s;
}

std::string server_key(const Address& a)
{
    std::string s = address_to_string(a);
    if (s.size() > 3 && s.compare(s.size() - 3, 3, "@53") == 0)
        s.resize(s.size() - 3);
    return s;
}

std::string rr_line(const ldns_rr* rr)
{
    std::string line = dns::ldns::take_text(ldns_rdf2str(ldns_rr_owner(rr)));
    line += " " + std::to_string(ldns_rr_ttl(rr)) + " " + type_name(ldns_rr_get_type(rr));
    for (size_t i = 0; i < ldns_rr_rd_count(rr); ++i)
        line += " " + dns::ldns::take_text(ldns_rdf2str(ldns_rr_rdf(rr, i)));
    return line;
}

std::vector<uint8_t> build_reply(const dns::Query& q, const Reply& r)
{
    dns::ldns::Pkt pkt(ldns_pkt_new());
    ldns_pkt* p = pkt.get();
    ldns_pkt_set_id(p, q.id);
    ldns_pkt_set_qr(p, true);
    ldns_pkt_set_opcode(p, LDNS_PACKET_QUERY);
    ldns_pkt_set_aa(p, r.aa);
    ldns_pkt_set_tc(p, r.tc);
    ldns_pkt_set_rd(p, q.rd);
    ldns_pkt_set_rcode(p, r.rcode);
    if (!r.no_question) {
        dns::ldns::Rr question(ldns_rr_new());
        ldns_rr_set_owner(question.get(),
                          ldns_dname_new_frm_data(q.qname.len, q.qname.wire.data()));
        ldns_rr_set_type(question.get(), static_cast<ldns_rr_type>(q.qtype));
        ldns_rr_set_class(question.get(), static_cast<ldns_rr_class>(q.qclass));
        ldns_rr_set_question(question.get(), true);
        ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, question.release());
    }
    const std::pair<const lines*, ldns_pkt_section> sections[] = {
        {&r.answer, LDNS_SECTION_ANSWER},
        {&r.authority, LDNS_SECTION_AUTHORITY},
        {&r.additional, LDNS_SECTION_ADDITIONAL}};
    for (const auto& [texts, section] : sections) {
        for (const std::string& text : *texts) {
            dns::ldns::Rr rr = dns::ldns::rr_from_text(text);
            INFO("record: " << text);
            REQUIRE(rr);
            ldns_pkt_push_rr(p, section, rr.release());
        }
    }
    if (q.edns.present && !r.no_question)
        ldns_pkt_set_edns_udp_size(p, 1232);
    return dns::ldns::to_wire(p);
}

} // namespace

std::string type_name(uint16_t type)
{
    return dns::ldns::take_text(ldns_rr_type2str(static_cast<ldns_rr_type>(type)));
}

uint16_t type_code(const std::string& name)
{
    return static_cast<uint16_t>(ldns_get_rr_type_by_name(name.c_str()));
}

dns::Name name_of(const std::string& text)
{
    dns::Name n;
    REQUIRE(dns::name_from_text(text, n));
    return n;
}

dns::Query make_query(const std::string& name, uint16_t type)
{
    dns::Query q;
    q.id = 4242;
    q.rd = true;
    q.qname = name_of(name);
    q.qname_lower = q.qname;
    dns::name_lower(q.qname_lower);
    q.qtype = type;
    q.qclass = dns::klass::IN;
    q.edns.present = true;
    q.edns.udp_size = 1232;
    return q;
}

Address addr(const std::string& text)
{
    auto a = parse_address(text);
    REQUIRE(a);
    return *a;
}

Lab::Lab()
{
    config.root_hints = {{name_of("a.root-servers.net."), {addr("198.41.0.4")}}};
    config.explore_percent = 0;
    zone("198.41.0.4", ".",
         {". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400",
          ". 518400 IN NS a.root-servers.net.", "a.root-servers.net. 518400 IN A 198.41.0.4",
          "com. 172800 IN NS a.gtld-servers.net.", "net. 172800 IN NS a.gtld-servers.net.",
          "a.gtld-servers.net. 172800 IN A 192.0.2.10"});
    zone("192.0.2.10", "com.",
         {"com. 900 IN SOA a.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400",
          "com. 172800 IN NS a.gtld-servers.net.",
          "example.com. 172800 IN NS ns1.example.com.",
          "example.com. 172800 IN NS ns2.example.com.",
          "ns1.example.com. 172800 IN A 192.0.2.20", "ns2.example.com. 172800 IN A 192.0.2.21"});
    zone("192.0.2.10", "net.",
         {"net. 900 IN SOA a.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400",
          "net. 172800 IN NS a.gtld-servers.net.", "a.gtld-servers.net. 172800 IN A 192.0.2.10"});
    const lines example = {
        "example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300",
        "example.com. 3600 IN NS ns1.example.com.", "example.com. 3600 IN NS ns2.example.com.",
        "ns1.example.com. 3600 IN A 192.0.2.20", "ns2.example.com. 3600 IN A 192.0.2.21",
        "www.example.com. 300 IN A 192.0.2.80"};
    zone("192.0.2.20", "example.com.", example);
    server("192.0.2.21").zones.push_back("example.com.");
}

Resolver& Lab::res()
{
    if (!resolver) {
        Clock clock{[this] { return mono_ms; }, [this] { return wall_s; }};
        resolver = std::make_unique<Resolver>(config, store, clock, [this] {
            rng = rng * 1103515245u + 12345u;
            return rng >> 8;
        });
        resolver->debug_log = [this](const std::string& line) { debug_lines.push_back(line); };
    }
    return *resolver;
}

Server& Lab::server(const std::string& a)
{
    return servers[a];
}

void Lab::add(const std::string& apex, const lines& records)
{
    auto& recs = zones[lower(apex)];
    for (const std::string& text : records) {
        dns::ldns::Rr rr = dns::ldns::rr_from_text(text);
        INFO("record: " << text);
        REQUIRE(rr);
        ZoneRec z;
        REQUIRE(names::from_wire(dns::ldns::rdf_bytes(ldns_rr_owner(rr.get())), z.owner));
        z.type = static_cast<uint16_t>(ldns_rr_get_type(rr.get()));
        if (z.type == dns::type::NS || z.type == dns::type::CNAME || z.type == dns::type::DNAME ||
            z.type == dns::type::NSEC)
            REQUIRE(names::from_wire(dns::ldns::rdf_bytes(ldns_rr_rdf(rr.get(), 0)), z.target));
        if (z.type == dns::type::RRSIG) {
            const auto covered = dns::ldns::rdf_bytes(ldns_rr_rdf(rr.get(), 0));
            REQUIRE(covered.size() == 2);
            z.covered = static_cast<uint16_t>((covered[0] << 8) | covered[1]);
        }
        z.text = text;
        recs.push_back(std::move(z));
    }
}

void Lab::zone(const std::string& srv, const std::string& apex, const lines& records)
{
    add(apex, records);
    auto& list = server(srv).zones;
    if (std::find(list.begin(), list.end(), lower(apex)) == list.end())
        list.push_back(lower(apex));
}

const std::vector<Lab::ZoneRec>* Lab::zone_for(const Server& s, const dns::Name& qname,
                                               dns::Name& apex, uint16_t qtype) const
{
    // The most specific zone the server has for the name; for DS at a
    // zone's apex, the parent's side when the server has the parent too
    // (RFC 4035 3.1.4.1).
    const std::vector<ZoneRec>* recs = nullptr;
    for (int pass = 0; pass < 2 && recs == nullptr; ++pass) {
        for (const std::string& z : s.zones) {
            const dns::Name a = name_of(z);
            const bool ok = pass == 0 && qtype == dns::type::DS ? names::below(qname, a)
                                                                 : names::in_zone(qname, a);
            if (ok && (recs == nullptr || a.len > apex.len)) {
                apex = a;
                recs = &zones.at(z);
            }
        }
    }
    return recs;
}

void Lab::add_dnssec(const Server& s, const dns::Name& qname, uint16_t qtype, Reply& r) const
{
    dns::Name apex;
    const std::vector<ZoneRec>* recs = zone_for(s, qname, apex, qtype);
    if (recs == nullptr || r.rcode == dns::rcode::REFUSED)
        return;
    auto push_once = [](lines& to, const std::string& text) {
        if (std::find(to.begin(), to.end(), text) == to.end())
            to.push_back(text);
    };
    auto owner_type = [](const std::string& text) {
        dns::ldns::Rr rr = dns::ldns::rr_from_text(text);
        REQUIRE(rr);
        std::pair<dns::Name, uint16_t> out;
        REQUIRE(names::from_wire(dns::ldns::rdf_bytes(ldns_rr_owner(rr.get())), out.first));
        out.second = static_cast<uint16_t>(ldns_rr_get_type(rr.get()));
        return out;
    };
    auto records_at = [&](const dns::Name& owner, uint16_t type, lines& to) {
        for (const ZoneRec& z : *recs) {
            if (z.type == type && names::equal(z.owner, owner))
                push_once(to, z.text);
        }
    };
    // The RRSIGs of every RRset of a section (appended to it).
    auto add_sigs = [&](lines& section) {
        std::vector<std::pair<dns::Name, uint16_t>> seen;
        const lines texts = section;
        for (const std::string& text : texts) {
            const auto k = owner_type(text);
            const bool dup = std::any_of(seen.begin(), seen.end(), [&](const auto& o) {
                return o.second == k.second && names::equal(o.first, k.first);
            });
            if (k.second == dns::type::RRSIG || dup)
                continue;
            seen.push_back(k);
            for (const ZoneRec& z : *recs) {
                if (z.type == dns::type::RRSIG && z.covered == k.second &&
                    names::equal(z.owner, k.first))
                    push_once(section, z.text);
            }
        }
    };
    // The NSEC whose span (owner, next) covers `name` (RFC 4034 4.1.1).
    auto covering = [&](const dns::Name& name) -> const ZoneRec* {
        for (const ZoneRec& z : *recs) {
            if (z.type != dns::type::NSEC)
                continue;
            const bool after_owner = dnssec::canonical_compare(z.owner, name) < 0;
            const bool last = dnssec::canonical_compare(z.target, z.owner) <= 0;
            if (after_owner && (last || dnssec::canonical_compare(name, z.target) < 0))
                return &z;
        }
        return nullptr;
    };
    const bool referral = !r.aa && r.rcode == dns::rcode::NOERROR && !r.authority.empty();
    if (referral) {
        // RFC 4035 3.1.4: the DS RRset of the child, or the NSEC proving
        // that there is none.
        const dns::Name cut = owner_type(r.authority.front()).first;
        bool has_ds = false;
        for (const ZoneRec& z : *recs)
            has_ds = has_ds || (z.type == dns::type::DS && names::equal(z.owner, cut));
        records_at(cut, has_ds ? dns::type::DS : dns::type::NSEC, r.authority);
    } else {
        bool negative = false;
        for (const std::string& text : r.authority)
            negative = negative || owner_type(text).second == dns::type::SOA;
        if (negative) {
            // RFC 4035 3.1.3: where the chain ended, the NSEC at the name
            // (NODATA) or the one covering it and the one covering the
            // wildcard at its closest encloser (NXDOMAIN).
            dns::Name target = qname;
            for (const std::string& text : r.answer) {
                dns::ldns::Rr rr = dns::ldns::rr_from_text(text);
                if (ldns_rr_get_type(rr.get()) == LDNS_RR_TYPE_CNAME)
                    REQUIRE(names::from_wire(dns::ldns::rdf_bytes(ldns_rr_rdf(rr.get(), 0)),
                                             target));
            }
            bool exact = false;
            for (const ZoneRec& z : *recs)
                exact = exact || (z.type == dns::type::NSEC && names::equal(z.owner, target));
            if (exact) {
                records_at(target, dns::type::NSEC, r.authority);
            } else {
                if (const ZoneRec* c = covering(target))
                    push_once(r.authority, c->text);
                if (r.rcode == dns::rcode::NXDOMAIN) {
                    dns::Name ce = names::parent(target);
                    auto exists = [&](const dns::Name& n) {
                        return std::any_of(recs->begin(), recs->end(), [&](const ZoneRec& z) {
                            return names::in_zone(z.owner, n);
                        });
                    };
                    while (!names::equal(ce, apex) && !exists(ce))
                        ce = names::parent(ce);
                    dns::Name wild;
                    wild.wire[0] = 1;
                    wild.wire[1] = '*';
                    std::copy(ce.wire.begin(), ce.wire.begin() + ce.len, wild.wire.begin() + 2);
                    wild.len = static_cast<uint8_t>(ce.len + 2);
                    if (const ZoneRec* c = covering(wild))
                        push_once(r.authority, c->text);
                }
            }
        }
    }
    add_sigs(r.answer);
    add_sigs(r.authority);
}

// A small authoritative server: referral, DNAME, answer with an in-zone
// CNAME chase, NODATA, NXDOMAIN (RFC 1034 4.3.2, much simplified).
Reply Lab::authoritative(const Server& s, const SentQuery&, const dns::Name& qname,
                         uint16_t qtype) const
{
    Reply r;
    dns::Name apex;
    const std::vector<ZoneRec>* recs = zone_for(s, qname, apex, qtype);
    if (recs == nullptr) {
        r.rcode = dns::rcode::REFUSED;
        return r;
    }
    auto soa = [&] {
        for (const ZoneRec& z : *recs) {
            if (z.type == dns::type::SOA)
                r.authority.push_back(z.text);
        }
    };
    // Delegation below the apex.
    const ZoneRec* cut = nullptr;
    for (const ZoneRec& z : *recs) {
        if (z.type == dns::type::NS && !names::equal(z.owner, apex) &&
            names::in_zone(qname, z.owner) &&
            !(qtype == dns::type::DS && names::equal(z.owner, qname)) &&
            (cut == nullptr || z.owner.len > cut->owner.len))
            cut = &z;
    }
    if (cut != nullptr) {
        for (const ZoneRec& z : *recs) {
            if (z.type == dns::type::NS && names::equal(z.owner, cut->owner)) {
                r.authority.push_back(z.text);
                for (const ZoneRec& g : *recs) {
                    if ((g.type == dns::type::A || g.type == dns::type::AAAA) &&
                        names::equal(g.owner, z.target))
                        r.additional.push_back(g.text);
                }
            }
        }
        return r;
    }
    r.aa = true;
    if (s.refuse_minimised_ns && qtype == dns::type::NS) {
        bool below = false, at = false;
        for (const ZoneRec& z : *recs) {
            below = below || names::below(z.owner, qname);
            at = at || names::equal(z.owner, qname);
        }
        if (below && !at) {
            r.rcode = dns::rcode::REFUSED;
            r.aa = false;
            return r;
        }
    }
    for (const ZoneRec& z : *recs) {
        if (z.type == dns::type::DNAME && names::below(qname, z.owner)) {
            r.answer.push_back(z.text);
            const auto target = names::substitute(qname, z.owner, z.target);
            REQUIRE(target);
            r.answer.push_back(names::text(qname) + " 300 IN CNAME " + names::text(*target));
            return r;
        }
    }
    dns::Name cur = qname;
    for (int hops = 0; hops < 8; ++hops) {
        bool found = false;
        for (const ZoneRec& z : *recs) {
            if (z.type == qtype && names::equal(z.owner, cur)) {
                r.answer.push_back(z.text);
                found = true;
            }
        }
        if (found)
            return r;
        const ZoneRec* cname = nullptr;
        for (const ZoneRec& z : *recs) {
            if (z.type == dns::type::CNAME && names::equal(z.owner, cur))
                cname = &z;
        }
        if (cname == nullptr || qtype == dns::type::CNAME)
            break;
        r.answer.push_back(cname->text);
        cur = cname->target;
        if (!names::in_zone(cur, apex))
            return r;
    }
    bool exists = false, exact = false;
    for (const ZoneRec& z : *recs) {
        exists = exists || names::in_zone(z.owner, cur);
        exact = exact || names::equal(z.owner, cur);
    }
    if (!exists || (s.nxdomain_ent && !exact))
        r.rcode = dns::rcode::NXDOMAIN;
    soa();
    return r;
}

std::optional<std::vector<uint8_t>> Lab::respond(const Outgoing& out)
{
    dns::Query q;
    REQUIRE(dns::parse_query(out.wire, q) == dns::ParseStatus::ok);
    SentQuery sq;
    sq.do_bit = q.edns.present && q.edns.do_bit;
    sq.server = server_key(out.to);
    sq.proto = out.proto;
    sq.tls = out.tls.get();
    sq.qname = dns::name_to_text(q.qname.view());
    sq.qtype = type_name(q.qtype);
    sq.rd = q.rd;
    sq.edns = q.edns.present;
    sq.id = q.id;
    queries.push_back(sq);
    auto it = servers.find(sq.server);
    if (it == servers.end() || it->second.timeout)
        return std::nullopt;
    const Server& s = it->second;
    Reply r;
    if (s.no_edns && q.edns.present) {
        r.rcode = dns::rcode::FORMERR;
        r.no_question = true;
    } else if (s.tc_udp && out.proto == Proto::udp) {
        r.tc = true;
        r.aa = true;
    } else if (s.rcode >= 0) {
        r.rcode = static_cast<uint8_t>(s.rcode);
    } else if (auto scripted = s.script ? s.script(sq) : std::nullopt) {
        r = *scripted;
    } else {
        r = authoritative(s, sq, q.qname, q.qtype);
        if (sq.do_bit)
            add_dnssec(s, q.qname, q.qtype, r);
    }
    if (r.timeout)
        return std::nullopt;
    return build_reply(q, r);
}

Result Lab::resolve(const std::string& name, const std::string& type, RequestOptions opts,
                    size_t limit, ClientFlags client)
{
    Resolver& r = res();
    if (std::getenv("KRESD_TEST_DEBUG") != nullptr)
        opts.debug = true;
    dns::Query q = make_query(name, type_code(type));
    q.edns.do_bit = client.do_bit;
    q.ad = client.ad;
    q.cd = client.cd;
    const size_t before = queries.size();
    Request req(r, q, opts);
    Outgoing out;
    int rounds = 0;
    while (req.produce(out) == Step::send) {
        REQUIRE(++rounds < 1000);
        const auto srv = servers.find(server_key(out.to));
        if (out.proto == Proto::tls && srv != servers.end() && srv->second.tls_fails) {
            respond(out); // recorded as sent
            mono_ms += 1;
            req.transport_failed("TLS handshake failed");
            continue;
        }
        auto reply = respond(out);
        if (!reply) {
            mono_ms += out.timeout_ms;
            req.timeout();
            continue;
        }
        const auto it = servers.find(server_key(out.to));
        mono_ms += it != servers.end() ? it->second.latency_ms : 10;
        REQUIRE(req.consume(*reply, out.to, out.proto));
    }
    Result res;
    res.from_cache = req.from_cache();
    res.queries = queries.size() - before;
    res.security = req.security();
    std::vector<uint8_t> buf(65535);
    dns::ResponseBuilder b(buf, limit);
    REQUIRE(b.begin(q, 0, Request::ede_reserve()));
    req.write_answer(b);
    REQUIRE(b.rcode() == req.rcode());
    buf.resize(b.finish());
    res.wire = buf;
    auto pkt = dns::ldns::parse(buf);
    REQUIRE(pkt);
    const ldns_pkt* p = pkt->get();
    res.rcode = static_cast<uint16_t>(ldns_pkt_get_rcode(p));
    res.aa = ldns_pkt_aa(p);
    res.ra = ldns_pkt_ra(p);
    res.tc = ldns_pkt_tc(p);
    res.ad = ldns_pkt_ad(p);
    for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_answer(p)); ++i)
        res.answer.push_back(rr_line(ldns_rr_list_rr(ldns_pkt_answer(p), i)));
    for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_authority(p)); ++i)
        res.authority.push_back(rr_line(ldns_rr_list_rr(ldns_pkt_authority(p), i)));
    const auto opts_data = dns::ldns::rdf_bytes(ldns_pkt_edns_data(p));
    for (size_t pos = 0; pos + 4 <= opts_data.size();) {
        const uint16_t code = static_cast<uint16_t>((opts_data[pos] << 8) | opts_data[pos + 1]);
        const size_t len = static_cast<size_t>((opts_data[pos + 2] << 8) | opts_data[pos + 3]);
        pos += 4;
        REQUIRE(pos + len <= opts_data.size());
        if (code == dns::edns_opt::EDE && len >= 2) {
            res.ede = static_cast<uint16_t>((opts_data[pos] << 8) | opts_data[pos + 1]);
            res.ede_text.assign(opts_data.begin() + static_cast<long>(pos) + 2,
                                opts_data.begin() + static_cast<long>(pos + len));
        }
        pos += len;
    }
    if (std::getenv("KRESD_TEST_DEBUG") != nullptr) {
        for (const std::string& line : debug_lines)
            std::fprintf(stderr, "%s\n", line.c_str());
        debug_lines.clear();
    }
    return res;
}

lines Lab::sent() const
{
    lines out;
    for (const SentQuery& q : queries) {
        std::string line = q.server + " " + q.qname + " " + q.qtype;
        if (q.proto == Proto::tcp)
            line += " tcp";
        if (q.proto == Proto::tls)
            line += " tls";
        if (q.rd)
            line += " rd";
        if (!q.edns)
            line += " noedns";
        if (show_do && q.do_bit)
            line += " do";
        out.push_back(line);
    }
    return out;
}

} // namespace kresd::resolve::test
