# Test file server for the cache tests and benchmark (Range support, injected faults).
add_executable(gpuaas-testfilesrv tests/tools/filesrv.c)
target_link_libraries(gpuaas-testfilesrv PRIVATE PkgConfig::DEPS Threads::Threads)

# SHA-256 of the node cache (src/cache/cache_hash.c): libcrypto uses the CPU's SHA extensions.
pkg_check_modules(CRYPTO REQUIRED IMPORTED_TARGET libcrypto)
target_link_libraries(gpuaas_lib PUBLIC PkgConfig::CRYPTO)
