# daemon/doctor: what the world sees of this server (`mailhub doctor`,
# GET /api/v1/doctor).
noinst_LIBRARIES += libdoctor.a
DOCTOR_LIB = libdoctor.a
libdoctor_a_SOURCES = daemon/doctor/doctor.c daemon/doctor/doctor.h daemon/doctor/collect.c
libdoctor_a_CFLAGS = $(AM_CFLAGS)

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_doctor
TESTS += tests/unit/check_doctor
tests_unit_check_doctor_SOURCES = tests/unit/check_doctor.c $(CHECK_RUNNER)
tests_unit_check_doctor_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_doctor_LDADD = libdoctor.a $(TRUST_LIBS) $(CHECK_LIBS)
endif
