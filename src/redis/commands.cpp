// What the typed helpers of redis_commands.hpp share that is no template: SET's words and the
// conversions of array replies.

#include "poolkit/redis_commands.hpp"

namespace poolkit::redis {

std::vector<Arg> set_command(std::string_view key, std::string_view value, SetOptions options) {
  std::vector<Arg> args{"SET", key, value};
  if (options.ttl.count() > 0) {
    const bool whole_seconds = options.ttl.count() % 1000 == 0;
    args.emplace_back(whole_seconds ? "EX" : "PX");
    args.emplace_back(whole_seconds ? options.ttl.count() / 1000 : options.ttl.count());
  }
  if (options.condition == SetCondition::if_not_exists) args.emplace_back("NX");
  if (options.condition == SetCondition::if_exists) args.emplace_back("XX");
  return args;
}

std::vector<std::optional<std::string>> optional_strings_of(const Reply& reply) {
  std::vector<std::optional<std::string>> values;
  values.reserve(reply.as_array().size());
  for (const Reply& element : reply.as_array()) values.push_back(element.as_optional_string());
  return values;
}

std::vector<std::string> strings_of(const Reply& reply) {
  std::vector<std::string> values;
  values.reserve(reply.as_array().size());
  for (const Reply& element : reply.as_array()) values.push_back(element.as_string());
  return values;
}

std::map<std::string, std::string> string_map_of(const Reply& reply) {
  const std::vector<std::string> flat = strings_of(reply);
  std::map<std::string, std::string> fields;
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2) fields[flat[i]] = flat[i + 1];
  return fields;
}

}  // namespace poolkit::redis
