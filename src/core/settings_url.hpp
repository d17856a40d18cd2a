#pragma once
// A URL handed to a client constructor, judged as settings judge the layer's URL variable.

#include <string_view>

#include "poolkit/settings.hpp"
#include "poolkit/url.hpp"

namespace poolkit::detail {

// The URL checked exactly as `layer`'s URL variable (REDIS_URL, MONGODB_URL) is when settings
// are loaded. Throws ConfigError with the loader's own message for that value when it is
// refused (free of secrets, as the loader's messages are).
Url parse_layer_url(Layer layer, std::string_view text);

}  // namespace poolkit::detail
