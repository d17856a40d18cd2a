#pragma once
// A client's Options and its layer's settings struct share most fields. Each client names the
// shared fields once, as pairs of member pointers, and copies them both ways with these
// functions, so a field added to one list cannot be copied one way and forgotten the other.

#include <tuple>
#include <utility>

namespace poolkit::detail {

// Copies every `settings member ← options member` of `fields` (a tuple of member-pointer
// pairs, settings first).
template <class Settings, class Options, class... Pairs>
void copy_to_settings(Settings& settings, const Options& options,
                      const std::tuple<Pairs...>& fields) {
  std::apply([&](const auto&... pair) { ((settings.*pair.first = options.*pair.second), ...); },
             fields);
}

template <class Settings, class Options, class... Pairs>
void copy_to_options(Options& options, const Settings& settings,
                     const std::tuple<Pairs...>& fields) {
  std::apply([&](const auto&... pair) { ((options.*pair.second = settings.*pair.first), ...); },
             fields);
}

}  // namespace poolkit::detail
