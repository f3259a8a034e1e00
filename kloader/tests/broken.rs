// SPDX-License-Identifier: MPL-2.0

//! Deliberately broken objects (kloader::patch) make the load or a
//! scenario fail with a message that names the cause.

mod common;

use kloader::{BootOptions, Krtld, LoadedKernel, Objects, Paths, patch};

fn objects() -> Option<(Paths, Objects)> {
    let p = Paths::built()?;
    let o = Objects::read(&p).unwrap_or_else(|e| panic!("{e}"));
    Some((p, o))
}

fn boot_err(p: &Paths, o: &Objects, opts: BootOptions) -> String {
    match LoadedKernel::boot(p, o, opts) {
        Ok(_) => panic!("the broken object booted"),
        Err(e) => e,
    }
}

#[test]
fn a_symbol_the_kernel_does_not_export_fails_the_load_with_its_name() {
    let Some((p, mut o)) = objects() else { return };
    o.tuntap = patch::rename_symbol(&o.tuntap, "mutex_enter", "mutex_entex").unwrap();
    let e = boot_err(&p, &o, BootOptions::default());
    assert!(e.contains("not found: mutex_entex") && e.contains("not in kernel/allowlist.txt"), "{e}");
}

#[test]
fn an_allowlisted_symbol_without_an_implementation_fails_the_load_with_its_name() {
    let Some((p, mut o)) = objects() else { return };
    // putq is in kernel/allowlist.txt but kloader does not implement it.
    o.tuntap = patch::rename_symbol(&o.tuntap, "mutex_enter", "putq").unwrap();
    let e = boot_err(&p, &o, BootOptions::default());
    assert!(e.contains("not found: putq") && e.contains("kloader has no implementation"), "{e}");
}

#[test]
fn tun_without_depends_on_tuntap_cannot_resolve_the_cross_module_calls() {
    let Some((p, mut o)) = objects() else { return };
    // "drv/tuntap" -> "drv/tuntax": krtld looks tuntap_str_* up in the
    // modules _depends_on names and in the kernel, and finds them in neither.
    let i = o.tun.windows(11).position(|w| w == b"drv/tuntap\0").expect("_depends_on string");
    o.tun[i + 9] = b'x';
    let e = boot_err(&p, &o, BootOptions::default());
    assert!(e.starts_with("tun: ") && e.contains("not found: tuntap_str_open"), "{e}");
}

#[test]
fn a_wrong_field_offset_in_modldrv_fails_mod_install_naming_the_field() {
    let Some((p, mut o)) = objects() else { return };
    // modldrv { drv_modops, drv_linkinfo, drv_dev_ops }: the first two
    // pointers trade places, as if the Rust struct declared them swapped.
    o.tuntap = patch::swap_field_relocations(&o.tuntap, "illumos7MODLDRV", 0, 8).unwrap();
    let e = boot_err(&p, &o, BootOptions::default());
    assert!(e.contains("_init returned") && e.contains("drv_modops") && e.contains("wrong field offset"), "{e}");
}

#[test]
fn a_probe_compiled_as_a_tail_jump_fails_the_load_under_the_old_krtld() {
    let Some((p, mut o)) = objects() else { return };
    // The shipped objects have no tail-jump probe: they load under the old krtld.
    let k = LoadedKernel::link(&p, &o, BootOptions { krtld: Krtld::Old, ..Default::default() }).unwrap_or_else(|e| panic!("{e}"));
    assert!(!k.module("tuntap").unwrap().probes.is_empty(), "the driver has probe sites");
    drop(k);
    let (bytes, probe) = patch::probe_call_to_tail_jump(&o.tuntap).unwrap();
    o.tuntap = bytes;
    let e = boot_err(&p, &o, BootOptions { krtld: Krtld::Old, ..Default::default() });
    assert!(e.contains(&format!("probe __dtrace_probe_{probe}")) && e.contains("tail jump"), "{e}");
    // The current krtld patches NOP x4 + RET there instead, like
    // sdt_reloc_resolve, and the module loads.
    let k = LoadedKernel::boot(&p, &o, BootOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let site = k.module("tuntap").unwrap().probes.iter().find(|s| s.tail_call).cloned().expect("a tail-call site");
    // SAFETY: the site lies in the loaded module's text.
    let bytes = unsafe { std::slice::from_raw_parts(site.addr as *const u8, 5) };
    assert_eq!(bytes, [0x90, 0x90, 0x90, 0x90, 0xc3]);
    drop(k);
}

#[test]
fn a_callback_with_the_wrong_signature_breaks_the_unicast_scenario() {
    let Some((p, mut o)) = objects() else { return };
    // mc_unicst(void *, const uint8_t *) and mc_setpromisc(void *,
    // boolean_t) trade slots: mac calls a function through a pointer of
    // another C type.
    o.tuntap = patch::swap_function_pointers(&o.tuntap, "8m_unicst", "12m_setpromisc").unwrap();
    let rig = common::Rig::boot_objects(&p, &o);
    let e = common::unicast_scenario(&rig).expect_err("the scenario passed on the broken object");
    assert!(e.contains("mc_unicst"), "{e}");
    rig.finish();
}

#[test]
fn a_relocation_krtld_cannot_apply_fails_the_load_naming_its_type() {
    let Some((p, mut o)) = objects() else { return };
    // A PLT32 call turned into a GOTPCREL load (what PIC code would emit).
    o.tuntap = patch::retype_first_relocation(&o.tuntap, object::elf::R_X86_64_PLT32, object::elf::R_X86_64_GOTPCREL).unwrap();
    let e = boot_err(&p, &o, BootOptions::default());
    assert!(e.contains("relocation type 9") && e.contains("not one krtld applies"), "{e}");
}

#[test]
fn tun_taking_a_symbol_from_tuntap_outside_allowlist_tun_fails_the_load() {
    let Some((p, mut o)) = objects() else { return };
    // tun imports drv/tuntap's _fini instead of tuntap_str_rsrv (same
    // length): krtld would bind it, the allowlist forbids it.
    o.tun = patch::rename_symbol(&o.tun, "tuntap_str_rsrv", "_fini").unwrap();
    let e = boot_err(&p, &o, BootOptions::default());
    assert!(e.starts_with("tun: ") && e.contains("_fini resolves to module tuntap but is not in the allowlist"), "{e}");
}
