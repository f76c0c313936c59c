/* One DNS query per TCP+TLS connection, in a loop, in parallel workers.
 *
 * Built at run time by tests/bench/tls_compare.py (cc ... -lssl -lcrypto);
 * not part of kresd.  Each worker process: connect, TLS handshake
 * (optionally resuming the session of its previous connection), one query
 * (DoT: 2-byte length + message; DoH: a minimal HTTP/2 POST to /dns-query),
 * read and check the answer, close_notify, close; until the time limit or
 * the per-worker count is reached.
 *
 *   tls_newconn_client HOST PORT dot|doh WORKERS SECONDS MAX_PER_WORKER \
 *                      RESUME(0|1) QNAME A.B.C.D
 *
 * Prints one line on stdout:
 *   ok=N errors=N resumed=N seconds=S first_error=...
 * An answer counts as ok when it has the query's ID (DoT), QR set, RCODE
 * NOERROR, at least one answer record and the expected IPv4 address in it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct result {
    long ok, errors, resumed;
    char first_error[120];
};

static const char* host;
static int port, doh, resume;
static uint8_t addr4[4];
static uint8_t query[300];
static size_t query_len;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int build_query(const char* name)
{
    uint8_t* p = query;
    memset(p, 0, 12);
    p[2] = 0x01;          /* RD */
    p[5] = 1;             /* QDCOUNT */
    p += 12;
    const char* s = name;
    while (*s) {
        const char* dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (n == 0 || n > 63 || (size_t)(p - query) + n + 6 > sizeof query) return -1;
        *p++ = (uint8_t)n;
        memcpy(p, s, n);
        p += n;
        s += n;
        if (*s == '.') s++;
    }
    *p++ = 0;
    *p++ = 0; *p++ = 1;   /* A */
    *p++ = 0; *p++ = 1;   /* IN */
    query_len = (size_t)(p - query);
    return 0;
}

static void set_error(struct result* r, const char* what)
{
    r->errors++;
    if (!r->first_error[0]) {
        unsigned long e = ERR_peek_error();
        char buf[80] = "";
        if (e) ERR_error_string_n(e, buf, sizeof buf);
        snprintf(r->first_error, sizeof r->first_error, "%s%s%s%s", what,
                 buf[0] ? " (" : "", buf, buf[0] ? ")" : "");
    }
    ERR_clear_error();
}

static int read_full(SSL* ssl, uint8_t* buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        int k = SSL_read(ssl, buf + got, (int)(n - got));
        if (k <= 0) return -1;
        got += (size_t)k;
    }
    return 0;
}

static int check_answer(const uint8_t* a, size_t n, uint16_t id)
{
    if (n < 12) return -1;
    if (((a[0] << 8) | a[1]) != id) return -1;
    if (!(a[2] & 0x80) || (a[3] & 0x0f) != 0) return -1;
    if (((a[6] << 8) | a[7]) < 1) return -1;
    return memmem(a + 12, n - 12, addr4, 4) ? 0 : -1;
}

/* DoT: length-prefixed query and answer. */
static int exchange_dot(SSL* ssl, uint16_t id)
{
    uint8_t out[2 + sizeof query];
    out[0] = (uint8_t)(query_len >> 8);
    out[1] = (uint8_t)query_len;
    memcpy(out + 2, query, query_len);
    out[2] = (uint8_t)(id >> 8);
    out[3] = (uint8_t)id;
    if (SSL_write(ssl, out, (int)(query_len + 2)) <= 0) return -1;
    uint8_t len[2], ans[65535];
    if (read_full(ssl, len, 2)) return -1;
    size_t n = ((size_t)len[0] << 8) | len[1];
    if (read_full(ssl, ans, n)) return -1;
    return check_answer(ans, n, id);
}

