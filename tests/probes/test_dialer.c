/*
 * The Linux dialer (probes/dial_linux.c) on its own, against real loopback
 * peers: what the engine tests cannot see from results alone. A refused
 * socket is reused by the next dial and then connects to a listener; a
 * connected socket is closed with a FIN (the peer reads end-of-file, not a
 * reset); a dial hung up while its SYN goes unanswered leaves a socket the
 * next dial can use; a detached socket stays open; a new socket of one
 * family first closes a spare of the other; closing the dialer leaves the
 * loop with nothing open.
 */
#include "helpers.h"


#include "tests/check_run.h"

#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct outcome {
    int calls;
    int status;
};

static void on_dialed(struct pw_dial *d, int status)
{
    struct outcome *o = d->data;
    o->calls++;
    o->status = status;
}

static struct sockaddr_in addr4(uint16_t port)
{
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    return a;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop for about `ms`, or until *calls is nonzero. The dialer's
 * handle does not keep the loop alive (the engine's timeout timer does),
 * so a timer stands in for it here. */
static void spin(uv_loop_t *loop, const int *calls, int ms)
{
    uv_timer_t keep;
    uv_timer_init(loop, &keep);
    uv_timer_start(&keep, on_tick, 1, 1);
    for (int i = 0; i < ms && (!calls || *calls == 0); i++)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&keep, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* Dials `to` and runs the loop until the callback (at most ~2 s). */
static int dial_wait(uv_loop_t *loop, const struct pw_dialer_ops *ops, struct pw_dialer *dr,
                     struct pw_dial *d, const struct sockaddr_in *to)
{
    struct outcome *o = d->data;
    o->calls = 0;
    ck_assert_int_eq(ops->dial(dr, d, (const struct sockaddr *)to), 0);
    spin(loop, &o->calls, 2000);
    ck_assert_int_eq(o->calls, 1);
    return o->status;
}

/* The socket's identity: a new socket may get a closed one's number, never
 * its inode. */
static ino_t inode_of(uv_os_sock_t s)
{
    struct stat st;
    ck_assert_int_eq(fstat((int)s, &st), 0);
    return st.st_ino;
}

static void on_closed(void *ud)
{
    (*(int *)ud)++;
}

START_TEST(test_reuse_and_close)
{
    const struct pw_dialer_ops *ops = pw_dialer_linux();
    ck_assert_ptr_nonnull(ops);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct pw_dialer *dr = ops->open(&loop);
    ck_assert_ptr_nonnull(dr);

    uint16_t open_port = 0;
    int lfd = th_listen("127.0.0.1", &open_port, 16);
    uint16_t closed_port = th_free_port("127.0.0.1");
    struct outcome o = {0};
    struct pw_dial d = {.cb = on_dialed, .data = &o};

    struct sockaddr_in to = addr4(closed_port);
    ck_assert_int_eq(dial_wait(&loop, ops, dr, &d, &to), UV_ECONNREFUSED);
    ino_t refused = inode_of(d.sock);

    /* The refused socket comes back for the next dial, which connects. */
    to = addr4(open_port);
    ck_assert_int_eq(dial_wait(&loop, ops, dr, &d, &to), 0);
    ck_assert(inode_of(d.sock) == refused);
    ck_assert(d.connected);
    int afd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(afd, 0);
    ops->hangup(dr, &d);
    char c;
    ck_assert_int_eq(recv(afd, &c, 1, 0), 0); /* FIN: end of file, no reset */
    close(afd);

    /* Nothing answers a SYN to a full accept queue: hang up mid-connect,
     * and the socket serves the next dial. */
    int bh[2];
    uint16_t bh_port = th_blackhole("127.0.0.1", bh);
    to = addr4(bh_port);
    o.calls = 0;
    ck_assert_int_eq(ops->dial(dr, &d, (const struct sockaddr *)&to), 0);
    ino_t pending = inode_of(d.sock);
    spin(&loop, NULL, 50);
    ck_assert_int_eq(o.calls, 0);
    ops->hangup(dr, &d);
    to = addr4(open_port);
    ck_assert_int_eq(dial_wait(&loop, ops, dr, &d, &to), 0);
    ck_assert(inode_of(d.sock) == pending);

    /* Detached: the socket is the caller's and still connected. */
    ops->detach(dr, &d);
    afd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(afd, 0);
    ck_assert_int_eq(send((int)d.sock, "x", 1, 0), 1);
    ck_assert_int_eq(recv(afd, &c, 1, 0), 1);
    close((int)d.sock);
    close(afd);

    int closed = 0;
    ops->close(dr, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    close(lfd);
    close(bh[0]);
    close(bh[1]);
}
END_TEST

/* An idle dialer does not keep uv_run going; an IPv6 dial uses its own
 * sockets, and creating one first closes an IPv4 spare, so sockets live
 * and spare never outnumber the dials in flight (the engine's fd budget). */
START_TEST(test_idle_and_ipv6)
{
    const struct pw_dialer_ops *ops = pw_dialer_linux();
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct pw_dialer *dr = ops->open(&loop);
    ck_assert_ptr_nonnull(dr);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);

    int s6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (s6 >= 0 && bind(s6, (struct sockaddr *)&a6, sizeof a6) == 0 && listen(s6, 4) == 0) {
        socklen_t len = sizeof a6;
        getsockname(s6, (struct sockaddr *)&a6, &len);
        struct outcome o = {0};
        struct pw_dial d = {.cb = on_dialed, .data = &o};
        struct sockaddr_in to = addr4(th_free_port("127.0.0.1"));
        ck_assert_int_eq(dial_wait(&loop, ops, dr, &d, &to), UV_ECONNREFUSED);
        int spare = (int)d.sock;
        ino_t spare_ino = inode_of(d.sock);
        o.calls = 0;
        ck_assert_int_eq(ops->dial(dr, &d, (const struct sockaddr *)&a6), 0);
        struct stat st;
        ck_assert(fstat(spare, &st) != 0 || st.st_ino != spare_ino);
        spin(&loop, &o.calls, 2000);
        ck_assert_int_eq(o.calls, 1);
        ck_assert_int_eq(o.status, 0);
        ops->hangup(dr, &d);
    }
    if (s6 >= 0)
        close(s6);
    int closed = 0;
    ops->close(dr, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("probes-dialer");
    TCase *tc = tcase_create("dialer");
    tcase_add_test(tc, test_reuse_and_close);
    tcase_add_test(tc, test_idle_and_ipv6);
    suite_add_tcase(s, tc);
    return pw_check_run(s);
}
