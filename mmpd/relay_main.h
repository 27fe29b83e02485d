/*
 * The one thing the parent knows of a relay worker: its entry point, run
 * as `mmpd -P relay`. Everything else of the relay (its parsers, its
 * sessions) stays behind relay.h, which the parent does not include.
 */
#ifndef MMPD_RELAY_MAIN_H
#define MMPD_RELAY_MAIN_H

int	relay_main(int, char *[]);
/*
 * relay_main's first part: set up, the first configuration applied, not
 * yet confined (regress/fuzz feeds the relay from there).
 */
void	relay_start(int, char *[]);

#endif /* MMPD_RELAY_MAIN_H */
