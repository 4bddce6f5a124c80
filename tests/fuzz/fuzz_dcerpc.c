/*
 * libFuzzer target for the DCE/RPC parsers (probes/dcerpc.c): the
 * bind_ack/bind_nak parser the engine uses on port 135, and response
 * reassembly fed the input as a stream of fragments, as
 * `portwatch rpc-endpoints` does. Seeds: real PDUs in tests/fuzz/dcerpc/.
 */
#include "probes/verify.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char info[PW_VERIFY_INFO_MAX];
    if (size <= PW_VERIFY_RX_MAX) {
        for (int eof = 0; eof < 2; eof++)
            if (pw_verify_reply(PW_PROTO_RPC, data, size, eof, info) == PW_PARSE_NEED_MORE &&
                eof)
                abort();
    }
    /* Reassembly, for the call id the first PDU names (so captured
     * responses reassemble), into a small stub buffer so the overflow
     * guard is exercised too. */
    static uint8_t stub[8192];
    uint32_t call = size >= 16 ? (uint32_t)data[12] | (uint32_t)data[13] << 8 |
                                     (uint32_t)data[14] << 16 | (uint32_t)data[15] << 24
                               : 1;
    struct pw_dcerpc_reasm r = {.stub = stub, .cap = sizeof stub, .call_id = call};
    size_t off = 0;
    while (off < size) {
        size_t used = 0;
        enum pw_parse st = pw_dcerpc_response_feed(&r, data + off, size - off, &used);
        if (used > size - off || r.len > r.cap)
            abort();
        off += used;
        if (st != PW_PARSE_NEED_MORE || used == 0)
            break;
    }
    return 0;
}
