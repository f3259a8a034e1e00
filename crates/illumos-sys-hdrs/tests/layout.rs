// SPDX-License-Identifier: MPL-2.0

//! Size and field-offset checks for the x86_64 (LP64) illumos kernel ABI.
//!
//! Every expected number below was worked out by hand from the cited
//! illumos-gate header (pointers, `long`, `size_t` = 8; `int`, `uint_t` =
//! 4; `short` = 2; natural alignment), not produced by the Rust compiler.
//! These tests only mean something on a 64-bit little-endian target.

#![cfg(all(target_pointer_width = "64", target_endian = "little"))]

use core::mem::{align_of, offset_of, size_of};

use illumos_sys_hdrs::*;

// usr/src/uts/common/sys/mutex.h, rwlock.h, condvar.h
#[test]
fn lock_types() {
    assert_eq!(size_of::<kmutex_t>(), 8);
    assert_eq!(align_of::<kmutex_t>(), 8);
    assert_eq!(size_of::<krwlock_t>(), 8);
    assert_eq!(size_of::<kcondvar_t>(), 2);
    assert_eq!(align_of::<kcondvar_t>(), 2);
}

// usr/src/uts/common/sys/poll.h
#[test]
fn pollhead_layout() {
    assert_eq!(offset_of!(pollhead, ph_list), 0);
    assert_eq!(offset_of!(pollhead, ph_pad1), 8);
    assert_eq!(offset_of!(pollhead, ph_pad2), 16);
    assert_eq!(size_of::<pollhead>(), 24);
}

// usr/src/uts/common/sys/stream.h
#[test]
fn mblk_layout() {
    assert_eq!(offset_of!(mblk_t, b_next), 0);
    assert_eq!(offset_of!(mblk_t, b_prev), 8);
    assert_eq!(offset_of!(mblk_t, b_cont), 16);
    assert_eq!(offset_of!(mblk_t, b_rptr), 24);
    assert_eq!(offset_of!(mblk_t, b_wptr), 32);
    assert_eq!(offset_of!(mblk_t, b_datap), 40);
    assert_eq!(offset_of!(mblk_t, b_band), 48);
    assert_eq!(offset_of!(mblk_t, b_tag), 49);
    assert_eq!(offset_of!(mblk_t, b_flag), 50);
    assert_eq!(offset_of!(mblk_t, b_queue), 56);
    assert_eq!(size_of::<mblk_t>(), 64);
}

// usr/src/uts/common/sys/stream.h
#[test]
fn dblk_layout() {
    assert_eq!(offset_of!(dblk_t, db_frtnp), 0);
    assert_eq!(offset_of!(dblk_t, db_base), 8);
    assert_eq!(offset_of!(dblk_t, db_lim), 16);
    assert_eq!(offset_of!(dblk_t, db_ref), 24);
    assert_eq!(offset_of!(dblk_t, db_type), 25);
    assert_eq!(offset_of!(dblk_t, db_flags), 26);
    assert_eq!(offset_of!(dblk_t, db_struioflag), 27);
    assert_eq!(offset_of!(dblk_t, db_cpid), 28);
    assert_eq!(offset_of!(dblk_t, db_cache), 32);
    assert_eq!(offset_of!(dblk_t, db_mblk), 40);
    assert_eq!(offset_of!(dblk_t, db_free), 48);
    assert_eq!(offset_of!(dblk_t, db_lastfree), 56);
    assert_eq!(offset_of!(dblk_t, db_cksumstart), 64);
    assert_eq!(offset_of!(dblk_t, db_cksumend), 72);
    assert_eq!(offset_of!(dblk_t, db_cksumstuff), 80);
    assert_eq!(offset_of!(dblk_t, db_struioun), 88);
    assert_eq!(offset_of!(dblk_t, db_fthdr), 96);
    assert_eq!(offset_of!(dblk_t, db_credp), 104);
    assert_eq!(size_of::<dblk_t>(), 112);
    // db_struioun: union of double / uchar[8] / {u32|u16 union, u16, u16}.
    assert_eq!(size_of::<dblk_struioun>(), 8);
    assert_eq!(align_of::<dblk_struioun>(), 8);
    assert_eq!(offset_of!(dblk_cksum, cksum_val), 0);
    assert_eq!(offset_of!(dblk_cksum, flags), 4);
    assert_eq!(offset_of!(dblk_cksum, pad), 6);
    assert_eq!(size_of::<dblk_cksum>(), 8);
}

