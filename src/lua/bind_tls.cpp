// TLS functions of the `net` table, as in Knot Resolver 5:
//   net.tls()                      -> cert_path, key_path (or nil when the
//                                     ephemeral self-signed certificate is used)
//   net.tls(cert_path, key_path)   loads and checks both files now; an error
//                                  names the file. New DoT/DoH connections use
//                                  them, open ones keep their certificate.
//   net.tls_sticket_secret(secret) session tickets keyed from `secret` (at
//                                  least 32 bytes), so instances given the same
//                                  secret resume each other's sessions; without
//                                  an argument, back to the default: the secret
//                                  in <rundir>/tls/ticket.secret, shared by the
//                                  instances of the rundir (Knot Resolver's
//                                  default is a per-process random key).
//   net.tls_sticket_secret_file(path)  the same, with the secret read from a file.
//   net.tls_padding([true|false|N]) EDNS(0) padding of answers over TLS and
//                                  HTTPS to padded queries: true (the
//                                  default) pads to blocks of 468 octets
//                                  (RFC 8467 4.1), N >= 2 to blocks of N,
//                                  false or N < 2 turns it off. Returns the
//                                  setting: true for the default, false, or N.
//
// The settings live in the process-wide net::tls_settings() (see net/tls.hpp
// for why), so the engine does not need to know about TLS. bind_net() must
// run first: these functions are added to its `net` table.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <lua.hpp>
#include <string>
#include <vector>

#include "lua/engine.hpp"
#include "net/tls.hpp"
#include "net/tls_context.hpp"

namespace kresd::lua {

namespace {

constexpr size_t kMinSecret = 32; // as Knot Resolver asks

int l_tls(lua_State* L)
{
    auto creds = net::tls_settings().credentials();
    if (lua_gettop(L) == 0) {
        auto files = creds->files();
        if (!files) {
            lua_pushnil(L);
            return 1;
        }
        lua_pushstring(L, files->first.c_str());
        lua_pushstring(L, files->second.c_str());
        return 2;
    }
    if (lua_type(L, 1) != LUA_TSTRING || lua_type(L, 2) != LUA_TSTRING)
        return luaL_error(L, "net.tls: expected (cert_path, key_path), two file names");
    std::string cert = lua_tostring(L, 1), key = lua_tostring(L, 2);
    try {
        creds->use_files(cert, key);
    } catch (const std::exception& e) {
        return luaL_error(L, "net.tls: %s", e.what());
    }
    lua_pushboolean(L, 1);
    return 1;
}

void set_secret(lua_State* L, const char* fn, std::span<const uint8_t> secret)
{
    if (secret.size() < kMinSecret)
        luaL_error(L, "%s: the secret is shorter than %d bytes", fn, static_cast<int>(kMinSecret));
    try {
        net::tls_settings().credentials()->set_ticket_secret(secret);
    } catch (const std::exception& e) {
        luaL_error(L, "%s: %s", fn, e.what());
    }
}

int l_tls_sticket_secret(lua_State* L)
{
    if (lua_gettop(L) == 0 || lua_isnil(L, 1)) {
        net::tls_settings().credentials()->set_ticket_secret({});
    } else {
        if (lua_type(L, 1) != LUA_TSTRING || lua_gettop(L) != 1)
            return luaL_error(L, "net.tls_sticket_secret takes one parameter: (\"secret string\")");
        size_t len = 0;
        const char* s = lua_tolstring(L, 1, &len);
        set_secret(L, "net.tls_sticket_secret", {reinterpret_cast<const uint8_t*>(s), len});
    }
    lua_pushboolean(L, 1);
    return 1;
}

int l_tls_sticket_secret_file(lua_State* L)
{
    if (lua_type(L, 1) != LUA_TSTRING || lua_gettop(L) != 1)
        return luaL_error(L, "net.tls_sticket_secret_file takes one parameter: (\"file name\")");
    std::string path = lua_tostring(L, 1);
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f)
        return luaL_error(L, "net.tls_sticket_secret_file: cannot read %s: %s", path.c_str(),
                          std::strerror(errno));
    std::vector<uint8_t> secret(1024); // plenty; longer files contribute their first 1 KiB
    size_t n = std::fread(secret.data(), 1, secret.size(), f);
    bool failed = std::ferror(f);
    std::fclose(f);
    if (failed) return luaL_error(L, "net.tls_sticket_secret_file: cannot read %s", path.c_str());
    secret.resize(n);
    std::string fn = "net.tls_sticket_secret_file: " + path;
    set_secret(L, fn.c_str(), secret);
    lua_pushboolean(L, 1);
    return 1;
}

constexpr uint16_t kDefaultPadding = 468;
constexpr lua_Integer kMaxPadding = 4096;

int l_tls_padding(lua_State* L)
{
    uint16_t& pad = engine_of(L).settings().tls_padding;
    if (lua_gettop(L) > 1)
        return luaL_error(L, "net.tls_padding takes one parameter: (true|false|number)");
    if (lua_gettop(L) == 1) {
        if (lua_isboolean(L, 1)) {
            pad = lua_toboolean(L, 1) ? kDefaultPadding : 0;
        } else if (lua_type(L, 1) == LUA_TNUMBER) {
            const lua_Number n = lua_tonumber(L, 1);
            const auto i = static_cast<lua_Integer>(n);
            if (static_cast<lua_Number>(i) != n || i < 0 || i > kMaxPadding)
                return luaL_error(L, "net.tls_padding: %s is not an integer in 0-%d",
                                  lua_tostring(L, 1), static_cast<int>(kMaxPadding));
            pad = i < 2 ? 0 : static_cast<uint16_t>(i);
        } else {
            return luaL_error(L, "net.tls_padding takes one parameter: (true|false|number)");
        }
    }
    if (pad == kDefaultPadding)
        lua_pushboolean(L, 1);
    else if (pad == 0)
        lua_pushboolean(L, 0);
    else
        lua_pushinteger(L, pad);
    return 1;
}

} // namespace

void bind_tls(lua_State* L)
{
    lua_getglobal(L, "net");
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        luaL_error(L, "bind_tls: the net table must exist first (bind_net)");
        return;
    }
    const luaL_Reg fns[] = {{"tls", l_tls},
                            {"tls_sticket_secret", l_tls_sticket_secret},
                            {"tls_sticket_secret_file", l_tls_sticket_secret_file},
                            {"tls_padding", l_tls_padding}};
    for (const auto& f : fns) {
        lua_pushstring(L, f.name);
        lua_pushcfunction(L, f.func);
        lua_rawset(L, -3); // past net's __newindex
    }
    lua_pop(L, 1);
}

} // namespace kresd::lua
