#include "ear/ear.h"

#include <cstdio>
#include <limits>
#include <set>

namespace ironroot::ear {
namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, kNumClaims> kClaimNames = {
    "instance-identity", "configuration",  "executables",    "file-system",
    "hardware",          "runtime-opaque", "storage-opaque", "sourced-data",
};

constexpr std::array<std::string_view, 4> kTierNames = {"none", "affirming", "warning",
                                                        "contraindicated"};

std::string shown(std::string_view s) {
  // Names in errors come from untrusted input: keep them short.
  std::string out = "'";
  out += s.size() > 64 ? std::string(s.substr(0, 64)) + "..." : std::string(s);
  return out + "'";
}

Result<int64_t> get_int(const json& j, const std::string& what) {
  if (j.is_number_unsigned()) {
    if (j.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()}) {
      return malformed(what + " is out of range");
    }
    return static_cast<int64_t>(j.get<uint64_t>());
  }
  if (j.is_number_integer()) return j.get<int64_t>();
  return malformed(what + " must be an integer, not " + j.type_name());
}

Result<std::string> get_string(const json& j, const std::string& what) {
  if (!j.is_string()) return malformed(what + " must be a string, not " + j.type_name());
  return j.get<std::string>();
}

// Builds the DOM like nlohmann's own parser, and refuses duplicate keys and deep nesting.
class StrictSax {
 public:
  explicit StrictSax(json& root) : dom_(root, false) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const std::string& s) {
    return dom_.number_float(v, s);
  }
  bool string(std::string& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool start_object(size_t n) {
    if (!push()) return false;
    keys_.emplace_back();
    return dom_.start_object(n);
  }
  bool key(std::string& k) {
    if (!keys_.back().insert(k).second) {
      error_ = "duplicate key " + shown(k);
      return false;
    }
    return dom_.key(k);
  }
  bool end_object() {
    keys_.pop_back();
    --depth_;
    return dom_.end_object();
  }
  bool start_array(size_t n) { return push() && dom_.start_array(n); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  bool parse_error(size_t pos, const std::string& /*token*/, const nlohmann::detail::exception& e) {
    error_ = std::string(e.what());
    // nlohmann's message already names the line/column; add the byte offset for tools.
    error_ += " (byte " + std::to_string(pos) + ")";
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  bool push() {
    if (++depth_ > 64) {
      error_ = "JSON nested more than 64 deep";
      return false;
    }
    return true;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::vector<std::set<std::string>> keys_;
  int depth_ = 0;
  std::string error_;
};

constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

std::string_view tier_name(Tier tier) {
  return kTierNames[static_cast<size_t>(tier)];
}

std::optional<Tier> tier_from_name(std::string_view name) {
  for (size_t i = 0; i < kTierNames.size(); ++i) {
    if (kTierNames[i] == name) return static_cast<Tier>(i);
  }
  return std::nullopt;
}

Tier tier_of(int8_t code) {
  int v = code;
  if (v >= -1 && v <= 1) return Tier::kNone;
  if ((v >= 2 && v <= 31) || (v >= -32 && v <= -2)) return Tier::kAffirming;
  if ((v >= 32 && v <= 95) || (v >= -96 && v <= -33)) return Tier::kWarning;
  return Tier::kContraindicated;
}

std::string_view claim_name(Claim claim) {
  return kClaimNames[static_cast<size_t>(claim)];
}

std::optional<Claim> claim_from_name(std::string_view name) {
  for (size_t i = 0; i < kClaimNames.size(); ++i) {
    if (kClaimNames[i] == name) return static_cast<Claim>(i);
  }
  return std::nullopt;
}

Tier TrustVector::worst_tier() const {
  Tier worst = Tier::kNone;
  for (const auto& c : codes_) {
    if (c && tier_of(*c) > worst) worst = tier_of(*c);
  }
  return worst;
}

Tier Ear::overall_status() const {
  Tier worst = Tier::kNone;
  for (const auto& [name, a] : submods) {
    if (a.status > worst) worst = a.status;
  }
  return worst;
}

json appraisal_to_json(const Appraisal& a) {
  json j = a.other.is_object() ? a.other : json::object();
  j["ear.status"] = tier_name(a.status);
  json vec = json::object();
  for (size_t i = 0; i < kNumClaims; ++i) {
    if (auto c = a.vector.get(static_cast<Claim>(i))) vec[std::string(kClaimNames[i])] = *c;
  }
  if (!vec.empty()) j["ear.trustworthiness-vector"] = vec;
  if (a.policy_id) j["ear.appraisal-policy-id"] = *a.policy_id;
  if (!a.reasons.empty()) j[std::string(kReasonsClaim)] = a.reasons;
  return j;
}

json ear_to_json(const Ear& ear) {
  json j = ear.other.is_object() ? ear.other : json::object();
  j["eat_profile"] = ear.profile;
  j["iat"] = ear.iat;
  if (ear.exp) j["exp"] = *ear.exp;
  j["ear.verifier-id"] = {{"developer", ear.verifier_id.developer},
                          {"build", ear.verifier_id.build}};
  if (!ear.nonce.empty()) j["eat_nonce"] = base64url_encode(ear.nonce.data(), ear.nonce.size());
  json subs = json::object();
  for (const auto& [name, a] : ear.submods) subs[name] = appraisal_to_json(a);
  j["submods"] = subs;
  return j;
}

Result<Appraisal> appraisal_from_json(const json& j) {
  if (!j.is_object())
    return malformed(std::string("appraisal must be an object, not ") + j.type_name());
  Appraisal a;
  bool have_status = false;
  for (const auto& [key, value] : j.items()) {
    if (key == "ear.status") {
      IRONROOT_ASSIGN_OR_RETURN(std::string s, get_string(value, "ear.status"));
      auto t = tier_from_name(s);
      if (!t) {
        return malformed("ear.status " + shown(s) +
                         " is not none, affirming, warning or contraindicated");
      }
      a.status = *t;
      have_status = true;
    } else if (key == "ear.trustworthiness-vector") {
      if (!value.is_object()) {
        return malformed(std::string("ear.trustworthiness-vector must be an object, not ") +
                         value.type_name());
      }
      for (const auto& [cname, code] : value.items()) {
        auto claim = claim_from_name(cname);
        if (!claim) return malformed("unknown trustworthiness claim " + shown(cname));
        IRONROOT_ASSIGN_OR_RETURN(int64_t v, get_int(code, "trustworthiness claim " + cname));
        if (v < -128 || v > 127) {
          return malformed("trustworthiness claim " + cname + " = " + std::to_string(v) +
                           " is outside -128..127");
        }
        a.vector.set(*claim, static_cast<int8_t>(v));
      }
    } else if (key == "ear.appraisal-policy-id") {
      IRONROOT_ASSIGN_OR_RETURN(a.policy_id, get_string(value, "ear.appraisal-policy-id"));
    } else if (key == kReasonsClaim) {
      if (!value.is_array()) return malformed(std::string(kReasonsClaim) + " must be an array");
      for (const auto& r : value) {
        IRONROOT_ASSIGN_OR_RETURN(std::string s,
                                  get_string(r, std::string(kReasonsClaim) + " entry"));
        a.reasons.push_back(std::move(s));
      }
    } else {
      a.other[key] = value;
    }
  }
  if (!have_status) return malformed("ear.status is missing");
  return a;
}

Result<std::map<std::string, Appraisal>> submods_from_json(const json& j) {
  if (!j.is_object())
    return malformed(std::string("submods must be an object, not ") + j.type_name());
  if (j.empty()) return malformed("submods is empty: an EAR appraises at least one attester");
  std::map<std::string, Appraisal> out;
  for (const auto& [name, value] : j.items()) {
    auto a = appraisal_from_json(value);
    if (!a) return std::move(a).error().with_context("submod " + shown(name));
    out.emplace(name, std::move(*a));
  }
  return out;
}

Result<Ear> ear_from_json(const json& j) {
  if (!j.is_object())
    return malformed(std::string("EAR claims must be an object, not ") + j.type_name());
  Ear ear;
  ear.other = json::object();
  bool have_profile = false, have_iat = false, have_vid = false, have_submods = false;
  for (const auto& [key, value] : j.items()) {
    if (key == "eat_profile") {
      IRONROOT_ASSIGN_OR_RETURN(ear.profile, get_string(value, "eat_profile"));
      if (ear.profile != kEarProfile) {
        return malformed("eat_profile " + shown(ear.profile) + " is not " +
                         std::string(kEarProfile));
      }
      have_profile = true;
    } else if (key == "iat") {
      IRONROOT_ASSIGN_OR_RETURN(ear.iat, get_int(value, "iat"));
      have_iat = true;
    } else if (key == "exp") {
      IRONROOT_ASSIGN_OR_RETURN(ear.exp, get_int(value, "exp"));
    } else if (key == "ear.verifier-id") {
      if (!value.is_object()) return malformed("ear.verifier-id must be an object");
      for (const auto& [k, v] : value.items()) {
        if (k == "developer") {
          IRONROOT_ASSIGN_OR_RETURN(ear.verifier_id.developer,
                                    get_string(v, "ear.verifier-id.developer"));
        } else if (k == "build") {
          IRONROOT_ASSIGN_OR_RETURN(ear.verifier_id.build, get_string(v, "ear.verifier-id.build"));
        } else {
          return malformed("unknown ear.verifier-id member " + shown(k));
        }
      }
      if (ear.verifier_id.developer.empty() || ear.verifier_id.build.empty()) {
        return malformed("ear.verifier-id needs a developer and a build");
      }
      have_vid = true;
    } else if (key == "eat_nonce") {
      IRONROOT_ASSIGN_OR_RETURN(std::string s, get_string(value, "eat_nonce"));
      auto n = base64url_decode(s);
      if (!n) return std::move(n).error().with_context("eat_nonce");
      // RFC 9711 §4.1: a nonce is 8 to 64 bytes.
      if (n->size() < 8 || n->size() > 64) {
        return malformed("eat_nonce is " + std::to_string(n->size()) +
                         " bytes; RFC 9711 allows 8..64");
      }
      ear.nonce = std::move(*n);
    } else if (key == "submods") {
      IRONROOT_ASSIGN_OR_RETURN(ear.submods, submods_from_json(value));
      have_submods = true;
    } else {
      ear.other[key] = value;
    }
  }
  if (!have_profile) return malformed("eat_profile is missing");
  if (!have_iat) return malformed("iat is missing");
  if (!have_vid) return malformed("ear.verifier-id is missing");
  if (!have_submods) return malformed("submods is missing");
  return ear;
}

Result<json> parse_json_strict(std::string_view text) {
  json root;
  StrictSax sax(root);
  bool ok = json::sax_parse(text.begin(), text.end(), &sax, json::input_format_t::json, true);
  if (!ok || root.is_discarded()) {
    return malformed("bad JSON: " +
                     (sax.error().empty() ? std::string("parse error") : sax.error()));
  }
  return root;
}

std::string base64url_encode(const uint8_t* data, size_t size) {
  std::string out;
  out.reserve((size * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    uint32_t v = uint32_t{data[i]} << 16 | uint32_t{data[i + 1]} << 8 | data[i + 2];
    out += kB64Url[v >> 18];
    out += kB64Url[(v >> 12) & 63];
    out += kB64Url[(v >> 6) & 63];
    out += kB64Url[v & 63];
  }
  if (size - i == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out += kB64Url[v >> 18];
    out += kB64Url[(v >> 12) & 63];
  } else if (size - i == 2) {
    uint32_t v = uint32_t{data[i]} << 16 | uint32_t{data[i + 1]} << 8;
    out += kB64Url[v >> 18];
    out += kB64Url[(v >> 12) & 63];
    out += kB64Url[(v >> 6) & 63];
  }
  return out;
}

Result<std::vector<uint8_t>> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) {
    return malformed("base64url length " + std::to_string(text.size()) + " is impossible");
  }
  std::vector<uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    int v = b64url_value(text[i]);
    if (v < 0) {
      unsigned c = static_cast<unsigned char>(text[i]);
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", c);
      return malformed("character " + (c >= 0x21 && c < 0x7f ? shown(text.substr(i, 1)) : hex) +
                       " at offset " + std::to_string(i) + " is not base64url" +
                       (c == '=' ? " (padding is not allowed)" : ""));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  // The unused low bits of the last character must be zero (RFC 4648 §3.5 canonical encoding).
  if (acc != 0) {
    return malformed("base64url ends in non-zero padding bits at offset " +
                     std::to_string(text.size() - 1));
  }
  return out;
}

}  // namespace ironroot::ear
