add_executable(ear_bench ear_bench.cc)
target_compile_options(ear_bench PRIVATE ${IRONROOT_WARNINGS})
target_link_libraries(ear_bench PRIVATE ironroot::ear benchmark::benchmark)
