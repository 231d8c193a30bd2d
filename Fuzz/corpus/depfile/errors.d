a.o b.o
c.o: d: e
: f
