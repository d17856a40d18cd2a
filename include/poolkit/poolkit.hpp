#pragma once
// Everything a service needs in one include: the registry (poolkit::pools()) and the four
// clients it hands out. Include the single headers instead to compile less: pools.hpp alone
// declares the clients without their definitions, and only mongo.hpp brings libmongoc's headers.

#include "poolkit/http.hpp"            // IWYU pragma: export
#include "poolkit/mongo.hpp"           // IWYU pragma: export
#include "poolkit/pools.hpp"           // IWYU pragma: export
#include "poolkit/redis.hpp"           // IWYU pragma: export
#include "poolkit/redis_async.hpp"     // IWYU pragma: export
#include "poolkit/redis_cluster.hpp"   // IWYU pragma: export
#include "poolkit/redis_sentinel.hpp"  // IWYU pragma: export
