#pragma once
// The tests start their servers with the same launchers as `poolkit demo`.

#include "local_servers/process.hpp"

namespace poolkit::test {
using namespace poolkit::local;
}  // namespace poolkit::test
