// APM callbacks → command metrics and monitoring counters.

#include <chrono>

#include "mongo_detail.hpp"

namespace poolkit::mongo::detail {
namespace {

template <class Event>
Telemetry& owner(const Event* event, void* (*get_context)(const Event*)) {
  return *static_cast<Telemetry*>(get_context(event));
}

std::chrono::nanoseconds micros(std::int64_t us) {
  return std::chrono::microseconds(us);
}

}  // namespace

Telemetry::Telemetry() : callbacks_(mongoc_apm_callbacks_new()) {
  mongoc_apm_set_command_succeeded_cb(callbacks_, &Telemetry::on_command_succeeded);
  mongoc_apm_set_command_failed_cb(callbacks_, &Telemetry::on_command_failed);
  mongoc_apm_set_server_heartbeat_succeeded_cb(callbacks_, &Telemetry::on_heartbeat_succeeded);
  mongoc_apm_set_server_heartbeat_failed_cb(callbacks_, &Telemetry::on_heartbeat_failed);
  mongoc_apm_set_server_changed_cb(callbacks_, &Telemetry::on_server_changed);
  mongoc_apm_set_topology_changed_cb(callbacks_, &Telemetry::on_topology_changed);
}

Telemetry::~Telemetry() {
  mongoc_apm_callbacks_destroy(callbacks_);
}

// libmongoc copies the callbacks into the client; the context pointer must outlive it.
void Telemetry::attach(mongoc_client_t* client) {
  mongoc_client_set_apm_callbacks(client, callbacks_, this);
}

MonitoringCounters Telemetry::monitoring() const noexcept {
  return {.heartbeats_succeeded = heartbeats_succeeded_.load(std::memory_order_relaxed),
          .heartbeats_failed = heartbeats_failed_.load(std::memory_order_relaxed),
          .server_description_changes = server_changes_.load(std::memory_order_relaxed),
          .topology_changes = topology_changes_.load(std::memory_order_relaxed)};
}

void Telemetry::on_command_succeeded(const mongoc_apm_command_succeeded_t* event) {
  owner(event, mongoc_apm_command_succeeded_get_context)
      .commands_.record(mongoc_apm_command_succeeded_get_command_name(event), "ok",
                        micros(mongoc_apm_command_succeeded_get_duration(event)));
}

void Telemetry::on_command_failed(const mongoc_apm_command_failed_t* event) {
  bson_error_t error;
  mongoc_apm_command_failed_get_error(event, &error);
  const std::string_view outcome = is_network(classify(error)) ? "network_error" : "server_error";
  owner(event, mongoc_apm_command_failed_get_context)
      .commands_.record(mongoc_apm_command_failed_get_command_name(event), outcome,
                        micros(mongoc_apm_command_failed_get_duration(event)));
}

void Telemetry::on_heartbeat_succeeded(const mongoc_apm_server_heartbeat_succeeded_t* event) {
  owner(event, mongoc_apm_server_heartbeat_succeeded_get_context)
      .heartbeats_succeeded_.fetch_add(1, std::memory_order_relaxed);
}

void Telemetry::on_heartbeat_failed(const mongoc_apm_server_heartbeat_failed_t* event) {
  owner(event, mongoc_apm_server_heartbeat_failed_get_context)
      .heartbeats_failed_.fetch_add(1, std::memory_order_relaxed);
}

void Telemetry::on_server_changed(const mongoc_apm_server_changed_t* event) {
  owner(event, mongoc_apm_server_changed_get_context)
      .server_changes_.fetch_add(1, std::memory_order_relaxed);
}

void Telemetry::on_topology_changed(const mongoc_apm_topology_changed_t* event) {
  owner(event, mongoc_apm_topology_changed_get_context)
      .topology_changes_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace poolkit::mongo::detail