// usr/src/uts/common/sys/stream.h
#[test]
fn frtn_layout() {
    assert_eq!(offset_of!(frtn_t, free_func), 0);
    assert_eq!(offset_of!(frtn_t, free_arg), 8);
    assert_eq!(size_of::<frtn_t>(), 16);
}

// usr/src/uts/common/sys/stream.h
#[test]
fn queue_layout() {
    assert_eq!(offset_of!(queue_t, q_qinfo), 0);
    assert_eq!(offset_of!(queue_t, q_first), 8);
    assert_eq!(offset_of!(queue_t, q_last), 16);
    assert_eq!(offset_of!(queue_t, q_next), 24);
    assert_eq!(offset_of!(queue_t, q_link), 32);
    assert_eq!(offset_of!(queue_t, q_ptr), 40);
    assert_eq!(offset_of!(queue_t, q_count), 48);
    assert_eq!(offset_of!(queue_t, q_flag), 56);
    assert_eq!(offset_of!(queue_t, q_minpsz), 64);
    assert_eq!(offset_of!(queue_t, q_maxpsz), 72);
    assert_eq!(offset_of!(queue_t, q_hiwat), 80);
    assert_eq!(offset_of!(queue_t, q_lowat), 88);
    assert_eq!(offset_of!(queue_t, q_bandp), 96);
    assert_eq!(offset_of!(queue_t, q_lock), 104);
    assert_eq!(offset_of!(queue_t, q_stream), 112);
    assert_eq!(offset_of!(queue_t, q_syncq), 120);
    assert_eq!(offset_of!(queue_t, q_nband), 128);
    assert_eq!(offset_of!(queue_t, q_wait), 130);
    assert_eq!(offset_of!(queue_t, q_nfsrv), 136);
    assert_eq!(offset_of!(queue_t, q_draining), 144);
    assert_eq!(offset_of!(queue_t, q_struiot), 146);
    assert_eq!(offset_of!(queue_t, q_qtstamp), 152);
    assert_eq!(offset_of!(queue_t, q_mblkcnt), 160);
    assert_eq!(offset_of!(queue_t, q_syncqmsgs), 168);
    assert_eq!(offset_of!(queue_t, q_rwcnt), 176);
    assert_eq!(offset_of!(queue_t, q_spri), 184);
    assert_eq!(offset_of!(queue_t, q_sqhead), 192);
    assert_eq!(offset_of!(queue_t, q_sqtail), 200);
    assert_eq!(offset_of!(queue_t, q_sqnext), 208);
    assert_eq!(offset_of!(queue_t, q_sqprev), 216);
    assert_eq!(offset_of!(queue_t, q_sqflags), 224);
    assert_eq!(offset_of!(queue_t, q_sqtstamp), 232);
    assert_eq!(offset_of!(queue_t, q_fp), 240);
    assert_eq!(size_of::<queue_t>(), 248);
}

