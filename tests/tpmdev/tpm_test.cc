// tpmdev::Tpm against real swtpm processes, and the swtpm harness (lib/sim's Swtpm) itself.
//
// The checks on the TPM's outputs use tss2-mu and OpenSSL directly (not lib/tpm2), so that they
// are independent of the code under test.
#include "tpmdev/tpm.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <signal.h>
#include <sys/socket.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "core/hex.h"
#include "crypto/digest.h"
#include "support/swtpm.h"

namespace ironroot::tpmdev {
namespace {

using crypto::Digest;
using crypto::HashAlg;
using sim::Swtpm;
using testing::SwtpmOptions;

#define ASSERT_OK(expr)                                         \
  do {                                                          \
    const auto& _r = (expr);                                    \
    ASSERT_TRUE(_r.ok()) << #expr ": " << _r.error().message(); \
  } while (0)

std::unique_ptr<Swtpm> start_test_swtpm(const SwtpmOptions& options = {}) {
  auto s = testing::start_swtpm(options);
  EXPECT_TRUE(s.ok()) << s.error().message();
  return s.ok() ? std::move(*s) : nullptr;
}

std::unique_ptr<Tpm> open_tpm(const Swtpm& swtpm) {
  auto t = Tpm::open(swtpm.tcti());
  EXPECT_TRUE(t.ok()) << t.error().message();
  return t.ok() ? std::move(*t) : nullptr;
}

template <typename T>
T unmarshal(const std::vector<uint8_t>& bytes, TSS2_RC (*fn)(const uint8_t*, size_t, size_t*, T*)) {
  T value{};
  size_t offset = 0;
  EXPECT_EQ(fn(bytes.data(), bytes.size(), &offset, &value), TSS2_RC_SUCCESS);
  EXPECT_EQ(offset, bytes.size());
  return value;
}

template <typename T>
std::vector<uint8_t> marshal(const T& value, TSS2_RC (*fn)(const T*, uint8_t*, size_t, size_t*)) {
  std::vector<uint8_t> out(sizeof(T));
  size_t offset = 0;
  EXPECT_EQ(fn(&value, out.data(), out.size(), &offset), TSS2_RC_SUCCESS);
  out.resize(offset);
  return out;
}

std::vector<uint8_t> bytes_of(const std::string& s) {
  return {s.begin(), s.end()};
}

bool contains(const std::vector<uint8_t>& haystack, const std::vector<uint8_t>& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

// --- the harness ---------------------------------------------------------------------------

// Children of this process whose command is swtpm or swtpm_setup.
std::vector<pid_t> swtpm_children() {
  std::vector<pid_t> out;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = ::readdir(proc)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::FILE* f = std::fopen(("/proc/" + std::string(e->d_name) + "/stat").c_str(), "r");
    if (f == nullptr) continue;
    char comm[64] = {};
    char state = 0;
    int ppid = 0;
    if (std::fscanf(f, "%*d (%63[^)]) %c %d", comm, &state, &ppid) == 3 && ppid == ::getpid() &&
        std::string(comm).rfind("swtpm", 0) == 0) {
      out.push_back(pid);
    }
    std::fclose(f);
  }
  ::closedir(proc);
  return out;
}

bool port_accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

TEST(SwtpmHarness, StartsATpmThatAnswers) {
  IRONROOT_REQUIRE_SWTPM();
  auto t0 = std::chrono::steady_clock::now();
  auto swtpm = start_test_swtpm();
  ASSERT_NE(swtpm, nullptr);
  auto first = std::chrono::steady_clock::now();
  auto again = start_test_swtpm();  // the local CA exists now
  ASSERT_NE(again, nullptr);
  auto second = std::chrono::steady_clock::now();
  using ms = std::chrono::milliseconds;
  std::cout << "swtpm start: first (creates the local CA) "
            << std::chrono::duration_cast<ms>(first - t0).count() << " ms, next "
            << std::chrono::duration_cast<ms>(second - first).count() << " ms\n";

  EXPECT_EQ(swtpm->tcti(), "swtpm:host=127.0.0.1,port=" + std::to_string(swtpm->port()));
  EXPECT_NE(swtpm->port(), again->port());
  EXPECT_GT(swtpm->pid(), 0);
  const sim::LocalCa* ca = testing::swtpm_ca();  // one per process, made by the first start
  ASSERT_NE(ca, nullptr);
  EXPECT_TRUE(std::filesystem::exists(ca->chain_file()));
  EXPECT_TRUE(std::filesystem::exists(ca->root_file()));
  EXPECT_EQ(ca->dir().rfind(std::filesystem::temp_directory_path().string(), 0), 0u) << ca->dir();
  // Nothing outside the temporary directory.
  EXPECT_EQ(swtpm->dir().rfind(std::filesystem::temp_directory_path().string(), 0), 0u)
      << swtpm->dir();

  auto tpm = open_tpm(*swtpm);
  ASSERT_NE(tpm, nullptr);
  auto banks = tpm->active_banks();
  ASSERT_OK(banks);
}

TEST(SwtpmHarness, CleanupLeavesNoProcessNorFiles) {
  IRONROOT_REQUIRE_SWTPM();
  const size_t before = swtpm_children().size();
  auto swtpm = start_test_swtpm();
  ASSERT_NE(swtpm, nullptr);
  const pid_t pid = swtpm->pid();
  const uint16_t port = swtpm->port();
  const std::string dir = swtpm->dir();
  EXPECT_EQ(swtpm_children().size(), before + 1);
  EXPECT_EQ(::kill(pid, 0), 0);
  EXPECT_TRUE(port_accepts(port));
  {
    auto tpm = open_tpm(*swtpm);  // with a Tpm open, too
    ASSERT_NE(tpm, nullptr);
    swtpm.reset();
  }
  EXPECT_EQ(::kill(pid, 0), -1);  // gone and reaped (no zombie)
  EXPECT_EQ(errno, ESRCH);
  EXPECT_EQ(swtpm_children().size(), before);
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_FALSE(port_accepts(port));
  EXPECT_FALSE(port_accepts(static_cast<uint16_t>(port + 1)));
}

// The sockets ("socket:[inode]") open in process `pid`.
std::vector<std::string> sockets_of(const std::string& pid) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + pid + "/fd", ec)) {
    std::string target = std::filesystem::read_symlink(e.path(), ec).string();
    if (target.rfind("socket:", 0) == 0) out.push_back(target);
  }
  return out;
}

