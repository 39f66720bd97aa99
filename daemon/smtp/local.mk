# daemon/smtp: sources, library and tests of this module (see Makefile.am).
