// launchd socket activation (macOS). A job's plist lists its sockets in a
// Sockets dictionary; launchd binds them before starting the job and hands
// over the descriptors of one entry per launch_activate_socket() call. We ask
// for one entry per kind, so the plist keys are simply "dns", "tls", "doh2"
// and "control". Everywhere else this finds nothing.
#include "activation/activation.hpp"

#ifdef __APPLE__
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "activation/socket_check.hpp"

// From <launch.h>. Declared here rather than including the header, whose other
// (deprecated) declarations would only bring warnings.
extern "C" int launch_activate_socket(const char* name, int** fds, size_t* cnt);
#endif

namespace kresd::activation {

#ifdef __APPLE__

namespace {

// launch_activate_socket() allocates the array with malloc(); we free it.
struct FreeDeleter {
    void operator()(int* p) const noexcept { std::free(p); }
};

} // namespace

Collected from_launchd() {
    Collected out;
    bool have_control = false;
    for (Kind kind : {Kind::dns, Kind::tls, Kind::doh2, Kind::control}) {
        const char* key = kind_name(kind);
        int* raw = nullptr;
        size_t count = 0;
        int rc = launch_activate_socket(key, &raw, &count);
        std::unique_ptr<int[], FreeDeleter> fds(raw);

        // ESRCH: this process was not started by launchd at all.
        if (rc == ESRCH) return out;
        // ENOENT: the plist has no Sockets entry under this key.
        if (rc == ENOENT) continue;
        if (rc != 0) {
            throw ActivationError(std::string("launchd socket '") + key +
                                  "': cannot activate: " + std::strerror(rc));
        }
        if (!fds) count = 0;

        for (size_t i = 0; i < count; ++i) {
            const int fd = fds[i];
            const std::string origin =
                "fd " + std::to_string(fd) + " from launchd socket '" + key + "'";
            if (kind == Kind::control) {
                if (have_control) {
                    throw ActivationError(origin + ": at most one control socket (the plist entry "
                                                   "'control' yields more than one)");
                }
                have_control = true;
            }
            out.sockets.push_back(detail::inspect(fd, kind, key, origin));
        }
    }
    return out;
}

#else

Collected from_launchd() {
    return {};
}

#endif

} // namespace kresd::activation
