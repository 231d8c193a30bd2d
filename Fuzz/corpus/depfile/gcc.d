build/x.o: src/x.c include/x.h
