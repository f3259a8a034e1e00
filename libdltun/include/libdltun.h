/* SPDX-License-Identifier: MPL-2.0 */
/*
 * libdltun: manage the tun and tap datalinks of the tuntap driver.
 *
 * Link with -ldltun (shared object libdltun.so.1).  The library registers
 * each link with dlmgmtd, so a tun/tap link is an ordinary datalink to
 * dladm(8) and ipadm(8), keeps the persistent configuration of persistent
 * links, and brings them back with dltun_up() at boot.
 *
 * Conventions
 *   - Every function that can fail returns a dltun_status_t.  DLTUN_STATUS_OK
 *     is success; dltun_strerror() describes any value and dltun_errmsg()
 *     gives the detailed message of the last failed call on a handle (it
 *     names the link and the reason).
 *   - No function aborts the process or unwinds into the caller, whatever
 *     its arguments: a null pointer, an unknown flag or mode, a name that
 *     is not NUL-terminated within DLTUN_NAMELEN bytes or is not UTF-8 all
 *     give DLTUN_STATUS_BADARG.  A name that is readable but breaks the
 *     datalink-name rules gives DLTUN_STATUS_BADNAME.
 *   - A failed create leaves nothing behind: no datalink id, no
 *     configuration entry, no kernel link.
 *   - A handle may be used by one thread at a time.  Callbacks may call
 *     other functions on the same handle, but must not close it.
 *
 * Packets do not go through the library: a daemon reads and writes them
 * on a queue of /dev/tun or /dev/tap (tun(4D)).  The structures and
 * formats of the queue options for many packets per system call and
 * checksum/segmentation offload are at the end of this header.
 *
 * The header is C89 and C99 clean and may be included from C++.
 */

#ifndef _LIBDLTUN_H
#define	_LIBDLTUN_H

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L
#include <stdint.h>
#elif defined(__sun)
#include <sys/int_types.h>
#else
#include <stdint.h>
#endif

