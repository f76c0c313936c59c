// Catch2 v2 needs one translation unit that defines main(); v3 links it in.
#ifndef KRESD_CATCH3
#define CATCH_CONFIG_MAIN
#include "catch.hpp"
#endif
