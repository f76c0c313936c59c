// The public suffix list and policy.slice_randomize_psl()'s choice.
#include <set>

#include "catch.hpp"
#include "policy/psl.hpp"

using kresd::policy::PublicSuffixList;

TEST_CASE("public suffix list: rules, wildcards, exceptions", "[policy][psl]")
{
    const auto psl = PublicSuffixList::parse("// ===BEGIN ICANN DOMAINS===\n"
                                             "com\nuk\nco.uk\n*.ck\n!www.ck\n"
                                             "// a comment\n\n"
                                             "jp\n\xe6\x9d\xb1\xe4\xba\xac.jp\n" // non-ASCII: skipped
                                             "blogspot.com  trailing words are ignored\n");
    CHECK(psl.size() == 7);
    CHECK(psl.suffix("www.example.co.uk") == "co.uk");
    CHECK(psl.registrable("www.example.co.uk") == "example.co.uk");
    CHECK(psl.registrable("Example.CO.uk") == "example.co.uk");
    CHECK_FALSE(psl.registrable("co.uk"));
    CHECK(psl.registrable("a.b.blogspot.com") == "b.blogspot.com");
    // *.ck: every label under ck is a suffix, but !www.ck is not.
    CHECK(psl.suffix("a.b.ck") == "b.ck");
    CHECK(psl.registrable("a.b.ck") == "a.b.ck");
    CHECK(psl.suffix("www.ck") == "ck");
    CHECK(psl.registrable("x.www.ck") == "www.ck");
    // No rule: the default rule "*" (the last label).
    CHECK(psl.suffix("host.example.zz") == "zz");
    CHECK(psl.registrable("host.example.zz") == "example.zz");
    CHECK_FALSE(psl.registrable("zz"));
}

TEST_CASE("slices by registrable domain", "[policy][psl]")
{
    using kresd::policy::psl_slice;
    // Deterministic: the seed plus the bytes, one LCG step, 1-based.
    CHECK(psl_slice("example.com", 1, 4) == psl_slice("example.com", 1, 4));
    std::set<unsigned> seen;
    for (int i = 0; i < 200; ++i) {
        const unsigned s = psl_slice("d" + std::to_string(i) + ".example", 7, 3);
        CHECK(s >= 1);
        CHECK(s <= 3);
        seen.insert(s);
    }
    CHECK(seen.size() == 3); // every slice gets some
    CHECK(psl_slice("x", 0, 1) == 1);
}

TEST_CASE("the installed public suffix list", "[policy][psl]")
{
    const std::string path = kresd::policy::default_psl_path();
    if (path.empty()) {
        WARN("no public suffix list installed (package publicsuffix)");
        return;
    }
    const auto psl = PublicSuffixList::load(path);
    CHECK(psl.size() > 1000);
    CHECK(psl.registrable("www.bbc.co.uk") == "bbc.co.uk");
    CHECK_THROWS(PublicSuffixList::load("/nonexistent/list.dat"));
}
