# mmpd: top-level GNU Makefile. Per-directory lists live in */Makefile.inc.
# B is the build prefix: empty for the in-tree build, build-asan/ for the
# sanitizer build; binaries land at $(B)mmpd/mmpd and $(B)mmp-ldapd/mmp-ldapd.

# `make` alone builds every program: the first rule of an included file
# must not become the default goal.
.DEFAULT_GOAL	:= all

B		?=
PREFIX		?= /usr/local
SBINDIR		?= $(PREFIX)/sbin
LIBEXECDIR	?= $(PREFIX)/libexec/mmpd
MANDIR		?= $(PREFIX)/share/man
SYSCONFDIR	?= /etc/mmpd
RUNDIR		?= /run/mmpd

CC		?= cc
# libmd before libbsd: MD5 (APOP, CRAM-MD5) from libmd, not libbsd's wrapper.
PKGS		:= libevent libseccomp libmd libbsd-overlay ldap libcares
PKG_CFLAGS	 = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	 = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

HARDEN		:= -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
WARN		:= -Wall -Wextra -Werror
CFLAGS		?= -O2 -g
CPPFLAGS	+= -D_GNU_SOURCE -Ilib -I. -Iregress \
		   -DLIBEXECDIR='"$(LIBEXECDIR)"' -DSYSCONFDIR='"$(SYSCONFDIR)"' \
		   -DSBINDIR='"$(SBINDIR)"' -DRUNDIR='"$(RUNDIR)"'
# make SANDBOX_DEBUG=1: the sandbox's debug mode (lib/sandbox.h), a
# diagnostic build that etc/install.sh refuses.
ifeq ($(SANDBOX_DEBUG),1)
CPPFLAGS	+= -DMMP_SANDBOX_DEBUG
endif
ALL_CFLAGS	 = -std=c11 $(WARN) $(HARDEN) $(CFLAGS) $(SAN) $(PKG_CFLAGS)
ALL_LDFLAGS	 = -pie -Wl,-z,relro,-z,now $(LDFLAGS) $(SAN)

PROGS		:=
TEST_NAMES	:=
INTEGRATION_TESTS :=

# $(call ctest,TEST,SOURCES): a C unit test printing TAP, linked with lib/.
define ctest
TEST_NAMES += $(1)
$$(B)$(1): $$(addprefix $$(B),$$(patsubst %.c,%.o,$(2))) $$(B)lib/libmmp.a
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(PKG_LIBS)
endef

include lib/Makefile.inc
-include mmpd/Makefile.inc
-include mmp-ldapd/Makefile.inc
-include mmp-tlsd/Makefile.inc
-include mmpctl/Makefile.inc
-include bench/Makefile.inc
include regress/Makefile.inc

LIB_OBJS	:= $(LIB_SRCS:%.c=$(B)%.o)
TESTS		:= $(addprefix $(B),$(TEST_NAMES))

.PHONY: all check unit integration asan fuzz demo install deps clean \
	programs leakcheck check-leakcheck
all: $(PROGS)

# The programs `all` builds, one per line (regress checks a clean build).
programs:
	@for p in $(PROGS); do echo "$$p"; done

$(B)%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(B)lib/libmmp.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Installs what is missing (Debian packages) when run as root.
deps:
	@sh etc/deps.sh

# The unit tests again under valgrind memcheck, all but the sandbox test.
MEMCHECK_TEST	:= regress/memcheck/memcheck.t
MEMCHECK_ENV	 = MMP_UNIT_TESTS='$(filter-out %/sandbox.t,$(TESTS))'

# The build (warnings as errors), then regress/check.sh: the tests that
# share the machine CHECK_JOBS at a time, then those that must run alone
# (regress/Makefile.inc), and beside both, niced, check-leakcheck (the
# leak-check build and its suite). Any part failing fails the check; the
# last line is prove's verdict on all three (regress/verdict.t).
CHECK_JOBS	?= 3
CHECK_LEAK_NICE	?= 19
check: deps
	$(MAKE) -j2 all tests bench-tools
	$(MEMCHECK_ENV) CHECK_JOBS=$(CHECK_JOBS) \
	    CHECK_LEAK_NICE=$(CHECK_LEAK_NICE) PROVE_FLAGS='$(PROVE_FLAGS)' \
	    CHECK_SHARED='$(CHECK_FIRST) $(filter-out $(CHECK_FIRST),\
	    $(TESTS) $(MEMCHECK_TEST) $(INTEGRATION_SHARED))' \
	    CHECK_ALONE='$(INTEGRATION_ALONE)' MAKE='$(MAKE)' \
	    sh regress/check.sh

