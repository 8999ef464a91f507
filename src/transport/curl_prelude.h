/*
 * curl_prelude.h
 *		libcurl behind one include, with the minimum version we rely on.
 */
#ifndef NEON_PLATFORM_CURL_PRELUDE_H
#define NEON_PLATFORM_CURL_PRELUDE_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <curl/curl.h>
#include <curl/multi.h>
#pragma GCC diagnostic pop

/* curl_easy_header() (7.83) reads x-neon-ret-request-id and Retry-After. */
_Static_assert(LIBCURL_VERSION_NUM >= 0x075300, "neon_platform needs libcurl 7.83 or later");

#endif							/* NEON_PLATFORM_CURL_PRELUDE_H */
