#include <stdio.h>

#include "shout.h"

void shout(const char *text) { printf("%s!\n", text); }
