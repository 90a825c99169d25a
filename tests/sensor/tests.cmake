ironroot_test(sensor_test SOURCES sensor/sensor_test.cc DEPS ironroot::sensor nlohmann_json::nlohmann_json)
ironroot_test(sensor_cli_test SOURCES sensor/sensor_cli_test.cc DEPS ironroot::sensor nlohmann_json::nlohmann_json)
add_dependencies(sensor_cli_test ironroot)
ironroot_test(ipfix_test SOURCES sensor/ipfix_test.cc DEPS ironroot::sensor nlohmann_json::nlohmann_json)
add_dependencies(ipfix_test ironroot)
# Findings leaving the sensor: --findings-config sinks and --verifier against a local HTTPS server.
ironroot_test(sensor_delivery_test SOURCES sensor/sensor_delivery_test.cc
  DEPS ironroot::findings ironroot::net ironroot::crypto OpenSSL::Crypto nlohmann_json::nlohmann_json)
add_dependencies(sensor_delivery_test ironroot)
# End to end in network namespaces (root and `ip netns` needed; skips with a message otherwise).
add_test(NAME sensor_netns_test
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/sensor/netns_test.sh $<TARGET_FILE:ironroot> ${CMAKE_CURRENT_BINARY_DIR}/sensor-netns)
set_tests_properties(sensor_netns_test PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180)
target_compile_options(ipfix_test PRIVATE -Wno-missing-field-initializers)
target_compile_options(sensor_delivery_test PRIVATE -Wno-missing-field-initializers)
