# SPDX-License-Identifier: MPL-2.0
# An x87 load and store: touches the FPU stack.
	.text
	.globl	_init
	.type	_init, @function
_init:
	fldl	8(%rsp)
	fstpl	8(%rsp)
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
