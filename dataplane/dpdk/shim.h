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

/* Receives up to `n` frames of queue 0 and hands them over as they are (no copy): for each,
 * the mbuf in `m[i]`, its data in `data[i]`, its length in `lens[i]` (0 for a chained frame),
 * and in `rooms[i]` the bytes its buffer has from the data on. The caller owns the mbufs.
 * Returns the number of frames. */
uint16_t vr_rx_burst(uint16_t port, struct rte_mbuf **m, uint8_t **data, uint16_t *lens,
                     uint16_t *rooms, uint16_t n);

/* Transmits `n` frames on queue 0: frame `i` is mbuf `m[i]` (its length set to `lens[i]`) or,
 * where `m[i]` is NULL, `lens[i]` bytes at `frames[i]` copied into a fresh mbuf of `pool`.
 * Returns how many the device took (the first ones): those belong to the device now. Of the
 * rest, the fresh copies are freed here and the caller keeps its own mbufs. Stops early when
 * the pool is empty. */
uint16_t vr_tx_burst(uint16_t port, struct rte_mempool *pool, struct rte_mbuf **m,
                     const uint8_t *const *frames, const uint16_t *lens, uint16_t n);

/* Returns an mbuf to its pool (rte_pktmbuf_free). */
void vr_mbuf_free(struct rte_mbuf *m);

/* 1 if port `port`'s link is up, 0 if down, a negative errno if the driver cannot tell. */
int vr_link_up(uint16_t port);

/* rte_lpm / rte_lpm6 lookups (static inline in DPDK). */
int vr_lpm_lookup(const struct rte_lpm *lpm, uint32_t ip, uint32_t *hop);
int vr_lpm_lookup_bulk(const struct rte_lpm *lpm, const uint32_t *ips, uint32_t *hops,
                       unsigned n);

#endif