// tss2 opens its TCTI sockets and /dev/tpmrm0 without close-on-exec: a swtpm started while such
// a descriptor is open must not inherit it (it would hold the connection, or the device's
// transient objects, open for as long as it runs).
TEST(SwtpmHarness, ChildrenInheritNoDescriptor) {
  IRONROOT_REQUIRE_SWTPM();
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);  // not close-on-exec, like tss2's
  const auto ours = sockets_of("self");
  ASSERT_GE(ours.size(), 2u);

  auto swtpm = start_test_swtpm();
  ::close(sv[0]);
  ::close(sv[1]);
  ASSERT_NE(swtpm, nullptr);
  for (const auto& s : sockets_of(std::to_string(swtpm->pid()))) {
    EXPECT_EQ(std::find(ours.begin(), ours.end(), s), ours.end()) << s;
  }
}

TEST(SwtpmHarness, StartManyGivesDistinctTpms) {
  IRONROOT_REQUIRE_SWTPM();
  auto t0 = std::chrono::steady_clock::now();
  auto many = testing::start_swtpms(3);
  ASSERT_OK(many);
  std::cout << "swtpm start_many(3): "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t0)
                   .count()
            << " ms\n";
  ASSERT_EQ(many->size(), 3u);
  std::vector<std::vector<uint8_t>> eks;
  for (auto& s : *many) {
    auto tpm = open_tpm(*s);
    ASSERT_NE(tpm, nullptr);
    auto ek = tpm->ek_public();
    ASSERT_OK(ek);
    eks.push_back(*ek);
  }
  EXPECT_NE(eks[0], eks[1]);
  EXPECT_NE(eks[1], eks[2]);
  EXPECT_NE(eks[0], eks[2]);
}

