# Platform posture: SMBIOS binary and dmidecode readers (checked against dmidecode itself), ME /
# AMT decoding on fwupd's recorded sessions, the 39 corpus hosts against MANIFEST.md, probes on
# captured roots, fwupdtool comparison, policy, CycloneDX schema validation, CLI.
ironroot_test(posture_test
  SOURCES posture/smbios_test.cc posture/me_test.cc posture/posture_test.cc
          posture/sovereignty_test.cc posture/corpus_test.cc posture/cli_test.cc
  DEPS ironroot::posture ironroot::crypto nlohmann_json::nlohmann_json)
target_compile_definitions(posture_test PRIVATE
  IRONROOT_POSTURE_WORK_DIR="${CMAKE_CURRENT_BINARY_DIR}/posture-work")
add_dependencies(posture_test ironroot)
target_compile_definitions(posture_test PRIVATE IRONROOT_SOURCE_TESTS="${CMAKE_CURRENT_SOURCE_DIR}")