// usr/src/uts/common/sys/stream.h
#[test]
fn module_info_qinit_streamtab_layout() {
    assert_eq!(offset_of!(module_info, mi_idnum), 0);
    assert_eq!(offset_of!(module_info, mi_idname), 8);
    assert_eq!(offset_of!(module_info, mi_minpsz), 16);
    assert_eq!(offset_of!(module_info, mi_maxpsz), 24);
    assert_eq!(offset_of!(module_info, mi_hiwat), 32);
    assert_eq!(offset_of!(module_info, mi_lowat), 40);
    assert_eq!(size_of::<module_info>(), 48);

    assert_eq!(offset_of!(qinit, qi_putp), 0);
    assert_eq!(offset_of!(qinit, qi_srvp), 8);
    assert_eq!(offset_of!(qinit, qi_qopen), 16);
    assert_eq!(offset_of!(qinit, qi_qclose), 24);
    assert_eq!(offset_of!(qinit, qi_qadmin), 32);
    assert_eq!(offset_of!(qinit, qi_minfo), 40);
    assert_eq!(offset_of!(qinit, qi_mstat), 48);
    assert_eq!(offset_of!(qinit, qi_rwp), 56);
    assert_eq!(offset_of!(qinit, qi_infop), 64);
    assert_eq!(offset_of!(qinit, qi_struiot), 72);
    assert_eq!(size_of::<qinit>(), 80);

    assert_eq!(offset_of!(streamtab, st_rdinit), 0);
    assert_eq!(offset_of!(streamtab, st_wrinit), 8);
    assert_eq!(offset_of!(streamtab, st_muxrinit), 16);
    assert_eq!(offset_of!(streamtab, st_muxwinit), 24);
    assert_eq!(size_of::<streamtab>(), 32);
}

// usr/src/uts/common/sys/stream.h (_LP64 variants)
#[test]
fn ioctl_message_layouts() {
    assert_eq!(offset_of!(iocblk, ioc_cmd), 0);
    assert_eq!(offset_of!(iocblk, ioc_cr), 8);
    assert_eq!(offset_of!(iocblk, ioc_id), 16);
    assert_eq!(offset_of!(iocblk, ioc_flag), 20);
    assert_eq!(offset_of!(iocblk, ioc_count), 24);
    assert_eq!(offset_of!(iocblk, ioc_rval), 32);
    assert_eq!(offset_of!(iocblk, ioc_error), 36);
    assert_eq!(size_of::<iocblk>(), 40);

    assert_eq!(offset_of!(copyreq, cq_cmd), 0);
    assert_eq!(offset_of!(copyreq, cq_cr), 8);
    assert_eq!(offset_of!(copyreq, cq_id), 16);
    assert_eq!(offset_of!(copyreq, cq_flag), 20);
    assert_eq!(offset_of!(copyreq, cq_private), 24);
    assert_eq!(offset_of!(copyreq, cq_addr), 32);
    assert_eq!(offset_of!(copyreq, cq_size), 40);
    assert_eq!(size_of::<copyreq>(), 48);

    assert_eq!(offset_of!(copyresp, cp_cmd), 0);
    assert_eq!(offset_of!(copyresp, cp_cr), 8);
    assert_eq!(offset_of!(copyresp, cp_id), 16);
    assert_eq!(offset_of!(copyresp, cp_flag), 20);
    assert_eq!(offset_of!(copyresp, cp_private), 24);
    assert_eq!(offset_of!(copyresp, cp_rval), 32);
    assert_eq!(size_of::<copyresp>(), 40);
}

// usr/src/uts/common/sys/stream.h
#[test]
fn stroptions_layout() {
    assert_eq!(offset_of!(stroptions, so_flags), 0);
    assert_eq!(offset_of!(stroptions, so_readopt), 4);
    assert_eq!(offset_of!(stroptions, so_wroff), 6);
    assert_eq!(offset_of!(stroptions, so_minpsz), 8);
    assert_eq!(offset_of!(stroptions, so_maxpsz), 16);
    assert_eq!(offset_of!(stroptions, so_hiwat), 24);
    assert_eq!(offset_of!(stroptions, so_lowat), 32);
    assert_eq!(offset_of!(stroptions, so_band), 40);
    assert_eq!(offset_of!(stroptions, so_erropt), 42);
    assert_eq!(offset_of!(stroptions, so_maxblk), 48);
    assert_eq!(offset_of!(stroptions, so_copyopt), 56);
    assert_eq!(offset_of!(stroptions, so_tail), 58);
    assert_eq!(size_of::<stroptions>(), 64);
}