TEST(SwtpmHarness, RestartIsAPowerCycle) {
  IRONROOT_REQUIRE_SWTPM();
  auto swtpm = start_test_swtpm();
  ASSERT_NE(swtpm, nullptr);
  const Digest event = crypto::hash(HashAlg::kSha256, bytes_of("boot"));
  std::vector<uint8_t> ak;
  {
    auto tpm = open_tpm(*swtpm);
    ASSERT_NE(tpm, nullptr);
    ASSERT_OK(tpm->pcr_extend(10, {event}));
    auto pcr = tpm->pcr_read(HashAlg::kSha256, 1u << 10);
    ASSERT_OK(pcr);
    EXPECT_NE((*pcr)[0], Digest::zero(HashAlg::kSha256));
    auto pub = tpm->ak_public();
    ASSERT_OK(pub);
    ak = *pub;
  }
  const uint16_t port = swtpm->port();
  const pid_t pid = swtpm->pid();
  ASSERT_OK(swtpm->restart());
  EXPECT_EQ(swtpm->port(), port);
  EXPECT_NE(swtpm->pid(), pid);
  auto tpm = open_tpm(*swtpm);
  ASSERT_NE(tpm, nullptr);
  auto pcr = tpm->pcr_read(HashAlg::kSha256, 1u << 10);
  ASSERT_OK(pcr);
  EXPECT_EQ((*pcr)[0], Digest::zero(HashAlg::kSha256));
  auto pub = tpm->ak_public();
  ASSERT_OK(pub);
  EXPECT_EQ(*pub, ak);
}

// A state directory of the caller's (as `ironroot demo --dir` gives) is kept, and the TPM in it
// is started again rather than manufactured anew. stop() is idempotent; restart() brings a
// stopped TPM back.
TEST(SwtpmHarness, GivenStateDirIsKeptAndReused) {
  IRONROOT_REQUIRE_SWTPM();
  const sim::LocalCa* ca = testing::swtpm_ca();
  ASSERT_NE(ca, nullptr);
  struct TempDir {
    std::string path = (std::filesystem::temp_directory_path() / "ironroot-tpmdev-XXXXXX").string();
    TempDir() { EXPECT_NE(::mkdtemp(path.data()), nullptr) << path; }
    ~TempDir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } base;
  const std::string state = base.path + "/tpm";
  std::vector<uint8_t> ek;
  {
    auto swtpm = Swtpm::start({.state_dir = state, .ca = ca});
    ASSERT_OK(swtpm);
    EXPECT_EQ((*swtpm)->dir(), state);
    {
      auto tpm = open_tpm(**swtpm);
      ASSERT_NE(tpm, nullptr);
      auto pub = tpm->ek_public();
      ASSERT_OK(pub);
      ek = *pub;
    }
    const pid_t pid = (*swtpm)->pid();
    (*swtpm)->stop();
    (*swtpm)->stop();
    EXPECT_EQ((*swtpm)->pid(), -1);
    EXPECT_EQ(::kill(pid, 0), -1);  // reaped
    ASSERT_OK((*swtpm)->restart());
    EXPECT_GT((*swtpm)->pid(), 0);
    auto tpm = open_tpm(**swtpm);
    ASSERT_NE(tpm, nullptr);
  }
  EXPECT_TRUE(std::filesystem::exists(state + "/tpm2-00.permall"));
  // No CA this time: were the TPM manufactured again, it would have no EK certificate.
  auto again = Swtpm::start({.state_dir = state});
  ASSERT_OK(again);
  auto tpm = open_tpm(**again);
  ASSERT_NE(tpm, nullptr);
  auto pub = tpm->ek_public();
  ASSERT_OK(pub);
  EXPECT_EQ(*pub, ek);
  ASSERT_OK(tpm->ek_certificate());
}

