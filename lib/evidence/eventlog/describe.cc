#include "evidence/eventlog/describe.h"

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/hex.h"
#include "core/text.h"
#include "crypto/digest.h"
#include "evidence/eventlog/event_types.h"
#include "evidence/eventlog/uefi.h"

namespace ironroot::evidence::eventlog {
namespace {

using nlohmann::json;

std::string hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string alg_name(uint16_t alg_id) {
  if (auto alg = crypto::hash_alg_from_id(alg_id)) return std::string(crypto::hash_alg_name(*alg));
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%04x", alg_id);
  return buf;
}

bool is_printable_ascii(Bytes b) {
  size_t n = b.size();
  while (n > 0 && b[n - 1] == 0) --n;
  if (n == 0) return false;
  for (size_t i = 0; i < n; ++i) {
    bool space = b[i] == '\n' || b[i] == '\r' || b[i] == '\t';  // SbatLevel ends in a newline
    if ((b[i] < 0x20 && !space) || b[i] > 0x7e) return false;
  }
  return true;
}

json text_or_hex(Bytes data) {
  json j;
  if (is_printable_ascii(data)) {
    j["string"] = payload_text(data);
  } else {
    j["hex"] = to_hex(data);
  }
  return j;
}

json spec_id_json(const SpecIdEvent& s) {
  json j;
  j["signature"] = printable(s.signature);
  j["platform_class"] = s.platform_class;
  j["spec_version"] = std::to_string(s.spec_version_major) + "." +
                      std::to_string(s.spec_version_minor) + " errata " +
                      std::to_string(s.spec_errata);
  j["uintn_size"] = s.uintn_size;
  json algs = json::array();
  for (const auto& a : s.algorithms) {
    algs.push_back({{"alg", alg_name(a.alg_id)}, {"digest_size", a.digest_size}});
  }
  j["algorithms"] = std::move(algs);
  j["vendor_info"] = to_hex(s.vendor_info);
  return j;
}

json no_action_json(const Event& ev) {
  Bytes d = ev.data;
  auto starts = [&](const char* sig) {
    size_t n = std::strlen(sig) + 1;
    return d.size() >= n && std::memcmp(d.data(), sig, n) == 0;
  };
  if (starts("Spec ID Event03") || starts("Spec ID Event00")) {
    auto s = parse_spec_id(d, ev.offset);
    if (s) return json{{"spec_id", spec_id_json(*s)}};
    return json{{"decode_error", s.error().message()}, {"hex", to_hex(d)}};
  }
  if (starts("StartupLocality") && d.size() == 17) {
    return json{{"startup_locality", d[16]}};
  }
  for (const char* sig : {"SP800-155 Event", "SP800-155 Event2", "SP800-155 Event3",
                          "NvIndexInstance", "NvIndexDynamic"}) {
    if (starts(sig)) {
      return json{{"signature", sig}, {"hex", to_hex(d.subspan(std::strlen(sig) + 1))}};
    }
  }
  return json{{"vendor_data", text_or_hex(d)}};
}

json signature_lists_json(const std::vector<SignatureList>& lists) {
  json out = json::array();
  for (const auto& l : lists) {
    json jl;
    jl["type"] = l.type_name.empty() ? l.type : l.type_name;
    jl["count"] = l.entries.size();
    json entries = json::array();
    for (const auto& e : l.entries) {
      json je{{"owner", e.owner}};
      if (!e.subject.empty()) {
        je["subject"] = e.subject;
        je["issuer"] = e.issuer;
        je["serial"] = e.serial;
      }
      if (!e.sha256.empty()) je["sha256"] = e.sha256;
      if (l.type_name.empty()) je["hex"] = to_hex(e.data);
      entries.push_back(std::move(je));
    }
    jl["entries"] = std::move(entries);
    out.push_back(std::move(jl));
  }
  return out;
}

bool is_boot_option_name(const std::string& name) {
  if (name.size() != 8 || name.compare(0, 4, "Boot") != 0) return false;
  for (size_t i = 4; i < 8; ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(name[i]))) return false;
  }
  return true;
}

json device_path_json(Bytes path, uint64_t base) {
  auto text = device_path_to_text(path, base);
  if (text) return *text;
  return json{{"decode_error", text.error().message()}, {"hex", to_hex(path)}};
}

