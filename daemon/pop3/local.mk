# daemon/pop3: sources, library and tests of this module (see Makefile.am).
