#ifndef CONFIG_H
#define CONFIG_H

/* Edit this and run again: only the files that include it are compiled again. */
#define GREETING "hello from a depfile"

#endif
