/*
 * RTP cadence sink for the benchmark: receives every call's RTP on one UDP port and measures, per
 * SSRC, how far each packet's arrival deviates from the 20 ms cadence. Arrival times come from the
 * kernel (SO_TIMESTAMPNS), so the sink's own scheduling does not pollute the measurement.
 * Usage: rtp-sink <port> <seconds> [skip-first-n-per-stream]; prints one JSON line at the end.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define TABLE 65536
#define BINS 2001 /* deviation histogram: 0.01 ms bins up to 20 ms */

struct stream { uint32_t ssrc; int used; int64_t last_ns; uint32_t seen; uint16_t last_seq; };
static struct stream streams[TABLE];
static uint64_t hist[BINS];
static uint64_t measured, packets, nstreams, reordered;
static double max_dev_ms;

static struct stream *lookup(uint32_t ssrc) {
  uint32_t h = (ssrc * 2654435761u) & (TABLE - 1);
  while (streams[h].used && streams[h].ssrc != ssrc) h = (h + 1) & (TABLE - 1);
  if (!streams[h].used) { streams[h].used = 1; streams[h].ssrc = ssrc; nstreams++; }
  return &streams[h];
}

static double percentile(double p) {
  uint64_t target = (uint64_t)(p * (double)measured), acc = 0;
  for (int i = 0; i < BINS; i++) { acc += hist[i]; if (acc > target) return i * 0.01; }
  return (BINS - 1) * 0.01;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: rtp-sink <port> <seconds> [skip]\n"); return 2; }
  int port = atoi(argv[1]); double seconds = atof(argv[2]); uint32_t skip = argc > 3 ? (uint32_t)atoi(argv[3]) : 10;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1, rcvbuf = 64 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
  struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct timespec start; clock_gettime(CLOCK_MONOTONIC, &start);
  unsigned char buf[2048]; char control[256];
  for (;;) {
    struct timespec now; clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 > seconds) break;
    struct iovec iov = { buf, sizeof buf };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 12) continue;
    int64_t ts = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        struct timespec t; memcpy(&t, CMSG_DATA(c), sizeof t); ts = (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
      }
    }
    packets++;
    uint32_t ssrc = ((uint32_t)buf[8] << 24) | ((uint32_t)buf[9] << 16) | ((uint32_t)buf[10] << 8) | buf[11];
    uint16_t seq = (uint16_t)((buf[2] << 8) | buf[3]);
    struct stream *s = lookup(ssrc);
    if (s->seen > 0 && (uint16_t)(seq - s->last_seq) != 1) reordered++;
    if (s->seen > skip && (uint16_t)(seq - s->last_seq) == 1) {
      double dev = (double)(ts - s->last_ns) / 1e6 - 20.0;
      if (dev < 0) dev = -dev;
      if (dev > max_dev_ms) max_dev_ms = dev;
      int bin = (int)(dev / 0.01);
      hist[bin < BINS ? bin : BINS - 1]++;
      measured++;
    }
    s->seen++; s->last_ns = ts; s->last_seq = seq;
  }
  printf("{\"packets\":%llu,\"streams\":%llu,\"measured\":%llu,\"gaps\":%llu,\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f}\n",
         (unsigned long long)packets, (unsigned long long)nstreams, (unsigned long long)measured, (unsigned long long)reordered,
         percentile(0.5), percentile(0.99), percentile(0.999), max_dev_ms);
  return 0;
}
