/*
 * Bounds-checked readers and writers of integers in network messages, for
 * the protocol parsers (tds.c, smb2.c, dcerpc.c, epm.c). A reader never
 * reads past its end: a short read sets `bad` and returns 0, so a parser
 * can read a whole structure and check once. Little- and big-endian both,
 * because DCE/RPC lets the sender choose (its data representation label).
 */
#ifndef PW_WIRE_H
#define PW_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct pw_rd {
    const uint8_t *p;
    size_t n, off;
    bool be;   /* integers big-endian */
    bool bad;  /* a read went past the end */
};

static inline struct pw_rd pw_rd_init(const uint8_t *p, size_t n, bool be)
{
    struct pw_rd r = {p, n, 0, be, false};
    return r;
}

static inline bool pw_rd_has(struct pw_rd *r, size_t k)
{
    if (r->bad || r->off > r->n || r->n - r->off < k) {
        r->bad = true;
        return false;
    }
    return true;
}

static inline const uint8_t *pw_rd_bytes(struct pw_rd *r, size_t k)
{
    if (!pw_rd_has(r, k))
        return NULL;
    const uint8_t *p = r->p + r->off;
    r->off += k;
    return p;
}

static inline uint8_t pw_rd_u8(struct pw_rd *r)
{
    const uint8_t *p = pw_rd_bytes(r, 1);
    return p ? p[0] : 0;
}

static inline uint16_t pw_rd_u16(struct pw_rd *r)
{
    const uint8_t *p = pw_rd_bytes(r, 2);
    if (!p)
        return 0;
    return r->be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static inline uint32_t pw_rd_u32(struct pw_rd *r)
{
    const uint8_t *p = pw_rd_bytes(r, 4);
    if (!p)
        return 0;
    if (r->be)
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Skips to the next multiple of `a` counted from the start of the
 * buffer (NDR aligns relative to the stub's start). */
static inline void pw_rd_align(struct pw_rd *r, size_t a)
{
    size_t pad = (a - r->off % a) % a;
    pw_rd_bytes(r, pad);
}

/* Writers: the caller sized the buffer; each returns the next position. */
static inline uint8_t *pw_wr_u16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static inline uint8_t *pw_wr_u16be(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint8_t *pw_wr_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

static inline uint16_t pw_get_u16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint16_t pw_get_u16be(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t pw_get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