// A TPM that cannot be manufactured: the error carries swtpm_setup's reason, and neither a
// process nor a temporary directory is left behind.
TEST(SwtpmHarness, FailedStartSaysWhyAndLeavesNothing) {
  IRONROOT_REQUIRE_SWTPM();
  std::string base = (std::filesystem::temp_directory_path() / "ironroot-tpmdev-XXXXXX").string();
  ASSERT_NE(::mkdtemp(base.data()), nullptr);
  const char* old_tmpdir = std::getenv("TMPDIR");
  const std::string saved = old_tmpdir != nullptr ? old_tmpdir : "";
  ::setenv("TMPDIR", base.c_str(), 1);
  const size_t before = swtpm_children().size();
  auto swtpm = Swtpm::start({.banks = "no-such-bank"});
  if (old_tmpdir != nullptr) {
    ::setenv("TMPDIR", saved.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
  EXPECT_FALSE(swtpm.ok());
  if (!swtpm.ok()) {
    EXPECT_NE(swtpm.error().message().find("swtpm_setup failed"), std::string::npos)
        << swtpm.error().message();
  }
  EXPECT_EQ(swtpm_children().size(), before);
  EXPECT_TRUE(std::filesystem::is_empty(base)) << base;
  std::error_code ec;
  std::filesystem::remove_all(base, ec);
}

// --- Tpm -----------------------------------------------------------------------------------

TEST(Tpm, OpenFailsWithoutATpm) {
  auto tpm = Tpm::open("swtpm:host=127.0.0.1,port=1");
  ASSERT_FALSE(tpm.ok());
  EXPECT_EQ(tpm.error().code(), ErrorCode::kIo);
  EXPECT_NE(tpm.error().message().find("swtpm:host=127.0.0.1,port=1"), std::string::npos)
      << tpm.error().message();
}

TEST(Tpm, StartupThenStartupAgainIsOk) {
  IRONROOT_REQUIRE_SWTPM();
  auto swtpm = start_test_swtpm({.startup_clear = false});
  ASSERT_NE(swtpm, nullptr);
  auto tpm = open_tpm(*swtpm);
  ASSERT_NE(tpm, nullptr);
  // Not started yet: the TPM refuses commands with TPM_RC_INITIALIZE.
  auto early = tpm->pcr_read(HashAlg::kSha256, 1);
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.error().message().find("TPM2_PCR_Read"), std::string::npos)
      << early.error().message();
  EXPECT_NE(early.error().message().find("0x00000100"), std::string::npos)
      << early.error().message();

  ASSERT_OK(tpm->startup());
  ASSERT_OK(tpm->startup());
  ASSERT_OK(tpm->pcr_read(HashAlg::kSha256, 1));
}

TEST(Tpm, StartupOnAStartedTpmIsOk) {
  IRONROOT_REQUIRE_SWTPM();
  auto swtpm = start_test_swtpm();
  ASSERT_NE(swtpm, nullptr);
  auto tpm = open_tpm(*swtpm);
  ASSERT_NE(tpm, nullptr);
  ASSERT_OK(tpm->startup());
  ASSERT_OK(tpm->startup());
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

std::vector<X509Ptr> read_pem_certs(const std::string& path) {
  std::vector<X509Ptr> out;
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return out;
  while (X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr)) out.emplace_back(x);
  std::fclose(f);
  return out;
}

TEST(Tpm, EkCertificateCertifiesTheEk) {
  IRONROOT_REQUIRE_SWTPM();
  auto swtpm = start_test_swtpm();
  ASSERT_NE(swtpm, nullptr);
  auto tpm = open_tpm(*swtpm);
  ASSERT_NE(tpm, nullptr);

  auto der = tpm->ek_certificate();
  ASSERT_OK(der);
  const uint8_t* p = der->data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der->size())));
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(p, der->data() + der->size());  // exactly one certificate, no padding

  // Its RSA modulus is the EK's unique.rsa.
  auto ek = tpm->ek_public();
  ASSERT_OK(ek);
  auto pub = unmarshal<TPM2B_PUBLIC>(*ek, Tss2_MU_TPM2B_PUBLIC_Unmarshal);
  ASSERT_EQ(pub.publicArea.type, TPM2_ALG_RSA);
  ASSERT_EQ(pub.publicArea.unique.rsa.size, 256);
  BIGNUM* n = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(X509_get0_pubkey(cert.get()), OSSL_PKEY_PARAM_RSA_N, &n), 1);
  std::vector<uint8_t> modulus(256);
  ASSERT_EQ(BN_bn2binpad(n, modulus.data(), 256), 256);
  BN_free(n);
  EXPECT_EQ(modulus, std::vector<uint8_t>(pub.publicArea.unique.rsa.buffer,
                                          pub.publicArea.unique.rsa.buffer + 256));
  // The EK is the TCG default: restricted decryption key with policy A.
  EXPECT_EQ(pub.publicArea.objectAttributes, 0x000300b2u);
  EXPECT_EQ(pub.publicArea.authPolicy.size, 32);

  // And the certificate chains to the harness's local CA.
  const sim::LocalCa* ca = testing::swtpm_ca();
  ASSERT_NE(ca, nullptr);
  auto chain = read_pem_certs(ca->chain_file());
  ASSERT_EQ(chain.size(), 2u);  // issuer, root
  auto roots = read_pem_certs(ca->root_file());
  ASSERT_EQ(roots.size(), 1u);
  EXPECT_EQ(X509_cmp(chain[1].get(), roots[0].get()), 0);
  EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(chain[0].get())), 1);
  EXPECT_EQ(X509_verify(chain[0].get(), X509_get0_pubkey(chain[1].get())), 1);
  EXPECT_EQ(X509_verify(chain[1].get(), X509_get0_pubkey(chain[1].get())), 1);

  // swtpm writes its ECC EK certificate (P-384) in the high range, nothing at the P-256 index.
  auto ecc = tpm->ek_certificate(kEkCertNvIndexEccP384);
  ASSERT_OK(ecc);
  p = ecc->data();
  X509Ptr ecc_cert(d2i_X509(nullptr, &p, static_cast<long>(ecc->size())));
  EXPECT_NE(ecc_cert, nullptr);
  auto none = tpm->ek_certificate(kEkCertNvIndexEccP256);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
}

