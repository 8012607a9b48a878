/*
 * boot_lat.h - what `dpf boot` reports of the guest's latency paths and
 * of its owner's rings (protocol version 4: LAT, RINGS).
 *
 * Interface: boot_paths_read() asks the guest (LAT for every path, RINGS
 * for the owner); boot_paths_json() and boot_paths_text() print the
 * figures, in cycles of the guest's TSC and in ns at its rate.
 */
#ifndef DPF_CLI_BOOT_LAT_H
#define DPF_CLI_BOOT_LAT_H

#include <stdio.h>

#include "cli/ksh_client.h"

struct boot_paths {
	struct cli_ksh_lat lat[KSH_LAT_PATHS];
	struct ksh_rings rings;
};

/* 0, or -1 with the reason in cli_ksh_error(c). */
int boot_paths_read(struct cli_ksh *c, struct ksh_cred who,
                    struct boot_paths *p);
/* The JSON members "latency":{...},"rings":[...],"redirect_missing":N
 * (no enclosing braces, no leading comma). */
void boot_paths_json(FILE *f, const struct boot_paths *p, uint64_t tsc_hz);
/* One line per latency path with samples, then the rings. */
void boot_paths_text(FILE *f, const struct boot_paths *p, uint64_t tsc_hz);

#endif
