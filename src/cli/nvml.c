/* NVML through dlopen: see nvml.h. Types and constants follow nvml.h (API version 12). */
#include "cli/nvml.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NVML_SUCCESS 0
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INVALID_ARGUMENT 2
#define PROFILE_IDS 0x11 /* NVML_GPU_INSTANCE_PROFILE_COUNT in recent headers */

typedef struct nvml_device_st *nvml_device;
struct nvml_memory {
    unsigned long long total, free, used;
};
struct nvml_attributes {
    unsigned int multiprocessorCount, sharedCopyEngineCount, sharedDecoderCount, sharedEncoderCount,
        sharedJpegCount, sharedOfaCount, gpuInstanceSliceCount, computeInstanceSliceCount;
    unsigned long long memorySizeMB;
};
struct nvml_gi_profile_info {
    unsigned int id, isP2pSupported, sliceCount, instanceCount, multiprocessorCount,
        copyEngineCount, decoderCount, encoderCount, jpegCount, ofaCount;
    unsigned long long memorySizeMB;
};
struct nvml_gi_profile_info_v2 {
    unsigned int version, id, isP2pSupported, sliceCount, instanceCount, multiprocessorCount,
        copyEngineCount, decoderCount, encoderCount, jpegCount, ofaCount;
    unsigned long long memorySizeMB;
    char name[96];
};
_Static_assert(sizeof(struct nvml_gi_profile_info) == 48, "nvmlGpuInstanceProfileInfo_t");
_Static_assert(sizeof(struct nvml_gi_profile_info_v2) == 152, "nvmlGpuInstanceProfileInfo_v2_t");
#define PROFILE_INFO_V2 ((unsigned)sizeof(struct nvml_gi_profile_info_v2) | (2u << 24))

typedef int (*fn_void)(void);
typedef const char *(*fn_errstr)(int);
typedef int (*fn_count)(unsigned *);
typedef int (*fn_handle)(unsigned, nvml_device *);
typedef int (*fn_str)(nvml_device, char *, unsigned);
typedef int (*fn_mem)(nvml_device, struct nvml_memory *);
typedef int (*fn_migmode)(nvml_device, unsigned *, unsigned *);
typedef int (*fn_devuint)(nvml_device, unsigned *);
typedef int (*fn_mighandle)(nvml_device, unsigned, nvml_device *);
typedef int (*fn_attr)(nvml_device, struct nvml_attributes *);
typedef int (*fn_prof)(nvml_device, unsigned, struct nvml_gi_profile_info *);
typedef int (*fn_profv)(nvml_device, unsigned, struct nvml_gi_profile_info_v2 *);

struct api {
    void *lib;
    fn_void init, shutdown;
    fn_errstr errstr;
    fn_count count;
    fn_handle handle;
    fn_str name, uuid;
    fn_mem mem;
    fn_migmode migmode; /* optional from here on */
    fn_devuint maxmig;
    fn_mighandle mighandle;
    fn_attr attr;
    fn_prof prof;
    fn_profv profv;
};

static const char *estr(const struct api *a, int rc)
{
    const char *s = a->errstr ? a->errstr(rc) : NULL;
    return s ? s : "unknown error";
}

/* dlsym into *slot; for required symbols a miss is an error, else it is listed. */
static int sym(struct api *a, void *slot, const char *name, bool required,
               struct nvml_inventory *inv, struct error *err)
{
    void *p = dlsym(a->lib, name);
    memcpy(slot, &p, sizeof(p));
    if (p)
        return 0;
    if (required)
        return error_set(err, ERR_UNAVAILABLE, "nvml", "%s lacks the required symbol %s", inv->lib,
                         name);
    size_t len = strlen(inv->missing);
    snprintf(inv->missing + len, sizeof(inv->missing) - len, "%s%s", len ? " " : "", name);
    return 0;
}

