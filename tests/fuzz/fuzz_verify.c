/*
 * libFuzzer target for one protocol's reply parser, through
 * pw_verify_reply as the probe engine calls it: with more bytes to come
 * and at end of stream. Any input must give NEED_MORE, OK or MISMATCH
 * with a printable info string, never a crash or an out-of-bounds read.
 * Built once per protocol, PW_FUZZ_PROTO naming it (tests/fuzz/meson.build):
 * fuzz_tds (probes/tds.c, the TDS PRELOGIN reply), fuzz_smb2
 * (probes/smb2.c, the SMB2 NEGOTIATE reply), fuzz_http
 * (probes/http_status.c, the status line and Server header). Seeds: real
 * replies in tests/fuzz/tds/, smb2/ and http/.
 */
#include "probes/verify.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > PW_VERIFY_RX_MAX)
        size = PW_VERIFY_RX_MAX;
    char info[PW_VERIFY_INFO_MAX];
    for (int eof = 0; eof < 2; eof++) {
        enum pw_parse st = pw_verify_reply(PW_FUZZ_PROTO, data, size, eof, info);
        if (eof && st == PW_PARSE_NEED_MORE)
            abort(); /* at end of stream a parser must decide */
        if (strlen(info) >= PW_VERIFY_INFO_MAX)
            abort();
    }
    return 0;
}