json variable_json(const Event& ev) {
  auto var = parse_variable_data(ev.data, ev.offset);
  if (!var) return json{{"decode_error", var.error().message()}, {"hex", to_hex(ev.data)}};
  json j{{"guid", var->guid}, {"name", printable(var->name)}, {"data_size", var->data.size()}};
  const std::string& n = var->name;
  const uint64_t data_at = ev.offset + (ev.data.size() - var->data.size());
  if ((n == "SecureBoot" || n == "SetupMode" || n == "AuditMode" || n == "DeployedMode") &&
      var->data.size() <= 1) {
    j["enabled"] = !var->data.empty() && var->data[0] != 0;
    if (var->data.empty()) j["note"] = "empty: the variable does not exist";
    return j;
  }
  if (n == "BootOrder") {
    json order = json::array();
    for (size_t i = 0; i + 1 < var->data.size(); i += 2) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "Boot%04X", ByteReader::load_le16(var->data.data() + i));
      order.push_back(buf);
    }
    j["boot_order"] = std::move(order);
    return j;
  }
  if (is_boot_option_name(n)) {
    auto opt = parse_load_option(var->data, data_at);
    if (!opt) {
      j["decode_error"] = opt.error().message();
      j["hex"] = to_hex(var->data);
      return j;
    }
    j["attributes"] = hex64(opt->attributes);
    j["active"] = (opt->attributes & 1) != 0;
    j["description"] = printable(opt->description);
    j["device_path"] = device_path_json(opt->device_path, data_at);
    if (!opt->optional_data.empty()) j["optional_data"] = to_hex(opt->optional_data);
    return j;
  }
  if (ev.type == EV_EFI_VARIABLE_AUTHORITY) {
    // Usually one EFI_SIGNATURE_DATA (owner GUID + certificate); shim logs bare certificates.
    std::string subject, issuer, serial;
    if (var->data.size() > 16 && describe_x509(var->data.subspan(16), &subject, &issuer, &serial)) {
      j["owner"] = guid_to_string(var->data.data());
      j["certificate"] = {{"subject", subject}, {"issuer", issuer}, {"serial", serial}};
      return j;
    }
    if (describe_x509(var->data, &subject, &issuer, &serial)) {
      j["certificate"] = {{"subject", subject}, {"issuer", issuer}, {"serial", serial}};
      return j;
    }
    j["value"] = text_or_hex(var->data);
    return j;
  }
  if (n == "PK" || n == "KEK" || n == "db" || n == "dbx" || n == "dbt" || n == "dbr" ||
      n == "MokList" || n == "MokListX" || n == "MokListRT" || n == "MokListXRT") {
    if (var->data.empty()) {
      j["signature_lists"] = json::array();
      j["note"] = "empty: the variable does not exist";
      return j;
    }
    auto lists = parse_signature_lists(var->data, data_at);
    if (lists) {
      j["signature_lists"] = signature_lists_json(*lists);
    } else {
      j["decode_error"] = lists.error().message();
      j["hex"] = to_hex(var->data);
    }
    return j;
  }
  j["value"] = text_or_hex(var->data);
  return j;
}

json image_load_json(const Event& ev) {
  auto img = parse_image_load_event(ev.data, ev.offset);
  if (!img) return json{{"decode_error", img.error().message()}, {"hex", to_hex(ev.data)}};
  return json{{"image_location", hex64(img->location)},
              {"image_length", img->length},
              {"link_time_address", hex64(img->link_time_address)},
              {"device_path", device_path_json(img->device_path, ev.offset + 32)}};
}

json gpt_json(const Event& ev) {
  auto gpt = parse_gpt_data(ev.data, ev.offset);
  if (!gpt) return json{{"decode_error", gpt.error().message()}, {"hex", to_hex(ev.data)}};
  json parts = json::array();
  for (const auto& p : gpt->partitions) {
    parts.push_back({{"type_guid", p.type_guid},
                     {"unique_guid", p.unique_guid},
                     {"first_lba", p.first_lba},
                     {"last_lba", p.last_lba},
                     {"attributes", hex64(p.attributes)},
                     {"name", printable(p.name)}});
  }
  return json{{"disk_guid", gpt->disk_guid},
              {"number_of_partitions", gpt->number_of_partitions},
              {"partitions", std::move(parts)}};
}