TEST(Tpm, AkIsDeterministicPerTpm) {
  IRONROOT_REQUIRE_SWTPM();
  auto many = testing::start_swtpms(2);
  ASSERT_OK(many);
  Swtpm& a = *(*many)[0];
  Swtpm& b = *(*many)[1];

  auto ak_of = [](const Swtpm& s) {
    auto tpm = open_tpm(s);
    EXPECT_NE(tpm, nullptr);
    auto pub = tpm->ak_public();
    EXPECT_TRUE(pub.ok()) << pub.error().message();
    auto again = tpm->ak_public();  // cached handle, same bytes
    EXPECT_TRUE(again.ok() && *again == *pub);
    return pub.ok() ? *pub : std::vector<uint8_t>{};
  };
  const auto a1 = ak_of(a);
  const auto a2 = ak_of(a);  // a new connection: the primary is created again
  const auto b1 = ak_of(b);
  ASSERT_FALSE(a1.empty());
  EXPECT_EQ(a1, a2);
  EXPECT_NE(a1, b1);

  auto pub = unmarshal<TPM2B_PUBLIC>(a1, Tss2_MU_TPM2B_PUBLIC_Unmarshal);
  EXPECT_EQ(pub.publicArea.type, TPM2_ALG_ECC);
  EXPECT_EQ(pub.publicArea.nameAlg, TPM2_ALG_SHA256);
  EXPECT_EQ(pub.publicArea.parameters.eccDetail.curveID, TPM2_ECC_NIST_P256);
  EXPECT_EQ(pub.publicArea.parameters.eccDetail.scheme.scheme, TPM2_ALG_ECDSA);
  // fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA|restricted|sign
  EXPECT_EQ(pub.publicArea.objectAttributes, 0x00050472u);
  EXPECT_EQ(pub.publicArea.unique.ecc.x.size, 32);

  // Each Tpm flushes its primaries: swtpm holds only 3 transient objects, so without the flush
  // the second round would fail with TPM_RC_OBJECT_MEMORY.
  for (int i = 0; i < 4; ++i) {
    auto t = open_tpm(b);
    ASSERT_NE(t, nullptr);
    ASSERT_OK(t->ek_public());
    ASSERT_OK(t->ak_public());
  }

  auto tpm = open_tpm(a);
  auto name = tpm->ak_name();
  ASSERT_OK(name);
  ASSERT_EQ(name->size(), 34u);
  EXPECT_EQ((*name)[0], 0x00);
  EXPECT_EQ((*name)[1], 0x0b);
  Digest h = crypto::hash(HashAlg::kSha256, Bytes(a1).subspan(2));
  EXPECT_TRUE(std::equal(h.view().begin(), h.view().end(), name->begin() + 2));
}

