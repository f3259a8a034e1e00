# SPDX-License-Identifier: MPL-2.0
# Loads a kernel symbol's address through the GOT (what -fPIC code does);
# krtld builds no GOT.
	.text
	.globl	_init
	.type	_init, @function
_init:
	movq	mod_driverops@GOTPCREL(%rip), %rax
	xorl	%eax, %eax
	ret
	.globl	_info
	.type	_info, @function
_info:
	xorl	%eax, %eax
	ret
	.globl	_fini
	.type	_fini, @function
_fini:
	xorl	%eax, %eax
	ret
	.section	.note.GNU-stack,"",@progbits
