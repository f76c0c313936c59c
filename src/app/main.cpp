#include <string>
#include <vector>

#include "app/daemon.hpp"

int main(int argc, char** argv)
{
    std::vector<std::string> args(argv, argv + argc);
    return kresd::app::run(args);
}