json blob_json(const Event& ev, bool with_description) {
  ByteReader r(ev.data, ev.offset);
  json j;
  if (with_description) {
    auto n = r.u8("BlobDescriptionSize");
    if (!n) return json{{"decode_error", n.error().message()}, {"hex", to_hex(ev.data)}};
    auto desc = r.take(*n, "BlobDescription");
    if (!desc) return json{{"decode_error", desc.error().message()}, {"hex", to_hex(ev.data)}};
    j["description"] = payload_text(*desc);
  }
  auto base = r.u64le("BlobBase");
  auto len = base ? r.u64le("BlobLength") : Result<uint64_t>(base.error());
  if (!len) return json{{"decode_error", len.error().message()}, {"hex", to_hex(ev.data)}};
  j["blob_base"] = hex64(*base);
  j["blob_length"] = *len;
  return j;
}

json handoff_json(const Event& ev, bool with_description) {
  ByteReader r(ev.data, ev.offset);
  json j;
  auto fail = [&](const Error& e) {
    return json{{"decode_error", e.message()}, {"hex", to_hex(ev.data)}};
  };
  if (with_description) {
    auto n = r.u8("TableDescriptionSize");
    if (!n) return fail(n.error());
    auto desc = r.take(*n, "TableDescription");
    if (!desc) return fail(desc.error());
    j["description"] = payload_text(*desc);
  }
  uint64_t count_at = r.file_offset();
  auto count = r.u64le("NumberOfTables");
  if (!count) return fail(count.error());
  if (*count > r.remaining() / 24) {
    return fail(field_error(count_at, "NumberOfTables",
                            std::to_string(*count) + " tables exceed the payload"));
  }
  json tables = json::array();
  for (uint64_t i = 0; i < *count; ++i) {
    auto guid = r.take(16, "VendorGuid");
    auto addr = r.u64le("VendorTable");
    if (!guid || !addr) return fail(guid ? addr.error() : guid.error());
    tables.push_back({{"vendor_guid", guid_to_string(guid->data())}, {"address", hex64(*addr)}});
  }
  j["tables"] = std::move(tables);
  return j;
}

json tagged_json(const Event& ev) {
  ByteReader r(ev.data, ev.offset);
  auto id = r.u32le("taggedEventID");
  auto size = id ? r.u32le("taggedEventDataSize") : Result<uint32_t>(id.error());
  auto data = size ? r.take(*size, "taggedEventData") : Result<Bytes>(size.error());
  if (!data) return json{{"decode_error", data.error().message()}, {"hex", to_hex(ev.data)}};
  bool utf16 = false;
  json j{{"tagged_event_id", hex64(*id)}};
  std::string text = payload_text(*data, &utf16);
  if (utf16 || is_printable_ascii(*data)) {
    j["string"] = text;
  } else {
    j["hex"] = to_hex(*data);
  }
  return j;
}

json string_json(const Event& ev) {
  bool utf16 = false;
  std::string text = payload_text(ev.data, &utf16);
  return json{{"string", text}, {"encoding", utf16 ? "utf-16le" : "ascii"}};
}

json decode_payload(const Event& ev) {
  switch (ev.type) {
    case EV_NO_ACTION: return no_action_json(ev);
    case EV_SEPARATOR: {
      if (ev.data.size() != 4) return json{{"hex", to_hex(ev.data)}};
      uint32_t v = ByteReader::load_le32(ev.data.data());
      char buf[16];
      std::snprintf(buf, sizeof buf, "0x%08x", v);
      return json{{"value", buf}, {"error_separator", v != 0}};
    }
    case EV_POST_CODE:
    case EV_S_CRTM_CONTENTS:
      if (ev.data.size() == 16 && !is_printable_ascii(ev.data)) return blob_json(ev, false);
      return string_json(ev);
    case EV_S_CRTM_VERSION:
    case EV_IPL:
    case EV_EFI_ACTION:
    case EV_ACTION:
    case EV_EFI_HCRTM_EVENT:
    case EV_OMIT_BOOT_DEVICE_EVENTS: return string_json(ev);
    case EV_COMPACT_HASH:
    case EV_NONHOST_INFO:
    case EV_PLATFORM_CONFIG_FLAGS: return text_or_hex(ev.data);
    case EV_EVENT_TAG: return tagged_json(ev);
    case EV_EFI_VARIABLE_DRIVER_CONFIG:
    case EV_EFI_VARIABLE_BOOT:
    case EV_EFI_VARIABLE_BOOT2:
    case EV_EFI_VARIABLE_AUTHORITY: return variable_json(ev);
    case EV_EFI_BOOT_SERVICES_APPLICATION:
    case EV_EFI_BOOT_SERVICES_DRIVER:
    case EV_EFI_RUNTIME_SERVICES_DRIVER: return image_load_json(ev);
    case EV_EFI_GPT_EVENT:
    case EV_EFI_GPT_EVENT2: return gpt_json(ev);
    case EV_EFI_PLATFORM_FIRMWARE_BLOB: return blob_json(ev, false);
    case EV_EFI_PLATFORM_FIRMWARE_BLOB2: return blob_json(ev, true);
    case EV_EFI_HANDOFF_TABLES: return handoff_json(ev, false);
    case EV_EFI_HANDOFF_TABLES2: return handoff_json(ev, true);
    default: return json{{"hex", to_hex(ev.data)}};
  }
}

}  // namespace