// usr/src/uts/common/sys/stropts.h
#[test]
fn strioctl_layout() {
    assert_eq!(offset_of!(strioctl, ic_cmd), 0);
    assert_eq!(offset_of!(strioctl, ic_timout), 4);
    assert_eq!(offset_of!(strioctl, ic_len), 8);
    assert_eq!(offset_of!(strioctl, ic_dp), 16);
    assert_eq!(size_of::<strioctl>(), 24);
}

// usr/src/uts/common/sys/devops.h
#[test]
fn cb_ops_layout() {
    assert_eq!(offset_of!(cb_ops, cb_open), 0);
    assert_eq!(offset_of!(cb_ops, cb_close), 8);
    assert_eq!(offset_of!(cb_ops, cb_strategy), 16);
    assert_eq!(offset_of!(cb_ops, cb_print), 24);
    assert_eq!(offset_of!(cb_ops, cb_dump), 32);
    assert_eq!(offset_of!(cb_ops, cb_read), 40);
    assert_eq!(offset_of!(cb_ops, cb_write), 48);
    assert_eq!(offset_of!(cb_ops, cb_ioctl), 56);
    assert_eq!(offset_of!(cb_ops, cb_devmap), 64);
    assert_eq!(offset_of!(cb_ops, cb_mmap), 72);
    assert_eq!(offset_of!(cb_ops, cb_segmap), 80);
    assert_eq!(offset_of!(cb_ops, cb_chpoll), 88);
    assert_eq!(offset_of!(cb_ops, cb_prop_op), 96);
    assert_eq!(offset_of!(cb_ops, cb_str), 104);
    assert_eq!(offset_of!(cb_ops, cb_flag), 112);
    assert_eq!(offset_of!(cb_ops, cb_rev), 116);
    assert_eq!(offset_of!(cb_ops, cb_aread), 120);
    assert_eq!(offset_of!(cb_ops, cb_awrite), 128);
    assert_eq!(size_of::<cb_ops>(), 136);
}

// usr/src/uts/common/sys/devops.h
#[test]
fn dev_ops_layout() {
    assert_eq!(offset_of!(dev_ops, devo_rev), 0);
    assert_eq!(offset_of!(dev_ops, devo_refcnt), 4);
    assert_eq!(offset_of!(dev_ops, devo_getinfo), 8);
    assert_eq!(offset_of!(dev_ops, devo_identify), 16);
    assert_eq!(offset_of!(dev_ops, devo_probe), 24);
    assert_eq!(offset_of!(dev_ops, devo_attach), 32);
    assert_eq!(offset_of!(dev_ops, devo_detach), 40);
    assert_eq!(offset_of!(dev_ops, devo_reset), 48);
    assert_eq!(offset_of!(dev_ops, devo_cb_ops), 56);
    assert_eq!(offset_of!(dev_ops, devo_bus_ops), 64);
    assert_eq!(offset_of!(dev_ops, devo_power), 72);
    assert_eq!(offset_of!(dev_ops, devo_quiesce), 80);
    assert_eq!(size_of::<dev_ops>(), 88);
}

