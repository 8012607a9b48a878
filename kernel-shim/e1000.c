/*
 * e1000.c - driver for the Intel 82540EM (e1000, 8086:100e) and 82574L
 * (e1000e, 8086:10d3) as QEMU models them: legacy RX and TX descriptor
 * rings, polled, no interrupts.
 *
 * Receive: KSH_RX_DESC descriptors, each with its own KSH_BUF_BYTES buffer
 * (RCTL.BSIZE 2048).  The NIC owns descriptors [RDH, RDT); we own the rest,
 * and the descriptor at rx_next is the next one the NIC completes (DD).
 * A consumed frame's descriptor is cleared at once; RDT then moves to the
 * descriptor before rx_next, handing back everything consumed since its
 * last move -- once per KSH_RX_BATCH frames and at the end of each poll
 * (ksh_nic_rx_return), not per frame.  The descriptor at RDT stays ours,
 * so RDH == RDT means "ring full", never "empty".  The NIC runs
 * promiscuous (UPE, MPE, BAM): the kernel, not the MAC filter,
 * demultiplexes; it strips the CRC (SECRC), so a length is the frame's.
 *
 * Transmit: KSH_TX_DESC descriptors with their own buffers; a frame is
 * copied in and padded to 60 bytes (the NIC does not pad), then TDT moves.
 * The TSC cycles of the last TDT and RDT writes are kept (tdt_cycles,
 * rdt_cycles): under QEMU a doorbell runs the NIC model's work, the
 * transmit included, before the write returns.
 * A descriptor is reused only when the NIC has written it back (DD).
 *
 * Both models accept these legacy descriptors (e1000e while RCTL.DTYP and
 * the TX descriptors' DEXT are 0).  Memory is identity-mapped, so buffer
 * addresses are their physical addresses.
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

#define REG_CTRL 0x0000
#define REG_STATUS 0x0008
#define REG_ICR 0x00c0
#define REG_IMC 0x00d8
#define REG_RCTL 0x0100
#define REG_TCTL 0x0400
#define REG_TIPG 0x0410
#define REG_RDBAL 0x2800
#define REG_RDBAH 0x2804
#define REG_RDLEN 0x2808
#define REG_RDH 0x2810
#define REG_RDT 0x2818
#define REG_TDBAL 0x3800
#define REG_TDBAH 0x3804
#define REG_TDLEN 0x3808
#define REG_TDH 0x3810
#define REG_TDT 0x3818
#define REG_MPC 0x4010
#define REG_RXCSUM 0x5000
#define REG_MTA 0x5200
#define REG_RAL0 0x5400
#define REG_RAH0 0x5404

#define CTRL_ASDE (1u << 5)
#define CTRL_SLU (1u << 6)
#define CTRL_RST (1u << 26)
#define RCTL_EN (1u << 1)
#define RCTL_UPE (1u << 3)
#define RCTL_MPE (1u << 4)
#define RCTL_BAM (1u << 15)
#define RCTL_SECRC (1u << 26)
#define TCTL_EN (1u << 1)
#define TCTL_PSP (1u << 3)
#define TCTL_CT (0x0fu << 4)
#define TCTL_COLD (0x40u << 12)

#define RXS_DD 0x01
/* frame errors: CRC, symbol, sequence, carrier extension, RX data; not
 * the checksum-offload bits (IPE, TCPE), which say nothing of the frame */
#define RXE_FRAME 0x97
#define RXS_EOP 0x02
#define TXC_EOP 0x01
#define TXC_IFCS 0x02
#define TXC_RS 0x08
#define TXS_DD 0x01

#define ETH_MIN 60

struct rx_desc {
	uint64_t addr;
	uint16_t length;
	uint16_t csum;
	uint8_t status;
	uint8_t errors;
	uint16_t special;
};

struct tx_desc {
	uint64_t addr;
	uint16_t length;
	uint8_t cso;
	uint8_t cmd;
	uint8_t status;
	uint8_t css;
	uint16_t special;
};

static struct rx_desc rx_ring[KSH_RX_DESC] __attribute__((aligned(128)));
static struct tx_desc tx_ring[KSH_TX_DESC] __attribute__((aligned(128)));
static uint8_t rx_buf[KSH_RX_DESC][KSH_BUF_BYTES]
	__attribute__((aligned(4096)));
static uint8_t tx_buf[KSH_TX_DESC][KSH_BUF_BYTES]
	__attribute__((aligned(4096)));
static uint8_t tx_used[KSH_TX_DESC]; /* handed to the NIC at least once */

static uint32_t rd(struct ksh_nic *n, uint32_t reg)
{
	return *(volatile uint32_t *)(n->mmio + reg);
}

static void wr(struct ksh_nic *n, uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(n->mmio + reg) = v;
}

