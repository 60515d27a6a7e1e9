# bench/reconcile: the reconciler against the Kubernetes API test double (see bench/reconcile.c).
add_executable(gpuaas-bench-reconcile bench/reconcile.c)
target_link_libraries(gpuaas-bench-reconcile PRIVATE gpuaas_lib)
