/* udp_echo.c - ash/examples/udp_echo.c in the raw-memory model
 * (raw_model.h): no helper, no map, the frame rewritten in place. */
#include "raw_model.h"
#include "../../ash/examples/udp_echo.c"
RAW_ENTRY(udp_echo)