unit: all tests
	$(MEMCHECK_ENV) prove -e '' $(PROVE_FLAGS) $(TESTS) $(MEMCHECK_TEST)

integration: all
	prove -e '' $(PROVE_FLAGS) $(INTEGRATION_TESTS)

tests: $(TESTS)

# The sanitizer build: unit tests, then the integration tests against the
# sanitized daemons (leak checks off: they need ptrace, which the sandbox
# forbids).
ASAN_FLAGS	:= B=build-asan/ CFLAGS='-O1 -g -fno-omit-frame-pointer' \
		   SAN='-fsanitize=address,undefined -fno-sanitize-recover=all'
asan:
	$(MAKE) $(ASAN_FLAGS) all tests bench-tools
	prove -e '' $(PROVE_FLAGS) $(addprefix build-asan/,$(TEST_NAMES))
	ASAN_OPTIONS=detect_leaks=0 MMPD=$(CURDIR)/build-asan/mmpd/mmpd \
	    LOADGEN=$(CURDIR)/build-asan/bench/loadgen \
	    prove -e '' $(PROVE_FLAGS) $(INTEGRATION_TESTS)

# The leak-check build (lib/leakcheck.h): make asan's sanitizers with
# LeakSanitizer on and the sandbox off (-DMMP_LEAKCHECK, the one define
# that build needs, rides in SAN), in build-lsan/, never installed. Unit
# tests (but the sandbox's own), then the integration tests against its
# daemons: regress/integration/mmptest.py fails a script on any sanitizer
# report and on any daemon that left without LeakSanitizer's check.
# LEAKCHECK_TESTS picks scripts, LEAKCHECK_JOBS runs that many at once.
LEAKCHECK_FLAGS	:= B=build-lsan/ CFLAGS='-O1 -g -fno-omit-frame-pointer' \
		   SAN='-fsanitize=address,undefined -fno-sanitize-recover=all \
		   -DMMP_LEAKCHECK'
LEAKCHECK_TESTS	?= $(INTEGRATION_TESTS)
LEAKCHECK_JOBS	?= 1
LEAKCHECK_ENV	 = MMPD_LEAKCHECK=1 \
		   LSAN_OPTIONS=suppressions=$(CURDIR)/regress/leakcheck.supp
leakcheck:
	$(MAKE) $(LEAKCHECK_FLAGS) all tests bench-tools
	$(LEAKCHECK_ENV) prove -e '' $(PROVE_FLAGS) \
	    $(filter-out %/sandbox.t,$(addprefix build-lsan/,$(TEST_NAMES)))
	$(LEAKCHECK_ENV) MMPD=$(CURDIR)/build-lsan/mmpd/mmpd \
	    LOADGEN=$(CURDIR)/build-lsan/bench/loadgen \
	    prove -j$(LEAKCHECK_JOBS) -e '' $(PROVE_FLAGS) $(LEAKCHECK_TESTS)

# make check's part of it (regress/check.sh): the unit tests and the
# integration tests that share the machine (not those that must run alone:
# beside them, niced, timing is not theirs to keep), against the
# leak-check build, CHECK_LEAK_JOBS at a time.
CHECK_LEAK_JOBS	?= 2
CHECK_LEAK_TESTS := $(filter-out %/fuzz.t,$(INTEGRATION_SHARED))
check-leakcheck:
	$(MAKE) -j2 $(LEAKCHECK_FLAGS) all tests bench-tools
	$(LEAKCHECK_ENV) MMPD=$(CURDIR)/build-lsan/mmpd/mmpd \
	    LOADGEN=$(CURDIR)/build-lsan/bench/loadgen \
	    prove -j$(CHECK_LEAK_JOBS) -e '' $(PROVE_FLAGS) \
	    $(filter-out %/sandbox.t %/children.t,\
	    $(addprefix build-lsan/,$(TEST_NAMES))) $(CHECK_LEAK_TESTS)

fuzz:
	$(MAKE) -f regress/fuzz/Makefile.fuzz

demo: deps all
	sh etc/demo/demo.sh

install: all
	sh etc/install.sh "$(DESTDIR)" "$(SBINDIR)" "$(LIBEXECDIR)" \
	    "$(MANDIR)" "$(SYSCONFDIR)"

clean:
	rm -rf build-asan build-lsan build-fuzz $(PROGS) $(TESTS) $(B)lib/libmmp.a
	find . -name '*.o' -delete -o -name '*.d' -delete

-include $(shell find . -name '*.d' 2>/dev/null)
