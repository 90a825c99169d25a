// ironroot demo: the main job on the embedded default. It needs nothing but this binary: it
// writes the evidence of a simulated host, then reads it back as the offline tools would.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/file.h"
#include "evidence/eventlog/describe.h"
#include "evidence/eventlog/replay.h"
#include "evidence/eventlog/writer.h"
#include "output.h"

namespace ironroot::cli {
namespace {

namespace el = evidence::eventlog;
using crypto::HashAlg;

int run_demo(std::string dir, bool keep) {
  namespace fs = std::filesystem;
  if (dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "ironroot-demo-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      print_error("cannot create a temporary directory under " +
                  fs::temp_directory_path().string());
      return kExitError;
    }
    dir = tmpl;
  } else {
    fs::create_directories(dir);
  }
  const std::vector<HashAlg> banks = {HashAlg::kSha1, HashAlg::kSha256, HashAlg::kSha384};
  std::cerr << "[1/3] writing the firmware event log of a simulated host to " << dir << "\n";
  auto log = el::sample_boot_log("host-1", "ironroot-fw 1.0", banks);
  const std::string log_path = dir + "/binary_bios_measurements";
  if (auto st = write_file(log_path, log); !st) {
    print_error(st.error().message());
    return kExitError;
  }
  std::cerr << "[2/3] reading it back: events, Secure Boot keys, boot path, replayed PCRs\n";
  auto replayed = el::replay(log);
  if (!replayed) {
    print_error(replayed.error().message());
    return kExitError;
  }
  std::cout << "$ ironroot eventlog replay " << log_path << "\n";
  for (const auto& bank : replayed->banks) {
    for (uint32_t pcr = 0; pcr < el::kNumPcrs; ++pcr) {
      if (bank.was_extended(pcr)) {
        std::printf("  %-7s PCR %2u  %s\n", std::string(crypto::hash_alg_name(bank.alg)).c_str(),
                    pcr, bank.pcrs[pcr].hex().c_str());
      }
    }
  }
  std::fflush(stdout);
  std::cout << "  " << replayed->events << " events, " << replayed->payloads_checked
            << " payloads match their digests, " << replayed->digest_mismatches.size()
            << " mismatch(es)\n\n";

  std::cerr << "[3/3] editing the kernel command line after the fact, as an attacker would\n";
  std::vector<uint8_t> tampered = log;
  const std::string needle = "ro quiet";
  auto it = std::search(tampered.begin(), tampered.end(), needle.begin(), needle.end());
  if (it != tampered.end()) std::copy_n("rw quiet", 8, it);
  const std::string tampered_path = dir + "/binary_bios_measurements.tampered";
  (void)write_file(tampered_path, tampered);
  auto caught = el::replay(tampered);
  if (!caught) {
    print_error(caught.error().message());
    return kExitError;
  }
  std::cout << "$ ironroot eventlog replay " << tampered_path << "\n";
  for (const auto& m : caught->digest_mismatches) {
    std::cout << "  MISMATCH: event " << m.event << " (PCR " << m.pcr
              << "): the payload is not what was measured\n";
  }
  nlohmann::json summary{{"dir", dir},
                         {"events", replayed->events},
                         {"pcrs", el::pcrs_json(*replayed)},
                         {"tampered_log_caught", !caught->digest_mismatches.empty()}};
  std::cout << "\n" << summary.dump(2) << "\n";
  if (!keep) fs::remove_all(dir);
  return caught->digest_mismatches.empty() ? kExitVerifyFailed : kExitOk;
}

}  // namespace

void add_demo_command(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "demo", "Run the whole pipeline on generated evidence: needs nothing but this binary");
  static std::string dir;
  static bool keep = false;
  cmd->add_option("--dir", dir, "Where to write the demo's files (default: a temporary directory)");
  cmd->add_flag("--keep", keep, "Keep the demo's files afterwards");
  cmd->callback([exit_code] { *exit_code = run_demo(dir, keep || !dir.empty()); });
}

}  // namespace ironroot::cli
