#include "posture/sovereignty.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <variant>

namespace ironroot::posture {

namespace data {
extern const char kSovereigntyPolicy[];
}  // namespace data

// ---- origins ----

std::vector<ComponentOrigin> component_origins(const Posture& p) {
  const auto& k = knowledge();
  std::vector<ComponentOrigin> out;
  auto add = [&](const char* role, const std::string& name, const std::string& lookup) {
    if (name.empty() && lookup.empty()) return;
    ComponentOrigin o;
    o.role = role;
    o.name = name;
    if (const Vendor* v = k.find_vendor(lookup.empty() ? name : lookup)) {
      o.vendor = v->name;
      o.jurisdiction = v->jurisdiction;
      o.eu = v->eu;
      o.ref = v->ref;
    }
    out.push_back(std::move(o));
  };
  add("cpu", p.cpu.model_name.empty() ? p.cpu.manufacturer : p.cpu.model_name,
      p.cpu.vendor.empty() ? p.cpu.manufacturer : p.cpu.vendor);
  if (p.me.present) add("chipset-me", "Intel ME " + p.me.family + " " + p.me.version, "Intel");
  if (p.psp.present || p.cpu.vendor == "AMD") add("chipset-psp", "AMD PSP", "AMD");
  if (p.tpm.present) {
    add("tpm", p.tpm.manufacturer.empty() ? "TPM " + p.tpm.version : p.tpm.manufacturer,
        p.tpm.manufacturer);
  }
  if (p.bmc.present) {
    std::string who = p.bmc.vendor.empty() ? p.platform.system_manufacturer : p.bmc.vendor;
    add("bmc", who.empty() ? "BMC" : who, who);
  }
  if (!p.platform.bios_vendor.empty()) {
    add("firmware", p.platform.bios_vendor + " " + p.platform.bios_version, p.platform.bios_vendor);
  }
  if (!p.platform.system_manufacturer.empty()) {
    add("system", p.platform.system_manufacturer + " " + p.platform.system_product,
        p.platform.system_manufacturer);
  }
  for (const auto& n : p.nics) add("nic", n.id + " " + n.vendor, n.vendor);
  return out;
}

// ---- policy ----

namespace {

struct Value {
  std::variant<std::monostate, bool, double, std::string, std::vector<Value>> v;
  bool truthy() const {
    if (auto b = std::get_if<bool>(&v)) return *b;
    if (auto d = std::get_if<double>(&v)) return *d != 0;
    if (auto s = std::get_if<std::string>(&v)) return !s->empty();
    if (auto l = std::get_if<std::vector<Value>>(&v)) return !l->empty();
    return false;
  }
  bool operator==(const Value& o) const {
    if (v.index() != o.v.index() || std::holds_alternative<std::monostate>(v)) return false;
    return v == o.v;
  }
};

Value V(bool b) {
  return Value{b};
}
Value V(double d) {
  return Value{d};
}
Value V(std::string s) {
  return Value{std::move(s)};
}
template <typename T>
Value V(const std::optional<T>& o) {
  if (!o) return Value{};
  return V(*o);
}

using Env = std::map<std::string, Value>;

}  // namespace

struct PolicyExpr {
  enum class Kind { kOr, kAnd, kNot, kCmp, kLiteral, kIdent, kList, kAny } kind;
  std::string op;  // kCmp: == != < <= > >= in notin; kAny: scope; kIdent: name
  Value literal;
  std::vector<std::shared_ptr<const PolicyExpr>> kids;
};

namespace {

using ExprPtr = std::shared_ptr<const PolicyExpr>;

struct Token {
  enum class Kind { kIdent, kString, kNumber, kPunct, kEnd } kind;
  std::string text;
  size_t column = 0;
};

class Parser {
 public:
  Parser(std::string_view line, size_t line_no) : line_no_(line_no) { tokenize(line); }

