/* A fake libnvidia-ml for tests: the NVML symbols gpu-discover uses, answering from a
 * scenario file named by $FAKENVML_SCENARIO. Lines ('#' starts a comment):
 *   init RC                           nvmlInit_v2 returns RC
 *   gpu MIG TOTAL_MIB UUID NAME...    a GPU; MIG is none (not supported), off, on, or
 *                                     pending (off now, on after a reset)
 *   profile ID SLICES MEM_MB NAME     a GPU-instance profile of the last GPU
 *   maxmig N                          nvmlDeviceGetMaxMigDeviceCount of the last GPU
 *   mig INDEX PROFILE_ID UUID         a MIG device of the last GPU at INDEX (may be sparse)
 * Built twice: complete, and with -DFAKENVML_NO_MIG (no MIG symbols) to test a driver
 * library that lacks them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXG 8
#define MAXP 24
#define MAXM 16

struct prof {
    unsigned id, slices;
    unsigned long long mb;
    char name[64];
};
struct dev {
    int gpu;  /* owning GPU index */
    int slot; /* -1 for the GPU itself, else MIG index */
    int profile;
    char uuid[96];
};
struct gpu {
    char name[96];
    int mig; /* -1 not supported, 0 off, 1 on, 2 pending on */
    unsigned long long mib;
    struct dev self;
    struct prof profs[MAXP];
    int n_profs;
    struct dev migs[MAXM];
    int n_migs;
    unsigned maxmig;
};

static struct gpu gpus[MAXG];
static int n_gpus, init_rc, loaded, inited;

static void load(void)
{
    const char *path = getenv("FAKENVML_SCENARIO");
    char line[256];
    FILE *f;
    if (loaded)
        return;
    loaded = 1;
    if (!path || !(f = fopen(path, "r")))
        return;
    while (fgets(line, sizeof(line), f)) {
        struct gpu *g = n_gpus ? &gpus[n_gpus - 1] : NULL;
        char mode[16], a[96], b[96];
        unsigned x, y;
        int off = 0;
        unsigned long long z;
        line[strcspn(line, "\r\n#")] = 0;
        if (sscanf(line, "init %d", &init_rc) == 1)
            continue;
        if (sscanf(line, "gpu %15s %llu %95s %n", mode, &z, a, &off) == 3 && n_gpus < MAXG) {
            g = &gpus[n_gpus];
            memset(g, 0, sizeof(*g));
            snprintf(g->name, sizeof(g->name), "%s", line + off);
            snprintf(g->self.uuid, sizeof(g->self.uuid), "%s", a);
            g->self.gpu = n_gpus++;
            g->self.slot = -1;
            g->mib = z;
            g->mig = !strcmp(mode, "none")      ? -1
                     : !strcmp(mode, "on")      ? 1
                     : !strcmp(mode, "pending") ? 2
                                                : 0;
        } else if (g && sscanf(line, "profile %u %u %llu %95s", &x, &y, &z, b) == 4 &&
                   g->n_profs < MAXP) {
            struct prof *p = &g->profs[g->n_profs++];
            p->id = x;
            p->slices = y;
            p->mb = z;
            snprintf(p->name, sizeof(p->name), "MIG %s", b);
        } else if (g && sscanf(line, "maxmig %u", &x) == 1) {
            g->maxmig = x;
        } else if (g && sscanf(line, "mig %u %u %95s", &x, &y, a) == 3 && g->n_migs < MAXM) {
            struct dev *d = &g->migs[g->n_migs++];
            d->gpu = (int)(g - gpus);
            d->slot = (int)x;
            d->profile = (int)y;
            snprintf(d->uuid, sizeof(d->uuid), "%s", a);
        }
    }
    fclose(f);
}

static const struct prof *profile_of(const struct dev *d)
{
    const struct gpu *g = &gpus[d->gpu];
    for (int i = 0; i < g->n_profs; i++)
        if ((int)g->profs[i].id == d->profile)
            return &g->profs[i];
    return NULL;
}

int nvmlInit_v2(void);
int nvmlShutdown(void);
const char *nvmlErrorString(int rc);
int nvmlDeviceGetCount_v2(unsigned *n);
int nvmlDeviceGetHandleByIndex_v2(unsigned i, struct dev **d);
int nvmlDeviceGetName(struct dev *d, char *buf, unsigned len);
int nvmlDeviceGetUUID(struct dev *d, char *buf, unsigned len);
int nvmlDeviceGetMemoryInfo(struct dev *d, unsigned long long *mem);

int nvmlInit_v2(void)
{
    n_gpus = init_rc = loaded = 0; /* the scenario may change between loads */
    load();
    if (init_rc)
        return init_rc;
    inited = 1;
    return 0;
}

