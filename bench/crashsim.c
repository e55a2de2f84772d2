/*
 * crashsim: make a process crash look like a host crash, for bench/durability.py.
 *
 * LD_PRELOAD=crashsim.so redis-server ...   (CRASHSIM_MATCH=".aof" by default)
 *
 * Writes to files whose path contains CRASHSIM_MATCH are held in this process's memory until the
 * file is fsync'ed (or fdatasync'ed, or closed), and only then handed to the kernel. So when the
 * process is killed with SIGKILL, what it wrote but had not synced is gone, exactly as the page
 * cache is gone when the host loses power or panics. Synced data is on disk as usual.
 * One buffer per descriptor, guarded by a mutex: Redis writes from its main thread and, with
 * appendfsync everysec, syncs from a background thread.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FD 4096

static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_close)(int);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static signed char matched[MAX_FD]; /* 0 unknown, 1 held, -1 passed through */
static char *held[MAX_FD];
static size_t held_len[MAX_FD], held_cap[MAX_FD];

static void init(void) {
    if (!real_write) {
        real_write = dlsym(RTLD_NEXT, "write");
        real_fsync = dlsym(RTLD_NEXT, "fsync");
        real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
        real_close = dlsym(RTLD_NEXT, "close");
    }
}

static int is_held(int fd) {
    if (fd < 0 || fd >= MAX_FD) return 0;
    if (matched[fd] == 0) {
        char link[64], path[PATH_MAX];
        const char *match = getenv("CRASHSIM_MATCH");
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        path[n > 0 ? n : 0] = 0;
        matched[fd] = (n > 0 && strstr(path, match ? match : ".aof")) ? 1 : -1;
    }
    return matched[fd] == 1;
}

/* Hand what is held for fd to the kernel; called with the lock held. */
static int release(int fd) {
    size_t done = 0;
    while (done < held_len[fd]) {
        ssize_t n = real_write(fd, held[fd] + done, held_len[fd] - done);
        if (n < 0) return -1;
        done += (size_t)n;
    }
    held_len[fd] = 0;
    return 0;
}

ssize_t write(int fd, const void *buf, size_t count) {
    init();
    pthread_mutex_lock(&lock);
    if (!is_held(fd)) {
        pthread_mutex_unlock(&lock);
        return real_write(fd, buf, count);
    }
    if (held_len[fd] + count > held_cap[fd]) {
        size_t cap = held_cap[fd] ? held_cap[fd] : 1 << 20;
        while (cap < held_len[fd] + count) cap *= 2;
        char *grown = realloc(held[fd], cap);
        if (!grown) {
            pthread_mutex_unlock(&lock);
            return -1;
        }
        held[fd] = grown;
        held_cap[fd] = cap;
    }
    memcpy(held[fd] + held_len[fd], buf, count);
    held_len[fd] += count;
    pthread_mutex_unlock(&lock);
    return (ssize_t)count;
}

static int synced(int fd, int (*sync)(int)) {
    init();
    pthread_mutex_lock(&lock);
    int rc = (fd >= 0 && fd < MAX_FD && matched[fd] == 1) ? release(fd) : 0;
    pthread_mutex_unlock(&lock);
    return rc < 0 ? rc : sync(fd);
}

int fsync(int fd) {
    init();
    return synced(fd, real_fsync);
}

int fdatasync(int fd) {
    init();
    return synced(fd, real_fdatasync);
}

int close(int fd) {
    init();
    pthread_mutex_lock(&lock);
    if (fd >= 0 && fd < MAX_FD) {
        if (matched[fd] == 1) release(fd); /* a clean close: the data reaches the kernel */
        matched[fd] = 0;
    }
    pthread_mutex_unlock(&lock);
    return real_close(fd);
}