  Result<PolicyRule> rule() {
    if (!error_.empty()) return fail(err_col_, error_);
    PolicyRule r;
    r.line = line_no_;
    if (!is_ident("deny") && !is_ident("warn")) return fail(peek().column, "expected deny or warn");
    r.effect = next().text;
    if (peek().kind != Token::Kind::kString)
      return fail(peek().column, "expected the rule's name in quotes");
    r.name = next().text;
    if (!is_ident("when")) return fail(peek().column, "expected 'when'");
    next();
    IRONROOT_ASSIGN_OR_RETURN(r.condition, parse_or());
    if (peek().kind != Token::Kind::kEnd)
      return fail(peek().column, "unexpected '" + peek().text + "'");
    return r;
  }

 private:
  Error fail(size_t col, const std::string& what) const {
    return malformed("policy line " + std::to_string(line_no_) + ", column " +
                     std::to_string(col + 1) + ": " + what);
  }
  const Token& peek() const { return toks_[pos_]; }
  Token next() { return toks_[pos_ < toks_.size() - 1 ? pos_++ : pos_]; }
  bool is_ident(std::string_view w) const {
    return peek().kind == Token::Kind::kIdent && peek().text == w;
  }
  bool is_punct(std::string_view p) const {
    return peek().kind == Token::Kind::kPunct && peek().text == p;
  }

  void tokenize(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
      char c = s[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t b = i;
        while (i < s.size() &&
               (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '.'))
          ++i;
        toks_.push_back({Token::Kind::kIdent, std::string(s.substr(b, i - b)), b});
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t b = i;
        while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
        toks_.push_back({Token::Kind::kNumber, std::string(s.substr(b, i - b)), b});
      } else if (c == '"') {
        size_t b = i++;
        std::string str;
        while (i < s.size() && s[i] != '"') {
          if (s[i] == '\\' && i + 1 < s.size()) ++i;
          str.push_back(s[i++]);
        }
        if (i >= s.size()) {
          error_ = "unterminated string";
          err_col_ = b;
          break;
        }
        ++i;
        toks_.push_back({Token::Kind::kString, std::move(str), b});
      } else if ((c == '=' || c == '!' || c == '<' || c == '>') && i + 1 < s.size() &&
                 s[i + 1] == '=') {
        toks_.push_back({Token::Kind::kPunct, std::string(s.substr(i, 2)), i});
        i += 2;
      } else if (c == '(' || c == ')' || c == '[' || c == ']' || c == ',' || c == '<' || c == '>') {
        toks_.push_back({Token::Kind::kPunct, std::string(1, c), i});
        ++i;
      } else {
        error_ = std::string("unexpected character '") + c + "'";
        err_col_ = i;
        break;
      }
    }
    toks_.push_back({Token::Kind::kEnd, "end of line", s.size()});
  }

  static ExprPtr node(PolicyExpr::Kind k, std::string op, std::vector<ExprPtr> kids,
                      Value lit = {}) {
    auto e = std::make_shared<PolicyExpr>();
    e->kind = k;
    e->op = std::move(op);
    e->kids = std::move(kids);
    e->literal = std::move(lit);
    return e;
  }

