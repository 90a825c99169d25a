# Policy documents: ironroot JSON, Keylime runtime policy JSON and allowlists (seeds/policy).
ironroot_fuzz(policy_fuzz policy_fuzz.cc ironroot::policy nlohmann_json::nlohmann_json)
