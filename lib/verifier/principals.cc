#include "verifier/principals.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/hex.h"
#include "crypto/digest.h"
#include "crypto/pki.h"

namespace ironroot::verifier {
namespace {

using nlohmann::json;

constexpr std::pair<Role, const char*> kRoles[] = {
    {Role::kViewer, "viewer"},     {Role::kAuditor, "auditor"},
    {Role::kOperator, "operator"}, {Role::kPolicyAuthor, "policy-author"},
    {Role::kApprover, "approver"}, {Role::kSensor, "sensor"}};

Bytes bytes_of(const std::string& s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string sha256_hex(const std::string& s) {
  return crypto::hash(crypto::HashAlg::kSha256, bytes_of(s)).hex();
}

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != '@')
      return false;
  }
  return true;
}

bool is_hex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

const char* role_name(Role r) {
  for (const auto& [role, name] : kRoles) {
    if (role == r) return name;
  }
  return "?";
}

std::string role_names() {
  std::string out;
  for (const auto& [role, name] : kRoles) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

std::optional<Role> role_from_name(const std::string& name) {
  for (const auto& [role, n] : kRoles) {
    if (name == n) return role;
  }
  return std::nullopt;
}

Result<std::vector<Principal>> parse_principals(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("principals") ||
      !j["principals"].is_array())
    return Error(ErrorCode::kMalformed, "expected {\"principals\": [...]}");
  std::vector<Principal> out;
  std::set<std::string> names;
  for (size_t i = 0; i < j["principals"].size(); ++i) {
    const json& e = j["principals"][i];
    const std::string where = "principals[" + std::to_string(i) + "]";
    if (!e.is_object()) return Error(ErrorCode::kMalformed, where + ": not an object");
    Principal p;
    if (!e.contains("name") || !e["name"].is_string() || !valid_name(e["name"].get<std::string>()))
      return Error(ErrorCode::kMalformed, where + ".name: 1-64 of [A-Za-z0-9._@-]");
    p.name = e["name"].get<std::string>();
    if (!names.insert(p.name).second)
      return Error(ErrorCode::kMalformed, where + ".name: \"" + p.name + "\" appears twice");
    if (!e.contains("roles") || !e["roles"].is_array())
      return Error(ErrorCode::kMalformed, where + ".roles: a list of role names");
    for (const auto& r : e["roles"]) {
      auto role = r.is_string() ? role_from_name(r.get<std::string>()) : std::nullopt;
      if (!role)
        return Error(ErrorCode::kMalformed,
                     where + ".roles: unknown role " + r.dump() + " (" + role_names() + ")");
      p.roles.insert(*role);
    }
    p.token_sha256 = e.value("token_sha256", "");
    p.cert_fingerprint = e.value("cert_sha256", "");
    if (p.token_sha256.empty() == p.cert_fingerprint.empty())
      return Error(ErrorCode::kMalformed,
                   where + ": exactly one of token_sha256 or cert_sha256 is needed");
    if (!p.token_sha256.empty() && !is_hex64(p.token_sha256))
      return Error(ErrorCode::kMalformed, where + ".token_sha256: 64 lowercase hex digits");
    if (!p.cert_fingerprint.empty() && !is_hex64(p.cert_fingerprint))
      return Error(ErrorCode::kMalformed, where + ".cert_sha256: 64 lowercase hex digits");
    out.push_back(std::move(p));
  }
  return out;
}

std::string principals_to_json(const std::vector<Principal>& principals) {
  json list = json::array();
  for (const auto& p : principals) {
    json roles = json::array();
    for (Role r : p.roles) roles.push_back(role_name(r));
    json e{{"name", p.name}, {"roles", roles}};
    if (!p.token_sha256.empty()) e["token_sha256"] = p.token_sha256;
    if (!p.cert_fingerprint.empty()) e["cert_sha256"] = p.cert_fingerprint;
    list.push_back(e);
  }
  return json{{"principals", list}}.dump(2) + "\n";
}

Status PrincipalDirectory::load() {
  // The identity (fstat) and the text of one and the same file, even if it is replaced now.
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error(ErrorCode::kNotFound, path_ + ": cannot read");
  struct stat st {};
  ::fstat(fd, &st);
  std::string text;
  char buf[8192];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  ::close(fd);
  auto parsed = parse_principals(text);
  if (!parsed) return std::move(parsed).error().with_context(path_);
  std::lock_guard lock(mu_);
  principals_ = std::move(*parsed);
  mtime_ = st.st_mtim;
  inode_ = st.st_ino;
  size_ = st.st_size;
  return {};
}

void PrincipalDirectory::reload_if_changed() {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return;
  {
    std::lock_guard lock(mu_);
    if (st.st_mtim.tv_sec == mtime_.tv_sec && st.st_mtim.tv_nsec == mtime_.tv_nsec &&
        st.st_ino == inode_ && st.st_size == size_)
      return;
  }
  // A broken edit keeps the principals in force (and says so in the verifier's log).
  (void)load();
}

std::optional<Principal> PrincipalDirectory::by_token(const std::string& token) {
  if (token.empty()) return std::nullopt;
  reload_if_changed();
  const std::string h = sha256_hex(token);
  std::lock_guard lock(mu_);
  std::optional<Principal> found;
  // Compare against every entry, in constant time each, so timing says nothing about which.
  for (const auto& p : principals_) {
    if (!p.token_sha256.empty() && crypto::equal_ct(bytes_of(h), bytes_of(p.token_sha256)))
      found = p;
  }
  return found;
}

std::optional<Principal> PrincipalDirectory::by_certificate(const std::string& fingerprint_hex) {
  if (fingerprint_hex.empty()) return std::nullopt;
  reload_if_changed();
  std::lock_guard lock(mu_);
  for (const auto& p : principals_) {
    if (!p.cert_fingerprint.empty() && p.cert_fingerprint == fingerprint_hex) return p;
  }
  return std::nullopt;
}

Result<std::string> add_principal(const std::string& path, const std::string& name,
                                  const std::set<Role>& roles) {
  std::vector<Principal> list;
  if (std::ifstream in(path); in) {
    std::stringstream ss;
    ss << in.rdbuf();
    IRONROOT_ASSIGN_OR_RETURN(list, parse_principals(ss.str()));
  }
  if (!valid_name(name)) return invalid_argument("principal name: 1-64 of [A-Za-z0-9._@-]");
  if (roles.empty()) return invalid_argument("a principal needs at least one role");
  for (const auto& p : list) {
    if (p.name == name) return invalid_argument("principal \"" + name + "\" exists already");
  }
  std::string token = crypto::random_token(32);
  list.push_back({name, roles, sha256_hex(token), ""});
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return Error(ErrorCode::kIo, tmp + ": cannot write");
    out << principals_to_json(list);
  }
  ::chmod(tmp.c_str(), 0600);
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Error(ErrorCode::kIo, path + ": cannot replace");
  return token;
}

}  // namespace ironroot::verifier
