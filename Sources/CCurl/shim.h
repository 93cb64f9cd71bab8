// Typed, non-variadic wrappers around libcurl's variadic entry points, so Swift can call them.
#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H

#include <curl/curl.h>
#include <openssl/ssl.h>

/// The signature libcurl uses for CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION.
typedef size_t (*ccurl_data_callback)(char *data, size_t size, size_t count, void *userdata);

static inline CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ccurl_setopt_callback(CURL *handle, CURLoption option, ccurl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

/// CURLOPT_TRAILERFUNCTION (libcurl >= 7.64): the trailers of a chunked upload.
static inline CURLcode ccurl_setopt_trailer_callback(CURL *handle, curl_trailer_callback value) {
    return curl_easy_setopt(handle, CURLOPT_TRAILERFUNCTION, value);
}

/// CURLOPT_SEEKFUNCTION: rewinding an upload when libcurl retries it on a fresh connection.
static inline CURLcode ccurl_setopt_seek_callback(CURL *handle, curl_seek_callback value) {
    return curl_easy_setopt(handle, CURLOPT_SEEKFUNCTION, value);
}

/// Resumes a transfer whose read callback returned CURL_READFUNC_PAUSE (CURLPAUSE_CONT is a
/// composite macro Swift cannot import).
static inline CURLcode ccurl_unpause(CURL *handle) {
    return curl_easy_pause(handle, CURLPAUSE_CONT);
}

/// The result of a finished transfer from a CURLMSG_DONE message (a union member in C).
static inline CURLcode ccurl_message_result(const CURLMsg *message) {
    return message->data.result;
}

static inline CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

/// curl_global_init, after telling OpenSSL (the TLS library libcurl is built with) not to load its
/// error strings: about a million instructions of every cold start, for the text of TLS errors
/// only (they keep their codes: "error:0A000086:lib(20)::reason(134)"). Nor its configuration
/// file, as the bootstrap's libcurl is built (--disable-openssl-auto-load-config): the first call
/// decides. Once declined, OpenSSL ignores later requests to load either (OPENSSL_init_crypto(3)).
///
/// The bootstrap's static libcurl (CURL_OPENSSL_INIT_IS_LAZY, which its patch defines in curlver.h)
/// initializes OpenSSL at its first TLS use instead, declining the strings and the configuration file
/// itself (scripts/lib/curl-openssl-lazy-init.patch): that skips OpenSSL's algorithm tables (about
/// 220,000 instructions) and, with the static OpenSSL's CPU probe moved out of .init, about 20 CPUID
/// traps, in every cold start that speaks no TLS before its first /next. A digest (CCrypto) may come
/// before the first TLS connection: with that OpenSSL (no-err, no-autoload-config) it has neither
/// strings nor configuration to load, so nothing is called here; with another, libcrypto's are declined.
static inline CURLcode ccurl_global_init_without_tls_error_strings(long flags) {
#if defined(CURL_OPENSSL_INIT_IS_LAZY) && defined(OPENSSL_NO_ERR) && defined(OPENSSL_NO_AUTOLOAD_CONFIG)
    // Nothing to decline before libcurl's own first-use initialization.
#elif defined(CURL_OPENSSL_INIT_IS_LAZY)
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS | OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
#else
    OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS
                     | OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
#endif
    return curl_global_init(flags);
}

#endif