  Result<ExprPtr> parse_or() {
    if (++depth_ > 64) return fail(peek().column, "expression nested too deeply");
    IRONROOT_ASSIGN_OR_RETURN(ExprPtr lhs, parse_and());
    while (is_ident("or")) {
      next();
      IRONROOT_ASSIGN_OR_RETURN(ExprPtr rhs, parse_and());
      lhs = node(PolicyExpr::Kind::kOr, "", {lhs, rhs});
    }
    --depth_;
    return lhs;
  }
  Result<ExprPtr> parse_and() {
    IRONROOT_ASSIGN_OR_RETURN(ExprPtr lhs, parse_not());
    while (is_ident("and")) {
      next();
      IRONROOT_ASSIGN_OR_RETURN(ExprPtr rhs, parse_not());
      lhs = node(PolicyExpr::Kind::kAnd, "", {lhs, rhs});
    }
    return lhs;
  }
  Result<ExprPtr> parse_not() {
    if (is_ident("not")) {
      next();
      if (++depth_ > 64) return fail(peek().column, "expression nested too deeply");
      IRONROOT_ASSIGN_OR_RETURN(ExprPtr e, parse_not());
      --depth_;
      return node(PolicyExpr::Kind::kNot, "", {e});
    }
    return parse_cmp();
  }
  Result<ExprPtr> parse_cmp() {
    if (is_punct("(")) {
      next();
      IRONROOT_ASSIGN_OR_RETURN(ExprPtr e, parse_or());
      if (!is_punct(")")) return fail(peek().column, "expected ')'");
      next();
      return e;
    }
    if (is_ident("any")) {
      next();
      if (!is_ident("engine") && !is_ident("component")) {
        return fail(peek().column, "expected 'engine' or 'component' after 'any'");
      }
      std::string scope = next().text;
      if (!is_punct("(")) return fail(peek().column, "expected '(' after 'any " + scope + "'");
      next();
      IRONROOT_ASSIGN_OR_RETURN(ExprPtr e, parse_or());
      if (!is_punct(")")) return fail(peek().column, "expected ')'");
      next();
      return node(PolicyExpr::Kind::kAny, scope, {e});
    }
    IRONROOT_ASSIGN_OR_RETURN(ExprPtr lhs, parse_value());
    std::string op;
    if (is_punct("==") || is_punct("!=") || is_punct("<") || is_punct("<=") || is_punct(">") ||
        is_punct(">=")) {
      op = next().text;
    } else if (is_ident("in")) {
      next();
      op = "in";
    } else if (is_ident("not") && pos_ + 1 < toks_.size() && toks_[pos_ + 1].text == "in") {
      next();
      next();
      op = "notin";
    } else {
      return lhs;
    }
    IRONROOT_ASSIGN_OR_RETURN(ExprPtr rhs, parse_value());
    return node(PolicyExpr::Kind::kCmp, op, {lhs, rhs});
  }
  Result<ExprPtr> parse_value() {
    const Token& t = peek();
    switch (t.kind) {
      case Token::Kind::kString: {
        std::string s = next().text;
        return node(PolicyExpr::Kind::kLiteral, "", {}, V(std::move(s)));
      }
      case Token::Kind::kNumber: {
        Token n = next();
        char* end = nullptr;
        double d = std::strtod(n.text.c_str(), &end);
        if (end == nullptr || *end != '\0') return fail(n.column, "bad number '" + n.text + "'");
        return node(PolicyExpr::Kind::kLiteral, "", {}, V(d));
      }
      case Token::Kind::kIdent: {
        if (t.text == "true" || t.text == "false") {
          bool b = next().text == "true";
          return node(PolicyExpr::Kind::kLiteral, "", {}, V(b));
        }
        static const char* const kReserved[] = {"and", "or", "not", "in", "any", "when"};
        for (const char* r : kReserved) {
          if (t.text == r) return fail(t.column, "expected a value, found '" + t.text + "'");
        }
        return node(PolicyExpr::Kind::kIdent, next().text, {});
      }
      case Token::Kind::kPunct:
        if (t.text == "[") {
          next();
          std::vector<ExprPtr> items;
          while (!is_punct("]")) {
            if (peek().kind != Token::Kind::kString && peek().kind != Token::Kind::kNumber) {
              return fail(peek().column, "a list holds strings or numbers");
            }
            IRONROOT_ASSIGN_OR_RETURN(ExprPtr item, parse_value());
            items.push_back(item);
            if (is_punct(",")) {
              next();
            } else if (!is_punct("]")) {
              return fail(peek().column, "expected ',' or ']'");
            }
          }
          next();
          return node(PolicyExpr::Kind::kList, "", std::move(items));
        }
        [[fallthrough]];
      case Token::Kind::kEnd: break;
    }
    return fail(t.column, "expected a value, found '" + t.text + "'");
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  size_t line_no_;
  size_t depth_ = 0;
  std::string error_;
  size_t err_col_ = 0;
};

struct Scope {
  const Env* host;
  const Env* binding;  // engine.* or component.*, may be null
  std::string* detail;
  const std::vector<Env>* engines;
  const std::vector<Env>* components;
};

Value eval(const PolicyExpr& e, const Scope& s) {
  using K = PolicyExpr::Kind;
  switch (e.kind) {
    case K::kOr: return V(eval(*e.kids[0], s).truthy() || eval(*e.kids[1], s).truthy());
    case K::kAnd: return V(eval(*e.kids[0], s).truthy() && eval(*e.kids[1], s).truthy());
    case K::kNot: return V(!eval(*e.kids[0], s).truthy());
    case K::kLiteral: return e.literal;
    case K::kIdent: {
      if (s.binding) {
        if (auto it = s.binding->find(e.op); it != s.binding->end()) return it->second;
      }
      if (auto it = s.host->find(e.op); it != s.host->end()) return it->second;
      return Value{};
    }
    case K::kList: {
      std::vector<Value> items;
      for (const auto& k : e.kids) items.push_back(eval(*k, s));
      return Value{std::move(items)};
    }
    case K::kCmp: {
      Value a = eval(*e.kids[0], s), b = eval(*e.kids[1], s);
      if (e.op == "==") return V(a == b);
      if (e.op == "!=") return V(!(a == b));
      if (e.op == "in" || e.op == "notin") {
        bool found = false;
        if (auto l = std::get_if<std::vector<Value>>(&b.v)) {
          found = std::any_of(l->begin(), l->end(), [&](const Value& x) { return x == a; });
        }
        return V(e.op == "in" ? found : !found);
      }
      auto x = std::get_if<double>(&a.v), y = std::get_if<double>(&b.v);
      if (!x || !y) return V(false);
      if (e.op == "<") return V(*x < *y);
      if (e.op == "<=") return V(*x <= *y);
      if (e.op == ">") return V(*x > *y);
      return V(*x >= *y);
    }
    case K::kAny: {
      const auto& list = e.op == "engine" ? *s.engines : *s.components;
      for (const auto& b : list) {
        Scope inner = s;
        inner.binding = &b;
        if (eval(*e.kids[0], inner).truthy()) {
          if (s.detail) {
            auto name = b.find(e.op == "engine" ? "engine.kind" : "component.role");
            auto vendor = b.find(e.op + ".vendor");
            auto jur = b.find(e.op + ".jurisdiction");
            auto str = [](const Value& v) {
              auto p = std::get_if<std::string>(&v.v);
              return p ? *p : std::string();
            };
            *s.detail = e.op + " " + str(name->second) + " (" + str(vendor->second) + ", " +
                        (str(jur->second).empty() ? "unknown jurisdiction" : str(jur->second)) +
                        ")";
          }
          return V(true);
        }
      }
      return V(false);
    }
  }
  return Value{};
}

Env host_env(const Posture& p, const Rating& r) {
  Env e;
  e["cpu.vendor"] = V(p.cpu.vendor);
  e["cpu.model_name"] = V(p.cpu.model_name);
  e["me.present"] = V(p.me.present);
  e["me.hap"] = V(p.me.hap);
  e["me.manufacturing_mode"] = V(p.me.manufacturing_mode);
  e["me.operation_mode"] = V(p.me.operation_mode);
  e["me.working_state"] = V(p.me.working_state);
  e["me.family"] = V(p.me.family);
  e["me.version"] = V(p.me.version);
  e["amt.present"] = V(p.me.amt_present);
  e["amt.provisioning"] = V(p.me.amt_provisioning);
  e["bmc.present"] = V(p.bmc.present);
  e["bmc.redfish"] = V(p.bmc.redfish);
  e["bmc.vendor"] = V(p.bmc.vendor);
  e["tpm.present"] = V(p.tpm.present);
  e["tpm.version"] = V(p.tpm.version);
  e["tpm.manufacturer"] = V(p.tpm.manufacturer);
  e["psp.present"] = V(p.psp.present);
  e["sev_snp"] = V(p.psp.sev_snp);
  e["secure_boot"] = V(p.security.secure_boot);
  e["iommu"] = V(p.security.iommu);
  e["lockdown"] = V(p.security.lockdown);
  e["memory_encryption"] = V(p.security.memory_encryption);
  e["chassis"] = V(p.platform.chassis_type);
  e["hsi.fwupd"] = V(static_cast<double>(r.fwupd_level));
  e["hsi.ironroot"] = V(static_cast<double>(r.ironroot_level));
  double affected = 0, possible = 0;
  for (const auto& m : r.advisories) (m.status == "affected" ? affected : possible) += 1;
  e["advisories.affected"] = V(affected);
  e["advisories.possible"] = V(possible);
  return e;
}

}  // namespace

Result<Policy> parse_policy(std::string_view text) {
  Policy policy;
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;
    if (line.size() > 4096)
      return malformed("policy line " + std::to_string(line_no) + ": longer than 4096 characters");
    Parser parser(line, line_no);
    IRONROOT_ASSIGN_OR_RETURN(PolicyRule rule, parser.rule());
    policy.rules.push_back(std::move(rule));
  }
  return policy;
}

