// ironroot result verify|show|keygen|sign: signed attestation results (EAR JWTs), offline.
//
// verify exit codes (commands.h):
//   0  the signature is valid under a trusted key, and the status is affirming
//   1  the token is well-formed but not to be trusted: the signature does not verify, no trusted
//      key fits, the alg is refused, it is expired or issued in the future, the nonce differs;
//      or it is valid and its status is warning, contraindicated or none
//   2  could not check: unreadable file, bad key file, bad usage, a token that is not an EAR JWT
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "core/hex.h"
#include "ear/ear.h"
#include "ear/jwt.h"
#include "output.h"

namespace ironroot::cli {
namespace {

using Json = nlohmann::ordered_json;
using ear::Tier;

Result<std::string> read_input(const std::string& path) {
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error(ErrorCode::kIo, path + ": cannot open");
    ss << in.rdbuf();
    if (in.bad()) return Error(ErrorCode::kIo, path + ": cannot read");
  }
  return ss.str();
}

// A token file usually ends in a newline; nothing else around the token is accepted.
std::string_view strip_newline(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string iso_time(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (gmtime_r(&tt, &tm) == nullptr) return std::to_string(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void print_vector_text(const ear::Appraisal& a) {
  for (size_t i = 0; i < ear::kNumClaims; ++i) {
    auto claim = static_cast<ear::Claim>(i);
    auto code = a.vector.get(claim);
    std::printf("    %-18s %4s  %s\n", std::string(ear::claim_name(claim)).c_str(),
                code ? std::to_string(*code).c_str() : "-",
                code ? std::string(ear::tier_name(ear::tier_of(*code))).c_str() : "no claim");
  }
}

void print_ear_text(const ear::Ear& e) {
  std::printf("issued:     %s (iat %lld)", iso_time(e.iat).c_str(), static_cast<long long>(e.iat));
  if (e.exp) std::printf(", expires %s", iso_time(*e.exp).c_str());
  std::printf("\nverifier:   %s %s\n", e.verifier_id.developer.c_str(),
              e.verifier_id.build.c_str());
  if (!e.nonce.empty()) std::printf("nonce:      %s\n", to_hex(e.nonce).c_str());
  for (const auto& [name, a] : e.submods) {
    std::printf("submod %s: %s", name.c_str(), std::string(ear::tier_name(a.status)).c_str());
    if (a.derived_status() != a.status) {
      std::printf(" (its vector says %s)", std::string(ear::tier_name(a.derived_status())).c_str());
    }
    std::printf("\n");
    if (a.policy_id) std::printf("  policy:   %s\n", a.policy_id->c_str());
    print_vector_text(a);
    for (const auto& r : a.reasons) std::printf("  reason:   %s\n", r.c_str());
  }
}

// ---- verify ----

struct VerifyArgs {
  std::string token;
  std::string key_pem;
  std::string jwks;
  std::string nonce_hex;
  std::vector<std::string> algs;
  int64_t now = 0;
  int64_t skew = 60;
  bool json = false;
};

int verify(const VerifyArgs& a) {
  ear::VerifyOptions opts;
  if (!a.nonce_hex.empty()) {
    auto n = from_hex(a.nonce_hex);
    if (!n) {
      print_error("--nonce: " + n.error().message());
      return kExitError;
    }
    opts.nonce = std::move(*n);
  }
  if (!a.algs.empty()) {
    opts.allowed_algs.clear();
    for (const auto& name : a.algs) opts.allowed_algs.push_back(*ear::alg_from_name(name));
  }
  if (a.now != 0) opts.now = a.now;
  opts.max_skew_seconds = a.skew;

  auto key_text = read_input(a.key_pem.empty() ? a.jwks : a.key_pem);
  if (!key_text) {
    print_error(key_text.error().message());
    return kExitError;
  }
  auto keys = a.key_pem.empty() ? ear::VerificationKeys::from_jwks(*key_text)
                                : ear::VerificationKeys::from_pem(*key_text);
  if (!keys) {
    print_error((a.key_pem.empty() ? a.jwks : a.key_pem) + ": " + keys.error().message());
    return kExitError;
  }
  auto token = read_input(a.token);
  if (!token) {
    print_error(token.error().message());
    return kExitError;
  }
  auto v = ear::verify_ear(strip_newline(*token), *keys, opts);
  if (!v) {
    bool malformed =
        v.error().code() == ErrorCode::kMalformed || v.error().code() == ErrorCode::kResourceLimit;
    if (a.json) {
      Json out = {{"verified", false}, {"malformed", malformed}, {"error", v.error().message()}};
      std::cout << out.dump(2) << "\n";
    }
    print_error(a.token + ": " + (malformed ? "" : "refused: ") + v.error().message());
    return malformed ? kExitError : kExitVerifyFailed;
  }
  if (a.json) {
    Json out = {{"verified", true},
                {"alg", ear::alg_name(v->alg)},
                {"kid", v->kid},
                {"status", ear::tier_name(v->status)},
                {"claims", Json::parse(ear::ear_to_json(v->ear).dump())}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("signature:  valid (%s, key %s)\n", std::string(ear::alg_name(v->alg)).c_str(),
                v->kid.c_str());
    std::printf("status:     %s\n", std::string(ear::tier_name(v->status)).c_str());
    print_ear_text(v->ear);
  }
  return v->status == Tier::kAffirming ? kExitOk : kExitVerifyFailed;
}

// ---- show ----

struct ShowArgs {
  std::string token;
  bool json = false;
};

int show(const ShowArgs& a) {
  auto token = read_input(a.token);
  if (!token) {
    print_error(token.error().message());
    return kExitError;
  }
  auto d = ear::decode_jwt_unverified(strip_newline(*token));
  if (!d) {
    print_error(a.token + ": " + d.error().message());
    return kExitError;
  }
  auto e = ear::ear_from_json(d->claims);
  if (a.json) {
    Json out = {{"verified", false},
                {"header", Json::parse(d->header.dump())},
                {"claims", Json::parse(d->claims.dump())}};
    if (e) {
      out["status"] = ear::tier_name(e->overall_status());
    } else {
      out["ear_error"] = e.error().message();
    }
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("UNVERIFIED: the signature was not checked (use `ironroot result verify`)\n");
    std::printf("header:     %s\n", d->header.dump().c_str());
    if (e) {
      std::printf("status:     %s (as claimed)\n",
                  std::string(ear::tier_name(e->overall_status())).c_str());
      print_ear_text(*e);
    } else {
      std::printf("claims:     %s\n", d->claims.dump(2).c_str());
    }
  }
  if (!e) {
    print_error(a.token + ": not an EAR: " + e.error().message());
    return kExitError;
  }
  return kExitOk;
}

// ---- keygen / sign ----

struct KeygenArgs {
  std::string alg = "EdDSA";
  std::string out;
  std::string jwks_out;
};

Status write_file(const std::string& path, const std::string& data, mode_t mode) {
  std::FILE* f = std::fopen(path.c_str(), "wx");  // never overwrite a key
  if (f == nullptr) return Error(ErrorCode::kIo, path + ": cannot create (does it exist?)");
  ::chmod(path.c_str(), mode);
  bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok) return Error(ErrorCode::kIo, path + ": cannot write");
  return {};
}

int keygen(const KeygenArgs& a) {
  auto key = ear::SigningKey::generate(*ear::alg_from_name(a.alg));
  if (!key) {
    print_error(key.error().message());
    return kExitError;
  }
  if (auto st = write_file(a.out, key->private_pem(), 0600); !st) {
    print_error(st.error().message());
    return kExitError;
  }
  if (!a.jwks_out.empty()) {
    if (auto st = write_file(a.jwks_out, key->jwks() + "\n", 0644); !st) {
      print_error(st.error().message());
      return kExitError;
    }
  }
  std::printf("%s", key->public_key().pem().c_str());
  std::fprintf(stderr, "kid %s\n", key->kid().c_str());
  return kExitOk;
}

struct SignArgs {
  std::string claims;
  std::string key;
};

int sign(const SignArgs& a) {
  auto key_text = read_input(a.key);
  auto claims_text = key_text ? read_input(a.claims) : key_text;
  if (!claims_text) {
    print_error(claims_text.error().message());
    return kExitError;
  }
  auto key = ear::SigningKey::load_pem(*key_text);
  if (!key) {
    print_error(a.key + ": " + key.error().message());
    return kExitError;
  }
  auto j = ear::parse_json_strict(*claims_text);
  auto e = j ? ear::ear_from_json(*j) : Result<ear::Ear>(j.error());
  if (!e) {
    print_error(a.claims + ": " + e.error().message());
    return kExitError;
  }
  auto jwt = ear::sign_ear(*e, *key);
  if (!jwt) {
    print_error(jwt.error().message());
    return kExitError;
  }
  std::printf("%s\n", jwt->c_str());
  return kExitOk;
}

}  // namespace

void add_result_commands(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "result",
      "Signed attestation results (EAR, draft-ietf-rats-ear, as JWTs): verify offline, show, "
      "make keys, sign");
  cmd->require_subcommand(1);
  const auto algs = CLI::IsMember({"ES256", "EdDSA"});

  static VerifyArgs va;
  auto* v = cmd->add_subcommand(
      "verify",
      "Check an EAR JWT's signature against trusted keys, its times and nonce, and print its "
      "status, trustworthiness vectors and submods. Exit 0: valid and affirming; 1: valid but "
      "not affirming, or refused (bad signature, unknown key, alg refused, expired, future iat, "
      "nonce mismatch); 2: unreadable or malformed input");
  v->add_option("TOKEN", va.token, "File holding the JWT (one trailing newline allowed), or -")
      ->required();
  auto* key = v->add_option("--key", va.key_pem,
                            "Trusted public key(s), PEM (several BEGIN PUBLIC KEY blocks allowed)");
  auto* jwks = v->add_option("--jwks", va.jwks, "Trusted public keys as a JWKS file");
  key->excludes(jwks);
  jwks->excludes(key);
  v->add_option("--nonce", va.nonce_hex, "Expected eat_nonce, hex: refuse any other");
  v->add_option("--alg", va.algs, "Allowed algorithm (repeatable); default: ES256 and EdDSA")
      ->check(algs);
  v->add_option("--now", va.now, "Check times as of this Unix time instead of the clock");
  v->add_option("--skew", va.skew, "Tolerated clock skew in seconds for iat and exp")
      ->capture_default_str();
  v->add_flag("--json", va.json, "Print JSON for scripts instead of text for people");
  v->callback([exit_code] {
    if (va.key_pem.empty() && va.jwks.empty()) {
      print_error("result verify: give the trusted key with --key PEM or --jwks FILE");
      *exit_code = kExitError;
      return;
    }
    *exit_code = verify(va);
  });

  static ShowArgs sa;
  auto* s = cmd->add_subcommand(
      "show",
      "Decode an EAR JWT WITHOUT checking its signature (marked unverified); exit 2 if "
      "it is not a JWT carrying EAR claims");
  s->add_option("TOKEN", sa.token, "File holding the JWT, or -")->required();
  s->add_flag("--json", sa.json, "Print JSON for scripts instead of text for people");
  s->callback([exit_code] { *exit_code = show(sa); });

  static KeygenArgs ka;
  auto* k = cmd->add_subcommand(
      "keygen", "Make a signing key for EARs; prints the public key PEM (kid on stderr)");
  k->add_option("--alg", ka.alg, "Signature algorithm")->check(algs)->capture_default_str();
  k->add_option("--out", ka.out, "Private key file to create (mode 0600, never overwritten)")
      ->required();
  k->add_option("--jwks", ka.jwks_out, "Also write the public key as a JWKS file");
  k->callback([exit_code] { *exit_code = keygen(ka); });

  static SignArgs sg;
  auto* g = cmd->add_subcommand(
      "sign",
      "Sign EAR claims (JSON) with a private key; prints the JWT. For tests and tools: "
      "the verifier signs its own results");
  g->add_option("CLAIMS", sg.claims, "EAR claims JSON file, or -")->required();
  g->add_option("--key", sg.key, "Private key PEM (P-256 or Ed25519)")->required();
  g->callback([exit_code] { *exit_code = sign(sg); });
}

}  // namespace ironroot::cli
