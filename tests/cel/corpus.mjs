// The admission corpus: allowed and hostile requests in a session namespace (gpuaas-42 on a
// cluster whose ingress domain is gpu.example.com), each with the answer the policies of
// deploy/ must give. `finding` is the issue-14 finding the hostile object attacks
// (docs/security.md). Defaults: operation CREATE by user alice in gpuaas-42, a namespace
// labelled app.kubernetes.io/managed-by=gpuaas.

const NS = "gpuaas-42";
const RECONCILER = "system:serviceaccount:gpuaas-system:gpuaas-reconciler";
const sessionNs = (name = NS) => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, labels: { "app.kubernetes.io/managed-by": "gpuaas" } },
});
const plainNs = (name) => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, labels: { "kubernetes.io/metadata.name": name } },
});

const container = (extra = {}) => ({
  name: "main",
  image: "registry.example.com/cuda:12",
  ...extra,
});
const gpu = { resources: { limits: { "nvidia.com/gpu": "1" }, requests: { "nvidia.com/gpu": "1" } } };
const pod = (spec = {}, name = "p") => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: NS },
  spec: { containers: [container()], terminationGracePeriodSeconds: 30, ...spec },
});
const podC = (c, spec = {}) => pod({ containers: [container(c)], ...spec });
const cm = (data, kind = "ConfigMap", field = "data") => ({
  apiVersion: "v1",
  kind,
  metadata: { name: "c", namespace: NS },
  [field]: data,
});
const svc = (spec) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "s", namespace: NS },
  spec: { ports: [{ port: 80 }], selector: { app: "x" }, ...spec },
});
const backend = { service: { name: "s", port: { number: 80 } } };
const rule = (host, path = "/") => ({
  ...(host === undefined ? {} : { host }),
  http: { paths: [{ path, pathType: "Prefix", backend }] },
});
const ingress = (spec, annotations) => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "Ingress",
  metadata: { name: "i", namespace: NS, ...(annotations ? { annotations } : {}) },
  spec,
});
const netpol = (name, spec, labels) => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name, namespace: NS, ...(labels ? { labels } : {}) },
  spec,
});
const platformLabels = { "app.kubernetes.io/managed-by": "gpuaas", "gpuaas.io/reservation": "42" };
const defaultDeny = netpol(
  "default-deny",
  { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
  platformLabels,
);
const allowFromIngress = netpol(
  "allow-from-ingress",
  {
    podSelector: { matchLabels: { "app.kubernetes.io/name": "workspace" } },
    policyTypes: ["Ingress"],
    ingress: [
      {
        from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }],
        ports: [{ protocol: "TCP", port: 8080 }],
      },
    ],
  },
  platformLabels,
);
const sameNs = netpol(
  "allow-same-namespace",
  {
    podSelector: {},
    policyTypes: ["Ingress", "Egress"],
    ingress: [{ from: [{ podSelector: {} }] }],
    egress: [{ to: [{ podSelector: {} }] }],
  },
  { ...platformLabels, "gpuaas.io/tenant-editable": "true" },
);
const narrow = netpol("db-only-from-api", {
  podSelector: { matchLabels: { app: "db" } },
  policyTypes: ["Ingress", "Egress"],
  ingress: [{ from: [{ podSelector: { matchLabels: { app: "api" } } }], ports: [{ port: 5432 }] }],
  egress: [{ to: [{ podSelector: { matchLabels: { app: "api" } } }] }],
});
const del = (old, user = "alice") => ({
  object: null,
  oldObject: old,
  request: { operation: "DELETE", userInfo: { username: user } },
});
const upd = (old, object, user = "alice") => ({
  object,
  oldObject: old,
  request: { operation: "UPDATE", userInfo: { username: user } },
});
const byReconciler = (op, obj, namespaceObject, old = null) => ({
  object: op === "DELETE" ? null : obj,
  oldObject: op === "DELETE" ? obj : old,
  namespaceObject,
  request: {
    operation: op,
    userInfo: { username: RECONCILER },
    namespace: obj.metadata.namespace || "",
  },
});
const labelled = (o, labels = platformLabels) => ({
  ...o,
  metadata: { ...o.metadata, labels: { ...(o.metadata.labels || {}), ...labels } },
});
const deployment = (ns) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "gpuaas-server", namespace: ns },
  spec: { template: { spec: { containers: [container()] } } },
});

