a.o: c:\src\x.h
