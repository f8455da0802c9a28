/* See shim.h. Compiled with DPDK's own cflags (pkg-config --cflags libdpdk). */
#include <errno.h>
#include <string.h>
#include "shim.h"

int vr_errno(void) { return rte_errno; }

int vr_thread_register(void)
{
	if (rte_thread_register() != 0)
		return -1;
	return (int)rte_lcore_id();
}

int vr_port_setup(uint16_t port, uint16_t rxd, uint16_t txd, struct rte_mempool *pool,
                  const char **step)
{
	struct rte_eth_conf conf;
	int ret;

	memset(&conf, 0, sizeof(conf));
	*step = "rte_eth_dev_configure";
	ret = rte_eth_dev_configure(port, 1, 1, &conf);
	if (ret < 0)
		return ret;
	*step = "rte_eth_dev_adjust_nb_rx_tx_desc";
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
	if (ret < 0)
		return ret;
	*step = "rte_eth_rx_queue_setup";
	ret = rte_eth_rx_queue_setup(port, 0, rxd, rte_eth_dev_socket_id(port), NULL, pool);
	if (ret < 0)
		return ret;
	*step = "rte_eth_tx_queue_setup";
	ret = rte_eth_tx_queue_setup(port, 0, txd, rte_eth_dev_socket_id(port), NULL);
	if (ret < 0)
		return ret;
	*step = "rte_eth_dev_start";
	ret = rte_eth_dev_start(port);
	if (ret < 0)
		return ret;
	/* Some virtual devices (net_memif) have no promiscuous mode: not an error. */
	*step = "rte_eth_promiscuous_enable";
	ret = rte_eth_promiscuous_enable(port);
	if (ret < 0 && ret != -ENOTSUP)
		return ret;
	*step = NULL;
	return 0;
}

uint16_t vr_rx_copy(uint16_t port, uint8_t *const *bufs, uint16_t *lens, uint16_t n,
                    uint16_t cap, uint64_t *oversize)
{
	struct rte_mbuf *m[n];
	uint16_t got = rte_eth_rx_burst(port, 0, m, n);
	for (uint16_t i = 0; i < got; i++) {
		if (i + 1 < got)
			rte_prefetch0(rte_pktmbuf_mtod(m[i + 1], void *));
		if (m[i]->nb_segs != 1 || m[i]->data_len > cap) {
			lens[i] = 0;
			(*oversize)++;
		} else {
			memcpy(bufs[i], rte_pktmbuf_mtod(m[i], const void *), m[i]->data_len);
			lens[i] = m[i]->data_len;
		}
		rte_pktmbuf_free(m[i]);
	}
	return got;
}

uint16_t vr_tx_copy(uint16_t port, struct rte_mempool *pool, const uint8_t *const *frames,
                    const uint16_t *lens, uint16_t n)
{
	struct rte_mbuf *m[n];
	uint16_t ready = 0;
	while (ready < n) {
		struct rte_mbuf *b = rte_pktmbuf_alloc(pool);
		if (b == NULL)
			break;
		char *d = rte_pktmbuf_append(b, lens[ready]);
		if (d == NULL) { /* longer than the mbuf's room: config allows it, the pool not */
			rte_pktmbuf_free(b);
			break;
		}
		memcpy(d, frames[ready], lens[ready]);
		m[ready++] = b;
	}
	uint16_t sent = rte_eth_tx_burst(port, 0, m, ready);
	for (uint16_t i = sent; i < ready; i++)
		rte_pktmbuf_free(m[i]);
	return sent;
}

int vr_link_up(uint16_t port)
{
	struct rte_eth_link link;
	int ret = rte_eth_link_get_nowait(port, &link);
	if (ret < 0)
		return ret;
	return link.link_status == RTE_ETH_LINK_UP;
}

int vr_lpm_lookup(const struct rte_lpm *lpm, uint32_t ip, uint32_t *hop)
{
	return rte_lpm_lookup(lpm, ip, hop);
}

int vr_lpm_lookup_bulk(const struct rte_lpm *lpm, const uint32_t *ips, uint32_t *hops,
                       unsigned n)
{
	return rte_lpm_lookup_bulk(lpm, ips, hops, n);
}
