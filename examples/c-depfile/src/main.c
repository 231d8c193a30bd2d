#include "config.h"
#include "shout.h"

int main(void) {
    shout(GREETING);
    return 0;
}