const std::string& default_policy_text() {
  static const std::string kText = data::kSovereigntyPolicy;
  return kText;
}

PolicyDecision evaluate_policy(const Policy& policy, const Posture& p) {
  Rating r = rate(p);
  Env host = host_env(p, r);
  const auto& k = knowledge();
  std::vector<Env> engines, components;
  for (const auto& e : p.subos_engines) {
    Env b;
    b["engine.kind"] = V(e.kind);
    b["engine.vendor"] = V(e.vendor);
    b["engine.version"] = V(e.version);
    b["engine.state"] = V(e.state);
    b["engine.network_capable"] = V(e.network_capable);
    const Vendor* v = k.find_vendor(e.vendor);
    b["engine.jurisdiction"] = V(v ? v->jurisdiction : "");
    b["engine.eu"] = V(v != nullptr && v->eu);
    engines.push_back(std::move(b));
  }
  for (const auto& o : component_origins(p)) {
    Env b;
    b["component.role"] = V(o.role);
    b["component.name"] = V(o.name);
    b["component.vendor"] = V(o.vendor);
    b["component.jurisdiction"] = V(o.jurisdiction);
    b["component.eu"] = V(o.eu);
    components.push_back(std::move(b));
  }
  PolicyDecision d;
  for (const auto& rule : policy.rules) {
    std::string detail;
    Scope s{&host, nullptr, &detail, &engines, &components};
    if (!eval(*rule.condition, s).truthy()) continue;
    d.hits.push_back({rule.effect, rule.name, rule.line, detail});
    if (rule.effect == "deny") {
      d.decision = "deny";
    } else if (d.decision == "allow") {
      d.decision = "warn";
    }
  }
  return d;
}

