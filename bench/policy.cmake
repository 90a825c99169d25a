add_executable(policy_bench policy_bench.cc)
target_compile_options(policy_bench PRIVATE ${IRONROOT_WARNINGS})
target_link_libraries(policy_bench PRIVATE ironroot::policy benchmark::benchmark)
