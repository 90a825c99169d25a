#include "policy/policy.h"

#include <nlohmann/json.hpp>

#include "core/file.h"
#include "policy/internal.h"

namespace ironroot::policy {

namespace {

std::string_view as_text(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

Status parse_runtime_object(simdjson::ondemand::value v, internal::RuntimePolicyBuilder& b) {
  simdjson::ondemand::object obj;
  if (v.get_object().get(obj))
    return malformed("runtime: expected a Keylime runtime policy object");
  for (auto field : obj) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return internal::json_error(err, "runtime");
    std::string k(key);
    simdjson::ondemand::value fv;
    if (auto err = field.value().get(fv)) return internal::json_error(err, "runtime." + k);
    bool recognised = false;
    IRONROOT_RETURN_IF_ERROR(internal::parse_keylime_member(k, fv, b, "runtime", &recognised));
    if (!recognised) IRONROOT_RETURN_IF_ERROR(internal::skip_value(fv, b.limits(), "runtime." + k));
  }
  return {};
}

Result<PolicyPtr> load_json(std::string_view json, const PolicyLimits& limits,
                            PolicyFormat* format) {
  const RuntimePolicyLimits& rl = limits.runtime;
  if (json.size() > rl.max_document_bytes) {
    return Error(ErrorCode::kResourceLimit, "policy: " + std::to_string(json.size()) +
                                                " bytes (limit " +
                                                std::to_string(rl.max_document_bytes) + ")");
  }
  simdjson::ondemand::parser parser;
  if (auto err = parser.allocate(json.size() + 1, rl.max_depth)) {
    return internal::json_error(err, "policy");
  }
  simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  if (auto err = parser.iterate(padded).get(doc)) return internal::json_error(err, "policy");
  simdjson::ondemand::object obj;
  if (auto err = doc.get_object().get(obj)) {
    return malformed(std::string("policy: the document is not a JSON object (") +
                     simdjson::error_message(err) + ")");
  }
  const std::string sha =
      internal::sha256_hex(Bytes(reinterpret_cast<const uint8_t*>(json.data()), json.size()));
  internal::RuntimePolicyBuilder top(rl);
  top.expect_document_bytes(json.size());
  top.set_source_sha256(sha);
  std::optional<internal::RuntimePolicyBuilder> nested;
  auto out = std::make_shared<Policy>();
  bool ironroot = false, keylime_members = false, saw_digests = false;
  for (auto field : obj) {
    std::string_view key_view;
    if (auto err = field.unescaped_key().get(key_view)) return internal::json_error(err, "policy");
    const std::string key(key_view);
    simdjson::ondemand::value v;
    if (auto err = field.value().get(v)) return internal::json_error(err, key);
    if (key == "payload" || key == "signatures") {
      return Error(ErrorCode::kUnsupported,
                   "policy: a DSSE envelope (signed Keylime policy); verify it with "
                   "keylime-policy and load its payload");
    }
    if (key == "ironroot_policy") {
      int64_t version = 0;
      if (v.get_int64().get(version)) return malformed("ironroot_policy: expected an integer");
      if (version != 1) {
        return Error(ErrorCode::kUnsupported, "ironroot_policy: format version " +
                                                  std::to_string(version) +
                                                  " (this ironroot reads version 1)");
      }
      ironroot = true;
    } else if (key == "measured_boot") {
      simdjson::ondemand::object mb;
      if (v.get_object().get(mb)) return malformed("measured_boot: expected an object");
      std::string_view raw;
      if (auto err = mb.raw_json().get(raw)) return internal::json_error(err, "measured_boot");
      if (raw.size() > limits.max_measured_boot_bytes) {
        return Error(ErrorCode::kResourceLimit, "measured_boot: larger than " +
                                                    std::to_string(limits.max_measured_boot_bytes) +
                                                    " bytes");
      }
      if (json_depth(raw) > rl.max_depth) {
        return Error(ErrorCode::kResourceLimit,
                     "measured_boot: nested deeper than " + std::to_string(rl.max_depth));
      }
      auto j = nlohmann::json::parse(raw, nullptr, false);
      if (j.is_discarded()) return malformed("measured_boot: not valid JSON");
      IRONROOT_ASSIGN_OR_RETURN(out->measured_boot, MeasuredBootPolicy::from_json(j));
    } else if (key == "runtime") {
      nested.emplace(rl);
      nested->expect_document_bytes(json.size());
      nested->set_source_sha256(sha);
      IRONROOT_RETURN_IF_ERROR(parse_runtime_object(v, *nested));
    } else {
      bool recognised = false;
      IRONROOT_RETURN_IF_ERROR(internal::parse_keylime_member(key, v, top, "", &recognised));
      if (!recognised) IRONROOT_RETURN_IF_ERROR(internal::skip_value(v, rl, key));
      keylime_members = keylime_members || recognised;
      saw_digests = saw_digests || key == "digests";
    }
  }
  // Whatever follows the top-level object ("{...}}", "{...} x") makes the document invalid.
  if (const char* rest = nullptr; doc.current_location().get(rest) == simdjson::SUCCESS) {
    return malformed("policy: content after the JSON document at offset " +
                     std::to_string(rest - padded.data()));
  }
  if (ironroot) {
    if (keylime_members) {
      return malformed(
          "policy: Keylime runtime members at the top of an ironroot policy; put them under "
          "\"runtime\"");
    }
    if (nested) {
      IRONROOT_ASSIGN_OR_RETURN(out->runtime, nested->finish());
    }
    if (format) *format = PolicyFormat::kIronroot;
    return PolicyPtr(std::move(out));
  }
  if (!saw_digests) {
    return malformed(
        "policy: neither an ironroot policy (no \"ironroot_policy\") nor a Keylime runtime "
        "policy (no \"digests\")");
  }
  if (out->measured_boot || nested) {
    return malformed("policy: \"measured_boot\"/\"runtime\" need \"ironroot_policy\": 1");
  }
  IRONROOT_ASSIGN_OR_RETURN(out->runtime, top.finish());
  if (format) *format = PolicyFormat::kKeylimeRuntime;
  return PolicyPtr(std::move(out));
}

}  // namespace

const char* policy_format_name(PolicyFormat f) {
  switch (f) {
    case PolicyFormat::kIronroot: return "ironroot";
    case PolicyFormat::kKeylimeRuntime: return "keylime-runtime-policy";
    case PolicyFormat::kKeylimeAllowlist: return "keylime-allowlist";
  }
  return "?";
}

size_t json_depth(std::string_view text) {
  return internal::json_depth(text);
}

std::string Policy::to_json() const {
  nlohmann::json j = {{"ironroot_policy", 1}};
  if (measured_boot) j["measured_boot"] = measured_boot->to_json();
  std::string out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (runtime) {
    out.pop_back();  // '}': the runtime part is already JSON text, spliced in unparsed
    out += ",\"runtime\":" + runtime->to_keylime_json() + "}";
  }
  return out;
}

Result<PolicyPtr> load_policy(Bytes document, std::string_view exclude_list,
                              const PolicyLimits& limits, PolicyFormat* format) {
  std::string_view text = as_text(document);
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (text[first] == '{' || text[first] == '[')) {
    if (!exclude_list.empty()) {
      return invalid_argument(
          "an exclude list goes with a Keylime allowlist, not a JSON policy "
          "(put the expressions in its \"excludes\")");
    }
    return load_json(text, limits, format);
  }
  if (first == std::string_view::npos) return malformed("policy: the document is empty");
  auto out = std::make_shared<Policy>();
  IRONROOT_ASSIGN_OR_RETURN(out->runtime,
                            RuntimePolicy::load_allowlist(text, exclude_list, limits.runtime));
  if (format) *format = PolicyFormat::kKeylimeAllowlist;
  return PolicyPtr(std::move(out));
}

Result<PolicyPtr> load_policy_file(const std::string& path, const std::string& exclude_path,
                                   const PolicyLimits& limits, PolicyFormat* format) {
  IRONROOT_ASSIGN_OR_RETURN(FileContents f,
                            FileContents::open(path, limits.runtime.max_document_bytes));
  std::string excludes;
  if (!exclude_path.empty()) {
    IRONROOT_ASSIGN_OR_RETURN(FileContents e, FileContents::open(exclude_path, 64 << 20));
    excludes.assign(as_text(e.bytes()));
  }
  auto r = load_policy(f.bytes(), excludes, limits, format);
  if (!r) return std::move(r).error().with_context(path);
  return r;
}

Result<MeasuredBootResult> check_event_log(const Policy& policy, Bytes log) {
  if (!policy.measured_boot) {
    return invalid_argument("the policy has no measured_boot part");
  }
  return check_measured_boot(*policy.measured_boot, log);
}

}  // namespace ironroot::policy
