// A scripted DNS "lab" for the resolver tests: authoritative servers that
// answer from small zones (written in presentation format), misbehaving
// servers, a simulated clock, and a driver that runs one Request through
// the produce/consume/timeout loop and reads the answer back.
//
//   Lab lab;                                 // root -> com/net -> example.com
//   lab.zone("192.0.2.20", "example.com.", {"www.example.com. 300 IN A 192.0.2.80"});
//   auto r = lab.resolve("www.example.com.", "A");
//   CHECK(r.rcode == 0);
//   CHECK(r.answer == lines{"www.example.com. 300 A 192.0.2.80"});
//   CHECK(lab.sent() == lines{"198.41.0.4 com. NS", ...});
//
// Every query the resolver sends is recorded (server, transport, name,
// type, flags). A server may be given a script that answers some
// questions itself (Reply), or misbehaviour flags.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <stdlib.h>

#include "catch.hpp"
#include "mem_cache.hpp"
#include "resolve/resolve.hpp"
#include "resolve/servers.hpp"

namespace kresd::resolve::test {

using lines = std::vector<std::string>;

// A directory under /tmp for an LMDB cache, removed with everything in it.
struct TempDir {
    std::string path;
    TempDir()
    {
        char tmpl[] = "/tmp/kresd-resolve-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

struct SentQuery {
    std::string server; // "192.0.2.1" (port left out when 53)
    Proto proto = Proto::udp;
    const TlsAuth* tls = nullptr; // Outgoing::tls of the query
    std::string qname;  // as sent, text
    std::string qtype;  // "A", "NS"...
    bool rd = false;
    bool edns = false;
    uint16_t id = 0;
    bool do_bit = false; // EDNS DO (RFC 3225): the resolver wants signatures
};

// The header and EDNS bits of the client's query (Lab::resolve).
struct ClientFlags {
    bool do_bit = false; // EDNS DO: RRSIGs and proofs in the answer, AD when secure
    bool ad = false;     // AD in the query (RFC 6840 5.7)
    bool cd = false;     // checking disabled: bogus data comes back
};

// A reply written by a test script.
struct Reply {
    uint8_t rcode = 0;
    bool aa = false;
    bool tc = false;
    bool timeout = false;      // send nothing
    bool no_question = false;  // omit the question section
    lines answer, authority, additional;
};

struct Server {
    std::vector<std::string> zones;   // apexes served (text)
    bool timeout = false;             // never answers
    int rcode = -1;                   // >= 0: always this RCODE, nothing else
    bool no_edns = false;             // FORMERR (no question) to queries with EDNS
    bool tc_udp = false;              // TC=1 with empty sections over UDP
    bool nxdomain_ent = false;        // NXDOMAIN for empty non-terminals (broken)
    bool refuse_minimised_ns = false; // REFUSED to NS queries for names with data below
    uint32_t latency_ms = 10;
    bool tls_fails = false;           // over TLS: the transport fails (handshake, refused)
    // Answers first; nullopt falls through to the zones.
    std::function<std::optional<Reply>(const SentQuery&)> script;
};

struct Result {
    uint16_t rcode = 0;
    bool aa = false, ra = false, tc = false;
    lines answer, authority;          // "owner TTL TYPE rdata"
    std::optional<uint16_t> ede;
    std::string ede_text;
    bool from_cache = false;
    size_t queries = 0;               // upstream queries this resolution sent
    std::vector<uint8_t> wire;
    bool ad = false;                  // the answer's AD bit
    dns::Security security = dns::Security::unknown; // Request::security()
};

class Lab {
public:
    // The base hierarchy:
    //   198.41.0.4     "."  (a.root-servers.net, the only root hint)
    //   192.0.2.10     "com." and "net." (a.gtld-servers.net)
    //   192.0.2.20/21  "example.com." (ns1/ns2.example.com, glue in com.)
    // with SOA and NS records; www.example.com. A 192.0.2.80.
    Lab();

    // Adds records to the zone `apex` (creating it) and makes `server`
    // serve it (creating the server).
    void zone(const std::string& server, const std::string& apex, const lines& records);
    // Adds records to an existing zone.
    void add(const std::string& apex, const lines& records);
    Server& server(const std::string& addr);

    Result resolve(const std::string& name, const std::string& type, RequestOptions opts = {},
                   size_t limit = 65535, ClientFlags client = {});
    // Queries sent since the last clear, "server qname TYPE" plus " tcp",
    // " rd", " noedns" when they apply (and " do" with show_do).
    lines sent() const;
    bool show_do = false;
    void clear_sent() { queries.clear(); }

    // Answers one outgoing query as the lab would (nullopt: no answer).
    std::optional<std::vector<uint8_t>> respond(const Outgoing& out);

    Config config;
    MemCache cache;
    cache::Cache* store = &cache; // what the Resolver uses (another cache may be put here)
    uint64_t mono_ms = 1000000, wall_s = 1700000000;
    uint32_t rng = 12345;
    std::vector<SentQuery> queries;
    std::vector<std::string> debug_lines;
    std::map<std::string, Server> servers;
    std::unique_ptr<Resolver> resolver; // made on first resolve()

    Resolver& res();

    struct ZoneRec {
        dns::Name owner;
        uint16_t type = 0;
        dns::Name target; // NS / CNAME / DNAME; NSEC: the next name
        uint16_t covered = 0; // RRSIG: the type covered
        std::string text;
    };
    std::map<std::string, std::vector<ZoneRec>> zones; // apex (lower text) -> records

private:
    // DNSSEC (queries with DO): the RRSIGs of the RRsets in a reply that
    // the zone holds, the DS (or the NSEC proving there is none) of a
    // referral, the NSECs of a denial. Zones without RRSIG/NSEC records
    // (all the unsigned ones) get nothing added.
    void add_dnssec(const Server& s, const dns::Name& qname, uint16_t qtype, Reply& r) const;
    const std::vector<ZoneRec>* zone_for(const Server& s, const dns::Name& qname,
                                         dns::Name& apex, uint16_t qtype = 0) const;
    Reply authoritative(const Server& s, const SentQuery& q, const dns::Name& qname,
                        uint16_t qtype) const;
};

// Presentation helpers.
std::string type_name(uint16_t type);
uint16_t type_code(const std::string& name);
dns::Name name_of(const std::string& text);
dns::Query make_query(const std::string& name, uint16_t type);
// Address of a lab server: "192.0.2.1" -> 192.0.2.1@53.
Address addr(const std::string& text);

} // namespace kresd::resolve::test
