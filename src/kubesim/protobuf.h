/* Kubernetes' protobuf request bodies, for the few kinds kubectl's typed commands send that
 * way (`kubectl auth can-i` and `auth whoami`, `create namespace|token|role|rolebinding|
 * clusterrole|clusterrolebinding|configmap|serviceaccount`), decoded to the JSON the double
 * stores. The envelope is the API server's: the magic "k8s\0" then a runtime.Unknown
 * {typeMeta{apiVersion, kind}, raw}; raw is decoded with a table of the kind's fields (their
 * numbers from k8s.io/api's generated.proto). Unknown fields are skipped, as protobuf does. */
#ifndef GPUAAS_KUBESIM_PROTOBUF_H
#define GPUAAS_KUBESIM_PROTOBUF_H

#include <jansson.h>
#include <stddef.h>

/* Decodes body (len bytes). Returns the object (a new reference, with apiVersion and kind) or
 * NULL with msg: not the envelope, malformed, or a kind the table does not hold. */
json_t *ksim_pb_decode(const unsigned char *body, size_t len, char *msg, size_t msglen);

#endif
