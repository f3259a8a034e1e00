/* SPDX-License-Identifier: MPL-2.0 */
/*
 * Floating point the soft-float way: on the kernel target rustc turns
 * f64 addition into a call to compiler-builtins' __adddf3, which the link
 * step puts in the module as a defined (weak, hidden) symbol.  _init calls
 * it; __muldf3 and __gtdf2 are linked in but called by no driver code
 * (__muldf3 only by __adddf3), as the rest of compiler_builtins would be.
 * With -DSOFTFLOAT_EXTERN the routines are left undefined instead.
 * Doubles travel as their bit patterns (unsigned long): with -mno-sse gcc
 * refuses a double argument.
 */
struct modlinkage;
extern int mod_install(struct modlinkage *);

#ifdef SOFTFLOAT_EXTERN
extern unsigned long __adddf3(unsigned long, unsigned long);
#else
#define BUILTIN __attribute__((weak, visibility("hidden"), noinline, noipa))
BUILTIN unsigned long __muldf3(unsigned long a, unsigned long b) { return a ^ b; }
BUILTIN unsigned long __adddf3(unsigned long a, unsigned long b) { return __muldf3(a, b) + 1; }
BUILTIN int __gtdf2(unsigned long a, unsigned long b) { return a > b; }
#endif

static void *linkage_storage[4];
volatile unsigned long rate = 0x4002000000000000UL; /* 2.25 */

int _init(void) {
    if (__adddf3(rate, 0x3ff8000000000000UL /* 1.5 */) == 0)
        return 22;
    return mod_install((struct modlinkage *)linkage_storage);
}
int _info(void *info) { (void)info; return 0; }
int _fini(void) { return 0; }
