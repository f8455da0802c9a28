/* vrouter's C shim over DPDK: the fast-path functions DPDK defines `static inline` in its
 * headers (which no binding can link to), the per-lcore errno, and an ethdev setup that keeps
 * the large configuration structs on the C side. bindgen reads this header (with the DPDK
 * headers it includes) to generate the Rust declarations. */
#ifndef VROUTER_DPDK_SHIM_H
#define VROUTER_DPDK_SHIM_H

#include <stdint.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>

/* rte_errno of the calling thread. */
int vr_errno(void);

/* Registers the calling (non-EAL) thread as an lcore so that it gets a mempool cache;
 * returns its lcore id, or -1 when no lcore is left (it then works uncached). */
int vr_thread_register(void);

/* Configures port `port` with one RX and one TX queue of `rxd`/`txd` descriptors, receive
 * buffers from `pool`, starts it and turns promiscuous mode on. Returns 0 or a negative errno,
 * and in `*step` the name of the call that failed. */
int vr_port_setup(uint16_t port, uint16_t rxd, uint16_t txd, struct rte_mempool *pool,
                  const char **step);

/* Receives up to `n` frames of queue 0 and copies each into `bufs[i]` (at most `cap` bytes,
 * the length in `lens[i]`; a longer or chained frame gets length 0 and counts in
 * `*oversize`). Every mbuf is freed before returning. Returns the number of frames. */
uint16_t vr_rx_copy(uint16_t port, uint8_t *const *bufs, uint16_t *lens, uint16_t n,
                    uint16_t cap, uint64_t *oversize);

/* Copies `n` frames into fresh mbufs of `pool` and transmits them on queue 0. Returns how
 * many the device took (the first ones); mbufs it did not take are freed here. Stops early
 * when the pool is empty. */
uint16_t vr_tx_copy(uint16_t port, struct rte_mempool *pool, const uint8_t *const *frames,
                    const uint16_t *lens, uint16_t n);

/* 1 if port `port`'s link is up, 0 if down, a negative errno if the driver cannot tell. */
int vr_link_up(uint16_t port);

/* rte_lpm / rte_lpm6 lookups (static inline in DPDK). */
int vr_lpm_lookup(const struct rte_lpm *lpm, uint32_t ip, uint32_t *hop);
int vr_lpm_lookup_bulk(const struct rte_lpm *lpm, const uint32_t *ips, uint32_t *hops,
                       unsigned n);

#endif
