ironroot_test(findings_test
  SOURCES findings/ocsf_test.cc findings/config_test.cc findings/webhook_test.cc
          findings/sinks_test.cc findings/dispatcher_test.cc findings/sensor_finding_test.cc
  DEPS ironroot::findings ironroot::net ironroot::crypto OpenSSL::Crypto nlohmann_json::nlohmann_json)
# Designated initializers leave the other fields at their defaults on purpose.
target_compile_options(findings_test PRIVATE -Wno-missing-field-initializers)