// ---- CycloneDX 1.5 ----

namespace {

using OJson = nlohmann::ordered_json;

std::string random_uuid() {
  std::random_device rd;
  uint8_t b[16];
  for (auto& x : b) x = static_cast<uint8_t>(rd() & 0xFF);
  b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);
  char out[40];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

OJson prop(const std::string& name, const std::string& value) {
  return OJson{{"name", name}, {"value", value}};
}

}  // namespace

nlohmann::json cyclonedx_bom(const Posture& p, const Rating& rating, std::string serial_uuid) {
  if (serial_uuid.empty()) serial_uuid = random_uuid();
  const auto& k = knowledge();
  OJson bom;
  bom["bomFormat"] = "CycloneDX";
  bom["specVersion"] = "1.5";
  bom["serialNumber"] = "urn:uuid:" + serial_uuid;
  bom["version"] = 1;
  OJson host;
  host["type"] = "device";
  host["bom-ref"] = "host";
  host["name"] = p.host.empty()
                     ? (p.platform.system_product.empty() ? "host" : p.platform.system_product)
                     : p.host;
  if (!p.platform.system_manufacturer.empty()) {
    host["supplier"] = OJson{{"name", p.platform.system_manufacturer}};
  }
  if (!p.platform.system_product.empty()) host["description"] = p.platform.system_product;
  host["properties"] =
      OJson::array({prop("ironroot:chassis", p.platform.chassis_type),
                    prop("ironroot:fwupd-hsi", rating.fwupd_hsi),
                    prop("ironroot:hsi-level", std::to_string(rating.ironroot_level)),
                    prop("ironroot:source", p.source)});
  bom["metadata"] =
      OJson{{"timestamp", now_rfc3339()},
            {"tools", OJson{{"components", OJson::array({OJson{{"type", "application"},
                                                               {"name", "ironroot"},
                                                               {"version", "0.1.0"}}})}}},
            {"component", host}};
  OJson comps = OJson::array();
  int n = 0;
  auto component = [&](const char* type, const std::string& role, const std::string& name,
                       const std::string& version, const std::string& vendor_hint) {
    OJson c;
    c["type"] = type;
    c["bom-ref"] = role + "-" + std::to_string(++n);
    c["name"] = name.empty() ? role : name;
    if (!version.empty()) c["version"] = version;
    OJson props = OJson::array({prop("ironroot:role", role)});
    if (const Vendor* v = k.find_vendor(vendor_hint)) {
      c["supplier"] = OJson{{"name", v->name}};
      props.push_back(prop("ironroot:jurisdiction", v->jurisdiction));
      props.push_back(prop("ironroot:eu", v->eu ? "true" : "false"));
    } else if (!vendor_hint.empty()) {
      c["supplier"] = OJson{{"name", vendor_hint}};
      props.push_back(prop("ironroot:jurisdiction", "unknown"));
    }
    c["properties"] = std::move(props);
    return c;
  };
  if (!p.cpu.model_name.empty() || !p.cpu.vendor.empty()) {
    OJson c = component("device", "cpu", p.cpu.model_name, "", p.cpu.vendor);
    if (p.cpu.microcode) {
      char buf[24];
      std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(*p.cpu.microcode));
      c["properties"].push_back(prop("ironroot:microcode", buf));
    }
    comps.push_back(std::move(c));
  }
  if (!p.platform.bios_vendor.empty() || !p.platform.bios_version.empty()) {
    OJson c = component("firmware", "bios", p.platform.bios_vendor + " BIOS",
                        p.platform.bios_version, p.platform.bios_vendor);
    if (!p.platform.bios_date.empty())
      c["properties"].push_back(prop("ironroot:release-date", p.platform.bios_date));
    comps.push_back(std::move(c));
  }
  if (p.tpm.present) {
    OJson c =
        component("device", "tpm", "TPM " + p.tpm.version, p.tpm.firmware, p.tpm.manufacturer);
    comps.push_back(std::move(c));
  }
  for (const auto& e : p.subos_engines) {
    OJson c = component("firmware", "subos-engine", e.kind, e.version, e.vendor);
    c["properties"].push_back(prop("ironroot:engine-state", e.state));
    c["properties"].push_back(
        prop("ironroot:network-capable", e.network_capable ? "true" : "false"));
    if (e.kind.rfind("intel-", 0) == 0 && !p.me.hfsts.empty()) {
      std::string regs;
      for (uint32_t r : p.me.hfsts) {
        char buf[12];
        std::snprintf(buf, sizeof buf, "%s%08X", regs.empty() ? "" : " ", r);
        regs += buf;
      }
      c["properties"].push_back(prop("ironroot:hfsts", regs));
    }
    comps.push_back(std::move(c));
  }
  for (const auto& nic : p.nics) {
    comps.push_back(component("device", "nic", nic.id, "", nic.vendor));
  }
  bom["components"] = std::move(comps);
  if (!rating.advisories.empty()) {
    OJson vulns = OJson::array();
    for (const auto& m : rating.advisories) {
      OJson v;
      v["id"] = m.advisory;
      v["source"] = OJson{{"name", m.advisory.rfind("AMD", 0) == 0     ? "AMD"
                                   : m.advisory.rfind("INTEL", 0) == 0 ? "Intel"
                                                                       : "fwupd"},
                          {"url", m.url}};
      v["description"] = m.title;
      v["analysis"] = OJson{{"state", m.status == "affected" ? "exploitable" : "in_triage"},
                            {"detail", "version " + m.version + " (" + m.engine + ")"}};
      vulns.push_back(std::move(v));
    }
    bom["vulnerabilities"] = std::move(vulns);
  }
  return nlohmann::json(bom);
}