#ifdef	__cplusplus
extern "C" {
#endif

/* MAXLINKNAMELEN: a link name and its NUL. */
#define	DLTUN_NAMELEN		32
/* ZONENAME_MAX: a zone name and its NUL. */
#define	DLTUN_ZONENAMELEN	64
/* "xx:xx:xx:xx:xx:xx" and its NUL. */
#define	DLTUN_MACSTRLEN		18
/* How many of the pids that hold a link's queues dltun_info() reports. */
#define	DLTUN_MAXPIDS		8
/* No owner / no group (owner, group fields). */
#define	DLTUN_NOID		((uint32_t)0xffffffffU)

/*
 * Status codes.  Values 0 to 15 are those of the Rust library's Status;
 * values from 100 belong to this C interface.  Values never change
 * meaning.
 */
typedef enum {
	DLTUN_STATUS_OK = 0,		/* success */
	DLTUN_STATUS_BADNAME = 1,	/* the name breaks the link-name rules */
	DLTUN_STATUS_EXISTS = 2,	/* a link of that name exists */
	DLTUN_STATUS_NOTFOUND = 3,	/* no such link (in this zone) */
	DLTUN_STATUS_NOTTUNTAP = 4,	/* the link is not a tun/tap link */
	DLTUN_STATUS_BADMTU = 5,	/* MTU outside 576..65535 */
	DLTUN_STATUS_BADMAC = 6,	/* malformed or non-unicast MAC */
	DLTUN_STATUS_MACONTUN = 7,	/* a MAC address given for a tun link */
	DLTUN_STATUS_DENIED = 8,	/* needs the sys_dl_config privilege */
	DLTUN_STATUS_OTHERZONE = 9,	/* the link belongs to another zone */
	DLTUN_STATUS_TEMPONLY = 10,	/* only temporary in a non-global zone */
	DLTUN_STATUS_BUSY = 11,		/* queues attached or IP plumbed */
	DLTUN_STATUS_NOTACTIVE = 12,	/* the link is only configured */
	DLTUN_STATUS_KERNEL = 13,	/* the tuntap driver refused */
	DLTUN_STATUS_DLADM = 14,	/* dlmgmtd refused */
	DLTUN_STATUS_IP = 15,		/* an IP interface operation failed */
	DLTUN_STATUS_BADARG = 100,	/* null pointer, unknown flag, bad string */
	DLTUN_STATUS_INTERNAL = 101,	/* a bug in the library; see errmsg */
	DLTUN_STATUS_UNAVAIL = 102	/* driver or dlmgmtd not available */
} dltun_status_t;

/* Link modes (da_mode, di_mode). */
typedef enum {
	DLTUN_MODE_TUN = 1,		/* layer 3: IP packets */
	DLTUN_MODE_TAP = 2		/* layer 2: Ethernet frames */
} dltun_mode_t;

/* Option flags (the flags arguments and da_flags). */
#define	DLTUN_OPT_TEMPORARY	0x01	/* create, delete, modify: running */
					/* system only, not the configuration */
#define	DLTUN_OPT_FORCE		0x02	/* delete: detach attached queues */
#define	DLTUN_OPT_PERSIST	0x04	/* info, walk: the persistent */
					/* configuration, not the running link */

/* Which optional attributes are given (da_set, dm_set). */
#define	DLTUN_ATTR_MTU		0x01
#define	DLTUN_ATTR_MACADDR	0x02	/* tap links only */
#define	DLTUN_ATTR_OWNER	0x04
#define	DLTUN_ATTR_GROUP	0x08

/*
 * What to create.  Zero-fill it, then set the name, the mode and the
 * attributes you give (with their DLTUN_ATTR_* bits in da_set).
 */
typedef struct dltun_attr {
	const char	*da_name;	/* link name, e.g. "vpn0" */
	uint32_t	da_mode;	/* dltun_mode_t */
	uint32_t	da_flags;	/* 0 or DLTUN_OPT_TEMPORARY */
	uint32_t	da_set;		/* DLTUN_ATTR_* bits */
	uint32_t	da_mtu;		/* default 1500 */
	uint32_t	da_owner;	/* uid that may attach without */
					/* privilege; DLTUN_NOID: none */
	uint32_t	da_group;	/* gid likewise */
	const char	*da_macaddr;	/* "2:8:20:a:b:c"; default: random */
} dltun_attr_t;

/*
 * What to change: the attributes whose DLTUN_ATTR_* bits are in dm_set.
 * DLTUN_NOID as dm_owner or dm_group removes the owner or group.
 */
typedef struct dltun_modify {
	uint32_t	dm_set;		/* DLTUN_ATTR_* bits */
	uint32_t	dm_mtu;
	uint32_t	dm_owner;
	uint32_t	dm_group;
	const char	*dm_macaddr;
} dltun_modify_t;

/* di_state */
#define	DLTUN_STATE_DOWN	1	/* running; no queue attached or */
					/* no carrier */
#define	DLTUN_STATE_UP		2	/* running; a queue serves it */
#define	DLTUN_STATE_CONFIGURED	3	/* persistent, not running */

/* di_flags */
#define	DLTUN_INFO_ACTIVE	0x01	/* exists in the running system */
#define	DLTUN_INFO_PERSISTENT	0x02	/* has a persistent configuration */
#define	DLTUN_INFO_CARRIER	0x04	/* carrier is on */
#define	DLTUN_INFO_EXCLUSIVE	0x08	/* attached exclusively */
#define	DLTUN_INFO_KEEP		0x10	/* the driver keeps it after its */
					/* last queue closes */

/* di_origin: who made the running link. */
#define	DLTUN_ORIGIN_NONE	0	/* not running */
#define	DLTUN_ORIGIN_ADMIN	1	/* dladm, tunctl, dltun_up() */
#define	DLTUN_ORIGIN_OLDAPI	2	/* TUNNEWPPA on /dev/tun, /dev/tap */
#define	DLTUN_ORIGIN_ATTACH	3	/* a daemon's attach-with-create */

/*
 * Eight of the driver's counters for a link (its mc_getstat values), as
 * dladm show-link -s shows them.  The set is fixed: the struct is part of
 * dltun_info_t, whose size a binary compiled against this header relies
 * on, so it cannot grow when the driver counts more.  dltun_get_counters()
 * gives every counter the driver keeps, by name.
 */
typedef struct dltun_counters {
	uint64_t	dc_ipackets;
	uint64_t	dc_rbytes;
	uint64_t	dc_opackets;
	uint64_t	dc_obytes;
	uint64_t	dc_ierrors;
	uint64_t	dc_oerrors;
	uint64_t	dc_norcvbuf;
	uint64_t	dc_noxmtbuf;
} dltun_counters_t;

/*
 * One link.  For a link that is not running (DLTUN_INFO_ACTIVE clear), and
 * always with DLTUN_OPT_PERSIST, the values come from the persistent
 * configuration: a value that is not configured reads as 0 (MTU), an
 * all-zero MAC and empty di_macaddr, or DLTUN_NOID (owner, group), and
 * the queue, pid, time and counter fields are zero.
 */
typedef struct dltun_info {
	char		di_name[DLTUN_NAMELEN];
	uint32_t	di_linkid;	/* datalink id */
	uint32_t	di_mode;	/* dltun_mode_t */
	uint32_t	di_state;	/* DLTUN_STATE_* */
	uint32_t	di_flags;	/* DLTUN_INFO_* */
	uint32_t	di_origin;	/* DLTUN_ORIGIN_* */
	uint32_t	di_mtu;
	uint32_t	di_owner;	/* DLTUN_NOID: none */
	uint32_t	di_group;	/* DLTUN_NOID: none */
	int32_t		di_zoneid;
	char		di_zonename[DLTUN_ZONENAMELEN];
	uint8_t		di_mac[6];
	char		di_macaddr[DLTUN_MACSTRLEN];	/* as dladm shows it */
	uint32_t	di_nqueues;	/* attached queues */
	uint32_t	di_npids;	/* valid entries of di_pids */
	int32_t		di_pids[DLTUN_MAXPIDS];	/* pids holding queues */
	int32_t		di_creator_pid;	/* process that made the link */
	uint64_t	di_created_ns;	/* creation, ns since the epoch */
	dltun_counters_t di_counters;
} dltun_info_t;

/* One counter by name (dltun_get_counters()). */
typedef struct dltun_counter {
	const char	*dn_name;	/* as tun(4D) and tunctl show -s name */
					/* it; static, owned by the library */
	uint64_t	dn_value;
} dltun_counter_t;

/* Walk callback results. */
#define	DLTUN_WALK_CONTINUE	0
#define	DLTUN_WALK_TERMINATE	1

/* Called once per link; return DLTUN_WALK_TERMINATE to stop the walk. */
typedef int dltun_walk_cb_t(const dltun_info_t *info, void *arg);

/* What dltun_up() did with one link. */
typedef enum {
	DLTUN_UP_CREATED = 1,		/* it was made */
	DLTUN_UP_ALREADY = 2,		/* it was running; left alone */
	DLTUN_UP_FAILED = 3		/* see status and errmsg */
} dltun_up_result_t;

typedef void dltun_up_cb_t(const char *link, dltun_up_result_t result,
    dltun_status_t status, const char *errmsg, void *arg);

/* An open library handle: on illumos, libdladm and the driver. */
typedef struct dltun_handle dltun_handle_t;

/*
 * Open a handle into *handlep (set to NULL on failure).
 * DLTUN_STATUS_UNAVAIL when the tuntap driver or dlmgmtd cannot be
 * reached; dltun_errmsg(NULL) then says why.
 */
extern dltun_status_t dltun_open(dltun_handle_t **handlep);

/* Close a handle (NULL is ignored). */
extern dltun_status_t dltun_close(dltun_handle_t *handle);

/*
 * Create a link.  Persistent unless DLTUN_OPT_TEMPORARY is in da_flags.
 * If linkidp is not NULL, the new link's datalink id is stored there.
 */
extern dltun_status_t dltun_create(dltun_handle_t *handle,
    const dltun_attr_t *attr, uint32_t *linkidp);

/*
 * Delete a link and its persistent configuration.  Flags:
 * DLTUN_OPT_TEMPORARY deletes only the running link (it comes back with
 * dltun_up()); DLTUN_OPT_FORCE detaches attached queues instead of failing
 * with DLTUN_STATUS_BUSY.
 */
extern dltun_status_t dltun_delete(dltun_handle_t *handle, const char *link,
    uint32_t flags);

/* Describe one link.  Flags: 0 or DLTUN_OPT_PERSIST. */
extern dltun_status_t dltun_info(dltun_handle_t *handle, const char *link,
    uint32_t flags, dltun_info_t *infop);

/*
 * Call cb for every tun/tap link visible in the caller's zone, in name
 * order: running or configured, or with DLTUN_OPT_PERSIST only those with
 * a persistent configuration.  The info passed to cb is valid during the
 * call only.  Stopping early is not an error.
 */
extern dltun_status_t dltun_walk(dltun_handle_t *handle, uint32_t flags,
    dltun_walk_cb_t *cb, void *arg);

/*
 * Change a link's MTU, MAC address, owner or group: the running link and,
 * unless DLTUN_OPT_TEMPORARY is in flags, its persistent configuration.
 */
extern dltun_status_t dltun_modify(dltun_handle_t *handle, const char *link,
    const dltun_modify_t *mod, uint32_t flags);

/*
 * Bring up configured links that are not running: link, or every one when
 * link is NULL.  Running links are left alone, so calling it again changes
 * nothing.  cb (may be NULL) is told the outcome for each link.  Returns
 * DLTUN_STATUS_OK when no link failed, otherwise the status of the first
 * failure.
 */
extern dltun_status_t dltun_up(dltun_handle_t *handle, const char *link,
    dltun_up_cb_t *cb, void *arg);

/*
 * Every counter the driver keeps for the running link, in the driver's
 * order (the columns of tunctl show -s).  On entry *countp is how many
 * entries counters has room for (0, with counters NULL, asks how many
 * there are); on return it is how many counters there are, and the first
 * of them, as many as fit, are in counters.  DLTUN_STATUS_NOTACTIVE for a
 * link that is only configured.  Since version LIBDLTUN_1.1.
 */
extern dltun_status_t dltun_get_counters(dltun_handle_t *handle,
    const char *link, dltun_counter_t *counters, uint32_t *countp);

/* A short description of a status (never NULL, for any value). */
extern const char *dltun_strerror(dltun_status_t status);

/*
 * The detailed message of the last call on handle ("" after a success);
 * valid until the next call on handle.  With a NULL handle: why the last
 * dltun_open() on this thread failed.  Never NULL.
 */
extern const char *dltun_errmsg(const dltun_handle_t *handle);

/*
 * Queues: many packets per system call, checksum and segmentation offload
 *
 * libdltun manages links; it does not carry packets.  A daemon opens
 * /dev/tun or /dev/tap and attaches the stream to a link as a queue
 * (TUN_IOC_ATTACH, see tun(4D)); each read then returns one packet and
 * each write carries one.  Two options per queue change that.  Each is an
 * I_STR ioctl on the queue whose argument is the structure below:
 * zero-fill it, set the version (DLTUN_QUEUE_VERSION) and the flags; the
 * driver answers with the settings in force (the out fields must be 0 on
 * input).  A flag combination the driver does not take is EINVAL.
 *
 * DLTUN_IOC_BATCH, dltun_ioc_batch_t.  DLTUN_BATCH_READ: a read returns as
 * many waiting packets as fit in qb_read_max bytes (0: the default; read
 * with a buffer at least that large).  DLTUN_BATCH_WRITE: a write (at most
 * DLTUN_BATCH_WRITE_MAX bytes) carries several packets.  Each packet
 * travels as a record: a dltun_record_t (dr_len, the packet's length;
 * dr_flags and dr_reserved 0) followed by the packet; the next record
 * starts at DLTUN_RECORD_NEXT(offset, dr_len) and the padding is zero.
 * A write with a framing fault (a header or record cut short, an empty or
 * oversize record, non-zero reserved bits or padding) is refused whole:
 * nothing of it reaches the link, and qb_refused, qb_last_error
 * (DLTUN_BATCH_ERR_*) and qb_last_record say so.
 *
 * DLTUN_IOC_OFFLOAD, dltun_ioc_offload_t.  DLTUN_OFFLOAD_VNET_HDR: every
 * packet read or written (inside its record, when batching) starts with a
 * dltun_vnet_hdr_t, the layout of Linux's struct virtio_net_hdr (16-bit
 * fields little-endian), so code written for Linux's IFF_VNET_HDR works.
 * DLTUN_OFFLOAD_CSUM, _TSO4 and _TSO6: the reader takes partial checksums
 * and 64 KiB TCP segments; the link offers them to IP only while every
 * queue attached to it takes them (qo_link_hcksum, qo_link_lso say what
 * it offers now).  Written headers may ask for a checksum
 * (DLTUN_VNET_F_NEEDS_CSUM), vouch for one (DLTUN_VNET_F_DATA_VALID) or
 * ask the driver to cut a large TCP segment (DLTUN_VNET_GSO_TCPV4/6);
 * a header that does not describe its packet drops the packet and is
 * counted in qo_refused.
 */

/* The version of the queue option structures. */
#define	DLTUN_QUEUE_VERSION	1

/* ('t' << 24) | ('u' << 16) | n */
#define	DLTUN_IOC_BATCH		0x7475000d
#define	DLTUN_IOC_OFFLOAD	0x7475000e

/* qb_flags */
#define	DLTUN_BATCH_READ	0x1
#define	DLTUN_BATCH_WRITE	0x2
/* qb_read_max bounds and default; the largest batched write. */
#define	DLTUN_BATCH_READ_MIN	73728
#define	DLTUN_BATCH_READ_MAX	1048576
#define	DLTUN_BATCH_READ_DEFAULT 131072
#define	DLTUN_BATCH_WRITE_MAX	262144

/* qb_last_error: why the last batched write was refused. */
#define	DLTUN_BATCH_ERR_TRUNCHDR	1	/* header cut short */
#define	DLTUN_BATCH_ERR_TRUNCREC	2	/* record cut short */
#define	DLTUN_BATCH_ERR_EMPTY		3	/* record of length 0 */
#define	DLTUN_BATCH_ERR_OVERSIZE	4	/* longer than a packet may be */
#define	DLTUN_BATCH_ERR_RESERVED	5	/* reserved bits or padding set */
#define	DLTUN_BATCH_ERR_NORECORD	6	/* no record at all */

typedef struct dltun_ioc_batch {
	uint32_t	qb_version;	/* DLTUN_QUEUE_VERSION */
	uint32_t	qb_flags;	/* DLTUN_BATCH_* */
	uint32_t	qb_read_max;	/* 0: DLTUN_BATCH_READ_DEFAULT */
	uint32_t	qb_refused;	/* out: writes refused whole */
	uint32_t	qb_last_error;	/* out: DLTUN_BATCH_ERR_*, 0: none */
	uint32_t	qb_last_record;	/* out: the record at fault in it */
} dltun_ioc_batch_t;

/* The header of each record (native byte order). */
typedef struct dltun_record {
	uint32_t	dr_len;		/* bytes of packet that follow */
	uint16_t	dr_flags;	/* 0 */
	uint16_t	dr_reserved;	/* 0 */
} dltun_record_t;

/* Records start at multiples of DLTUN_RECORD_ALIGN bytes. */
#define	DLTUN_RECORD_ALIGN	4
/* Where the record after the one at off, of len bytes of packet, starts. */
#define	DLTUN_RECORD_NEXT(off, len)	\
	((off) + sizeof (dltun_record_t) + (((len) + 3) & ~(size_t)3))

/* qo_flags */
#define	DLTUN_OFFLOAD_VNET_HDR	0x1	/* a dltun_vnet_hdr_t per packet */
#define	DLTUN_OFFLOAD_CSUM	0x2	/* partial checksums (needs VNET_HDR) */
#define	DLTUN_OFFLOAD_TSO4	0x4	/* TCP/IPv4 segments (needs CSUM) */
#define	DLTUN_OFFLOAD_TSO6	0x8	/* TCP/IPv6 segments (needs CSUM) */

typedef struct dltun_ioc_offload {
	uint32_t	qo_version;	/* DLTUN_QUEUE_VERSION */
	uint32_t	qo_flags;	/* DLTUN_OFFLOAD_* */
	uint32_t	qo_link_hcksum;	/* out: 1 while checksums are offered */
	uint32_t	qo_link_lso;	/* out: 0x1 TCP/IPv4, 0x2 TCP/IPv6 LSO */
	uint32_t	qo_refused;	/* out: written headers refused */
	uint32_t	qo_reserved;	/* 0 */
} dltun_ioc_offload_t;

/* Linux's struct virtio_net_hdr; 16-bit fields little-endian. */
typedef struct dltun_vnet_hdr {
	uint8_t		vh_flags;	/* DLTUN_VNET_F_* */
	uint8_t		vh_gso_type;	/* DLTUN_VNET_GSO_* */
	uint16_t	vh_hdr_len;	/* headers before the payload (GSO) */
	uint16_t	vh_gso_size;	/* payload bytes per segment (GSO) */
	uint16_t	vh_csum_start;	/* checksum from here to the end */
	uint16_t	vh_csum_offset;	/* the field, from vh_csum_start */
} dltun_vnet_hdr_t;

#define	DLTUN_VNET_F_NEEDS_CSUM	1
#define	DLTUN_VNET_F_DATA_VALID	2
#define	DLTUN_VNET_GSO_NONE	0
#define	DLTUN_VNET_GSO_TCPV4	1
#define	DLTUN_VNET_GSO_TCPV6	4
#define	DLTUN_VNET_GSO_ECN	0x80

#ifdef	__cplusplus
}
#endif

#endif	/* _LIBDLTUN_H */
