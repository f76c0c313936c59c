// The Public Suffix List (https://publicsuffix.org/): which part of a name
// a registry hands out, so that names of one registrant can be told apart
// from those of another (policy.slice_randomize_psl()).
//
// Read from the list's text form (Debian's package publicsuffix installs
// it as /usr/share/publicsuffix/public_suffix_list.dat). Rules of both
// sections (ICANN and private) count, as in libpsl's default; rules with
// non-ASCII labels are skipped (DNS names carry their A-label form).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace kresd::policy {

class PublicSuffixList {
public:
    // Throws std::runtime_error naming the file when it cannot be read.
    static PublicSuffixList load(const std::string& path);
    // From the list's text (tests).
    static PublicSuffixList parse(std::string_view text);

    // The public suffix of `name` (lower-case text without the final dot,
    // "www.example.co.uk" -> "co.uk"): the longest matching rule, an
    // exception rule taking one label off; no rule: the last label.
    std::string suffix(std::string_view name) const;
    // The registrable domain: the public suffix and one label more
    // ("example.co.uk"); nullopt when `name` is a public suffix itself.
    std::optional<std::string> registrable(std::string_view name) const;
    size_t size() const { return rules_.size() + wildcards_.size() + exceptions_.size(); }

private:
    std::unordered_set<std::string> rules_, wildcards_, exceptions_;
};

// The list's usual places; the first that exists, or "" when none does.
std::string default_psl_path();

// Knot Resolver's policy.slice_randomize_psl() choice: one of `slices`
// (1-based) for a registrable domain, the same for a given `seed`: the
// seed plus the domain's bytes, through the ANSI C linear congruential
// step.
unsigned psl_slice(std::string_view registrable, int64_t seed, unsigned slices);

} // namespace kresd::policy
