add_executable(sensor_bench sensor_bench.cc)
target_compile_options(sensor_bench PRIVATE ${IRONROOT_WARNINGS})
target_link_libraries(sensor_bench PRIVATE ironroot::sensor)