TEST(Tpm, PcrExtendMatchesSoftwareReplay) {
  IRONROOT_REQUIRE_SWTPM();
  auto swtpm = start_test_swtpm();
  ASSERT_NE(swtpm, nullptr);
  auto tpm = open_tpm(*swtpm);
  ASSERT_NE(tpm, nullptr);

  for (HashAlg bank : {HashAlg::kSha1, HashAlg::kSha256}) {
    auto all = tpm->pcr_read(bank, 0x00ffffff);  // 24 PCRs: three TPM2_PCR_Read commands
    ASSERT_OK(all);
    ASSERT_EQ(all->size(), 24u);
    EXPECT_EQ((*all)[0], Digest::zero(bank));
    EXPECT_EQ((*all)[0].alg, bank);
  }

  Digest expect1 = Digest::zero(HashAlg::kSha1);
  Digest expect256 = Digest::zero(HashAlg::kSha256);
  crypto::Hasher h1(HashAlg::kSha1), h256(HashAlg::kSha256);
  for (const char* event : {"grub", "vmlinuz", "cmdline"}) {
    Digest d1 = h1.digest(bytes_of(event));
    Digest d256 = h256.digest(bytes_of(event));
    ASSERT_OK(tpm->pcr_extend(9, {d1, d256}));
    h1.extend(expect1, d1.view());
    h256.extend(expect256, d256.view());
  }
  auto got1 = tpm->pcr_read(HashAlg::kSha1, 1u << 9);
  auto got256 = tpm->pcr_read(HashAlg::kSha256, (1u << 9) | (1u << 8));
  ASSERT_OK(got1);
  ASSERT_OK(got256);
  ASSERT_EQ(got1->size(), 1u);
  ASSERT_EQ(got256->size(), 2u);
  EXPECT_EQ((*got1)[0], expect1) << (*got1)[0].hex();
  EXPECT_EQ((*got256)[0], Digest::zero(HashAlg::kSha256));  // PCR 8 untouched
  EXPECT_EQ((*got256)[1], expect256) << (*got256)[1].hex();

  // Extending only one bank leaves the other alone.
  ASSERT_OK(tpm->pcr_extend(9, {h256.digest(bytes_of("one bank"))}));
  auto still1 = tpm->pcr_read(HashAlg::kSha1, 1u << 9);
  ASSERT_OK(still1);
  EXPECT_EQ((*still1)[0], expect1);

  Digest bad = Digest::zero(HashAlg::kSha256);
  bad.size = 20;
  auto st = tpm->pcr_extend(9, {bad});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(tpm->pcr_extend(40, {expect256}).ok());
}

TEST(Tpm, ActiveBanksAreTheAllocatedOnes) {
  IRONROOT_REQUIRE_SWTPM();
  auto both = start_test_swtpm();
  ASSERT_NE(both, nullptr);
  {
    auto tpm = open_tpm(*both);
    ASSERT_NE(tpm, nullptr);
    auto banks = tpm->active_banks();
    ASSERT_OK(banks);
    EXPECT_EQ(*banks, (std::vector<HashAlg>{HashAlg::kSha1, HashAlg::kSha256}));
  }
  auto one = start_test_swtpm({.pcr_banks = "sha256"});
  ASSERT_NE(one, nullptr);
  auto tpm = open_tpm(*one);
  ASSERT_NE(tpm, nullptr);
  auto banks = tpm->active_banks();
  ASSERT_OK(banks);
  EXPECT_EQ(*banks, std::vector<HashAlg>{HashAlg::kSha256});
  auto sha1 = tpm->pcr_read(HashAlg::kSha1, 1);
  ASSERT_FALSE(sha1.ok());
  EXPECT_EQ(sha1.error().code(), ErrorCode::kNotFound);
}

