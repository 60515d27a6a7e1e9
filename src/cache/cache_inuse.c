/* In-use detection and safe removal through write leases. */
#include "cache/cache_inuse.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static pthread_once_t sigio_once = PTHREAD_ONCE_INIT;

static void ignore_sigio(void)
{
    struct sigaction old;
    if (sigaction(SIGIO, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
        !(old.sa_flags & SA_SIGINFO)) {
        struct sigaction sa = {.sa_handler = SIG_IGN};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGIO, &sa, NULL);
    }
}

int cache_inuse_lease(const char *path, int *ret_fd)
{
    pthread_once(&sigio_once, ignore_sigio);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    if (fcntl(fd, F_SETLEASE, F_WRLCK) < 0) {
        int e = errno;
        close(fd);
        return e == EAGAIN || e == EBUSY ? -EBUSY : -e;
    }
    *ret_fd = fd;
    return 0;
}

void cache_inuse_release(int fd)
{
    if (fd < 0)
        return;
    fcntl(fd, F_SETLEASE, F_UNLCK);
    close(fd);
}
