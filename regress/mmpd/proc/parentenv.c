/*
 * What mmpd.c and listen.c give mmpd/proc.c, for a program that includes
 * proc.c without them (regress/mmpd/proc/proc_test.c and
 * regress/fuzz/fuzz_rx_parent.c): the parent's state, which the program
 * points at its own, and nothing done where the daemon would note a child
 * ready or gone or close the listeners a reload left.
 */
#include "mmpd/parent.h"

struct parent	*penv;

void
parent_child_ready(struct child *c)
{
	(void)c;
}

void
parent_child_gone(void)
{
}

void
listen_sweep(void)
{
}
