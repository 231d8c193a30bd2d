#include "CSupport.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

// The few libcurl entry points used, declared here so no curl headers are needed.
typedef void CURL;
struct curl_slist;
typedef int (*init_fn)(long);
typedef CURL *(*easy_init_fn)(void);
typedef int (*easy_setopt_fn)(CURL *, int, ...);
typedef int (*easy_perform_fn)(CURL *);
typedef int (*easy_getinfo_fn)(CURL *, int, ...);
typedef void (*easy_cleanup_fn)(CURL *);
typedef void (*easy_reset_fn)(CURL *);
typedef const char *(*easy_strerror_fn)(int);
typedef struct curl_slist *(*slist_append_fn)(struct curl_slist *, const char *);
typedef void (*slist_free_fn)(struct curl_slist *);

static struct {
    void *handle;
    easy_init_fn easy_init;
    easy_setopt_fn easy_setopt;
    easy_perform_fn easy_perform;
    easy_getinfo_fn easy_getinfo;
    easy_cleanup_fn easy_cleanup;
    easy_reset_fn easy_reset;
    easy_strerror_fn easy_strerror;
    slist_append_fn slist_append;
    slist_free_fn slist_free;
    char error[256];
} curl;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

// Option numbers from curl.h (stable ABI): LONG 0, OBJECTPOINT 10000, FUNCTIONPOINT 20000, OFF_T 30000.
enum {
    OPT_WRITEDATA = 10001, OPT_URL = 10002, OPT_READDATA = 10009, OPT_WRITEFUNCTION = 20011, OPT_READFUNCTION = 20012,
    OPT_HTTPHEADER = 10023, OPT_CUSTOMREQUEST = 10036, OPT_NOBODY = 44, OPT_UPLOAD = 46, OPT_BUFFERSIZE = 98, OPT_NOSIGNAL = 99,
    OPT_INFILESIZE_LARGE = 30115, OPT_TIMEOUT_MS = 155, OPT_CONNECTTIMEOUT_MS = 156, INFO_RESPONSE_CODE = 0x200002,
};

static void load_curl(void) {
    const char *names[] = {"libcurl.so.4", "libcurl-gnutls.so.4", "libcurl.so", NULL};
    for (int i = 0; names[i] && !curl.handle; i++) curl.handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!curl.handle) {
        snprintf(curl.error, sizeof curl.error, "libcurl is not installed (%s)", dlerror());
        return;
    }
    init_fn global_init = (init_fn)dlsym(curl.handle, "curl_global_init");
    curl.easy_init = (easy_init_fn)dlsym(curl.handle, "curl_easy_init");
    curl.easy_setopt = (easy_setopt_fn)dlsym(curl.handle, "curl_easy_setopt");
    curl.easy_perform = (easy_perform_fn)dlsym(curl.handle, "curl_easy_perform");
    curl.easy_getinfo = (easy_getinfo_fn)dlsym(curl.handle, "curl_easy_getinfo");
    curl.easy_cleanup = (easy_cleanup_fn)dlsym(curl.handle, "curl_easy_cleanup");
    curl.easy_reset = (easy_reset_fn)dlsym(curl.handle, "curl_easy_reset");
    curl.easy_strerror = (easy_strerror_fn)dlsym(curl.handle, "curl_easy_strerror");
    curl.slist_append = (slist_append_fn)dlsym(curl.handle, "curl_slist_append");
    curl.slist_free = (slist_free_fn)dlsym(curl.handle, "curl_slist_free_all");
    if (!global_init || !curl.easy_init || !curl.easy_setopt || !curl.easy_perform || !curl.easy_getinfo || !curl.easy_cleanup || !curl.easy_reset ||
        !curl.easy_strerror || !curl.slist_append || !curl.slist_free) {
        snprintf(curl.error, sizeof curl.error, "libcurl lacks a needed function");
        dlclose(curl.handle);
        curl.handle = NULL;
        return;
    }
    global_init(3 /* CURL_GLOBAL_ALL */);
}

int pl_http_load(char *error, size_t error_length) {
    pthread_once(&curl_once, load_curl);
    if (curl.handle) return 1;
    if (error && error_length) snprintf(error, error_length, "%s", curl.error);
    return 0;
}

struct body_source {
    const char *bytes;
    size_t length;
    size_t offset;
};

static size_t read_body(char *buffer, size_t size, size_t count, void *data) {
    struct body_source *source = data;
    size_t want = size * count, left = source->length - source->offset;
    size_t n = want < left ? want : left;
    memcpy(buffer, source->bytes + source->offset, n);
    source->offset += n;
    return n;
}

static size_t write_body(char *buffer, size_t size, size_t count, void *data) {
    int fd = *(int *)data;
    size_t total = size * count, done = 0;
    if (fd < 0) return total;
    while (done < total) {
        ssize_t n = write(fd, buffer + done, total - done);
        if (n <= 0) return done;
        done += (size_t)n;
    }
    return total;
}

long pl_http_request(const char *method, const char *url, const char *header, const void *body, size_t body_length, int out_fd,
                     long timeout_ms, char *error, size_t error_length) {
    if (!pl_http_load(error, error_length)) return -1;
    // One handle per thread, kept: curl reuses its connection (keep-alive) across requests.
    static __thread CURL *kept = NULL;
    if (kept) {
        curl.easy_reset(kept);
    } else {
        kept = curl.easy_init();
    }
    CURL *easy = kept;
    if (!easy) {
        snprintf(error, error_length, "curl_easy_init failed");
        return -1;
    }
    struct curl_slist *headers = NULL;
    if (header) headers = curl.slist_append(headers, header);
    headers = curl.slist_append(headers, "Expect:");  // no 100-continue round trip on PUT
    struct body_source source = {body, body_length, 0};
    int fd = out_fd;
    curl.easy_setopt(easy, OPT_URL, url);
    curl.easy_setopt(easy, OPT_NOSIGNAL, 1L);
    // 1 MiB receive buffer: large blobs arrive in 64 times fewer reads and writes than the
    // default 16 KiB.
    curl.easy_setopt(easy, OPT_BUFFERSIZE, 1L << 20);
    curl.easy_setopt(easy, OPT_TIMEOUT_MS, timeout_ms);
    curl.easy_setopt(easy, OPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl.easy_setopt(easy, OPT_HTTPHEADER, headers);
    curl.easy_setopt(easy, OPT_WRITEFUNCTION, write_body);
    curl.easy_setopt(easy, OPT_WRITEDATA, &fd);
    if (strcmp(method, "HEAD") == 0) {
        curl.easy_setopt(easy, OPT_NOBODY, 1L);
    } else if (strcmp(method, "PUT") == 0) {
        curl.easy_setopt(easy, OPT_UPLOAD, 1L);
        curl.easy_setopt(easy, OPT_READFUNCTION, read_body);
        curl.easy_setopt(easy, OPT_READDATA, &source);
        curl.easy_setopt(easy, OPT_INFILESIZE_LARGE, (long long)body_length);
    } else if (strcmp(method, "GET") != 0) {
        curl.easy_setopt(easy, OPT_CUSTOMREQUEST, method);
    }
    int code = curl.easy_perform(easy);
    long status = -1;
    if (code == 0) {
        curl.easy_getinfo(easy, INFO_RESPONSE_CODE, &status);
    } else {
        snprintf(error, error_length, "%s", curl.easy_strerror(code));
    }
    curl.slist_free(headers);
    return status;
}
