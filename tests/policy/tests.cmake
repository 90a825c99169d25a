# Policy: Keylime-compatible IMA runtime policies and per-event measured-boot policies.
ironroot_test(policy_test
  SOURCES policy/runtime_policy_test.cc policy/measured_boot_test.cc
  DEPS ironroot::policy nlohmann_json::nlohmann_json)
ironroot_test(policy_cli_test SOURCES policy/policy_cli_test.cc
  DEPS ironroot::core nlohmann_json::nlohmann_json)
add_dependencies(policy_cli_test ironroot)
