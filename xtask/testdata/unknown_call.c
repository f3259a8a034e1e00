/* SPDX-License-Identifier: MPL-2.0 */
/* Calls a function the illumos kernel does not export. */
struct modlinkage;
struct modinfo;
extern int mod_install(struct modlinkage *);
extern int tuntap_no_such_kernel_fn(int);

static void *linkage_storage[4];

int _init(void) {
    if (tuntap_no_such_kernel_fn(1) != 0)
        return 22;
    return mod_install((struct modlinkage *)linkage_storage);
}
int _info(struct modinfo *info) { (void)info; return 0; }
int _fini(void) { return 0; }
