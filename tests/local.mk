# tests/: the pieces shared across modules.  Each module's fragment registers
# its own Check suites, integration tests and fuzz targets.

EXTRA_DIST += tests/integration/tap.py tests/integration/mailhub_fixture.py

# ---- fuzz targets --------------------------------------------------------
# A fragment adds a target with
#   FUZZ_TARGETS += tests/fuzz/fuzz_NAME
#   tests_fuzz_fuzz_NAME_SRCS = tests/fuzz/fuzz_NAME.c daemon/.../x.c $(FUZZ_CORE_SRCS)
# and a seed corpus in tests/fuzz/corpus/fuzz_NAME/.  Targets are built with
# clang's libFuzzer and run briefly by tests/fuzz/run.sh during make check.
FUZZ_CORE_SRCS = daemon/core/buf.c daemon/core/log.c daemon/core/xmalloc.c \
	daemon/core/hash.c daemon/core/utf8.c
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-include $(top_builddir)/config.h -I$(top_srcdir)/daemon -I$(top_srcdir) \
	-I$(top_builddir) $(SSL_CFLAGS)
FUZZ_LIBS = $(SSL_LIBS) $(ZLIB_LIBS) $(RESOLV_LIBS) $(PSL_LIBS) $(CJSON_LIBS) -pthread

.SECONDEXPANSION:
$(FUZZ_TARGETS): $$(addprefix $$(srcdir)/,$$($$(subst /,_,$$@)_SRCS))
	@$(MKDIR_P) $(@D)
	$(AM_V_CCLD)$(CLANG) $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) $(FUZZ_LIBS)

CLEANFILES += $(FUZZ_TARGETS)

# The long campaign (make fuzz-long, tests/fuzz/long.sh): each target for
# FUZZ_LONG_SECONDS, then its corpus replayed through a coverage build
# (TARGET.cov: the same sources with clang's source-based coverage, no
# sanitizers) to report how much of its parser was reached.
FUZZ_COV_TARGETS = $(FUZZ_TARGETS:=.cov)
FUZZ_COV_CFLAGS = -g -O1 -fsanitize=fuzzer -fprofile-instr-generate \
	-fcoverage-mapping -include $(top_builddir)/config.h \
	-I$(top_srcdir)/daemon -I$(top_srcdir) -I$(top_builddir) $(SSL_CFLAGS)
$(FUZZ_COV_TARGETS): $$(addprefix $$(srcdir)/,$$($$(subst /,_,$$(basename $$@))_SRCS))
	@$(MKDIR_P) $(@D)
	$(AM_V_CCLD)$(CLANG) $(FUZZ_COV_CFLAGS) -o $@ $(filter %.c,$^) $(FUZZ_LIBS)
CLEANFILES += $(FUZZ_COV_TARGETS)
fuzz-long: $(FUZZ_TARGETS) $(FUZZ_COV_TARGETS)
	@: >fuzz-long.srcs; $(foreach t,$(FUZZ_TARGETS),echo '$(notdir $(t)) \
		$(notdir $(filter-out tests/fuzz/% $(FUZZ_CORE_SRCS),$($(subst /,_,$(t))_SRCS)))' \
		>>fuzz-long.srcs;)
	@$(AM_TESTS_ENVIRONMENT) $(SHELL) $(srcdir)/tests/fuzz/long.sh
CLEANFILES += fuzz-long.srcs
.PHONY: fuzz-long

# The soak test (tests/bench/soak.py): 30 minutes of mixed traffic with the
# daemon's memory, files and threads sampled; long, so neither check nor bench.
soak: all
	@$(AM_TESTS_ENVIRONMENT) $(PYTHON3) $(srcdir)/tests/bench/soak.py
.PHONY: soak
if HAVE_CLANG
check_DATA = $(FUZZ_TARGETS)
endif
TESTS += tests/integration/test_serve.py tests/integration/test_serve_shutdown.py \
	tests/integration/test_logs.py tests/integration/test_deb.py \
	tests/integration/test_metrics.py tests/integration/test_doctor.py \
	tests/integration/test_tls_sni.py tests/integration/test_download.py
# The benchmarks run on their own (tiny sizes), or say what they need
# (tests/integration/test_bench_alone.py, in TESTS first: Makefile.am).
EXTRA_DIST += tests/integration/test_bench_alone.py
if SANITIZERS
AM_TESTS_ENVIRONMENT += MAILHUB_SANITIZERS=yes; export MAILHUB_SANITIZERS;
endif
EXTRA_DIST += tests/fuzz
AM_TESTS_ENVIRONMENT += FUZZ_TARGETS='$(FUZZ_TARGETS)'; export FUZZ_TARGETS;

# The package test builds and installs the .deb: it runs alone, after every
# other test, so that its compile does not load the machine under them.
tests/integration/test_deb.log: $(filter-out tests/integration/test_deb.log,$(TEST_LOGS))
