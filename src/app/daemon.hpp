// One kresd process from start to exit.
//
// run() goes through the start in a fixed order, so that READY=1 means
// "every socket is bound and the config applied":
//   1. command line, instance name (exported as SYSTEMD_INSTANCE), rundir;
//   2. inherited sockets (LISTEN_FDS, launchd, -S) and -a/-t listeners;
//   3. the Lua config files;
//   4. the default DNS listeners when nothing asked for one, the control socket;
//   5. readiness notification, then the event loop until SIGTERM/SIGINT.
// Every failure before the loop prints one line and returns non-zero:
// 2 for usage errors, 1 for everything else.
#pragma once

#include <string>
#include <vector>

namespace kresd::app {

int run(const std::vector<std::string>& argv);

} // namespace kresd::app
