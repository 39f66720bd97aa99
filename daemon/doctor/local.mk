# daemon/doctor: what the world sees of this server (`mailhub doctor`,
# GET /api/v1/doctor).
noinst_LIBRARIES += libdoctor.a
DOCTOR_LIB = libdoctor.a
libdoctor_a_SOURCES = daemon/doctor/doctor.c daemon/doctor/doctor.h daemon/doctor/collect.c
libdoctor_a_CFLAGS = $(AM_CFLAGS)