json describe_event(const Event& ev, PayloadChecker& checker) {
  json j;
  j["number"] = ev.number;
  j["offset"] = ev.offset;
  j["pcr"] = ev.pcr;
  j["type"] = ev.type;
  j["type_name"] = event_type_name(ev.type);
  json digests = json::array();
  for (const auto& d : ev.digests()) {
    digests.push_back({{"alg", alg_name(d.alg_id)}, {"digest", to_hex(d.digest)}});
  }
  j["digests"] = std::move(digests);
  j["size"] = ev.data.size();
  PayloadCheck c = checker.check(ev);
  j["payload_check"] = payload_check_name(c);
  if (c == PayloadCheck::kMismatch) j["payload_mismatch_alg"] = alg_name(checker.mismatch_alg());
  j["event"] = decode_payload(ev);
  return j;
}

json pcrs_json(const ReplayResult& r) {
  json out = json::object();
  for (const auto& bank : r.banks) {
    json b = json::object();
    for (uint32_t pcr = 0; pcr < kNumPcrs; ++pcr) {
      if (bank.was_extended(pcr)) b[std::to_string(pcr)] = bank.pcrs[pcr].hex();
    }
    out[std::string(crypto::hash_alg_name(bank.alg))] = std::move(b);
  }
  return out;
}

Result<json> describe_log(Bytes log) {
  IRONROOT_ASSIGN_OR_RETURN(EventLogReader reader, EventLogReader::open(log));
  json doc;
  doc["format"] = log_format_name(reader.format());
  doc["size"] = log.size();
  if (const SpecIdEvent* s = reader.spec_id()) doc["spec_id"] = spec_id_json(*s);
  PayloadChecker checker;
  json events = json::array();
  Event ev;
  for (;;) {
    auto more = reader.next(ev);
    if (!more) {
      doc["error"] = more.error().message();
      break;
    }
    if (!*more) break;
    events.push_back(describe_event(ev, checker));
    // The reader may have read the Spec ID leniently (see EventLogReader::open).
    if (ev.number == 0 && reader.spec_id() != nullptr) {
      events.back()["event"] = json{{"spec_id", spec_id_json(*reader.spec_id())}};
    }
  }
  doc["events"] = std::move(events);
  auto replayed = replay(log);
  if (replayed) {
    doc["startup_locality"] = replayed->startup_locality;
    doc["hcrtm"] = replayed->hcrtm;
    doc["pcrs"] = pcrs_json(*replayed);
    json mismatches = json::array();
    for (const auto& m : replayed->digest_mismatches) {
      mismatches.push_back({{"event", m.event},
                            {"offset", m.offset},
                            {"pcr", m.pcr},
                            {"type", event_type_name(m.type)},
                            {"alg", alg_name(m.alg_id)}});
    }
    doc["digest_mismatches"] = std::move(mismatches);
    json anomalies = json::array();
    for (const auto& a : replayed->anomalies) {
      anomalies.push_back({{"event", a.event}, {"offset", a.offset}, {"message", a.message}});
    }
    doc["anomalies"] = std::move(anomalies);
  }
  return doc;
}

}  // namespace ironroot::evidence::eventlog
