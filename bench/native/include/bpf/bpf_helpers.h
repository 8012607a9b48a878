/* bpf/bpf_helpers.h shadowed for the native build: see bpf_shim.h. */
#include "../../bpf_shim.h"
