/* SPDX-License-Identifier: MPL-2.0 */
/*
 * A C program using libdltun as dladm would: create, info, walk, modify,
 * delete, up after a reboot, strerror and errmsg, with bad input.  It
 * prints what it sees; the Rust test compares the output line by line.
 * Built with -std=c99 -Wall -Wextra -Werror against libdltun.so (feature
 * sim: each handle is a simulated host).
 */

#include <stdio.h>
#include <string.h>
#include <libdltun.h>
#include "dltun_sim.h"

static dltun_handle_t *h;

/* Print "<what>: <status name or ok>" and, on failure, the message. */
static void
report(const char *what, dltun_status_t st)
{
	if (st == DLTUN_STATUS_OK)
		(void) printf("%s: ok\n", what);
	else
		(void) printf("%s: %d (%s) %s\n", what, (int)st,
		    dltun_strerror(st), dltun_errmsg(h));
}

static void
show(const char *link, uint32_t flags)
{
	dltun_info_t info;
	dltun_status_t st;
	char owner[16];

	(void) memset(&info, 0xa5, sizeof (info));
	st = dltun_info(h, link, flags, &info);
	if (st != DLTUN_STATUS_OK) {
		report("info", st);
		return;
	}
	if (info.di_owner == DLTUN_NOID)
		(void) strcpy(owner, "none");
	else
		(void) sprintf(owner, "%u", (unsigned)info.di_owner);
	(void) printf("info %s%s: mode=%s state=%u active=%d persistent=%d "
	    "mtu=%u mac=%s owner=%s zone=%s queues=%u npids=%u\n",
	    info.di_name, (flags & DLTUN_OPT_PERSIST) ? " -P" : "",
	    info.di_mode == DLTUN_MODE_TAP ? "tap" : "tun",
	    (unsigned)info.di_state,
	    (info.di_flags & DLTUN_INFO_ACTIVE) != 0,
	    (info.di_flags & DLTUN_INFO_PERSISTENT) != 0,
	    (unsigned)info.di_mtu, info.di_macaddr[0] ? info.di_macaddr : "--",
	    owner, info.di_zonename, (unsigned)info.di_nqueues,
	    (unsigned)info.di_npids);
}

struct walk_state {
	int	limit;
	int	seen;
};

static int
print_link(const dltun_info_t *info, void *arg)
{
	struct walk_state *ws = arg;

	(void) printf(" %s", info->di_name);
	ws->seen++;
	return (ws->limit > 0 && ws->seen >= ws->limit ?
	    DLTUN_WALK_TERMINATE : DLTUN_WALK_CONTINUE);
}

static void
walk(const char *label, uint32_t flags, int limit)
{
	struct walk_state ws;
	dltun_status_t st;

	ws.limit = limit;
	ws.seen = 0;
	(void) printf("walk %s:", label);
	st = dltun_walk(h, flags, print_link, &ws);
	(void) printf(" (%d)\n", ws.seen);
	if (st != DLTUN_STATUS_OK)
		report("walk", st);
}

static void
up_cb(const char *link, dltun_up_result_t result, dltun_status_t status,
    const char *errmsg, void *arg)
{
	(void) arg;
	(void) printf("up %s: %s %d%s%s\n", link,
	    result == DLTUN_UP_CREATED ? "created" :
	    result == DLTUN_UP_ALREADY ? "already" : "failed",
	    (int)status, errmsg[0] ? " " : "", errmsg);
}

/* Every counter by name: ask how many, then fetch them. */
static void
counters(const char *link)
{
	dltun_counter_t buf[64];
	uint32_t n = 0, i;
	dltun_status_t st;

	st = dltun_get_counters(h, link, NULL, &n);
	if (st != DLTUN_STATUS_OK || n > 64) {
		report("counters", st);
		return;
	}
	report("counters", dltun_get_counters(h, link, buf, &n));
	(void) printf("%u counters:", (unsigned)n);
	for (i = 0; i < n; i++)
		(void) printf(" %s=%llu", buf[i].dn_name,
		    (unsigned long long)buf[i].dn_value);
	(void) printf("\n");
}

