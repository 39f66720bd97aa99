# daemon/core: sources, library and tests of this module (see Makefile.am).
