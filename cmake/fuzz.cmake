# libFuzzer harnesses: fuzz/fuzz_*.c, each linked with the library; `fuzzers` builds them all.
# Their seed corpora live in tests/fuzz/<name>/ (tests/scripts/fuzz.sh runs them briefly).
add_custom_target(fuzzers)
if(GPUAAS_FUZZ)
  file(GLOB FUZZ_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_*.c)
  foreach(f ${FUZZ_SRC})
    get_filename_component(name ${f} NAME_WE)
    add_executable(${name} ${f})
    target_link_libraries(${name} PRIVATE gpuaas_lib)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    add_dependencies(fuzzers ${name})
  endforeach()
endif()
