# Benchmarks (not tests): bench_admission drives a running server over HTTP. `make bench`.
add_executable(bench_admission bench/admission.c)
target_link_libraries(bench_admission PRIVATE PkgConfig::DEPS Threads::Threads)
