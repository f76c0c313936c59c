#include "policy/psl.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>

namespace kresd::policy {
namespace {

bool ascii(std::string_view s)
{
    for (unsigned char c : s) {
        if (c >= 0x80)
            return false;
    }
    return true;
}

std::string lower(std::string_view s)
{
    std::string out(s);
    for (char& c : out)
        c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    return out;
}

// `name` without its first label ("" for a single label).
std::string_view parent(std::string_view name)
{
    const size_t dot = name.find('.');
    return dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
}

} // namespace

PublicSuffixList PublicSuffixList::parse(std::string_view text)
{
    PublicSuffixList psl;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos)
            end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        // A rule is the line's first word; "//" starts a comment.
        const size_t ws = line.find_first_of(" \t\r");
        line = line.substr(0, ws);
        if (line.empty() || line.starts_with("//") || !ascii(line))
            continue;
        if (line.starts_with('!'))
            psl.exceptions_.insert(lower(line.substr(1)));
        else if (line.starts_with("*."))
            psl.wildcards_.insert(lower(line.substr(2)));
        else
            psl.rules_.insert(lower(line));
    }
    return psl;
}

PublicSuffixList PublicSuffixList::load(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read the public suffix list " + path);
    std::ostringstream text;
    text << in.rdbuf();
    PublicSuffixList psl = parse(text.str());
    if (psl.size() == 0)
        throw std::runtime_error("no rules in the public suffix list " + path);
    return psl;
}

std::string PublicSuffixList::suffix(std::string_view name) const
{
    const std::string low = lower(name);
    // Longest candidate first: the first rule that matches is the longest.
    for (std::string_view cand = low; !cand.empty(); cand = parent(cand)) {
        const std::string key(cand);
        if (exceptions_.count(key) != 0)
            return std::string(parent(cand));
        if (rules_.count(key) != 0)
            return key;
        const std::string_view up = parent(cand);
        if (!up.empty() && wildcards_.count(std::string(up)) != 0)
            return key;
    }
    const size_t dot = low.rfind('.');
    return dot == std::string::npos ? low : low.substr(dot + 1); // the default rule "*"
}

std::optional<std::string> PublicSuffixList::registrable(std::string_view name) const
{
    const std::string low = lower(name);
    const std::string ps = suffix(low);
    if (low.size() <= ps.size())
        return std::nullopt;
    // One label more than the suffix.
    const std::string_view head = std::string_view(low).substr(0, low.size() - ps.size() - 1);
    const size_t dot = head.rfind('.');
    return low.substr(dot == std::string_view::npos ? 0 : dot + 1);
}

std::string default_psl_path()
{
    for (const char* p : {"/usr/share/publicsuffix/public_suffix_list.dat",
                          "/usr/share/publicsuffix/effective_tld_names.dat",
                          "/usr/local/share/publicsuffix/public_suffix_list.dat"}) {
        struct stat st{};
        if (::stat(p, &st) == 0 && S_ISREG(st.st_mode))
            return p;
    }
    return {};
}

unsigned psl_slice(std::string_view registrable, int64_t seed, unsigned slices)
{
    if (slices == 0)
        return 1;
    uint64_t s = static_cast<uint64_t>(seed);
    for (unsigned char c : registrable)
        s += c;
    s %= 0x80000000ull;
    const uint64_t r = (1103515245ull * s + 12345ull) % 0x10000ull;
    return static_cast<unsigned>(1 + r % slices);
}

} // namespace kresd::policy