static int load(struct api *a, struct nvml_inventory *inv, struct error *err)
{
    const char *env = getenv("GPUAAS_NVML_LIB");
    snprintf(inv->lib, sizeof(inv->lib), "%s", env && *env ? env : "libnvidia-ml.so.1");
    a->lib = dlopen(inv->lib, RTLD_NOW | RTLD_LOCAL);
    if (!a->lib) {
        const char *why = dlerror();
        return error_set(err, ERR_UNAVAILABLE, "nvml",
                         "cannot load NVML (%s): %s; is the NVIDIA driver installed on this host?",
                         inv->lib, why ? why : "not found");
    }
    int r;
    if ((r = sym(a, &a->errstr, "nvmlErrorString", false, inv, err)) < 0 ||
        (r = sym(a, &a->init, "nvmlInit_v2", true, inv, err)) < 0 ||
        (r = sym(a, &a->shutdown, "nvmlShutdown", true, inv, err)) < 0 ||
        (r = sym(a, &a->count, "nvmlDeviceGetCount_v2", true, inv, err)) < 0 ||
        (r = sym(a, &a->handle, "nvmlDeviceGetHandleByIndex_v2", true, inv, err)) < 0 ||
        (r = sym(a, &a->name, "nvmlDeviceGetName", true, inv, err)) < 0 ||
        (r = sym(a, &a->uuid, "nvmlDeviceGetUUID", true, inv, err)) < 0 ||
        (r = sym(a, &a->mem, "nvmlDeviceGetMemoryInfo", true, inv, err)) < 0 ||
        (r = sym(a, &a->migmode, "nvmlDeviceGetMigMode", false, inv, err)) < 0 ||
        (r = sym(a, &a->maxmig, "nvmlDeviceGetMaxMigDeviceCount", false, inv, err)) < 0 ||
        (r = sym(a, &a->mighandle, "nvmlDeviceGetMigDeviceHandleByIndex", false, inv, err)) < 0 ||
        (r = sym(a, &a->attr, "nvmlDeviceGetAttributes_v2", false, inv, err)) < 0)
        return r;
    /* either profile-info call names MIG profiles: the V one (with names) is preferred */
    void *pv = dlsym(a->lib, "nvmlDeviceGetGpuInstanceProfileInfoV");
    void *p1 = dlsym(a->lib, "nvmlDeviceGetGpuInstanceProfileInfo");
    memcpy(&a->profv, &pv, sizeof(pv));
    memcpy(&a->prof, &p1, sizeof(p1));
    if (!pv && !p1) {
        size_t len = strlen(inv->missing);
        snprintf(inv->missing + len, sizeof(inv->missing) - len, "%s%s", len ? " " : "",
                 "nvmlDeviceGetGpuInstanceProfileInfoV nvmlDeviceGetGpuInstanceProfileInfo");
    }
    return 0;
}

/* Names a MIG device: the parent's GPU-instance profile with the same slice count (when
 * attributes are known) and the closest memory size. */
static void name_profile(const struct api *a, nvml_device parent, nvml_device mig,
                         struct nvml_mig *out)
{
    struct nvml_attributes at;
    unsigned slices = 0;
    unsigned long long mb = out->memory >> 20;
    if (a->attr && a->attr(mig, &at) == NVML_SUCCESS) {
        slices = at.gpuInstanceSliceCount;
        if (at.memorySizeMB)
            mb = at.memorySizeMB;
    }
    unsigned long long best = ~0ULL;
    for (unsigned id = 0; id < PROFILE_IDS; id++) {
        struct nvml_gi_profile_info_v2 v2;
        struct nvml_gi_profile_info v1;
        unsigned sc;
        unsigned long long pm;
        char name[48] = "";
        memset(&v2, 0, sizeof(v2));
        v2.version = PROFILE_INFO_V2;
        if (a->profv && a->profv(parent, id, &v2) == NVML_SUCCESS) {
            sc = v2.sliceCount;
            pm = v2.memorySizeMB;
            v2.name[sizeof(v2.name) - 1] = 0;
            /* NVML names read "MIG 1g.24gb"; keep the profile part */
            const char *sp = strrchr(v2.name, ' ');
            snprintf(name, sizeof(name), "%s", sp ? sp + 1 : v2.name);
        } else if (a->prof && a->prof(parent, id, &v1) == NVML_SUCCESS) {
            sc = v1.sliceCount;
            pm = v1.memorySizeMB;
            snprintf(name, sizeof(name), "%ug.%llugb", sc, (pm + 1023) / 1024);
        } else
            continue; /* INVALID_ARGUMENT / NOT_SUPPORTED: not a profile of this GPU */
        if (slices && sc != slices)
            continue;
        if (strstr(name, "+") || strstr(name, "-me"))
            continue; /* prefer the plain profile of that size */
        unsigned long long d = pm > mb ? pm - mb : mb - pm;
        if (d < best && name[0]) {
            best = d;
            snprintf(out->profile, sizeof(out->profile), "%s", name);
        }
    }
}