// Verifies a quote's ECDSA signature with the AK's public key, through OpenSSL alone.
bool quote_signature_verifies(const std::vector<uint8_t>& ak_public, const Tpm::Quote& quote) {
  auto pub = unmarshal<TPM2B_PUBLIC>(ak_public, Tss2_MU_TPM2B_PUBLIC_Unmarshal);
  auto sig = unmarshal<TPMT_SIGNATURE>(quote.signature, Tss2_MU_TPMT_SIGNATURE_Unmarshal);
  if (sig.sigAlg != TPM2_ALG_ECDSA || sig.signature.ecdsa.hash != TPM2_ALG_SHA256) return false;
  const TPMS_ECC_POINT& q = pub.publicArea.unique.ecc;
  std::vector<uint8_t> point = {0x04};
  point.insert(point.end(), q.x.buffer, q.x.buffer + q.x.size);
  point.insert(point.end(), q.y.buffer, q.y.buffer + q.y.size);

  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* kctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  bool ok = EVP_PKEY_fromdata_init(kctx) == 1 &&
            EVP_PKEY_fromdata(kctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;

  ECDSA_SIG* es = ECDSA_SIG_new();
  ECDSA_SIG_set0(es,
                 BN_bin2bn(sig.signature.ecdsa.signatureR.buffer,
                           sig.signature.ecdsa.signatureR.size, nullptr),
                 BN_bin2bn(sig.signature.ecdsa.signatureS.buffer,
                           sig.signature.ecdsa.signatureS.size, nullptr));
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(es, &der);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  // The signed message is the TPMS_ATTEST: the TPM2B_ATTEST without its size.
  ok = ok && der_len > 0 && EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key) == 1 &&
       EVP_DigestVerify(md, der, static_cast<size_t>(der_len), quote.attest.data() + 2,
                        quote.attest.size() - 2) == 1;
  EVP_MD_CTX_free(md);
  OPENSSL_free(der);
  ECDSA_SIG_free(es);
  EVP_PKEY_free(key);
  EVP_PKEY_CTX_free(kctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return ok;
}

TEST(Tpm, QuoteCarriesTheNonceAndIsSignedByTheAk) {
  IRONROOT_REQUIRE_SWTPM();
  auto swtpm = start_test_swtpm();
  ASSERT_NE(swtpm, nullptr);
  auto tpm = open_tpm(*swtpm);
  ASSERT_NE(tpm, nullptr);
  auto ak = tpm->ak_public();
  ASSERT_OK(ak);

  const std::vector<uint8_t> nonce1 = bytes_of("nonce-0123456789abcdef");
  const std::vector<uint8_t> nonce2 = bytes_of("nonce-fedcba9876543210");
  auto q1 = tpm->quote(nonce1, HashAlg::kSha256, 0x00ffffff);
  ASSERT_OK(q1);
  ASSERT_GT(q1->attest.size(), 8u);
  ASSERT_FALSE(q1->signature.empty());
  // TPM2B_ATTEST: size, then TPMS_ATTEST: magic TPM_GENERATED_VALUE, type TPM_ST_ATTEST_QUOTE.
  EXPECT_EQ((q1->attest[0] << 8) | q1->attest[1], static_cast<int>(q1->attest.size() - 2));
  EXPECT_EQ(to_hex(Bytes(q1->attest).subspan(2, 6)), "ff5443478018");
  EXPECT_TRUE(contains(q1->attest, nonce1));
  EXPECT_TRUE(quote_signature_verifies(*ak, *q1));

  auto q2 = tpm->quote(nonce2, HashAlg::kSha256, 0x00ffffff);
  ASSERT_OK(q2);
  EXPECT_NE(q1->attest, q2->attest);
  EXPECT_TRUE(contains(q2->attest, nonce2));
  EXPECT_FALSE(contains(q2->attest, nonce1));
  EXPECT_TRUE(quote_signature_verifies(*ak, *q2));

  // A signature does not verify over another quote.
  Tpm::Quote mixed{q1->attest, q2->signature};
  EXPECT_FALSE(quote_signature_verifies(*ak, mixed));

  // The largest nonce a TPM takes, and one byte more.
  ASSERT_OK(tpm->quote(std::vector<uint8_t>(kMaxNonceSize, 0xab), HashAlg::kSha1, 0x1));
  auto big = tpm->quote(std::vector<uint8_t>(kMaxNonceSize + 1, 0xab), HashAlg::kSha256, 0x1);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code(), ErrorCode::kInvalidArgument);
}

