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

uint16_t vr_rx_burst(uint16_t port, struct rte_mbuf **m, uint8_t **data, uint16_t *lens,
                     uint16_t *rooms, uint16_t n)
{
	uint16_t got = rte_eth_rx_burst(port, 0, m, n);
	for (uint16_t i = 0; i < got; i++) {
		struct rte_mbuf *b = m[i];
		data[i] = rte_pktmbuf_mtod(b, uint8_t *);
		lens[i] = b->nb_segs == 1 ? b->data_len : 0;
		rooms[i] = b->buf_len - b->data_off;
	}
	return got;
}

uint16_t vr_tx_burst(uint16_t port, struct rte_mempool *pool, struct rte_mbuf **m,
                     const uint8_t *const *frames, const uint16_t *lens, uint16_t n)
{
	uint8_t fresh[n];
	uint16_t ready = 0;
	for (; ready < n; ready++) {
		struct rte_mbuf *b = m[ready];
		if (b != NULL) {
			/* A received mbuf, rewritten in place: one segment of the new length, and no
			 * receive offload flags carried over to the transmit side. */
			b->data_len = lens[ready];
			b->pkt_len = lens[ready];
			b->ol_flags &= RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT;
			fresh[ready] = 0;
			continue;
		}
		b = rte_pktmbuf_alloc(pool);
		if (b == NULL)
			break;
		char *d = rte_pktmbuf_append(b, lens[ready]);
		if (d == NULL) {
			rte_pktmbuf_free(b);
			break;
		}
		memcpy(d, frames[ready], lens[ready]);
		m[ready] = b;
		fresh[ready] = 1;
	}
	uint16_t sent = rte_eth_tx_burst(port, 0, m, ready);
	for (uint16_t i = sent; i < ready; i++)
		if (fresh[i])
			rte_pktmbuf_free(m[i]);
	return sent;
}

void vr_mbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }

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
