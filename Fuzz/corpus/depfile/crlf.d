a.o: a.c \
 b.h
c.o: c.c
