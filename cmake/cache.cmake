# Test file server for the cache tests and benchmark (Range support, injected faults).
add_executable(gpuaas-testfilesrv tests/tools/filesrv.c)
target_link_libraries(gpuaas-testfilesrv PRIVATE PkgConfig::DEPS Threads::Threads)
