// net.tls() and net.tls_sticket_secret() on a bare Lua state with a `net`
// table, as bind_net() leaves it; the settings land in net::tls_settings().
#include "catch.hpp"

#include <cstdlib>
#include <fstream>
#include <lua.hpp>
#include <string>
#include <sys/stat.h>

#include "net/tls.hpp"
#include "net/tls_context.hpp"

namespace kresd::lua {
void bind_tls(lua_State* L);
}

using namespace kresd;

namespace {

struct LuaFixture {
    lua_State* L = luaL_newstate();
    std::string dir;

    LuaFixture()
    {
        char tmpl[] = "/tmp/kresd-bindtls-XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        dir = tmpl;
        REQUIRE(::mkdir((dir + "/other").c_str(), 0700) == 0);
        luaL_openlibs(L);
        lua_newtable(L);
        lua_setglobal(L, "net");
        lua::bind_tls(L);
        net::tls_settings().reset();
        net::tls_settings().credentials()->set_rundir(dir);
    }
    ~LuaFixture()
    {
        net::tls_settings().reset();
        lua_close(L);
        std::system(("rm -rf '" + dir + "'").c_str());
    }

    // Runs a chunk; returns its results joined by "|", or "error: ..." text.
    std::string run(const std::string& code)
    {
        int top = lua_gettop(L);
        if (luaL_loadstring(L, code.c_str()) != 0 || lua_pcall(L, 0, LUA_MULTRET, 0) != 0) {
            std::string e = std::string("error: ") + lua_tostring(L, -1);
            lua_settop(L, top);
            return e;
        }
        std::string out;
        for (int i = top + 1; i <= lua_gettop(L); ++i) {
            if (!out.empty()) out += "|";
            out += lua_isnil(L, i)       ? "nil"
                   : lua_isboolean(L, i) ? (lua_toboolean(L, i) ? "true" : "false")
                                         : lua_tostring(L, i);
        }
        lua_settop(L, top);
        return out;
    }
};

} // namespace

TEST_CASE("net.tls() sets and reports the certificate files", "[tls]")
{
    LuaFixture f;
    CHECK(f.run("return net.tls()") == "nil");
    // A pair to load: an ephemeral one made in a subdirectory.
    net::Rng rng;
    auto pair = net::load_or_create_ephemeral(f.dir + "/other", rng, std::time(nullptr), "h");
    std::string crt = pair->cert_path, key = pair->key_path;

    CHECK(f.run("return net.tls('" + crt + "', '" + key + "')") == "true");
    CHECK(f.run("return net.tls()") == crt + "|" + key);
    CHECK(net::tls_settings().credentials()->files());

    std::string missing = f.dir + "/missing.pem";
    auto err = f.run("return net.tls('" + missing + "', '" + key + "')");
    CHECK_THAT(err, Catch::Contains("net.tls:"));
    CHECK_THAT(err, Catch::Contains(missing));
    CHECK(f.run("return net.tls()") == crt + "|" + key); // unchanged
    // The key of the certificate is the other argument.
    err = f.run("return net.tls('" + crt + "', '" + crt + "')");
    CHECK_THAT(err, Catch::Contains("key " + crt));
    CHECK_THAT(f.run("return net.tls('only-one')"), Catch::Contains("two file names"));
    CHECK_THAT(f.run("return net.tls(1, {})"), Catch::Contains("two file names"));
}

TEST_CASE("net.tls_sticket_secret() keys the tickets from a secret", "[tls]")
{
    LuaFixture f;
    auto creds = net::tls_settings().credentials();
    CHECK_THAT(f.run("return net.tls_sticket_secret('too short')"),
               Catch::Contains("shorter than 32 bytes"));
    CHECK_FALSE(creds->has_explicit_ticket_secret());
    CHECK(f.run("return net.tls_sticket_secret(string.rep('x', 32))") == "true");
    CHECK(creds->has_explicit_ticket_secret());
    std::vector<uint8_t> xs(32, 'x');
    CHECK(creds->ticket_keys()->derive(7).aes == net::TicketKeys::derive(xs, 7).aes);
    CHECK(f.run("return net.tls_sticket_secret()") == "true");
    CHECK_FALSE(creds->has_explicit_ticket_secret());
    CHECK_THAT(f.run("return net.tls_sticket_secret({})"), Catch::Contains("one parameter"));

    std::string file = f.dir + "/secret.bin";
    std::ofstream(file, std::ios::binary) << std::string(48, 'z');
    CHECK(f.run("return net.tls_sticket_secret_file('" + file + "')") == "true");
    std::vector<uint8_t> zs(48, 'z');
    CHECK(creds->ticket_keys()->derive(7).aes == net::TicketKeys::derive(zs, 7).aes);
    std::ofstream(file, std::ios::binary) << "short";
    CHECK_THAT(f.run("return net.tls_sticket_secret_file('" + file + "')"),
               Catch::Contains("shorter than 32 bytes"));
    CHECK_THAT(f.run("return net.tls_sticket_secret_file('" + f.dir + "/none')"),
               Catch::Contains(f.dir + "/none"));
}

TEST_CASE("the functions are added to net, past its __newindex", "[tls]")
{
    LuaFixture f;
    // A net table whose __newindex refuses everything, like a strict one would.
    f.run("net = setmetatable({}, {__newindex = function() error('no') end})");
    lua::bind_tls(f.L);
    CHECK(f.run("return type(rawget(net, 'tls')), type(net.tls_sticket_secret)") ==
          "function|function");
}
