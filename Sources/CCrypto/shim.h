// SHA-1 from OpenSSL's libcrypto, which libcurl already loads: flag bucketing needs one digest per
// evaluation, and the one-shot SHA1() is the cheapest call OpenSSL offers for it.
#ifndef CCRYPTO_SHIM_H
#define CCRYPTO_SHIM_H

#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <stddef.h>
#include <openssl/sha.h>

/// Writes the 20-byte SHA-1 digest of `length` bytes at `data` to `digest`.
static inline void ccrypto_sha1(const void *data, size_t length, unsigned char *digest) {
    SHA1((const unsigned char *)data, length, digest);
}

#endif