// usr/src/uts/common/sys/modctl.h
#[test]
fn modctl_layouts() {
    assert_eq!(size_of::<mod_ops>(), 24);
    assert_eq!(offset_of!(modldrv, drv_modops), 0);
    assert_eq!(offset_of!(modldrv, drv_linkinfo), 8);
    assert_eq!(offset_of!(modldrv, drv_dev_ops), 16);
    assert_eq!(size_of::<modldrv>(), 24);
    assert_eq!(offset_of!(modlinkage, ml_rev), 0);
    assert_eq!(offset_of!(modlinkage, ml_linkage), 8);
    assert_eq!(size_of::<modlinkage>(), 64);
    // sys/conf.h fmodsw: char f_name[FMNAMESZ + 1] (9), then a pointer
    // aligned to 8, then an int; sys/modctl.h modlstrmod: three pointers.
    assert_eq!(offset_of!(fmodsw, f_name), 0);
    assert_eq!(offset_of!(fmodsw, f_str), 16);
    assert_eq!(offset_of!(fmodsw, f_flag), 24);
    assert_eq!(size_of::<fmodsw>(), 32);
    assert_eq!(offset_of!(modlstrmod, strmod_modops), 0);
    assert_eq!(offset_of!(modlstrmod, strmod_linkinfo), 8);
    assert_eq!(offset_of!(modlstrmod, strmod_fmodsw), 16);
    assert_eq!(size_of::<modlstrmod>(), 24);
}

// usr/src/uts/common/sys/mac_provider.h
#[test]
fn mac_callbacks_layout() {
    assert_eq!(offset_of!(mac_callbacks_t, mc_callbacks), 0);
    assert_eq!(offset_of!(mac_callbacks_t, mc_getstat), 8);
    assert_eq!(offset_of!(mac_callbacks_t, mc_start), 16);
    assert_eq!(offset_of!(mac_callbacks_t, mc_stop), 24);
    assert_eq!(offset_of!(mac_callbacks_t, mc_setpromisc), 32);
    assert_eq!(offset_of!(mac_callbacks_t, mc_multicst), 40);
    assert_eq!(offset_of!(mac_callbacks_t, mc_unicst), 48);
    assert_eq!(offset_of!(mac_callbacks_t, mc_tx), 56);
    assert_eq!(offset_of!(mac_callbacks_t, mc_reserved), 64);
    assert_eq!(offset_of!(mac_callbacks_t, mc_ioctl), 72);
    assert_eq!(offset_of!(mac_callbacks_t, mc_getcapab), 80);
    assert_eq!(offset_of!(mac_callbacks_t, mc_open), 88);
    assert_eq!(offset_of!(mac_callbacks_t, mc_close), 96);
    assert_eq!(offset_of!(mac_callbacks_t, mc_setprop), 104);
    assert_eq!(offset_of!(mac_callbacks_t, mc_getprop), 112);
    assert_eq!(offset_of!(mac_callbacks_t, mc_propinfo), 120);
    assert_eq!(size_of::<mac_callbacks_t>(), 128);
}

// usr/src/uts/common/sys/mac_provider.h
#[test]
fn mac_register_layout() {
    assert_eq!(offset_of!(mac_register_t, m_version), 0);
    assert_eq!(offset_of!(mac_register_t, m_type_ident), 8);
    assert_eq!(offset_of!(mac_register_t, m_driver), 16);
    assert_eq!(offset_of!(mac_register_t, m_dip), 24);
    assert_eq!(offset_of!(mac_register_t, m_instance), 32);
    assert_eq!(offset_of!(mac_register_t, m_src_addr), 40);
    assert_eq!(offset_of!(mac_register_t, m_dst_addr), 48);
    assert_eq!(offset_of!(mac_register_t, m_callbacks), 56);
    assert_eq!(offset_of!(mac_register_t, m_min_sdu), 64);
    assert_eq!(offset_of!(mac_register_t, m_max_sdu), 68);
    assert_eq!(offset_of!(mac_register_t, m_pdata), 72);
    assert_eq!(offset_of!(mac_register_t, m_pdata_size), 80);
    assert_eq!(offset_of!(mac_register_t, m_priv_props), 88);
    assert_eq!(offset_of!(mac_register_t, m_margin), 96);
    assert_eq!(offset_of!(mac_register_t, m_v12n), 100);
    assert_eq!(offset_of!(mac_register_t, m_multicast_sdu), 104);
    assert_eq!(size_of::<mac_register_t>(), 112);
}

