#include "dns/zone_file.hpp"

#include <algorithm>

namespace kresd::dns {

std::optional<std::string> read_zone_file(
    std::FILE* f, const std::string& path, const char* origin, uint32_t default_ttl,
    const std::function<std::string(const ldns_rr* rr, int line)>& each, int* lines)
{
    auto at = [&](int line, const std::string& why) {
        return path + ":" + std::to_string(line) + ": " + why;
    };
    // ldns counts the newline after a record, and skips comments and
    // blank lines before it: the record's last line is the count minus
    // one, unless the file ends without a newline.
    bool ends_with_newline = true;
    if (std::fseek(f, -1, SEEK_END) == 0) ends_with_newline = std::fgetc(f) == '\n';
    std::rewind(f);
    ldns::ParserNames names;
    if (origin != nullptr) names.origin = ldns_dname_new_frm_str(origin);
    int line = 1;
    auto last_line = [&](int before) {
        const bool unterminated = std::feof(f) && !ends_with_newline;
        return std::max(before, unterminated ? line : line - 1);
    };
    for (;;) {
        ldns_rr* raw = nullptr;
        const int line_before = line;
        const ldns_status st =
            ldns_rr_new_frm_fp_l(&raw, f, &default_ttl, &names.origin, &names.prev, &line);
        const ldns::Rr rr(raw);
        if (st == LDNS_STATUS_SYNTAX_INCLUDE) return at(line_before, "$INCLUDE is not supported");
        if (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL ||
            st == LDNS_STATUS_SYNTAX_ORIGIN) {
            if (std::feof(f)) break;
            continue;
        }
        if (st != LDNS_STATUS_OK || !rr) {
            if (std::feof(f) && !rr && st == LDNS_STATUS_SYNTAX_ERR && line == line_before)
                break; // nothing more to read
            return at(last_line(line_before), ldns_get_errorstr_by_id(st));
        }
        const int end = last_line(line_before);
        if (std::string why = each(rr.get(), end); !why.empty()) return at(end, why);
        if (std::feof(f)) break;
    }
    if (lines != nullptr) *lines = line;
    if (std::ferror(f)) return at(line, "read error");
    return std::nullopt;
}

} // namespace kresd::dns
