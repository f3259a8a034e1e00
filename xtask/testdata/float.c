/* SPDX-License-Identifier: MPL-2.0 */
/* Floating-point arithmetic: compiled with -msse2 it uses %xmm registers. */
double scale = 1.5;

int _init(void) {
    volatile double rate = 2.25;
    return (int)(rate * scale);
}
int _info(void *info) { (void)info; return 0; }
int _fini(void) { return 0; }
