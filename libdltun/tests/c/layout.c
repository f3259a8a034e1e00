/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Print what the C compiler makes of libdltun.h: every struct's size and
 * field offsets and every constant, one "name value" line each.  The Rust
 * test compares the lines with the Rust definitions.
 */

#include <stddef.h>
#include <stdio.h>
#include <libdltun.h>

#define	SIZE(t)		(void) printf("sizeof %s %lu\n", #t, \
	(unsigned long)sizeof (t))
#define	OFF(t, f)	(void) printf("offsetof %s.%s %lu\n", #t, #f, \
	(unsigned long)offsetof(t, f))
#define	VAL(c)		(void) printf("value %s %ld\n", #c, (long)(c))

int
main(void)
{
	SIZE(dltun_status_t);
	SIZE(dltun_mode_t);
	SIZE(dltun_up_result_t);

	SIZE(dltun_attr_t);
	OFF(dltun_attr_t, da_name);
	OFF(dltun_attr_t, da_mode);
	OFF(dltun_attr_t, da_flags);
	OFF(dltun_attr_t, da_set);
	OFF(dltun_attr_t, da_mtu);
	OFF(dltun_attr_t, da_owner);
	OFF(dltun_attr_t, da_group);
	OFF(dltun_attr_t, da_macaddr);

	SIZE(dltun_modify_t);
	OFF(dltun_modify_t, dm_set);
	OFF(dltun_modify_t, dm_mtu);
	OFF(dltun_modify_t, dm_owner);
	OFF(dltun_modify_t, dm_group);
	OFF(dltun_modify_t, dm_macaddr);

	SIZE(dltun_counters_t);
	OFF(dltun_counters_t, dc_ipackets);
	OFF(dltun_counters_t, dc_rbytes);
	OFF(dltun_counters_t, dc_opackets);
	OFF(dltun_counters_t, dc_obytes);
	OFF(dltun_counters_t, dc_ierrors);
	OFF(dltun_counters_t, dc_oerrors);
	OFF(dltun_counters_t, dc_norcvbuf);
	OFF(dltun_counters_t, dc_noxmtbuf);

	SIZE(dltun_counter_t);
	OFF(dltun_counter_t, dn_name);
	OFF(dltun_counter_t, dn_value);

	SIZE(dltun_info_t);
	OFF(dltun_info_t, di_name);
	OFF(dltun_info_t, di_linkid);
	OFF(dltun_info_t, di_mode);
	OFF(dltun_info_t, di_state);
	OFF(dltun_info_t, di_flags);
	OFF(dltun_info_t, di_origin);
	OFF(dltun_info_t, di_mtu);
	OFF(dltun_info_t, di_owner);
	OFF(dltun_info_t, di_group);
	OFF(dltun_info_t, di_zoneid);
	OFF(dltun_info_t, di_zonename);
	OFF(dltun_info_t, di_mac);
	OFF(dltun_info_t, di_macaddr);
	OFF(dltun_info_t, di_nqueues);
	OFF(dltun_info_t, di_npids);
	OFF(dltun_info_t, di_pids);
	OFF(dltun_info_t, di_creator_pid);
	OFF(dltun_info_t, di_created_ns);
	OFF(dltun_info_t, di_counters);

	SIZE(dltun_ioc_batch_t);
	OFF(dltun_ioc_batch_t, qb_version);
	OFF(dltun_ioc_batch_t, qb_flags);
	OFF(dltun_ioc_batch_t, qb_read_max);
	OFF(dltun_ioc_batch_t, qb_refused);
	OFF(dltun_ioc_batch_t, qb_last_error);
	OFF(dltun_ioc_batch_t, qb_last_record);

	SIZE(dltun_record_t);
	OFF(dltun_record_t, dr_len);
	OFF(dltun_record_t, dr_flags);
	OFF(dltun_record_t, dr_reserved);

	SIZE(dltun_ioc_offload_t);
	OFF(dltun_ioc_offload_t, qo_version);
	OFF(dltun_ioc_offload_t, qo_flags);
	OFF(dltun_ioc_offload_t, qo_link_hcksum);
	OFF(dltun_ioc_offload_t, qo_link_lso);
	OFF(dltun_ioc_offload_t, qo_refused);
	OFF(dltun_ioc_offload_t, qo_reserved);

	SIZE(dltun_vnet_hdr_t);
	OFF(dltun_vnet_hdr_t, vh_flags);
	OFF(dltun_vnet_hdr_t, vh_gso_type);
	OFF(dltun_vnet_hdr_t, vh_hdr_len);
	OFF(dltun_vnet_hdr_t, vh_gso_size);
	OFF(dltun_vnet_hdr_t, vh_csum_start);
	OFF(dltun_vnet_hdr_t, vh_csum_offset);

	VAL(DLTUN_STATUS_OK);
	VAL(DLTUN_STATUS_BADNAME);
	VAL(DLTUN_STATUS_EXISTS);
	VAL(DLTUN_STATUS_NOTFOUND);
	VAL(DLTUN_STATUS_NOTTUNTAP);
	VAL(DLTUN_STATUS_BADMTU);
	VAL(DLTUN_STATUS_BADMAC);
	VAL(DLTUN_STATUS_MACONTUN);
	VAL(DLTUN_STATUS_DENIED);
	VAL(DLTUN_STATUS_OTHERZONE);
	VAL(DLTUN_STATUS_TEMPONLY);
	VAL(DLTUN_STATUS_BUSY);
	VAL(DLTUN_STATUS_NOTACTIVE);
	VAL(DLTUN_STATUS_KERNEL);
	VAL(DLTUN_STATUS_DLADM);
	VAL(DLTUN_STATUS_IP);
	VAL(DLTUN_STATUS_BADARG);
	VAL(DLTUN_STATUS_INTERNAL);
	VAL(DLTUN_STATUS_UNAVAIL);

	VAL(DLTUN_NAMELEN);
	VAL(DLTUN_ZONENAMELEN);
	VAL(DLTUN_MACSTRLEN);
	VAL(DLTUN_MAXPIDS);
	VAL(DLTUN_NOID);
	VAL(DLTUN_MODE_TUN);
	VAL(DLTUN_MODE_TAP);
	VAL(DLTUN_OPT_TEMPORARY);
	VAL(DLTUN_OPT_FORCE);
	VAL(DLTUN_OPT_PERSIST);
	VAL(DLTUN_ATTR_MTU);
	VAL(DLTUN_ATTR_MACADDR);
	VAL(DLTUN_ATTR_OWNER);
	VAL(DLTUN_ATTR_GROUP);
	VAL(DLTUN_STATE_DOWN);
	VAL(DLTUN_STATE_UP);
	VAL(DLTUN_STATE_CONFIGURED);
	VAL(DLTUN_INFO_ACTIVE);
	VAL(DLTUN_INFO_PERSISTENT);
	VAL(DLTUN_INFO_CARRIER);
	VAL(DLTUN_INFO_EXCLUSIVE);
	VAL(DLTUN_INFO_KEEP);
	VAL(DLTUN_ORIGIN_NONE);
	VAL(DLTUN_ORIGIN_ADMIN);
	VAL(DLTUN_ORIGIN_OLDAPI);
	VAL(DLTUN_ORIGIN_ATTACH);
	VAL(DLTUN_WALK_CONTINUE);
	VAL(DLTUN_WALK_TERMINATE);
	VAL(DLTUN_UP_CREATED);
	VAL(DLTUN_UP_ALREADY);
	VAL(DLTUN_UP_FAILED);
	VAL(DLTUN_QUEUE_VERSION);
	VAL(DLTUN_IOC_BATCH);
	VAL(DLTUN_IOC_OFFLOAD);
	VAL(DLTUN_BATCH_READ);
	VAL(DLTUN_BATCH_WRITE);
	VAL(DLTUN_BATCH_READ_MIN);
	VAL(DLTUN_BATCH_READ_MAX);
	VAL(DLTUN_BATCH_READ_DEFAULT);
	VAL(DLTUN_BATCH_WRITE_MAX);
	VAL(DLTUN_BATCH_ERR_TRUNCHDR);
	VAL(DLTUN_BATCH_ERR_TRUNCREC);
	VAL(DLTUN_BATCH_ERR_EMPTY);
	VAL(DLTUN_BATCH_ERR_OVERSIZE);
	VAL(DLTUN_BATCH_ERR_RESERVED);
	VAL(DLTUN_BATCH_ERR_NORECORD);
	VAL(DLTUN_RECORD_ALIGN);
	VAL(DLTUN_RECORD_NEXT(0, 1));
	VAL(DLTUN_RECORD_NEXT(12, 4));
	VAL(DLTUN_RECORD_NEXT(20, 1499));
	VAL(DLTUN_OFFLOAD_VNET_HDR);
	VAL(DLTUN_OFFLOAD_CSUM);
	VAL(DLTUN_OFFLOAD_TSO4);
	VAL(DLTUN_OFFLOAD_TSO6);
	VAL(DLTUN_VNET_F_NEEDS_CSUM);
	VAL(DLTUN_VNET_F_DATA_VALID);
	VAL(DLTUN_VNET_GSO_NONE);
	VAL(DLTUN_VNET_GSO_TCPV4);
	VAL(DLTUN_VNET_GSO_TCPV6);
	VAL(DLTUN_VNET_GSO_ECN);
	return (0);
}