// ---- fleet ----

FleetHost assess_host(Posture p, const Policy& policy) {
  FleetHost h;
  h.rating = rate(p);
  h.decision = evaluate_policy(policy, p);
  h.origins = component_origins(p);
  h.posture = std::move(p);
  return h;
}

namespace {

using Counts = std::map<std::string, std::map<std::string, int>>;

struct FleetCounts {
  Counts jurisdiction;  // role -> jurisdiction -> hosts
  Counts engines;       // engine kind -> state -> hosts
  std::map<std::string, int> decisions;
  std::map<std::string, int> fwupd_hsi;
  std::map<std::string, int> ironroot_level;
};

FleetCounts count(const std::vector<FleetHost>& hosts) {
  FleetCounts c;
  for (const auto& h : hosts) {
    std::map<std::string, std::string> seen;  // one count per host and role
    for (const auto& o : h.origins) {
      if (o.role == "nic" || seen.count(o.role)) continue;
      seen[o.role] = o.jurisdiction.empty() ? "unknown" : o.jurisdiction;
    }
    for (const auto& [role, j] : seen) c.jurisdiction[role][j]++;
    for (const auto& e : h.posture.subos_engines) c.engines[e.kind][e.state]++;
    c.decisions[h.decision.decision]++;
    c.fwupd_hsi[h.rating.fwupd_hsi.rfind("HSI:INVALID", 0) == 0 ? "not rated (chassis)"
                                                                : h.rating.fwupd_hsi]++;
    c.ironroot_level["HSI-" + std::to_string(h.rating.ironroot_level)]++;
  }
  return c;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(ch);
    }
  }
  return out;
}

