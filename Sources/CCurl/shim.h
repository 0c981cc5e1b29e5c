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
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

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

static inline CURLcode httpq_easy_setopt_opensocket(CURL *easy, curl_opensocket_callback value) {
    return curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, value);
}

static inline CURLcode httpq_easy_setopt_prereq(CURL *easy, curl_prereq_callback value) {
    return curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, value);
}

/*
 * The address an opensocket callback is asked to connect to: copies its 4 (IPv4) or 16
 * (IPv6) bytes into `bytes` and its port into `port`, and returns the byte count, or 0 for
 * any other family. `curl_sockaddr.addr` is as long as `addrlen` says, so it is read through
 * the family's own struct, never past that length.
 */
static inline int httpq_sockaddr_ip(const struct curl_sockaddr *address, unsigned char bytes[16], int *port) {
    if (address->family == AF_INET && address->addrlen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *ipv4 = (const struct sockaddr_in *)&address->addr;
        memcpy(bytes, &ipv4->sin_addr, 4);
        *port = ntohs(ipv4->sin_port);
        return 4;
    }
    if (address->family == AF_INET6 && address->addrlen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *ipv6 = (const struct sockaddr_in6 *)&address->addr;
        memcpy(bytes, &ipv6->sin6_addr, 16);
        *port = ntohs(ipv6->sin6_port);
        return 16;
    }
    return 0;
}

/* What libcurl's own opensocket does, plus close-on-exec: an opensocket callback creates the socket. */
static inline curl_socket_t httpq_open_socket(const struct curl_sockaddr *address) {
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
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
