/*
 * floor: the cheapest possible UDP "resolver", the floor of the benchmark
 * (tests/bench/perf.py).
 *
 *     floor ADDRESS PORT
 *
 * One thread, one UDP socket.  Reads datagrams in batches of up to BATCH
 * with recvmmsg() and answers the whole batch with one sendmmsg().  It does
 * not look at the question: an answer is the query itself with QR (and RA)
 * set and, when the query is a plain one (QDCOUNT 1, no other records, so
 * the question is the last thing in the datagram), one A record appended
 * whose owner is a compression pointer to the question name (offset 12):
 *
 *     C0 0C | 00 01 (A) | 00 01 (IN) | TTL 300 | 00 04 | 198.18.0.1
 *
 * A 30-byte dnsperf query gets a 46-byte answer, the same size as a real
 * resolver's answer for the lab's bulk.sim. names.  Anything else (too
 * short, QR already set) is dropped; a query with other records is echoed
 * with QR set and no answer.
 *
 * The socket keeps the system's default buffer sizes, like the resolvers
 * it is compared with.
 *
 * Built with -DFLOOR_EVENT_LOOP (and -levent_core) it is the event-loop
 * floor, "floor-loop" in perf.py: the same batches, but the socket is
 * non-blocking and read when libevent's epoll loop reports it readable
 * (EV_READ | EV_PERSIST | EV_ET, reading until a batch comes back short),
 * the way a resolver with other sockets and timers to serve must wait.
 * What it costs above the plain floor is the event loop's share.
 *
 * Prints "ready" on stdout once the socket is bound; runs until killed.
 * Loopback is the caller's business: it binds exactly what it is given.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef FLOOR_EVENT_LOOP
#include <event2/event.h>
#endif

#define BATCH 64
#define BUFSIZE 2048

static const unsigned char answer_rr[16] = {
	0xc0, 0x0c,             /* name: pointer to the question name */
	0x00, 0x01,             /* type A */
	0x00, 0x01,             /* class IN */
	0x00, 0x00, 0x01, 0x2c, /* TTL 300 */
	0x00, 0x04,             /* RDLENGTH */
	198, 18, 0, 1,          /* RDATA */
};

static unsigned char bufs[BATCH][BUFSIZE];
static struct sockaddr_storage peers[BATCH];
static struct iovec iovs[BATCH];
static struct mmsghdr in[BATCH], out[BATCH];

/* Turns the query in buf (len bytes) into an answer; returns its length,
 * or 0 to drop it. */
static size_t make_answer(unsigned char *buf, size_t len)
{
	if (len < 12 || (buf[2] & 0x80))
		return 0;
	unsigned qd = (unsigned)buf[4] << 8 | buf[5];
	unsigned others = (unsigned)(buf[6] | buf[7] | buf[8] | buf[9] | buf[10] | buf[11]);
	buf[2] |= 0x80;                 /* QR; opcode, AA=0, TC=0, RD kept */
	buf[3] = (unsigned char)((buf[3] & 0x0f) | 0x80); /* RA, Z=0, RCODE kept */
	if (qd == 1 && others == 0 && len + sizeof answer_rr <= BUFSIZE) {
		memcpy(buf + len, answer_rr, sizeof answer_rr);
		buf[7] = 1;             /* ANCOUNT = 1 */
		len += sizeof answer_rr;
	}
	return len;
}

/* Reads one batch (waiting for the first datagram when `flags` has
 * MSG_WAITFORONE on a blocking socket) and answers it. Returns the number
 * of datagrams read, or -1 on an error other than EINTR/EAGAIN. */
static int batch(int fd, int flags)
{
	for (int i = 0; i < BATCH; i++) {
		iovs[i].iov_base = bufs[i];
		iovs[i].iov_len = BUFSIZE;
		in[i].msg_hdr = (struct msghdr){
			.msg_name = &peers[i], .msg_namelen = sizeof peers[i],
			.msg_iov = &iovs[i], .msg_iovlen = 1,
		};
	}
	int n = recvmmsg(fd, in, BATCH, flags, NULL);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	int k = 0;
	for (int i = 0; i < n; i++) {
		size_t len = make_answer(bufs[i], in[i].msg_len);
		if (len == 0)
			continue;
		iovs[i].iov_len = len;
		out[k].msg_hdr = (struct msghdr){
			.msg_name = &peers[i], .msg_namelen = in[i].msg_hdr.msg_namelen,
			.msg_iov = &iovs[i], .msg_iovlen = 1,
		};
		k++;
	}
	for (int sent = 0; sent < k;) {
		int m = sendmmsg(fd, out + sent, (unsigned)(k - sent), 0);
		if (m < 0) {
			if (errno == EINTR)
				continue;
			break;  /* e.g. ENOBUFS: drop the rest of the batch */
		}
		sent += m;
	}
	return n;
}

#ifdef FLOOR_EVENT_LOOP
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	(void)arg;
	int n;
	/* Edge-triggered: a full batch may have left more behind. */
	while ((n = batch(fd, MSG_DONTWAIT)) == BATCH)
		;
	if (n < 0) {
		perror("floor: recvmmsg");
		exit(1);
	}
}
#endif

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s ADDRESS PORT\n", argv[0]);
		return 2;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
	                         .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai;
	int rc = getaddrinfo(argv[1], argv[2], &hints, &ai);
	if (rc != 0) {
		fprintf(stderr, "floor: %s %s: %s\n", argv[1], argv[2], gai_strerror(rc));
		return 2;
	}
	int fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		perror("floor: socket/bind");
		return 1;
	}
	freeaddrinfo(ai);
#ifdef FLOOR_EVENT_LOOP
	struct event_base *base = event_base_new();
	struct event *ev = base == NULL ? NULL
	        : event_new(base, fd, EV_READ | EV_PERSIST | EV_ET, on_readable, NULL);
	if (ev == NULL || evutil_make_socket_nonblocking(fd) != 0 || event_add(ev, NULL) != 0) {
		fprintf(stderr, "floor: libevent set-up failed\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	event_base_dispatch(base);
	return 1;
#else
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (batch(fd, MSG_WAITFORONE) < 0) {
			perror("floor: recvmmsg");
			return 1;
		}
	}
#endif
}
