/*
 * pci.c - PCI configuration space through mechanism #1 (address to port
 * 0xcf8, data at 0xcfc), and a scan for a device by vendor and device id.
 *
 * The scan walks buses 0..7, 32 devices each, function 0 and, for
 * multi-function devices, 1..7; QEMU's i440fx puts everything on bus 0.
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

static uint32_t cfg_addr(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
	return 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11 |
	       (uint32_t)fn << 8 | (off & 0xfc);
}

static uint32_t cfg_read(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
	outl(0xcf8, cfg_addr(bus, dev, fn, off));
	return inl(0xcfc);
}

uint32_t ksh_pci_read(const struct ksh_pci_dev *d, uint8_t off)
{
	return cfg_read(d->bus, d->dev, d->fn, off);
}

void ksh_pci_write(const struct ksh_pci_dev *d, uint8_t off, uint32_t v)
{
	outl(0xcf8, cfg_addr(d->bus, d->dev, d->fn, off));
	outl(0xcfc, v);
}

int ksh_pci_find(uint16_t vendor, const uint16_t *devs, int ndev,
                 struct ksh_pci_dev *out)
{
	for (unsigned bus = 0; bus < 8; bus++)
		for (unsigned dev = 0; dev < 32; dev++)
			for (unsigned fn = 0; fn < 8; fn++) {
				uint32_t id = cfg_read((uint8_t)bus, (uint8_t)dev, (uint8_t)fn, 0);
				if ((id & 0xffff) == 0xffff) {
					if (fn == 0)
						break;
					continue;
				}
				for (int i = 0; i < ndev; i++) {
					if ((id & 0xffff) != vendor || (id >> 16) != devs[i])
						continue;
					out->bus = (uint8_t)bus;
					out->dev = (uint8_t)dev;
					out->fn = (uint8_t)fn;
					out->vendor = vendor;
					out->device = devs[i];
					uint32_t b0 = ksh_pci_read(out, 0x10);
					out->bar0 = b0 & ~0xfull;
					if ((b0 & 0x6) == 0x4) /* 64-bit BAR */
						out->bar0 |= (uint64_t)ksh_pci_read(out, 0x14) << 32;
					return (b0 & 1) ? -1 : 0; /* BAR 0 must be memory */
				}
				uint32_t hdr = cfg_read((uint8_t)bus, (uint8_t)dev, (uint8_t)fn, 0x0c);
				if (fn == 0 && !(hdr & 0x00800000))
					break;
			}
	return -1;
}
