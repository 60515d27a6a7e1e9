/* gpuaas-testfilesrv: a static file server for the cache tests and benchmark, with HTTP Range
 * support and injected faults:
 *   --root DIR --listen ADDR:PORT [--no-ranges] [--drop-after BYTES] [--drop-times N]
 *   [--corrupt-times N] [--rate BYTES_PER_SECOND] [--no-length] [--log FILE]
 * --drop-after closes the connection after BYTES of a body (the first N responses);
 * --corrupt-times flips one byte in the first N responses; every request is logged as
 * "METHOD PATH RANGE STATUS" to --log; --no-length sends bodies chunked, without a
 * Content-Length (also to HEAD). SIGTERM exits. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *root = ".";
static int ranges_ok = 1, no_length = 0;
static long long drop_after = -1, rate = 0;
static int drop_times = 1, corrupt_times = 0;
static FILE *reqlog;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

struct body {
    int fd;
    long long start, len, sent;
    int drop, corrupt;
};

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct body *b = cls;
    if ((long long)pos >= b->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (b->drop && b->sent >= drop_after)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t want = max;
    if ((long long)want > b->len - (long long)pos)
        want = (size_t)(b->len - (long long)pos);
    if (b->drop && b->sent + (long long)want > drop_after)
        want = (size_t)(drop_after - b->sent);
    if (rate > 0 && (long long)want > rate / 20)
        want = (size_t)(rate / 20 > 0 ? rate / 20 : 1);
    ssize_t n = pread(b->fd, buf, want, b->start + (long long)pos);
    if (n <= 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (b->corrupt && pos == 0) {
        buf[0] ^= 0x5a;
        b->corrupt = 0;
    }
    b->sent += n;
    if (rate > 0) {
        struct timespec ts = {0, (long)(1e9 * (double)n / (double)rate)};
        nanosleep(&ts, NULL);
    }
    return n;
}

static void body_free(void *cls)
{
    struct body *b = cls;
    close(b->fd);
    free(b);
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **con_cls)
{
    if (!*con_cls) {
        *con_cls = (void *)1;
        return MHD_YES;
    }
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    int head = !strcmp(method, "HEAD");
    if (strcmp(method, "GET") && !head)
        return text(c, 405, "method not allowed\n");
    if (strstr(url, ".."))
        return text(c, 403, "forbidden\n");
    char path[4096];
    snprintf(path, sizeof(path), "%s%s", root, url);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        return text(c, 404, "not found\n");
    }
    long long start = 0, end = sb.st_size - 1;
    unsigned status = 200;
    if (range && ranges_ok) {
        long long a = -1, z = -1;
        if (sscanf(range, "bytes=%lld-%lld", &a, &z) < 1 || a < 0 || a >= sb.st_size ||
            (z >= 0 && z < a)) {
            close(fd);
            pthread_mutex_lock(&mu);
            if (reqlog)
                fprintf(reqlog, "%s %s %s 416\n", method, url, range), fflush(reqlog);
            pthread_mutex_unlock(&mu);
            return text(c, 416, "range not satisfiable\n");
        }
        start = a;
        if (z >= 0 && z < end)
            end = z;
        status = 206;
    }
    struct body *b = calloc(1, sizeof(*b));
    b->fd = fd;
    b->start = start;
    b->len = end - start + 1;
    pthread_mutex_lock(&mu);
    if (!head && drop_after >= 0 && drop_times > 0) {
        b->drop = 1;
        drop_times--;
    }
    if (!head && corrupt_times > 0) {
        b->corrupt = 1;
        corrupt_times--;
    }
    if (reqlog)
        fprintf(reqlog, "%s %s %s %u\n", method, url, range ? range : "-", status), fflush(reqlog);
    pthread_mutex_unlock(&mu);
    struct MHD_Response *r = MHD_create_response_from_callback(
        no_length ? MHD_SIZE_UNKNOWN : (uint64_t)b->len, 256 * 1024, reader, b, body_free);
    if (ranges_ok)
        MHD_add_response_header(r, "Accept-Ranges", "bytes");
    if (status == 206) {
        char cr[128];
        snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", start, end, (long long)sb.st_size);
        MHD_add_response_header(r, "Content-Range", cr);
    }
    MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static volatile sig_atomic_t stop;
static void on_sig(int s)
{
    stop = s;
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:0";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--root") && i + 1 < argc)
            root = argv[++i];
        else if (!strcmp(argv[i], "--listen") && i + 1 < argc)
            listen = argv[++i];
        else if (!strcmp(argv[i], "--no-ranges"))
            ranges_ok = 0;
        else if (!strcmp(argv[i], "--no-length"))
            no_length = 1;
        else if (!strcmp(argv[i], "--drop-after") && i + 1 < argc)
            drop_after = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--drop-times") && i + 1 < argc)
            drop_times = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--corrupt-times") && i + 1 < argc)
            corrupt_times = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--log") && i + 1 < argc)
            reqlog = fopen(argv[++i], "a");
        else {
            fprintf(stderr, "usage: gpuaas-testfilesrv --root DIR --listen ADDR:PORT [--no-ranges] "
                            "[--drop-after BYTES] [--drop-times N] [--corrupt-times N] [--rate "
                            "BPS] [--log FILE]\n");
            return 2;
        }
    }
    char host[64];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof(host))
        return 2;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, host, &sa.sin_addr);
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL,
                         NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "gpuaas-testfilesrv: cannot listen on %s\n", listen);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("%u\n", info ? info->port : 0);
    fflush(stdout);
    signal(SIGTERM, on_sig);
    signal(SIGINT, on_sig);
    signal(SIGPIPE, SIG_IGN);
    while (!stop)
        pause();
    MHD_stop_daemon(d);
    return 0;
}