export const cases = [
  // ---- pods: findings 5, 6, 8 ----
  { name: "plain pod (kubectl run)", object: pod(), expect: "allow" },
  {
    name: "GPU pod choosing driver capabilities",
    object: podC({ ...gpu, env: [{ name: "NVIDIA_DRIVER_CAPABILITIES", value: "compute,utility" }] }),
    expect: "allow",
  },
  {
    name: "GPU toleration, LimitRange-like resources",
    object: pod({ tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] }),
    expect: "allow",
  },
  {
    name: "label update of a scheduled pod (nodeName set by the scheduler)",
    ...upd(pod({ nodeName: "gpu-node-1" }), pod({ nodeName: "gpu-node-1" })),
    expect: "allow",
  },
  {
    name: "pod without GPU sets NVIDIA_VISIBLE_DEVICES=all",
    finding: 5,
    object: podC({ env: [{ name: "NVIDIA_VISIBLE_DEVICES", value: "all" }] }),
    expect: { deny: "gpuaas-tenant-pod" },
  },
  {
    name: "GPU pod widens NVIDIA_VISIBLE_DEVICES to all",
    finding: 5,
    object: podC({ ...gpu, env: [{ name: "NVIDIA_VISIBLE_DEVICES", value: "all" }] }),
    expect: { deny: "gpuaas-tenant-pod" },
  },
  {
    name: "pod without GPU sets NVIDIA_DRIVER_CAPABILITIES",
    finding: 5,
    object: podC({ env: [{ name: "NVIDIA_DRIVER_CAPABILITIES", value: "all" }] }),
    expect: { deny: "gpuaas-tenant-pod" },
  },
  {
    name: "init container without GPU sets NVIDIA_VISIBLE_DEVICES",
    finding: 5,
    object: pod({
      initContainers: [container({ name: "init", env: [{ name: "NVIDIA_VISIBLE_DEVICES", value: "0,1" }] })],
    }),
    expect: { deny: "gpuaas-tenant-pod" },
  },
  {
    name: "envFrom with prefix NVIDIA_",
    finding: 5,
    object: podC({ envFrom: [{ prefix: "NVIDIA_", configMapRef: { name: "c" } }] }),
    expect: { deny: "gpuaas-tenant-pod" },
  },
  {
    name: "envFrom with prefix NV (NV + IDIA_VISIBLE_DEVICES)",
    finding: 5,
    object: podC({ envFrom: [{ prefix: "NV", configMapRef: { name: "c" } }] }),
    expect: { deny: "gpuaas-tenant-pod" },
  },
  {
    name: "hostPath /dev/nvidia0",
    finding: 5,
    object: pod({ volumes: [{ name: "dev", hostPath: { path: "/dev/nvidia0" } }] }),
    expect: { deny: "gpuaas-tenant-pod" },
  },
  {
    name: "pod pinned to a node by nodeName",
    finding: 6,
    object: pod({ nodeName: "master-0" }),
    expect: { deny: "gpuaas-tenant-pod" },
  },
  {
    name: "pod tolerating the control-plane taint",
    finding: 6,
    object: pod({
      tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }],
    }),
    expect: { deny: "gpuaas-tenant-pod" },
  },
  {
    name: "pod tolerating every taint",
    finding: 6,
    object: pod({ tolerations: [{ operator: "Exists" }] }),
    expect: { deny: "gpuaas-tenant-pod" },
  },
  {
    name: "hostNetwork pod",
    finding: 6,
    object: pod({ hostNetwork: true }),
    expect: { deny: "gpuaas-tenant-pod" },
  },
  {
    name: "privileged container",
    finding: 6,
    object: podC({ securityContext: { privileged: true } }),
    expect: { deny: "gpuaas-tenant-pod" },
  },
  {
    name: "pod ignoring SIGTERM for a day",
    finding: 8,
    object: pod({ terminationGracePeriodSeconds: 86400 }),
    expect: { deny: "gpuaas-tenant-pod" },
  },
  {
    name: "models claim mounted writable",
    object: pod({
      containers: [container({ volumeMounts: [{ name: "m", mountPath: "/models" }] })],
      volumes: [{ name: "m", persistentVolumeClaim: { claimName: "models" } }],
    }),
    expect: { deny: "gpuaas-models-read-only" },
  },
  {
    name: "models claim read-only on the volume and every mount",
    object: pod({
      containers: [container({ volumeMounts: [{ name: "m", mountPath: "/models", readOnly: true }] })],
      volumes: [{ name: "m", persistentVolumeClaim: { claimName: "models", readOnly: true } }],
    }),
    expect: "allow",
  },
  {
    name: "models claim: read-only mounts but a writable volume",
    object: pod({
      containers: [container({ volumeMounts: [{ name: "m", mountPath: "/models", readOnly: true }] })],
      volumes: [{ name: "m", persistentVolumeClaim: { claimName: "models" } }],
    }),
    expect: { deny: "gpuaas-models-read-only" },
  },
  {
    name: "models claim: read-only volume, writable container mount",
    object: pod({
      containers: [container({ volumeMounts: [{ name: "m", mountPath: "/models" }] })],
      volumes: [{ name: "m", persistentVolumeClaim: { claimName: "models", readOnly: true } }],
    }),
    expect: { deny: "gpuaas-models-read-only" },
  },
  {
    name: "models claim: writable init container mount",
    object: pod({
      initContainers: [container({ name: "i", volumeMounts: [{ name: "m", mountPath: "/models" }] })],
      volumes: [{ name: "m", persistentVolumeClaim: { claimName: "models", readOnly: true } }],
    }),
    expect: { deny: "gpuaas-models-read-only" },
  },
  {
    name: "models claim: writable ephemeral container mount",
    ...upd(
      pod({ volumes: [{ name: "m", persistentVolumeClaim: { claimName: "models", readOnly: true } }] }),
      pod({
        ephemeralContainers: [container({ name: "dbg", volumeMounts: [{ name: "m", mountPath: "/models" }] })],
        volumes: [{ name: "m", persistentVolumeClaim: { claimName: "models", readOnly: true } }],
      }),
    ),
    request: {
      operation: "UPDATE",
      resource: { group: "", version: "v1", resource: "pods" },
      subResource: "ephemeralcontainers",
    },
    expect: { deny: "gpuaas-models-read-only" },
  },
  {
    name: "pod outside gpuaas namespaces is not ours to judge",
    object: { ...pod({ nodeName: "n" }), metadata: { name: "p", namespace: "team-a" } },
    namespaceObject: plainNs("team-a"),
    request: { namespace: "team-a" },
    expect: "allow",
  },
  // ---- ConfigMaps and Secrets: finding 5 through envFrom ----
  { name: "ConfigMap with ordinary keys", object: cm({ HF_HOME: "/cache" }), expect: "allow" },
  {
    name: "ConfigMap carrying NVIDIA_VISIBLE_DEVICES for an envFrom",
    finding: 5,
    object: cm({ NVIDIA_VISIBLE_DEVICES: "all" }),
    expect: { deny: "gpuaas-tenant-config-data" },
  },
  {
    name: "Secret stringData carrying NVIDIA_VISIBLE_DEVICES",
    finding: 5,
    object: cm({ NVIDIA_VISIBLE_DEVICES: "all" }, "Secret", "stringData"),
    expect: { deny: "gpuaas-tenant-config-data" },
  },
  // ---- Services: finding 3 ----
  { name: "ClusterIP Service", object: svc({ type: "ClusterIP" }), expect: "allow" },
  { name: "headless Service", object: svc({ clusterIP: "None" }), expect: "allow" },
  {
    name: "Service with externalIPs (CVE-2020-8554)",
    finding: 3,
    object: svc({ externalIPs: ["10.96.0.1"] }),
    expect: { deny: "gpuaas-tenant-service" },
  },
  {
    name: "ExternalName Service to the platform's server",
    finding: 3,
    object: svc({ type: "ExternalName", externalName: "gpuaas-server.gpuaas-system.svc", selector: undefined }),
    expect: { deny: "gpuaas-tenant-service" },
  },
  {
    name: "NodePort Service",
    finding: 3,
    object: svc({ type: "NodePort" }),
    expect: { deny: "gpuaas-tenant-service" },
  },
  // ---- Ingresses: finding 1 ----
  {
    name: "Ingress on the session's own host",
    object: ingress({ tls: [{ hosts: [`${NS}.gpu.example.com`] }], rules: [rule(`${NS}.gpu.example.com`)] }),
    expect: "allow",
  },
  {
    name: "Ingress on <name>-<namespace> host",
    object: ingress({ rules: [rule(`vllm-${NS}.gpu.example.com`)] }),
    expect: "allow",
  },
  {
    name: "Ingress on the portal's host for the login path",
    finding: 1,
    object: ingress({ rules: [rule("gpuaas.gpu.example.com", "/api/v1/auth/login")] }),
    expect: { deny: "gpuaas-tenant-ingress" },
  },
  {
    name: "Ingress pre-claiming the next session's host",
    finding: 1,
    object: ingress({ rules: [rule("gpuaas-43.gpu.example.com")] }),
    expect: { deny: "gpuaas-tenant-ingress" },
  },
  {
    name: "Ingress on a host that only begins with the namespace",
    finding: 1,
    object: ingress({ rules: [rule("gpuaas-420.gpu.example.com")] }),
    expect: { deny: "gpuaas-tenant-ingress" },
  },
  {
    name: "Ingress on a wildcard host",
    finding: 1,
    object: ingress({ rules: [rule("*.gpu.example.com")] }),
    expect: { deny: "gpuaas-tenant-ingress" },
  },
  {
    name: "Ingress rule without host (catch-all)",
    finding: 1,
    object: ingress({ rules: [rule(undefined)] }),
    expect: { deny: "gpuaas-tenant-ingress" },
  },
  {
    name: "Ingress with a defaultBackend",
    finding: 1,
    object: ingress({ defaultBackend: backend }),
    expect: { deny: "gpuaas-tenant-ingress" },
  },
  {
    name: "Ingress with another host in TLS",
    finding: 1,
    object: ingress({ tls: [{ hosts: ["gpuaas.gpu.example.com"] }], rules: [rule(`${NS}.gpu.example.com`)] }),
    expect: { deny: "gpuaas-tenant-ingress" },
  },
  {
    name: "Ingress with an nginx configuration snippet",
    finding: 1,
    object: ingress(
      { rules: [rule(`${NS}.gpu.example.com`)] },
      { "nginx.ingress.kubernetes.io/configuration-snippet": "proxy_pass http://gpuaas-server.gpuaas-system.svc:8080;" },
    ),
    expect: { deny: "gpuaas-tenant-ingress" },
  },
  // ---- NetworkPolicies: finding 11 ----
  { name: "tenant narrows with a same-namespace policy", object: narrow, expect: "allow" },
  { name: "tenant narrows allow-same-namespace", ...upd(sameNs, { ...sameNs, spec: narrow.spec }), expect: "allow" },
  { name: "tenant deletes allow-same-namespace", ...del(sameNs), expect: "allow" },
  {
    name: "reconciler applies the platform's policies",
    object: allowFromIngress,
    request: { userInfo: { username: RECONCILER } },
    expect: "allow",
  },
  {
    name: "namespace controller deletes default-deny with the namespace",
    ...del(defaultDeny, "system:serviceaccount:kube-system:namespace-controller"),
    expect: "allow",
  },
  {
    name: "tenant deletes default-deny",
    finding: 11,
    ...del(defaultDeny),
    expect: { deny: "gpuaas-tenant-networkpolicy" },
  },
  {
    name: "workspace service account deletes default-deny",
    finding: 11,
    ...del(defaultDeny, `system:serviceaccount:${NS}:workspace`),
    expect: { deny: "gpuaas-tenant-networkpolicy" },
  },
  {
    name: "tenant widens allow-from-ingress to every namespace",
    finding: 11,
    ...upd(allowFromIngress, {
      ...allowFromIngress,
      spec: { ...allowFromIngress.spec, ingress: [{ from: [{ namespaceSelector: {} }] }] },
    }),
    expect: { deny: "gpuaas-tenant-networkpolicy" },
  },
  {
    name: "tenant opens ingress to every namespace",
    finding: 11,
    object: netpol("open", { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] }),
    expect: { deny: "gpuaas-tenant-networkpolicy" },
  },
  {
    name: "tenant opens ingress to pods of another session",
    finding: 11,
    object: netpol("peer", {
      podSelector: {},
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "gpuaas-43" } },
              podSelector: {},
            },
          ],
        },
      ],
    }),
    expect: { deny: "gpuaas-tenant-networkpolicy" },
  },
  {
    name: "tenant ingress rule without peers (from everyone)",
    finding: 11,
    object: netpol("all-in", { podSelector: {}, ingress: [{ ports: [{ port: 8888 }] }] }),
    expect: { deny: "gpuaas-tenant-networkpolicy" },
  },
  {
    name: "tenant widens egress to 0.0.0.0/0",
    finding: 11,
    object: netpol("out", {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }] }],
    }),
    expect: { deny: "gpuaas-tenant-networkpolicy" },
  },
  {
    name: "tenant egress rule without peers (to everyone)",
    finding: 11,
    object: netpol("out-all", { podSelector: {}, policyTypes: ["Egress"], egress: [{}] }),
    expect: { deny: "gpuaas-tenant-networkpolicy" },
  },
  {
    name: "tenant policy dressed as the platform's",
    finding: 11,
    object: netpol("x", narrow.spec, platformLabels),
    expect: { deny: "gpuaas-tenant-networkpolicy" },
  },
  // ---- the reconciler's own requests: finding 10 ----
  {
    name: "reconciler creates a session namespace",
    ...byReconciler("CREATE", sessionNs("gpuaas-44"), null),
    expect: "allow",
  },
  {
    name: "reconciler deletes a session namespace",
    ...byReconciler("DELETE", sessionNs("gpuaas-44"), null),
    expect: "allow",
  },
  {
    name: "reconciler patches a Deployment in a session namespace",
    ...byReconciler("UPDATE", labelled(deployment(NS)), sessionNs()),
    expect: "allow",
  },
  {
    name: "reconciler deletes its ClusterRoleBinding leftovers",
    ...byReconciler(
      "DELETE",
      labelled({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "stale" },
      }),
      null,
    ),
    expect: "allow",
  },
  {
    name: "reconciler force-deletes a tenant's pod in a session namespace (finding 8)",
    ...byReconciler("DELETE", pod(), sessionNs()),
    expect: "allow",
  },
  {
    name: "reconciler deletes a pod outside the session namespaces",
    finding: 10,
    ...byReconciler(
      "DELETE",
      { ...pod(), metadata: { name: "coredns-1", namespace: "kube-system" } },
      plainNs("kube-system"),
    ),
    expect: { deny: "gpuaas-reconciler-scope" },
  },
  {
    name: "reconciler deletes kube-system",
    finding: 10,
    ...byReconciler("DELETE", plainNs("kube-system"), null),
    expect: { deny: "gpuaas-reconciler-scope" },
  },
  {
    name: "reconciler creates an unlabelled namespace",
    finding: 10,
    ...byReconciler("CREATE", plainNs("team-b"), null),
    expect: { deny: "gpuaas-reconciler-scope" },
  },
  {
    name: "reconciler removes the finalizers of a foreign namespace",
    finding: 10,
    ...byReconciler("UPDATE", plainNs("team-b"), null, plainNs("team-b")),
    request: {
      operation: "UPDATE",
      userInfo: { username: RECONCILER },
      namespace: "",
      resource: { group: "", version: "v1", resource: "namespaces" },
      subResource: "finalize",
    },
    expect: { deny: "gpuaas-reconciler-scope" },
  },
  {
    name: "reconciler patches the platform's own Deployment",
    finding: 10,
    ...byReconciler("UPDATE", labelled(deployment("gpuaas-system")), plainNs("gpuaas-system")),
    expect: { deny: "gpuaas-reconciler-scope" },
  },
  {
    name: "reconciler patches a ConfigMap of another team",
    finding: 10,
    ...byReconciler(
      "UPDATE",
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "team-a" }, data: {} },
      plainNs("team-a"),
    ),
    expect: { deny: "gpuaas-reconciler-scope" },
  },
  {
    name: "reconciler deletes cluster-admin's binding",
    finding: 10,
    ...byReconciler(
      "DELETE",
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "cluster-admin" } },
      null,
    ),
    expect: { deny: "gpuaas-reconciler-scope" },
  },
];

export const defaults = { namespace: NS, namespaceObject: sessionNs(), user: "alice", reconciler: RECONCILER };