// usr/src/uts/common/sys/mac_provider.h: mac_capab_lso_t before TCPv6
// LSO (illumos-gate dd8ff444: lso_flags, lso_basic_tcp_ipv4) and with it
// (current gate: lso_basic_tcp_ipv6 appended); t_uscalar_t is 32 bits
// (sys/types.h, _LP64).
#[test]
fn mac_capab_lso_layout() {
    assert_eq!(size_of::<t_uscalar_t>(), 4);
    assert_eq!(offset_of!(mac_capab_lso_t, lso_flags), 0);
    assert_eq!(offset_of!(mac_capab_lso_t, lso_basic_tcp_ipv4), 4);
    assert_eq!(size_of::<mac_capab_lso_t>(), 8);
    assert_eq!(offset_of!(mac_capab_lso_v6_t, lso_flags), 0);
    assert_eq!(offset_of!(mac_capab_lso_v6_t, lso_basic_tcp_ipv4), 4);
    assert_eq!(offset_of!(mac_capab_lso_v6_t, lso_basic_tcp_ipv6), 8);
    assert_eq!(size_of::<mac_capab_lso_v6_t>(), 12);
    assert_eq!((LSO_TX_BASIC_TCP_IPV4, LSO_TX_BASIC_TCP_IPV6), (0x01, 0x02));
}

// usr/src/uts/common/sys/pattr.h (hcksum_flags, DB_CKSUMFLAGS) and
// sys/dlpi.h (dl_txflags, the MAC_CAPAB_HCKSUM word).
#[test]
fn offload_flag_values() {
    assert_eq!((HCK_IPV4_HDRCKSUM, HCK_IPV4_HDRCKSUM_OK), (0x01, 0x01));
    assert_eq!((HCK_PARTIALCKSUM, HCK_FULLCKSUM, HCK_FULLCKSUM_OK, HW_LSO), (0x02, 0x04, 0x08, 0x10));
    assert_eq!(HCKSUM_INET_PARTIAL, 0x02);
    assert_eq!((MAC_CAPAB_HCKSUM, MAC_CAPAB_LSO), (0x01, 0x08));
}

// usr/src/uts/common/sys/uio.h
#[test]
fn uio_layout() {
    assert_eq!(offset_of!(iovec, iov_base), 0);
    assert_eq!(offset_of!(iovec, iov_len), 8);
    assert_eq!(size_of::<iovec>(), 16);

    assert_eq!(offset_of!(uio, uio_iov), 0);
    assert_eq!(offset_of!(uio, uio_iovcnt), 8);
    assert_eq!(offset_of!(uio, _uio_offset), 16);
    assert_eq!(offset_of!(uio, uio_segflg), 24);
    assert_eq!(offset_of!(uio, uio_fmode), 28);
    assert_eq!(offset_of!(uio, uio_extflg), 30);
    assert_eq!(offset_of!(uio, _uio_limit), 32);
    assert_eq!(offset_of!(uio, uio_resid), 40);
    assert_eq!(size_of::<uio>(), 48);
}

// usr/src/uts/common/sys/kstat.h
#[test]
fn kstat_named_layout() {
    assert_eq!(offset_of!(kstat_named_t, name), 0);
    assert_eq!(offset_of!(kstat_named_t, data_type), 31);
    assert_eq!(offset_of!(kstat_named_t, value), 32);
    assert_eq!(size_of::<kstat_named_t>(), 48);
    assert_eq!(size_of::<kstat_named_value>(), 16);
    assert_eq!(align_of::<kstat_named_value>(), 8);
    assert_eq!(offset_of!(kstat_named_str, addr), 0);
    assert_eq!(offset_of!(kstat_named_str, len), 8);
    assert_eq!(size_of::<kstat_named_str>(), 16);
}