static void list_migs(const struct api *a, nvml_device dev, struct nvml_gpu *g)
{
    unsigned max = 0;
    int rc;
    if (!a->maxmig || !a->mighandle) {
        snprintf(g->note, sizeof(g->note), "MIG devices not listed: NVML lacks the MIG calls");
        return;
    }
    if ((rc = a->maxmig(dev, &max)) != NVML_SUCCESS) {
        snprintf(g->note, sizeof(g->note), "nvmlDeviceGetMaxMigDeviceCount: %s", estr(a, rc));
        return;
    }
    for (unsigned j = 0; j < max && g->n_migs < NVML_MAX_MIG; j++) {
        nvml_device m;
        rc = a->mighandle(dev, j, &m);
        if (rc == NVML_ERROR_NOT_FOUND)
            continue; /* indices are sparse */
        if (rc != NVML_SUCCESS) {
            snprintf(g->note, sizeof(g->note), "nvmlDeviceGetMigDeviceHandleByIndex(%u): %s", j,
                     estr(a, rc));
            continue;
        }
        struct nvml_mig *mi = &g->migs[g->n_migs++];
        struct nvml_memory mem;
        memset(mi, 0, sizeof(*mi));
        mi->index = j;
        if (a->uuid(m, mi->uuid, sizeof(mi->uuid)) != NVML_SUCCESS)
            mi->uuid[0] = 0;
        mi->uuid[sizeof(mi->uuid) - 1] = 0;
        if (a->mem(m, &mem) == NVML_SUCCESS)
            mi->memory = mem.total;
        name_profile(a, dev, m, mi);
    }
}

int nvml_discover(struct nvml_inventory *inv, struct error *err)
{
    struct api a;
    unsigned n = 0;
    int rc, r;
    memset(&a, 0, sizeof(a));
    memset(inv, 0, sizeof(*inv));
    if ((r = load(&a, inv, err)) < 0)
        goto out;
    if ((rc = a.init()) != NVML_SUCCESS) {
        r = error_set(err, ERR_UNAVAILABLE, "nvml", "nvmlInit_v2 failed: %s (%d)", estr(&a, rc),
                      rc);
        goto out;
    }
    if ((rc = a.count(&n)) != NVML_SUCCESS) {
        r = error_set(err, ERR_IO, "nvml", "nvmlDeviceGetCount_v2 failed: %s", estr(&a, rc));
        goto shutdown;
    }
    for (unsigned i = 0; i < n && i < NVML_MAX_GPUS; i++) {
        struct nvml_gpu *g = &inv->gpus[inv->n_gpus++];
        nvml_device dev;
        struct nvml_memory mem;
        g->index = i;
        if ((rc = a.handle(i, &dev)) != NVML_SUCCESS) {
            snprintf(g->note, sizeof(g->note), "nvmlDeviceGetHandleByIndex_v2: %s", estr(&a, rc));
            continue;
        }
        if (a.name(dev, g->name, sizeof(g->name)) != NVML_SUCCESS)
            snprintf(g->name, sizeof(g->name), "unknown");
        if (a.uuid(dev, g->uuid, sizeof(g->uuid)) != NVML_SUCCESS)
            g->uuid[0] = 0;
        g->name[sizeof(g->name) - 1] = g->uuid[sizeof(g->uuid) - 1] = 0;
        if (a.mem(dev, &mem) == NVML_SUCCESS)
            g->memory = mem.total;
        if (!a.migmode)
            continue;
        rc = a.migmode(dev, &g->mig_current, &g->mig_pending);
        g->mig_capable = rc == NVML_SUCCESS;
        if (rc != NVML_SUCCESS && rc != NVML_ERROR_NOT_SUPPORTED)
            snprintf(g->note, sizeof(g->note), "nvmlDeviceGetMigMode: %s", estr(&a, rc));
        if (g->mig_capable && g->mig_current == 1)
            list_migs(&a, dev, g);
    }
    r = 0;
shutdown:
    a.shutdown();
out:
    if (a.lib)
        dlclose(a.lib);
    return r;
}

