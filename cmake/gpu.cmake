# Fake NVML libraries for the gpu-discover tests: complete, and without the MIG symbols.
add_library(fakenvml SHARED ${CMAKE_SOURCE_DIR}/tests/fakenvml/fakenvml.c)
add_library(fakenvml_nomig SHARED ${CMAKE_SOURCE_DIR}/tests/fakenvml/fakenvml.c)
target_compile_definitions(fakenvml_nomig PRIVATE FAKENVML_NO_MIG)
foreach(lib fakenvml fakenvml_nomig)
  target_compile_options(${lib} PRIVATE -Wno-missing-prototypes)
endforeach()
if(TARGET test_nvml_discover)
  add_dependencies(test_nvml_discover fakenvml fakenvml_nomig)
endif()
# The advertised-capacity check served by the Kubernetes API double, when it is present.
if(TARGET it_test_advertised_kubesim AND EXISTS ${CMAKE_SOURCE_DIR}/src/kubesim/sim.h)
  target_link_libraries(it_test_advertised_kubesim PRIVATE kubesim_lib)
endif()
