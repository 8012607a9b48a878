/*
 * tsc.c - the TSC's frequency, measured against PIT channel 2 at boot.
 *
 * Channel 2 counts down from a known count at 1.193182 MHz with its gate
 * held high; its output (port 0x61 bit 5) rises at zero.  The TSC ticks
 * across that interval give the rate; the least of several runs is kept.
 * Under TCG both clocks follow the host's, so the figure is what guest
 * cycle counts mean.
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

#define PIT_HZ 1193182ull
#define CAL_MS 2ull
#define CAL_RUNS 5

/* TSC ticks across one CAL_MS countdown of channel 2. */
static uint64_t one_run(void)
{
	uint16_t count = (uint16_t)(PIT_HZ * CAL_MS / 1000);
	uint8_t v = inb(0x61);
	outb(0x61, (uint8_t)((v & ~0x02) | 0x01)); /* gate on, speaker off */
	outb(0x43, 0xb0);                          /* ch 2, lo/hi, mode 0 */
	outb(0x42, (uint8_t)count);
	outb(0x42, (uint8_t)(count >> 8));
	uint64_t t0 = rdtsc();
	for (uint64_t i = 0; i < 100000000ull && !(inb(0x61) & 0x20); i++)
		;
	uint64_t t1 = rdtsc();
	outb(0x61, v);
	return t1 - t0;
}

/* The least of CAL_RUNS runs: a vCPU the host preempts sees the PIT late
 * and over-counts, it never under-counts. */
uint64_t ksh_tsc_calibrate(void)
{
	uint64_t best = ~0ull;
	for (int i = 0; i < CAL_RUNS; i++) {
		uint64_t t = one_run();
		if (t < best)
			best = t;
	}
	uint64_t hz = best * 1000 / CAL_MS;
	return hz ? hz : 1;
}