std::string bar_chart(const std::string& title, const std::map<std::string, int>& values,
                      int total) {
  const int row = 22, label = 190, width = 320;
  int h = row * static_cast<int>(values.size()) + 10;
  std::string svg = "<figure><figcaption>" + html_escape(title) +
                    "</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(label + width + 60) + "\" height=\"" + std::to_string(h) + "\">";
  int y = 5;
  for (const auto& [name, n] : values) {
    int w = total > 0 ? n * width / total : 0;
    svg += "<text x=\"0\" y=\"" + std::to_string(y + 15) + "\" font-size=\"13\">" +
           html_escape(name) + "</text>";
    svg += "<rect x=\"" + std::to_string(label) + "\" y=\"" + std::to_string(y + 3) +
           "\" width=\"" + std::to_string(std::max(w, 1)) + "\" height=\"16\" fill=\"#3b6ea8\"/>";
    svg += "<text x=\"" + std::to_string(label + std::max(w, 1) + 6) + "\" y=\"" +
           std::to_string(y + 15) + "\" font-size=\"13\">" + std::to_string(n) + "</text>";
    y += row;
  }
  return svg + "</svg></figure>\n";
}

}  // namespace

nlohmann::json fleet_report_json(const std::vector<FleetHost>& hosts) {
  FleetCounts c = count(hosts);
  OJson j;
  j["hosts"] = hosts.size();
  j["decisions"] = c.decisions;
  j["jurisdictions"] = c.jurisdiction;
  j["engines"] = c.engines;
  j["fwupd_hsi"] = c.fwupd_hsi;
  j["ironroot_level"] = c.ironroot_level;
  OJson list = OJson::array();
  for (const auto& h : hosts) {
    OJson e;
    e["host"] = h.posture.host;
    e["source"] = h.posture.source;
    e["system"] = h.posture.platform.system_manufacturer + " " + h.posture.platform.system_product;
    e["chassis"] = h.posture.platform.chassis_type;
    e["decision"] = h.decision.decision;
    OJson hits = OJson::array();
    for (const auto& hit : h.decision.hits) {
      hits.push_back(OJson{
          {"effect", hit.effect}, {"rule", hit.name}, {"line", hit.line}, {"detail", hit.detail}});
    }
    e["policy"] = std::move(hits);
    e["fwupd_hsi"] = h.rating.fwupd_hsi;
    e["ironroot_level"] = h.rating.ironroot_level;
    OJson origins = OJson::object();
    for (const auto& o : h.origins) {
      if (o.role == "nic") continue;
      origins[o.role] = o.vendor.empty() ? "unknown" : o.vendor + " (" + o.jurisdiction + ")";
    }
    e["origins"] = std::move(origins);
    OJson engines = OJson::array();
    for (const auto& s : h.posture.subos_engines) {
      engines.push_back(OJson{{"kind", s.kind},
                              {"vendor", s.vendor},
                              {"state", s.state},
                              {"network_capable", s.network_capable}});
    }
    e["subos_engines"] = std::move(engines);
    OJson adv = OJson::array();
    for (const auto& m : h.rating.advisories) adv.push_back(m.advisory + ":" + m.status);
    e["advisories"] = std::move(adv);
    list.push_back(std::move(e));
  }
  j["host_list"] = std::move(list);
  return nlohmann::json(j);
}

