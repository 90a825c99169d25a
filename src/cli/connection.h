// ironroot cli: how an operator command reaches a running verifier (URL, CA, a principal's
// token), from flags or the verifier's data directory.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"

namespace CLI {
class App;
}

namespace ironroot::cli {

struct OperatorConnection {
  std::string url = "https://127.0.0.1:8443";
  std::string data_dir;
  std::string ca_file;
  std::string token_file;
  std::string as = "operator";

  // --verifier, --data-dir, --ca, --token-file, --as.
  void add_options(CLI::App* cmd);
  // One request; the answer's JSON, or an error naming the status and the verifier's message.
  Result<nlohmann::json> call(const std::string& method, const std::string& target,
                              const std::string& body = "") const;
  // The same for an answer that is not JSON (a signed checkpoint).
  Result<std::string> call_text(const std::string& method, const std::string& target) const;
};

// A file's whole content ("" when it cannot be read).
std::string read_file(const std::string& path);

}  // namespace ironroot::cli
