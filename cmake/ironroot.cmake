# Warnings and sanitizers for every ironroot target, and one call each to declare a library or test.
set(IRONROOT_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wimplicit-fallthrough)
if(IRONROOT_WERROR)
  list(APPEND IRONROOT_WARNINGS -Werror)
endif()

if(IRONROOT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(IRONROOT_FUZZ)
  # Instrument the libraries too, so libFuzzer sees coverage inside the parsers.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# ironroot_library(NAME SOURCES ... DEPS ...): a static library under lib/, includes rooted at lib/.
function(ironroot_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(ironroot_${name} STATIC ${ARG_SOURCES})
  add_library(ironroot::${name} ALIAS ironroot_${name})
  target_include_directories(ironroot_${name} PUBLIC ${PROJECT_SOURCE_DIR}/lib)
  target_compile_options(ironroot_${name} PRIVATE ${IRONROOT_WARNINGS})
  target_link_libraries(ironroot_${name} PUBLIC ${ARG_DEPS})
endfunction()

# ironroot_test(NAME SOURCES ... DEPS ...): a GoogleTest binary registered with ctest.
function(ironroot_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${IRONROOT_WARNINGS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    IRONROOT_CORPUS_DIR="${IRONROOT_CORPUS_DIR}"
    IRONROOT_BINARY="$<TARGET_FILE:ironroot>")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES ENVIRONMENT "IRONROOT_CORPUS=${IRONROOT_CORPUS_DIR}")
endfunction()