std::string fleet_report_html(const std::vector<FleetHost>& hosts) {
  FleetCounts c = count(hosts);
  int total = static_cast<int>(hosts.size());
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ironroot "
      "sovereignty "
      "report</title><style>body{font-family:sans-serif;margin:2em}figure{display:inline-block;"
      "margin:1em;vertical-align:top}figcaption{font-weight:bold}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:3px "
      "6px;font-size:13px}.deny{color:#a00}.warn{color:#a60}"
      "</style></head><body>\n<h1>Silicon sovereignty: " +
      std::to_string(total) + " hosts</h1>\n";
  out += "<h2>Policy decisions</h2>\n" + bar_chart("hosts per decision", c.decisions, total);
  out += "<h2>Jurisdiction per component</h2>\n";
  for (const auto& [role, m] : c.jurisdiction) out += bar_chart(role, m, total);
  out += "<h2>Sub-OS engines per state</h2>\n";
  for (const auto& [kind, m] : c.engines) out += bar_chart(kind, m, total);
  out += "<h2>Rating</h2>\n" + bar_chart("fwupd HSI", c.fwupd_hsi, total) +
         bar_chart("ironroot level (any chassis)", c.ironroot_level, total);
  out +=
      "<h2>Hosts</h2>\n<table><tr><th>host</th><th>system</th><th>chassis</th><th>decision</th>"
      "<th>engines</th><th>fwupd HSI</th><th>ironroot</th><th>rules</th></tr>\n";
  for (const auto& h : hosts) {
    std::string engines, rules;
    for (const auto& e : h.posture.subos_engines)
      engines += html_escape(e.kind + "=" + e.state) + " ";
    for (const auto& hit : h.decision.hits)
      rules += html_escape(hit.effect + ": " + hit.name +
                           (hit.detail.empty() ? "" : " [" + hit.detail + "]")) +
               "<br>";
    out += "<tr><td>" + html_escape(h.posture.host) + "</td><td>" +
           html_escape(h.posture.platform.system_manufacturer + " " +
                       h.posture.platform.system_product) +
           "</td><td>" + html_escape(h.posture.platform.chassis_type) + "</td><td class=\"" +
           h.decision.decision + "\">" + h.decision.decision + "</td><td>" + engines + "</td><td>" +
           html_escape(h.rating.fwupd_hsi) + "</td><td>HSI-" +
           std::to_string(h.rating.ironroot_level) + "</td><td>" + rules + "</td></tr>\n";
  }
  out += "</table>\n</body></html>\n";
  return out;
}

}  // namespace ironroot::posture
