/*
 * The one thing the parent knows of the statistics process: its entry
 * point, run as `mmpd -P stats`. The rest stays behind statsd.h.
 */
#ifndef MMPD_STATS_MAIN_H
#define MMPD_STATS_MAIN_H

int	stats_main(int, char *[]);
/*
 * stats_main's first part: set up, the first configuration and the
 * listener taken, not yet confined (regress/fuzz feeds it from there).
 */
void	stats_start(int, char *[]);

#endif /* MMPD_STATS_MAIN_H */
