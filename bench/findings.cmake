add_executable(findings_bench findings_bench.cc)
target_compile_options(findings_bench PRIVATE ${IRONROOT_WARNINGS} -Wno-missing-field-initializers)
target_link_libraries(findings_bench PRIVATE ironroot::findings ironroot::net ironroot::crypto benchmark::benchmark)