// Opaque handles are zero-sized and only used behind pointers.
#[test]
fn opaque_handles_are_zero_sized() {
    assert_eq!(size_of::<dev_info_t>(), 0);
    assert_eq!(size_of::<cred_t>(), 0);
    assert_eq!(size_of::<mac_handle_t>(), 8);
    assert_eq!(size_of::<mac_prop_info_handle_t>(), 8);
    // sys/sunddi.h: `typedef struct ddi_taskq ddi_taskq_t`, opaque.
    assert_eq!(size_of::<ddi_taskq_t>(), 0);
}

// sys/types.h: time_t is `long` (8 bytes in the LP64 kernel);
// sys/sunddi.h: `#define TASKQ_DEFAULTPRI -1`.
#[test]
fn time_and_taskq_priority() {
    assert_eq!(size_of::<time_t>(), 8);
    assert_eq!(TASKQ_DEFAULTPRI, -1);
}

// ----- derived constants -----

// usr/src/uts/common/sys/stropts.h: STR = 'S' << 8 = 0x5300; I_STR = STR|010.
#[test]
fn stream_head_ioctls() {
    assert_eq!(STR, 0x5300);
    assert_eq!(I_STR, 0x5308);
    assert_eq!(I_SRDOPT, 0x5306);
    assert_eq!(I_PUSH, 0x5302);
    assert_eq!(I_PLINK, 0x5316);
}

// ('X' << 16) | 5 = 0x58_0005.
#[test]
fn streams_ioctl_encoding() {
    assert_eq!(streams_ioctl(b'X', 5), 0x0058_0005);
    assert_eq!(streams_ioctl(b'T', 0xffff), 0x0054_ffff);
}

// usr/src/uts/common/sys/ioccom.h
#[test]
fn ioccom_encoding() {
    // _IO('d', 1) = 0x20000000 | 0x6400 | 1
    assert_eq!(_IO(b'd', 1), 0x2000_6401);
    // _IOR('d', 2, int) = 0x40000000 | (4 << 16) | 0x6400 | 2
    assert_eq!(_IOR(b'd', 2, 4), 0x4004_6402);
    // _IOW('d', 3, 16-byte struct) = 0x80000000 | (16 << 16) | 0x6403
    assert_eq!(_IOW(b'd', 3, 16), 0x8010_6403_u32 as i32);
    // _IOWR('d', 4, 300 bytes): size masked to 300 & 0xff = 44 = 0x2c
    assert_eq!(_IOWR(b'd', 4, 300), 0xc02c_6404_u32 as i32);
}

// usr/src/uts/common/sys/mac.h, mac_ether.h, mac_impl.h, param.h
#[test]
fn mac_numbering() {
    assert_eq!(MAC_STAT_IFSPEED, 1000);
    assert_eq!(MAC_STAT_OPACKETS, 1014);
    assert_eq!(MAC_STAT_OVERFLOWS, 1016);
    assert_eq!(ETHER_STAT_LINK_DUPLEX, 2045);
    assert_eq!(MAC_PROP_MTU, 6);
    assert_eq!(MAC_PROP_VN_PROMISC_FILTERED, 63);
    assert_eq!(MAC_PROP_PERM_RW, 0x11);
    assert_eq!(MAXMIN32, 0x3ffff);
    assert_eq!(MAC_PRIVATE_MINOR, 0x20000);
    assert_eq!(DATALINK_CLASS_ALL, 0x7ff);
    assert_eq!(MC_PROPERTIES, 0xe0);
    assert_eq!(TRANSPARENT as i32, -1);
    assert_eq!(FKIOCTL as u32, 0x8000_0000);
}

#[test]
fn string_constants() {
    assert_eq!(MAC_PLUGIN_IDENT_ETHER.to_bytes(), b"mac_ether");
    assert_eq!(DDI_PSEUDO.to_bytes(), b"ddi_pseudo");
}
