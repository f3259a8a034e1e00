/* SPDX-License-Identifier: MPL-2.0 */
/*
 * A stand-in for the parts of dladm.c and libdlbridge.c that the bridge
 * patch (patches/illumos-gate/0002-dladm-bridge-misc-links.patch)
 * changes.  tests/bridge_patch.rs extracts the patched code from the
 * patch into add_bridge_check.c, show_bridge_walk.c and
 * delete_bridge_walk.c; this file compiles them with the names they use
 * (values from sys/dls_mgmt.h, sys/dlpi.h) and runs them on links of
 * every class and media the checks care about.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef unsigned int uint_t;
typedef uint32_t datalink_id_t;
typedef uint32_t datalink_class_t;
typedef int dladm_status_t;
typedef void *dladm_handle_t;

#define	DLADM_STATUS_OK		0
#define	DLADM_STATUS_NOTFOUND	1
#define	DLADM_STATUS_LINKBUSY	2
#define	DLADM_STRSIZE		256
#define	DLADM_OPT_PERSIST	0x2
#define	DATALINK_ANY_MEDIATYPE	((uint32_t)0x100000000ULL - 1)

#define	DATALINK_CLASS_PHYS		0x01
#define	DATALINK_CLASS_VLAN		0x02
#define	DATALINK_CLASS_AGGR		0x04
#define	DATALINK_CLASS_VNIC		0x08
#define	DATALINK_CLASS_ETHERSTUB	0x10
#define	DATALINK_CLASS_SIMNET		0x20
#define	DATALINK_CLASS_BRIDGE		0x40
#define	DATALINK_CLASS_IPTUN		0x80
#define	DATALINK_CLASS_PART		0x100
#define	DATALINK_CLASS_OVERLAY		0x200
#define	DATALINK_CLASS_MISC		0x400

#define	DL_ETHER	0x4
#define	DL_100VG	0x16
#define	DL_ETH_CSMA	0x18
#define	DL_100BT	0x19
#define	DL_IPV4		0x80000001

/* The links dlmgmtd knows in this stand-in. */
static const struct {
	const char *name;
	datalink_class_t class;
	uint32_t media;
} links_known[] = {
	{ "e1000g0", DATALINK_CLASS_PHYS, DL_ETHER },
	{ "stub0", DATALINK_CLASS_ETHERSTUB, DL_ETHER },
	{ "tap0", DATALINK_CLASS_MISC, DL_ETHER },
	{ "misc4", DATALINK_CLASS_MISC, DL_IPV4 },
	{ "vnic0", DATALINK_CLASS_VNIC, DL_ETHER },
	{ "ip.tun0", DATALINK_CLASS_IPTUN, DL_IPV4 },
};
#define	NKNOWN	(sizeof (links_known) / sizeof (links_known[0]))

static dladm_handle_t handle;
static jmp_buf died;

static void
die(const char *fmt, ...)
{
	va_list ap;

	(void) printf("dladm: ");
	va_start(ap, fmt);
	(void) vprintf(fmt, ap);
	va_end(ap);
	(void) printf("\n");
	longjmp(died, 1);
}

static dladm_status_t
dladm_name2info(dladm_handle_t h, const char *name, datalink_id_t *idp,
    uint32_t *flagsp, datalink_class_t *classp, uint32_t *mediap)
{
	uint_t i;

	(void) h;
	(void) flagsp;
	for (i = 0; i < NKNOWN; i++) {
		if (strcmp(links_known[i].name, name) == 0) {
			*idp = i + 1;
			*classp = links_known[i].class;
			*mediap = links_known[i].media;
			return (DLADM_STATUS_OK);
		}
	}
	return (DLADM_STATUS_NOTFOUND);
}

static const char *
dladm_class2str(datalink_class_t class, char *buf)
{
	const char *s = class == DATALINK_CLASS_MISC ? "misc" :
	    class == DATALINK_CLASS_VNIC ? "vnic" :
	    class == DATALINK_CLASS_IPTUN ? "iptun" : "other";

	(void) strcpy(buf, s);
	return (buf);
}

static const char *
dladm_media2str(uint32_t media, char *buf)
{
	(void) strcpy(buf, media == DL_IPV4 ? "IPv4" : "unknown");
	return (buf);
}

/* The class mask of the last walk, and who walked. */
static uint32_t walked_mask;

static int
dladm_walk_datalink_id(int (*fn)(dladm_handle_t, datalink_id_t, void *),
    dladm_handle_t h, void *arg, datalink_class_t class, uint32_t media,
    uint32_t flags)
{
	(void) fn;
	(void) h;
	(void) arg;
	(void) media;
	(void) flags;
	walked_mask = class;
	return (0);
}

static int
show_bridge_link_walk(dladm_handle_t h, datalink_id_t id, void *arg)
{
	(void) h;
	(void) id;
	(void) arg;
	return (0);
}

static int
i_dladm_bridge_is_held(dladm_handle_t h, datalink_id_t id, void *arg)
{
	(void) h;
	(void) id;
	(void) arg;
	return (0);
}

/* create_modify_add_bridge's check of the -l links, as patched. */
static void
check_links(uint_t nlink, char **links)
{
	uint_t n;
	datalink_id_t linkids[8];

#include "add_bridge_check.c"
	(void) printf("accepted");
	for (n = 0; n < nlink; n++)
		(void) printf(" %s (id %u)", links[n], linkids[n]);
	(void) printf("\n");
}

static void
show_walk(void)
{
	uint32_t flags = 0;
	struct { int unused; } brstate;

	(void) brstate;
#include "show_bridge_walk.c"
}

static dladm_status_t
delete_walk(void)
{
	struct { const char *bha_bridge; int bha_isheld; } arg = { "br0", 0 };

#include "delete_bridge_walk.c"
	return (DLADM_STATUS_OK);
}

int
main(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (setjmp(died) == 0)
			check_links(1, &argv[i]);
	}
	show_walk();
	(void) printf("show-bridge -l walks misc links: %s\n",
	    (walked_mask & DATALINK_CLASS_MISC) ? "yes" : "no");
	(void) delete_walk();
	(void) printf("delete-bridge walks misc links: %s\n",
	    (walked_mask & DATALINK_CLASS_MISC) ? "yes" : "no");
	return (0);
}
