// ironroot cli: rendering JSON documents as YAML for people, and small shared helpers.
#pragma once

#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace ironroot::cli {

// Block-style YAML; strings are quoted when YAML would otherwise read them as something else.
void write_yaml(std::ostream& out, const nlohmann::json& doc, int indent = 0);

// Prints "ironroot: <message>" on stderr.
void print_error(const std::string& message);

}  // namespace ironroot::cli
