build/x.o: src/x.c \
  include/a.h \
	include/b.h
