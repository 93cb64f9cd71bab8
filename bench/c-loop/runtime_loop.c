/*
 * The baseline for scripts/bench.sh: the smallest correct Lambda Runtime API loop in C over
 * libcurl, the way aws-lambda-cpp does it (one easy handle, curl_easy_reset per call, HTTP/1.1,
 * no proxy, TCP_NODELAY, explicit Content-Length, empty Expect:). It echoes every event.
 * Not shipped; it exists so the Swift bootstrap can be compared with it on the same machine.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct buffer {
    char *data;
    size_t size;
    size_t capacity;
};

static size_t write_body(char *ptr, size_t size, size_t count, void *userdata) {
    struct buffer *b = userdata;
    size_t n = size * count;
    if (b->size + n > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 4096;
        while (capacity < b->size + n) capacity *= 2;
        char *grown = realloc(b->data, capacity);
        if (!grown) return 0;
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->size, ptr, n);
    b->size += n;
    return n;
}

static size_t write_header(char *ptr, size_t size, size_t count, void *userdata) {
    char *request_id = userdata;
    size_t n = size * count;
    static const char name[] = "lambda-runtime-aws-request-id:";
    size_t len = sizeof(name) - 1;
    if (n > len && strncasecmp(ptr, name, len) == 0) {
        size_t start = len;
        while (start < n && ptr[start] == ' ') start++;
        size_t end = n;
        while (end > start && (ptr[end - 1] == '\r' || ptr[end - 1] == '\n' || ptr[end - 1] == ' ')) end--;
        size_t value = end - start < 255 ? end - start : 255;
        memcpy(request_id, ptr + start, value);
        request_id[value] = 0;
    }
    return n;
}

static void common_options(CURL *curl, const char *url) {
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 0L);
}

int main(void) {
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api) {
        fprintf(stderr, "AWS_LAMBDA_RUNTIME_API is not set\n");
        return 3;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *curl = curl_easy_init();
    char next_url[512], post_url[1024], request_id[256];
    snprintf(next_url, sizeof next_url, "http://%s/2018-06-01/runtime/invocation/next", api);
    struct buffer event = {0};
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Expect:");
    headers = curl_slist_append(headers, "Transfer-Encoding:");
    headers = curl_slist_append(headers, "Content-Type:");
    for (;;) {
        event.size = 0;
        request_id[0] = 0;
        common_options(curl, next_url);
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &event);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, write_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, request_id);
        CURLcode rc = curl_easy_perform(curl);
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK || status != 200 || !request_id[0]) {
            fprintf(stderr, "next failed: curl %d, status %ld\n", rc, status);
            return 2;
        }
        snprintf(post_url, sizeof post_url, "http://%s/2018-06-01/runtime/invocation/%s/response", api, request_id);
        struct buffer sink = {0};
        common_options(curl, post_url);
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, event.data ? event.data : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)event.size);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
        rc = curl_easy_perform(curl);
        free(sink.data);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK || status != 202) {
            fprintf(stderr, "response post failed: curl %d, status %ld\n", rc, status);
            return 2;
        }
    }
}
