#include "output.h"

#include <iostream>
#include <nlohmann/json.hpp>

namespace ironroot::cli {
namespace {

bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  if (s.find_first_of(":#{}[],&*!|>'\"%@`\n\\") != std::string::npos) return true;
  if (s.front() == ' ' || s.back() == ' ' || s.front() == '-' || s.front() == '?') return true;
  static const char* kReserved[] = {"true", "false", "yes", "no", "null", "~", "on", "off"};
  for (const char* r : kReserved) {
    if (s == r) return true;
  }
  // Numbers (and hex digests that look like numbers) stay strings.
  return s.find_first_not_of("0123456789.eE+-x") == std::string::npos;
}

std::string scalar(const nlohmann::json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return needs_quotes(s) ? nlohmann::json(s).dump() : s;
  }
  return v.dump();
}

void indent_to(std::ostream& out, int n) {
  for (int i = 0; i < n; ++i) out << ' ';
}

}  // namespace

void write_yaml(std::ostream& out, const nlohmann::json& doc, int indent) {
  if (doc.is_object()) {
    if (doc.empty()) {
      indent_to(out, indent);
      out << "{}\n";
      return;
    }
    for (const auto& [key, value] : doc.items()) {
      indent_to(out, indent);
      out << (needs_quotes(key) ? nlohmann::json(key).dump() : key) << ":";
      if ((value.is_object() || value.is_array()) && !value.empty()) {
        out << "\n";
        write_yaml(out, value, indent + 2);
      } else if (value.is_object()) {
        out << " {}\n";
      } else if (value.is_array()) {
        out << " []\n";
      } else {
        out << " " << scalar(value) << "\n";
      }
    }
  } else if (doc.is_array()) {
    for (const auto& value : doc) {
      indent_to(out, indent);
      if (value.is_object() && !value.empty()) {
        // First key on the dash line, the rest aligned under it.
        out << "- ";
        std::string nested;
        bool first = true;
        for (const auto& [key, v] : value.items()) {
          if (!first) indent_to(out, indent + 2);
          first = false;
          out << (needs_quotes(key) ? nlohmann::json(key).dump() : key) << ":";
          if ((v.is_object() || v.is_array()) && !v.empty()) {
            out << "\n";
            write_yaml(out, v, indent + 4);
          } else if (v.is_object()) {
            out << " {}\n";
          } else if (v.is_array()) {
            out << " []\n";
          } else {
            out << " " << scalar(v) << "\n";
          }
        }
      } else if (value.is_array() && !value.empty()) {
        out << "-\n";
        write_yaml(out, value, indent + 2);
      } else {
        out << "- " << (value.is_object() ? "{}" : value.is_array() ? "[]" : scalar(value)) << "\n";
      }
    }
  } else {
    indent_to(out, indent);
    out << scalar(doc) << "\n";
  }
}

void print_error(const std::string& message) {
  std::cerr << "ironroot: " << message << "\n";
}

}  // namespace ironroot::cli
