build/x.o build/x.d: src/x.c include/x.h
include/x.h:
# a comment