static const char *mode(unsigned m)
{
    return m == 1 ? "enabled" : "disabled";
}

void nvml_print(FILE *out, const struct nvml_inventory *inv)
{
    fprintf(out, "NVML: %s, %d GPU(s)\n", inv->lib, inv->n_gpus);
    if (inv->missing[0])
        fprintf(out, "NVML lacks optional symbols: %s\n", inv->missing);
    for (int i = 0; i < inv->n_gpus; i++) {
        const struct nvml_gpu *g = &inv->gpus[i];
        fprintf(out, "GPU %u: %s  %s  %.1f GiB\n", g->index, g->name, g->uuid,
                (double)g->memory / (1024.0 * 1024 * 1024));
        if (g->mig_capable)
            fprintf(out, "  MIG mode: current %s, pending %s%s\n", mode(g->mig_current),
                    mode(g->mig_pending),
                    g->mig_current != g->mig_pending ? " (GPU reset or reboot needed)" : "");
        else
            fprintf(out, "  MIG: not supported\n");
        for (int k = 0; k < g->n_migs; k++)
            fprintf(out, "  MIG device %u: %s  %s  %.1f GiB\n", g->migs[k].index,
                    g->migs[k].profile[0] ? g->migs[k].profile : "(unnamed profile)",
                    g->migs[k].uuid, (double)g->migs[k].memory / (1024.0 * 1024 * 1024));
        if (g->note[0])
            fprintf(out, "  note: %s\n", g->note);
    }
}

void nvml_print_pool_snippet(FILE *out, const struct nvml_inventory *inv, const char *host,
                             long cpu, long memory_gib)
{
    fprintf(out,
            "# pool.nodes[] entry for this host (add storage_gib):\n- name: %s\n  cpu: %ld\n"
            "  memory_gib: %ld\n  gpus:%s\n",
            host, cpu, memory_gib, inv->n_gpus ? "" : " []");
    for (int i = 0; i < inv->n_gpus; i++) {
        const struct nvml_gpu *g = &inv->gpus[i];
        long gib = (long)((g->memory + (512ULL << 20)) >> 30);
        fprintf(out, "    - model: \"");
        for (const char *c = g->name; *c; c++)
            if (*c == '"' || *c == '\\')
                fprintf(out, "\\%c", *c);
            else if ((unsigned char)*c >= 0x20)
                fputc(*c, out);
        fprintf(out, "\"\n      memory_gib: %ld\n", gib);
        /* profile -> count, in first-appearance order; unnamed devices are left out */
        const char *prof[NVML_MAX_MIG];
        int cnt[NVML_MAX_MIG], n = 0;
        for (int k = 0; k < g->n_migs; k++) {
            if (!g->migs[k].profile[0])
                continue;
            int j = 0;
            while (j < n && strcmp(prof[j], g->migs[k].profile))
                j++;
            if (j == n) {
                prof[n] = g->migs[k].profile;
                cnt[n++] = 0;
            }
            cnt[j]++;
        }
        if (n == 0) {
            bool on = g->mig_capable && g->mig_current == 1;
            bool pending = g->mig_capable && g->mig_current != g->mig_pending;
            fprintf(out, "      whole: true%s\n",
                    on        ? "  # MIG is on but has no instances"
                    : pending ? "  # MIG pending: enabled after the next GPU reset"
                              : "");
            continue;
        }
        fprintf(out, "      mig:\n");
        for (int j = 0; j < n; j++)
            fprintf(out, "        %s: %d\n", prof[j], cnt[j]);
    }
}
