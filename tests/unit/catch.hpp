// One include for Catch2 v2 (Debian 12) and v3 (newer distributions).
#pragma once
#ifdef KRESD_CATCH3
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