// TPM2_MakeCredential on the TPM itself (as a verifier may do with any TPM): loads the EK public
// into the NULL hierarchy and wraps `secret` for `ak_name`. Returns {id_object, encrypted_secret}.
std::pair<std::vector<uint8_t>, std::vector<uint8_t>> make_credential(
    const std::string& tcti, const std::vector<uint8_t>& ek_public,
    const std::vector<uint8_t>& ak_name, const std::vector<uint8_t>& secret) {
  TSS2_TCTI_CONTEXT* tcti_ctx = nullptr;
  EXPECT_EQ(Tss2_TctiLdr_Initialize(tcti.c_str(), &tcti_ctx), TSS2_RC_SUCCESS);
  ESYS_CONTEXT* ctx = nullptr;
  EXPECT_EQ(Esys_Initialize(&ctx, tcti_ctx, nullptr), TSS2_RC_SUCCESS);

  auto pub = unmarshal<TPM2B_PUBLIC>(ek_public, Tss2_MU_TPM2B_PUBLIC_Unmarshal);
  ESYS_TR ek = ESYS_TR_NONE;
  EXPECT_EQ(Esys_LoadExternal(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nullptr, &pub,
                              ESYS_TR_RH_NULL, &ek),
            TSS2_RC_SUCCESS);
  TPM2B_DIGEST credential{};
  credential.size = static_cast<uint16_t>(secret.size());
  std::copy(secret.begin(), secret.end(), credential.buffer);
  TPM2B_NAME name{};
  name.size = static_cast<uint16_t>(ak_name.size());
  std::copy(ak_name.begin(), ak_name.end(), name.name);
  TPM2B_ID_OBJECT* blob = nullptr;
  TPM2B_ENCRYPTED_SECRET* enc = nullptr;
  EXPECT_EQ(Esys_MakeCredential(ctx, ek, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &credential,
                                &name, &blob, &enc),
            TSS2_RC_SUCCESS);
  std::pair<std::vector<uint8_t>, std::vector<uint8_t>> out;
  if (blob != nullptr && enc != nullptr) {
    out = {marshal(*blob, Tss2_MU_TPM2B_ID_OBJECT_Marshal),
           marshal(*enc, Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal)};
  }
  Esys_Free(blob);
  Esys_Free(enc);
  Esys_FlushContext(ctx, ek);
  Esys_Finalize(&ctx);
  Tss2_TctiLdr_Finalize(&tcti_ctx);
  return out;
}

TEST(Tpm, ActivateCredentialReturnsTheSecretOnlyForTheRightBlob) {
  IRONROOT_REQUIRE_SWTPM();
  auto swtpm = start_test_swtpm();
  ASSERT_NE(swtpm, nullptr);
  std::vector<uint8_t> ek, name;
  {
    auto tpm = open_tpm(*swtpm);  // closed before make_credential: swtpm has 3 object slots
    ASSERT_NE(tpm, nullptr);
    auto e = tpm->ek_public();
    auto n = tpm->ak_name();
    ASSERT_OK(e);
    ASSERT_OK(n);
    ek = *e;
    name = *n;
  }
  const std::vector<uint8_t> secret = bytes_of("a 32-byte secret from verifier!!");
  auto [id_object, enc_secret] = make_credential(swtpm->tcti(), ek, name, secret);
  ASSERT_FALSE(id_object.empty());
  ASSERT_FALSE(enc_secret.empty());
  std::vector<uint8_t> other_name = name;
  other_name.back() ^= 1;
  auto [other_id, other_enc] = make_credential(swtpm->tcti(), ek, other_name, secret);
  ASSERT_FALSE(other_id.empty());

  auto tpm = open_tpm(*swtpm);
  ASSERT_NE(tpm, nullptr);
  auto got = tpm->activate_credential(id_object, enc_secret);
  ASSERT_OK(got);
  EXPECT_EQ(*got, secret);
  // Again: the session is flushed each time, and the blob can be activated again.
  auto again = tpm->activate_credential(id_object, enc_secret);
  ASSERT_OK(again);
  EXPECT_EQ(*again, secret);

  // A flipped bit in the encrypted credential: the integrity HMAC fails.
  auto tampered = id_object;
  tampered.back() ^= 0x01;
  auto bad = tpm->activate_credential(tampered, enc_secret);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("TPM2_ActivateCredential"), std::string::npos)
      << bad.error().message();
  // A flipped bit in the RSA-encrypted seed.
  auto tampered_secret = enc_secret;
  tampered_secret[10] ^= 0x01;
  EXPECT_FALSE(tpm->activate_credential(id_object, tampered_secret).ok());
  // A credential made for another key's name.
  EXPECT_FALSE(tpm->activate_credential(other_id, other_enc).ok());
  // Not TPM structures at all.
  auto junk = tpm->activate_credential(std::vector<uint8_t>{0x00, 0x10, 1, 2}, enc_secret);
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.error().code(), ErrorCode::kMalformed);
  auto trailing = id_object;
  trailing.push_back(0);
  EXPECT_EQ(tpm->activate_credential(trailing, enc_secret).error().code(), ErrorCode::kMalformed);

  // After the failures the TPM still works and no session leaked (the TPM has only a few slots).
  for (int i = 0; i < 8; ++i) {
    EXPECT_FALSE(tpm->activate_credential(tampered, enc_secret).ok());
  }
  auto last = tpm->activate_credential(id_object, enc_secret);
  ASSERT_OK(last);
  EXPECT_EQ(*last, secret);
}

}  // namespace
}  // namespace ironroot::tpmdev
