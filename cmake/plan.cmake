# Strict OpenAPI validation for tests: a helper library linked into the session-plan test and a
# command-line checker used by tests/it/deploy.sh on the rendered manifests.
add_library(gpuaas_openapi_check STATIC tests/lib/openapi_check.c)
target_include_directories(gpuaas_openapi_check PUBLIC tests/lib)
target_link_libraries(gpuaas_openapi_check PUBLIC PkgConfig::DEPS)

add_executable(gpuaas-openapi-check tests/lib/openapi_check_main.c)
target_link_libraries(gpuaas-openapi-check PRIVATE gpuaas_openapi_check)

if(TARGET test_session_plan)
  target_link_libraries(test_session_plan PRIVATE gpuaas_openapi_check)
endif()
if(TARGET test_workspace_health)
  target_link_libraries(test_workspace_health PRIVATE gpuaas_openapi_check)
endif()
