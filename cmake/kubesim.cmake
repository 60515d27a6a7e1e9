# gpuaas-kubesim: the Kubernetes API server double used by tests, benchmarks and `make run`.
file(GLOB KUBESIM_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/kubesim/*.c)
list(FILTER KUBESIM_SRC EXCLUDE REGEX ".*/src/kubesim/main\\.c$")
add_library(kubesim_lib STATIC ${KUBESIM_SRC})
target_link_libraries(kubesim_lib PUBLIC gpuaas_core PkgConfig::DEPS Threads::Threads)

add_executable(gpuaas-kubesim ${CMAKE_SOURCE_DIR}/src/kubesim/main.c)
target_link_libraries(gpuaas-kubesim PRIVATE kubesim_lib)
install(TARGETS gpuaas-kubesim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Unit tests of the double's parsers link its library.
foreach(t test_kubesim_schema test_kubesim_selector test_kubesim_rbac test_kubesim_protobuf)
  if(TARGET ${t})
    target_link_libraries(${t} PRIVATE kubesim_lib)
  endif()
endforeach()

# The fuzz harness of the double's parsers (fuzz/fuzz_kubesim_body.c) needs its library too.
if(TARGET fuzz_kubesim_body)
  target_link_libraries(fuzz_kubesim_body PRIVATE kubesim_lib)
endif()

# The double's request path for impersonated users (tests/it/test_kubesim_authz.c).
if(TARGET it_test_kubesim_authz)
  target_link_libraries(it_test_kubesim_authz PRIVATE kubesim_lib)
endif()