int nvmlShutdown(void)
{
    if (!inited)
        return 1;
    inited = 0;
    return 0;
}

const char *nvmlErrorString(int rc)
{
    switch (rc) {
    case 0:
        return "Success";
    case 1:
        return "Uninitialized";
    case 2:
        return "Invalid Argument";
    case 3:
        return "Not Supported";
    case 6:
        return "Not Found";
    case 9:
        return "Driver Not Loaded";
    default:
        return "Unknown Error";
    }
}

int nvmlDeviceGetCount_v2(unsigned *n)
{
    if (!inited)
        return 1;
    *n = (unsigned)n_gpus;
    return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned i, struct dev **d)
{
    if (!inited)
        return 1;
    if (i >= (unsigned)n_gpus)
        return 2;
    *d = &gpus[i].self;
    return 0;
}

int nvmlDeviceGetName(struct dev *d, char *buf, unsigned len)
{
    const struct prof *p = d->slot >= 0 ? profile_of(d) : NULL;
    snprintf(buf, len, "%s%s%s", gpus[d->gpu].name, p ? " " : "", p ? p->name : "");
    return 0;
}

int nvmlDeviceGetUUID(struct dev *d, char *buf, unsigned len)
{
    snprintf(buf, len, "%s", d->uuid);
    return 0;
}

/* nvmlMemory_t: total, free, used */
int nvmlDeviceGetMemoryInfo(struct dev *d, unsigned long long *mem)
{
    const struct prof *p = d->slot >= 0 ? profile_of(d) : NULL;
    mem[0] = (p ? p->mb : gpus[d->gpu].mib) << 20;
    mem[2] = 0;
    mem[1] = mem[0];
    return 0;
}

#ifndef FAKENVML_NO_MIG
int nvmlDeviceGetMigMode(struct dev *d, unsigned *cur, unsigned *pending);
int nvmlDeviceGetMaxMigDeviceCount(struct dev *d, unsigned *n);
int nvmlDeviceGetMigDeviceHandleByIndex(struct dev *d, unsigned i, struct dev **m);
int nvmlDeviceGetGpuInstanceProfileInfoV(struct dev *d, unsigned id, unsigned *info);
int nvmlDeviceGetAttributes_v2(struct dev *d, unsigned *attr);

int nvmlDeviceGetMigMode(struct dev *d, unsigned *cur, unsigned *pending)
{
    const struct gpu *g = &gpus[d->gpu];
    if (d->slot >= 0 || g->mig < 0)
        return 3;
    *cur = g->mig == 1;
    *pending = g->mig >= 1;
    return 0;
}

int nvmlDeviceGetMaxMigDeviceCount(struct dev *d, unsigned *n)
{
    *n = gpus[d->gpu].mig == 1 ? gpus[d->gpu].maxmig : 0;
    return 0;
}

int nvmlDeviceGetMigDeviceHandleByIndex(struct dev *d, unsigned i, struct dev **m)
{
    struct gpu *g = &gpus[d->gpu];
    if (g->mig != 1)
        return 3;
    if (i >= g->maxmig)
        return 2;
    for (int k = 0; k < g->n_migs; k++)
        if (g->migs[k].slot == (int)i) {
            *m = &g->migs[k];
            return 0;
        }
    return 6; /* NOT_FOUND: a hole in the sparse index space */
}

/* nvmlGpuInstanceProfileInfo_v2_t: 11 unsigned, padding, memorySizeMB, name[96] */
int nvmlDeviceGetGpuInstanceProfileInfoV(struct dev *d, unsigned id, unsigned *info)
{
    const struct gpu *g = &gpus[d->gpu];
    if (info[0] != (152u | (2u << 24)))
        return 25; /* ARGUMENT_VERSION_MISMATCH */
    if (g->mig < 1)
        return 3;
    for (int i = 0; i < g->n_profs; i++)
        if (g->profs[i].id == id) {
            info[1] = id;
            info[3] = g->profs[i].slices;
            memcpy((char *)info + 48, &g->profs[i].mb, 8);
            snprintf((char *)info + 56, 96, "%s", g->profs[i].name);
            return 0;
        }
    return 2;
}

/* nvmlDeviceAttributes_t: 8 unsigned (gpuInstanceSliceCount is the 7th), memorySizeMB */
int nvmlDeviceGetAttributes_v2(struct dev *d, unsigned *attr)
{
    const struct prof *p = d->slot >= 0 ? profile_of(d) : NULL;
    if (!p)
        return 3;
    memset(attr, 0, 40);
    attr[6] = p->slices;
    memcpy((char *)attr + 32, &p->mb, 8);
    return 0;
}
#endif
