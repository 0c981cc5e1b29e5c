#pragma once
/*
 * libcurl's headers plus typed wrappers for its variadic calls.
 *
 * curl_easy_setopt, curl_multi_setopt and curl_easy_getinfo are C variadic functions,
 * which Swift cannot call. Each wrapper below fixes one argument type, using the exact
 * type libcurl reads for that kind of option (long, char *, void *, curl_slist *,
 * callback, long *, char **), so no value is passed with the wrong width.
 */
#include <curl/curl.h>

/* The shape of CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION callbacks. */
typedef size_t (*httpq_data_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode httpq_easy_setopt_long(CURL *easy, CURLoption option, long value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode httpq_easy_setopt_string(CURL *easy, CURLoption option, const char *value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode httpq_easy_setopt_pointer(CURL *easy, CURLoption option, void *value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode httpq_easy_setopt_slist(CURL *easy, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode httpq_easy_setopt_callback(CURL *easy, CURLoption option, httpq_data_callback value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode httpq_easy_getinfo_long(CURL *easy, CURLINFO info, long *value) {
    return curl_easy_getinfo(easy, info, value);
}

static inline CURLcode httpq_easy_getinfo_private(CURL *easy, void **value) {
    char *pointer = NULL;
    CURLcode code = curl_easy_getinfo(easy, CURLINFO_PRIVATE, &pointer);
    *value = pointer;
    return code;
}

static inline CURLMcode httpq_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}
