// EAR JWTs: signing and verifying a result with one submod, for ES256 and EdDSA, next to the
// peer: the bare OpenSSL signature over the same signing input (what the JWT, JSON and base64url
// layers cost on top). bench/ear.sh prints the ratios.
#include <benchmark/benchmark.h>

#include "ear/ear.h"
#include "ear/jwt.h"

namespace {

namespace ear = ironroot::ear;

ear::Ear sample() {
  ear::Ear e;
  e.iat = 1764000000;
  e.verifier_id = {"ironroot", "bench"};
  e.nonce = std::vector<uint8_t>(32, 0x5a);
  auto& a = e.submods["host-0001.example"];
  a.vector.set(ear::Claim::kInstanceIdentity, ear::codes::kTrustworthyInstance);
  a.vector.set(ear::Claim::kHardware, ear::codes::kGenuineHardware);
  a.vector.set(ear::Claim::kExecutables, ear::codes::kApprovedRuntime);
  a.vector.set(ear::Claim::kConfiguration, ear::codes::kApprovedConfig);
  a.vector.set(ear::Claim::kFileSystem, ear::codes::kApprovedFiles);
  a.status = a.derived_status();
  a.policy_id = "ironroot:reference-values/default";
  return e;
}

ear::Alg alg_of(const benchmark::State& state) {
  return state.range(0) == 0 ? ear::Alg::kES256 : ear::Alg::kEdDSA;
}

void BM_SignEar(benchmark::State& state) {
  auto key = ear::SigningKey::generate(alg_of(state));
  const ear::Ear e = sample();
  for (auto _ : state) benchmark::DoNotOptimize(ear::sign_ear(e, *key));
  state.SetItemsProcessed(state.iterations());
}

void BM_VerifyEar(benchmark::State& state) {
  auto key = ear::SigningKey::generate(alg_of(state));
  ear::VerificationKeys keys;
  keys.add(key->public_key());
  const std::string jwt = *ear::sign_ear(sample(), *key);
  ear::VerifyOptions o;
  o.now = 1764000000;
  o.nonce = std::vector<uint8_t>(32, 0x5a);
  for (auto _ : state) {
    auto v = ear::verify_ear(jwt, keys, o);
    if (!v) state.SkipWithError(v.error().message().c_str());
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}

// The peer: OpenSSL's signature alone, on the same bytes.
void BM_OpensslSign(benchmark::State& state) {
  auto key = ear::SigningKey::generate(alg_of(state));
  const std::string jwt = *ear::sign_ear(sample(), *key);
  const std::string input = jwt.substr(0, jwt.rfind('.'));
  for (auto _ : state) benchmark::DoNotOptimize(ear::jws_sign(*key, input));
  state.SetItemsProcessed(state.iterations());
}

void BM_OpensslVerify(benchmark::State& state) {
  auto key = ear::SigningKey::generate(alg_of(state));
  const std::string jwt = *ear::sign_ear(sample(), *key);
  const std::string input = jwt.substr(0, jwt.rfind('.'));
  const auto sig = *ear::base64url_decode(jwt.substr(jwt.rfind('.') + 1));
  for (auto _ : state) benchmark::DoNotOptimize(ear::jws_verify(key->public_key(), input, sig));
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_SignEar)->ArgName("eddsa")->Arg(0)->Arg(1);
BENCHMARK(BM_OpensslSign)->ArgName("eddsa")->Arg(0)->Arg(1);
BENCHMARK(BM_VerifyEar)->ArgName("eddsa")->Arg(0)->Arg(1);
BENCHMARK(BM_OpensslVerify)->ArgName("eddsa")->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
