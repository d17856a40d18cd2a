#include <fmt/format.h>

#include <utility>

#include "poolkit/error.hpp"
#include "poolkit/mongo.hpp"

namespace poolkit::mongo {
namespace {

std::string json_of(const bson_t* document, char* (*as_json)(const bson_t*, size_t*)) {
  char* text = as_json(document, nullptr);
  if (text == nullptr) throw ProtocolError(Backend::mongo, "a BSON document is not valid");
  std::string result(text);
  bson_free(text);
  return result;
}

std::optional<bson_iter_t> find(const bson_t* document, std::string_view dotted_key) {
  bson_iter_t iter;
  bson_iter_t found;
  const std::string key(dotted_key);
  if (bson_iter_init(&iter, document) && bson_iter_find_descendant(&iter, key.c_str(), &found)) {
    return found;
  }
  return std::nullopt;
}

}  // namespace

Document::Document() : bson_(bson_new()) {}

Document::Document(bson_t* owned) noexcept : bson_(owned) {}

Document::Document(Document&& other) noexcept : bson_(std::exchange(other.bson_, nullptr)) {}

Document& Document::operator=(Document&& other) noexcept {
  if (this != &other) {
    if (bson_ != nullptr) bson_destroy(bson_);
    bson_ = std::exchange(other.bson_, nullptr);
  }
  return *this;
}

Document::Document(const Document& other) : bson_(bson_copy(other.get())) {}

Document& Document::operator=(const Document& other) {
  if (this != &other) *this = Document(other);
  return *this;
}

Document::~Document() {
  if (bson_ != nullptr) bson_destroy(bson_);
}

Document Document::from_json(std::string_view json) {
  bson_error_t error;
  bson_t* parsed = bson_new_from_json(reinterpret_cast<const std::uint8_t*>(json.data()),
                                      static_cast<ssize_t>(json.size()), &error);
  if (parsed == nullptr) {
    throw ProtocolError(Backend::mongo,
                        fmt::format("not valid extended JSON: {}; pass one JSON object such as "
                                    "{{\"ping\": 1}}",
                                    error.message));
  }
  return Document(parsed);
}

Document Document::copy_of(const bson_t& document) {
  return Document(bson_copy(&document));
}

std::string Document::to_json() const {
  return json_of(get(), bson_as_relaxed_extended_json);
}

std::string Document::to_canonical_json() const {
  return json_of(get(), bson_as_canonical_extended_json);
}

bool Document::has(std::string_view dotted_key) const {
  return find(get(), dotted_key).has_value();
}

std::optional<double> Document::number(std::string_view dotted_key) const {
  auto iter = find(get(), dotted_key);
  if (!iter || !BSON_ITER_HOLDS_NUMBER(&*iter)) return std::nullopt;
  return bson_iter_as_double(&*iter);
}

std::optional<std::string> Document::string(std::string_view dotted_key) const {
  auto iter = find(get(), dotted_key);
  if (!iter || !BSON_ITER_HOLDS_UTF8(&*iter)) return std::nullopt;
  std::uint32_t length = 0;
  const char* text = bson_iter_utf8(&*iter, &length);
  return std::string(text, length);
}

}  // namespace poolkit::mongo
