a.o: dir\ with\ spaces/x.h b\#c.h cost$$.h
a.o: x\\\ y z\\ w