static uint64_t phys(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

int ksh_nic_init(struct ksh_nic *n, const struct ksh_pci_dev *d)
{
	if (!d->bar0 || d->bar0 >= (1ull << 32))
		return -1;
	/* memory space and bus mastering (the NIC DMAs the rings) */
	ksh_pci_write(d, 0x04, (ksh_pci_read(d, 0x04) & 0xffff) | 0x6);
	n->mmio = (volatile uint8_t *)(uintptr_t)d->bar0;
	n->device = d->device;

	wr(n, REG_IMC, 0xffffffffu);
	wr(n, REG_CTRL, rd(n, REG_CTRL) | CTRL_RST);
	for (int i = 0; i < 100000 && (rd(n, REG_CTRL) & CTRL_RST); i++)
		cpu_relax();
	wr(n, REG_IMC, 0xffffffffu);
	(void)rd(n, REG_ICR);
	wr(n, REG_CTRL, (rd(n, REG_CTRL) | CTRL_SLU | CTRL_ASDE));

	uint32_t ral = rd(n, REG_RAL0), rah = rd(n, REG_RAH0);
	for (int i = 0; i < 4; i++)
		n->mac[i] = (uint8_t)(ral >> (8 * i));
	n->mac[4] = (uint8_t)rah;
	n->mac[5] = (uint8_t)(rah >> 8);
	for (uint32_t i = 0; i < 128; i++)
		wr(n, REG_MTA + 4 * i, 0);
	wr(n, REG_RXCSUM, 0); /* no checksum offload: frames are data */

	for (uint32_t i = 0; i < KSH_RX_DESC; i++) {
		rx_ring[i].addr = phys(rx_buf[i]);
		rx_ring[i].status = 0;
	}
	wr(n, REG_RDBAL, (uint32_t)phys(rx_ring));
	wr(n, REG_RDBAH, (uint32_t)(phys(rx_ring) >> 32));
	wr(n, REG_RDLEN, sizeof rx_ring);
	wr(n, REG_RDH, 0);
	wr(n, REG_RDT, KSH_RX_DESC - 1);
	n->rx_next = 0;
	n->rx_unreturned = 0;

	for (uint32_t i = 0; i < KSH_TX_DESC; i++) {
		tx_ring[i].addr = phys(tx_buf[i]);
		tx_ring[i].status = TXS_DD;
		tx_used[i] = 0;
	}
	wr(n, REG_TDBAL, (uint32_t)phys(tx_ring));
	wr(n, REG_TDBAH, (uint32_t)(phys(tx_ring) >> 32));
	wr(n, REG_TDLEN, sizeof tx_ring);
	wr(n, REG_TDH, 0);
	wr(n, REG_TDT, 0);
	n->tx_tail = 0;

	wr(n, REG_TIPG, 10 | (10 << 10) | (10 << 20));
	wr(n, REG_TCTL, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD);
	/* written once: e1000 ignores frames for a while after each write */
	wr(n, REG_RCTL, RCTL_EN | RCTL_UPE | RCTL_MPE | RCTL_BAM | RCTL_SECRC);
	n->missed = 0;
	(void)rd(n, REG_MPC);
	return 0;
}

int ksh_nic_rx_peek(struct ksh_nic *n, const uint8_t **frame, uint32_t *len,
                    int *bad)
{
	volatile struct rx_desc *d = &rx_ring[n->rx_next];
	uint8_t st = d->status;
	if (!(st & RXS_DD))
		return 0;
	__asm__ volatile("" ::: "memory"); /* read the rest after DD */
	uint32_t l = d->length;
	*bad = (d->errors & RXE_FRAME) != 0 || !(st & RXS_EOP) || l > KSH_BUF_BYTES;
	*frame = rx_buf[n->rx_next];
	*len = l > KSH_BUF_BYTES ? KSH_BUF_BYTES : l;
	return 1;
}

void ksh_nic_rx_done(struct ksh_nic *n)
{
	uint32_t i = n->rx_next;
	rx_ring[i].status = 0;
	n->rx_next = (i + 1) % KSH_RX_DESC;
	if (++n->rx_unreturned >= KSH_RX_BATCH)
		ksh_nic_rx_return(n);
}

void ksh_nic_rx_return(struct ksh_nic *n)
{
	if (!n->rx_unreturned)
		return;
	n->rx_unreturned = 0;
	mb();
	uint64_t t0 = rdtsc();
	wr(n, REG_RDT, (n->rx_next + KSH_RX_DESC - 1) % KSH_RX_DESC);
	n->rdt_cycles = rdtsc() - t0;
	n->rdt_writes++;
}

int ksh_nic_tx(struct ksh_nic *n, const uint8_t *frame, uint32_t len)
{
	if (len > KSH_FRAME_BYTES)
		return -1;
	uint32_t i = n->tx_tail, next = (i + 1) % KSH_TX_DESC;
	volatile struct tx_desc *d = &tx_ring[i], *dn = &tx_ring[next];
	/* Slot i must be free, and so must the one after it: the ring always
	 * keeps one descriptor free, since TDT == TDH would read as empty and
	 * the NIC would never send what is queued. */
	for (int spin = 0; (tx_used[i] && !(d->status & TXS_DD)) ||
	                   (tx_used[next] && !(dn->status & TXS_DD));
	     spin++) {
		if (spin > 10000000)
			return -1;
		cpu_relax();
	}
	memcpy(tx_buf[i], frame, len);
	if (len < ETH_MIN) {
		memset(tx_buf[i] + len, 0, ETH_MIN - len);
		len = ETH_MIN;
	}
	d->addr = phys(tx_buf[i]);
	d->length = (uint16_t)len;
	d->cso = 0;
	d->css = 0;
	d->special = 0;
	d->status = 0;
	d->cmd = TXC_EOP | TXC_IFCS | TXC_RS;
	tx_used[i] = 1;
	n->tx_tail = (i + 1) % KSH_TX_DESC;
	mb();
	uint64_t t0 = rdtsc();
	wr(n, REG_TDT, n->tx_tail);
	n->tdt_cycles = rdtsc() - t0;
	return 0;
}

int ksh_nic_tx_idle(struct ksh_nic *n)
{
	return rd(n, REG_TDH) == rd(n, REG_TDT);
}

uint64_t ksh_nic_missed(struct ksh_nic *n)
{
	n->missed += rd(n, REG_MPC);
	return n->missed;
}