static uint8_t* frame(uint8_t* p, size_t len, uint8_t type, uint8_t flags, uint32_t stream)
{
    p[0] = (uint8_t)(len >> 16); p[1] = (uint8_t)(len >> 8); p[2] = (uint8_t)len;
    p[3] = type; p[4] = flags;
    p[5] = (uint8_t)(stream >> 24) & 0x7f; p[6] = (uint8_t)(stream >> 16);
    p[7] = (uint8_t)(stream >> 8); p[8] = (uint8_t)stream;
    return p + 9;
}

static uint8_t* hpack_literal(uint8_t* p, unsigned index, const char* value)
{
    /* Literal header field without indexing, indexed name (RFC 7541 6.2.2),
     * no Huffman coding; every value here is shorter than 127 bytes. */
    if (index < 15) {
        *p++ = (uint8_t)index;
    } else {
        *p++ = 0x0f;
        *p++ = (uint8_t)(index - 15);
    }
    size_t n = strlen(value);
    *p++ = (uint8_t)n;
    memcpy(p, value, n);
    return p + n;
}

/* DoH: the client preface, an empty SETTINGS, one POST on stream 1; read
 * frames until stream 1 ends, acknowledging the server's SETTINGS. */
static int exchange_doh(SSL* ssl)
{
    uint8_t out[1024], *p = out;
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    memcpy(p, preface, sizeof preface - 1);
    p += sizeof preface - 1;
    p = frame(p, 0, 4, 0, 0);                      /* SETTINGS */
    uint8_t* hdr = p;
    p += 9;
    uint8_t* block = p;
    char clen[8], authority[80];
    snprintf(clen, sizeof clen, "%zu", query_len);
    snprintf(authority, sizeof authority, "%s:%d", host, port);
    *p++ = 0x83;                                   /* :method POST */
    *p++ = 0x87;                                   /* :scheme https */
    p = hpack_literal(p, 4, "/dns-query");         /* :path */
    p = hpack_literal(p, 1, authority);            /* :authority */
    p = hpack_literal(p, 31, "application/dns-message"); /* content-type */
    p = hpack_literal(p, 19, "application/dns-message"); /* accept */
    p = hpack_literal(p, 28, clen);                /* content-length */
    frame(hdr, (size_t)(p - block), 1, 0x4, 1);    /* HEADERS, END_HEADERS */
    p = frame(p, query_len, 0, 0x1, 1);            /* DATA, END_STREAM */
    memcpy(p, query, query_len);                   /* ID 0 (RFC 8484) */
    p += query_len;
    if (SSL_write(ssl, out, (int)(p - out)) <= 0) return -1;

    static uint8_t body[65536 + 16384];
    size_t body_len = 0;
    for (int frames = 0; frames < 64; frames++) {
        uint8_t h[9];
        if (read_full(ssl, h, 9)) return -1;
        size_t len = ((size_t)h[0] << 16) | ((size_t)h[1] << 8) | h[2];
        uint8_t type = h[3], flags = h[4];
        uint32_t stream = ((uint32_t)(h[5] & 0x7f) << 24) | ((uint32_t)h[6] << 16) |
                          ((uint32_t)h[7] << 8) | h[8];
        static uint8_t payload[16384];
        if (len > sizeof payload) return -1;
        if (read_full(ssl, payload, len)) return -1;
        if (type == 4 && !(flags & 0x1)) {         /* SETTINGS: acknowledge */
            uint8_t ack[9];
            frame(ack, 0, 4, 0x1, 0);
            if (SSL_write(ssl, ack, 9) <= 0) return -1;
        } else if (type == 7 || (type == 3 && stream == 1)) {
            return -1;                             /* GOAWAY, RST_STREAM */
        } else if (type == 0 && stream == 1) {     /* DATA */
            size_t off = 0, pad = 0;
            if (flags & 0x8) { if (len < 1) return -1; pad = payload[0]; off = 1; }
            if (off + pad > len || body_len + len > sizeof body) return -1;
            memcpy(body + body_len, payload + off, len - off - pad);
            body_len += len - off - pad;
            if (flags & 0x1) return check_answer(body, body_len, 0);
        } else if (type == 1 && stream == 1 && (flags & 0x1)) {
            return -1;                             /* ended without a body */
        }
    }
    return -1;
}