int
main(void)
{
	dltun_attr_t attr;
	dltun_modify_t mod;
	uint32_t linkid = 0;
	int32_t pid = 0;
	dltun_info_t info;
	int code;

	report("open", dltun_open(&h));
	(void) printf("open errmsg: '%s'\n", dltun_errmsg(NULL));

	/* A persistent tap with an MTU, a MAC address and an owner. */
	(void) memset(&attr, 0, sizeof (attr));
	attr.da_name = "tap0";
	attr.da_mode = DLTUN_MODE_TAP;
	attr.da_set = DLTUN_ATTR_MTU | DLTUN_ATTR_MACADDR | DLTUN_ATTR_OWNER;
	attr.da_mtu = 1400;
	attr.da_macaddr = "2:8:20:0:0:1";
	attr.da_owner = 1001;
	report("create tap0", dltun_create(h, &attr, &linkid));
	(void) printf("linkid reported: %s\n", linkid != 0 ? "yes" : "no");
	(void) memset(&info, 0, sizeof (info));
	(void) dltun_info(h, "tap0", 0, &info);
	(void) printf("linkid matches: %s\n",
	    info.di_linkid == linkid ? "yes" : "no");
	show("tap0", 0);

	/* Bad input: a duplicate, a bad MTU, a bad MAC, a bad name, NULLs. */
	report("create tap0 again", dltun_create(h, &attr, NULL));
	attr.da_name = "tap1";
	attr.da_mtu = 100;
	report("create mtu 100", dltun_create(h, &attr, NULL));
	attr.da_mtu = 1500;
	attr.da_macaddr = "1:0:5e:0:0:1";
	report("create multicast mac", dltun_create(h, &attr, NULL));
	attr.da_macaddr = "2:8:20:0:0:2";
	attr.da_name = "1tap";
	report("create 1tap", dltun_create(h, &attr, NULL));
	attr.da_name = NULL;
	report("create null name", dltun_create(h, &attr, NULL));
	report("create null attr", dltun_create(h, NULL, NULL));
	report("info null name", dltun_info(h, NULL, 0, &info));
	report("info nope0", dltun_info(h, "nope0", 0, &info));

	/* A temporary tun with defaults. */
	(void) memset(&attr, 0, sizeof (attr));
	attr.da_name = "tun1";
	attr.da_mode = DLTUN_MODE_TUN;
	attr.da_flags = DLTUN_OPT_TEMPORARY;
	report("create tun1 -t", dltun_create(h, &attr, NULL));
	show("tun1", 0);
	report("info tun1 -P", dltun_info(h, "tun1", DLTUN_OPT_PERSIST,
	    &info));

	walk("all", 0, 0);
	walk("first", 0, 1);
	walk("-P", DLTUN_OPT_PERSIST, 0);
	report("walk null callback", dltun_walk(h, 0, NULL, NULL));

	/* A daemon attaches: the link is up and busy. */
	report("attach tap0", dltun_sim_attach(h, "tap0", &pid));
	(void) printf("attached pid %d\n", (int)pid);
	(void) memset(&info, 0, sizeof (info));
	(void) dltun_info(h, "tap0", 0, &info);
	(void) printf("pid listed: %s\n",
	    info.di_npids == 1 && info.di_pids[0] == pid ? "yes" : "no");
	show("tap0", 0);
	counters("tap0");
	report("delete tap0", dltun_delete(h, "tap0", 0));

	/* Modify. */
	(void) memset(&mod, 0, sizeof (mod));
	mod.dm_set = DLTUN_ATTR_MTU | DLTUN_ATTR_OWNER;
	mod.dm_mtu = 9000;
	mod.dm_owner = DLTUN_NOID;
	report("modify tap0 mtu 9000, no owner", dltun_modify(h, "tap0", &mod,
	    0));
	show("tap0", 0);
	mod.dm_set = DLTUN_ATTR_MTU;
	mod.dm_mtu = 1280;
	report("modify tap0 -t mtu 1280", dltun_modify(h, "tap0", &mod,
	    DLTUN_OPT_TEMPORARY));
	show("tap0", 0);
	show("tap0", DLTUN_OPT_PERSIST);
	mod.dm_set = DLTUN_ATTR_MACADDR;
	mod.dm_macaddr = "2:8:20:0:0:3";
	report("modify tun1 mac", dltun_modify(h, "tun1", &mod, 0));
	report("modify tap0 unknown flag", dltun_modify(h, "tap0", &mod, 0x80));

	report("delete tap0 force", dltun_delete(h, "tap0",
	    DLTUN_OPT_FORCE));
	report("delete tun1", dltun_delete(h, "tun1", 0));
	walk("after delete", 0, 0);

	/* Persistent links come back with up after a reboot. */
	(void) memset(&attr, 0, sizeof (attr));
	attr.da_name = "vpn0";
	attr.da_mode = DLTUN_MODE_TUN;
	attr.da_set = DLTUN_ATTR_MTU;
	attr.da_mtu = 1420;
	report("create vpn0", dltun_create(h, &attr, NULL));
	report("reboot", dltun_sim_reboot(h));
	show("vpn0", 0);
	report("up", dltun_up(h, NULL, up_cb, NULL));
	show("vpn0", 0);
	report("up vpn0", dltun_up(h, "vpn0", up_cb, NULL));
	report("delete vpn0", dltun_delete(h, "vpn0", 0));

	/* Nothing unwinds into C. */
	report("panic", dltun_sim_panic(h));

	for (code = 0; code <= 15; code++)
		(void) printf("strerror %d: %s\n", code,
		    dltun_strerror((dltun_status_t)code));
	for (code = 100; code <= 103; code++)
		(void) printf("strerror %d: %s\n", code,
		    dltun_strerror((dltun_status_t)code));

	/* The handle is gone after close: no errmsg. */
	(void) printf("close: %d\n", (int)dltun_close(h));
	return (0);
}
