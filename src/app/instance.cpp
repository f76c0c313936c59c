#include "app/instance.hpp"

#include <stdexcept>

namespace kresd::app {

std::string check_instance_name(std::string_view name)
{
    if (name.empty()) return "it is empty";
    if (name.size() > 64) return "it is longer than 64 bytes";
    if (name == "." || name == "..") return "it is '.' or '..'";
    for (unsigned char c : name) {
        if (c == '/') return "it contains '/'";
        if (c < 0x20 || c == 0x7f) return "it contains a control character";
    }
    return {};
}

Identity resolve_identity(const std::optional<std::string>& flag, const char* systemd_instance,
                          long pid)
{
    Identity id;
    std::string source;
    if (flag) {
        id.name = *flag;
        source = "--instance";
    } else if (systemd_instance && *systemd_instance) {
        id.name = systemd_instance;
        source = "SYSTEMD_INSTANCE";
    } else {
        id.name = std::to_string(pid);
        id.from_pid = true;
        return id;
    }
    if (auto why = check_instance_name(id.name); !why.empty()) {
        std::string shown;
        for (unsigned char c : id.name.substr(0, 80))
            shown += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
        throw std::runtime_error("invalid instance name '" + shown + "' from " + source + ": " +
                                 why + " (use letters, digits, '-', '_', '.', '@')");
    }
    return id;
}

} // namespace kresd::app