static void worker(SSL_CTX* ctx, struct result* r, double deadline, long max, unsigned seed)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, host, &sa.sin_addr);
    SSL_SESSION* session = NULL;
    uint16_t id = (uint16_t)seed;
    for (long i = 0; i < max && now() < deadline; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) { set_error(r, "socket"); continue; }
        struct timeval tv = { .tv_sec = 5 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr*)&sa, sizeof sa)) {
            set_error(r, strerror(errno));
            close(fd);
            usleep(1000);
            continue;
        }
        SSL* ssl = SSL_new(ctx);
        SSL_set_fd(ssl, fd);
        if (session) SSL_set_session(ssl, session);
        int ok = 0;
        if (SSL_connect(ssl) != 1) {
            set_error(r, "handshake");
        } else {
            id++;
            int rc = doh ? exchange_doh(ssl) : exchange_dot(ssl, id);
            if (rc) {
                set_error(r, "bad or no answer");
            } else {
                ok = 1;
                r->ok++;
                if (SSL_session_reused(ssl)) r->resumed++;
            }
            if (resume && ok) {
                /* After the answer the TLS 1.3 tickets have been read too. */
                SSL_SESSION* s = SSL_get1_session(ssl);
                if (s && SSL_SESSION_is_resumable(s)) {
                    if (session) SSL_SESSION_free(session);
                    session = s;
                } else if (s) {
                    SSL_SESSION_free(s);
                }
            }
            SSL_shutdown(ssl);
        }
        SSL_free(ssl);
        close(fd);
    }
    if (session) SSL_SESSION_free(session);
}

int main(int argc, char** argv)
{
    if (argc != 10) {
        fprintf(stderr, "usage: %s HOST PORT dot|doh WORKERS SECONDS MAX_PER_WORKER "
                        "RESUME QNAME A.B.C.D\n", argv[0]);
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    doh = strcmp(argv[3], "doh") == 0;
    int workers = atoi(argv[4]);
    double seconds = atof(argv[5]);
    long max = atol(argv[6]);
    resume = atoi(argv[7]);
    if (port <= 0 || workers <= 0 || workers > 256 || seconds <= 0 || max <= 0 ||
        build_query(argv[8]) || inet_pton(AF_INET, argv[9], addr4) != 1 ||
        (!doh && strcmp(argv[3], "dot"))) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return 1;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    /* Sessions are handed over by hand (SSL_set_session); no internal cache. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (doh) {
        static const unsigned char alpn[] = { 2, 'h', '2' };
        SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn);
    }

    struct result* res = mmap(NULL, sizeof(struct result) * (size_t)workers,
                              PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (res == MAP_FAILED) return 1;
    memset(res, 0, sizeof(struct result) * (size_t)workers);

    double start = now(), deadline = start + seconds;
    pid_t pids[256];
    for (int w = 0; w < workers; w++) {
        pids[w] = fork();
        if (pids[w] < 0) { perror("fork"); return 1; }
        if (pids[w] == 0) {
            alarm((unsigned)seconds + 15);   /* a hard bound, whatever happens */
            worker(ctx, &res[w], deadline, max, (unsigned)(w * 7919 + 1));
            _exit(0);
        }
    }
    int failed = 0;
    for (int w = 0; w < workers; w++) {
        int st;
        if (waitpid(pids[w], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) failed++;
    }
    double elapsed = now() - start;
    struct result total = { 0 };
    for (int w = 0; w < workers; w++) {
        total.ok += res[w].ok;
        total.errors += res[w].errors;
        total.resumed += res[w].resumed;
        if (!total.first_error[0] && res[w].first_error[0])
            memcpy(total.first_error, res[w].first_error, sizeof total.first_error);
    }
    printf("ok=%ld errors=%ld resumed=%ld seconds=%.6f failed_workers=%d first_error=%s\n",
           total.ok, total.errors, total.resumed, elapsed, failed,
           total.first_error[0] ? total.first_error : "-");
    return failed ? 1 : 0;
}
