/* icmp_echo.c - ash/examples/icmp_echo.c in the raw-memory model
 * (raw_model.h): the frame rewritten in place, one helper
 * (bpf_csum_diff over two 4-byte words on the stack). */
#include "raw_model.h"
#include "../../ash/examples/icmp_echo.c"
RAW_ENTRY(icmp_echo)
