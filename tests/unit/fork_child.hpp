// fork() for tests: a child that runs a function and exits, with a pipe
// back to the parent. Only for tests tagged [process].
#pragma once

#include "catch.hpp"

#include <sys/wait.h>
#include <unistd.h>

namespace kresd::test {

struct Child {
    pid_t pid = -1;
    int from_child = -1; // read end of the child's pipe; the parent closes it
};

// Runs child(fd) in a fork()ed process, fd the write end of a pipe to the
// parent, and exits the child with child's return value (2 if it throws;
// _exit() inside it works too). The parent gets the pid and the read end.
template <class F> Child fork_child(F&& child) {
    int pfd[2];
    REQUIRE(pipe(pfd) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        int code = 2;
        try {
            code = child(pfd[1]);
        } catch (...) {
        }
        _exit(code);
    }
    close(pfd[1]);
    return {pid, pfd[0]};
}

// Closes the pipe, waits for a child that must exit by itself (not by a
// signal) and returns its exit status.
inline int exit_status(const Child& c) {
    close(c.from_child);
    int status = 0;
    REQUIRE(waitpid(c.pid, &status, 0) == c.pid);
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
}

} // namespace kresd::test
