/* SPDX-License-Identifier: MPL-2.0 */

/*
 * net/if_tun.h: the old tun/tap ioctl API, for programs written against the
 * Solaris "Universal TUN/TAP" driver (OpenVPN, openconnect, vpnc, tunctl).
 *
 * A program opens /dev/tun (layer 3) or /dev/tap (Ethernet) and sends these
 * commands as STREAMS ioctls (I_STR with a 4-byte int argument, or as a
 * transparent ioctl whose argument is the int value itself):
 *
 *   TUNNEWPPA(int ppa)  make unit ppa (-1: the lowest free one) and make
 *                       this stream its control stream; the ioctl returns
 *                       the unit number.  The unit is a datalink named
 *                       tunN or tapN that disappears when the control
 *                       stream closes.
 *   TUNSETPPA(int ppa)  attach this stream to the existing unit ppa.
 *   TUNGETPPA           return the unit this stream is on (ENODEV: none).
 *
 * The values are the ones the old driver used, so binaries built against
 * the old header keep working.  The newer interface (persistent links,
 * several queues, owners) is in <libdltun.h>; see tun(4D).
 */

#ifndef _NET_IF_TUN_H
#define	_NET_IF_TUN_H

#ifdef	__cplusplus
extern "C" {
#endif

/* 'T' << 16 | n, as in the old driver's header. */
#define	TUNNEWPPA	(('T' << 16) | 0x0001)
#define	TUNSETPPA	(('T' << 16) | 0x0002)
#define	TUNGETPPA	(('T' << 16) | 0x0003)

/* The highest unit number the old API accepts (the new driver's limit). */
#define	TUN_OLD_API_MAX_PPA	65535

#ifdef	__cplusplus
}
#endif

#endif	/* _NET_IF_TUN_H */
