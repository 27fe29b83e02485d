/*
 * The one thing the parent knows of the statistics process: its entry
 * point, run as `mmpd -P stats`. The rest stays behind statsd.h.
 */
#ifndef MMPD_STATS_MAIN_H
#define MMPD_STATS_MAIN_H

int	stats_main(int, char *[]);

#endif /* MMPD_STATS_MAIN_H */
