# SPDX-License-Identifier: MPL-2.0
# Three DTrace probe sites: a real call (what krtld expects), a tail
# jump and a conditional tail jump (what an optimiser may emit, and what
# krtld's sdt_reloc_resolve turns into a fall-through).
	.text
	.globl	_init
	.type	_init, @function
_init:
	subq	$8, %rsp
	call	__dtrace_probe_tuntap__drop
	addq	$8, %rsp
	xorl	%eax, %eax
	ret
	.globl	_info
	.type	_info, @function
_info:
	jmp	__dtrace_probe_tuntap__link__destroy
	.globl	_fini
	.type	_fini, @function
_fini:
	testl	%edi, %edi
	jne	__dtrace_probe_tuntap__link__state
	xorl	%eax, %eax
	ret
	.section	.note.GNU-stack,"",@progbits
