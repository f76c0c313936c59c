// Trust anchors and negative trust anchors (src/dnssec/anchors.cpp).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "dnssec/anchors.hpp"
#include "sign_helpers.hpp"

using namespace kresd;
using namespace kresd::dnssec;
using namespace kresd::dnssec::test;

namespace {

// A file in a fresh temporary directory, removed with it.
struct TempFile {
    std::filesystem::path dir;
    std::string path;
    explicit TempFile(const std::string& content) {
        dir = std::filesystem::temp_directory_path() /
              ("kresd-anchors-" + std::to_string(::getpid()) + "-" +
               std::to_string(reinterpret_cast<uintptr_t>(this)));
        std::filesystem::create_directories(dir);
        path = (dir / "root.keys").string();
        std::ofstream(path) << content;
    }
    ~TempFile() { std::filesystem::remove_all(dir); }
};

const char* kDs20326 =
    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D";

} // namespace

TEST_CASE("root defaults: KSK-2017 and KSK-2024 as DS digest 2", "[dnssec]") {
    const auto t = TrustAnchors::with_root_defaults();
    REQUIRE(t.all().size() == 1);
    const Anchor* root = t.find(name("."));
    REQUIRE(root != nullptr);
    REQUIRE(root->ds.size() == 2);
    CHECK(root->keys.empty());
    std::vector<uint16_t> tags;
    for (const auto& ds : root->ds) {
        tags.push_back(static_cast<uint16_t>(ds.rdata[0] << 8 | ds.rdata[1]));
        CHECK(ds.rdata[2] == 8);
        CHECK(ds.rdata[3] == 2);
        CHECK(ds.rdata.size() == 4 + 32);
    }
    CHECK(tags == std::vector<uint16_t>{20326, 38696});
    CHECK(t.closest(name("www.example.com.")) == root);
}

TEST_CASE("add_text: DS and DNSKEY, errors", "[dnssec]") {
    TrustAnchors t;
    const auto gen = t.generation();
    CHECK_FALSE(t.add_text(kDs20326));
    CHECK(t.generation() > gen);
    const TestKey& k = cached_key("Example.", LDNS_SIGN_ED25519);
    const std::string key_text = dns::ldns::take_text(ldns_rr2str(to_ldns(k.dnskey).get()));
    CHECK_FALSE(t.add_text(key_text));
    const Anchor* a = t.find(name("EXAMPLE."));
    REQUIRE(a != nullptr);
    CHECK(dns::name_to_text(a->zone.view()) == "example.");
    REQUIRE(a->keys.size() == 1);
    CHECK(a->keys[0].rdata == k.dnskey.rdata);
    // The same record twice is kept once.
    CHECK_FALSE(t.add_text(key_text));
    CHECK(t.find(name("example."))->keys.size() == 1);

    auto err = t.add_text("example. IN A 192.0.2.1");
    REQUIRE(err);
    CHECK(*err == "not a DS or DNSKEY record");
    err = t.add_text("example. IN DS 1 8 2 zz");
    REQUIRE(err);
    CHECK_THAT(*err, Catch::Contains("cannot parse"));
    CHECK(t.add_text("garbage"));
    CHECK(t.add_text(""));
    CHECK(t.all().size() == 2);
    CHECK_FALSE(t.add(rec("example. 3600 IN TXT \"x\"")));
}

TEST_CASE("add_file: zone file syntax, and errors naming the line", "[dnssec]") {
    SECTION("a file with comments, $ORIGIN, $TTL, DS and DNSKEY") {
        const TestKey& k = cached_key("example.", LDNS_SIGN_ECDSAP256SHA256);
        const std::string key_text = dns::ldns::take_text(ldns_rr2str(to_ldns(k.dnskey).get()));
        TempFile f("; root and example\n$TTL 3600\n\n" + std::string(kDs20326) +
                   "\n$ORIGIN example.\n" + key_text + "\n");
        TrustAnchors t;
        const auto err = t.add_file(f.path);
        CHECK_FALSE(err);
        if (err) FAIL(*err);
        CHECK(t.find(name("."))->ds.size() == 1);
        CHECK(t.find(name("example."))->keys.size() == 1);
    }
    SECTION("a missing file") {
        TrustAnchors t;
        const auto err = t.add_file("/nonexistent/kresd/root.keys");
        REQUIRE(err);
        CHECK(err->rfind("/nonexistent/kresd/root.keys:", 0) == 0);
        CHECK_THAT(*err, Catch::Contains("No such file"));
    }
    SECTION("a malformed line 3: nothing is added") {
        TempFile f(std::string(kDs20326) + "\n; comment\nexample. IN DS 1 8 2 nothex\n" +
                   ". IN DS 38696 8 2 "
                   "683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16\n");
        TrustAnchors t;
        const auto err = t.add_file(f.path);
        REQUIRE(err);
        CHECK(err->rfind(f.path + ":3: ", 0) == 0);
        CHECK(t.all().empty());
    }
    SECTION("a record of another type on line 2") {
        TempFile f(std::string(kDs20326) + "\nexample. 3600 IN A 192.0.2.1\n");
        TrustAnchors t;
        const auto err = t.add_file(f.path);
        REQUIRE(err);
        CHECK(*err == f.path + ":2: not a DS or DNSKEY record");
        CHECK(t.all().empty());
    }
    SECTION("a file without records") {
        TempFile f("; nothing\n\n");
        TrustAnchors t;
        const auto err = t.add_file(f.path);
        REQUIRE(err);
        CHECK_THAT(*err, Catch::Contains("no DS or DNSKEY"));
    }
}

TEST_CASE("remove, clear, closest and find", "[dnssec]") {
    TrustAnchors t = TrustAnchors::with_root_defaults();
    CHECK_FALSE(t.add_text("example.com. IN DS 1 8 2 "
                           "683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16"));
    CHECK(dns::name_to_text(t.closest(name("www.Example.COM."))->zone.view()) == "example.com.");
    CHECK(dns::name_to_text(t.closest(name("example.com."))->zone.view()) == "example.com.");
    CHECK(dns::name_to_text(t.closest(name("com."))->zone.view()) == ".");
    CHECK(dns::name_to_text(t.closest(name("badexample.com."))->zone.view()) == ".");
    CHECK(t.find(name("com.")) == nullptr);
    const auto gen = t.generation();
    CHECK(t.remove(name("EXAMPLE.com.")));
    CHECK(t.generation() > gen);
    CHECK_FALSE(t.remove(name("example.com.")));
    CHECK(dns::name_to_text(t.closest(name("www.example.com."))->zone.view()) == ".");
    t.clear();
    CHECK(t.closest(name("www.example.com.")) == nullptr);
    CHECK(t.all().empty());
}

TEST_CASE("negative trust anchors cover their name and below", "[dnssec]") {
    TrustAnchors t = TrustAnchors::with_root_defaults();
    CHECK_FALSE(t.is_negative(name("example.com.")));
    const auto gen = t.generation();
    t.set_negative({name("Example.COM.")});
    CHECK(t.generation() > gen);
    CHECK(t.is_negative(name("example.com.")));
    CHECK(t.is_negative(name("a.b.EXAMPLE.com.")));
    CHECK_FALSE(t.is_negative(name("com.")));
    CHECK_FALSE(t.is_negative(name("badexample.com.")));
    REQUIRE(t.negative().size() == 1);
    CHECK(dns::name_to_text(t.negative()[0].view()) == "example.com.");
    t.set_negative({});
    CHECK_FALSE(t.is_negative(name("example.com.")));
}
